"""Dataset formats, in one place: how a conversation is written as a line, read back and recognised.

`make dataset` writes the WRITABLE ones (FORMAT=); `make stats` and `make audit` read every one,
with `read_conversations`, which also takes a whole-file JSON array (LLaMA-Factory's identity.json).
A format added to FORMATS is written, read and detected everywhere; tests/test_dataformats.py
round-trips each one.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import PipelineError

Messages = list[dict]
SPEAKERS = {"user": "human", "assistant": "gpt", "system": "system"}
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def is_messages(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value)


def without_system(messages: object) -> object:
    """A leading system message is a trainer's setting, not a turn: the checks read the turns after it."""
    if is_messages(messages) and messages[0]["role"] == "system":
        return messages[1:]
    return messages


def read_sharegpt(row: object) -> object:
    turns = row.get("conversations") if isinstance(row, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None
    return without_system([{"role": ROLES.get(t.get("from"), t.get("from")), "content": t.get("value")}
                           for t in turns])


def read_alpaca(row: object) -> object:
    """instruction (+ input) -> output, after any `history` pairs, as LLaMA-Factory and Alpaca write them."""
    if not isinstance(row, dict) or not isinstance(row.get("instruction"), str) or not isinstance(row.get("output"), str):
        return None
    messages = []
    for pair in row.get("history") or []:
        if not (isinstance(pair, list) and len(pair) == 2):
            return None
        messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    prompt = row["instruction"] + (f"\n{row['input']}" if isinstance(row.get("input"), str) and row["input"] else "")
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]


CHATML_TURN = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.S)


def read_chatml(row: object) -> object:
    text = row.get("text") if isinstance(row, dict) else None
    if not isinstance(text, str) or "<|im_start|>" not in text:
        return None
    return without_system([{"role": role, "content": content} for role, content in CHATML_TURN.findall(text)])


def write_chatml(messages: Messages) -> dict:
    return {"text": "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)}


@dataclass(frozen=True)
class DataFormat:
    name: str
    detect: Callable[[object], bool]          # does a line of this value look like this format?
    read: Callable[[object], object]          # the line's messages (checked by the caller)
    write: Callable[[Messages], object] | None = None   # None: read only


FORMATS = {f.name: f for f in [
    DataFormat("array", lambda row: isinstance(row, list), without_system, lambda messages: messages),
    DataFormat("messages", lambda row: isinstance(row, dict) and "messages" in row,
               lambda row: without_system(row.get("messages")), lambda messages: {"messages": messages}),
    DataFormat("sharegpt", lambda row: isinstance(row, dict) and "conversations" in row, read_sharegpt,
               lambda messages: {"conversations": [{"from": SPEAKERS[m["role"]], "value": m["content"]}
                                                   for m in messages]}),
    DataFormat("alpaca", lambda row: isinstance(row, dict) and "instruction" in row, read_alpaca),
    DataFormat("chatml", lambda row: isinstance(row, dict) and "text" in row, read_chatml, write_chatml),
]}
WRITABLE = sorted(name for name, f in FORMATS.items() if f.write)
AUTO = "auto"


def detect(row: object) -> str | None:
    return next((name for name, f in FORMATS.items() if f.detect(row)), None)


@dataclass(frozen=True)
class Row:
    """One conversation of a file: where it is, the shape seen, its messages or what is wrong."""
    line: int                  # the line number (of a JSONL file) or the element number (of a JSON array), from 1
    shape: str | None
    messages: Messages | None
    problem: str = ""


def row_of(value: object, line: int, fmt: str = AUTO) -> Row:
    shape = detect(value) if fmt == AUTO else fmt
    if shape is None:
        keys = ", ".join(sorted(value)[:5]) if isinstance(value, dict) else type(value).__name__
        return Row(line, None, None, f"not a conversation in any known format (saw {keys}); known: "
                   + ", ".join(FORMATS))
    messages = FORMATS[shape].read(value)
    if is_messages(messages):
        return Row(line, shape, messages)
    return Row(line, shape, None, f"not a {shape} conversation (a list of messages, each with string role and content)")


def decoded(data: bytes, path: Path, line: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} line {line}: not UTF-8 text (byte {data[err.start]:#04x}); save the file as UTF-8")


def first_char(path: Path) -> bytes:
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(4096), b""):
            if block.strip():
                return block.lstrip()[:1]
    return b""


def whole_array(path: Path) -> list | None:
    """The elements of a file that is one JSON array of conversations, None when it is JSONL."""
    if first_char(path) != b"[":
        return None
    with open(path, "rb") as file:
        first = file.readline()
    try:
        json.loads(first)
        return None  # the first line is a whole value: JSON lines (the array format starts with "[")
    except ValueError:
        pass
    data = path.read_bytes()
    try:
        value = json.loads(decoded(data, path, 1))
    except ValueError as err:
        raise PipelineError(f"{path}: neither JSON lines nor one JSON array ({err}); fix the file")
    return value if isinstance(value, list) else None


def read_conversations(path: Path, fmt: str = AUTO) -> Iterator[Row]:
    """Each conversation of a JSONL file (lines split on "\\n" alone: U+2028 inside a string is no
    line break) or of a whole-file JSON array, one at a time. Lines that are not JSON stop with one line."""
    try:
        elements = whole_array(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: no such file; give FILE=path/to/conversations.jsonl") from None
    except OSError as err:
        raise PipelineError(f"{path}: cannot be read ({err.strerror}); give FILE=path/to/conversations.jsonl") from None
    if elements is not None:
        yield from (row_of(value, number, fmt) for number, value in enumerate(elements, 1))
        return
    with open(path, "rb") as file:
        for number, data in enumerate(file, 1):
            text = decoded(data, path, number)
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError as err:
                raise PipelineError(f"{path} line {number}: not JSON ({err.msg} at column {err.colno}); "
                                    "fix or delete the line") from None
            yield row_of(value, number, fmt)
