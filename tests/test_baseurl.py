"""A BASE_URL no retry can fix stops the run at once, with one line naming BASE_URL and the fix:
refused when a command starts, and, should one get past that, at the first request of the sync
and the batch path, against the loopback fake API."""
import json

import pytest
from conftest import TEST_KEY, run

from stages import fetching as fetch_module
from stages.transport.baseurl import BaseURL, problem, unusable_line


@pytest.mark.parametrize("url", [
    "https://openrouter.ai/api/v1", "http://127.0.0.1:8080/v1", "http://localhost:11434/v1/",
    "https://api.openai.com/v1", "HTTP://Example.com/openai/v1", "http://[::1]:8000/v1", "http://10.0.0.2",
])
def test_an_api_root_over_http_or_https_is_accepted(url):
    assert problem(url) is None


@pytest.mark.parametrize("url, said", [
    ("127.0.0.1:8080/v1", "has no scheme; write it with http:// or https:// in front, e.g. BASE_URL=http://127.0.0.1:8080/v1"),
    ("localhost/v1", "e.g. BASE_URL=http://localhost/v1"),
    ("ftp://x/v1", "uses the scheme ftp://"),
    ("file:///tmp/v1", "uses the scheme file://"),
    ("http:///v1", "names no host"),
    ("http://127.0.0.1:99999/v1", "port that is not a number"),
    ("http://127.0.0.1:80a/v1", "port that is not a number"),
    ("https://[::1/v1", "is not a valid URL"),
    ("http://example.com/v1/chat/completions", "set BASE_URL to the API root, BASE_URL=http://example.com/v1"),
    ("http://example.com/v1/models/", "ends in the endpoint /models"),
    ("http://example.com/v1?key=1", "query or fragment"),
    (" http://example.com/v1", "holds a space"),
    ("", "BASE_URL is empty"),
])
def test_a_base_url_of_the_wrong_shape_is_named_with_its_fix(url, said):
    line = problem(url)
    assert line.startswith("BASE_URL") and said in line and "\n" not in line


def test_a_request_the_library_refuses_names_the_base_url_it_came_from():
    assert unusable_line("127.0.0.1:8080/v1/batches/b1/results?limit=5", "MissingSchema").startswith(
        "BASE_URL 127.0.0.1:8080/v1 has no scheme")
    assert "BASE_URL http://h/v1 cannot be used (InvalidURL: bad)" in unusable_line("http://h/v1/chat/completions",
                                                                                    "InvalidURL: bad")


def error_line(stderr: str) -> str:
    """The one line after the progress bar (which redraws itself with carriage returns)."""
    assert stderr.count("Error:") == 1 and "Traceback" not in stderr
    return stderr.split("\n")[-2].split("\r")[-1]


def schemeless(server) -> str:
    return server.base_url.removeprefix("http://")


def fetch_args(dirs, base_url, *extra):
    return ["fetch", "--n", 3, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url,
            "--backoff", 0.05, "--workers", 2, *extra]


@pytest.mark.parametrize("command", ["prompts", "fetch", "dataset", "validate", "stats", "show", "estimate"])
def test_every_command_refuses_a_schemeless_base_url_before_it_starts(rendered, fake_api, command):
    server = fake_api()
    result = run(command, "--data-dir", rendered[0], "--base-url", schemeless(server))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "BASE_URL 127.0.0.1:" in result.stderr and "http://" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert server.stats.requests == 0 and not rendered[1].exists()


@pytest.fixture
def unchecked(monkeypatch):
    """As if BASE_URL got past the start-up check: what the transport does with it alone."""
    monkeypatch.setattr(BaseURL, "convert", lambda self, value, param, ctx: value)
    sent = []
    real = fetch_module.post_completion
    monkeypatch.setattr(fetch_module, "post_completion", lambda request: sent.append(request.url) or real(request))
    return sent


@pytest.mark.parametrize("shape", ["no scheme", "ftp"])
def test_the_sync_path_stops_at_the_first_request_naming_base_url(rendered, fake_api, unchecked, shape):
    server = fake_api()
    url = schemeless(server) if shape == "no scheme" else server.base_url.replace("http://", "ftp://")
    result = run(*fetch_args(rendered, url), OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1
    assert error_line(result.stderr).startswith("Error: BASE_URL 127.0.0.1:" if shape == "no scheme" else
                                                 "Error: BASE_URL ftp://127.0.0.1:")
    assert "connection failed" not in result.stderr and "no request was ever answered" not in result.stderr
    assert 1 <= len(unchecked) <= 2  # one request per worker at most: nothing retried
    assert server.stats.requests == 0


def test_the_batch_path_stops_at_its_first_create_naming_base_url(rendered, fake_api, unchecked, monkeypatch):
    from stages.fake.batch import BatchFake
    monkeypatch.setattr("stages.transport.batch.POLL_FIRST", 0.05)
    server = fake_api(batch=BatchFake(delay=0.1))
    result = run(*fetch_args(rendered, schemeless(server), "--batch", 1), OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1
    assert error_line(result.stderr).startswith("Error: BASE_URL 127.0.0.1:") and "has no scheme" in result.stderr
    assert server.stats.requests == 0 and not server.batches.batches


def closed_port_url() -> str:
    """An address on loopback where nothing listens: bound on port 0, read back, closed."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_server_never_reached_stops_the_run_even_with_more_seeds_than_fit_in_the_queue(dirs, monkeypatch):
    """More seeds than the queue's window: the feeder waits for room while seeds sit out their
    backoffs; the stop for a server never reached must fire then too, not once every seed has
    given up (hours at N=1000)."""
    monkeypatch.setattr(fetch_module, "UNREACHABLE_SECONDS", 0.3)
    n = fetch_module.window_size(1) + 30
    assert run("prompts", "--n", n, "--data-dir", dirs[0]).exit_code == 0
    seeds_sent = set()
    real = fetch_module.post_completion
    monkeypatch.setattr(fetch_module, "post_completion",
                        lambda request: seeds_sent.add(json.dumps(request.body)) or real(request))
    result = run("fetch", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", closed_port_url(),
                 "--workers", 1, "--backoff", 1)
    assert result.exit_code == 1
    assert "Error: cannot reach BASE_URL http://127.0.0.1:" in error_line(result.stderr)
    assert "connection refused" in error_line(result.stderr)
    assert len(seeds_sent) < n  # stopped while seeds still waited to be let in
