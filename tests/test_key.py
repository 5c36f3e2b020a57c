import pytest
from conftest import TEST_KEY

from stages.errors import PipelineError
from stages.transport.key import load_key


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    key_file = tmp_path / "openroutertoken.txt"
    key_file.write_text("from-file\n")
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    assert load_key(key_file) == TEST_KEY


def test_file_is_read_and_stripped(tmp_path):
    key_file = tmp_path / "openroutertoken.txt"
    key_file.write_text(f"  {TEST_KEY}\n")
    assert load_key(key_file) == TEST_KEY


def test_no_key_names_both_places(tmp_path):
    with pytest.raises(PipelineError, match="no API key: set OPENROUTER_API_KEY or put the key in .*openroutertoken.txt"):
        load_key(tmp_path / "openroutertoken.txt")


def test_malformed_key_is_rejected_without_echoing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or part two")
    with pytest.raises(PipelineError) as err:
        load_key(tmp_path / "none.txt")
    assert "part two" not in str(err.value) and "spaces" in str(err.value)
