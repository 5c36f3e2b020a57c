"""`make batches`: the batches this cache knows for BASE_URL (id, status as last seen, requests,
age, bill), read from the cache alone; fetch with BATCH=1 polls and collects the open ones.
"""
import time

from pathlib import Path

import click

from ..config import run_options
from ..storage.cache import open_cache
from ..transport.ledger import BatchRecord, Ledger


def age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def batch_row(record: BatchRecord, now: float) -> str:
    total, completed, failed = record.counts
    counts = f"{len(record.asks)} sent, {completed} done, {failed} failed" if total else f"{len(record.asks)} sent"
    cost = "-" if record.cost is None else f"${record.cost:.4f}"
    state = record.status + ("" if record.collected else " (open)")
    return f"{record.id:<28} {state:<22} {counts:<32} {age_text(now - record.sent):>5} {cost:>10}  {record.note}"


def batch_table(records: list[BatchRecord]) -> str:
    now = time.time()
    header = f"{'id':<28} {'status':<22} {'requests':<32} {'age':>5} {'cost':>10}  note"
    return "\n".join([header] + [batch_row(record, now) for record in records])


@click.command("batches")
@run_options()
def batches_command(data_dir, run):
    """List the batches this cache knows for BASE_URL: id, last seen status, requests, age, cost.

    Example: python -m stages batches
    """
    cache_dir = Path(run.cache_dir)
    base_url = run.base_url
    if not cache_dir.is_dir():
        click.echo(f"batches: no cache at {cache_dir}, so no batches", err=True)
        return
    with open_cache(cache_dir) as cache:
        records = Ledger(cache, base_url.rstrip("/")).records()
    if records:
        click.echo(batch_table(records))
    still_open = sum(not record.collected for record in records)
    billed = sum(record.cost or 0.0 for record in records)
    click.echo(f"batches: {len(records)} known, {still_open} open, ${billed:.4f} billed; `make fetch BATCH=1` "
               "polls the open ones and collects their results", err=True)
