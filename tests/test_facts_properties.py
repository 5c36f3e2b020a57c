"""The facts block over generated blocks (hypothesis): a block written in any of the list styles,
with names quoted where YAML needs it, is read exactly as written; any text at all between the
`---` lines is either read or refused with one line naming the file, never a traceback."""
import json
from pathlib import Path

from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.errors import PipelineError
from stages.judging.identity import parse_identity

PROMPTS = ROOT / "prompts"
PATH = Path("generated.md")
# Names as people write them: letters of several scripts, digits, spaces and punctuation inside.
NAME = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs", "P", "S"), exclude_characters="\u2028\u2029"),
               min_size=1, max_size=20).map(str.strip).filter(bool)


def quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def render(key: str, names: list[str], style: str) -> str:
    if style == "flow":
        return f"{key}: [{', '.join(map(quoted, names))}]"
    if style == "block":
        return f"{key}:\n" + "".join(f"  - {quoted(name)}\n" for name in names).rstrip("\n")
    return "\n".join(f"{key}: {quoted(name)}" for name in names)  # one quoted name per line, the key repeated


@settings(max_examples=80, deadline=None)
@given(name=NAME, also=st.lists(NAME, max_size=4, unique=True), never=st.lists(NAME, max_size=4, unique=True),
       styles=st.lists(st.sampled_from(["flow", "block", "lines"]), min_size=2, max_size=2))
def test_a_block_in_any_list_style_is_read_as_written(name, also, never, styles):
    lines = [f"name: {quoted(name)}"] + ([render("also_called", also, styles[0])] if also else []) \
        + ([render("never_claim", never, styles[1])] if never else [])
    facts = parse_identity("---\n" + "\n".join(lines) + "\n---\nProse.\n", PATH, PROMPTS).facts
    assert facts.name == name and facts.also_called == tuple(dict.fromkeys(also))
    assert set(never) <= set(facts.models) and set(never) <= set(facts.makers)


@settings(max_examples=150, deadline=None)
@given(block=st.text(st.characters(codec="utf-8", exclude_characters="\r\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"),
                     max_size=120))
def test_any_block_is_read_or_refused_with_one_line(block):
    text = "---\nname: Tester\n" + block.replace("---", "- -") + "\n---\nProse.\n"
    try:
        facts = parse_identity(text, PATH, PROMPTS).facts
    except PipelineError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(f"{PATH} line ")
    else:
        assert facts.name and all(isinstance(n, str) and n for n in facts.also_called + facts.models)
