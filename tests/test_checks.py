import json

import pytest
from conftest import GOOD, chat_answer, conversation_content

from stages.render import load_sources
from stages.errors import PipelineError
from stages.judging.checks import CompiledSchema, is_message_list, judge, judge_content, make_validator

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
    (conversation_content(msgs((U, "hi"), (U, "yo"), (U, "ok"))), ["role_order", "ends_with_user"]),
    (conversation_content(msgs((U, "hi"), (A, "  "))), ["empty_message"]),
])
def test_reasons(validator, content, reasons):
    assert judge_content(content, validator).reasons == reasons


def test_a_conversation_that_stops_after_a_question_keeps_its_answers_without_the_question(validator):
    """Re-asking the seed would pay again for every answer it already has; nanochat trains on none
    of a last user message anyway."""
    asked = msgs((U, "hi"), (A, "Hello, I'm Sprout."), (U, "what can you do?"), (A, "Chat and explain."),
                 (U, "and who made you?"))
    verdict = judge_content(conversation_content(asked), validator)
    assert verdict.valid and verdict.messages == asked[:4]
    answered = judge_content(conversation_content(asked[:4]), validator)
    assert answered.valid and answered.messages == asked[:4]


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


def test_a_fence_without_newlines_is_stripped_too(validator):
    assert judge_content("```" + conversation_content(GOOD) + "```", validator).reasons == []


@pytest.mark.parametrize("messages, ok", [
    (GOOD, True), ([], True), ([{"role": 1, "content": "hi"}], False), ([{"role": "user"}], False),
    ([{"role": "user", "content": None}], False), (["hi"], False), ({"role": "user"}, False)])
def test_is_message_list_wants_string_roles_and_contents(messages, ok):
    assert is_message_list(messages) is ok


def test_a_permissive_schema_still_needs_a_message_list():
    anything = make_validator({})
    assert judge_content("[1, 2]", anything).reasons == ["schema"]
    assert judge_content('{"messages": [{"role": "user"}]}', anything).reasons == ["schema"]
    assert judge_content(conversation_content(GOOD), anything).messages == GOOD


def test_schema_defaults_are_not_written_into_the_answer():
    schema = load_sources().schema
    with_default = json.loads(json.dumps(schema).replace('"type": "object"', '"type": "object", "default": {}', 1))
    with_default["properties"]["mood"] = {"type": "string", "default": "calm"}
    with_default["additionalProperties"] = True
    assert judge_content(conversation_content(GOOD), make_validator(with_default)).messages == GOOD
    data = {"messages": GOOD}
    make_validator(with_default).is_valid(data)
    assert data == {"messages": GOOD}


def test_schema_drafts_fastjsonschema_knows_get_the_fast_check_and_newer_ones_jsonschema():
    assert isinstance(make_validator(load_sources().schema), CompiledSchema)
    assert isinstance(make_validator({"type": "object"}), CompiledSchema)  # no $schema: draft 7 rules
    newer = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "properties": {"messages": {"type": "array", "prefixItems": [{"properties": {"role": {"const": "user"}}}]}}}
    validator = make_validator(newer)
    assert not isinstance(validator, CompiledSchema)
    assert validator.is_valid({"messages": [{"role": "user"}]})
    assert not validator.is_valid({"messages": [{"role": "assistant"}]})  # prefixItems is a 2020-12 keyword


def test_judge_applies_the_ascii_rule_only_when_asked(validator):
    answer = chat_answer(conversation_content([GOOD[0], {"role": "assistant", "content": "Hola, soy Sprout. ¿Qué tal?"}]))
    assert judge(answer, validator).valid
    assert judge(answer, validator, ascii_only=True).reasons == ["non_ascii"]


def test_a_choice_without_a_message_has_no_content(validator):
    assert judge({"choices": [{"finish_reason": "stop"}]}, validator).reasons == ["no_content"]
    assert judge({"choices": [{"finish_reason": "stop", "message": "text"}]}, validator).reasons == ["no_content"]


def test_rules_are_lenient_about_ascii_unless_asked():
    from stages.judging.review import make_rules
    schema = load_sources().schema
    assert make_rules(schema).ascii_only is False and make_rules(schema, True).ascii_only is True
    assert make_rules(schema).fingerprint != make_rules(schema, True).fingerprint
