"""`make demo`: the whole chain against the loopback fake API, with no key and no network.

Uses its own data and cache folders under DATA_DIR/demo and prints a few conversations.
"""
import json
from pathlib import Path

import click

from ..storage.run import RunSettings, record_path, write_record
from ..config import data_dir_option, option
from ..judging.rules import CheckChoice, completions_url
from ..storage.paths import prompt_dir
from ..fake.api import FakeConfig, start_fake
from ..fake.batch import BatchFake
from ..judging.checks import LEAK
from ..storage.cache import open_cache
from ..transport.batch import BatchSettings
from ..assemble import build_dataset, dedup_summary
from ..fetching import Job, run_fetch, summary_line
from ..judging.rules import reviews_for, rules_for
from ..render import Settings, load_sources, render_all
from ..seedview import first_example, format_messages, rejected_answers
from ..storage.paths import dataset_path

DEMO_KEY = "demo-key-for-the-fake-api"
DEMO_ATTEMPTS = 12


def demo_batches(n: int) -> BatchSettings:
    return BatchSettings(size=max(5, n // 2), poll_first=0.3, poll_cap=1.0)


def run_demo(folder: Path, n: int, workers: int, fault_rate: float, batch: bool = False) -> Path:
    """Conversations checked by the rules and the judge pass, both as a real run would; with
    `batch`, the requests travel through the fake's Batch API."""
    sources, checks = load_sources(), CheckChoice(judge=True, max_attempts=DEMO_ATTEMPTS)
    render_all(sources, Settings(), n, prompt_dir(folder))
    server = start_fake(FakeConfig(latency=0.2, jitter=0.1, fault_rate=fault_rate, retry_after=0.2,
                                   leak_rate=0.3, denial_rate=0.2, judge_fail_rate=0.1,
                                   # BATCH=1: batches end in a second; a few requests fail inside them
                                   batch=BatchFake(delay=1.0, slugs="batch_only", error_rate=0.05)))
    try:
        # The fake rejects often on purpose; more attempts keep a seed from running out by bad luck.
        job = Job(completions_url(server.base_url), folder, max_attempts=checks.max_attempts, timeout=30, backoff=0.1,
                  rules=rules_for(checks), key=DEMO_KEY, batch=demo_batches(n) if batch else None)
        click.echo(summary_line(run_fetch(job, folder / "cache", range(n), workers), n), err=True)
        if batch:
            click.echo(f"demo: the fake's Batch API ran {len(server.batches.batches)} batches and billed "
                       f"${server.batches.billed():.4f} for them", err=True)
        # OPENROUTER=1: the bodies were rendered with OpenRouter's fields (Settings()), so a later
        # `make prompts DATA_DIR=data/demo` renders the same bodies and finds the demo's answers.
        run = RunSettings(n=n, base_url=server.base_url, openrouter="1", judge=True, max_attempts=checks.max_attempts,
                          cache_dir=str(folder / "cache"))
        write_record(folder, run)
        result = build_dataset(folder, run)
        click.echo(f"demo: {result.tally.summary()}; {dedup_summary(result.dropped)}; "
                   f"fake API saw {server.stats.requests} requests", err=True)
        with open_cache(folder / "cache") as cache:
            reviews = list(reviews_for(cache, range(n), folder, server.base_url, checks))
        click.echo(f"demo: answers rejected and asked again: {rejected_answers(reviews)}", err=True)
        click.echo("\n".join(first_example(reviews, LEAK, "an answer that leaked another identity, asked again")
                              + first_example(reviews, "judge:", "a conversation the judge failed and its replacement")),
                   err=True)
        click.echo(look_closer(folder, n, server.base_url, checks), err=True)
    finally:
        server.shutdown()
        server.server_close()
    return dataset_path(folder)


def look_closer(folder: Path, n: int, base_url: str, checks: CheckChoice) -> str:
    """The settings under which `make show` and `make stats` find this run's answers (the fake's port
    is in every cache key, so they work on this run's cache until the next demo)."""
    return (f"demo: to look closer, `make show SEED=3 DATA_DIR={folder}`, `make stats DATA_DIR={folder}` and "
            f"`make report DATA_DIR={folder}` "
            f"(the run's settings are recorded in {record_path(folder)})")


@click.command("demo")
@data_dir_option
@option("N", type=click.IntRange(min=1, max=1000), default=20, help="Conversations to make.")
@option("WORKERS", type=click.IntRange(1, 64), default=8, help="Requests in flight at once.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Share of faulty answers from the fake API.")
@option("BATCH", type=click.BOOL, default=False, help="Send the requests through the fake's Batch API (1 or 0).")
def demo_command(data_dir, n, workers, fault_rate, batch):
    """Run prompts -> fetch -> dataset against the loopback fake API and show a few conversations.

    Example: python -m stages demo --n 20
    """
    path = run_demo(data_dir / "demo", n, workers, fault_rate, batch)
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[:3]):
        shown = [f"conversation {number + 1} of {len(lines)}:"] + format_messages(json.loads(line))
        click.echo("\n".join(shown) + "\n")
    click.echo(f"demo: the whole file is {path}", err=True)
