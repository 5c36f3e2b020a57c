"""Rebuilds: an unchanged `dataset` judges nothing again and writes the same bytes; any change to
what it reads is seen, and a build that reuses the notes of an earlier one writes the same bytes as
one that starts afresh."""
import json
import os
import sqlite3

import pytest
from conftest import (FAKE_URL, cache_entry, conversation_content, dataset_outputs, forget_build_notes, run,
                      store_answer)

from stages.judging.rules import completions_url
from stages.judging.memo import NOTES_FILE
from stages.storage.bodies import load_body
from stages.storage.cache import answer_key, open_cache

N = 12


def chat(seed: int, extra: str = "") -> list[dict]:
    return [{"role": "user", "content": f"who are you, {seed}?"},
            {"role": "assistant", "content": f"I am Sprout, number {seed}{extra}. A small open model."}]


@pytest.fixture
def cached(rendered):
    """Prompts for N seeds (the fixture renders 5; render N), answers for all but the last, one of
    them invalid first and valid on its second attempt, one not ASCII."""
    assert run("prompts", "--n", N, "--data-dir", rendered[0]).exit_code == 0
    for seed in range(N - 1):
        store_answer(rendered, seed, 0, cache_entry(conversation_content(chat(seed, " (café)" * (seed == 7)))))
    store_answer(rendered, 3, 0, cache_entry("not json"))
    store_answer(rendered, 3, 1, cache_entry(conversation_content(chat(3, " again"))))
    return rendered


def build(dirs, *extra, n=N):
    result = run("dataset", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", FAKE_URL, *extra)
    assert result.exit_code == 0, result.output
    return result


def snapshot(folder) -> dict:
    """Every file in the data folder (prompts aside) with its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


def fresh_outputs(dirs, *extra) -> dict:
    """What a build without any notes from earlier builds writes."""
    forget_build_notes(dirs[0])
    build(dirs, *extra)
    return dataset_outputs(dirs[0])


@pytest.fixture
def reviews(monkeypatch):
    """Counts the seeds a build reviews again instead of reading their notes."""
    import stages.judging.memo as memo
    seen = []
    original = memo.fresh_outcome

    def counted(*args, **kwargs):
        seen.append(args[5])
        return original(*args, **kwargs)
    monkeypatch.setattr(memo, "fresh_outcome", counted)
    return seen


def test_an_unchanged_rebuild_judges_nothing_again_and_writes_the_same_bytes(cached, reviews):
    first = build(cached)
    assert "wrote 11 conversations" in first.stderr and len(reviews) == N
    before = dataset_outputs(cached[0])
    again = build(cached)
    assert len(reviews) == N  # every seed's outcome came from its note
    assert dataset_outputs(cached[0]) == before
    assert "11/12 seeds valid, 1 rejected" in again.stderr


@pytest.mark.parametrize("change", ["answer", "replaced answer", "removed answer", "rule", "format", "split",
                                    "threshold", "attempts", "deleted output", "edited output", "prompt"])
def test_a_change_builds_again_and_the_same_as_a_fresh_build(cached, change):
    build(cached)
    before = dataset_outputs(cached[0])
    extra = make_change(cached, change)
    build(cached, *extra)
    rebuilt = dataset_outputs(cached[0])
    if change not in ("deleted output", "edited output", "threshold"):
        assert rebuilt != before
    assert rebuilt == fresh_outputs(cached, *extra)


def make_change(dirs, change: str) -> list:
    data, cache = dirs
    key = answer_key(completions_url(FAKE_URL), load_body(data, 5), 0)
    if change == "answer":
        store_answer(dirs, N - 1, 0, cache_entry(conversation_content(chat(N - 1))))
    elif change == "replaced answer":
        with open_cache(cache) as opened:
            opened.set(key, cache_entry(conversation_content(chat(5, " changed"))))
    elif change == "removed answer":
        with open_cache(cache) as opened:
            opened.delete(key)
    elif change == "deleted output":
        (data / "identity_conversations.jsonl").unlink()
    elif change == "edited output":
        (data / "identity_conversations.jsonl").write_text("[]\n")
    elif change == "prompt":  # one request body changed by hand: its seed's answers no longer match
        body = dict(load_body(data, 5), temperature=0.5)
        (data / "prompts" / "5.json").write_text(json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")
    return {"rule": ["--ascii", 1], "format": ["--format", "messages"], "split": ["--split", 0.5],
            "threshold": ["--dedup-threshold", 0.6], "attempts": ["--max-attempts", 1]}.get(change, [])


def test_a_rewritten_request_file_with_its_old_size_and_time_is_seen(cached):
    """A note is keyed on the request file's bytes, not on its size or time."""
    build(cached)
    path = cached[0] / "prompts" / "2.json"
    info = path.stat()
    body = json.loads(path.read_text())
    body["model"] = body["model"][::-1]  # same length
    path.write_text(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_mtime_ns == info.st_mtime_ns
    result = build(cached)
    assert "10/12 seeds valid" in result.stderr


def test_notes_stay_beside_the_data_and_never_enter_the_cache(cached, tmp_path):
    build(cached)
    assert (cached[0] / NOTES_FILE).is_file()
    with open_cache(cached[1]) as cache:
        assert all(len(key) == 64 and ":" not in key for key in cache.iterkeys())
    merged = tmp_path / "merged"
    assert run("merge", "--cache-dir", merged, cached[1]).exit_code == 0
    assert not any(NOTES_FILE in p.name for p in merged.rglob("*"))


def test_notes_written_by_other_code_are_not_used(cached, monkeypatch, reviews):
    """The code's digest is part of the verdict key: another version's notes are not found."""
    build(cached)
    monkeypatch.setattr("stages.judging.verdictkey.code_digest", lambda: "another version")
    build(cached)
    assert len(reviews) == 2 * N
    assert dataset_outputs(cached[0]) == fresh_outputs(cached)


def test_a_note_is_used_only_while_the_cache_holds_the_rows_it_rested_on(cached):
    """Notes forged to call every seed valid with another entry are not used once the rows differ."""
    build(cached)
    fresh = dataset_outputs(cached[0])
    with sqlite3.connect(cached[0] / NOTES_FILE) as db:
        for key, value in db.execute("SELECT key, value FROM notes").fetchall():
            note = json.loads(value)
            note["checked"] = [[k, "0:0.0"] for k, _ in note["checked"]]
            db.execute("UPDATE notes SET value = ? WHERE key = ?", (json.dumps(note), key))
    build(cached)
    assert dataset_outputs(cached[0]) == fresh


def test_a_key_makers_keys_are_the_answer_keys_of_its_body(rendered):
    from stages.storage.cache import KeyMaker
    body = json.loads((rendered[0] / "prompts" / "2.json").read_bytes())
    url = completions_url("https://example.org/ä/v1")
    assert KeyMaker(url, body).key(3) == answer_key(url, body, 3)


def test_a_request_file_that_is_not_canonical_json_gets_the_keys_of_its_body(cached):
    """A hand-edited file (spaces, other key order) still finds the answers cached for its body."""
    build(cached)
    path = cached[0] / "prompts" / "4.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    result = build(cached, "--max-attempts", 3)
    assert "11/12 seeds valid" in result.stderr
    assert dataset_outputs(cached[0]) == fresh_outputs(cached, "--max-attempts", 3)


@pytest.mark.parametrize("schema", [{"type": 12}, {"type": "objekt"}, {"properties": []}, {"required": "x"}])
def test_a_broken_schema_is_named_by_the_validator_built_on_first_use(schema):
    from stages.errors import PipelineError
    from stages.judging.checks import LazyValidator
    with pytest.raises(PipelineError, match="is not a valid JSON schema"):
        LazyValidator(schema).is_valid({})


def test_the_notes_keep_what_the_last_build_used_and_no_messages(cached):
    """Notes of settings no longer in use are dropped by the next build; no note holds a message."""
    build(cached)
    build(cached, "--ascii", 1)
    with sqlite3.connect(cached[0] / NOTES_FILE) as db:
        values = [json.loads(value) for value, in db.execute("SELECT value FROM notes")]
    assert len(values) == N
    assert not any("Sprout, number" in json.dumps(value) for value in values)


def test_a_near_duplicate_is_found_the_same_from_the_notes(rendered):
    """Candidates are verified on signatures read back from the notes on a rebuild."""
    long = " ".join(f"fact{i} about the model" for i in range(60))
    for seed in range(5):
        text = long.replace("fact30", "fict30") if seed == 3 else long if seed == 1 else f"I am Sprout, {seed}."
        store_answer(rendered, seed, 0, cache_entry(conversation_content(
            [{"role": "user", "content": "tell me about you"}, {"role": "assistant", "content": text}])))
    where = ["--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", FAKE_URL]
    records = []
    for _ in range(2):
        assert run("dataset", *where).exit_code == 0
        records.append([json.loads(line) for line in (rendered[0] / "duplicates.jsonl").read_text().splitlines()])
    assert records[0] == records[1] and [(r["seed"], r["kept_seed"], r["kind"]) for r in records[0]] == [(3, 1, "near")]
