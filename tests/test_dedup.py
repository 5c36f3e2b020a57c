"""Exact and near-duplicate detection on small hand-made conversations."""
import random

import pytest

from stages.judging.dedup import DEFAULT_THRESHOLD, Duplicate, find_duplicates, normalize

WORDS = ("model sprout small open source assistant answers questions about itself who built it what it can do "
         "and cannot do languages code maths writing limits training data knowledge cutoff privacy mistakes "
         "honest helpful friendly careful").split()


def long_text(seed: int, words: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def chat(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def with_one_word_changed(text: str) -> str:
    words = text.split()
    words[len(words) // 2] = "zebra"
    return " ".join(words)


def test_normalize_lowercases_drops_punctuation_and_collapses_whitespace():
    assert normalize("  Hello,   WORLD!\n\tWho made you?  ") == "hello world who made you"
    assert normalize("Привет, мир!") == "привет мир"


def test_exact_copies_are_dropped_keeping_the_lowest_index():
    a, b = chat("who made you?", long_text(1)), chat("what can you do?", long_text(2))
    found = find_duplicates([a, b, a, b, a])
    assert found == {2: Duplicate(0, "exact", 1.0), 3: Duplicate(1, "exact", 1.0), 4: Duplicate(0, "exact", 1.0)}


def test_whitespace_case_and_punctuation_differences_are_exact_duplicates():
    first = chat("Who made you?", "I am Sprout. I was built by a small team.")
    second = chat("  who   MADE you ", "i am sprout\ni was built by a small team")
    assert find_duplicates([first, second]) == {1: Duplicate(0, "exact", 1.0)}


def test_one_word_changed_in_a_long_conversation_is_a_near_duplicate():
    text = long_text(3)
    found = find_duplicates([chat("hi", text), chat("hi", with_one_word_changed(text))])
    assert list(found) == [1]
    assert found[1].kept == 0 and found[1].kind == "near"
    assert DEFAULT_THRESHOLD <= found[1].similarity < 1.0


def test_clearly_different_conversations_are_all_kept():
    conversations = [chat(f"question {seed}", long_text(seed)) for seed in range(20)]
    assert find_duplicates(conversations) == {}


def test_the_role_is_part_of_the_text():
    system_first = [{"role": "system", "content": "hello there"}, {"role": "assistant", "content": "hello there"}]
    assert find_duplicates([chat("hello there", "hello there"), system_first]) == {}


def test_threshold_one_finds_exact_copies_only():
    text = long_text(4)
    original, near = chat("hi", text), chat("hi", with_one_word_changed(text))
    assert find_duplicates([original, near, original], threshold=1.0) == {2: Duplicate(0, "exact", 1.0)}


def test_a_copy_of_a_near_duplicate_points_at_the_kept_conversation():
    text = long_text(5)
    original, near = chat("hi", text), chat("hi", with_one_word_changed(text))
    found = find_duplicates([original, near, near])
    assert found[1].kept == found[2].kept == 0 and found[2] == found[1]


def test_results_are_deterministic():
    base = [chat(f"q{seed}", long_text(seed)) for seed in range(30)]
    conversations = base + [chat(c[0]["content"], with_one_word_changed(c[1]["content"])) for c in base[::3]]
    first, second = find_duplicates(conversations), find_duplicates(list(conversations))
    assert first == second and len(first) == 10


def test_short_and_empty_conversations_do_not_break_it():
    conversations = [chat("hi", "yo"), chat("hi", "yo"), [], [], chat("a", "b")]
    assert find_duplicates(conversations) == {1: Duplicate(0, "exact", 1.0), 3: Duplicate(2, "exact", 1.0)}
    assert find_duplicates([]) == {}


def test_threshold_must_be_positive():
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates([chat("hi", "yo")], threshold=0)
