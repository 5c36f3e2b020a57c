import pytest

from stages.checks import judge, judge_content, make_validator
from stages.errors import PipelineError
from stages.prompts import load_sources

from conftest import GOOD, chat_answer, conversation_content

U, A = "user", "assistant"


def msgs(*pairs):
    return [{"role": role, "content": text} for role, text in pairs]


@pytest.fixture(scope="module")
def validator():
    return make_validator(load_sources().schema)


@pytest.mark.parametrize("content, reasons", [
    (conversation_content(GOOD), []),
    ("```json\n" + conversation_content(GOOD) + "\n```", []),
    ("", ["no_content"]),
    ('{"messages": [', ["not_json"]),
    ('{"messages": "hi"}', ["schema"]),
    ('{"messages": [], "extra": 1}', ["schema"]),
    (conversation_content([dict(GOOD[0], mood="x"), GOOD[1]]), ["schema"]),
    (conversation_content(msgs((U, "hi"), (U, "hello"))), ["role_order", "ends_with_user"]),
    (conversation_content(msgs((A, "hi"), (U, "hello"))), ["role_order", "ends_with_user"]),
    (conversation_content(msgs((U, "hi"))), ["too_short"]),
    (conversation_content(msgs((U, "hi"), (A, "yo"), (U, "ok"))), ["ends_with_user"]),
    (conversation_content(msgs((U, "hi"), (A, "  "))), ["empty_message"]),
])
def test_reasons(validator, content, reasons):
    assert judge_content(content, validator).reasons == reasons


def test_ascii_rule_only_when_asked(validator):
    content = conversation_content(msgs((U, "¿Quién eres?"), (A, "I am Sprout.")))
    assert judge_content(content, validator).valid
    assert judge_content(content, validator, ascii_only=True).reasons == ["non_ascii"]


@pytest.mark.parametrize("finish, reason", [("length", "truncated"), ("content_filter", "content_filter")])
def test_bad_finish_reason_is_invalid_even_with_good_content(validator, finish, reason):
    assert judge(chat_answer(conversation_content(GOOD), finish), validator).reasons == [reason]


def test_valid_answer_yields_its_messages(validator):
    verdict = judge(chat_answer(conversation_content(GOOD)), validator)
    assert verdict.valid and verdict.messages == GOOD


def test_broken_schema_file_is_a_clear_error():
    with pytest.raises(PipelineError, match="not a valid JSON schema"):
        make_validator({"type": 12})
