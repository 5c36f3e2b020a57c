"""The judge pass (JUDGE=1): a second model reads each conversation that passed the local checks
against the identity and answers with a strict-schema verdict.

A judge request is just another request body, made from the conversation's own body: it goes
through the same client, cache, retries and budget, under a key of (endpoint, judge body, attempt).
"""
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..errors import PipelineError
from ..storage.texts import PROMPTS_DIR, read_schema, read_text
from .checks import Verdict, make_validator, strip_fences

SCHEMA_NAME = "judge_verdict"   # how the fake API (and a reader of the cache) tells judge requests apart
KINDS = ("other_identity", "invented_fact", "contradicts_identity", "wrong_language", "unnatural")
JUDGE_TEMPERATURE = 0.0
JUDGE_MAX_TOKENS = 1024         # a verdict and a few quotes


@dataclass(frozen=True)
class JudgeSpec:
    instructions: str    # prompts/judge.md, with $identity and $conversation
    identity: str
    schema: dict
    model: str = ""      # "" means the conversation's own model

    def fingerprint_parts(self) -> list:
        return [self.instructions, self.identity, self.schema, self.model]


def load_judge(identity: str, model: str = "", folder: Path = PROMPTS_DIR) -> JudgeSpec:
    schema = read_schema(folder / "judge_schema.json")
    check_schema(schema, folder / "judge_schema.json")
    return JudgeSpec(read_text(folder / "judge.md"), identity, schema, model)


def check_schema(schema: dict, path: Path) -> None:
    """The verdict's top level must be exactly `verdict` and `problems`, as the checks below read it."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or set(properties) != {"verdict", "problems"}:
        raise PipelineError(f"{path} must have exactly the top-level properties verdict and problems: "
                            "restore it from git")
    make_validator(schema)


def render_judge_prompt(spec: JudgeSpec, messages: list[dict]) -> str:
    conversation = json.dumps(messages, ensure_ascii=False, indent=1)
    try:
        return Template(spec.instructions).substitute(identity=spec.identity, conversation=conversation)
    except (KeyError, ValueError) as err:
        raise PipelineError(f"prompts/judge.md has an unknown placeholder {err}: "
                            "use $identity and $conversation") from None


def judge_body(conversation_body: dict, messages: list[dict], spec: JudgeSpec) -> dict:
    """The conversation's request body with the judge's model, prompt and schema: whatever the
    server needs (fields, reasoning setting) carries over unchanged."""
    return {**conversation_body,
            "model": spec.model or conversation_body["model"],
            "temperature": JUDGE_TEMPERATURE,
            "max_tokens": JUDGE_MAX_TOKENS,
            "messages": [{"role": "user", "content": render_judge_prompt(spec, messages)}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": spec.schema}}}


def is_judge_body(body: dict) -> bool:
    try:
        return body["response_format"]["json_schema"]["name"] == SCHEMA_NAME
    except (KeyError, TypeError):
        return False


def read_verdict(completion: dict, validator) -> Verdict:
    """A judge answer as a verdict: no reasons for a pass, `judge:<kind>` for each problem of a
    fail, `judge_invalid` for an answer that is not the verdict schema (it is asked again)."""
    choice = completion["choices"][0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    try:
        data = json.loads(strip_fences(content)) if isinstance(content, str) else None
    except json.JSONDecodeError:
        data = None
    if choice.get("finish_reason") == "length" or data is None or not validator.is_valid(data):
        return Verdict(None, ["judge_invalid"])
    problems = tuple((str(p.get("kind", "other")), str(p.get("quote", ""))) for p in data["problems"]
                     if isinstance(p, dict))
    if data["verdict"] == "pass":
        return Verdict(None, [], problems)
    kinds = sorted({f"judge:{kind}" for kind, _ in problems}) or ["judge:unspecified"]
    return Verdict(None, kinds, problems)
