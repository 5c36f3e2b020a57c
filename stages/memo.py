"""Notes a `make dataset` build leaves in DATA_DIR so that the next one redoes only what changed.

- The stamp (.dataset-stamp.json): a digest of everything the build read (this program's code,
  the endpoint, the cache's answers, the rendered request bodies, the rules, MAX_ATTEMPTS, FORMAT,
  DEDUP_THRESHOLD, SPLIT) and the size and modification time of every file it wrote. When all of
  them are the same again, the build is skipped and nothing is written.
- The notes (.dataset-notes.json): each seed's outcome, under a digest of its request body, the
  endpoint, the rules and MAX_ATTEMPTS, with the digest of every cache entry its review read (or
  the fact that it was missing); an outcome is reused only while the cache holds exactly those
  entries. And each conversation's Sketch, under the digest of the cache entry it came from.
A note is either right or not used. Notes are derived data: `make clean` removes them with
DATA_DIR, and they are not in the cache, so `merge` never copies them.
"""
import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .codehash import code_digest
from .dedup import Sketch
from .files import write_atomic
from .prompts import body_path, parse_body, read_body_bytes
from .review import Rules, SeedReview, recording_lookup, walk_seed

STAMP_FILE = ".dataset-stamp.json"
SUMMARY_KEYS = {"valid", "train", "val"}  # what the summary line of a skipped build needs besides the side files
NOTES_FILE = ".dataset-notes.json"


@dataclass(frozen=True)
class Outcome:
    """What the review of one seed found, as ReviewTally reads it, and what that rested on."""
    seed: int
    conversation: list | None
    reasons: list[str]
    entry: str | None                              # the cache entry holding the conversation (key:row)
    checked: tuple[tuple[str, str | None], ...]    # (cache key, its row identity or None), as read


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


class Notes:
    """The outcomes and sketches of the last build; what this build uses or makes is saved after it."""

    def __init__(self, outcomes: dict, sketches: dict):
        self.outcomes, self.sketches = outcomes, sketches
        self.used_outcomes: dict[str, list] = {}
        self.used_sketches: dict[str, list] = {}
        self.added = False

    @classmethod
    def load(cls, data_dir: Path) -> "Notes":
        data = read_json(data_dir / NOTES_FILE)
        if data.get("code") != code_digest():  # written by other code: its outcomes may differ
            return cls({}, {})
        return cls(data.get("outcomes") or {}, data.get("sketches") or {})

    def outcome(self, key: str, seed: int, rows: dict[str, str]) -> Outcome | None:
        """The noted outcome, when the cache (its answer_rows) still holds exactly the entries it rested on."""
        note = self.outcomes.get(key)
        if not note:
            return None
        conversation, reasons, entry, checked = note
        if any(rows.get(k) != identity for k, identity in checked):
            return None
        self.used_outcomes[key] = note
        return Outcome(seed, conversation, reasons, entry, tuple(map(tuple, checked)))

    def keep_outcome(self, key: str, outcome: Outcome) -> None:
        self.used_outcomes[key] = [outcome.conversation, outcome.reasons, outcome.entry, outcome.checked]
        self.added = True

    def sketch(self, entry: str) -> Sketch | None:
        note = self.sketches.get(entry)
        if not note:
            return None
        self.used_sketches[entry] = note
        return Sketch(bytes.fromhex(note[0]), base64.b64decode(note[1]))

    def keep_sketch(self, entry: str, sketch: Sketch) -> None:
        self.used_sketches[entry] = [sketch.text.hex(), base64.b64encode(sketch.signature).decode()]
        self.added = True

    def save(self, data_dir: Path) -> None:
        """Keep what this build used or made; nothing to write when that is what was loaded."""
        if not self.added and self.used_outcomes.keys() == self.outcomes.keys() and \
                self.used_sketches.keys() == self.sketches.keys():
            return
        write_json(data_dir / NOTES_FILE, {"code": code_digest(), "outcomes": self.used_outcomes,
                                           "sketches": self.used_sketches})


def outcome_of(review: SeedReview, lookups: list[tuple[str, str, str | None]]) -> Outcome:
    """The outcome of a fresh review; `lookups` are its (key, kind, row identity) reads in order,
    the n-th conversation read being attempt n."""
    entry = None
    if review.conversation is not None:
        used = next(i for i, verdict in enumerate(review.verdicts) if verdict.valid)
        key, _, identity = [lookup for lookup in lookups if lookup[1] == "conversation"][used]
        entry = f"{key}:{identity}"
    checked = tuple((key, identity) for key, _, identity in lookups)
    return Outcome(review.seed, review.conversation, review.reasons, entry, checked)


def note_base(url: str, rules: Rules, limit: int | None) -> bytes:
    """What every seed's outcome depends on besides its own request body and cache entries."""
    return hashlib.sha256(json.dumps([url, rules.fingerprint, limit]).encode()).digest()


def noted_reviews(cache, rows: dict[str, str], url: str, data_dir: Path, seeds: range, rules: Rules,
                  limit: int | None, notes: Notes):
    """Each seed's Outcome in seed order: noted when still right, else reviewed again and noted.
    `rows` is cache.answer_rows(cache)."""
    base = note_base(url, rules, limit)
    for seed in seeds:
        body = read_body_bytes(data_dir, seed)
        key = hashlib.blake2b(base + body, digest_size=16).hexdigest()
        outcome = notes.outcome(key, seed, rows)
        if outcome is None:
            lookups: list = []
            review = walk_seed(seed, url, parse_body(body, data_dir, seed), rules,
                               recording_lookup(cache, rules, rows, lookups), limit)
            outcome = outcome_of(review, lookups)
            notes.keep_outcome(key, outcome)
        yield outcome


def noted_sketches(rows: list[tuple[int, list, str]], notes: Notes) -> list[Sketch]:
    """The Sketch of each (seed, conversation, entry) row, made only for rows not noted."""
    from .dedup import sketch_all
    sketches = [notes.sketch(entry) for _, _, entry in rows]
    missing = [i for i, sketch in enumerate(sketches) if sketch is None]
    for i, sketch in zip(missing, sketch_all([rows[i][1] for i in missing])):
        sketches[i] = sketch
        notes.keep_sketch(rows[i][2], sketch)
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
    """Everything a build reads but the request bodies: the code, the options and the answers."""
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
