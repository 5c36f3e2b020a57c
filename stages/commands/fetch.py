"""Stage 2: send the prompts without a valid cached answer and cache every answer (stages/fetching.py)."""
from pathlib import Path

import click

from ..config import batch_options, option, run_options
from ..errors import FatalAPIError
from ..fetching import (WAITING_EXIT, Job, explained, interrupted_line, prices_for, run_fetch, summary_line,
                        waiting_line)
from ..judging.rules import checks_of, completions_url, rules_for
from ..judging.verdictkey import verdict_key
from ..transport.budget import Budget
from ..transport.prices import given_prices
from ..transport.server import is_openrouter


@click.command("fetch")
@run_options(writes=True)
@option("WORKERS", type=click.IntRange(1, 1024), default=4, help="Requests in flight at once.")
@option("TIMEOUT", type=click.FloatRange(min=1), default=120.0, help="Total seconds allowed per request.")
@option("BACKOFF", type=click.FloatRange(min=0), default=1.0, help="First retry wait in seconds; doubles each retry.")
@option("RPM", type=click.FloatRange(min=0, min_open=True), default=None, help="Cap on requests per minute (optional).")
@option("BUDGET", type=click.FloatRange(min=0, min_open=True), default=None, help="Dollar cap on what this run may spend (optional).")
@option("PRICE_IN", type=click.FloatRange(min=0), default=None,
        help="Dollars per million input tokens, for answers that report no cost (default: the models list).")
@option("PRICE_OUT", type=click.FloatRange(min=0), default=None, help="Dollars per million output tokens, likewise.")
@batch_options
def fetch_command(data_dir, run, workers, timeout, backoff, rpm, budget, price_in, price_out, batch):
    """Send prompts without a valid cached answer to BASE_URL and cache every answer.

    Example: python -m stages fetch --n 1000 --workers 4
    """
    cache_dir = Path(run.cache_dir)
    checks = checks_of(run)
    rules = rules_for(checks)
    job = Job(completions_url(run.base_url), data_dir, checks.max_attempts, timeout, backoff, rules,
              budget=Budget(budget), batch=batch, openrouter=is_openrouter(run.base_url, run.openrouter),
              verdict_key=verdict_key(run))
    seeds = run.seed_range
    job.prices = prices_for(job, cache_dir, seeds, given_prices(price_in, price_out), budget)
    try:
        tally = run_fetch(job, cache_dir, seeds, workers, rpm)
    except FatalAPIError as err:
        raise explained(err, job, cache_dir, seeds) from None
    if tally.interrupted:
        click.echo(interrupted_line(tally, len(seeds)), err=True)
        raise click.exceptions.Exit(130)
    click.echo(summary_line(tally, len(seeds)), err=True)
    if tally.batches is not None and tally.batches.waiting:
        click.echo(waiting_line(tally), err=True)
        raise click.exceptions.Exit(WAITING_EXIT)
    if tally.budget_stop:
        raise tally.budget_stop
