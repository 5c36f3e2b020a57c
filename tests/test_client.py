"""The HTTP client against the loopback fake and small loopback servers: keep-alive whitespace, stuck and
silent servers, statuses, what the server receives, connections, proxies and certificates."""
import functools
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from email.utils import formatdate

import pytest
import requests
import responses
from conftest import ROOT, TEST_KEY, project_env

from stages.render import Settings, load_sources, request_body
from stages.errors import FatalAPIError
from stages.transport.answers import parse_completion
from stages.transport import client
from stages.transport.client import Request, TransientHTTP, Watchdog, connection_failure, get_json, post_completion

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


@pytest.fixture
def watchdog(monkeypatch):
    """A watchdog of the test's own: it starts in the test, with nothing left by earlier tests."""
    monkeypatch.setattr(client, "WATCHDOG", Watchdog())


def outcome_within(call, limit=3.0) -> dict:
    """Run call() in a new thread (its own connection, settings read afresh): its result or error and seconds."""
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            outcome["result"] = call()
        except Exception as err:
            outcome["error"] = err
        outcome["seconds"] = time.monotonic() - started
    worker = threading.Thread(target=run, daemon=True)  # left waiting if the call never returns
    worker.start()
    worker.join(limit)
    assert "seconds" in outcome, f"no answer and no error after {limit} s"
    return outcome


def stuck_for(server, timeout):
    """Ask a server that never finishes; the seconds until the client gave up."""
    outcome = outcome_within(lambda: ask(server, timeout=timeout))
    assert isinstance(outcome.get("error"), TransientHTTP), outcome
    assert "deadline" in str(outcome["error"]) or "cut off" in str(outcome["error"])
    return outcome["seconds"]


class RawServer:
    """A loopback TCP server giving each connection, with its number, to handle(server, conn, n)."""

    def __init__(self, handle):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.handle, self.connections, self.requests, self.heads, self.bodies = handle, 0, [], [], []
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed at teardown
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(self, conn, self.connections), daemon=True).start()

    def read_request(self, conn) -> bytes:
        """The request head and body (the client always sends Content-Length)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise EOFError("the client closed the connection")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), b"0"))
        while len(body) < length:
            body += conn.recv(65536)
        lines = head.decode().split("\r\n")
        self.requests.append(lines[0])
        self.heads.append({name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])})
        self.bodies.append(body)
        return body


def http_answer(body: bytes, length: int | None = None, close: bool = True) -> bytes:
    closing = "Connection: close\r\n" if close else ""   # else HTTP/1.1 keeps the connection open
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{closing}"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode() + body


def answer_every_request(server, conn, n, wrap=lambda conn: conn) -> None:
    """Answer each request on a connection until the client closes it."""
    try:
        conn = wrap(conn)
        while True:
            server.read_request(conn)
            conn.sendall(http_answer(b'{"answered": true}', close=False))
    except (EOFError, OSError):  # the client hung up, or refused the certificate
        conn.close()


TLS = ROOT / "tests" / "data" / "tls"   # a self-signed pair for 127.0.0.1, for the loopback server only


def tls_server(raw_server):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "loopback-cert.pem", TLS / "loopback-key.pem")
    wrap = functools.partial(context.wrap_socket, server_side=True)
    server = raw_server(functools.partial(answer_every_request, wrap=wrap))
    return server.url.replace("http://", "https://") + "/v1/chat/completions"


@pytest.fixture
def raw_server():
    servers = []

    def start(handle):
        servers.append(RawServer(handle))
        return servers[-1]
    yield start
    for server in servers:
        server.sock.close()


def test_each_stuck_answer_in_a_row_is_given_up_on_soon_after_its_deadline(fake_api, watchdog):
    server = fake_api(hang=True)  # whitespace every 0.2 s, forever: the read timeout alone never fires
    for _ in range(2):   # the second starts once the watchdog has nothing left to watch
        assert stuck_for(server, timeout=0.4) < 2.5  # generous: a loaded machine is slow to wake
    assert server.stats.requests == 2


def test_a_stuck_answer_is_given_up_on_while_another_is_answered(fake_api, watchdog):
    stuck, quick = fake_api(hang=True), fake_api()
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(seconds=stuck_for(stuck, timeout=0.6)), daemon=True)
    worker.start()
    while stuck.stats.requests == 0:
        time.sleep(0.01)
    time.sleep(0.05)   # the stuck answer is being read
    assert parse_completion(ask(quick))["choices"][0]["finish_reason"] == "stop"
    worker.join(4.0)
    assert outcome.get("seconds", 99) < 3.0


def test_a_process_that_asked_exits_when_done(fake_api):
    server = fake_api()
    script = ("import json, sys; from stages.transport.client import Request, post_completion; "
              "post_completion(Request(sys.argv[1], json.loads(sys.argv[2]), 'k', 10.0)); print('answered')")
    done = subprocess.run([sys.executable, "-c", script, server.base_url + "/chat/completions", json.dumps(BODY)],
                          cwd=ROOT, env=project_env(), capture_output=True, text=True, timeout=10)
    assert (done.returncode, done.stdout.strip()) == (0, "answered"), done.stderr[-300:]


def test_a_server_that_takes_the_request_and_never_answers_is_given_up_on_after_timeout(raw_server):
    held = []
    server = raw_server(lambda server, conn, n: (server.read_request(conn), held.append(conn)))  # no status line, ever
    outcome = outcome_within(lambda: post_completion(Request(server.url + "/v1/chat/completions", BODY, "k", 0.3)))
    assert isinstance(outcome.get("error"), TransientHTTP) and not outcome["error"].unreachable, outcome
    assert outcome["seconds"] < 2.0


def test_an_answer_with_bytes_that_are_not_utf8_is_read_with_replacement_characters(raw_server):
    body = b'{"choices": [], "note": "caf\xe9"}'
    server = raw_server(lambda server, conn, n: (server.read_request(conn), conn.sendall(http_answer(body)), conn.close()))
    text = post_completion(Request(server.url + "/v1/chat/completions", BODY, "k", 5.0))
    assert json.loads(text)["note"] == "caf\ufffd"


def test_an_answer_cut_short_of_its_length_is_reported_as_cut_off(raw_server):
    server = raw_server(lambda server, conn, n: (server.read_request(conn),
                                                 conn.sendall(http_answer(b'{"cho', length=500)), conn.close()))
    with pytest.raises(TransientHTTP, match="answer cut off"):
        post_completion(Request(server.url + "/v1/chat/completions", BODY, "k", 5.0))


def test_a_dropped_get_is_not_retried_by_the_client(raw_server):
    # fetch retries, behind its shared rate limiter; a second try here would bypass it
    def drop_first(server, conn, n):
        server.read_request(conn)
        if n > 1:
            conn.sendall(http_answer(b'{"data": []}'))
        conn.close()
    server = raw_server(drop_first)
    outcome = outcome_within(lambda: get_json(server.url + "/v1/models", None, 5.0))
    assert isinstance(outcome.get("error"), TransientHTTP), outcome
    assert server.connections == 1


def test_the_proxy_named_in_the_environment_carries_the_request(raw_server, monkeypatch):
    proxy = raw_server(lambda server, conn, n: (server.read_request(conn),
                                                conn.sendall(http_answer(b'{"via": "proxy"}')), conn.close()))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy", raising=False)
    target = "http://127.0.0.1:9/v1/chat/completions"  # nothing listens there
    outcome = outcome_within(lambda: post_completion(Request(target, BODY, "k", 5.0)))
    assert json.loads(outcome.get("result") or "{}") == {"via": "proxy"}, outcome
    assert proxy.requests == [f"POST {target} HTTP/1.1"]


def test_one_threads_requests_share_one_connection(raw_server):
    server = raw_server(answer_every_request)

    def ask_three():
        return [post_completion(Request(server.url + "/v1/chat/completions", BODY, "k", 5.0)) for _ in range(3)]
    assert outcome_within(ask_three).get("result") == ['{"answered": true}'] * 3
    assert (len(server.requests), server.connections) == (3, 1)


def test_a_certificate_the_system_does_not_trust_is_refused(raw_server, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    url = tls_server(raw_server)
    outcome = outcome_within(lambda: post_completion(Request(url, BODY, "k", 5.0)))
    assert isinstance(outcome.get("error"), TransientHTTP), outcome
    assert str(outcome["error"]) == "TLS error" and outcome["error"].unreachable


def test_the_ca_bundle_named_in_the_environment_is_trusted(raw_server, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS / "loopback-cert.pem"))
    url = tls_server(raw_server)
    assert outcome_within(lambda: post_completion(Request(url, BODY, "k", 5.0))).get("result") == '{"answered": true}'


def test_the_body_is_sent_as_compact_utf8_json_with_the_headers_an_api_reads(raw_server):
    server = raw_server(answer_every_request)
    body = {"model": "m", "messages": [{"role": "user", "content": "café"}], "n": 1}
    post_completion(Request(server.url + "/v1/chat/completions", body, "sk-test", 5.0))
    assert server.requests == ["POST /v1/chat/completions HTTP/1.1"]
    assert server.bodies == ['{"model":"m","messages":[{"role":"user","content":"café"}],"n":1}'.encode()]
    head = server.heads[0]
    assert head["content-type"].lower() == "application/json" and head["content-length"] == str(len(server.bodies[0]))
    assert (head["authorization"], head["x-title"]) == ("Bearer sk-test", "identity-chats")


def test_a_body_that_is_not_valid_json_is_never_sent(raw_server):
    server = raw_server(answer_every_request)
    with pytest.raises(ValueError):
        post_completion(Request(server.url + "/v1/chat/completions", {"temperature": float("nan")}, "k", 5.0))
    assert server.connections == 0


def test_a_get_answered_with_something_other_than_json_names_what_was_asked(raw_server):
    server = raw_server(lambda server, conn, n: (server.read_request(conn),
                                                 conn.sendall(http_answer(b"<html>sign in</html>")), conn.close()))
    with pytest.raises(TransientHTTP) as err:
        get_json(server.url + "/v1/models", None, 5.0)
    assert "GET models" in str(err.value) and "not JSON" in str(err.value)


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


@pytest.mark.parametrize("status, body, error, words", [
    (400, {"error": {"message": "messages: field required"}}, FatalAPIError, ["HTTP 400", "field required", "MODEL"]),
    (405, {"error": {"message": "POST is not allowed here"}}, FatalAPIError, ["HTTP 405", "not allowed", "BASE_URL"]),
    (409, "", FatalAPIError, ["HTTP 409", "no details", "BASE_URL"]),
    (500, "upstream crashed", TransientHTTP, ["HTTP 500", "upstream crashed"]),
    (502, {"error": {"message": "provider overloaded"}}, TransientHTTP, ["HTTP 502", "provider overloaded"])])
@responses.activate
def test_a_failed_call_names_the_status_and_the_servers_own_words(status, body, error, words):
    url = "http://127.0.0.1:9/api/v1/chat/completions"
    responses.post(url, status=status, **({"json": body} if isinstance(body, dict) else {"body": body}))
    with pytest.raises(error) as err:
        post_completion(Request(url, BODY, TEST_KEY, 5.0))
    assert [word for word in words if word not in str(err.value)] == []
    if isinstance(body, dict):
        assert err.value.detail == body["error"]["message"]


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
