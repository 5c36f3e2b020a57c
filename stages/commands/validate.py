"""Stage 3: check every seed's cached answers against the schema, the role order and the identity's facts.

Prints counts by reason and writes DATA_DIR/rejected.jsonl (seed, reasons) for seeds with no valid answer.
"""
from pathlib import Path

import click

from ..config import run_options
from ..judging.rules import checks_of
from ..elsewhere import elsewhere_hint
from ..judging.review import ReviewTally
from ..judging.rules import reviews_for
from ..storage.cache import open_cache
from ..storage.files import write_jsonl_atomic
from ..storage.paths import rejected_path



def nothing_cached(tally: ReviewTally) -> bool:
    """No seed had a single cached answer under this BASE_URL and these prompts."""
    return tally.valid == 0 and all(row["reasons"] == ["not_fetched"] for row in tally.rejected)


@click.command("validate")
@run_options()
def validate_command(data_dir, run):
    """Check the cached answers of the run's seeds and list the rejected ones.

    Example: python -m stages validate --n 1000 --ascii 1
    """
    cache_dir = Path(run.cache_dir)
    tally, seeds, checks, base_url = ReviewTally(), run.seed_range, checks_of(run), run.base_url
    with open_cache(cache_dir) as cache:
        for _ in tally.conversations(reviews_for(cache, seeds, data_dir, base_url, checks)):
            pass
        hint = elsewhere_hint(cache, seeds, base_url, "validate") if nothing_cached(tally) else None
    write_jsonl_atomic(rejected_path(data_dir), tally.rejected)
    click.echo(f"validate: {tally.summary()}; rejected seeds in {rejected_path(data_dir)}", err=True)
    if hint:
        click.echo(f"validate: {hint}", err=True)
