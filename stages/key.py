"""Find the API key: $OPENROUTER_API_KEY, else openroutertoken.txt. The key is never printed or stored."""
import os
from pathlib import Path

from .errors import PipelineError

KEY_VARIABLE = "OPENROUTER_API_KEY"
KEY_FILE = Path("openroutertoken.txt")


def load_key(key_file: Path | None = None) -> str:
    key_file = key_file or KEY_FILE
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key and key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
    if not key:
        raise PipelineError(
            f"no API key: set {KEY_VARIABLE} or put the key in {key_file} (or run `make demo`, which needs none)")
    if any(ch.isspace() for ch in key) or not key.isascii():
        raise PipelineError(f"the API key in {KEY_VARIABLE} or {key_file} has spaces or non-ASCII characters: paste it again")
    return key
