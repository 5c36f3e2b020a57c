"""The run record: what `dataset` was given, every later command reads; what differs is named."""
import json

import pytest
from conftest import run

QUILL = """---
name: Quill
also_called: Quill chat
---
Name: Quill. A small writing assistant made by the Inkwell collective.
"""


@pytest.fixture
def quill_run(tmp_path, fake_api):
    """`make dataset N=12 IDENTITY=quill.md BASE_URL=...` into its own folders."""
    server = fake_api()
    identity = tmp_path / "quill.md"
    identity.write_text(QUILL)
    data = tmp_path / "data"
    given = {"N": "12", "IDENTITY": str(identity), "BASE_URL": server.base_url, "CACHE_DIR": str(tmp_path / "cache")}
    for command in ("prompts", "fetch", "dataset"):
        assert run(command, "--data-dir", data, **given).exit_code == 0
    return data, identity, server


def test_stats_and_show_with_no_settings_describe_the_recorded_run(quill_run):
    data, _, _ = quill_run
    stats = run("stats", "--data-dir", data)
    assert stats.exit_code == 0, stats.output
    written = json.loads((data / "stats.json").read_text())
    assert written["fidelity"]["names_stated"]["names"] == ["Quill", "Quill chat"]
    assert written["fidelity"]["names_stated"]["rate"] >= 0.9
    assert sum(written["axes"]["topic"]["counts"].values()) == 12  # the run's 12 seeds, not 1,000
    shown = run("show", "--seed", 3, "--data-dir", data)
    assert shown.exit_code == 0 and "attempt 0: valid (used)" in shown.stdout and "Quill" in shown.stdout
    assert "using" not in stats.stderr and "using" not in shown.stderr


def test_a_setting_that_differs_from_the_record_is_used_and_named_in_one_line(quill_run):
    data, _, _ = quill_run
    result = run("stats", "--data-dir", data, IDENTITY="prompts/identity.md")
    notes = [line for line in result.stderr.splitlines() if "recorded" in line]
    assert len(notes) == 1 and "IDENTITY=prompts/identity.md" in notes[0] and "quill.md" in notes[0]
    names = json.loads((data / "stats.json").read_text())["fidelity"]["names_stated"]["names"]
    assert names[0] == "Sprout"
    assert json.loads((data / "run.json").read_text())["settings"]["IDENTITY"].endswith("quill.md")  # readers never write


def test_a_writer_changes_the_record_and_says_so(quill_run):
    data, _, _ = quill_run
    result = run("dataset", "--data-dir", data, "--split", 0.25)
    assert result.exit_code == 0 and "the run now has SPLIT=0.25 (recorded: 0.0)" in result.stderr
    assert json.loads((data / "run.json").read_text())["settings"]["SPLIT"] == 0.25
    assert (data / "identity_conversations.val.jsonl").exists()


def test_an_edited_identity_file_is_named_by_readers(quill_run):
    data, identity, _ = quill_run
    identity.write_text(QUILL.replace("Inkwell", "Inkpot"))
    result = run("validate", "--data-dir", data)
    assert "the IDENTITY file changed since the run was recorded" in result.stderr


def test_giving_n_drops_a_recorded_seed_slice(tmp_path):
    data = tmp_path / "data"
    assert run("prompts", "--data-dir", data, "--seeds", "2:5").exit_code == 0
    assert run("prompts", "--data-dir", data).stderr.startswith("prompts: 3 rendered")  # the slice is kept
    again = run("prompts", "--data-dir", data, "--n", 4)
    assert "4 rendered" in again.stderr
    assert json.loads((data / "run.json").read_text())["settings"]["SEEDS"] is None


def test_config_gives_settings_and_the_command_line_wins(tmp_path):
    data, config = tmp_path / "data", tmp_path / "run.yaml"
    config.write_text("N: 7\nTEMPERATURE: 0.3\n")
    assert run("prompts", "--data-dir", data, "--config", config, "--temperature", 0.5).exit_code == 0
    recorded = json.loads((data / "run.json").read_text())["settings"]
    assert recorded["N"] == 7 and recorded["TEMPERATURE"] == 0.5
    assert run("prompts", "--data-dir", tmp_path / "again", "--config", data / "run.json").exit_code == 0
    assert json.loads((tmp_path / "again" / "run.json").read_text())["settings"] == recorded


@pytest.mark.parametrize("text, words", [("NN: 3\n", "unknown setting NN"), ("- 3\n", "must map setting names"),
                                         ("N: [\n", "cannot be read"), ("N: -2\n", "Invalid value for N")])
def test_a_bad_config_is_one_line(tmp_path, text, words):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    result = run("prompts", "--data-dir", tmp_path / "data", "--config", config)
    assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "data" / "run.json").exists()


def test_a_broken_record_is_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "run.json").write_text("{not json")
    result = run("stats", "--data-dir", data)
    assert result.exit_code == 1 and "run.json cannot be read" in result.stderr and "delete it" in result.stderr


def test_n_zero_writes_nothing_and_fails(quill_run):
    data, _, _ = quill_run
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    for command in ("prompts", "fetch", "dataset"):
        result = run(command, "--data-dir", data, "--n", 0)
        assert result.exit_code == 2 and "N=0 leaves no seed" in result.stderr
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before
