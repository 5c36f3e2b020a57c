"""The answer cache: every paid-for answer, keyed by a hash of (endpoint, request body, attempt).

Editing a prompt changes its body and so its keys; the cache itself is never rewritten.
"""
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import diskcache


def answer_key(url: str, body: dict, attempt: int) -> str:
    canonical = json.dumps([url, body, attempt], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_answer_key(key: object) -> bool:
    """Answers are keyed by a bare hex digest; notes such as "settled:..." or "models:..." are not."""
    return isinstance(key, str) and len(key) == 64 and ":" not in key


@contextmanager
def open_cache(cache_dir: Path) -> Iterator[diskcache.Cache]:
    # No eviction: the cache is a record of money spent, not a best-effort memo. Each thread
    # has its own SQLite connection, so keep each one's memory map and page cache small.
    with diskcache.Cache(str(cache_dir), size_limit=2**62, cull_limit=0, eviction_policy="none",
                         sqlite_mmap_size=0, sqlite_cache_size=256) as cache:
        yield cache


def encode_entry(seed: int, attempt: int, body_text: str) -> str:
    """Entries are JSON text, not pickles: readable by any tool and safe to load."""
    return json.dumps({"seed": seed, "attempt": attempt, "body": body_text}, ensure_ascii=False)


def decode_entry(raw: object) -> dict | None:
    """The entry, or None when it is not one this program wrote."""
    try:
        entry = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("body"), str) else None


def cached_attempts(cache: diskcache.Cache, url: str, body: dict) -> Iterator[object]:
    """The raw entries of attempts 0, 1, ... for one request body, up to the first gap."""
    attempt = 0
    while (raw := cache.get(answer_key(url, body, attempt))) is not None:
        yield raw
        attempt += 1
