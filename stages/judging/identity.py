"""An identity file's facts: a block of `key: value, value` lines between `---` lines at its top.

`load_identity` returns the prose (what the prompts paste in; the block is stripped, so editing
facts never changes a request body) and the facts the checks read: the model's own names, and
the other models and makers it must never claim to be or be made by (prompts/other_models.txt,
plus `never_claim:`, minus `allow:`).
"""
from dataclasses import dataclass
from pathlib import Path

from ..errors import PipelineError
from ..storage.texts import PROMPTS_DIR, read_text

FENCE = "---"
FACT_KEYS = ("name", "also_called", "never_claim", "allow")
LIST_KEYS = ("models", "makers")
OTHER_MODELS = "other_models.txt"


@dataclass(frozen=True)
class Facts:
    """What the checks know about the identity; the name is "" when the file states none."""
    name: str = ""
    also_called: tuple[str, ...] = ()
    models: tuple[str, ...] = ()   # never claim to be one of these
    makers: tuple[str, ...] = ()   # never claim to be made by one of these

    @property
    def own_names(self) -> tuple[str, ...]:
        return ((self.name,) if self.name else ()) + self.also_called


@dataclass(frozen=True)
class Identity:
    prose: str
    facts: Facts


@dataclass(frozen=True)
class Line:
    number: int
    key: str
    values: tuple[str, ...]


def bad(path: Path, number: int, problem: str) -> PipelineError:
    return PipelineError(f"{path} line {number}: {problem}")


def parse_line(text: str, number: int, path: Path, keys: tuple[str, ...]) -> Line:
    """`key: a, b` -> Line(key, (a, b)); a missing colon, an unknown key or an empty name is an error."""
    key, colon, rest = text.partition(":")
    key = key.strip().lower()
    if not colon:
        raise bad(path, number, f"{text.strip()!r} is not `key: value`; write e.g. `{keys[0]}: ...`")
    if key not in keys:
        raise bad(path, number, f"unknown key {key!r}; use one of {', '.join(keys)}")
    values = tuple(value.strip() for value in rest.split(","))
    if any(not value for value in values):
        raise bad(path, number, f"an empty name after `{key}:`; write names separated by single commas")
    return Line(number, key, values)


def parse_lines(lines: list[tuple[int, str]], path: Path, keys: tuple[str, ...]) -> list[Line]:
    """Numbered text lines -> Lines; blank lines and `#` comments are skipped."""
    return [parse_line(text, number, path, keys) for number, text in lines
            if text.strip() and not text.lstrip().startswith("#")]


def split_block(text: str, path: Path) -> tuple[list[tuple[int, str]], str]:
    """(numbered lines of the facts block, the prose after it); no block when line 1 is not `---`."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE:
        unopened = unopened_fence(lines)
        if unopened:
            raise bad(path, unopened, "this --- closes a facts block that was never opened; put a --- line "
                                      "on line 1, above the facts")
        return [], text.strip()
    closing = next((i for i in range(1, len(lines)) if lines[i].strip() == FENCE), None)
    if closing is None:
        raise bad(path, 1, "the facts block opened with --- is never closed; add a --- line after the facts")
    block = [(i + 1, lines[i]) for i in range(1, closing)]
    return block, "\n".join(lines[closing + 1:]).strip()


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


def values_of(lines: list[Line], key: str) -> tuple[str, ...]:
    return tuple(value for line in lines if line.key == key for value in line.values)


def read_name(lines: list[Line], path: Path) -> str:
    named = [line for line in lines if line.key == "name"]
    if not named:
        number = lines[0].number if lines else 1
        raise bad(path, number, "the facts block has no name; add a line like `name: Sprout`")
    if len(named) > 1 or len(named[0].values) > 1:
        raise bad(path, named[-1].number, "give one name; put other spellings in `also_called:`")
    return named[0].values[0]


def remove(names: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[str, ...]:
    dropped = {name.casefold() for name in allowed}
    return tuple(name for name in names if name.casefold() not in dropped)


def unique(names) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def read_other_models(folder: Path = PROMPTS_DIR) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(models, makers) from prompts/other_models.txt."""
    path = folder / OTHER_MODELS
    lines = parse_lines(list(enumerate(read_text(path).splitlines(), 1)), path, LIST_KEYS)
    return unique(values_of(lines, "models")), unique(values_of(lines, "makers"))


def parse_identity(text: str, path: Path, folder: Path = PROMPTS_DIR) -> Identity:
    block, prose = split_block(text, path)
    models, makers = read_other_models(folder)
    lines = parse_lines(block, path, FACT_KEYS)
    name = read_name(lines, path) if block else ""
    extra, allowed = values_of(lines, "never_claim"), values_of(lines, "allow")
    facts = Facts(name, unique(values_of(lines, "also_called")),
                  remove(unique(models + extra), allowed), remove(unique(makers + extra), allowed))
    return Identity(prose, facts)


def load_identity(path: Path | None = None, folder: Path = PROMPTS_DIR) -> Identity:
    """The identity at `path` (default prompts/identity.md): its prose and its facts."""
    path = path or folder / "identity.md"
    return parse_identity(read_text(path), path, folder)
