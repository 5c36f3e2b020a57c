"""The project's text files (prompts, lists, schemas), read with one clear error when one is missing or broken."""
import json
from pathlib import Path

from ..errors import PipelineError

PROMPTS_DIR = Path("prompts")   # the editable texts every request is made from


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise PipelineError(f"cannot read {path}: {err.strerror}; restore it from git or fix the path") from None


def read_lines(path: Path) -> tuple[str, ...]:
    lines = (line.strip() for line in read_text(path).splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def read_schema(path: Path) -> dict:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise PipelineError(f"{path} is not valid JSON (line {err.lineno}): fix the schema file") from None
