import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, project_env

from stages.render import (EXAMPLES_PER_SEED, Settings, Sources, encode_body, load_sources, pick_axes,
                                     pick_examples, render_all, request_body)
from stages.errors import PipelineError


def test_pool_has_enough_varied_first_messages():
    pool = load_sources().first_messages
    assert len(pool) >= 150
    assert len(set(pool)) == len(pool), "duplicates in first_messages.txt"
    assert sum(not m.isascii() for m in pool) >= 30, "too few non-English messages"
    assert any(m.isupper() for m in pool), "no all-caps messages"


def render_in_a_process(data_dir, hash_seed: str, *args, cwd=ROOT) -> str:
    """`python -m stages prompts` in a fresh interpreter with this PYTHONHASHSEED; returns its stderr."""
    done = subprocess.run([sys.executable, "-m", "stages", "prompts", "--data-dir", str(data_dir), *args], cwd=cwd,
                          env=project_env(PYTHONHASHSEED=hash_seed), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def rendered_bytes(data_dir, seeds) -> dict[int, bytes]:
    return {seed: (data_dir / "prompts" / f"{seed}.json").read_bytes() for seed in seeds}


def test_bodies_are_the_same_bytes_in_any_process(tmp_path):
    """Two interpreters with different hash seeds, one rendering a different slice: the same bytes."""
    render_in_a_process(tmp_path / "a", "1", "--n", "30")
    render_in_a_process(tmp_path / "b", "2", "--seeds", "17:45")
    a, b = rendered_bytes(tmp_path / "a", range(30)), rendered_bytes(tmp_path / "b", range(17, 45))
    assert all(a[seed] == b[seed] for seed in range(17, 30))
    assert len(set(a.values())) == 30


def test_rerun_skips_only_while_nothing_changed(tmp_path):
    sources, settings, out = load_sources(), Settings(), tmp_path / "prompts"
    assert render_all(sources, settings, 20, out) == 20
    assert render_all(sources, settings, 20, out) == 0
    original = (out / "7.json").read_bytes()
    (out / "7.json").write_text("{}")  # edited by hand since: rendered again
    assert render_all(sources, settings, 20, out) == 1 and (out / "7.json").read_bytes() == original
    (out / "3.json").unlink()
    assert render_all(sources, settings, 20, out) == 1 and (out / "3.json").is_file()
    assert render_all(sources, settings, 21, out) == 1


def test_a_change_in_the_rendering_code_renders_again(tmp_path):
    """No version number to forget: a copy of the package whose code renders examples differently
    finds the stamp of the original's render stale."""
    data = tmp_path / "data"
    render_in_a_process(data, "0", "--n", "5")
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "stages", copy / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "prompts").symlink_to(ROOT / "prompts")
    shutil.copy(ROOT / "setup.cfg", copy)  # a whole project folder (mutation testing reads its settings there)
    module = copy / "stages" / "render.py"
    module.write_text(module.read_text().replace('f"- {text}" for text in pick_examples', 'f"* {text}" for text in pick_examples'))
    assert "5 rendered, 5 changed" in render_in_a_process(data, "0", "--n", "5", cwd=copy)
    assert "\\n* " in (data / "prompts" / "0.json").read_text()


def test_seed_picks_the_examples():
    pool = load_sources().first_messages
    assert pick_examples(pool, 7) == pick_examples(pool, 7)
    assert len(set(pick_examples(pool, 7))) == EXAMPLES_PER_SEED
    assert len({tuple(pick_examples(pool, seed)) for seed in range(50)}) == 50


def test_body_has_the_exact_request_fields():
    sources = load_sources()
    body = request_body(sources, Settings(model="m/x", temperature=0.5, max_tokens=123), 3)
    assert body["model"] == "m/x" and body["temperature"] == 0.5 and body["max_tokens"] == 123
    assert body["provider"] == {"require_parameters": True}
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == sources.schema
    prompt = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user"
    assert sources.identity in prompt and "$" not in prompt
    for example in pick_examples(sources.first_messages, 3):
        assert f"- {example}" in prompt
    assert json.loads(encode_body(body)) == body


def test_unknown_placeholder_is_a_clear_error():
    sources = load_sources()
    broken = Sources(sources.identity, "Hello $nobody", sources.first_messages, sources.schema)
    with pytest.raises(PipelineError, match=r"unknown placeholder 'nobody'"):
        request_body(broken, Settings(), 0)


def test_missing_source_file_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="cannot read .*identity.md"):
        load_sources(tmp_path)


def test_every_axis_is_drawn_from_its_own_generator():
    sources = load_sources()
    assert set(sources.axes) >= {"topic", "persona", "dynamic"}
    picks = [pick_axes(sources.axes, seed) for seed in range(200)]
    for name, items in sources.axes.items():
        assert {p[name] for p in picks} == set(items), f"axis {name} not covered by 200 seeds"
    fewer = {name: items for name, items in sources.axes.items() if name != "persona"}
    assert [{k: v for k, v in p.items() if k != "persona"} for p in picks] == \
           [pick_axes(fewer, seed) for seed in range(200)]


def test_two_axes_of_ten_items_are_covered_by_200_seeds():
    axes = {"colour": tuple(f"c{i}" for i in range(10)), "animal": tuple(f"a{i}" for i in range(10))}
    for name, items in axes.items():
        assert {pick_axes(axes, seed)[name] for seed in range(200)} == set(items)


def test_axis_items_appear_in_the_prompt():
    sources = load_sources()
    prompt = request_body(sources, Settings(), 11)["messages"][0]["content"]
    for name, item in pick_axes(sources.axes, 11).items():
        assert f"- {name}: {item}" in prompt


def test_custom_identity_and_context_change_every_prompt(tmp_path):
    example = ROOT / "prompts" / "examples"
    default = load_sources()
    custom = load_sources(identity=example / "lumen_identity.md", context=example / "lumen_context.md")
    for seed in range(5):
        prompt = request_body(custom, Settings(), seed)["messages"][0]["content"]
        assert "Name: Lumen." in prompt and "Sprout" not in prompt
        assert "offline assistant for libraries" in prompt
        assert request_body(default, Settings(), seed) != request_body(custom, Settings(), seed)
    assert "Background document" not in request_body(default, Settings(), 0)["messages"][0]["content"]


def test_empty_axis_file_is_a_clear_error(tmp_path):
    for name in ("identity.md", "instructions.md", "first_messages.txt", "schema.json"):
        (tmp_path / name).write_bytes((ROOT / "prompts" / name).read_bytes())
    shutil.copytree(ROOT / "prompts" / "leak_vocabulary", tmp_path / "leak_vocabulary")
    (tmp_path / "axes").mkdir()
    (tmp_path / "axes" / "mood.txt").write_text("# only a comment\n")
    with pytest.raises(PipelineError, match="axis file .*mood.txt has no items"):
        load_sources(tmp_path)


def test_editing_one_first_message_changes_only_the_seeds_that_drew_it(tmp_path):
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    pool_file = tmp_path / "prompts" / "first_messages.txt"
    pool_file.write_text(pool_file.read_text().replace("\nwhat's your name\n", "\nwhat is your name, friend\n"))
    old, new = load_sources(), load_sources(tmp_path / "prompts")
    changed = [request_body(old, Settings(), s) != request_body(new, Settings(), s) for s in range(300)]
    drew = ["what's your name" in pick_examples(old.first_messages, s)
            or "what is your name, friend" in pick_examples(new.first_messages, s) for s in range(300)]
    assert changed == drew and 0 < sum(changed) < 30


def test_openrouter_gets_its_own_fields_and_other_servers_a_plain_body():
    sources = load_sources()
    openrouter = request_body(sources, Settings(openrouter=True), 4)
    plain = request_body(sources, Settings(openrouter=False, reasoning="high"), 4)
    assert openrouter["provider"] == {"require_parameters": True}
    assert openrouter["reasoning"] == {"effort": "none"}  # REASONING=off by default
    assert set(plain) == {"model", "temperature", "max_tokens", "messages", "response_format"}
    assert plain["response_format"] == openrouter["response_format"]
    assert plain["response_format"]["json_schema"]["strict"] is True
    assert {k: v for k, v in openrouter.items() if k not in ("provider", "reasoning")} == plain


@pytest.mark.parametrize("reasoning, field", [("off", {"effort": "none"}), ("low", {"effort": "low"}),
                                              ("high", {"effort": "high"}), ("2000", {"max_tokens": 2000}),
                                              ("default", None)])
def test_reasoning_setting_becomes_openrouters_field(reasoning, field):
    body = request_body(load_sources(), Settings(reasoning=reasoning), 0)
    assert body.get("reasoning") == field
    assert ("reasoning" in body) == (field is not None)


@pytest.mark.parametrize("base_url, mode, expected", [
    ("https://openrouter.ai/api/v1", "auto", True), ("https://eu.openrouter.ai/api/v1", "auto", True),
    ("http://127.0.0.1:8000/v1", "auto", False), ("https://api.openai.com/v1", "auto", False),
    ("https://notopenrouter.ai.example.com/v1", "auto", False),
    ("https://gateway.example.com/openrouter/v1", "1", True), ("https://openrouter.ai/api/v1", "0", False)])
def test_openrouter_is_decided_by_the_host_unless_overridden(base_url, mode, expected):
    from stages.transport.server import is_openrouter
    assert is_openrouter(base_url, mode) is expected


def test_the_shared_part_of_the_prompt_comes_first():
    """Prefix caching: two seeds' prompts agree on everything before the per-seed axes and examples."""
    sources = load_sources(context=ROOT / "prompts" / "examples" / "lumen_context.md")
    prompts = [request_body(sources, Settings(), seed)["messages"][0]["content"] for seed in (1, 2)]
    varying = [prompt.index(f"- {next(iter(pick_axes(sources.axes, seed)))}:") for prompt, seed in zip(prompts, (1, 2))]
    assert varying[0] == varying[1] and prompts[0][:varying[0]] == prompts[1][:varying[1]]
    shared = prompts[0][:varying[0]]
    assert sources.identity in shared and "offline assistant for libraries" in shared and "JSON object" in shared
    for example in pick_examples(sources.first_messages, 1):
        assert f"- {example}" in prompts[0][varying[0]:]


def test_models_mix_draws_each_seeds_model_and_renders_it(tmp_path):
    from stages.render import pick_model
    settings = Settings(models=(("a/one", 1.0), ("b/two:free", 1.0), ("c/three", 1.0)))
    picks = [pick_model(settings, seed) for seed in range(300)]
    assert {name: picks.count(name) for name in set(picks)}.keys() == {"a/one", "b/two:free", "c/three"}
    assert all(70 <= picks.count(name) <= 130 for name in set(picks))  # about a third each
    render_all(load_sources(), settings, 30, tmp_path)
    assert [json.loads((tmp_path / f"{s}.json").read_text())["model"] for s in range(30)] == picks[:30]
    assert pick_model(Settings(model="x/only"), 5) == "x/only"
