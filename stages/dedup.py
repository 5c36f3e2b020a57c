"""Exact and near-duplicate conversations: a list of conversations in, {dropped index: Duplicate} out.

Exact means the same normalized text; near means MinHash-estimated Jaccard similarity of word
shingles at or above a threshold, found through an LSH index (datasketch) and then verified.
"""
import re
import zlib
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Duplicate:
    kept: int          # index of the conversation kept in its place (always lower, never dropped itself)
    kind: str          # "exact" or "near"
    similarity: float  # 1.0 for exact copies, the estimated Jaccard similarity for near ones


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


def window_hashes(words: list[str]) -> list[int]:
    """The 32-bit hash of the shingle starting at each word, for the whole corpus in a few array operations."""
    hashes = np.fromiter(map(WordHashes().__getitem__, words), dtype=np.uint64, count=len(words))
    count = len(hashes) - SHINGLE_WORDS + 1
    mixed = sum(hashes[k:k + count] * np.uint64(MULTIPLIERS[k]) for k in range(SHINGLE_WORDS))
    return (mixed & np.uint64(0xFFFFFFFF)).tolist()


def shingle_sets(word_lists: list[list[str]]) -> list[list[int]]:
    """Each text's shingle hashes; a text shorter than SHINGLE_WORDS is one shingle, an empty one none."""
    windows = window_hashes(padded_words(word_lists))
    sets, start = [], 0
    for length in map(len, word_lists):
        count = max(length - SHINGLE_WORDS + 1, 1) if length else 0
        sets.append(windows[start:start + count])
        start += length + SHINGLE_WORDS - 1
    return sets


def signatures(word_lists: list[list[str]]) -> list:
    """One MinHash per text; the shingle hashes are already integers, so datasketch's hash step is int()."""
    from datasketch import MinHash  # here, not at import: it loads scipy (~0.3 s)
    if not word_lists:
        return []
    return MinHash.bulk(shingle_sets(word_lists), num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int)


def exact_groups(texts: list[str]) -> tuple[list[int], dict[int, int]]:
    """The first index of each distinct text, and every later copy mapped to its first index."""
    first: dict[str, int] = {}
    copies = {}
    for index, text in enumerate(texts):
        if text in first:
            copies[index] = first[text]
        else:
            first[text] = index
    return list(first.values()), copies


def best_match(candidates: list[int], sketches: dict, mine,
               threshold: float) -> tuple[float, int] | None:
    """(similarity, index) of the most similar candidate at or above threshold, ties to the lowest index."""
    scored = sorted(((mine.jaccard(sketches[c]), -c) for c in candidates), reverse=True)
    if scored and scored[0][0] >= threshold:
        return scored[0][0], -scored[0][1]
    return None


def near_duplicates(word_lists: list[list[str]], uniques: list[int], threshold: float) -> dict[int, Duplicate]:
    """Greedy in index order: each text is compared with the earlier texts that were kept."""
    # LSH tuned at the threshold itself misses many pairs just above it (banding is a
    # probabilistic filter), so it looks wider and best_match verifies every candidate.
    from datasketch import MinHashLSH
    index = MinHashLSH(threshold=max(0.5, threshold - LSH_MARGIN), num_perm=NUM_PERM)
    sketches = dict(zip(uniques, signatures([word_lists[u] for u in uniques])))
    dropped = {}
    for position in uniques:
        match = best_match(index.query(sketches[position]), sketches, sketches[position], threshold)
        if match:
            dropped[position] = Duplicate(match[1], "near", match[0])
        else:
            index.insert(position, sketches[position])
    return dropped


def find_duplicates(conversations: list[list[dict]], threshold: float = DEFAULT_THRESHOLD) -> dict[int, Duplicate]:
    """Map each dropped conversation's index to what replaces it; threshold >= 1.0 finds exact copies only."""
    if threshold <= 0:
        raise ValueError(f"threshold must be above 0, got {threshold}")
    word_lists = [conversation_words(c) for c in conversations]
    uniques, copies = exact_groups([" ".join(words) for words in word_lists])
    near = near_duplicates(word_lists, uniques, threshold) if threshold < 1.0 else {}
    # A copy of a conversation that was itself dropped as near points at what that one points at.
    exact = {i: near.get(first, Duplicate(first, "exact", 1.0)) for i, first in copies.items()}
    return dict(sorted({**near, **exact}.items()))
