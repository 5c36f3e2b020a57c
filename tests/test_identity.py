"""The facts block of an identity file: parsing, defaults, add and remove names, one-line errors."""
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run

from stages.render import Settings, load_sources, request_body
from stages.judging.rules import rules_for
from stages.judging.rules import CheckChoice
from stages.errors import PipelineError
from stages.judging.identity import load_identity, parse_identity

PROMPTS = ROOT / "prompts"
PROSE = "Name: Tester.\nWhat it is: a test model."


def identity(block: str, path: Path = Path("my_identity.md")):
    return parse_identity(f"---\n{block}\n---\n{PROSE}\n", path, PROMPTS)


def test_the_shipped_identities_state_their_names_and_keep_the_default_lists():
    sprout = load_identity(PROMPTS / "identity.md", PROMPTS).facts
    lumen = load_identity(PROMPTS / "examples" / "lumen_identity.md", PROMPTS).facts
    assert (sprout.name, lumen.name) == ("Sprout", "Lumen")
    for name in ("ChatGPT", "GPT-4o", "Gemini", "Claude", "Llama", "Mistral", "DeepSeek", "Qwen", "Grok", "Phi"):
        assert name in sprout.models
    for name in ("OpenAI", "Google", "DeepMind", "Anthropic", "Meta", "Alibaba", "xAI", "Microsoft", "Cohere"):
        assert name in sprout.makers


def test_the_block_is_stripped_and_the_prose_kept():
    made = identity("name: Tester\nalso_called: tester-bot, Testy")
    assert made.prose == PROSE
    assert made.facts.name == "Tester" and made.facts.own_names == ("Tester", "tester-bot", "Testy")


def test_a_file_without_a_block_has_no_name_and_the_default_lists():
    made = parse_identity(PROSE + "\n", Path("x.md"), PROMPTS)
    assert made.prose == PROSE and made.facts.name == "" and "ChatGPT" in made.facts.models


def test_allow_removes_names_and_never_claim_adds_them_to_both_lists():
    facts = identity("name: Tester\nallow: Llama, meta\nnever_claim: Orion, Big Co").facts
    assert "Llama" not in facts.models and "LLaMA" not in facts.models and "Meta" not in facts.makers
    assert "Meta AI" in facts.models  # only the names written are allowed
    assert {"Orion", "Big Co"} <= set(facts.models) and {"Orion", "Big Co"} <= set(facts.makers)


@pytest.mark.parametrize("block, message", [
    ("name: Tester\nmodel: X", "line 3: unknown key 'model'; use one of name, also_called, never_claim, allow, maker, language"),
    ("name Tester", "line 2: 'name Tester' is not `key: value`; write e.g. `name: ...`"),
    ("name:", "line 2: an empty name after `name:`; write names separated by single commas"),
    ("name: Tester\nallow: Llama,, Meta", "line 3: an empty name after `allow:`; write names separated by single commas"),
    ("also_called: T", "line 2: the facts block has no name; add a line like `name: Sprout`"),
    ("name: A, B", "line 2: give one name; put other spellings in `also_called:`"),
])
def test_malformed_blocks_are_one_line_errors_naming_file_and_line(block, message):
    with pytest.raises(PipelineError) as err:
        identity(block)
    assert str(err.value) == f"my_identity.md {message}"


@pytest.mark.parametrize("block", [
    "name: Inkbot\nnever_claim: [Scribe, \"Quill, Inc.\"]",
    "name: Inkbot\nnever_claim:\n  - Scribe\n  - 'Quill, Inc.'",
    "name: \"Inkbot\"\nnever_claim: Scribe\nnever_claim: [\"Quill, Inc.\"]",
])
def test_lists_in_either_yaml_style_and_quoted_names(block):
    facts = identity(block).facts
    assert facts.name == "Inkbot"
    assert {"Scribe", "Quill, Inc."} <= set(facts.models) and "[Scribe" not in facts.models


def test_maker_and_language_are_read():
    facts = identity("name: Wren\nmaker: Tallgrass Labs\nlanguage: ES").facts
    assert (facts.maker, facts.language) == ("Tallgrass Labs", "es")
    with pytest.raises(PipelineError, match=r"line 3: unknown language 'xx'; use one of en, es"):
        identity("name: Wren\nlanguage: xx")


def test_a_block_without_its_opening_fence_is_an_error():
    with pytest.raises(PipelineError) as err:
        parse_identity("name: Inkbot\nnever_claim: Scribe\n---\nName: Inkbot.\n", Path("x.md"), PROMPTS)
    assert str(err.value) == ("x.md line 3: this --- closes a facts block that was never opened; put a --- line "
                              "on line 1, above the facts")
    assert parse_identity("Name: Inkbot.\nWhat it is: a bot.\n", Path("x.md"), PROMPTS).facts.name == ""


def test_an_unclosed_block_is_an_error():
    with pytest.raises(PipelineError, match=r"x.md line 1: the facts block opened with --- is never closed"):
        parse_identity("---\nname: A\nName: A.\n", Path("x.md"), PROMPTS)


def test_a_bad_facts_block_stops_the_command_with_one_line(rendered, tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: Tester\ncolour: green\n---\nName: Tester.\n")
    result = run("validate", "--n", 1, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--identity", bad)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {bad} line 3: unknown key 'colour'; "
                                     "use one of name, also_called, never_claim, allow, maker, language")


def test_editing_facts_never_changes_a_request_body_but_changes_the_rules(tmp_path):
    edited = tmp_path / "identity.md"
    text = (PROMPTS / "identity.md").read_text()
    edited.write_text(text.replace("name: Sprout\n", "name: Sprout\nallow: Llama, Meta\nnever_claim: Orion\n"))
    old, new = load_sources(), load_sources(identity=edited)
    assert [request_body(old, Settings(), s) for s in range(20)] == [request_body(new, Settings(), s) for s in range(20)]
    assert "name: Sprout" not in old.identity and old.identity.startswith("Name: Sprout.")
    assert rules_for(CheckChoice()).fingerprint != rules_for(CheckChoice(identity=edited)).fingerprint


def test_editing_the_default_list_changes_the_rules_too(tmp_path, monkeypatch):
    shutil.copytree(PROMPTS, tmp_path / "prompts")
    before = rules_for(CheckChoice()).fingerprint
    monkeypatch.chdir(tmp_path)
    listed = tmp_path / "prompts" / "leak_vocabulary" / "makers.yaml"
    listed.write_text(listed.read_text() + "Orion Labs:\n  models: [Orion]\n")
    assert rules_for(CheckChoice()).fingerprint != before


@pytest.mark.parametrize("text, line", [("name: A\nalso_called: A chat\n---\nName: A.\n", 3),
                                        ("# my model\nname: A\n\n---\nName: A.\n", 4)])
def test_a_facts_block_without_its_opening_line_stops_with_one_line(rendered, tmp_path, text, line):
    """Read as prose, the facts would check nothing: no name, no names to never claim."""
    bad = tmp_path / "bad.md"
    bad.write_text(text)
    result = run("validate", "--n", 1, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--identity", bad)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {bad} line {line}: this --- closes a facts block that was never "
                                     "opened; put a --- line on line 1, above the facts")


@pytest.mark.parametrize("text", ["Name: A.\n---\nMore prose.\n", "What it is: a model.\n---\nname: A\n",
                                  "Name: A.\nIt is small.\n"])
def test_prose_with_a_rule_line_is_still_prose(text):
    """A --- under prose lines that are not facts keys (a Markdown rule) is no facts block."""
    assert parse_identity(text, Path("x.md"), PROMPTS).facts.name == ""
