"""A rebuild after the rules change, in either direction, writes what a fresh build under the new
rules writes; and request files edited by hand are seen by `dataset` and restored by `prompts`."""
import json
import os

import pytest
from conftest import (FAKE_URL, cache_entry, conversation_content, dataset_outputs, forget_build_notes, run,
                      store_answer)

N = 8
# Another identity, under which the cached answers that call the assistant Sprout are leaks.
PEBBLE = """---
name: Pebble
never_claim: Sprout
---
Name: Pebble. A tiny open chat model trained by a reading group.
"""


def chat(seed: int, extra: str = "") -> list[dict]:
    """Even seeds answer as Sprout, odd ones as Pebble."""
    name = ("Sprout", "Pebble")[seed % 2]
    return [{"role": "user", "content": f"who are you, {seed}?"},
            {"role": "assistant", "content": f"I am {name}, number {seed}{extra}. A small open model."}]


@pytest.fixture
def cached(dirs, tmp_path):
    """Answers for every seed, two of them not ASCII, and a second identity file."""
    assert run("prompts", "--n", N, "--data-dir", dirs[0]).exit_code == 0
    for seed in range(N):
        store_answer(dirs, seed, 0, cache_entry(conversation_content(chat(seed, " (café)" * (seed in (2, 5))))))
    (tmp_path / "pebble.md").write_text(PEBBLE)
    return dirs


def build(dirs, *extra):
    """A build under the default rules but for `extra` (given settings replace the run record's)."""
    result = run("dataset", "--n", N, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", FAKE_URL,
                 "--ascii", 0, "--identity", "prompts/identity.md", *extra)
    assert result.exit_code == 0, result.output
    return result


def fresh_outputs(dirs, *extra) -> dict:
    """What a build without any notes from earlier builds writes."""
    forget_build_notes(dirs[0])
    build(dirs, *extra)
    return dataset_outputs(dirs[0])


def valid_count(folder) -> int:
    return len((folder / "identity_conversations.jsonl").read_text().splitlines())


@pytest.mark.parametrize("first, second", [
    (["--ascii", 1], ["--ascii", 0]),
    (["--ascii", 0], ["--ascii", 1]),
    ([], ["--identity", "pebble.md"]),
    (["--identity", "pebble.md"], []),
])
def test_a_rebuild_under_other_rules_writes_what_a_fresh_build_under_them_writes(cached, tmp_path, first, second):
    first = [str(tmp_path / a) if a.endswith(".md") else a for a in map(str, first)]
    second = [str(tmp_path / a) if a.endswith(".md") else a for a in map(str, second)]
    build(cached, *first)
    before = dataset_outputs(cached[0])
    build(cached, *second)
    rebuilt = dataset_outputs(cached[0])
    assert rebuilt != before
    assert rebuilt == fresh_outputs(cached, *second)


def test_rules_changed_back_and_forth_give_each_rules_own_dataset(cached, tmp_path):
    pebble = ["--identity", str(tmp_path / "pebble.md")]
    counts = []
    for extra in ([], ["--ascii", 1], [], pebble, [], pebble + ["--ascii", 1]):
        build(cached, *extra)
        counts.append(valid_count(cached[0]))
    assert counts == [N, N - 2, N, N // 2, N, N // 2 - 1]


def reformat_by_hand(path) -> None:
    """Spaces and another key order: the same body, not the bytes `make prompts` writes."""
    body = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(list(body.items()))), indent=2) + "\n")


def test_a_hand_reformatted_request_file_keeps_its_answers_through_later_rule_changes(cached):
    reformat_by_hand(cached[0] / "prompts" / "4.json")
    for extra in ([], ["--ascii", 1], ["--max-attempts", 3], []):
        build(cached, *extra)
        rejected = (cached[0] / "rejected.jsonl").read_text()
        assert "not_fetched" not in rejected
        assert dataset_outputs(cached[0]) == fresh_outputs(cached, *extra)


def same_size_edit(path) -> None:
    body = json.loads(path.read_text())
    body["model"] = body["model"][::-1]   # as long as before
    path.write_text(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")


@pytest.mark.parametrize("time_set_back", [False, True])
def test_prompts_restores_a_request_file_edited_by_hand_to_the_same_size(dirs, time_set_back):
    assert run("prompts", "--n", N, "--data-dir", dirs[0]).exit_code == 0
    path = dirs[0] / "prompts" / "3.json"
    rendered, info = path.read_bytes(), path.stat()
    same_size_edit(path)
    if time_set_back:
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.read_bytes() != rendered and path.stat().st_size == info.st_size
    assert run("prompts", "--n", N, "--data-dir", dirs[0]).exit_code == 0
    assert path.read_bytes() == rendered
