"""Notes that let a rebuild skip judging what was judged before: DATA_DIR/.notes.sqlite.

One note per seed, under a digest of the verdict key (verdictkey.py: every setting that can change
a verdict, the sources and the code) and the bytes of the seed's request file. A note holds the
cache rows its review read, the cache entry of the conversation it chose, its reasons and the
conversation's dedup sketch; never the messages, which stay in the cache. It is used only while the
cache holds exactly those rows, so a note is either right or not used. Notes are derived data:
`make clean` removes them with DATA_DIR, and they never go into the cache.
"""
import hashlib
import json
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from ..storage.bodies import parse_body, read_body_bytes
from ..storage.cache import AnswerRows, KeyMaker
from .checks import Verdict
from .dedup import Sketch, sketch_all
from .review import Rules, SeedReview, judge_entry, walk_seed

NOTES_FILE = ".notes.sqlite"
WRITE_BATCH = 2000  # notes held before they are written, so memory does not follow N


@dataclass(frozen=True)
class Outcome:
    """What the review of one seed found, as ReviewTally reads it: the conversation's cache entry,
    not its messages (`messages` is set only when the review ran now)."""
    seed: int
    entry: str | None               # cache key of the answer holding the conversation
    reasons: list[str]
    sketch: Sketch | None = None
    messages: list | None = None
    note: str | None = None         # the key of its note, where the sketch can be read again

    @property
    def conversation(self) -> list | None:
        """What ReviewTally asks of a review: anything but None when the seed has a conversation."""
        return self.messages if self.messages is not None else ([] if self.entry else None)


class NoteStore:
    """Notes by key; those this build reads or writes are kept, the rest dropped when it ends."""

    def __init__(self, data_dir: Path):
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(Path(data_dir) / NOTES_FILE)
        self.db.execute("CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, value TEXT, generation INTEGER)")
        self.generation = self.db.execute("SELECT coalesce(max(generation), 0) + 1 FROM notes").fetchone()[0]
        self.pending: list[tuple[str, str, int]] = []

    def get(self, key: str) -> dict | None:
        text = note_text(self.db, key)
        if text is None:
            return None
        self.keep(key, text)
        return json.loads(text)

    def put(self, key: str, value: dict) -> None:
        self.keep(key, json.dumps(value, separators=(",", ":")))

    def keep(self, key: str, text: str) -> None:
        self.pending.append((key, text, self.generation))
        if len(self.pending) >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO notes VALUES (?, ?, ?)", self.pending)
        self.pending = []

    def signatures(self, keys: list[str]):
        """(key, the sketch's signature bytes) of these notes that hold a sketch."""
        self.flush()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self.db.execute(f"SELECT key, value FROM notes WHERE key IN ({marks})", chunk):
                sketch = sketch_of(json.loads(value))
                if sketch:
                    yield key, sketch.signature

    def close(self) -> None:
        """Write what is pending and drop the notes this build did not use."""
        self.flush()
        with self.db:
            self.db.execute("DELETE FROM notes WHERE generation < ?", (self.generation,))
        self.db.close()


def note_text(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM notes WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def sketch_of(note: dict) -> Sketch | None:
    sketch = note["sketch"]
    return Sketch(bytes.fromhex(sketch[0]), bytes.fromhex(sketch[1])) if sketch else None


def open_notes(data_dir: Path):
    return closing(NoteStore(data_dir))


def note_of(outcome: Outcome, checked: list[tuple[str, str | None]]) -> dict:
    sketch = outcome.sketch
    return {"entry": outcome.entry, "reasons": outcome.reasons, "checked": checked,
            "sketch": [sketch.text.hex(), sketch.signature.hex()] if sketch else None}


def outcome_from(note: dict, seed: int, rows: AnswerRows) -> Outcome | None:
    """The noted outcome, when the cache still holds exactly the rows it rested on."""
    if any(rows.get(key) != row for key, row in note["checked"]):
        return None
    return Outcome(seed, note["entry"], note["reasons"], sketch_of(note))


def recording_lookup(cache, rows: AnswerRows, rules: Rules, checked: list, chosen: list):
    """verdict_of for walk_seed that records each (key, row) it reads and each valid conversation's key."""
    def verdict_of(key: str, kind: str) -> Verdict | None:
        row = rows.get(key)
        raw = None if row is None else cache.get(key)
        checked.append((key, row if raw is not None else None))
        if raw is None:
            return None
        verdict = judge_entry(raw, rules, kind)
        if kind == "conversation":
            chosen.append((key, verdict))
        return verdict
    return verdict_of


def fresh_outcome(cache, rows, url: str, data: bytes, data_dir: Path, seed: int, rules: Rules,
                  limit: int | None) -> tuple[Outcome, list]:
    """Review the seed now; (its outcome, the (key, row) pairs the review read)."""
    body = parse_body(data, data_dir, seed)
    checked, chosen = [], []
    review: SeedReview = walk_seed(seed, url, body, rules, recording_lookup(cache, rows, rules, checked, chosen),
                                   limit, keys=KeyMaker(url, body))
    messages = review.conversation
    entry = None
    if messages is not None:
        used = next(i for i, verdict in enumerate(review.verdicts) if verdict.valid)
        entry = chosen[used][0]
    sketch = sketch_all([messages])[0] if messages is not None else None
    return Outcome(seed, entry, review.reasons, sketch, messages), checked


def seed_outcomes(cache, rows: AnswerRows, url: str, data_dir: Path, seeds: range, rules: Rules,
                  limit: int | None, notes: NoteStore, verdict_key: str):
    """Each seed's Outcome in seed order: noted when still right, else reviewed now and noted.
    `rows` gives a cache key's row (storage.cache.AnswerRows)."""
    base = key_base(verdict_key)
    for seed in seeds:
        data = read_body_bytes(data_dir, seed)
        key = note_key(base, data)
        note = notes.get(key)
        outcome = outcome_from(note, seed, rows) if note else None
        if outcome is None:
            outcome, checked = fresh_outcome(cache, rows, url, data, data_dir, seed, rules, limit)
            notes.put(key, note_of(outcome, checked))
        yield replace(outcome, note=key)


def conversation_of(cache, entry: str, rules: Rules) -> list:
    """The messages of a cached answer already judged valid: parsed again, without the checks that
    cannot change them (the leak check, ASCII, the judge)."""
    verdict = judge_entry(cache.get(entry), replace(rules, facts=None, judge=None, ascii_only=False))
    return verdict.messages


def note_key(base: bytes, data: bytes) -> str:
    return hashlib.blake2b(base + data, digest_size=16).hexdigest()


def key_base(verdict_key: str) -> bytes:
    """The verdict key alone decides which notes hold (BASE_URL and MAX_ATTEMPTS are part of it)."""
    return bytes.fromhex(verdict_key) if verdict_key else b""


class NotedValid:
    """For fetch, read only: whether the last build's notes settle a seed as valid under this verdict
    key, so a finished run is not judged again. Seeds the notes do not settle are walked as usual."""

    def __init__(self, data_dir: Path, rows: AnswerRows, verdict_key: str):
        path = Path(data_dir) / NOTES_FILE
        usable = verdict_key and path.exists()
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False) if usable else None
        self.rows, self.base, self.data_dir = rows, key_base(verdict_key), data_dir
        self.lock = threading.Lock()

    def __call__(self, seed: int) -> bool:
        if self.db is None:
            return False
        key = note_key(self.base, read_body_bytes(self.data_dir, seed))
        with self.lock:
            try:
                text = note_text(self.db, key)
            except sqlite3.Error:
                return False
        note = json.loads(text) if text else None
        outcome = outcome_from(note, seed, self.rows) if note else None
        return outcome is not None and outcome.entry is not None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
