"""The leak check's vocabulary, read from prompts/leak_vocabulary/: the makers with their models,
aliases, misspellings, founders, places and products (makers.yaml), and per language the words of
claiming, origin, likeness, negation and reporting (languages.yaml). Data only: no patterns here.
"""
import functools
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import PipelineError
from ..storage.texts import PROMPTS_DIR, read_text

FOLDER = "leak_vocabulary"
MAKER_KEYS = ("models", "aliases", "misspellings", "founders", "places", "products", "native")


@dataclass(frozen=True)
class LanguageWords:
    """The words of one language (see languages.yaml for what each list holds)."""
    code: str
    i_am: tuple[str, ...] = ()
    filler: tuple[str, ...] = ()
    name_after: tuple[str, ...] = ()
    self: tuple[str, ...] = ()
    origin: tuple[str, ...] = ()
    negation: tuple[str, ...] = ()
    reporting: tuple[str, ...] = ()
    likeness: tuple[str, ...] = ()
    different: tuple[str, ...] = ()
    yes: tuple[str, ...] = ()
    you: tuple[str, ...] = ()
    really: tuple[str, ...] = ()
    this_assistant: tuple[str, ...] = ()
    we: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    unrelated: tuple[str, ...] = ()
    not_being: tuple[str, ...] = ()
    not_negation: tuple[str, ...] = ()
    as_a: tuple[str, ...] = ()
    self_noun: tuple[str, ...] = ()
    but: tuple[str, ...] = ()
    is_: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    models: tuple[str, ...]     # never claim to be one of these (misspellings and native spellings too)
    makers: tuple[str, ...]     # never claim to be made by one of these
    indirect: tuple[str, ...]   # founders, places and products: a maker named without its name
    languages: tuple[LanguageWords, ...]

    def language(self, code: str) -> LanguageWords | None:
        return next((words for words in self.languages if words.code == code), None)


@functools.lru_cache(maxsize=8)
def parse_yaml(text: str, path: Path) -> dict:
    import yaml
    try:
        data = yaml.load(text, Loader=yaml.BaseLoader)  # every word as text: `no` is no boolean
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)}); fix the file") from None
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: expected a mapping of names to lists; restore it from git")
    return data


def names(path: Path, owner: str, key: str, value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list) or not all(isinstance(item, (str, int, float)) for item in value):
        raise PipelineError(f"{path}: `{key}` of {owner} must be a list of names, e.g. {key}: [A, B]")
    return tuple(str(item).strip() for item in value if str(item).strip())


def read_makers(data: dict, path: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(models, makers, indirect) of makers.yaml, each without repeats."""
    models, makers, indirect = [], [], []
    for maker, entry in data.items():
        entry = entry or {}
        unknown = set(entry) - set(MAKER_KEYS) if isinstance(entry, dict) else {"(not a mapping)"}
        if unknown:
            raise PipelineError(f"{path}: unknown key {sorted(unknown)[0]!r} under {maker}; use {', '.join(MAKER_KEYS)}")
        lists = {key: names(path, str(maker), key, entry.get(key)) for key in MAKER_KEYS}
        makers += [str(maker), *lists["aliases"], *lists["misspellings"], *lists["native"]]
        models += [*lists["models"], *lists["misspellings"], *lists["native"]]
        indirect += [*lists["founders"], *lists["places"], *lists["products"]]
    return tuple(dict.fromkeys(models)), tuple(dict.fromkeys(makers)), tuple(dict.fromkeys(indirect))


def read_languages(data: dict, path: Path) -> tuple[LanguageWords, ...]:
    known = [f.name.rstrip("_") for f in fields(LanguageWords) if f.name != "code"]
    languages = []
    for code, entry in data.items():
        unknown = set(entry or {}) - set(known)
        if unknown:
            raise PipelineError(f"{path}: unknown key {sorted(unknown)[0]!r} under {code}; use {', '.join(known)}")
        lists = {key + ("_" if key == "is" else ""): tuple(w.lower() for w in names(path, str(code), key, (entry or {}).get(key)))
                 for key in known}
        languages.append(LanguageWords(str(code), **lists))
    return tuple(languages)


def load_vocabulary(folder: Path = PROMPTS_DIR) -> Vocabulary:
    """The vocabulary as the files are now (read each time; parsed once per content)."""
    base = folder / FOLDER
    return parse_vocabulary(read_text(base / "makers.yaml"), read_text(base / "languages.yaml"), base)


@functools.lru_cache(maxsize=8)
def parse_vocabulary(makers: str, languages: str, base: Path) -> Vocabulary:
    models, makers_, indirect = read_makers(parse_yaml(makers, base / "makers.yaml"), base / "makers.yaml")
    return Vocabulary(models, makers_, indirect, read_languages(parse_yaml(languages, base / "languages.yaml"),
                                                                base / "languages.yaml"))
