"""The answer cache: every paid-for answer, keyed by a hash of (endpoint, request body, attempt).

Editing a prompt changes its body and so its keys; the cache itself is never rewritten.
"""
import hashlib
import json
from contextlib import contextmanager
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


@contextmanager
def open_cache(cache_dir: Path) -> Iterator[diskcache.Cache]:
    # No eviction: the cache is a record of money spent, not a best-effort memo. Each thread
    # has its own SQLite connection, so keep each one's memory map and page cache small.
    with diskcache.Cache(str(cache_dir), size_limit=2**62, cull_limit=0, eviction_policy="none",
                         sqlite_mmap_size=0, sqlite_cache_size=256) as cache:
        yield cache


def encode_entry(seed: int, attempt: int, body_text: str, cost: float | None = None) -> str:
    """Entries are JSON text, not pickles: readable by any tool and safe to load. `cost` is what
    the answer was billed when its body does not say (a share of a batch's bill, or priced from
    its tokens); it then overrides the body's usage.cost."""
    entry = {"seed": seed, "attempt": attempt, "body": body_text}
    if cost is not None:
        entry["cost"] = cost
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
