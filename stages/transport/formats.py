"""RESPONSE_FORMAT: how a request body asks for JSON, since servers accept different forms.

json_schema: strict structured output (OpenRouter, OpenAI, vLLM, SGLang, llama-server, Ollama).
json_object: JSON mode with the schema beside it, the form llama-cpp-python's server turns into a grammar.
none: no response_format at all; the prompt says which JSON to return and the checks do the rest.
"""
import json

RESPONSE_FORMATS = ("json_schema", "json_object", "none")
DEFAULT_FORMAT = "json_schema"
NOTE_HEADER = "Return only the JSON object, with no other text before or after it. Its JSON schema:"


def response_format(kind: str, name: str, schema: dict) -> dict | None:
    """The body's `response_format` for this kind; None for `none`."""
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
    if kind == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def schema_note(schema: dict) -> str:
    """What the prompt adds when no response_format carries the schema."""
    return f"\n\n{NOTE_HEADER}\n{json.dumps(schema, separators=(',', ':'))}\n"


def with_format(body: dict, kind: str, name: str, schema: dict) -> dict:
    """The body asking for JSON of this schema the RESPONSE_FORMAT way: in the field, or in the prompt."""
    body = {key: value for key, value in body.items() if key != "response_format"}
    field = response_format(kind, name, schema)
    if field is not None:
        return {**body, "response_format": field}
    *earlier, last = body["messages"]
    return {**body, "messages": [*earlier, {**last, "content": last["content"] + schema_note(schema)}]}


def format_of(body: dict) -> str:
    """Which RESPONSE_FORMAT a rendered body was made with (no field at all: none)."""
    field = body.get("response_format")
    if field is None:
        return "none"
    return "json_object" if isinstance(field, dict) and field.get("type") == "json_object" else DEFAULT_FORMAT


def requested_schema(body: dict) -> dict | None:
    """The schema a body asks for, wherever the format put it; None when it names none."""
    field = body.get("response_format")
    if isinstance(field, dict):
        inner = field.get("json_schema")
        schema = field.get("schema") or (inner.get("schema") if isinstance(inner, dict) else None)
        return schema if isinstance(schema, dict) else None
    messages = body.get("messages") or [{}]
    content = str(messages[-1].get("content", ""))
    if NOTE_HEADER not in content:
        return None
    try:
        return json.loads(content.rsplit(NOTE_HEADER, 1)[1])
    except ValueError:
        return None
