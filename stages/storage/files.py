"""Write outputs atomically: a temp file beside the target, then a rename, so a crash never leaves half a file."""
import os
from pathlib import Path
from typing import Iterable


def temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, content: str | bytes) -> None:
    tmp = temp_beside(path)
    tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    tmp.replace(path)


def write_jsonl_atomic(path: Path, rows: Iterable[object]) -> int:
    """Write one compact JSON value per line; return the number of lines."""
    import jsonlines  # here, not at import: commands that only read start faster
    tmp = temp_beside(path)
    count = 0
    with jsonlines.open(tmp, mode="w", compact=True) as writer:
        for row in rows:
            writer.write(row)
            count += 1
    tmp.replace(path)
    return count


class JsonlWriter:
    """Writes compact JSON lines one at a time to a temp file beside `path`, renamed over it only
    when the block ends without an error: a failed build leaves the old file as it was."""

    def __init__(self, path: Path):
        self.path, self.tmp, self.count = path, temp_beside(path), 0

    def __enter__(self) -> "JsonlWriter":
        import jsonlines  # here, not at import: commands that only read start faster
        self.writer = jsonlines.open(self.tmp, mode="w", compact=True)
        return self

    def write(self, row: object) -> None:
        self.writer.write(row)
        self.count += 1

    def __exit__(self, kind, value, traceback) -> None:
        self.writer.close()
        if kind is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
