"""The fetch scheduler: a backoff delays its seed, not a worker; outages lower the concurrency;
an unreachable API ends the run; Ctrl-C says what was kept."""
import json
import signal
import subprocess
import sys
import time

import responses
from conftest import GOOD, ROOT, TEST_KEY, chat_answer, conversation_content, default_ctrl_c, project_env, run

from stages import fetching as fetch_module
from stages.fetching import Job, run_fetch
from stages.render import load_sources
from stages.judging.review import make_rules
from stages.storage.bodies import load_body
from stages.transport.throttle import OUTAGE_MIN, Throttle

URL = "http://127.0.0.1:9/api/v1/chat/completions"
OK = json.dumps(chat_answer(conversation_content(GOOD)))


def make_job(data_dir, backoff):
    return Job(URL, data_dir, 3, timeout=5, backoff=backoff, rules=make_rules(load_sources().schema), key=TEST_KEY)


@responses.activate
def test_a_seed_waiting_to_retry_does_not_hold_its_worker(rendered):
    data, cache = rendered
    seed_of = {json.dumps(load_body(data, seed), sort_keys=True): seed for seed in range(5)}
    order = []

    def answer(request):
        seed = seed_of[json.dumps(json.loads(request.body), sort_keys=True)]
        order.append(seed)
        if seed == 0 and order.count(0) == 1:
            return 503, {}, json.dumps({"error": {"code": 503, "message": "busy"}})
        return 200, {}, OK
    responses.add_callback(responses.POST, URL, callback=answer)
    tally = run_fetch(make_job(data, backoff=1.0), cache, range(5), workers=1)
    assert tally.valid == 5 and tally.retries == 1
    # One worker: while seed 0 waits out its backoff (0.5 to 1 s), seeds 1-4 are served.
    assert order == [0, 1, 2, 3, 4, 0]


def test_an_outage_halves_the_concurrency_and_successes_restore_it():
    throttle = Throttle(16)
    for _ in range(OUTAGE_MIN - 1):
        throttle.in_flight += 1
        throttle.release(ok=False, outage=True)
    assert throttle.limit == 16  # a few failures are not an outage
    throttle.in_flight += 1
    throttle.release(ok=False, outage=True)
    assert throttle.limit == 8 and throttle.paused_until == 0.0  # lower, but no pause
    for _ in range(8):
        throttle.acquire()
        throttle.release(ok=True)
    assert throttle.limit == 9


def test_failures_that_are_not_outages_leave_the_limit_alone():
    throttle = Throttle(16)
    for _ in range(3 * OUTAGE_MIN):
        throttle.in_flight += 1
        throttle.release(ok=False)  # e.g. an error inside an HTTP 200
    assert throttle.limit == 16


def test_unreachable_api_stops_with_one_line(rendered, monkeypatch):
    monkeypatch.setattr(fetch_module, "UNREACHABLE_SECONDS", 1.0)
    data, cache = rendered
    started = time.monotonic()
    result = run("fetch", "--n", 5, "--data-dir", data, "--cache-dir", cache, "--base-url", "http://127.0.0.1:9/api/v1",
                 "--backoff", 0.05, "--workers", 2, OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1
    assert time.monotonic() - started < 10
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: cannot reach BASE_URL http://127.0.0.1:9/api/v1: connection refused for 1 s and no "
                      "request was ever answered; check BASE_URL and the network"]
    assert "last=connection refused" in result.stderr  # the bar named the cause all along


def test_a_server_that_answers_errors_is_not_called_unreachable(rendered, monkeypatch, fake_api):
    monkeypatch.setattr(fetch_module, "UNREACHABLE_SECONDS", 0.5)
    monkeypatch.setattr(fetch_module, "RETRIES", 3)
    server = fake_api(fault_rate=1.0, faults=("502",))
    data, cache = rendered
    result = run("fetch", "--n", 2, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
                 "--backoff", 0.3, OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 0 and "cannot reach" not in result.stderr
    assert "0/2 seeds valid" in result.stderr and "last=HTTP 502" in result.stderr


def test_ctrl_c_says_what_was_kept_and_exits_130(dirs, fake_api):
    server = fake_api(latency=0.3)
    data, cache = dirs
    assert run("prompts", "--n", 40, "--data-dir", data).exit_code == 0
    args = [sys.executable, "-m", "stages", "fetch", "--n", "40", "--data-dir", str(data), "--cache-dir", str(cache),
            "--base-url", server.base_url, "--workers", "2"]
    proc = subprocess.Popen(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)
    deadline = time.monotonic() + 30
    while server.stats.requests < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "Aborted" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("fetch: interrupted; ") and "run the same command again to resume" in last
    kept = int(last.split("; ")[1].split()[0])
    assert 4 <= kept < 40
