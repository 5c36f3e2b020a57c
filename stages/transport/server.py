"""Which server a run talks to, and what its request bodies may carry.

OpenRouter takes two fields no other OpenAI-compatible server knows: `provider` (route only to
providers that support every parameter) and `reasoning` (thinking on or off). They go only to
OpenRouter: decided from BASE_URL, or forced with OPENROUTER=1|0 for a gateway in front of it.
A server that refuses a field says so in a 400; `rejected_field` reads which one.
"""
import re
from urllib.parse import urlsplit

OPENROUTER_MODES = ("auto", "1", "0")
REASONING_EFFORTS = ("low", "medium", "high")
REASONING_WORDS = ("off", "default") + REASONING_EFFORTS


def is_openrouter(base_url: str, mode: str = "auto") -> bool:
    """OPENROUTER=1 or 0 decides; auto means: is BASE_URL's host openrouter.ai (or a subdomain)?"""
    if mode != "auto":
        return mode == "1"
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def reasoning_field(reasoning: str) -> dict | None:
    """OpenRouter's `reasoning` for REASONING: off, low|medium|high, a token budget, or default (no field)."""
    if reasoning == "default":
        return None
    if reasoning == "off":
        return {"effort": "none"}
    if reasoning in REASONING_EFFORTS:
        return {"effort": reasoning}
    return {"max_tokens": int(reasoning)}


def server_fields(openrouter: bool, reasoning: str) -> dict:
    """The body fields that only OpenRouter gets; {} for any other server."""
    if not openrouter:
        return {}
    fields = {"provider": {"require_parameters": True}}
    thinking = reasoning_field(reasoning)
    if thinking is not None:
        fields["reasoning"] = thinking
    return fields


# How servers name a field they refuse: OpenAI, pydantic-based servers, and a few others' wording.
FIELD_PATTERNS = (r"unrecognized request arguments? supplied:\s*'?([\w.]+)",
                  r"unsupported parameter:?\s*'([\w.]+)'", r"unsupported parameter:?\s*([\w.]+)",
                  r"unknown (?:parameter|field|argument):?\s*'?([\w.]+)",
                  r"property '([\w.]+)' is unsupported",
                  r"""["']loc["']:\s*[(\[]?["']body["'],\s*["']([\w.]+)["'].{0,80}extra""",
                  r"extra inputs are not permitted.{0,80}'([\w.]+)'")
SCHEMA_WORDS = ("response_format", "json_schema", "structured output")
REFUSAL_WORDS = ("not supported", "unsupported", "not support", "invalid", "unknown", "unrecognized", "not allowed")


def rejected_field(message: str) -> str | None:
    """The request field a 400's message refuses, or None when it names none."""
    text = message.lower()
    if "invalid schema" in text:
        return "response_format.json_schema.schema"
    for pattern in FIELD_PATTERNS:
        match = re.search(pattern, text, re.DOTALL)
        if match:
            return match.group(1)
    if any(word in text for word in SCHEMA_WORDS) and any(word in text for word in REFUSAL_WORDS):
        return "response_format"
    return None


def field_fix(field: str) -> str:
    """What to change when the server refuses this field."""
    root = field.split(".")[0]
    if field.endswith(".schema"):
        return ("the server's strict mode refuses prompts/schema.json (every object needs "
                "additionalProperties false and every property required): fix the schema file")
    if root in ("provider", "reasoning"):
        extra = " (or REASONING=default to leave reasoning out)" if root == "reasoning" else ""
        return (f"`{root}` is an OpenRouter-only field: set OPENROUTER=0 for this BASE_URL{extra}, "
                "and render the prompts again (make does)")
    if root in ("response_format", "json_schema"):
        return ("this server or model has no JSON-schema structured output (response_format json_schema): "
                "use a model and server that support it (see the README's Other servers)")
    return "this program's request bodies need it: use a server or model that accepts it"


def rejection_line(message: str, status: int = 400) -> str | None:
    """One line for a 400 (or a 422) that refuses a named field, or None to fall back to the generic text."""
    field = rejected_field(message)
    if field is None:
        return None
    return f"HTTP {status}, the server refuses the request field `{field}` ({message[:120]}); {field_fix(field)}"
