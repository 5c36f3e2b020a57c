"""What `make stats` and `make audit` say about a file's conversations, one conversation at a time.

A Summary keeps a few numbers per conversation (turns, message lengths, a dedup sketch, the hashes
of its assistant sentences) and small counters, never the texts, so its memory stays flat as the
file grows. The repeated sentences need a second read of the file to spell the winners out.
"""
import bisect
import hashlib
import re
import statistics
from array import array
from collections import Counter
from typing import Callable, Iterable

from .dedup import DEFAULT_THRESHOLD, SketchTable, normalize, signatures_from, sketch_all
from .identity import Facts
from .language import first_message_script, guess_language
from .leaks import sentences

OPENING_WORDS = 5
TOP_OPENINGS = 10
TOP_SENTENCES = 10
MIN_SENTENCE_WORDS = 3  # "Yes." or "Thanks!" repeat everywhere and teach nothing about identity
SKETCH_BATCH = 256      # conversations sketched at once (numpy's cost per call is paid once per batch)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def numbers(values) -> dict:
    if not len(values):
        return {"min": 0, "mean": 0.0, "median": 0.0, "max": 0}
    return {"min": min(values), "mean": round(statistics.fmean(values), 2),
            "median": statistics.median(values), "max": max(values)}


def first_of(messages: list[dict], role: str) -> str:
    return next((m["content"] for m in messages if m.get("role") == role), "")


def assistant_texts(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == "assistant"]


def opening(messages: list[dict]) -> str:
    """The first OPENING_WORDS normalized words of the first assistant message."""
    return " ".join(normalize(first_of(messages, "assistant")).split()[:OPENING_WORDS])


def sentence_keys(messages: list[dict]) -> dict[str, str]:
    """Normalized assistant sentence -> its first spelling, each once per conversation."""
    seen: dict[str, str] = {}
    for sentence in (s for text in assistant_texts(messages) for s in sentences(text)):
        key = normalize(sentence)
        if len(key.split()) >= MIN_SENTENCE_WORDS:
            seen.setdefault(key, sentence)
    return seen


def key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def name_pattern(facts: Facts | None) -> re.Pattern | None:
    if facts is None or not facts.own_names:
        return None
    names = "|".join(re.escape(name) for name in sorted(facts.own_names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{names})(?!\w)", re.IGNORECASE)


class Summary:
    """Feed it conversations with `add`; `stats` gives stats.json's content sections."""

    def __init__(self, facts: Facts | None = None, threshold: float = DEFAULT_THRESHOLD):
        self.facts, self.names = facts, name_pattern(facts)
        self.turns, self.user_chars, self.assistant_chars = array("I"), array("I"), array("I")
        self.scripts: Counter = Counter()
        self.opening_hashes = array("Q")
        self.non_ascii = self.stated = self.foreign = self.foreign_in_english = 0
        self.sketches, self.waiting, self.found = SketchTable(threshold), [], None
        self.sentence_hashes = array("Q")

    def add(self, messages: list[dict]) -> None:
        self.turns.append(len(messages))
        for m in messages:
            (self.user_chars if m.get("role") == "user" else self.assistant_chars).append(len(m["content"]))
            self.non_ascii += not m["content"].isascii()
        user = first_of(messages, "user")
        self.scripts[first_message_script(user)] += 1
        self.opening_hashes.append(key_hash(opening(messages)))
        if self.names is not None:
            self.stated += any(self.names.search(text) for text in assistant_texts(messages))
        if guess_language(user) == "other":
            self.foreign += 1
            self.foreign_in_english += guess_language(first_of(messages, "assistant")) == "English"
        self.sentence_hashes.extend(key_hash(key) for key in sentence_keys(messages))
        self.waiting.append(messages)
        if len(self.waiting) >= SKETCH_BATCH:
            self.sketch_waiting()

    def sketch_waiting(self) -> None:
        for sketch in sketch_all(self.waiting):
            self.sketches.add(sketch)
        self.waiting = []

    def duplicate_map(self, again: Callable[[], Iterable[list[dict]]]) -> dict:
        """{index: Duplicate} of exact and near copies, found once; `again` reads the conversations
        once more to verify the candidates."""
        if self.found is None:
            self.sketch_waiting()
            self.found = self.sketches.duplicates(lambda indexes: signatures_from(again(), indexes))
        return self.found

    def duplicates(self, again: Callable[[], Iterable[list[dict]]]) -> dict:
        kinds = Counter(d.kind for d in self.duplicate_map(again).values())
        total = len(self.turns) or 1
        return {"exact": kinds["exact"], "near": kinds["near"],
                "exact_rate": round(kinds["exact"] / total, 4), "near_rate": round(kinds["near"] / total, 4)}

    def top_openings(self, again: Callable[[], Iterable[list[dict]]]) -> list[dict]:
        found = spell_out(self.opening_hashes, again, lambda messages: {opening(messages): opening(messages)}, TOP_OPENINGS)
        return [{"opening": text, "count": count} for text, count in found]

    def shape(self, again: Callable[[], Iterable[list[dict]]]) -> dict:
        return {
            "conversations": len(self.turns),
            "turns": {**numbers(self.turns), "histogram": dict(sorted(Counter(self.turns).items()))},
            "user_chars": numbers(self.user_chars),
            "assistant_chars": numbers(self.assistant_chars),
            "first_message_scripts": dict(self.scripts.most_common()),
            "duplicates": self.duplicates(again),
            "top_openings": self.top_openings(again),
            "non_ascii_messages": self.non_ascii,
        }

    def names_stated(self) -> dict | None:
        if self.names is None:
            return None
        return {"names": list(self.facts.own_names), "conversations": self.stated,
                "rate": share(self.stated, len(self.turns))}

    def english_replies(self) -> dict:
        return {"non_english_first": self.foreign, "answered_in_english": self.foreign_in_english,
                "rate": share(self.foreign_in_english, self.foreign)}

    def repeated_sentences(self, again: Callable[[], Iterable[list[dict]]]) -> list[dict]:
        """The assistant sentences found in the most conversations (each counted once per conversation),
        ties in text order; `again` reads the conversations a second time to spell them out."""
        found = spell_out(self.sentence_hashes, again, sentence_keys, TOP_SENTENCES)
        return [{"sentence": sentence, "count": count} for sentence, count in found]


def spell_out(hashes: array, again: Callable[[], Iterable[list[dict]]], keys_of, top: int) -> list[tuple[str, int]]:
    """The `top` most counted keys, ties in key order, as (shown text, count): `hashes` counted each
    key_hash once, and `again` reads the conversations once more so `keys_of(messages)` ({key: the
    text to show}) can spell the winners out. Only the hashes are held, never all the texts."""
    import numpy as np
    values, counts = np.unique(np.frombuffer(hashes, dtype=np.uint64), return_counts=True)
    if not len(values):
        return []
    order = np.argsort(-counts, kind="stable")[:top]
    cut = int(counts[order[-1]])
    sure = {int(values[i]): int(counts[i]) for i in order if counts[i] > cut}
    tied = values[counts == cut]  # sorted, as np.unique returns them
    spelled: dict[str, tuple[int, str]] = {}
    ties: list[tuple[str, str]] = []  # the first tied keys in key order, at most `top`
    for messages in again():
        for key, shown in keys_of(messages).items():
            digest = key_hash(key)
            if digest in sure:
                spelled.setdefault(key, (sure[digest], shown))
            elif (len(ties) < top or key < ties[-1][0]) and key not in dict(ties) and is_in(tied, digest):
                bisect.insort(ties, (key, shown))
                del ties[top:]
    ranked = sorted((-count, key, shown) for key, (count, shown) in spelled.items())
    ranked += [(-cut, key, shown) for key, shown in ties]
    return [(shown, -count) for count, _, shown in ranked[:top]]


def is_in(sorted_values, value: int) -> bool:
    import numpy as np
    index = int(np.searchsorted(sorted_values, np.uint64(value)))
    return index < len(sorted_values) and int(sorted_values[index]) == value


def row(label: str, value: object) -> str:
    return f"{label:<28}{value}"


def describe_numbers(values: dict) -> str:
    return f"min {values['min']}, mean {values['mean']}, median {values['median']}, max {values['max']}"


def describe_counts(counts: dict) -> str:
    return ", ".join(f"{key}: {count}" for key, count in counts.items()) or "none"
