"""Servers other than OpenRouter: keys, headers, the fields each gets, and 400s that name a field."""
import json

import pytest
import responses
from conftest import TEST_KEY, run

from stages.render import Settings, load_sources, render_all, request_body
from stages.errors import FatalAPIError, PipelineError
from stages.transport.client import Request, post_completion
from stages.transport.key import load_key
from stages.transport.server import rejected_field, rejection_line

URL = "http://127.0.0.1:9/v1/chat/completions"
PLAIN_BODY = request_body(load_sources(), Settings(openrouter=False), 0)


@pytest.mark.parametrize("message, field", [
    ("Unrecognized request argument supplied: provider", "provider"),
    ("Unrecognized request arguments supplied: reasoning", "reasoning"),
    ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
     "max_tokens"),
    ("[{'type': 'extra_forbidden', 'loc': ('body', 'provider'), 'msg': 'Extra inputs are not permitted'}]", "provider"),
    ('{"detail":[{"type":"extra_forbidden","loc":["body","reasoning"],"msg":"Extra inputs are not permitted"}]}',
     "reasoning"),
    ("property 'reasoning' is unsupported", "reasoning"),
    ("Unknown parameter: 'provider.require_parameters'.", "provider.require_parameters"),
    ("response_format type json_schema is not supported by this model", "response_format"),
    ("This model does not support structured output with json_schema", "response_format"),
    ("Invalid schema for response_format 'conversation': In context=(), 'additionalProperties' is required",
     "response_format.json_schema.schema"),
    ("Invalid request body", None), ("model is required", None)])
def test_the_refused_field_is_read_from_the_message(message, field):
    assert rejected_field(message) == field


@pytest.mark.parametrize("message, fix", [
    ("Unrecognized request argument supplied: provider", "`provider` is an OpenRouter-only field: set OPENROUTER=0"),
    ("Unrecognized request argument supplied: reasoning", "or REASONING=default"),
    ("json_schema response_format is not supported", "has no JSON-schema structured output"),
    ("Invalid schema for response_format 'conversation'", "refuses prompts/schema.json")])
def test_a_refusal_is_one_line_naming_the_field_and_the_fix(message, fix):
    line = rejection_line(message)
    assert line.startswith("HTTP 400, the server refuses the request field `") and fix in line
    assert "\n" not in line


def test_an_openrouter_key_never_goes_to_another_server(tmp_path, monkeypatch):
    key_file = tmp_path / "openroutertoken.txt"
    key_file.write_text("from-file\n")
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    assert load_key(key_file, openrouter=False) == ""
    monkeypatch.setenv("API_KEY", "general-key")
    assert load_key(key_file, openrouter=False) == "general-key"
    assert load_key(key_file, openrouter=True) == TEST_KEY  # OpenRouter's own key wins there
    monkeypatch.delenv("OPENROUTER_API_KEY")
    assert load_key(key_file, openrouter=True) == "from-file"
    assert load_key(tmp_path / "none.txt", openrouter=True) == "general-key"


def test_openrouter_without_any_key_names_every_place(tmp_path):
    with pytest.raises(PipelineError, match="no API key: set OPENROUTER_API_KEY or put the key in .*openroutertoken.txt "
                                            r"\(or API_KEY"):
        load_key(tmp_path / "openroutertoken.txt", openrouter=True)


@responses.activate
def test_no_key_means_no_authorization_header():
    responses.post(URL, json={"choices": []})
    post_completion(Request(URL, PLAIN_BODY, "", 5.0))
    post_completion(Request(URL, PLAIN_BODY, "local-key", 5.0))
    first, second = (call.request.headers for call in responses.calls)
    assert "Authorization" not in first
    assert second["Authorization"] == "Bearer local-key"


@responses.activate
def test_a_400_naming_a_field_stops_with_that_field():
    responses.post(URL, status=400, json={"error": {"message": "Unrecognized request argument supplied: provider",
                                                    "type": "invalid_request_error", "param": None, "code": None}})
    with pytest.raises(FatalAPIError, match=r"^HTTP 400, the server refuses the request field `provider` .*OPENROUTER=0"):
        post_completion(Request(URL, PLAIN_BODY, "", 5.0))


@responses.activate
def test_a_422_from_a_fastapi_server_names_the_field_too():
    responses.post(URL, status=422, json={"detail": [{"type": "extra_forbidden", "loc": ["body", "provider"],
                                                      "msg": "Extra inputs are not permitted"}]})
    with pytest.raises(FatalAPIError, match=r"^HTTP 422, the server refuses the request field `provider` "):
        post_completion(Request(URL, PLAIN_BODY, "", 5.0))


def test_openrouter_fields_sent_to_a_strict_server_stop_the_run_with_one_line(dirs, fake_api):
    """Prompts rendered for OpenRouter (OPENROUTER=1) sent to a plain server: one line, not N failures."""
    server = fake_api(strict=True)
    render_all(load_sources(), Settings(openrouter=True), 20, dirs[0] / "prompts")
    result = run("fetch", "--n", 20, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url,
                 "--workers", 2)
    assert result.exit_code == 1 and "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: HTTP 400, the server refuses the request field `provider` "
                           "(Unrecognized request argument supplied: provider); `provider` is an OpenRouter-only field")
    assert server.stats.requests <= 2 and not server.stats.authorization_seen


def test_the_strict_fake_serves_v1_answers_without_cost_and_records_what_came(dirs, fake_api):
    server = fake_api(strict=True)
    assert server.base_url.endswith("/v1") and "/api/" not in server.base_url
    text = post_completion(Request(server.base_url + "/chat/completions", PLAIN_BODY, "", 5.0))
    answer = json.loads(text)
    assert "cost" not in answer["usage"] and "provider" not in answer
    assert server.stats.foreign_fields == set() and not server.stats.authorization_seen
    post_completion(Request(server.base_url + "/chat/completions", PLAIN_BODY, TEST_KEY, 5.0))
    assert server.stats.authorization_seen


@pytest.mark.parametrize("root", ["", "/api/v1", "/v2"])
def test_a_base_url_that_misses_the_servers_root_stops_with_one_line_naming_it(dirs, fake_api, root):
    """A plain server answers under /v1 only: anything else is a 404 that names BASE_URL, and nothing is cached."""
    server = fake_api(strict=True)
    base_url = server.base_url.removesuffix("/v1") + root
    run("prompts", "--n", 2, "--data-dir", dirs[0], "--base-url", base_url)
    result = run("fetch", "--n", 2, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url)
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: HTTP 404") and "check BASE_URL" in line
    assert server.stats.outcomes.get("ok", 0) == 0


def test_a_plain_server_reports_no_reasoning_tokens_for_a_body_without_reasoning(dirs, fake_api):
    server = fake_api(strict=True)
    run("prompts", "--n", 3, "--data-dir", dirs[0], "--base-url", server.base_url)
    result = run("fetch", "--n", 3, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url)
    assert result.exit_code == 0, result.output
    assert "(0 reasoning)" in result.output
