"""Where the cache keeps answers for some seeds when none match the current BASE_URL and prompts.

Cache keys are hashes, so the answers of a run with another BASE_URL (or other request bodies)
are invisible to the current one. Entries name their endpoint and seed, so one query over the
cache finds them and a command can say which BASE_URL to point at.
"""
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import diskcache

from .judging.rules import completions_url

SUFFIX = "/chat/completions"
# Answers of seeds a..b, counted by the endpoint their entry names (NULL for entries that name none).
BY_ENDPOINT = ("SELECT json_extract(value, '$.url'), COUNT(*) FROM Cache "
               "WHERE length(key) = 64 AND instr(key, ':') = 0 AND json_valid(value) "
               "AND json_extract(value, '$.seed') BETWEEN ? AND ? GROUP BY 1")
ALL_ENTRIES = "SELECT value FROM Cache WHERE length(key) = 64 AND instr(key, ':') = 0"


def counts_in_python(db: sqlite3.Connection, seeds: range) -> dict[str | None, int]:
    """The same count for an SQLite built without its JSON functions: slower, same answer."""
    counts: dict[str | None, int] = {}
    for (value,) in db.execute(ALL_ENTRIES):
        try:
            entry = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("seed") in seeds:
            counts[entry.get("url")] = counts.get(entry.get("url"), 0) + 1
    return counts


def answers_by_endpoint(cache: diskcache.Cache, seeds: range) -> dict[str | None, int]:
    """How many cached answers of these seeds each endpoint holds (None: entries from before
    entries named their endpoint)."""
    if not seeds:
        return {}
    with closing(sqlite3.connect(Path(cache.directory) / diskcache.core.DBNAME)) as db:
        try:
            return dict(db.execute(BY_ENDPOINT, (seeds.start, seeds.stop - 1)).fetchall())
        except sqlite3.OperationalError:
            return counts_in_python(db, seeds)


def base_of(url: str) -> str:
    return url.removesuffix(SUFFIX)


def elsewhere_hint(cache: diskcache.Cache, seeds: range, base_url: str, command: str) -> str | None:
    """One line saying where the answers of these seeds are, for a command that found none under
    BASE_URL and the current prompts; None when the cache holds none for them at all."""
    counts = answers_by_endpoint(cache, seeds)
    here = counts.pop(completions_url(base_url), 0)
    unnamed = counts.pop(None, 0)
    if counts:
        listing = ", ".join(f"{count} under BASE_URL={base_of(url)}" for url, count in
                            sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        best = base_of(max(sorted(counts), key=counts.__getitem__))
        return (f"no answers under BASE_URL={base_url}, but the cache holds answers for these seeds: {listing}; "
                f"run `make {command} BASE_URL={best}` to use them")
    if here:
        return (f"the cache holds {here} answers for these seeds under BASE_URL={base_url} that were asked with "
                "other request bodies: run `make prompts` with the settings (MODEL, TEMPERATURE, MAX_TOKENS, "
                "IDENTITY, CONTEXT, prompts/) of the run that fetched them")
    if unnamed:
        return (f"the cache holds {unnamed} answers for these seeds under another BASE_URL or other request "
                "bodies (written before entries named their endpoint)")
    return None
