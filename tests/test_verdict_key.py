"""Every setting of a run, changed between two builds in one DATA_DIR, gives the dataset a fresh
build gives: the rebuild notes can never hold a verdict made under other settings.

A new field of RunSettings fails test_every_setting_has_a_change until it gets a value below; a
field wrongly listed in NOT_VERDICT fails the walk (test_a_rule_setting_listed_as_irrelevant_is_caught
shows that with MAX_ATTEMPTS)."""
from dataclasses import fields, replace
from pathlib import Path

import pytest

from stages.judging.verdictkey import NOT_VERDICT, verdict_key
from stages.storage.run import RunSettings

from conftest import ROOT, run

OUTPUTS = ("identity_conversations.jsonl", "identity_conversations.val.jsonl", "rejected.jsonl", "duplicates.jsonl")
BASE = {"N": "12", "MAX_ATTEMPTS": "3"}


def changes(tmp_path: Path, other_url: str) -> dict[str, str]:
    """A value for every setting that differs from BASE and the defaults."""
    context = tmp_path / "context.md"
    context.write_text("Sprout was trained on a laptop in a garden shed.\n")
    return {"n": "9", "seeds": "3:11", "base_url": other_url, "openrouter": "0", "model": "other/model",
            "models": "a/one=1,b/two=3", "reasoning": "low", "response_format": "json_object", "temperature": "0.4",
            "max_tokens": "2048", "identity": str(ROOT / "prompts/examples/lumen_identity.md"), "context": str(context),
            "ascii": "1", "max_attempts": "1", "judge": "1", "judge_model": "judge/model", "format": "sharegpt",
            "dedup": "0", "dedup_threshold": "0.6", "split": "0.4", "cache_dir": str(tmp_path / "other-cache")}


def build(data: Path, settings: dict[str, str]) -> dict[str, bytes | None]:
    """prompts, fetch and dataset in DATA_DIR `data` under these settings (make variables)."""
    for command in ("prompts", "fetch", "dataset"):
        result = run(command, "--data-dir", data, **settings)
        assert result.exit_code in (0, 1), result.output
    return {name: (data / name).read_bytes() if (data / name).exists() else None for name in OUTPUTS}


@pytest.fixture
def servers(fake_api):
    return [fake_api(leak_rate=0.4, judge_fail_rate=0.3) for _ in range(2)]


def test_every_setting_has_a_change(tmp_path):
    assert set(changes(tmp_path, "x")) == {f.name for f in fields(RunSettings)}


def walk(tmp_path: Path, servers, names=None) -> list[str]:
    """The settings (all, or `names`) whose change made the rebuild differ from a fresh build."""
    base = {**BASE, "BASE_URL": servers[0].base_url, "CACHE_DIR": str(tmp_path / "cache")}
    wrong = []
    for name, value in changes(tmp_path, servers[1].base_url).items():
        if names is not None and name not in names:
            continue
        changed = {**base, name.upper(): value}
        build(tmp_path / name / "kept", base)
        rebuilt = build(tmp_path / name / "kept", changed)
        fresh = build(tmp_path / name / "fresh", changed)
        if rebuilt != fresh:
            wrong.append(name)
    return wrong


def test_each_setting_changed_between_builds_gives_a_fresh_builds_dataset(tmp_path, servers):
    assert walk(tmp_path, servers) == []


def test_a_rule_setting_listed_as_irrelevant_is_caught(tmp_path, servers, monkeypatch):
    """The slip this guards against: a setting that decides verdicts kept out of the key."""
    monkeypatch.setitem(NOT_VERDICT, "max_attempts", "wrongly listed")
    assert walk(tmp_path, servers, names={"max_attempts", "temperature"}) == ["max_attempts"]


def test_only_the_listed_settings_leave_the_key_alone():
    base = RunSettings()
    values = {"n": 5, "seeds": "1:3", "base_url": "http://127.0.0.1:1/v1", "openrouter": "1", "model": "m/x",
              "models": (("a", 1.0),), "reasoning": "high", "response_format": "none", "temperature": 0.3,
              "max_tokens": 12, "identity": "prompts/examples/lumen_identity.md",
              "context": "prompts/examples/lumen_context.md", "ascii": True, "max_attempts": 2, "judge": True,
              "judge_model": "j/m", "format": "messages", "dedup": False, "dedup_threshold": 0.7, "split": 0.2,
              "cache_dir": "elsewhere"}
    same = {name for name, value in values.items() if verdict_key(replace(base, **{name: value})) == verdict_key(base)}
    assert same == set(NOT_VERDICT)
