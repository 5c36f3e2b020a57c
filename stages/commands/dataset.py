"""Stage 4: write the first valid conversation of each seed, in seed order, as JSONL nanochat loads.

Exact and near duplicates are dropped (the lowest seed stays); SPLIT sends a stable share of
seeds to a validation file. Default format: one JSON array of {"role", "content"} per line;
FORMAT=messages wraps it as {"messages": [...]}; FORMAT=sharegpt writes
{"conversations": [{"from": "human"|"gpt", "value": ...}]}, as Axolotl and LLaMA-Factory read it.
"""
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..config import CheckChoice, completions_url, option, review_options, seed_range
from ..errors import PipelineError
from ..judging.decisions import Applied, cached_best, decisions_state, honour_decisions
from ..judging.dedup import DEFAULT_THRESHOLD, find_duplicates_in
from ..judging.memo import (Notes, bodies_state, inputs_digest, noted_reviews, noted_sketches, save_stamp,
                            unchanged_stamp)
from ..judging.review import ReviewTally
from ..storage.cache import answer_rows, answers_digest, open_cache
from ..storage.files import write_jsonl_atomic
from .validate import rejected_path, rules_for

SHAREGPT_SPEAKERS = {"user": "human", "assistant": "gpt"}


def sharegpt(messages: list[dict]) -> dict:
    return {"conversations": [{"from": SHAREGPT_SPEAKERS[m["role"]], "value": m["content"]} for m in messages]}


FORMATS = {"array": lambda messages: messages, "messages": lambda messages: {"messages": messages},
           "sharegpt": sharegpt}


@dataclass(frozen=True)
class Assembled:
    tally: ReviewTally
    train: int
    val: int
    dropped: list[dict]
    unchanged: bool = False  # inputs and outputs as the last build left them: nothing was written
    review: Applied = field(default_factory=Applied)  # what the review decisions (review.jsonl) did


def dataset_path(data_dir: Path) -> Path:
    return data_dir / "identity_conversations.jsonl"


def split_path(data_dir: Path) -> Path:
    return data_dir / "identity_conversations.val.jsonl"


def duplicates_path(data_dir: Path) -> Path:
    return data_dir / "duplicates.jsonl"


def in_validation(seed: int, share: float) -> bool:
    """A seed's side depends on the seed alone, so it never changes when N grows."""
    digest = hashlib.sha256(f"split:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def drop_duplicates(rows: list[tuple[int, list, str]], threshold: float | None,
                    notes: Notes) -> tuple[list, list[dict]]:
    """Rows without duplicates, and one record per dropped row (threshold None keeps all)."""
    if threshold is None:
        return rows, []
    dropped = find_duplicates_in(noted_sketches(rows, notes), threshold)
    records = [{"seed": rows[i][0], "kept_seed": rows[d.kept][0], "kind": d.kind,
                "similarity": round(d.similarity, 3)} for i, d in sorted(dropped.items())]
    return [row for i, row in enumerate(rows) if i not in dropped], records


def write_outputs(data_dir: Path, rows: list[tuple[int, list, str]], fmt: str, split: float) -> tuple[int, int]:
    shape = FORMATS[fmt]
    train = [shape(m) for seed, m, _ in rows if not in_validation(seed, split)]
    val = [shape(m) for seed, m, _ in rows if in_validation(seed, split)]
    write_jsonl_atomic(dataset_path(data_dir), train)
    if split > 0:
        write_jsonl_atomic(split_path(data_dir), val)
    else:
        split_path(data_dir).unlink(missing_ok=True)  # a stale split would mislead
    return len(train), len(val)


def output_paths(data_dir: Path) -> list[Path]:
    return [dataset_path(data_dir), split_path(data_dir), rejected_path(data_dir), duplicates_path(data_dir)]


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def kept_build(data_dir: Path, summary: dict) -> Assembled:
    """What the last build wrote, from its files and stamp, for the summary line."""
    tally = ReviewTally()
    tally.valid, tally.rejected = summary["valid"], read_jsonl(rejected_path(data_dir))
    return Assembled(tally, summary["train"], summary["val"], read_jsonl(duplicates_path(data_dir)), unchanged=True)


def build_inputs(rows: dict[str, str], cache_dir: Path, seeds: range, url: str, rules, checks: CheckChoice,
                 options: list) -> str:
    """A digest of what a build reads besides the request bodies (those are digested as they are read)."""
    return inputs_digest([url, str(Path(cache_dir).resolve()), seeds.start, seeds.stop, rules.fingerprint,
                          checks.max_attempts, options, answers_digest(rows)])


def build_dataset(cache_dir: Path, data_dir: Path, seeds: range, base_url: str, checks: CheckChoice, fmt: str,
                  threshold: float | None = DEFAULT_THRESHOLD, split: float = 0.0) -> Assembled:
    """Write the dataset and its side files, unless nothing they depend on changed since the last build."""
    url, rules = completions_url(base_url), rules_for(checks)
    tally = ReviewTally()
    with open_cache(cache_dir) as cache:
        # Inputs are taken before anything is read, so a change made meanwhile cannot slip under the stamp.
        rows = answer_rows(cache)
        inputs = build_inputs(rows, cache_dir, seeds, url, rules, checks,
                              [fmt, threshold, split, decisions_state(data_dir)])
        if (stamp := unchanged_stamp(data_dir, inputs, seeds)) is not None:
            return kept_build(data_dir, stamp.summary)
        bodies = bodies_state(data_dir, seeds)
        notes = Notes.load(data_dir, rules.conversation_fingerprint)
        outcomes = noted_reviews(cache, rows, url, data_dir, seeds, rules, checks.max_attempts, notes)
        outcomes = honour_decisions(outcomes, data_dir, cached_best(cache, url, data_dir, rules, checks.max_attempts),
                                    review := Applied())
        kept = [(o.seed, o.conversation, o.entry) for o in outcomes if tally.count(o)]
    kept, dropped = drop_duplicates(kept, threshold, notes)
    train, val = write_outputs(data_dir, kept, fmt, split)
    write_jsonl_atomic(rejected_path(data_dir), tally.rejected)
    write_jsonl_atomic(duplicates_path(data_dir), dropped)
    notes.save(data_dir)
    save_stamp(data_dir, inputs, bodies, output_paths(data_dir),
               {"valid": tally.valid, "train": train, "val": val})
    return Assembled(tally, train, val, dropped, review=review)


def check_not_empty(result: Assembled, seeds: range, data_dir: Path) -> None:
    """Seeds asked for and not one conversation written: a failed run, not an empty success."""
    if seeds and result.train + result.val == 0:
        reasons = ", ".join(f"{name} {count}" for name, count in result.tally.reason_counts().items())
        raise PipelineError(f"no conversation for any of the {len(seeds)} seeds ({reasons}; see "
                            f"{rejected_path(data_dir)}): run `make fetch` with the same N, BASE_URL and prompts")


def dedup_summary(dropped: list[dict]) -> str:
    kinds = {kind: sum(d["kind"] == kind for d in dropped) for kind in ("exact", "near")}
    return f"{len(dropped)} duplicates dropped ({kinds['exact']} exact, {kinds['near']} near)"


@click.command("dataset")
@review_options
@option("FORMAT", type=click.Choice(sorted(FORMATS)), default="array", help="Line shape: array (nanochat), messages or sharegpt.")
@option("DEDUP", type=click.BOOL, default=True, help="Drop exact and near duplicates (1 or 0).")
@option("DEDUP_THRESHOLD", type=click.FloatRange(0.5, 1), default=DEFAULT_THRESHOLD,
        help="Similarity (Jaccard of word shingles) from which two conversations count as near duplicates.")
@option("SPLIT", type=click.FloatRange(0, 1, max_open=True), default=0.0,
        help="Share of seeds written to the .val.jsonl validation file.")
def dataset_command(n, seeds, data_dir, cache_dir, base_url, checks, format, dedup, dedup_threshold, split):
    """Assemble DATA_DIR/identity_conversations.jsonl from the cache (no requests).

    Example: python -m stages dataset --n 1000 --format messages --split 0.05
    """
    result = build_dataset(cache_dir, data_dir, seed_range(n, seeds), base_url, checks, format,
                           dedup_threshold if dedup else None, split)
    check_not_empty(result, seed_range(n, seeds), data_dir)
    val = f" and {result.val} to {split_path(data_dir)}" if split else ""
    if result.unchanged:
        click.echo(f"dataset: nothing to do, the answers, prompts, rules and options are those of the last build: "
                   f"{result.train} conversations in {dataset_path(data_dir)}{val}; {result.tally.summary()}; "
                   f"{dedup_summary(result.dropped)}", err=True)
        return
    click.echo(f"dataset: wrote {result.train} conversations to {dataset_path(data_dir)}{val}; "
               f"{result.tally.summary()}; {dedup_summary(result.dropped)}", err=True)
    if result.review.summary():
        click.echo(result.review.summary(), err=True)
