"""An identity file's facts: a YAML block between `---` lines at its top (front matter).

`load_identity` returns the prose (what the prompts paste in; the block is stripped, so editing
facts never changes a request body) and the facts the checks read: the model's own names and
maker, its language, and the other models and makers it must never claim to be or be made by
(prompts/leak_vocabulary/makers.yaml, plus `never_claim:`, minus `allow:`). A list may be written
as `a, b`, `[a, b]` or one `- a` line per name; a quoted name is one name, commas and all.
"""
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import PipelineError
from ..storage.texts import PROMPTS_DIR, read_text
from .vocabulary import LanguageWords, load_vocabulary

FENCE = "---"
FACT_KEYS = ("name", "also_called", "never_claim", "allow", "maker", "language")
ONE_VALUE = ("name", "maker", "language")


@dataclass(frozen=True)
class Facts:
    """What the checks know about the identity; the name is "" when the file states none."""
    name: str = ""
    also_called: tuple[str, ...] = ()
    models: tuple[str, ...] = ()   # never claim to be one of these
    makers: tuple[str, ...] = ()   # never claim to be made by one of these
    maker: str = ""                # who made the identity: denying it is a defect
    language: str = ""             # the language its conversations are written in ("" = guessed per message)
    indirect: tuple[str, ...] = ()  # founders, places and products that point at one of the makers
    words: tuple[LanguageWords, ...] = ()  # the words of claiming, per language

    @property
    def own_names(self) -> tuple[str, ...]:
        return ((self.name,) if self.name else ()) + self.also_called

    def __hash__(self) -> int:
        """Computed once: the checks look their patterns up by the facts for every message."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", cached)
        return cached


@dataclass(frozen=True)
class Identity:
    prose: str
    facts: Facts


def bad(path: Path, number: int, problem: str) -> PipelineError:
    return PipelineError(f"{path} line {number}: {problem}")


def split_block(text: str, path: Path) -> tuple[int, str, str]:
    """(line number where the block starts, the block's text, the prose after it); ("", text) without one."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE:
        unopened = unopened_fence(lines)
        if unopened:
            raise bad(path, unopened, "this --- closes a facts block that was never opened; put a --- line "
                                      "on line 1, above the facts")
        return 0, "", text.strip()
    closing = next((i for i in range(1, len(lines)) if lines[i].strip() == FENCE), None)
    if closing is None:
        raise bad(path, 1, "the facts block opened with --- is never closed; add a --- line after the facts")
    return 2, "\n".join(lines[1:closing]), "\n".join(lines[closing + 1:]).strip()


def unopened_fence(lines: list[str]) -> int | None:
    """The line number of a --- that follows facts lines (`name: ...`) with no --- before them: a
    facts block missing its opening line, which would otherwise be read as prose and check nothing."""
    closing = next((i for i, line in enumerate(lines) if line.strip() == FENCE), None)
    if closing is None:
        return None
    before = [line.strip() for line in lines[:closing] if line.strip() and not line.lstrip().startswith("#")]
    keys = [line.partition(":")[0].strip() for line in before]
    return closing + 1 if before and all(":" in line for line in before) and all(k in FACT_KEYS for k in keys) \
        else None


def compose(block: str, first: int, path: Path):
    """The block's YAML node tree; a YAML error is one line naming the file's line."""
    import yaml
    try:
        return yaml.compose(block, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        number = first + (mark.line if mark else 0)
        problem = " ".join(str(getattr(err, "problem", None) or "not valid YAML").split())
        raise bad(path, number, f"not `key: value` YAML ({problem}); quote a name that holds : # [ ] or {{ }}") from None


def scalar_names(node, key: str, number: int, path: Path) -> list[str]:
    """A plain `a, b` is a list of names (the older form); a quoted scalar is one name."""
    import yaml
    if not isinstance(node, yaml.ScalarNode):
        raise bad(path, number, f"a name under `{key}:` is not text; write names as `{key}: [A, B]`")
    if node.style in ("'", '"'):
        values = [node.value.strip()]
    elif node.tag.endswith(":null") and node.value in ("", "~", "null", "Null", "NULL"):
        values = [""]
    else:
        values = [value.strip() for value in node.value.split(",")]
    if any(not value for value in values):
        raise bad(path, number, f"an empty name after `{key}:`; write names separated by single commas")
    return values


def read_value(node, key: str, number: int, path: Path) -> list[str]:
    import yaml
    if isinstance(node, yaml.SequenceNode):
        found = [name for item in node.value
                 for name in scalar_names(item, key, number + item.start_mark.line - node.start_mark.line, path)]
        if not found:
            raise bad(path, number, f"an empty list after `{key}:`; give at least one name or delete the line")
        return found
    return scalar_names(node, key, number, path)


def parse_block(block: str, first: int, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line number, key, names) for each key of the block, in order; keys may repeat."""
    import yaml
    root = compose(block, first, path)
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        text = block.strip().splitlines()[0].strip() if block.strip() else ""
        raise bad(path, first + root.start_mark.line, f"{text!r} is not `key: value`; write e.g. `name: ...`")
    found = []
    for key_node, value in root.value:
        number = first + key_node.start_mark.line
        key = str(key_node.value).strip().lower()
        if key not in FACT_KEYS:
            raise bad(path, number, f"unknown key {key!r}; use one of {', '.join(FACT_KEYS)}")
        found.append((number, key, read_value(value, key, number, path)))
    return found


def values_of(found: list[tuple[int, str, list[str]]], key: str) -> tuple[str, ...]:
    return tuple(value for _, line_key, values in found if line_key == key for value in values)


def read_one(found: list[tuple[int, str, list[str]]], key: str, path: Path, hint: str) -> str:
    named = [(number, values) for number, line_key, values in found if line_key == key]
    if len(named) > 1 or (named and len(named[0][1]) > 1):
        raise bad(path, named[-1][0], hint)
    return named[0][1][0] if named else ""


def read_name(found: list[tuple[int, str, list[str]]], path: Path, first: int) -> str:
    name = read_one(found, "name", path, "give one name; put other spellings in `also_called:`")
    if not name:
        number = found[0][0] if found else first
        raise bad(path, number, "the facts block has no name; add a line like `name: Sprout`")
    return name


def remove(names: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[str, ...]:
    dropped = {name.casefold() for name in allowed}
    return tuple(name for name in names if name.casefold() not in dropped)


def unique(names) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def parse_identity(text: str, path: Path, folder: Path = PROMPTS_DIR) -> Identity:
    first, block, prose = split_block(text, path)
    vocabulary = load_vocabulary(folder)
    found = parse_block(block, first, path) if first else []
    name = read_name(found, path, first) if first else ""
    maker = read_one(found, "maker", path, "give one maker")
    language = read_one(found, "language", path, "give one language, e.g. `language: es`").lower()
    known = [words.code for words in vocabulary.languages]
    if language and language not in known:
        number = next(n for n, key, _ in found if key == "language")
        raise bad(path, number, f"unknown language {language!r}; use one of {', '.join(known)}")
    extra, allowed = values_of(found, "never_claim"), values_of(found, "allow")
    own = {name.casefold(), maker.casefold()} - {""}
    facts = Facts(name, unique(values_of(found, "also_called")),
                  remove(unique(vocabulary.models + extra), allowed),
                  remove(unique(vocabulary.makers + extra), allowed), maker, language,
                  tuple(term for term in vocabulary.indirect if term.casefold() not in own), vocabulary.languages)
    return Identity(prose, facts)


def load_identity(path: Path | None = None, folder: Path = PROMPTS_DIR) -> Identity:
    """The identity at `path` (default prompts/identity.md): its prose and its facts."""
    path = path or folder / "identity.md"
    return parse_identity(read_text(path), path, folder)
