"""`make merge FROM=folder`: copy answers from other cache folders into CACHE_DIR.

For runs split by SEEDS across machines or keys: each keeps its own cache, then one merges them.
Keys already present are kept as they are, so merging twice changes nothing.
"""
from pathlib import Path

import click

from ..config import cache_dir_option
from ..storage.cache import is_answer_key, open_cache


def merge_caches(target: Path, source: Path) -> int:
    """Copy answers missing from target; return how many were copied. Notes about finished runs
    and price lists stay behind: they describe the source's runs, not the merged one."""
    copied = 0
    with open_cache(source) as src, open_cache(target) as dst:
        for key in src.iterkeys():
            if is_answer_key(key) and key not in dst and (value := src.get(key)) is not None:
                dst.set(key, value)
                copied += 1
    return copied


@click.command("merge")
@cache_dir_option
@click.argument("sources", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge_command(cache_dir, sources):
    """Copy the answers in SOURCES (other cache folders) into CACHE_DIR.

    Example: python -m stages merge ../machine-b/cache
    """
    for source in sources:
        click.echo(f"merge: {merge_caches(cache_dir, source)} answers copied from {source}", err=True)
