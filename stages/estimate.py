"""`make estimate`: what the remaining requests will cost, before spending anything.

Counts the seeds still without a valid cached answer, approximates the prompt tokens per
request, and prices them from the API's models list (cached for a day) or PRICE_IN/PRICE_OUT.
"""
import json
from dataclasses import dataclass

import click
import requests

from .cache import open_cache
from .config import option, review_options, seed_range
from .errors import PipelineError
from .prompts import load_body
from .validate import reviews_for

CHARS_PER_TOKEN = 4           # a rough rule for English text; good enough for a budget
ASSUMED_OUTPUT_TOKENS = 1200  # a 4-10 message conversation plus some thinking
PRICE_CACHE_SECONDS = 24 * 3600
JUDGE_OUTPUT_TOKENS = 80      # a verdict, and a quote when it fails
CONVERSATION_TOKENS = 600     # the conversation quoted in a judge prompt


@dataclass(frozen=True)
class Prices:
    per_input_token: float
    per_output_token: float
    source: str


def prompt_tokens(body: dict) -> int:
    text = json.dumps(body["messages"]) + json.dumps(body.get("response_format", {}))
    return len(text) // CHARS_PER_TOKEN


def models_list(url: str, cache) -> list:
    """GET {BASE_URL}/models, kept a day in the cache folder as JSON text; [] when unreachable."""
    text = cache.get(f"models:{url}")
    if text is None:
        try:
            text = json.dumps(requests.get(url, timeout=10).json()["data"])
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return []
        cache.set(f"models:{url}", text, expire=PRICE_CACHE_SECONDS)
    return json.loads(text)


def listed_prices(base_url: str, model: str, cache) -> Prices | None:
    """The model's prices from the API's models list, or None when unreachable or unlisted."""
    url = base_url.rstrip("/") + "/models"
    for entry in models_list(url, cache):
        try:
            if entry["id"] == model:
                return Prices(float(entry["pricing"]["prompt"]), float(entry["pricing"]["completion"]), url)
        except (KeyError, TypeError, ValueError):
            continue
    return None


def given_prices(price_in: float | None, price_out: float | None) -> Prices | None:
    if (price_in is None) != (price_out is None):
        raise PipelineError("give both PRICE_IN and PRICE_OUT (dollars per million tokens), or neither")
    return Prices(price_in / 1e6, price_out / 1e6, "PRICE_IN/PRICE_OUT") if price_in is not None else None


def judge_line(checks, sample: dict, prices: Prices, base_url: str, cache, conversations: int) -> tuple[str, float]:
    """What judging these conversations adds: a line and its dollars (JUDGE=1 only)."""
    from .judge import judge_body
    from .validate import rules_for
    spec = rules_for(checks).judge
    body = judge_body(sample, [{"role": "user", "content": "x" * CONVERSATION_TOKENS * CHARS_PER_TOKEN}], spec)
    judge_prices = prices if prices.source == "PRICE_IN/PRICE_OUT" else (
        listed_prices(base_url, body["model"], cache) or prices)
    each = prompt_tokens(body) * judge_prices.per_input_token + JUDGE_OUTPUT_TOKENS * judge_prices.per_output_token
    line = (f"judge ({body['model']}): ~{prompt_tokens(body)} prompt and ~{JUDGE_OUTPUT_TOKENS} output tokens per "
            f"conversation, ${each:.4f} each, ${each * 1000:.2f} per 1,000 conversations")
    return line, each * conversations


NO_PRICE = ("no price for this model: the models list is unreachable or lacks it; "
            "give PRICE_IN and PRICE_OUT in dollars per million tokens")


@click.command("estimate")
@review_options
@option("PRICE_IN", type=click.FloatRange(min=0), default=None, help="Dollars per million input tokens.")
@option("PRICE_OUT", type=click.FloatRange(min=0), default=None, help="Dollars per million output tokens.")
def estimate_command(n, seeds, data_dir, cache_dir, base_url, checks, price_in, price_out):
    """Estimate the cost of the requests still needed; sends no chat requests.

    Example: python -m stages estimate --n 1000
    """
    seeds, prices = seed_range(n, seeds), given_prices(price_in, price_out)
    if not seeds:
        raise PipelineError("no seeds to estimate: raise N")
    sample = load_body(data_dir, seeds[0])
    with open_cache(cache_dir) as cache:
        missing = [r.seed for r in reviews_for(cache, seeds, data_dir, base_url, checks) if r.conversation is None]
        prices = prices or listed_prices(base_url, sample["model"], cache)
        if prices is None:
            raise PipelineError(NO_PRICE)
        judged = judge_line(checks, sample, prices, base_url, cache, len(missing)) if checks.judge else ("", 0.0)
    tokens_in = prompt_tokens(sample)
    each = tokens_in * prices.per_input_token + ASSUMED_OUTPUT_TOKENS * prices.per_output_token
    click.echo("\n".join(line for line in [
        f"seeds: {len(seeds)}, still without a valid answer: {len(missing)} (at least one request each)",
        f"prompt tokens per request: ~{tokens_in}; output tokens per answer: ~{ASSUMED_OUTPUT_TOKENS} (assumed)",
        f"price of {sample['model']}: ${prices.per_input_token * 1e6:.2f} in, "
        f"${prices.per_output_token * 1e6:.2f} out per million tokens ({prices.source})",
        judged[0],
        f"estimated cost: ${each * len(missing) + judged[1]:.2f} (${each:.4f} per request, before re-asks"
        f"{', judge included' if checks.judge else ''})"] if line))
