"""Real conversations served as the fake API's answers: each request gets the next line of a JSONL
file (array, {"messages": [...]} or ShareGPT lines; .gz read as well), so a re-asked seed gets
another one. It measures what the checks make of real model output: the share of seeds re-asked.
"""
import gzip
import itertools
import json
import threading
from pathlib import Path

SPEAKERS = {"human": "user", "gpt": "assistant"}


def line_messages(row: object) -> list | None:
    if isinstance(row, dict) and isinstance(row.get("conversations"), list):
        return [{"role": SPEAKERS.get(t.get("from"), t.get("from")), "content": t.get("value")}
                for t in row["conversations"] if isinstance(t, dict)]
    return row.get("messages") if isinstance(row, dict) else row if isinstance(row, list) else None


def read_conversations(path: Path) -> list[list]:
    """Every line of the file that holds a list of messages, in file order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        rows = [line_messages(json.loads(line)) for line in lines if line.strip()]
    return [row for row in rows if row]


class Replay:
    """Hands out the conversations in order, from any thread, starting again after the last."""

    def __init__(self, conversations: list[list]):
        if not conversations:
            raise ValueError("no conversation to replay")
        self.turn = itertools.cycle(conversations)
        self.served = 0
        self.lock = threading.Lock()

    def next(self) -> list:
        with self.lock:
            self.served += 1
            return next(self.turn)
