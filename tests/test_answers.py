import json

import pytest
from conftest import GOOD, chat_answer, conversation_content

from stages.errors import FatalAPIError
from stages.transport.answers import TransientAnswer, Usage, error_message, fatal_error, parse_completion, usage_of


def test_keepalive_whitespace_before_the_body_is_fine():
    text = "\n\n   \n" + json.dumps(chat_answer(conversation_content(GOOD)))
    assert parse_completion(text)["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("text, reason", [
    ("", "empty body"),
    ("  \n ", "empty body"),
    ('{"choices": [', "body is not JSON"),
    ("[1, 2]", "body is not a JSON object"),
    ('{"error": {"code": 502, "message": "Provider returned error"}}', "error in body: Provider returned error"),
    ('{"error": {"code": "429", "message": "slow down"}}', "error in body: slow down"),
    ('{"error": "overloaded"}', "error in body: overloaded"),
    (json.dumps({"error": {"code": 503, "message": "m" * 100}}), "error in body: " + "m" * 80),
    ('{"id": "x"}', "no choices in body"),
    ('{"choices": []}', "no choices in body"),
    ('{"choices": ["text"]}', "no choices in body"),
    ('{"choices": {"0": {"finish_reason": "stop"}}}', "no choices in body"),
    (json.dumps({"choices": [{"finish_reason": "error", "error": {"code": 502}, "message": {"content": ""}}]}),
     "finish_reason error"),
])
def test_transient_answers(text, reason):
    with pytest.raises(TransientAnswer) as err:
        parse_completion(text)
    assert str(err.value) == reason  # the bar shows it as the last failure


def test_fatal_code_inside_a_200_stops_the_run():
    with pytest.raises(FatalAPIError) as err:
        parse_completion('{"error": {"code": 402, "message": "Insufficient credits"}}')
    assert str(err.value) == ("HTTP 402, the account is out of credits: Insufficient credits; "
                              "add credits or lower MAX_TOKENS")


def test_usage_is_read_and_tolerates_junk():
    assert usage_of(chat_answer("x", cost=0.25)) == Usage(100, 50, 0.25)
    assert usage_of({"usage": {"prompt_tokens": "n/a", "cost": None}}) == Usage()
    assert usage_of({}) == Usage()


def test_fatal_error_names_status_cause_and_fix_with_the_apis_words_cut_short():
    assert str(fatal_error(402)) == "HTTP 402, the account is out of credits; add credits or lower MAX_TOKENS"
    long = fatal_error(400, "x" * 300)
    assert str(long) == f"HTTP 400, the request was rejected as malformed: {'x' * 160}; check MODEL and the files in prompts/"


@pytest.mark.parametrize("data, message", [
    ({"error": {"code": 502, "message": "Provider returned error"}}, "Provider returned error"),
    ({"error": {"code": 500}}, ""), ({"error": "slow down"}, "slow down"), ({"error": None}, ""), ({}, ""),
    (None, ""), ([1, 2], "")])
def test_error_message_is_the_apis_own_words_or_nothing(data, message):
    assert error_message(data) == message
