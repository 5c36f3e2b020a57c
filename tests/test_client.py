"""The HTTP client against the real loopback fake: keep-alive whitespace, hung answers, statuses."""
import time
from email.utils import formatdate

import pytest
import requests
import responses
from conftest import TEST_KEY

from stages.commands.prompts import Settings, load_sources, request_body
from stages.errors import FatalAPIError
from stages.transport.answers import parse_completion
from stages.transport.client import Request, TransientHTTP, connection_failure, post_completion

BODY = request_body(load_sources(), Settings(), 0)


def ask(server, timeout=10.0, key=TEST_KEY):
    return post_completion(Request(server.base_url + "/chat/completions", BODY, key, timeout))


def test_keepalive_whitespace_then_answer(fake_api):
    server = fake_api(latency=0.5, keepalive=True)
    text = ask(server)
    assert text.startswith("\n") and parse_completion(text)["choices"][0]["finish_reason"] == "stop"


def test_hung_answer_ends_at_the_total_deadline(fake_api):
    server = fake_api(hang=True)  # sends whitespace forever: a read timeout alone never fires
    started = time.monotonic()
    with pytest.raises(TransientHTTP, match="deadline|cut off"):
        ask(server, timeout=1.0)
    assert time.monotonic() - started < 5.0


def test_wrong_key_is_fatal_and_the_message_hides_the_key(fake_api):
    server = fake_api(key="the-right-key")
    with pytest.raises(FatalAPIError, match="HTTP 401") as err:
        ask(server, key=TEST_KEY)
    assert TEST_KEY not in str(err.value)


@pytest.mark.parametrize("fault, status", [("429", 429), ("503", 503), ("drop", None)])
def test_transient_statuses_carry_retry_after(fake_api, fault, status):
    server = fake_api(fault_rate=1.0, faults=(fault,), retry_after=3)
    with pytest.raises(TransientHTTP) as err:
        ask(server)
    assert err.value.status == status
    assert err.value.retry_after == (3.0 if fault == "429" else None)


def test_refused_connection_is_transient():
    with pytest.raises(TransientHTTP, match="connection refused"):
        post_completion(Request("http://127.0.0.1:9/chat/completions", BODY, TEST_KEY, 2.0))


@pytest.mark.parametrize("header, low, high", [("7", 7, 7), ("http-date", 27, 30), ("soon-ish", None, None)])
@responses.activate
def test_retry_after_in_seconds_or_as_an_http_date(header, low, high):
    if header == "http-date":
        header = formatdate(time.time() + 30, usegmt=True)  # whole seconds: 29 to 30 s from now
    url = "http://127.0.0.1:9/api/v1/chat/completions"
    responses.post(url, status=429, headers={"Retry-After": header}, json={"error": {"code": 429, "message": "slow"}})
    with pytest.raises(TransientHTTP) as err:
        post_completion(Request(url, BODY, TEST_KEY, 5.0))
    if low is None:
        assert err.value.retry_after is None  # a malformed header falls back to the backoff
    else:
        assert low <= err.value.retry_after <= high


@pytest.mark.parametrize("error, reason, unreachable", [
    (requests.exceptions.SSLError("bad certificate"), "TLS error", True),
    (requests.exceptions.ConnectTimeout("too slow"), "connect timeout", True),
    (requests.ConnectionError("NameResolutionError: Failed to resolve 'nowhere.invalid'"), "DNS lookup failed", True),
    (requests.ConnectionError("[Errno -2] Name or service not known"), "DNS lookup failed", True),
    (requests.ConnectionError("getaddrinfo failed"), "DNS lookup failed", True),
    (requests.ConnectionError("[Errno 111] Connection refused"), "connection refused", True),
    (requests.ConnectionError("NewConnectionError: cannot connect"), "connection refused", True),
    (requests.ConnectionError("Connection reset by peer"), "connection failed: ConnectionError", False),
    (requests.exceptions.ChunkedEncodingError("cut"), "connection failed: ChunkedEncodingError", False)])
def test_connection_failures_are_named_and_told_apart_from_a_dropped_answer(error, reason, unreachable):
    failure = connection_failure(error)
    assert (str(failure), failure.unreachable, failure.status) == (reason, unreachable, None)
