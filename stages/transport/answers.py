"""Make sense of a chat-completions answer body: a usable completion, a transient failure, or a fatal one.

OpenRouter can report failures inside HTTP 200 and can pad the body with keep-alive whitespace.
"""
import json
from dataclasses import dataclass, fields

from ..errors import FatalAPIError
from .server import rejection_line

# Statuses that doom every request of the run; the rest of the 4xx/5xx range is worth retrying.
FATAL_STATUSES = {400: "the request was rejected as malformed",
                  401: "the API key was rejected",
                  402: "the account is out of credits",
                  403: "the request was refused by moderation or a guardrail",
                  404: "the model or a provider supporting these parameters was not found",
                  413: "the request is too large"}
FATAL_FIXES = {400: "check MODEL and the files in prompts/",
               401: "check API_KEY, or for OpenRouter OPENROUTER_API_KEY or openroutertoken.txt",
               402: "add credits or lower MAX_TOKENS",
               403: "soften the prompt sources in prompts/",
               404: "check BASE_URL (the API root, e.g. http://127.0.0.1:8080/v1) and MODEL, or pick a model "
                    "that supports structured outputs (and REASONING=default for a model that cannot think)",
               413: "shorten the prompt sources in prompts/"}


class TransientAnswer(Exception):
    """Nothing usable came back; asking again may work. Not cached, not an attempt."""


@dataclass(frozen=True)
class Usage:
    """Tokens and dollars. completion_tokens include the reasoning ones (billed as output);
    cached_tokens are the part of prompt_tokens read from the provider's prompt cache."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def fatal_error(status: int, detail: str = "") -> FatalAPIError:
    """One line for a status that dooms the run; a 400 that names a refused field says which and the fix."""
    refused = rejection_line(detail) if status == 400 else None
    if refused:
        return FatalAPIError(refused, status, detail)
    said = f": {detail[:160]}" if detail else ""
    return FatalAPIError(f"HTTP {status}, {FATAL_STATUSES[status]}{said}; {FATAL_FIXES[status]}", status, detail)


def key_wanted(detail: str = "") -> FatalAPIError:
    """A 401 to a request sent without a key: the server wants one."""
    said = f" ({detail[:120]})" if detail else ""
    return FatalAPIError(f"HTTP 401, the server wants an API key and none was sent{said}; set API_KEY "
                         "(OPENROUTER_API_KEY and openroutertoken.txt are sent to OpenRouter only; "
                         "OPENROUTER=1 treats BASE_URL as a gateway to OpenRouter)")


def error_message(data: object) -> str:
    """The API's own words from an {"error": {...}} body, or ''."""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or "")


def error_code(data: dict) -> int | None:
    error = data.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def parse_completion(text: str) -> dict:
    """The completion in a 200 body; raises TransientAnswer or FatalAPIError otherwise."""
    if not text.strip():
        raise TransientAnswer("empty body")
    try:
        data = json.loads(text)  # json.loads already skips leading keep-alive whitespace
    except json.JSONDecodeError:
        raise TransientAnswer("body is not JSON") from None
    if not isinstance(data, dict):
        raise TransientAnswer("body is not a JSON object")
    if data.get("error"):
        if error_code(data) in FATAL_STATUSES:
            raise fatal_error(error_code(data), error_message(data))
        raise TransientAnswer(f"error in body: {error_message(data)[:80]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise TransientAnswer("no choices in body")
    if choices[0].get("finish_reason") == "error":
        raise TransientAnswer("finish_reason error")
    return data


def number(data: object, name: str, kind=int):
    """data[name] as a number; 0 when absent or not a number."""
    try:
        return kind((data.get(name) if isinstance(data, dict) else 0) or 0)
    except (TypeError, ValueError):
        return kind(0)


def usage_of(completion: dict) -> Usage:
    """Tokens (with the cached and reasoning details) and the reported cost (0 when none)."""
    usage = completion.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    return Usage(number(usage, "prompt_tokens"), number(usage, "completion_tokens"), number(usage, "cost", float),
                 number(usage.get("prompt_tokens_details"), "cached_tokens"),
                 number(usage.get("completion_tokens_details"), "reasoning_tokens"))


def reported_cost(completion: dict) -> float | None:
    """The answer's own usage.cost, or None when the API sent none (OpenAI, local servers, batch results)."""
    usage = completion.get("usage")
    if not isinstance(usage, dict) or usage.get("cost") is None:
        return None
    try:
        return float(usage["cost"])
    except (TypeError, ValueError):
        return None
