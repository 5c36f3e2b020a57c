"""Exact and near-duplicate conversations: a list of conversations in, {dropped index: Duplicate} out.

Each conversation is reduced to a Sketch: a digest of its normalized text (equal for exact
duplicates) and a MinHash signature of its word shingles. Near duplicates are pairs whose
signatures estimate a Jaccard similarity at or above a threshold, found through LSH banding and
then verified. Sketches depend on the conversation alone, so a rebuild keeps them (memo.py).
"""
import functools
import hashlib
import os
import tempfile
import re
import zlib
from array import array
from dataclasses import dataclass

# Two model-written conversations on the same topic rarely share more than about half of their
# 3-word shingles, while a copy with a word or two changed keeps about 90% or more. Identity
# conversations repeat the same self-description often, so the default sits high, at 0.9,
# to drop only near-verbatim copies (a 128-permutation estimate is good to about +-0.03 there).
DEFAULT_THRESHOLD = 0.9
SHINGLE_WORDS = 3
NUM_PERM = 128
LSH_MARGIN = 0.2
MINHASH_SEED = 1  # fixed, so the same conversations always give the same signatures and verdicts
MULTIPLIERS = (0x9E3779B1, 0x85EBCA77, 1)  # odd constants: a shingle's hash depends on its words' order
MASK = (1 << 32) - 1
CHUNK = 8192  # shingles permuted at once: bounds the working array at CHUNK x NUM_PERM


@dataclass(frozen=True)
class Duplicate:
    kept: int          # index of the conversation kept in its place (always lower, never dropped itself)
    kind: str          # "exact" or "near"
    similarity: float  # 1.0 for exact copies, the estimated Jaccard similarity for near ones


@dataclass(frozen=True)
class Sketch:
    text: bytes        # digest of the normalized text
    signature: bytes   # NUM_PERM little-endian uint32 minima, one per permutation


NOT_WORD = re.compile(r"[^\w\s]+")  # punctuation and symbols in any script


def normalized_words(text: str) -> list[str]:
    return NOT_WORD.sub("", text.lower()).split()


def normalize(text: str) -> str:
    """Lowercase, drop punctuation, collapse whitespace: texts that differ only in those become equal."""
    return " ".join(normalized_words(text))


def conversation_words(messages: list[dict]) -> list[str]:
    """The normalized words of the whole conversation, roles included."""
    return normalized_words("\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages))


class WordHashes(dict):
    """crc32 of each distinct word, computed once: text repeats its words a lot, and crc32 is deterministic."""

    def __missing__(self, word: str) -> int:
        self[word] = value = zlib.crc32(word.encode("utf-8"))
        return value


def padded_words(word_lists: list[list[str]]) -> list[str]:
    """All words in one list, each text followed by empty padding words so no shingle spans two texts."""
    words = []
    padding = [""] * (SHINGLE_WORDS - 1)
    for text_words in word_lists:
        words += text_words
        words += padding
    return words


def shingles(word_lists: list[list[str]]):
    """Every text's shingle hashes in one numpy array, and how many belong to each text. A text
    shorter than SHINGLE_WORDS is one (padded) shingle, an empty one none."""
    import numpy as np
    words = padded_words(word_lists)
    hashes = np.fromiter(map(WordHashes().__getitem__, words), dtype=np.uint64, count=len(words))
    count = max(len(hashes) - SHINGLE_WORDS + 1, 0)
    windows = sum(hashes[k:k + count] * np.uint64(MULTIPLIERS[k]) for k in range(SHINGLE_WORDS)) & np.uint64(MASK)
    counts = [max(len(text) - SHINGLE_WORDS + 1, 1) if text else 0 for text in word_lists]
    starts = np.cumsum([0] + [len(text) + SHINGLE_WORDS - 1 for text in word_lists[:-1]], dtype=np.int64)
    picked = np.concatenate([np.arange(start, start + n) for start, n in zip(starts, counts)] or [np.arange(0)])
    return windows[picked] if count else windows, counts


@functools.cache
def permutations():
    """NUM_PERM pairs (a odd, b) of 32-bit permutations h -> a * h + b mod 2**32, derived from
    MINHASH_SEED by SHA-256, so they never depend on a library's random generator."""
    import numpy as np

    def draw(name: str, k: int) -> int:
        return int.from_bytes(hashlib.sha256(f"minhash:{MINHASH_SEED}:{name}:{k}".encode()).digest()[:4], "big")
    a = np.array([draw("a", k) | 1 for k in range(NUM_PERM)], dtype=np.uint32)
    b = np.array([draw("b", k) for k in range(NUM_PERM)], dtype=np.uint32)
    return a, b


def premix(hashes):
    """MurmurHash3's 32-bit finalizer, a bijection that spreads the bits of each shingle hash
    before the affine permutations (which alone would keep structure in the low bits)."""
    import numpy as np
    h = hashes.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def text_runs(counts: list[int]):
    """Runs of consecutive text indexes holding at most CHUNK shingles together (a longer text alone)."""
    run, size = [], 0
    for index, count in enumerate(counts):
        if run and size + count > CHUNK:
            yield run
            run, size = [], 0
        run.append(index)
        size += count
    if run:
        yield run


def run_minima(block, sizes: list[int]) -> list[bytes]:
    """The signatures of consecutive texts whose shingle hashes, `sizes` of them each, make up `block`."""
    import numpy as np
    a, b = permutations()
    empty = np.full(NUM_PERM, MASK, dtype="<u4").tobytes()
    if not len(block):
        return [empty] * len(sizes)
    permuted = premix(block)[:, None] * a + b  # uint32 arithmetic: wrapping is the mod 2**32
    starts = np.cumsum([0] + sizes[:-1])[np.array(sizes) > 0]  # an empty text starts no segment
    minima = iter(np.minimum.reduceat(permuted, starts, axis=0).astype("<u4", copy=False))
    return [next(minima).tobytes() if size else empty for size in sizes]


def minhash(hashes, counts: list[int]) -> list[bytes]:
    """One signature per text, its shingles being the next `count` hashes."""
    signatures, offset = [], 0
    for run in text_runs(counts):
        sizes = [counts[i] for i in run]
        signatures += run_minima(hashes[offset:offset + sum(sizes)], sizes)
        offset += sum(sizes)
    return signatures


def sketch_all(conversations: list[list[dict]]) -> list[Sketch]:
    """The Sketch of each conversation."""
    word_lists = [conversation_words(c) for c in conversations]
    texts = [hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=16).digest() for words in word_lists]
    return [Sketch(text, signature) for text, signature in zip(texts, minhash(*shingles(word_lists)))]


@functools.cache
def lsh_bands(threshold: float, grid: int = 200) -> tuple[int, int]:
    """(bands, rows per band) that best separate pairs below and above `threshold`: the least
    probability of false candidates below it plus missed pairs above it, integrated over similarity
    (datasketch's choice, in plain Python so a rebuild need not load numpy)."""
    similarities = [(i + 0.5) / grid for i in range(grid)]
    best = (float("inf"), (1, 1))
    for rows in range(1, NUM_PERM + 1):
        powers = [s ** rows for s in similarities]
        for bands in range(1, NUM_PERM // rows + 1):
            error = sum(1 - (1 - p) ** bands if s < threshold else (1 - p) ** bands
                        for p, s in zip(powers, similarities))
            best = min(best, (error, (bands, rows)))
    return best[1]


class SketchTable:
    """What near-duplicate search keeps of each conversation, in arrival order: its text digest and
    one 32-bit key per LSH band (about 70 bytes), not its signature. Candidates that share a band
    are verified on their full signatures, which `signatures_of` brings back for them only (from
    the notes, the cache or by reading the file again), so memory does not hold N signatures."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        self.bands, self.rows = lsh_bands(max(0.5, threshold - LSH_MARGIN))
        self.texts = bytearray()
        self.keys = array("I")
        self.waiting: list[bytes] = []

    def __len__(self) -> int:
        return len(self.texts) // 16

    def add(self, sketch: Sketch) -> None:
        self.texts += sketch.text
        self.waiting.append(sketch.signature)
        if len(self.waiting) >= BAND_BATCH:
            self.flush()

    def flush(self) -> None:
        """Band keys of the waiting signatures, computed together (numpy pays its cost per call)."""
        if self.waiting:
            self.keys.extend(band_keys(b"".join(self.waiting), self.bands, self.rows).ravel().tolist())
            self.waiting = []

    def duplicates(self, signatures_of=None) -> dict[int, Duplicate]:
        """Each dropped conversation's index -> what replaces it; a threshold of 1.0 finds exact copies
        only. `signatures_of(indexes)` yields (index, signature bytes) for the candidates to verify."""
        self.flush()
        uniques, copies = exact_groups(self.texts)
        near = {}
        if self.threshold < 1.0 and len(uniques):
            near = near_duplicates(self, uniques, signatures_of)
        # A copy of a conversation that was itself dropped as near points at what that one points at.
        exact = {i: near.get(first, Duplicate(first, "exact", 1.0)) for i, first in copies.items()}
        return dict(sorted({**near, **exact}.items()))


BAND_BATCH = 512
MIX = 0x100000001B3  # FNV's 64-bit prime: folds a band's lanes into one key, the same on every run


def band_keys(signatures: bytes, bands: int, rows: int):
    """(signatures, bands) uint32 keys: equal bands give equal keys; unequal ones rarely collide
    (a few pairs a band at 100,000 conversations), and every candidate is verified anyway."""
    import numpy as np
    lanes = np.frombuffer(signatures, dtype="<u4").reshape(-1, NUM_PERM).astype(np.uint64)
    keys = np.zeros((len(lanes), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            for lane in lanes[:, band * rows:(band + 1) * rows].T:
                keys[:, band] = keys[:, band] * np.uint64(MIX) ^ lane
            keys[:, band] ^= np.uint64(band)
    return (keys ^ (keys >> np.uint64(32))).astype(np.uint32)


def exact_groups(texts: bytes | bytearray):
    """The first index of each distinct 16-byte text digest (ascending, as a numpy array), and every
    later copy mapped to its first index."""
    import numpy as np
    digests = np.frombuffer(texts, dtype="V16")
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    firsts = first[inverse.ravel()]
    later = np.nonzero(firsts != np.arange(len(digests)))[0]
    return np.sort(first), dict(zip(later.tolist(), firsts[later].tolist()))


def shared_buckets(keys, band: int, rows):
    """Each of `rows`' bucket in one band, -1 where no other of them shares it."""
    import numpy as np
    _, inverse, counts = np.unique(keys[rows, band], return_inverse=True, return_counts=True)
    inverse = inverse.ravel().astype(np.int32)
    return np.where(counts[inverse] > 1, inverse, np.int32(-1))


def band_keys_of(table: SketchTable):
    import numpy as np
    return np.frombuffer(table.keys, dtype=np.uint32).reshape(-1, table.bands)


def candidates(table: SketchTable, uniques):
    """The unique texts sharing a band bucket with another, in order: one band at a time, so only a
    mask a text is held besides the keys."""
    import numpy as np
    keys, shared = band_keys_of(table), np.zeros(len(uniques), dtype=bool)
    for band in range(table.bands):
        shared |= shared_buckets(keys, band, uniques) >= 0
    return uniques[shared]


class SignatureFile:
    """The candidates' signatures in a temporary file, NUM_PERM * 4 bytes each at their position,
    read back a bucket at a time: memory holds one bucket's signatures, never all of them."""

    def __init__(self, indexes, signatures_of):
        import numpy as np
        self.file = tempfile.TemporaryFile()
        self.file.truncate(len(indexes) * SIGNATURE_BYTES)
        for index, signature in signatures_of(indexes):  # indexes ascend: a position is a binary search away
            os.pwrite(self.file.fileno(), signature, int(np.searchsorted(indexes, index)) * SIGNATURE_BYTES)

    def read(self, positions):
        import numpy as np
        data = b"".join(os.pread(self.file.fileno(), SIGNATURE_BYTES, p * SIGNATURE_BYTES) for p in positions)
        return np.frombuffer(data, dtype="<u4").reshape(-1, NUM_PERM)

    def close(self) -> None:
        self.file.close()


SIGNATURE_BYTES = 4 * NUM_PERM


def similar_pairs(table: SketchTable, indexes, signatures: SignatureFile) -> dict[tuple[int, int], float]:
    """{(later, earlier): similarity} of the candidate positions sharing a band bucket whose
    signatures agree on at least the threshold's share of their permutations; the rest are never
    needed. The buckets are found again band by band, so no table of them is held."""
    import numpy as np
    pairs, keys = {}, band_keys_of(table)
    for band in range(table.bands):
        column = shared_buckets(keys, band, indexes)
        order = np.argsort(column, kind="stable")
        grouped = column[order]
        edges = (np.flatnonzero(np.diff(grouped)) + 1).tolist()
        for start, end in zip([0] + edges, edges + [len(order)]):  # views, not a list of every group
            group = order[start:end]
            if len(group) < 2 or column[group[0]] < 0:
                continue
            lanes = signatures.read(group.tolist())
            for later, earlier, agree in agreeing(lanes, table.threshold * NUM_PERM):
                pairs[int(group[later]), int(group[earlier])] = agree / NUM_PERM
    return pairs


def agreeing(lanes, least: float):
    """(later, earlier, lanes in common) of the rows of `lanes` that agree on at least `least`
    lanes, compared a block of rows at a time so a large bucket never needs a cube of its size."""
    import numpy as np
    for start in range(1, len(lanes), COMPARE_BLOCK):
        block = lanes[start:start + COMPARE_BLOCK]
        agree = (block[:, None, :] == lanes[None, :start + len(block), :]).sum(axis=2)
        for row, earlier in zip(*np.nonzero(agree >= least)):
            if earlier < start + row:
                yield start + int(row), int(earlier), int(agree[row, earlier])


COMPARE_BLOCK = 32


def near_duplicates(table: SketchTable, uniques: list[int], signatures_of) -> dict[int, Duplicate]:
    """Greedy in index order: a text is a near copy of the most similar earlier text that was kept
    (the lowest on a tie), when they share a band and their similarity reaches the threshold."""
    indexes = candidates(table, uniques)
    if not len(indexes):
        return {}
    signatures = SignatureFile(indexes, signatures_of)
    try:
        pairs = similar_pairs(table, indexes, signatures)
    finally:
        signatures.close()
    matches: dict[int, list[tuple[float, int]]] = {}
    for (later, earlier), score in pairs.items():
        matches.setdefault(later, []).append((score, -earlier))
    dropped: dict[int, Duplicate] = {}
    for later in sorted(matches):
        kept = [(score, negative) for score, negative in matches[later] if int(indexes[-negative]) not in dropped]
        if kept:
            score, negative = max(kept)
            dropped[int(indexes[later])] = Duplicate(int(indexes[-negative]), "near", score)
    return dropped


def find_duplicates_in(sketches: list[Sketch], threshold: float = DEFAULT_THRESHOLD) -> dict[int, Duplicate]:
    """Map each dropped conversation's index to what replaces it; threshold >= 1.0 finds exact copies only."""
    if threshold <= 0:
        raise ValueError(f"threshold must be above 0, got {threshold}")
    table = SketchTable(threshold)
    for sketch in sketches:
        table.add(sketch)
    return table.duplicates(lambda indexes: ((i, sketches[i].signature) for i in indexes))


def find_duplicates(conversations: list[list[dict]], threshold: float = DEFAULT_THRESHOLD) -> dict[int, Duplicate]:
    if threshold <= 0:
        raise ValueError(f"threshold must be above 0, got {threshold}")
    return find_duplicates_in(sketch_all(conversations), threshold)


def signatures_from(conversations, indexes):
    """(index, signature) of the conversations at these ascending positions of an iterable read
    from the start, sketched a batch at a time."""
    wanted = iter(sorted(int(i) for i in indexes))
    target = next(wanted, None)
    batch: list[tuple[int, list[dict]]] = []
    for index, messages in enumerate(conversations):
        if target is None:
            break
        if index == target:
            batch.append((index, messages))
            target = next(wanted, None)
        if len(batch) >= BAND_BATCH:
            yield from sketched(batch)
            batch = []
    yield from sketched(batch)


def sketched(batch: list[tuple[int, list[dict]]]):
    if not batch:
        return iter(())
    return ((i, sketch.signature) for (i, _), sketch in zip(batch, sketch_all([m for _, m in batch])))
