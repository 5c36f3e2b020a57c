"""Stage 4: write the first valid conversation of each seed, in seed order, as JSONL nanochat loads.

Exact and near duplicates are dropped (the lowest seed stays); SPLIT sends a stable share of
seeds to a validation file. Default format: one JSON array of {"role", "content"} per line;
FORMAT=messages wraps it as {"messages": [...]}; FORMAT=sharegpt writes
{"conversations": [{"from": "human"|"gpt", "value": ...}]}, as Axolotl and LLaMA-Factory read it.
"""
import hashlib
from array import array
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .judging.decisions import Applied, CachedConversations, honour_decisions
from .judging.dedup import SketchTable, signatures_from
from .judging.memo import conversation_of, open_notes, seed_outcomes
from .judging.review import ReviewTally
from .judging.verdictkey import verdict_key
from .storage.run import RunSettings
from .storage.cache import answer_rows, open_cache
from .storage.dataformats import FORMATS
from .storage.files import JsonlWriter, write_jsonl_atomic
from .errors import PipelineError
from .judging.rules import checks_of, completions_url, rules_for
from .storage.paths import dataset_path, duplicates_path, rejected_path, split_path


@dataclass(frozen=True)
class Assembled:
    tally: ReviewTally
    train: int
    val: int
    dropped: list[dict]
    review: Applied = field(default_factory=Applied)  # what the review decisions (review.jsonl) did


def in_validation(seed: int, share: float) -> bool:
    """A seed's side depends on the seed alone, so it never changes when N grows."""
    digest = hashlib.sha256(f"split:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass
class Kept:
    """The valid seeds in order, packed: a seed number, its cache entry's key and its dedup keys each."""
    seeds: array
    entries: bytearray            # 32 bytes a seed: the cache key's digest
    notes: bytearray              # 16 bytes a seed: its note's key (zeros when it has none)
    sketches: SketchTable
    review: Applied = field(default_factory=Applied)  # what the review decisions did

    def entry(self, index: int) -> str:
        return self.entries[index * 32:(index + 1) * 32].hex()

    def note(self, index: int) -> str:
        return self.notes[index * 16:(index + 1) * 16].hex()


def review_pass(cache, rows, url: str, data_dir: Path, run: RunSettings, rules, notes, tally: ReviewTally) -> Kept:
    """First pass: every seed's outcome (from the notes or judged now), keeping only what dedup needs."""
    kept = Kept(array("q"), bytearray(), bytearray(), SketchTable(run.dedup_threshold))
    outcomes = seed_outcomes(cache, rows, url, data_dir, run.seed_range, rules, run.max_attempts, notes,
                             verdict_key(run))
    conversations = CachedConversations(cache, url, data_dir, rules, run.max_attempts)
    for outcome in honour_decisions(outcomes, data_dir, conversations, kept.review):
        if tally.count(outcome):
            kept.seeds.append(outcome.seed)
            kept.entries += bytes.fromhex(outcome.entry)
            kept.notes += bytes.fromhex(outcome.note) if outcome.note else bytes(16)
            kept.sketches.add(outcome.sketch)
    return kept


NOTE_CHUNK = 2000
NO_NOTE = bytes(16).hex()


def kept_signatures(cache, rules, notes, kept: Kept):
    """signatures_of for the SketchTable: the candidates' signatures from their notes, or, for a
    seed without one (a conversation kept by review), sketched again from the cache."""
    def signatures_of(indexes):
        for start in range(0, len(indexes), NOTE_CHUNK):  # a chunk at a time: nothing here grows with N
            chunk = [int(i) for i in indexes[start:start + NOTE_CHUNK]]
            by_note = {kept.note(i): i for i in chunk if kept.note(i) != NO_NOTE}
            for key, signature in notes.signatures(list(by_note)):
                yield by_note.pop(key), signature
            rest = sorted([i for i in chunk if kept.note(i) == NO_NOTE] + list(by_note.values()))  # no note held them
            conversations = (conversation_of(cache, kept.entry(i), rules) for i in rest)
            yield from ((rest[k], signature) for k, signature in signatures_from(conversations, range(len(rest))))
    return signatures_of


def duplicate_records(cache, rules, notes, kept: Kept, dedup: bool) -> dict[int, dict]:
    """Index in `kept` -> the record of its drop (none without DEDUP)."""
    if not dedup:
        return {}
    signatures_of = kept_signatures(cache, rules, notes, kept)
    return {i: {"seed": kept.seeds[i], "kept_seed": kept.seeds[d.kept], "kind": d.kind,
                "similarity": round(d.similarity, 3)}
            for i, d in kept.sketches.duplicates(signatures_of).items()}


def write_pass(cache, rules, kept: Kept, dropped: dict[int, dict], data_dir: Path, run: RunSettings) -> tuple[int, int]:
    """Second pass: each kept conversation read from the cache and written at once, in seed order."""
    shape = FORMATS[run.format].write
    with ExitStack() as stack:
        train = stack.enter_context(JsonlWriter(dataset_path(data_dir)))
        val = stack.enter_context(JsonlWriter(split_path(data_dir))) if run.split > 0 else None
        for i, seed in enumerate(kept.seeds):
            if i in dropped:
                continue
            line = shape(conversation_of(cache, kept.entry(i), rules))
            (val if val is not None and in_validation(seed, run.split) else train).write(line)
    if val is None:
        split_path(data_dir).unlink(missing_ok=True)  # a stale split would mislead
    return train.count, val.count if val is not None else 0


def build_dataset(data_dir: Path, run: RunSettings) -> Assembled:
    """Write the dataset and its side files: the verdicts from the notes where they still hold."""
    url, rules, tally = completions_url(run.base_url), rules_for(checks_of(run)), ReviewTally()
    with open_cache(Path(run.cache_dir)) as cache, open_notes(data_dir) as notes, answer_rows(cache) as rows:
        kept = review_pass(cache, rows, url, data_dir, run, rules, notes, tally)
        dropped = duplicate_records(cache, rules, notes, kept, run.dedup)
        if tally.valid:
            train, val = write_pass(cache, rules, kept, dropped, data_dir, run)
        else:
            train = val = 0
    records = [dropped[i] for i in sorted(dropped)]
    write_jsonl_atomic(rejected_path(data_dir), tally.rejected)
    write_jsonl_atomic(duplicates_path(data_dir), records)
    return Assembled(tally, train, val, records, kept.review)


def check_not_empty(result: Assembled, seeds: range, data_dir: Path) -> None:
    """Seeds asked for and not one conversation written: a failed run, not an empty success."""
    if seeds and result.train + result.val == 0:
        reasons = ", ".join(f"{name} {count}" for name, count in result.tally.reason_counts().items())
        raise PipelineError(f"no conversation for any of the {len(seeds)} seeds ({reasons}; see "
                            f"{rejected_path(data_dir)}): run `make fetch` with the same N, BASE_URL and prompts")


def dedup_summary(dropped: list[dict]) -> str:
    kinds = {kind: sum(d["kind"] == kind for d in dropped) for kind in ("exact", "near")}
    return f"{len(dropped)} duplicates dropped ({kinds['exact']} exact, {kinds['near']} near)"
