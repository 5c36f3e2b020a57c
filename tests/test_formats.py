"""RESPONSE_FORMAT: the three ways a body asks for JSON, and the run against a server that refuses the default."""
import json
import re
import time

import pytest

from stages.render import Settings, load_sources, request_body
from stages.judging.judge import is_judge_body, judge_body, load_judge
from stages.transport import refusal
from stages.transport.formats import format_of, requested_schema, with_format

from conftest import GOOD
from test_e2e import conversations, make

SCHEMA = {"type": "object", "properties": {"messages": {"type": "array"}}}


def body_for(kind: str) -> dict:
    return request_body(load_sources(), Settings(response_format=kind), 0)


def test_each_format_puts_the_schema_where_its_servers_read_it():
    schema = load_sources().schema
    strict, mode, plain = body_for("json_schema"), body_for("json_object"), body_for("none")
    assert strict["response_format"]["json_schema"] == {"name": "conversation", "strict": True, "schema": schema}
    assert mode["response_format"] == {"type": "json_object", "schema": schema}
    assert "response_format" not in plain
    assert strict["messages"] == mode["messages"] != plain["messages"]
    assert plain["messages"][0]["content"].startswith(strict["messages"][0]["content"])
    assert [requested_schema(body) for body in (strict, mode, plain)] == [schema] * 3
    assert [format_of(body) for body in (strict, mode, plain)] == ["json_schema", "json_object", "none"]


def test_the_judge_follows_the_conversations_format():
    spec = load_judge("Name: Sprout.")
    for kind in ("json_schema", "json_object", "none"):
        conversation = with_format({"model": "m", "messages": [{"role": "user", "content": "x"}]}, kind, "c", SCHEMA)
        made = judge_body(conversation, GOOD, spec)
        assert format_of(made) == kind and requested_schema(made) == spec.schema
        assert is_judge_body(made) and not is_judge_body(conversation)


def test_the_format_is_part_of_the_cache_key(rendered, fake_api):
    """Changing RESPONSE_FORMAT renders new bodies, so earlier answers are not replayed for them."""
    server = fake_api(strict=True)
    first = make("dataset", rendered, server, key=None, N=3)
    again = make("dataset", rendered, server, key=None, N=3, RESPONSE_FORMAT="none")
    assert first.returncode == again.returncode == 0, again.stderr
    assert "3 changed" in again.stderr and "0 cached answers reused" in again.stderr
    assert server.stats.formats[3:] == [None] * 3


def test_a_server_that_refuses_json_schema_with_500_stops_the_run_in_one_line(dirs, fake_api):
    server = fake_api(strict=True, refuse_format="json_schema")
    started = time.monotonic()
    result = make("fetch", dirs, server, key=None, N=20, WORKERS=4, BACKOFF=1)
    elapsed = time.monotonic() - started
    assert result.returncode != 0 and elapsed < 60
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "HTTP 500" in errors[0] and "Input should be 'text' or 'json_object'" in errors[0]
    assert "RESPONSE_FORMAT=json_object" in errors[0]
    assert server.stats.requests < 100  # stopped, not 20 seeds x 11 tries

    before = len(server.stats.formats)
    fixed = make("dataset", dirs, server, key=None, N=20, WORKERS=4, RESPONSE_FORMAT="json_object")
    assert fixed.returncode == 0, fixed.stderr
    assert len(conversations(dirs)) == 20
    schema = load_sources().schema
    sent = server.stats.formats[before:]
    assert sent and all(fmt == {"type": "json_object", "schema": schema} for fmt in sent)


def test_a_server_that_answered_before_keeps_its_retries(dirs, fake_api):
    """500s from a server that has answered are an outage: retried, and the run completes."""
    server = fake_api(strict=True, fault_rate=0.6, faults=("500",), retry_after=0)
    result = make("dataset", dirs, server, key=None, N=12, WORKERS=2)
    assert result.returncode == 0, result.stderr
    assert len(conversations(dirs)) == 12 and server.stats.outcomes["500"] >= 5


@pytest.mark.parametrize("status, message, refused", [
    (500, "Input should be 'text' or 'json_object'", True),
    (500, "request req-123abc failed: unknown type", True),  # ids differ per request: still the same failure
    (503, "Loading model", False),                      # a server still starting keeps its retries
    (500, "model is loading, try again", False),
    (500, "", False),                                   # nothing said: nothing to quote
    (502, "upstream connect error", False),             # a gateway's outage
])
def test_which_repeated_failures_count_as_a_refusal(monkeypatch, status, message, refused):
    clock = [100.0]
    monkeypatch.setattr(refusal.time, "monotonic", lambda: clock[0])
    watch = refusal.RepeatWatch()
    for number in range(4):
        watch.failure(status, message.replace("123", str(number)), "json_schema")
        clock[0] += 5
    line = watch.refusal()
    assert bool(line) is refused
    if refused:
        assert re.search(r"failed 4 requests with the same HTTP 500", line) and "RESPONSE_FORMAT" in line


def test_one_success_ends_the_watch(monkeypatch):
    watch = refusal.RepeatWatch()
    watch.failure(500, "no", "json_schema")
    watch.success()
    for _ in range(5):
        watch.failure(500, "no", "json_schema")
    assert watch.refusal(finished=True) is None


def test_none_says_the_schema_in_the_prompt():
    plain = body_for("none")
    note = plain["messages"][0]["content"].rsplit("JSON schema:", 1)[1]
    assert json.loads(note) == load_sources().schema
