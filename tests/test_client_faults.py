"""How a run treats servers that are slow, stuck, redirected or gone, as the user sees it:
what the server was asked, how long the run waited, and the line it ends with."""
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stages.transport.client import Request, post_completion
from stages.render import Settings, load_sources, request_body

from conftest import GOOD, ROOT, TEST_KEY, chat_answer, conversation_content, project_env, run

BODY = request_body(load_sources(), Settings(), 0)


class Scripted(ThreadingHTTPServer):
    """A loopback server answering POSTs by a script; counts what it was asked."""
    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.answer, self.posts = answer, 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class ScriptedHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts += 1
        status, headers, body = self.server.answer(self.server.posts)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted():
    servers = []

    def start(answer):
        servers.append(Scripted(answer))
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


def fetch(dirs, base_url, n, *extra):
    return run("fetch", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url,
               "--workers", 1, "--backoff", 0.01, *extra, OPENROUTER_API_KEY=TEST_KEY)


def test_an_answer_slower_than_the_connect_timeout_is_waited_for_up_to_timeout(fake_api):
    # Silent for longer than connecting may take (10 s), well inside TIMEOUT: the answer is read.
    server = fake_api(latency=10.6)
    text = post_completion(Request(server.base_url + "/chat/completions", BODY, TEST_KEY, 20.0))
    assert json.loads(text)["choices"][0]["finish_reason"] == "stop"


def test_a_stuck_server_is_given_up_on_after_timeout_and_asked_again(rendered, fake_api):
    server = fake_api(hang=True)   # answers with whitespace forever
    args = [sys.executable, "-m", "stages", "fetch", "--n", "1", "--data-dir", str(rendered[0]), "--cache-dir",
            str(rendered[1]), "--base-url", server.base_url, "--timeout", "1", "--backoff", "0.01"]
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY), capture_output=True, timeout=7)
    # TIMEOUT=1: each try ends after a second and the seed is asked again, not left waiting minutes.
    assert server.stats.requests >= 3


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_a_redirect_stops_the_run_at_once_naming_base_url(rendered, scripted, status):
    server = scripted(lambda _: (status, {"Location": "https://elsewhere.invalid/api/v1/chat/completions"}, b""))
    result = fetch(rendered, server.base_url, 5)
    assert result.exit_code != 0
    assert server.posts == 1   # not retried as a passing failure
    lines = result.stderr.strip().splitlines()
    assert "redirects to https://elsewhere.invalid" in lines[-1] and "BASE_URL" in lines[-1]
    assert "Traceback" not in result.output


def test_a_server_that_answered_and_then_went_down_is_not_called_unreachable(rendered, scripted, monkeypatch):
    monkeypatch.setattr("stages.fetching.UNREACHABLE_SECONDS", 0.3)
    monkeypatch.setattr("stages.fetching.RETRIES", 4)
    answer = json.dumps(chat_answer(conversation_content(GOOD))).encode()

    def once_then_down(posts):
        if posts == 1:   # after this answer the port refuses every connection
            threading.Thread(target=server.stop, daemon=True).start()
        return 200, {"Content-Type": "application/json"}, answer
    server = scripted(once_then_down)
    result = fetch(rendered, server.base_url, 5, "--backoff", 0.2)
    assert server.posts == 1
    assert "cannot reach BASE_URL" not in result.output and "never answered" not in result.output
    assert "connection refused" in result.output
