"""Dollars from tokens: the prices of a model (given, or from the models list), sync and batch,
and the cost of an answer whose API reported none (OpenAI, local servers, batch results).
"""
import json
from dataclasses import dataclass

from ..errors import PipelineError
from .answers import Usage
from .models import batch_slug, model_entry

BATCH_SHARE = 0.5   # the Batch API's usual discount, assumed when the models list has no :batch entry
CHARS_PER_TOKEN = 4           # a rough rule for English text; good enough for a budget
ASSUMED_OUTPUT_TOKENS = 1200  # a 4-10 message conversation plus some thinking, until answers say better


@dataclass(frozen=True)
class Prices:
    per_input_token: float
    per_output_token: float
    source: str
    per_cached_token: float | None = None   # None: cached prompt tokens cost as much as the others

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_price = self.per_input_token if self.per_cached_token is None else self.per_cached_token
        return ((usage.prompt_tokens - cached) * self.per_input_token + cached * cached_price
                + usage.completion_tokens * self.per_output_token)

    def scaled(self, share: float, source: str) -> "Prices":
        cached = None if self.per_cached_token is None else self.per_cached_token * share
        return Prices(self.per_input_token * share, self.per_output_token * share, source, cached)

    def per_million(self) -> str:
        return f"${self.per_input_token * 1e6:.2f} in, ${self.per_output_token * 1e6:.2f} out per million tokens"


def given_prices(price_in: float | None, price_out: float | None) -> Prices | None:
    """PRICE_IN and PRICE_OUT, in dollars per million tokens."""
    if (price_in is None) != (price_out is None):
        raise PipelineError("give both PRICE_IN and PRICE_OUT (dollars per million tokens), or neither")
    return Prices(price_in / 1e6, price_out / 1e6, "PRICE_IN/PRICE_OUT") if price_in is not None else None


def entry_prices(entry: dict | None, source: str) -> Prices | None:
    try:
        pricing = entry["pricing"]
        cached = pricing.get("input_cache_read")
        return Prices(float(pricing["prompt"]), float(pricing["completion"]), source,
                      float(cached) if cached not in (None, "") else None)
    except (KeyError, TypeError, ValueError):
        return None


def listed_prices(base_url: str, model: str, cache) -> Prices | None:
    """The model's prices from the API's models list, or None when unreachable or unlisted."""
    return entry_prices(model_entry(base_url, model, cache), "models list")


@dataclass(frozen=True)
class PriceBook:
    """Sync and batch prices of one model, or None where no price is known."""
    sync: Prices | None
    batch: Prices | None


def price_book(base_url: str, model: str, cache, given: Prices | None = None) -> PriceBook:
    """Given PRICE_IN/PRICE_OUT are the sync prices and the models list is not read; else both come
    from the list (the model's entry and its :batch one). A missing batch price is assumed to be
    BATCH_SHARE of the sync one."""
    sync = given or listed_prices(base_url, model, cache)
    batch = None if given else listed_prices(base_url, batch_slug(model), cache)
    if batch is None and sync is not None:
        batch = sync.scaled(BATCH_SHARE, f"assumed half of {sync.source}")
    return PriceBook(sync, batch)


def prompt_tokens(body: dict) -> int:
    """Roughly the prompt tokens of a request body, before it is sent."""
    text = json.dumps(body["messages"]) + json.dumps(body.get("response_format", {}))
    return len(text) // CHARS_PER_TOKEN


def request_estimate(body: dict, prices: Prices, output_tokens: float = ASSUMED_OUTPUT_TOKENS) -> float:
    """The expected dollars of one request: its prompt and an answer of `output_tokens`."""
    return prompt_tokens(body) * prices.per_input_token + output_tokens * prices.per_output_token


def attribute(cost: float, weights: list[float]) -> list[float]:
    """Split one bill over its answers in proportion to their weights (equal shares when all are 0)."""
    total = sum(weights)
    if not weights:
        return []
    if total <= 0:
        return [cost / len(weights)] * len(weights)
    return [cost * weight / total for weight in weights]


NO_PRICE_FOR_BUDGET = ("BUDGET needs a price and none is known: the API's models list lacks {model}, so spending could "
                       "not be counted for answers that report no usage.cost; give PRICE_IN and PRICE_OUT "
                       "(dollars per million tokens)")


def run_prices(book: PriceBook, batch: bool, budget: float | None, model: str) -> Prices | None:
    """The prices a run counts with (the batch ones with BATCH=1); BUDGET refuses to run without."""
    prices = book.batch if batch else book.sync
    if budget is not None and prices is None:
        raise PipelineError(NO_PRICE_FOR_BUDGET.format(model=model))
    return prices
