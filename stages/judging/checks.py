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
from .leaks import DENIAL, JUNK, LEAK, find_problem

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




def is_message_list(messages: object) -> bool:
    return isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a conversation: its reason code, where or what (a sentence), and the
    leak check's rule when that found it."""
    reason: str
    detail: str = ""
    rule: str = ""


def order_detail(messages: list[dict]) -> str:
    """Where the user/assistant alternation first breaks."""
    index = first_order_break(messages)
    return "" if index is None else f"message {index + 1} is {messages[index]['role']!r}, expected " \
                                     f"{('user', 'assistant')[index % 2]!r}"


ROLE_DETAILS = {"role_order": order_detail,
                "ends_with_user": lambda messages: f"the last message (number {len(messages)}) is the user's"}


def shape_problems(messages: list, facts: Facts | None, ascii_only: bool) -> list[Problem]:
    return [Problem(reason, ROLE_DETAILS[reason](messages) if reason in ROLE_DETAILS else "")
            for reason in role_problems(messages, ascii_only)]


def identity_problems(messages: list, facts: Facts | None, ascii_only: bool) -> list[Problem]:
    """The leak check: another identity claimed, the assistant's own denied, or a junk answer."""
    found = find_problem(messages, facts) if facts is not None else None
    return [Problem(found.reason, found.sentence, found.rule)] if found else []


# Every check of a well-formed conversation, in order: the review of an answer stops at the first
# that finds something, `make audit` runs them all. A new check is added here, and both use it.
CONVERSATION_CHECKS = (shape_problems, identity_problems)


def conversation_problems(messages: list, facts: Facts | None, ascii_only: bool = False,
                          every: bool = False) -> list[Problem]:
    found: list[Problem] = []
    for check in CONVERSATION_CHECKS:
        found += check(messages, facts, ascii_only)
        if found and not every:
            break
    return found


def checked_verdict(messages: list, facts: Facts | None, ascii_only: bool) -> Verdict:
    found = conversation_problems(messages, facts, ascii_only)
    identity = [p for p in found if p.reason in IDENTITY_REASONS]
    return Verdict(messages, [p.reason for p in found], tuple((p.reason, p.detail) for p in identity),
                   identity[0].rule if identity else "")


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
    return checked_verdict(messages, facts, ascii_only)


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
