"""`make estimate`: what the remaining requests will cost, sync and with BATCH=1, before spending anything.

Counts the seeds still without a valid cached answer, approximates the prompt tokens per
request, prices them from the API's models list (cached for a day) or PRICE_IN/PRICE_OUT, and
warns when the request body sends a parameter the model's models-list entry does not support.
"""
from pathlib import Path

import click

from ..config import option, run_options
from ..judging.rules import checks_of
from ..errors import PipelineError
from ..judging.judge import judge_body
from ..storage.bodies import load_body
from ..storage.cache import open_cache
from ..transport.models import model_entry, unsupported_line, unsupported_parameters
from ..transport.prices import (ASSUMED_OUTPUT_TOKENS, CHARS_PER_TOKEN, PriceBook, Prices, given_prices, price_book,
                                prompt_tokens, request_estimate)
from ..judging.rules import reviews_for, rules_for

JUDGE_OUTPUT_TOKENS = 80      # a verdict, and a quote when it fails
CONVERSATION_TOKENS = 600     # the conversation quoted in a judge prompt


def judge_request(checks, sample: dict) -> dict:
    spec = rules_for(checks).judge
    return judge_body(sample, [{"role": "user", "content": "x" * CONVERSATION_TOKENS * CHARS_PER_TOKEN}], spec)


def judge_book(body: dict, model: str, book: PriceBook, given: Prices | None, base_url: str, cache) -> PriceBook:
    """The judge model's prices: the given ones, its own from the list, else the conversations' model's."""
    if given is not None or body["model"] == model:
        return book
    own = price_book(base_url, body["model"], cache)
    return PriceBook(own.sync or book.sync, own.batch or book.batch)


def parameter_warnings(base_url: str, bodies: list[dict], cache) -> list[str]:
    """One warning per model whose requests send parameters it does not support, when the body asks
    providers to support every parameter (require_parameters): each request would fail with 404."""
    warnings = []
    for body in bodies:
        if not (body.get("provider") or {}).get("require_parameters"):
            continue
        missing = unsupported_parameters(body, model_entry(base_url, body["model"], cache))
        if missing:
            warnings.append("warning: " + unsupported_line(body["model"], missing))
    return warnings


def price_lines(model: str, book: PriceBook) -> list[str]:
    lines = [f"price of {model}: {book.sync.per_million()} ({book.sync.source})"]
    if book.batch is not None:
        lines.append(f"  with BATCH=1: {book.batch.per_million()} ({book.batch.source})")
    return lines


def judge_line(body: dict, prices: Prices) -> tuple[str, float]:
    each = request_estimate(body, prices, JUDGE_OUTPUT_TOKENS)
    line = (f"judge ({body['model']}): ~{prompt_tokens(body)} prompt and ~{JUDGE_OUTPUT_TOKENS} output tokens per "
            f"conversation, ${each:.4f} each, ${each * 1000:.2f} per 1,000 conversations")
    return line, each


def cost_table(totals: dict[str, tuple[float, float]], judged: bool) -> list[str]:
    """Sync and batch side by side: per conversation, and for every seed still missing."""
    row = "{:<20}{:>12}{:>12}"
    return [row.format("", "sync", "BATCH=1"),
            row.format("per conversation", *(f"${totals[mode][0]:.4f}" for mode in ("sync", "batch"))),
            row.format("estimated cost", *(f"${totals[mode][1]:.2f}" for mode in ("sync", "batch")))
            + f"  (before re-asks{', judge included' if judged else ''})"]


NO_PRICE = ("no price for this model: the models list is unreachable or lacks it; "
            "give PRICE_IN and PRICE_OUT in dollars per million tokens")


@click.command("estimate")
@run_options()
@option("PRICE_IN", type=click.FloatRange(min=0), default=None, help="Dollars per million input tokens.")
@option("PRICE_OUT", type=click.FloatRange(min=0), default=None, help="Dollars per million output tokens.")
def estimate_command(data_dir, run, price_in, price_out):
    """Estimate the cost of the requests still needed, sync and with BATCH=1; sends no chat requests.

    Example: python -m stages estimate --n 1000
    """
    cache_dir = Path(run.cache_dir)
    seeds, given = run.seed_range, given_prices(price_in, price_out)
    base_url, checks = run.base_url, checks_of(run)
    if not seeds:
        raise PipelineError("no seeds to estimate: raise N")
    sample = load_body(data_dir, seeds[0])
    judge = judge_request(checks, sample) if checks.judge else None
    with open_cache(cache_dir) as cache:
        missing = [r.seed for r in reviews_for(cache, seeds, data_dir, base_url, checks) if r.conversation is None]
        book = price_book(base_url, sample["model"], cache, given)
        if book.sync is None:
            raise PipelineError(NO_PRICE)
        judged = judge_book(judge, sample["model"], book, given, base_url, cache) if judge else None
        warnings = parameter_warnings(base_url, [sample] + ([judge] if judge else []), cache)
    lines = [f"seeds: {len(seeds)}, still without a valid answer: {len(missing)} (at least one request each)",
             f"prompt tokens per request: ~{prompt_tokens(sample)}; output tokens per answer: "
             f"~{ASSUMED_OUTPUT_TOKENS} (assumed)"] + price_lines(sample["model"], book)
    totals = {}
    for mode in ("sync", "batch"):
        prices = getattr(book, mode)
        each = request_estimate(sample, prices)
        if judge:
            line, judge_each = judge_line(judge, getattr(judged, mode))
            lines += [line] if mode == "sync" else []
            each += judge_each
        totals[mode] = (each, each * len(missing))
    lines += cost_table(totals, bool(judge))
    click.echo("\n".join(lines + warnings))
