"""Find the API key for the server of this run. The key is never printed or stored.

OpenRouter (or OPENROUTER=1): $OPENROUTER_API_KEY, else openroutertoken.txt, else $API_KEY; one is
required. Any other server: $API_KEY, or no key at all (then no Authorization header is sent), so
an OpenRouter key never travels to another server.
"""
import os
from pathlib import Path

from ..errors import PipelineError

KEY_VARIABLE = "OPENROUTER_API_KEY"
GENERAL_KEY_VARIABLE = "API_KEY"
KEY_FILE = Path("openroutertoken.txt")
NO_KEY = ""  # a server that wants none


def read_key(key_file: Path, openrouter: bool) -> str:
    general = os.environ.get(GENERAL_KEY_VARIABLE, "").strip()
    if not openrouter:
        return general
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key and key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
    return key or general


def load_key(key_file: Path | None = None, openrouter: bool = True) -> str:
    """The key to send, or NO_KEY for a server other than OpenRouter when API_KEY is unset."""
    key_file = key_file or KEY_FILE
    key = read_key(key_file, openrouter)
    if not key and openrouter:
        raise PipelineError(
            f"no API key: set {KEY_VARIABLE} or put the key in {key_file} (or {GENERAL_KEY_VARIABLE}; "
            "or run `make demo`, which needs none)")
    if any(ch.isspace() for ch in key) or not key.isascii():
        raise PipelineError(f"the API key in {GENERAL_KEY_VARIABLE}, {KEY_VARIABLE} or {key_file} has spaces or "
                            "non-ASCII characters: paste it again")
    return key
