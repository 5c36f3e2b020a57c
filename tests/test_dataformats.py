"""The format registry: every format written by `make dataset` reads back as the same messages
through the one reader stats and audit use, and audit's extra shapes read as conversations."""
import json

import pytest
from conftest import chat, run

from stages.storage.dataformats import FORMATS, WRITABLE, detect, read_conversations

CONVERSATION = chat("who made you?", "A reading group\u2028built me.", "and your name?", "Sprout. \x85 Hi!")


@pytest.mark.parametrize("name", WRITABLE)
def test_every_writable_format_reads_back_as_the_messages_it_was_written_from(tmp_path, name):
    path = tmp_path / "out.jsonl"
    line = FORMATS[name].write(CONVERSATION)
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n" + json.dumps(line) + "\n", encoding="utf-8")
    rows = list(read_conversations(path))
    assert [row.messages for row in rows] == [CONVERSATION, CONVERSATION]
    assert {row.shape for row in rows} == {name} and detect(line) == name


@pytest.mark.parametrize("name", WRITABLE)
def test_dataset_writes_and_stats_reads_every_format(rendered, name):
    """A format `make dataset` can write is one `make stats` can read: the stage pair, not just the functions."""
    from conftest import FAKE_URL, cache_entry, conversation_content, store_answer
    for seed in range(5):
        store_answer(rendered, seed, 0, cache_entry(conversation_content(chat(f"hi {seed}", f"I am Sprout, {seed}."))))
    where = ["--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", FAKE_URL, "--n", 5]
    assert run("dataset", *where, "--format", name).exit_code == 0
    stats = run("stats", *where)
    assert stats.exit_code == 0, stats.output
    assert json.loads((rendered[0] / "stats.json").read_text())["conversations"] == 5


def test_a_whole_file_json_array_of_alpaca_rows_is_read(tmp_path):
    path = tmp_path / "identity.json"
    rows = [{"instruction": "hi", "input": "", "output": "Hello! I am {{name}}, made by {{author}}."},
            {"instruction": "who are you", "input": "briefly", "output": "I am Sprout.",
             "history": [["hello", "hi there"]]}]
    path.write_text(json.dumps(rows, indent=2))
    read = list(read_conversations(path))
    assert [row.shape for row in read] == ["alpaca", "alpaca"] and [row.line for row in read] == [1, 2]
    assert read[1].messages == chat("hello", "hi there", "who are you\nbriefly", "I am Sprout.")


def test_a_system_turn_is_set_aside_and_an_unknown_row_is_named(tmp_path):
    path = tmp_path / "mixed.jsonl"
    system = [{"role": "system", "content": "You are Sprout."}] + chat("hi", "hello")
    path.write_text(json.dumps({"messages": system}) + "\n" + json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    first, second = read_conversations(path)
    assert first.messages == chat("hi", "hello")
    assert second.messages is None and "completion, prompt" in second.problem


def test_audit_names_the_shapes_it_read(tmp_path):
    path = tmp_path / "chatml.jsonl"
    path.write_text(json.dumps(FORMATS["chatml"].write(chat("who are you?", "I am Sprout."))) + "\n")
    result = run("audit", "--file", path, "--data-dir", tmp_path)
    assert result.exit_code == 0 and "read as chatml: 1" in result.stderr
