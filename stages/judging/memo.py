"""Notes a `make dataset` build leaves in DATA_DIR so that the next one redoes only what changed.

- The stamp (.dataset-stamp.json): a digest of everything the build read (this program's code,
  the endpoint, the cache's answers, the request files, the rules, MAX_ATTEMPTS, FORMAT,
  DEDUP_THRESHOLD, SPLIT) and the state of every file it wrote. When all are the same again,
  the build is skipped and nothing is written.
- The notes (.dataset-notes.json), each under a key naming everything its content depends on:
  outcomes: a seed's outcome, under a digest of its request body, the endpoint, the rules and
    MAX_ATTEMPTS, with the row of every cache entry its review read (or that it was missing);
    it is used only while the cache holds exactly those rows;
  answers: a conversation answer's verdict under the schema (ASCII=1 is applied on top), under
    its cache row and the schema's fingerprint;
  sketches: a conversation's Sketch, under its cache row;
  canonical: request files found to hold canonical JSON, whose cache keys are hashed from the
    bytes as they are.
A note is either right or not used. Notes are derived data: `make clean` removes them with
DATA_DIR, and they are not in the cache, so `merge` never copies them.
"""
import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..storage.bodies import body_path, parse_body, read_body_bytes
from ..storage.cache import KeyMaker, canonical_json
from ..storage.codehash import code_digest
from ..storage.files import write_atomic
from .checks import Verdict, add_ascii_rule
from .dedup import Sketch, sketch_all
from .review import Rules, SeedReview, judge_entry, walk_seed

STAMP_FILE = ".dataset-stamp.json"
NOTES_FILE = ".dataset-notes.json"
KINDS = ("outcomes", "answers", "sketches", "canonical")
SUMMARY_KEYS = {"valid", "train", "val"}  # what the summary line of a skipped build needs besides the side files


@dataclass(frozen=True)
class Outcome:
    """What the review of one seed found, as ReviewTally reads it, and what that rested on."""
    seed: int
    conversation: list | None
    reasons: list[str]
    entry: str | None                              # the cache entry holding the conversation (key:row)
    checked: tuple[tuple[str, str | None], ...]    # (cache key, its row or None), as read


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


class Notes:
    """The notes of the last build, by kind; what this build reads or adds is saved after it."""

    def __init__(self, schema: str, notes: dict[str, dict]):
        self.schema = schema  # the fingerprint the answer notes were judged under
        self.notes = notes
        self.used: dict[str, dict] = {kind: {} for kind in KINDS}
        self.added = False

    @classmethod
    def load(cls, data_dir: Path, schema: str) -> "Notes":
        data = read_json(data_dir / NOTES_FILE)
        if data.get("code") != code_digest():  # written by other code: its notes may not hold
            data = {}
        notes = {kind: data.get(kind) if isinstance(data.get(kind), dict) else {} for kind in KINDS}
        if not schema or data.get("schema") != schema:
            notes["answers"] = {}
        return cls(schema, notes)

    def get(self, kind: str, key: str):
        value = self.notes[kind].get(key)
        if value is not None:
            self.used[kind][key] = value
        return value

    def put(self, kind: str, key: str, value) -> None:
        self.used[kind][key] = value
        self.added = True

    def save(self, data_dir: Path) -> None:
        """Keep what this build used or added; nothing to write when that is what was loaded."""
        if not self.added and all(self.used[kind].keys() == self.notes[kind].keys() for kind in KINDS):
            return
        write_json(data_dir / NOTES_FILE, {"code": code_digest(), "schema": self.schema, **self.used})


def noted_outcome(notes: Notes, key: str, seed: int, rows: dict[str, str]) -> Outcome | None:
    """The noted outcome, when the cache (its answer_rows) still holds exactly the rows it rested on."""
    note = notes.notes["outcomes"].get(key)
    if not note or any(rows.get(k) != row for k, row in note[2]):
        return None
    entry, reasons, checked = note
    answer = notes.get("answers", entry) if entry else [None]
    if answer is None:  # its conversation's note is gone (the schema changed): review again
        return None
    notes.get("outcomes", key)
    return Outcome(seed, answer[0], reasons, entry, tuple(map(tuple, checked)))


def noted_verdict(notes: Notes, cache, entry: str, key: str, rules: Rules) -> Verdict | None:
    """A conversation answer's verdict under the schema, from the notes or judged now and noted."""
    note = notes.get("answers", entry)
    if note is None:
        raw = cache.get(key)
        if raw is None:
            return None
        verdict = judge_entry(raw, replace(rules, ascii_only=False), "conversation")
        note = [verdict.messages, verdict.reasons]
        notes.put("answers", entry, note)
    return Verdict(note[0], list(note[1]))


def noted_lookup(cache, rows: dict[str, str], rules: Rules, notes: Notes, lookups: list):
    """verdict_of for walk_seed over the answers in `rows` (cache.answer_rows), conversations
    judged through the answer notes; notes each (key, kind, row or None) it reads, in order."""
    def verdict_of(key: str, kind: str) -> Verdict | None:
        row = rows.get(key)
        if row is None:
            verdict = None
        elif kind == "conversation":
            verdict = noted_verdict(notes, cache, f"{key}:{row}", key, rules)
            verdict = add_ascii_rule(verdict) if verdict and rules.ascii_only else verdict
        else:
            raw = cache.get(key)
            verdict = None if raw is None else judge_entry(raw, rules, kind)
        lookups.append((key, kind, None if verdict is None else row))
        return verdict
    return verdict_of


def outcome_of(review: SeedReview, lookups: list[tuple[str, str, str | None]]) -> Outcome:
    """The outcome of a fresh review; `lookups` are its (key, kind, row) reads in order, the n-th
    conversation read being attempt n."""
    entry = None
    if review.conversation is not None:
        used = next(i for i, verdict in enumerate(review.verdicts) if verdict.valid)
        key, _, row = [lookup for lookup in lookups if lookup[1] == "conversation"][used]
        entry = f"{key}:{row}"
    return Outcome(review.seed, review.conversation, review.reasons, entry,
                   tuple((key, row) for key, _, row in lookups))


def canonical(notes: Notes, data: bytes) -> bool:
    """Whether a request file holds canonical JSON (as `make prompts` writes it), from the notes."""
    return bool(notes.get("canonical", hashlib.blake2b(data, digest_size=16).hexdigest()))


def fresh_outcome(cache, rows, url: str, data: bytes, data_dir: Path, seed: int, rules: Rules, limit: int | None,
                  notes: Notes) -> Outcome:
    """Review the seed again. A request file noted as canonical JSON is hashed as it is and not
    parsed at all unless the judge needs its body: encoding the body is the costliest step here."""
    if canonical(notes, data) and not rules.judge:
        body, keys = None, KeyMaker.from_canonical(url, data.removesuffix(b"\n"))
    else:
        body = parse_body(data, data_dir, seed)
        keys = KeyMaker(url, body)
        if data == canonical_json(body).encode() + b"\n":
            notes.put("canonical", hashlib.blake2b(data, digest_size=16).hexdigest(), 1)
    lookups: list = []
    review = walk_seed(seed, url, body, rules, noted_lookup(cache, rows, rules, notes, lookups), limit, keys=keys)
    return outcome_of(review, lookups)


def noted_reviews(cache, rows: dict[str, str], url: str, data_dir: Path, seeds: range, rules: Rules,
                  limit: int | None, notes: Notes):
    """Each seed's Outcome in seed order: noted when still right, else reviewed again and noted.
    `rows` is cache.answer_rows(cache)."""
    base = hashlib.sha256(json.dumps([url, rules.fingerprint, limit]).encode()).digest()
    for seed in seeds:
        data = read_body_bytes(data_dir, seed)
        key = hashlib.blake2b(base + data, digest_size=16).hexdigest()
        outcome = noted_outcome(notes, key, seed, rows)
        if outcome is None:
            outcome = fresh_outcome(cache, rows, url, data, data_dir, seed, rules, limit, notes)
            notes.put("outcomes", key, [outcome.entry, outcome.reasons, outcome.checked])
        yield outcome


def noted_sketches(rows: list[tuple[int, list, str]], notes: Notes) -> list[Sketch]:
    """The Sketch of each (seed, conversation, entry) row, made only for rows not noted."""
    noted = [notes.get("sketches", entry) for _, _, entry in rows]
    sketches = [note and Sketch(bytes.fromhex(note[0]), base64.b64decode(note[1])) for note in noted]
    missing = [i for i, sketch in enumerate(sketches) if sketch is None]
    for i, sketch in zip(missing, sketch_all([rows[i][1] for i in missing])):
        sketches[i] = sketch
        notes.put("sketches", rows[i][2], [sketch.text.hex(), base64.b64encode(sketch.signature).decode()])
    return sketches


def file_state(path: Path) -> list[int] | None:
    """Size and modification time of a file, None when it does not exist."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return [info.st_size, info.st_mtime_ns]


@dataclass(frozen=True)
class Stamp:
    """A build's inputs (a digest of everything but the request files, and bodies_state of those)
    and the state of the files it wrote."""
    inputs: str
    bodies: str
    outputs: dict[str, list[int] | None]
    summary: dict

    def matches_outputs(self, data_dir: Path) -> bool:
        return all(file_state(data_dir / name) == state for name, state in self.outputs.items())


def load_stamp(data_dir: Path) -> Stamp | None:
    data = read_json(data_dir / STAMP_FILE)
    try:
        stamp = Stamp(data["inputs"], data["bodies"], dict(data["outputs"]), dict(data["summary"]))
    except (KeyError, TypeError, ValueError):
        return None
    return stamp if set(stamp.summary) == SUMMARY_KEYS else None


def save_stamp(data_dir: Path, inputs: str, bodies: str, outputs: list[Path], summary: dict) -> None:
    states = {path.name: file_state(path) for path in outputs}
    write_json(data_dir / STAMP_FILE, {"inputs": inputs, "bodies": bodies, "outputs": states, "summary": summary})


def inputs_digest(parts: list) -> str:
    """Everything a build reads but the request files: the code, the options and the answers."""
    return hashlib.sha256(json.dumps([code_digest()] + parts, sort_keys=True).encode()).hexdigest()


def bodies_state(data_dir: Path, seeds: range) -> str | None:
    """A digest of the request files' inode, size, modification and status-change times; None when
    one is missing. Any write, replacement or `touch -d` of a file changes its status-change time,
    which no tool sets back, so equal digests mean the files hold the bytes they held: as sound as
    reading them, and ten times faster."""
    digest = hashlib.sha256()
    for seed in seeds:
        try:
            info = os.stat(body_path(data_dir, seed))
        except OSError:
            return None
        digest.update(f"{info.st_ino} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns},".encode())
    return digest.hexdigest()


def unchanged_stamp(data_dir: Path, inputs: str, seeds: range) -> Stamp | None:
    """The last build's stamp when this build would read and write exactly what it did."""
    stamp = load_stamp(data_dir)
    if stamp is None or stamp.inputs != inputs or not stamp.matches_outputs(data_dir):
        return None
    return stamp if bodies_state(data_dir, seeds) == stamp.bodies else None
