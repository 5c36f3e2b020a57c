"""Stable draws by content: first messages, axis items and generator models.

For each seed, every item of a pool gets a score from a hash of (pool, seed, item text) and the
seed takes the k best. An item's score never depends on the other items or on its line number,
so adding an item moves only the seeds that now rank it among their k (about k/len of them),
removing one moves only the seeds that had it, and reordering lines moves nothing. With weights,
the score is -ln(u)/w for the hash's uniform u (exponential races): an item wins a k=1 draw with
probability w/sum(w), and adding an item still moves only the seeds it wins.
"""
import functools
import hashlib


def hash64(*parts: str) -> int:
    """64 bits of BLAKE2b over the parts, NUL-separated (no part contains NUL: they are text lines)."""
    return int.from_bytes(hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=8).digest(), "big")


@functools.lru_cache(maxsize=64)
def ranker(pool: str, items: tuple[str, ...], weights: tuple[float, ...] | None):
    """Per-pool constants, computed once: the distinct items, their hashes and their weights."""
    import numpy as np  # imported here: only the stages that render prompts draw
    if weights is None:
        items = tuple(dict.fromkeys(items))  # a repeated line is one item, not two chances
        weights = (1.0,) * len(items)
    hashes = np.array([hash64(pool, "item", item) for item in items], dtype=np.uint64)
    return items, hashes, np.array(weights, dtype=np.float64)


def scores(pool: str, seed: int, items: tuple[str, ...], weights: tuple[float, ...] | None = None):
    """Each item's score for this seed, lower is better: -ln(u)/w with u uniform in (0, 1).

    u comes from splitmix64's finalizer over hash(pool, item) XOR hash(pool, seed), a bijection
    per seed, so distinct items never tie; vectorised, a seed costs microseconds, not one hash
    call per item.
    """
    import numpy as np
    items, hashes, weight = ranker(pool, items, weights)
    x = hashes ^ np.uint64(hash64(pool, "seed", str(seed)))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    uniform = ((x >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0 ** 53
    return items, -np.log(uniform) / weight


def draw(pool: str, seed: int, items: tuple[str, ...], k: int = 1,
         weights: tuple[float, ...] | None = None) -> list[str]:
    """The seed's k best items of the pool (all of them when there are fewer), best first."""
    import numpy as np
    items, score = scores(pool, seed, tuple(items), tuple(weights) if weights is not None else None)
    order = np.argsort(score, kind="stable")[:k]
    return [items[i] for i in order]
