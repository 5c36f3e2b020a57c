"""The rules a conversation must pass: the JSON schema, the role order nanochat expects, and
(given the identity's facts) no assistant claim of another model's identity (`identity_leak`), no
denial of its own (`self_denial`) and no error string or stack trace for an answer (`junk_answer`).

`judge` returns the messages and a list of short reason codes; no reasons means valid.
"""
import json
import threading
from dataclasses import dataclass, field

from ..errors import PipelineError
from .identity import Facts
from .leaks import DENIAL, JUNK, LEAK, Finding, find_problem

IDENTITY_REASONS = (LEAK, DENIAL, JUNK)  # the reasons of the leak check, found only when nothing else is wrong
BAD_FINISH = {"length": "truncated", "content_filter": "content_filter"}


@dataclass(frozen=True)
class Verdict:
    messages: list | None
    reasons: list[str] = field(default_factory=list)
    problems: tuple = ()  # a judge's (kind, quote) pairs; the leak check's ("identity_leak", sentence)
    rule: str = ""        # the leak check's rule that fired (stages/judging/leaks.py RULES), when it fired

    @property
    def valid(self) -> bool:
        return not self.reasons


FAST_DRAFTS = ("", "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
               "http://json-schema.org/draft-07/schema#")


class CompiledSchema:
    """fastjsonschema's compiled check: some 20x faster than jsonschema, which matters when a
    10,000-seed rerun judges every cached answer. Same is_valid() as a jsonschema validator."""

    def __init__(self, schema: dict):
        import fastjsonschema
        self.check = fastjsonschema.compile(schema, use_default=False)
        self.failure = fastjsonschema.JsonSchemaValueException

    def is_valid(self, data: object) -> bool:
        try:
            self.check(data)
        except self.failure:
            return False
        return True


class LazyValidator:
    """A validator built on the first is_valid(), so commands that only compare fingerprints (a
    fetch with nothing to send) build none. It skips jsonschema's check of the schema itself
    (a fifth of a second to import) when fastjsonschema compiles it: that refuses broken schemas
    too, and then make_validator says what is wrong. `make prompts` runs the full check when it
    renders the schema, before any request carries it."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.validator = None
        self.lock = threading.Lock()

    def is_valid(self, data: object) -> bool:
        if self.validator is None:
            with self.lock:
                self.validator = self.validator or quick_validator(self.schema)
        return self.validator.is_valid(data)


def quick_validator(schema: dict):
    if isinstance(schema, dict) and schema.get("$schema", "") in FAST_DRAFTS:
        try:
            return CompiledSchema(schema)
        except Exception:  # fastjsonschema refuses it: let jsonschema name the problem
            pass
    return make_validator(schema)


def make_validator(schema: dict):
    """A validator with is_valid(); jsonschema checks the schema itself and covers newer drafts."""
    import jsonschema
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
    if first_order_break(messages) is not None:
        reasons.append("role_order")
    if messages[-1]["role"] != "assistant":
        reasons.append("ends_with_user")
    if any(not m["content"].strip() for m in messages):
        reasons.append("empty_message")
    if ascii_only and not all_ascii(messages):
        reasons.append("non_ascii")
    return reasons


def first_order_break(messages: list[dict]) -> int | None:
    """The index of the first message out of the user/assistant alternation, or None."""
    return next((i for i, m in enumerate(messages) if m["role"] != ("user", "assistant")[i % 2]), None)


def all_ascii(messages: list[dict]) -> bool:
    return all(m["content"].isascii() for m in messages)


def add_ascii_rule(verdict: Verdict) -> Verdict:
    """A conversation's verdict with ASCII=1, from its verdict with ASCII=0: the same as judging
    it again. non_ascii is role_problems' last check, a too short conversation gets no other, and
    the leak check runs only on a conversation with no other reason, so non_ascii replaces a leak."""
    if verdict.messages is None or verdict.reasons == ["too_short"] or all_ascii(verdict.messages):
        return verdict
    return Verdict(verdict.messages, [r for r in verdict.reasons if r not in IDENTITY_REASONS] + ["non_ascii"])


def is_message_list(messages: object) -> bool:
    return isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages)


def conversation_problem(messages: list, facts: Facts) -> Finding | None:
    """The leak check's finding on a well-formed conversation: a leak, a self-denial or a junk answer."""
    return find_problem(messages, facts)


def leak_verdict(messages: list, reasons: list[str], facts: Facts | None) -> Verdict:
    found = conversation_problem(messages, facts) if facts is not None and not reasons else None
    if found is None:
        return Verdict(messages, reasons)
    return Verdict(messages, [found.reason], ((found.reason, found.sentence),), found.rule)


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
    messages = without_unanswered_question(messages)
    return leak_verdict(messages, role_problems(messages, ascii_only), facts)


def without_unanswered_question(messages: list[dict]) -> list[dict]:
    """A conversation that stops after a user message keeps every answer it has: the last question,
    which nothing answers and nothing trains on, is dropped instead of re-asking the whole seed."""
    if len(messages) >= 3 and messages[-1]["role"] == "user" and messages[-2]["role"] == "assistant":
        return messages[:-1]
    return messages


def judge(completion: dict, validator, ascii_only: bool = False, facts: Facts | None = None) -> Verdict:
    """Judge a parsed completion (see answers.parse_completion)."""
    choice = completion["choices"][0]
    finish = choice.get("finish_reason")
    if finish in BAD_FINISH:
        return Verdict(None, [BAD_FINISH[finish]])
    message = choice.get("message")
    return judge_content(message.get("content") if isinstance(message, dict) else None, validator, ascii_only, facts)
