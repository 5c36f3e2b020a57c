"""Chains of near duplicates in a built dataset: a conversation dropped as a copy is never what a
later one is compared with or said to be a copy of."""
import json

from conftest import FAKE_URL, cache_entry, conversation_content, run, store_answer

THRESHOLD = 0.75


def story(changes: dict[int, str]) -> list[dict]:
    """One long answer of distinct words, some of them replaced."""
    words = [changes.get(i, f"word{i}") for i in range(300)]
    return [{"role": "user", "content": "tell me a story"}, {"role": "assistant", "content": " ".join(words)}]


# B is A with 8 words changed (about 0.83 similar), C is B with 8 more (0.82 to B, 0.67 to A).
A = story({})
B = story({10 + 17 * j: f"bee{j}" for j in range(8)})
C = story({**{10 + 17 * j: f"bee{j}" for j in range(8)}, **{15 + 17 * j: f"sea{j}" for j in range(8)}})
OTHER = [{"role": "user", "content": "what can you do?"}, {"role": "assistant", "content": "I explain things briefly."}]


def build(dirs, conversations: list[list[dict]]):
    n = len(conversations)
    assert run("prompts", "--n", n, "--data-dir", dirs[0]).exit_code == 0
    for seed, messages in enumerate(conversations):
        store_answer(dirs, seed, 0, cache_entry(conversation_content(messages)))
    result = run("dataset", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", FAKE_URL,
                 "--dedup-threshold", THRESHOLD)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (dirs[0] / "identity_conversations.jsonl").read_text().splitlines()]
    duplicates = [json.loads(line) for line in (dirs[0] / "duplicates.jsonl").read_text().splitlines()]
    return rows, {d["seed"]: d for d in duplicates}


def test_a_conversation_like_a_dropped_one_but_not_like_the_kept_one_stays(dirs):
    rows, duplicates = build(dirs, [A, B, C, OTHER])
    assert rows == [A, C, OTHER]
    assert list(duplicates) == [1] and duplicates[1]["kept_seed"] == 0 and duplicates[1]["kind"] == "near"


def test_every_kept_seed_named_in_duplicates_is_in_the_dataset(dirs):
    # Seeds 3 and 4 are exact copies of B (dropped as near A): they are copies of what stayed, seed 0.
    rows, duplicates = build(dirs, [A, B, C, B, B, OTHER])
    assert rows == [A, C, OTHER]
    assert sorted(duplicates) == [1, 3, 4]
    kept_seeds = {seed for seed, messages in enumerate([A, B, C, B, B, OTHER]) if messages in rows
                  and seed not in duplicates}
    assert all(d["kept_seed"] in kept_seeds for d in duplicates.values())
    assert {d["kept_seed"] for d in duplicates.values()} == {0}
