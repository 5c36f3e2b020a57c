"""The run record: the settings that decide a run's requests and verdicts, kept in DATA_DIR/run.json.

The commands that start or change a run (prompts, fetch, dataset) write it; every later command in
that DATA_DIR reads it, so `make stats` after `make dataset IDENTITY=quill.md` describes the Quill
run without being told. Keys are the make variables' names, so the file also works as CONFIG=.
"""
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import PipelineError
from .files import write_atomic

RECORD_FILE = "run.json"
DEFAULT_MODEL = "google/gemini-2.5-flash"
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
# Answers asked per seed. Only seeds whose answers keep failing use the later attempts; with a
# quarter of answers invalid, 8 leaves about 1 seed in 65,000 without a conversation, 3 would leave 1 in 64.
DEFAULT_ATTEMPTS = 8
DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True)
class RunSettings:
    """Every setting of a run, by its make variable's name in lower case. A field added here is
    recorded, read back and part of every verdict key without further work (see verdicts.py)."""
    n: int = 1000
    seeds: str | None = None            # "a:b" or None for 0..N-1
    base_url: str = DEFAULT_BASE_URL
    openrouter: str = "auto"
    model: str = DEFAULT_MODEL
    models: tuple[tuple[str, float], ...] = ()
    reasoning: str = "off"
    response_format: str = "json_schema"
    temperature: float = 1.0
    max_tokens: int = 4096
    identity: str | None = None         # a path; None means prompts/identity.md
    context: str | None = None
    ascii: bool = False
    max_attempts: int = DEFAULT_ATTEMPTS
    judge: bool = False
    judge_model: str = ""
    format: str = "array"
    dedup: bool = True
    dedup_threshold: float = DEFAULT_THRESHOLD
    split: float = 0.0
    cache_dir: str = "cache"            # where the run's answers are (a demo keeps its own)

    @property
    def seed_range(self) -> range:
        if self.seeds is None:
            return range(self.n)
        start, stop = self.seeds.split(":")
        return range(int(start), int(stop))

    @property
    def identity_path(self) -> Path | None:
        return Path(self.identity) if self.identity else None

    @property
    def context_path(self) -> Path | None:
        return Path(self.context) if self.context else None


SETTING_NAMES = tuple(field.name for field in fields(RunSettings))
FILE_SETTINGS = ("identity", "context")  # their contents are digested too: an edit is a change of the run


def variable(name: str) -> str:
    """The make variable (and environment variable) a setting is given by."""
    return name.upper()


def record_path(data_dir: Path) -> Path:
    return Path(data_dir) / RECORD_FILE


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def plain(value: object) -> object:
    """A setting's value as JSON holds it (tuples become lists)."""
    return [plain(item) for item in value] if isinstance(value, (tuple, list)) else value


def read_record(data_dir: Path) -> dict:
    """The recorded settings by make variable name, {} when there is no record; a broken one stops."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path} cannot be read ({err}): fix it or delete it to start the run record again")
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict):
        raise PipelineError(f"{path} holds no settings: delete it to start the run record again")
    return settings


def recorded_digests(data_dir: Path) -> dict:
    try:
        data = json.loads(record_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    digests = data.get("digests") if isinstance(data, dict) else None
    return digests if isinstance(digests, dict) else {}


def write_record(data_dir: Path, settings: RunSettings) -> None:
    values = {variable(name): plain(value) for name, value in asdict(settings).items()}
    digests = {variable(name): file_digest(getattr(settings, name)) for name in FILE_SETTINGS}
    text = json.dumps({"settings": values, "digests": digests}, indent=2, ensure_ascii=False) + "\n"
    path = record_path(data_dir)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    write_atomic(path, text)


def changed_files(data_dir: Path, settings: RunSettings) -> list[str]:
    """The recorded IDENTITY or CONTEXT files, used again, whose contents differ from those the
    record was written with."""
    digests, recorded = recorded_digests(data_dir), read_record(data_dir)
    return [variable(name) for name in FILE_SETTINGS
            if recorded.get(variable(name)) == getattr(settings, name) and variable(name) in digests
            and digests[variable(name)] != file_digest(getattr(settings, name))]
