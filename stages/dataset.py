"""Stage 4: write the first valid conversation of each seed, in seed order, as JSONL nanochat loads.

Default format: one JSON array of {"role", "content"} per line; FORMAT=messages wraps it as {"messages": [...]}.
"""
from pathlib import Path

import click

from .cache import open_cache
from .config import option, review_options, seed_range
from .files import write_jsonl_atomic
from .review import ReviewTally
from .validate import rejected_path, reviews_for

FORMATS = {"array": lambda messages: messages, "messages": lambda messages: {"messages": messages}}


def dataset_path(data_dir: Path) -> Path:
    return data_dir / "identity_conversations.jsonl"


def build_dataset(cache_dir: Path, data_dir: Path, seeds: range, base_url: str, ascii_only: bool, fmt: str) -> ReviewTally:
    tally = ReviewTally()
    shape = FORMATS[fmt]
    with open_cache(cache_dir) as cache:
        rows = (shape(c) for c in tally.conversations(reviews_for(cache, seeds, data_dir, base_url, ascii_only)))
        write_jsonl_atomic(dataset_path(data_dir), rows)
    write_jsonl_atomic(rejected_path(data_dir), tally.rejected)
    return tally


@click.command("dataset")
@review_options
@option("FORMAT", type=click.Choice(sorted(FORMATS)), default="array", help="Line shape: array or messages.")
def dataset_command(n, seeds, data_dir, cache_dir, base_url, ascii, format):
    """Assemble DATA_DIR/identity_conversations.jsonl from the cache (no requests).

    Example: python -m stages dataset --n 1000 --format messages
    """
    tally = build_dataset(cache_dir, data_dir, seed_range(n, seeds), base_url, ascii, format)
    click.echo(f"dataset: wrote {tally.valid} conversations to {dataset_path(data_dir)}; "
               f"{tally.summary()}", err=True)
