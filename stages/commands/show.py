"""`make show SEED=n`: one seed in full, its prompt's varying parts, every attempt and verdict (stages/seedview.py)."""
from pathlib import Path

import click

from ..config import option, run_options
from ..judging.rules import checks_of
from ..seedview import describe_seed
from ..storage.cache import open_cache


@click.command("show")
@option("SEED", type=click.IntRange(min=0), default=0, help="The seed to show.")
@run_options()
def show_command(seed, data_dir, run):
    """Show one seed: its prompt's varying parts, every cached attempt with its verdict, the conversation.

    Example: python -m stages show --seed 3
    """
    with open_cache(Path(run.cache_dir)) as cache:
        click.echo("\n".join(describe_seed(cache, data_dir, seed, run.base_url, checks_of(run))))
