"""Stage 4: write the first valid conversation of each seed, in seed order (stages/assemble.py)."""
import click

from ..assemble import build_dataset, check_not_empty, dedup_summary
from ..config import run_options
from ..storage.paths import dataset_path, split_path


@click.command("dataset")
@run_options(writes=True)
def dataset_command(data_dir, run):
    """Assemble DATA_DIR/identity_conversations.jsonl from the cache (no requests).

    Example: python -m stages dataset --n 1000 --format messages --split 0.05
    """
    seeds, split = run.seed_range, run.split
    result = build_dataset(data_dir, run)
    check_not_empty(result, seeds, data_dir)
    val = f" and {result.val} to {split_path(data_dir)}" if split else ""
    click.echo(f"dataset: wrote {result.train} conversations to {dataset_path(data_dir)}{val}; "
               f"{result.tally.summary()}; {dedup_summary(result.dropped)}", err=True)
    if result.review.summary():
        click.echo(result.review.summary(), err=True)
