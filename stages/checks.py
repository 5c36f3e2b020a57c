"""The rules a conversation must pass: the JSON schema, the role order nanochat expects, and
(given the identity's facts) no assistant claim of another model's identity (`identity_leak`).

`judge` returns the messages and a list of short reason codes; no reasons means valid.
"""
import json
from dataclasses import dataclass, field

import fastjsonschema
import jsonschema

from .errors import PipelineError
from .identity import Facts
from .leaks import find_leak

LEAK = "identity_leak"
BAD_FINISH = {"length": "truncated", "content_filter": "content_filter"}


@dataclass(frozen=True)
class Verdict:
    messages: list | None
    reasons: list[str] = field(default_factory=list)
    problems: tuple = ()  # a judge's (kind, quote) pairs; the leak check's ("identity_leak", sentence)

    @property
    def valid(self) -> bool:
        return not self.reasons


FAST_DRAFTS = ("", "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
               "http://json-schema.org/draft-07/schema#")


class CompiledSchema:
    """fastjsonschema's compiled check: some 20x faster than jsonschema, which matters when a
    10,000-seed rerun judges every cached answer. Same is_valid() as a jsonschema validator."""

    def __init__(self, schema: dict):
        self.check = fastjsonschema.compile(schema, use_default=False)

    def is_valid(self, data: object) -> bool:
        try:
            self.check(data)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True


def make_validator(schema: dict):
    """A validator with is_valid(); jsonschema checks the schema itself and covers newer drafts."""
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        raise PipelineError(f"prompts/schema.json is not a valid JSON schema: {err.message}") from None
    if schema.get("$schema", "") in FAST_DRAFTS:
        return CompiledSchema(schema)
    return cls(schema)


def strip_fences(text: str) -> str:
    """Some models wrap JSON in a ```json fence despite structured output; accept that."""
    text = text.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].removeprefix("json")
    return text


def role_problems(messages: list, ascii_only: bool) -> list[str]:
    if len(messages) < 2:
        return ["too_short"]
    reasons = []
    if any(m["role"] != ("user", "assistant")[i % 2] for i, m in enumerate(messages)):
        reasons.append("role_order")
    if messages[-1]["role"] != "assistant":
        reasons.append("ends_with_user")
    if any(not m["content"].strip() for m in messages):
        reasons.append("empty_message")
    if ascii_only and not all(m["content"].isascii() for m in messages):
        reasons.append("non_ascii")
    return reasons


def is_message_list(messages: object) -> bool:
    return isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages)


def leak_verdict(messages: list, reasons: list[str], facts: Facts | None) -> Verdict:
    leak = find_leak(messages, facts) if facts is not None and not reasons else None
    if leak is None:
        return Verdict(messages, reasons)
    return Verdict(messages, [LEAK], ((LEAK, leak),))


def judge_content(content: object, validator, ascii_only: bool = False, facts: Facts | None = None) -> Verdict:
    if not isinstance(content, str) or not content.strip():
        return Verdict(None, ["no_content"])
    try:
        data = json.loads(strip_fences(content))
    except json.JSONDecodeError:
        return Verdict(None, ["not_json"])
    if not validator.is_valid(data):
        return Verdict(None, ["schema"])
    messages = data.get("messages") if isinstance(data, dict) else None
    if not is_message_list(messages):
        return Verdict(None, ["schema"])  # a custom schema may allow other shapes; nanochat does not
    return leak_verdict(messages, role_problems(messages, ascii_only), facts)


def judge(completion: dict, validator, ascii_only: bool = False, facts: Facts | None = None) -> Verdict:
    """Judge a parsed completion (see answers.parse_completion)."""
    choice = completion["choices"][0]
    finish = choice.get("finish_reason")
    if finish in BAD_FINISH:
        return Verdict(None, [BAD_FINISH[finish]])
    message = choice.get("message")
    return judge_content(message.get("content") if isinstance(message, dict) else None, validator, ascii_only, facts)
