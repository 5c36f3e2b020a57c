"""Where a run's files are: everything the commands read or write in DATA_DIR, named once."""
from pathlib import Path


def prompt_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "prompts"


def dataset_path(data_dir: Path) -> Path:
    return Path(data_dir) / "identity_conversations.jsonl"


def split_path(data_dir: Path) -> Path:
    return Path(data_dir) / "identity_conversations.val.jsonl"


def duplicates_path(data_dir: Path) -> Path:
    return Path(data_dir) / "duplicates.jsonl"


def rejected_path(data_dir: Path) -> Path:
    return Path(data_dir) / "rejected.jsonl"
