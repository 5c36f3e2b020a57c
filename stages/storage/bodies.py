"""The rendered request files, DATA_DIR/prompts/<seed>.json: where each is, and reading one back."""
import json
import os
from pathlib import Path

from ..errors import PipelineError


def body_path(data_dir: Path, seed: int) -> str:
    # os.path, not pathlib: this runs once per seed on every rebuild, and pathlib costs more than the read
    return os.path.join(data_dir, "prompts", f"{seed}.json")


def read_body_bytes(data_dir: Path, seed: int) -> bytes:
    """The rendered request file of a seed, as it is on disk."""
    try:
        with open(body_path(data_dir, seed), "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise PipelineError(f"no rendered prompt for seed {seed} ({body_path(data_dir, seed)}): "
                            "run `make prompts` with the same N") from None


def parse_body(data: bytes, data_dir: Path, seed: int) -> dict:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PipelineError(f"{body_path(data_dir, seed)} is not valid JSON: run `make prompts` to render it again") from None


def load_body(data_dir: Path, seed: int) -> dict:
    return parse_body(read_body_bytes(data_dir, seed), data_dir, seed)
