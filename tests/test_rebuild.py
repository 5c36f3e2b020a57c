"""Rebuilds: an unchanged `dataset` writes nothing; any change to what it reads builds again, and a
build that reuses the notes of an earlier one writes the same bytes as one that starts afresh."""
import json
import os

import pytest
from conftest import (FAKE_URL, GOOD, cache_entry, conversation_content, dataset_outputs, forget_build_notes, run,
                      store_answer)

from stages.config import completions_url
from stages.judging.memo import NOTES_FILE, STAMP_FILE
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


def test_an_unchanged_rebuild_writes_nothing_and_says_so(cached):
    first = build(cached)
    assert "wrote 11 conversations" in first.stderr
    before = snapshot(cached[0])
    again = build(cached)
    assert snapshot(cached[0]) == before  # same bytes, same modification times: nothing written
    assert again.stderr.startswith("dataset: nothing to do")
    assert "11 conversations in" in again.stderr and "11/12 seeds valid, 1 rejected" in again.stderr


@pytest.mark.parametrize("change", ["answer", "replaced answer", "removed answer", "rule", "format", "split",
                                    "threshold", "attempts", "deleted output", "edited output", "prompt"])
def test_a_change_builds_again_and_the_same_as_a_fresh_build(cached, change):
    build(cached)
    before = dataset_outputs(cached[0])
    extra = make_change(cached, change)
    result = build(cached, *extra)
    assert "nothing to do" not in result.stderr
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
    """The stamp keys on each file's status-change time too, which no tool can set back."""
    build(cached)
    path = cached[0] / "prompts" / "2.json"
    info = path.stat()
    body = json.loads(path.read_text())
    body["model"] = body["model"][::-1]  # same length
    path.write_text(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_mtime_ns == info.st_mtime_ns
    result = build(cached)
    assert "nothing to do" not in result.stderr and "10/12 seeds valid" in result.stderr


def test_notes_stay_beside_the_data_and_never_enter_the_cache(cached, tmp_path):
    build(cached)
    assert (cached[0] / NOTES_FILE).is_file() and (cached[0] / STAMP_FILE).is_file()
    with open_cache(cached[1]) as cache:
        assert all(len(key) == 64 and ":" not in key for key in cache.iterkeys())
    merged = tmp_path / "merged"
    assert run("merge", "--cache-dir", merged, cached[1]).exit_code == 0
    assert not any(NOTES_FILE in p.name or STAMP_FILE in p.name for p in merged.rglob("*"))


def test_notes_written_by_other_code_are_not_used(cached):
    build(cached)
    notes = json.loads((cached[0] / NOTES_FILE).read_text())
    for note in notes["outcomes"].values():
        note[0] = GOOD  # what a note from another version could say
    notes["code"] = "another version"
    (cached[0] / NOTES_FILE).write_text(json.dumps(notes))
    assert dataset_outputs(cached[0]) == fresh_outputs(cached)
    build(cached, "--split", 0.5)
    assert json.dumps(GOOD) not in (cached[0] / "identity_conversations.jsonl").read_text()


LEAKING = [{"role": "user", "content": "who are you?"}, {"role": "assistant", "content": "I am ChatGPT, made by OpenAI."}]


@pytest.mark.parametrize("messages", [chat(1), chat(1, " (café)"), chat(1)[:1], [{"role": "user", "content": "é"}],
                                      chat(1) + [{"role": "user", "content": "ñ"}], LEAKING,
                                      LEAKING[:1] + [{"role": "assistant", "content": "I am ChatGPT, made by OpenAI. ¡Hola!"}],
                                      [{"role": "assistant", "content": ""}, {"role": "user", "content": "ü"}]])
def test_the_ascii_rule_applied_on_top_is_the_same_as_judging_again(messages):
    from stages.commands.prompts import load_sources
    from stages.judging.checks import add_ascii_rule, judge_content, make_validator
    from stages.judging.identity import load_identity
    validator, facts = make_validator(load_sources().schema), load_identity(None).facts
    content = conversation_content(messages)
    assert add_ascii_rule(judge_content(content, validator, False, facts)) == judge_content(content, validator, True, facts)


def test_keys_from_a_canonical_request_file_are_the_keys_of_its_body(rendered):
    from stages.storage.cache import KeyMaker
    data = (rendered[0] / "prompts" / "2.json").read_bytes()
    body = json.loads(data)
    url = completions_url("https://example.org/ä/v1")
    assert KeyMaker.from_canonical(url, data.removesuffix(b"\n")).key(3) == KeyMaker(url, body).key(3)
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


def test_a_rebuild_that_needs_nothing_new_finds_every_note_and_rewrites_none(cached):
    """With only the stamp gone, every seed's outcome and sketch is noted: a rebuild reviews and
    sketches nothing again. The first such rebuild keeps only the notes it used; the next one
    then finds all it needs and leaves the notes file as it was."""
    notes = cached[0] / NOTES_FILE
    build(cached)
    for _ in range(2):
        (cached[0] / STAMP_FILE).unlink()
        before = (notes.read_bytes(), notes.stat().st_mtime_ns)
        build(cached)
    assert (notes.read_bytes(), notes.stat().st_mtime_ns) == before
    assert json.loads(notes.read_text())["outcomes"]  # the notes are there to be found


def test_notes_written_by_other_code_are_not_trusted(cached):
    """Notes carry the digest of the code that wrote them; another code's notes, here claiming
    every answer failed its schema, are dropped and the build is the same as a fresh one."""
    build(cached)
    fresh = dataset_outputs(cached[0])
    notes = cached[0] / NOTES_FILE
    data = json.loads(notes.read_text())
    data["code"] = "0" * 64
    data["answers"] = {entry: [None, ["schema"]] for entry in data["answers"]}
    notes.write_text(json.dumps(data))
    (cached[0] / STAMP_FILE).unlink()
    build(cached)
    assert dataset_outputs(cached[0]) == fresh
