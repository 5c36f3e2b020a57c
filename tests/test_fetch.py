"""fetch against `responses` mocks: one scripted answer sequence per error class."""
import json
import threading
import time
from email.utils import formatdate

import pytest
import requests
import responses
from conftest import GOOD, TEST_KEY, chat_answer, conversation_content, files_containing, run

from stages import fetching as fetch_module
from stages.fetching import Job, backoff_delay, is_outage, run_fetch
from stages.render import load_sources
from stages.errors import FatalAPIError, PipelineError
from stages.judging.review import make_rules
from stages.storage.bodies import load_body
from stages.storage.cache import answer_key, cached_attempts, decode_entry, open_cache
from stages.transport.answers import TransientAnswer
from stages.transport.client import TransientHTTP

URL = "http://127.0.0.1:9/api/v1/chat/completions"
OK = chat_answer(conversation_content(GOOD))


def make_job(data_dir, max_attempts=3, key=TEST_KEY):
    return Job(URL, data_dir, max_attempts, timeout=5, backoff=0, rules=make_rules(load_sources().schema),
               key=key)


def fetch(rendered, n=1, workers=1, **job):
    data, cache = rendered
    return run_fetch(make_job(data, **job), cache, range(n), workers)


def script(*answers):
    """Queue answers in order: a dict is a 200 JSON body, an int a status, a str a raw 200 body,
    an exception a failed connection."""
    for answer in answers:
        if isinstance(answer, dict):
            responses.post(URL, json=answer)
        elif isinstance(answer, int):
            responses.post(URL, status=answer, json={"error": {"code": answer, "message": f"fake {answer}"}})
        else:  # raw text, or an exception to raise instead of answering
            responses.post(URL, body=answer)


def cached_entries(rendered, seed=0):
    data, cache_dir = rendered
    with open_cache(cache_dir) as cache:
        return [decode_entry(raw) for raw in cached_attempts(cache, URL, load_body(data, seed))]


@pytest.mark.parametrize("failure", [500, 502, 503, 504, 408, 524, 529, requests.ConnectionError("reset"), "",
                                     "   \n", '{"error": {"code": 502, "message": "Provider returned error"}}',
                                     '{"choices": [{"finish_reason": "error", "message": {"content": ""}}]}',
                                     '{"id": "truncated body'])
@responses.activate
def test_transient_failures_are_retried_and_not_cached(rendered, failure):
    script(failure, failure, OK)
    tally = fetch(rendered)
    assert len(responses.calls) == 3
    assert (tally.valid, tally.requests, tally.retries) == (1, 3, 2)
    assert [e["attempt"] for e in cached_entries(rendered)] == [0]


def limited_then_ok(retry_after: str, sent: list[float]):
    """A responses callback: the first request gets a 429 with this Retry-After, the rest answer
    after 50 ms; the time each request arrived goes into sent."""
    lock = threading.Lock()

    def answer(request):
        with lock:
            sent.append(time.monotonic())
            first = len(sent) == 1
        if first:
            value = formatdate(time.time() + 2, usegmt=True) if retry_after == "date" else retry_after
            return 429, {"Retry-After": value}, json.dumps({"error": {"code": 429, "message": "slow down"}})
        time.sleep(0.05)
        return 200, {}, json.dumps(OK)
    return answer


@pytest.mark.parametrize("retry_after", ["1", "date"])
@responses.activate
def test_429_pauses_every_worker_for_retry_after(rendered, retry_after):
    sent: list[float] = []
    responses.add_callback(responses.POST, URL, callback=limited_then_ok(retry_after, sent))
    result = run("fetch", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1],
                 "--base-url", URL.removesuffix("/chat/completions"), "--workers", 2, "--backoff", 0,
                 OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    assert len(sent) == 6
    # The two first requests leave together; every later one, from either worker, waits out the
    # pause: 1 s, or until the HTTP date (whole seconds, so 1 to 2 s away).
    waited = [round(t - sent[0], 2) for t in sorted(sent)[2:]]
    assert min(waited) >= 0.95, waited
    assert max(waited) < 5, waited  # not some longer default pause either


def test_backoff_grows_with_jitter_and_honours_retry_after():
    assert backoff_delay(3, 1.0, retry_after=2.5) == 2.5
    assert backoff_delay(0, 1.0, retry_after=10_000) == fetch_module.MAX_PAUSE
    assert all(4.0 <= backoff_delay(3, 1.0, None) <= 8.0 for _ in range(50))
    assert len({backoff_delay(3, 1.0, None) for _ in range(20)}) > 1


@pytest.mark.parametrize("status, words", [(401, "API key was rejected.*OPENROUTER_API_KEY or openroutertoken.txt"),
                                           (402, "out of credits.*add credits or lower MAX_TOKENS"),
                                           (400, "malformed"), (403, "moderation"),
                                           (404, "supporting these parameters")])
@responses.activate
def test_fatal_status_stops_the_whole_run_at_once(rendered, status, words):
    script(status)
    with pytest.raises(FatalAPIError, match=f"HTTP {status}, .*{words}") as err:
        fetch(rendered, n=5, workers=1)
    assert len(responses.calls) == 1
    assert TEST_KEY not in str(err.value)


@pytest.mark.parametrize("bad_content", ['{"messages": [', conversation_content(GOOD[::-1]),
                                         conversation_content([dict(m, mood="x") for m in GOOD])])
@responses.activate
def test_invalid_content_is_cached_and_asked_again(rendered, bad_content):
    script(chat_answer(bad_content), OK)
    assert fetch(rendered).valid == 1
    assert [e["attempt"] for e in cached_entries(rendered)] == [0, 1]


@responses.activate
def test_truncated_answer_counts_as_an_attempt(rendered):
    script(chat_answer(conversation_content(GOOD), finish="length"), OK)
    assert fetch(rendered).valid == 1 and len(cached_entries(rendered)) == 2


@responses.activate
def test_rerun_sends_nothing_and_more_attempts_only_ask_the_missing(rendered):
    bad = chat_answer("not json")
    script(OK, bad, bad, OK)  # seed 0 valid at once; seed 1 fails twice with MAX_ATTEMPTS=2
    first = fetch(rendered, n=2, max_attempts=2)
    assert (first.valid, first.requests) == (1, 3)
    rerun = fetch(rendered, n=2, max_attempts=2)
    assert (rerun.valid, rerun.requests, rerun.cache_hits) == (1, 0, 3)
    more = fetch(rendered, n=2, max_attempts=3)
    assert (more.valid, more.requests) == (2, 1)
    assert len(responses.calls) == 4


@responses.activate
def test_costs_and_tokens_are_summed(rendered):
    script(chat_answer("broken", cost=0.5), chat_answer(conversation_content(GOOD), cost=0.25))
    tally = fetch(rendered)
    assert (tally.cost, tally.prompt_tokens, tally.completion_tokens) == (0.75, 200, 100)


@responses.activate
def test_request_carries_the_rendered_body_and_the_key_but_the_cache_does_not(rendered):
    script(OK)
    fetch(rendered)
    sent = responses.calls[0].request
    assert json.loads(sent.body) == load_body(rendered[0], 0)
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert files_containing(rendered[1], TEST_KEY) == []


@responses.activate
def test_cache_key_changes_with_body_endpoint_and_attempt(rendered):
    body = load_body(rendered[0], 0)
    keys = {answer_key(URL, body, 0), answer_key(URL, body, 1), answer_key(URL + "x", body, 0),
            answer_key(URL, dict(body, temperature=0.3), 0)}
    assert len(keys) == 4
    assert answer_key(URL, json.loads(json.dumps(body)), 0) == answer_key(URL, body, 0)


def test_no_key_stops_before_any_request(rendered):
    with responses.RequestsMock() as mock:
        with pytest.raises(PipelineError, match="no API key"):
            fetch(rendered, n=3, key=None)
        assert len(mock.calls) == 0


@responses.activate
def test_missing_prompt_is_a_clear_error(rendered):
    with pytest.raises(PipelineError, match="no rendered prompt for seed 5.*make prompts"):
        fetch(rendered, n=6)


@responses.activate
def test_fatal_error_sends_nothing_more_but_caches_answers_in_flight(rendered):
    slow_body = load_body(rendered[0], 1)

    def answer(request):
        if json.loads(request.body) == slow_body:
            time.sleep(0.6)  # still generating when the other request hits 402
            return 200, {}, json.dumps(OK)
        time.sleep(0.2)  # both requests are in flight before the 402 arrives
        return 402, {}, json.dumps({"error": {"code": 402, "message": "Insufficient credits"}})
    responses.add_callback(responses.POST, URL, callback=answer)
    with pytest.raises(FatalAPIError, match="HTTP 402"):
        fetch(rendered, n=5, workers=2)
    assert len(responses.calls) == 2  # seeds 2..4 were never sent
    assert [e["attempt"] for e in cached_entries(rendered, seed=1)] == [0]


@responses.activate
def test_a_fatal_error_stops_every_worker(dirs):
    """One seed's 402 dooms the run: the other workers send nothing more once it arrived."""
    data, cache = dirs
    assert run("prompts", "--n", 20, "--data-dir", data).exit_code == 0
    doomed = load_body(data, 0)

    def answer(request):
        if json.loads(request.body) == doomed:
            time.sleep(0.05)
            return 402, {}, json.dumps({"error": {"code": 402, "message": "Insufficient credits"}})
        time.sleep(0.3)
        return 200, {}, json.dumps(OK)
    responses.add_callback(responses.POST, URL, callback=answer)
    base = URL.removesuffix("/chat/completions")
    result = run("fetch", "--n", 20, "--data-dir", data, "--cache-dir", cache, "--base-url", base,
                 "--workers", 4, OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1 and "Error: HTTP 402, the account is out of credits" in result.stderr
    posts = [call for call in responses.calls if call.request.method == "POST"]
    assert len(posts) == 4  # the first four seeds, sent together; nothing after the 402
    validated = run("validate", "--n", 20, "--data-dir", data, "--cache-dir", cache, "--base-url", base)
    assert "validate: 3/20 seeds valid" in validated.stderr  # the answers in flight were kept


def fetch_cli(dirs, server, *args, key=TEST_KEY):
    result = run("fetch", "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url, *args,
                 OPENROUTER_API_KEY=key)
    assert result.exit_code == 0, result.output
    return result


def test_a_finished_slice_of_seeds_does_not_stand_for_more(dirs, fake_api):
    server = fake_api()
    assert run("prompts", "--n", 6, "--data-dir", dirs[0]).exit_code == 0
    assert "3/3 seeds valid" in fetch_cli(dirs, server, "--seeds", "0:3").stderr
    assert server.stats.requests == 3
    assert "6/6 seeds valid" in fetch_cli(dirs, server, "--n", 6).stderr
    assert server.stats.requests == 6
    built = run("dataset", "--n", 6, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url)
    assert built.exit_code == 0 and "wrote 6 conversations" in built.stderr


def test_a_body_rendered_differently_is_asked_for_after_a_finished_run(dirs, fake_api):
    """However a body came to change (new code, a hand edit), the finished-run note must not cover it."""
    server = fake_api()
    assert run("prompts", "--n", 4, "--data-dir", dirs[0]).exit_code == 0
    fetch_cli(dirs, server, "--n", 4)
    assert run("dataset", "--data-dir", dirs[0]).exit_code == 0  # its notes settle a rerun of fetch
    assert "earlier run" in fetch_cli(dirs, server, "--n", 4).stderr and server.stats.requests == 4
    path = dirs[0] / "prompts" / "2.json"
    path.write_text(path.read_text().replace('"temperature":1.0', '"temperature":0.7'))
    again = fetch_cli(dirs, server, "--n", 4)
    assert "earlier run" not in again.stderr and "4/4 seeds valid" in again.stderr
    assert server.stats.requests == 5


@pytest.mark.parametrize("failure, outage", [
    (TransientHTTP("internal error", status=500), True), (TransientHTTP("bad gateway", status=502), True),
    (TransientHTTP("connection reset"), True), (TransientHTTP("request timeout", status=408), False),
    (TransientHTTP("rate limited", status=429), False), (TransientAnswer("an empty body"), False)])
def test_only_server_errors_and_dropped_connections_count_toward_an_outage(failure, outage):
    """A share of outage failures halves the concurrency (see throttle); a 408, a 429 (which has
    its own pause) or a body that could not be read do not."""
    assert is_outage(failure) is outage
