"""Dollars from tokens: the prices of a model (given, or from the models list), sync and batch,
and the cost of an answer whose API reported none (OpenAI, local servers, batch results).
"""
from dataclasses import dataclass

from ..errors import PipelineError
from .answers import Usage
from .models import batch_slug, model_entry

BATCH_SHARE = 0.5   # the Batch API's usual discount, assumed when the models list has no :batch entry


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
    """PRICE_IN/PRICE_OUT are the sync prices; the batch ones come from the model's :batch entry in
    the models list, else are assumed to be BATCH_SHARE of the sync ones."""
    sync = given or listed_prices(base_url, model, cache)
    batch = listed_prices(base_url, batch_slug(model), cache)
    if batch is None and sync is not None:
        batch = sync.scaled(BATCH_SHARE, f"half of {sync.source} (assumed)")
    return PriceBook(sync, batch)
