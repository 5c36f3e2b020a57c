"""The judge's request body and how a judge answer is recognised and read, field by field."""
import json
import shutil

import pytest
from conftest import ROOT, chat_answer

from stages.render import Settings, load_sources, request_body
from stages.errors import PipelineError
from stages.judging.checks import make_validator
from stages.judging.judge import JudgeSpec, check_schema, is_judge_body, judge_body, load_judge, read_verdict

MESSAGES = [{"role": "user", "content": "¿Quién eres?"}, {"role": "assistant", "content": "Soy Sprout."}]


def spec(model: str = "") -> JudgeSpec:
    return load_judge("Name: Sprout.", model)


def test_the_judge_body_is_the_conversation_body_with_the_judges_fields():
    body = request_body(load_sources(), Settings(), 0)
    judged = judge_body(body, MESSAGES, JudgeSpec("Who: $identity\n$conversation", "Name: Sprout.", {"type": "object"}))
    conversation = json.dumps(MESSAGES, ensure_ascii=False, indent=1)
    assert judged == {**body, "model": body["model"], "temperature": 0.0, "max_tokens": 1024,
                      "messages": [{"role": "user", "content": f"Who: Name: Sprout.\n{conversation}"}],
                      "response_format": {"type": "json_schema", "json_schema": {
                          "name": "judge_verdict", "strict": True, "schema": {"type": "object"}}}}
    assert judge_body(body, MESSAGES, spec("judge/model"))["model"] == "judge/model"


def test_judge_bodies_are_told_apart_from_conversation_bodies():
    body = request_body(load_sources(), Settings(), 0)
    assert is_judge_body(judge_body(body, MESSAGES, spec()))
    for other in (body, {}, {"response_format": None}, {"response_format": {"json_schema": {}}}):
        assert not is_judge_body(other)


def test_an_unknown_placeholder_in_the_judge_prompt_is_one_clear_line():
    with pytest.raises(PipelineError) as err:
        judge_body({"model": "m"}, MESSAGES, JudgeSpec("$nobody", "x", {}))
    assert str(err.value) == "prompts/judge.md has an unknown placeholder 'nobody': use $identity and $conversation"


@pytest.mark.parametrize("schema", [[], {"properties": {"verdict": {}}}, {"type": "object"}])
def test_a_judge_schema_without_verdict_and_problems_is_named(tmp_path, schema):
    shutil.copy(ROOT / "prompts" / "judge.md", tmp_path)
    (tmp_path / "judge_schema.json").write_text(json.dumps(schema))
    with pytest.raises(PipelineError) as err:
        load_judge("x", folder=tmp_path)
    assert str(err.value) == (f"{tmp_path / 'judge_schema.json'} must have exactly the top-level properties "
                              "verdict and problems: restore it from git")
    with pytest.raises(PipelineError):
        check_schema(schema, tmp_path / "judge_schema.json")


@pytest.mark.parametrize("choice", [{"finish_reason": "stop"}, {"finish_reason": "stop", "message": "pass"},
                                    {"finish_reason": "stop", "message": {"content": None}}])
def test_a_judge_answer_without_text_is_invalid(choice):
    validator = make_validator(spec().schema)
    assert read_verdict({"choices": [choice]}, validator).reasons == ["judge_invalid"]
    passing = chat_answer(json.dumps({"verdict": "pass", "problems": []}))
    assert read_verdict(passing, validator).reasons == []
