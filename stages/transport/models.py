"""The API's models list (`GET {BASE_URL}/models`), kept a day in the cache folder: a model's
entry, its listed prices and the request parameters it supports.
"""
import json

from ..errors import FatalAPIError, PipelineError
from .client import TransientHTTP, get_json

MODELS_CACHE_SECONDS = 24 * 3600
BATCH_SUFFIX = ":batch"
# Body fields that are routing or plumbing, not model parameters a provider must support.
NOT_PARAMETERS = {"model", "messages", "provider", "usage", "stream", "transforms", "route", "models", "user"}


def models_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/models"


def models_list(base_url: str, cache) -> list:
    """The entries of the models list, cached a day as JSON text; [] when unreachable or unreadable."""
    url = models_url(base_url)
    text = cache.get(f"models:{url}")
    if text is None:
        try:
            data = get_json(url, None, timeout=10)["data"]
        except (TransientHTTP, PipelineError, KeyError, TypeError):
            return []
        if not isinstance(data, list):
            return []
        text = json.dumps(data)
        cache.set(f"models:{url}", text, expire=MODELS_CACHE_SECONDS)
    return json.loads(text)


def model_entry(base_url: str, model: str, cache) -> dict | None:
    return next((e for e in models_list(base_url, cache) if isinstance(e, dict) and e.get("id") == model), None)


def base_slug(model: str) -> str:
    return model.removesuffix(BATCH_SUFFIX)


def batch_slug(model: str) -> str:
    return base_slug(model) + BATCH_SUFFIX


def body_parameters(body: dict) -> list[str]:
    """The model parameters a body sends, in the models list's names: a JSON-schema response
    format needs `structured_outputs` as well as `response_format`."""
    names = sorted(set(body) - NOT_PARAMETERS)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        names.append("structured_outputs")
    return names


def unsupported_parameters(body: dict, entry: dict | None) -> list[str]:
    """Parameters of the body that the model's entry does not list; [] when the list says nothing."""
    supported = entry.get("supported_parameters") if isinstance(entry, dict) else None
    if not isinstance(supported, list):
        return []
    return [name for name in body_parameters(body) if name not in supported]


def unsupported_line(model: str, names: list[str]) -> str:
    """How to read and fix a request that asks for parameters the model lacks."""
    listed = ", ".join(f"`{name}`" for name in names)
    fix = "set REASONING=default (sends no reasoning field)" if "reasoning" in names else "remove it from the body"
    return (f"{model} does not support {listed} (its models-list entry lacks it) and the requests ask providers "
            f"to support every parameter sent (require_parameters), so each fails with HTTP 404: "
            f"{fix}, or pick another MODEL")


def requires_parameters(body: dict) -> bool:
    """Whether the body asks OpenRouter to route only to providers supporting every parameter."""
    provider = body.get("provider")
    return isinstance(provider, dict) and bool(provider.get("require_parameters"))


def named_404(err: FatalAPIError, base_url: str, body: dict, cache) -> FatalAPIError:
    """A 404 for a body that sends parameters its model does not list, told as that; else unchanged."""
    if err.status != 404 or not requires_parameters(body):
        return err
    missing = unsupported_parameters(body, model_entry(base_url, body["model"], cache))
    if not missing:
        return err
    return FatalAPIError(f"HTTP 404, {unsupported_line(body['model'], missing)}", 404, err.detail)
