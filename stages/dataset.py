"""Stage 4: write the first valid conversation of each seed, in seed order, as JSONL nanochat loads.

Exact and near duplicates are dropped (the lowest seed stays); SPLIT sends a stable share of
seeds to a validation file. Default format: one JSON array of {"role", "content"} per line;
FORMAT=messages wraps it as {"messages": [...]}.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import click

from .cache import open_cache
from .config import CheckChoice, option, review_options, seed_range
from .dedup import DEFAULT_THRESHOLD, find_duplicates
from .errors import PipelineError
from .files import write_jsonl_atomic
from .review import ReviewTally
from .validate import rejected_path, reviews_for

FORMATS = {"array": lambda messages: messages, "messages": lambda messages: {"messages": messages}}


@dataclass(frozen=True)
class Assembled:
    tally: ReviewTally
    train: int
    val: int
    dropped: list[dict]


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


def drop_duplicates(rows: list[tuple[int, list]], threshold: float | None) -> tuple[list, list[dict]]:
    """Rows without duplicates, and one record per dropped row (threshold None keeps all)."""
    if threshold is None:
        return rows, []
    dropped = find_duplicates([messages for _, messages in rows], threshold)
    records = [{"seed": rows[i][0], "kept_seed": rows[d.kept][0], "kind": d.kind,
                "similarity": round(d.similarity, 3)} for i, d in sorted(dropped.items())]
    return [row for i, row in enumerate(rows) if i not in dropped], records


def write_outputs(data_dir: Path, rows: list[tuple[int, list]], fmt: str, split: float) -> tuple[int, int]:
    shape = FORMATS[fmt]
    train = [shape(m) for seed, m in rows if not in_validation(seed, split)]
    val = [shape(m) for seed, m in rows if in_validation(seed, split)]
    write_jsonl_atomic(dataset_path(data_dir), train)
    if split > 0:
        write_jsonl_atomic(split_path(data_dir), val)
    else:
        split_path(data_dir).unlink(missing_ok=True)  # a stale split would mislead
    return len(train), len(val)


def build_dataset(cache_dir: Path, data_dir: Path, seeds: range, base_url: str, checks: CheckChoice, fmt: str,
                  threshold: float | None = DEFAULT_THRESHOLD, split: float = 0.0) -> Assembled:
    tally = ReviewTally()
    with open_cache(cache_dir) as cache:
        rows = list(tally.conversations(reviews_for(cache, seeds, data_dir, base_url, checks)))
    rows, dropped = drop_duplicates(rows, threshold)
    train, val = write_outputs(data_dir, rows, fmt, split)
    write_jsonl_atomic(rejected_path(data_dir), tally.rejected)
    write_jsonl_atomic(duplicates_path(data_dir), dropped)
    return Assembled(tally, train, val, dropped)


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
@option("FORMAT", type=click.Choice(sorted(FORMATS)), default="array", help="Line shape: array or messages.")
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
    click.echo(f"dataset: wrote {result.train} conversations to {dataset_path(data_dir)}{val}; "
               f"{result.tally.summary()}; {dedup_summary(result.dropped)}", err=True)
