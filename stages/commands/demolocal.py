"""`make demo-local`: the whole chain against a real small model on a loopback server, no key.

Starts llama-cpp-python's server with SmolLM2-135M-Instruct (localserver.py), renders, fetches
and builds a dataset for a few seeds into DATA_DIR/local, prints what came out and why answers
were rejected, and stops the server however the run ends.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import click

from ..storage.run import RunSettings, write_record
from ..config import data_dir_option, option
from ..judging.rules import CheckChoice, completions_url
from ..storage.paths import prompt_dir
from ..localserver import MODEL_ALIAS, ServerSettings, local_server
from ..storage.cache import open_cache
from ..assemble import build_dataset, dedup_summary
from ..fetching import Job, interrupted_line, run_fetch, summary_line
from ..judging.rules import reviews_for, rules_for
from ..render import Settings, load_sources, render_all
from ..seedview import format_messages, rejected_answers
from ..storage.paths import dataset_path

PREFERRED_PORT = 8097   # used when free, so a rerun finds its answers under the same BASE_URL


@dataclass(frozen=True)
class LocalRun:
    """What a run against a 135M model needs: short answers, a few tries, one request at a time."""
    n: int = 8                  # about half the seeds of a 135M model end valid; 8 make none unlikely
    workers: int = 1            # llama-cpp-python's server answers one request at a time
    temperature: float = 0.7
    max_tokens: int = 400       # a 4-10 message conversation fits; a rambling one is cut (truncated)
    max_attempts: int = 3
    timeout: float = 300.0      # a request may wait behind the others on the one slot


def render_local(folder: Path, run: LocalRun) -> None:
    settings = Settings(model=MODEL_ALIAS, temperature=run.temperature, max_tokens=run.max_tokens,
                        openrouter=False, response_format="json_object")
    render_all(load_sources(), settings, run.n, prompt_dir(folder))


def run_local_demo(folder: Path, run: LocalRun) -> Path:
    """Prompts -> fetch -> dataset against the real model; returns the dataset's path."""
    checks = CheckChoice(max_attempts=run.max_attempts)
    render_local(folder, run)
    with local_server(folder / "server.log", ServerSettings(port=PREFERRED_PORT)) as server:
        click.echo(f"demo-local: {MODEL_ALIAS} served at {server.base_url} (log: {server.log_path})", err=True)
        job = Job(completions_url(server.base_url), folder, run.max_attempts, run.timeout, backoff=1.0,
                  rules=rules_for(checks), key="", openrouter=False)
        tally = run_fetch(job, folder / "cache", range(run.n), run.workers)
        base_url = server.base_url
    if tally.interrupted:  # Ctrl-C: the server is stopped; what was cached stays for the next run
        click.echo(interrupted_line(tally, run.n), err=True)
        raise click.exceptions.Exit(130)
    click.echo(summary_line(tally, run.n), err=True)
    settings = RunSettings(n=run.n, base_url=base_url, openrouter="0", model=MODEL_ALIAS, response_format="json_object",
                           temperature=run.temperature, max_tokens=run.max_tokens, max_attempts=run.max_attempts,
                           cache_dir=str(folder / "cache"))
    write_record(folder, settings)
    result = build_dataset(folder, settings)
    click.echo(f"demo-local: {result.tally.summary()}; {dedup_summary(result.dropped)}", err=True)
    with open_cache(folder / "cache") as cache:
        reviews = list(reviews_for(cache, range(run.n), folder, base_url, checks))
    click.echo(f"demo-local: answers rejected: {rejected_answers(reviews)}", err=True)
    return dataset_path(folder)


@click.command("demo-local")
@data_dir_option
@option("N", type=click.IntRange(1, 100), default=LocalRun.n, help="Conversations to try for.")
@option("WORKERS", type=click.IntRange(1, 8), default=LocalRun.workers, help="Requests in flight at once.")
@option("TEMPERATURE", type=click.FloatRange(0, 2), default=LocalRun.temperature, help="Sampling temperature.")
@option("MAX_TOKENS", type=click.IntRange(min=16), default=LocalRun.max_tokens, help="Answer token cap.")
@option("MAX_ATTEMPTS", type=click.IntRange(min=1), default=LocalRun.max_attempts, help="Answers asked per seed.")
def demo_local_command(data_dir, n, workers, temperature, max_tokens, max_attempts):
    """Run prompts -> fetch -> dataset against SmolLM2-135M on a loopback llama-cpp-python server.

    Example: python -m stages demo-local --n 8
    """
    run = LocalRun(n, workers, temperature, max_tokens, max_attempts)
    path = run_local_demo(data_dir / "local", run)
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[:3]):
        shown = [f"conversation {number + 1} of {len(lines)}:"] + format_messages(json.loads(line))
        click.echo("\n".join(shown) + "\n")
    click.echo(f"demo-local: the whole file is {path}", err=True)
