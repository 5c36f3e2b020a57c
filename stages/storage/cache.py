"""The answer cache: every paid-for answer, keyed by a hash of (endpoint, request body, attempt).

Editing a prompt changes its body and so its keys; the cache itself is never rewritten.
"""
import hashlib
import json
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import diskcache


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def answer_key(url: str, body: dict, attempt: int) -> str:
    return hashlib.sha256(canonical_json([url, body, attempt]).encode("utf-8")).hexdigest()


class KeyMaker:
    """answer_key for every attempt of one body, hashing the body once: the canonical JSON of
    [url, body, attempt] is that of [url, body] with the attempt spliced in before the "]"."""

    def __init__(self, url: str, body: dict):
        self.body = body
        self.prefix = hashlib.sha256(canonical_json([url, body])[:-1].encode("utf-8") + b",")

    def key(self, attempt: int) -> str:
        digest = self.prefix.copy()
        digest.update(f"{attempt}]".encode())
        return digest.hexdigest()


def is_answer_key(key: object) -> bool:
    """Answers are keyed by a bare hex digest; notes such as "settled:..." or "models:..." are not."""
    return isinstance(key, str) and len(key) == 64 and ":" not in key


class AnswerRows:
    """Each answer's row id and write time, looked up in the cache's SQLite file one key at a time,
    so nothing grows with the cache. An entry cannot change without changing them: diskcache stamps
    every write with the time, and a removed and re-added entry gets a new row or time."""

    def __init__(self, cache: diskcache.Cache):
        import sqlite3
        path = Path(cache.directory) / diskcache.core.DBNAME
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self.lock:
            found = self.db.execute("SELECT rowid, store_time FROM Cache WHERE key = ? AND raw = 1", (key,)).fetchone()
        return None if found is None else f"{found[0]}:{found[1]!r}"

    def close(self) -> None:
        self.db.close()


def answer_rows(cache: diskcache.Cache):
    return closing(AnswerRows(cache))


class AnswerCache(diskcache.Cache):
    """A diskcache whose writers in this process take turns on a lock. Without it, SQLite makes
    a writer that finds the database busy sleep and poll (up to 100 ms a time), which holds a
    fetch worker long after the other write ended; a lock hands over at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.write_lock = threading.Lock()

    def set(self, key, value, *args, **kwargs) -> bool:
        with self.write_lock:
            return super().set(key, value, *args, **kwargs)


@contextmanager
def open_cache(cache_dir: Path) -> Iterator[diskcache.Cache]:
    # No eviction: the cache is a record of money spent, not a best-effort memo. Each thread
    # has its own SQLite connection, so keep each one's memory map and page cache small.
    with AnswerCache(str(cache_dir), size_limit=2**62, cull_limit=0, eviction_policy="none",
                         sqlite_mmap_size=0, sqlite_cache_size=256) as cache:
        yield cache


def encode_entry(seed: int, attempt: int, body_text: str, cost: float | None = None, url: str | None = None) -> str:
    """Entries are JSON text, not pickles: readable by any tool and safe to load. `cost` is what
    the answer was billed when its body does not say (a share of a batch's bill, or priced from
    its tokens); it then overrides the body's usage.cost. The endpoint is named too, so a command
    run with another BASE_URL can say where the answers are."""
    entry = {"seed": seed, "attempt": attempt, "body": body_text}
    if cost is not None:
        entry["cost"] = cost
    if url is not None:
        entry["url"] = url
    return json.dumps(entry, ensure_ascii=False)


def decode_entry(raw: object) -> dict | None:
    """The entry, or None when it is not one this program wrote."""
    try:
        entry = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("body"), str) else None


def cached_attempts(cache: diskcache.Cache, url: str, body: dict) -> Iterator[object]:
    """The raw entries of attempts 0, 1, ... for one request body, up to the first gap."""
    keys = KeyMaker(url, body)
    attempt = 0
    while (raw := cache.get(keys.key(attempt))) is not None:
        yield raw
        attempt += 1
