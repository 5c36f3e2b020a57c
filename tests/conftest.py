"""Shared fixtures: temp data and cache folders, a clean environment, a loopback fake API."""
import json
import os
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from stages.__main__ import COMMANDS, cli
from stages.fetching import WORKER_NAME
from stages.render import Settings, load_sources, render_all
from stages.config import option_variables
from stages.judging.rules import completions_url
from stages.judging.memo import NOTES_FILE
from stages.fake.api import FakeConfig, start_fake
from stages.storage.bodies import load_body
from stages.storage.cache import answer_key, open_cache

# No example database in the work tree, no timing limit on one example, and in CI the same
# examples every run, so a red CI always reproduces.
settings.register_profile("project", deadline=None, database=None, max_examples=30,
                          derandomize=os.environ.get("CI") == "true")
settings.load_profile("project")

ROOT = Path(__file__).resolve().parent.parent
# Every variable a command or the Makefile reads, so a person's exported settings cannot change a test.
MAKE_VARIABLES = tuple(sorted(option_variables(COMMANDS))) + ("OPENROUTER_API_KEY", "API_KEY", "STAGES_DEBUG") + tuple(
    line.split(" ?=")[0] for line in (ROOT / "Makefile").read_text().splitlines() if " ?=" in line)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
TEST_KEY = "sk-or-v1-test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    """A run stopped by a fatal error leaves its workers out for a moment (their answers may be
    billed); in one process they would send the next test's requests, so wait for them here."""
    yield
    for thread in threading.enumerate():
        if thread.name == WORKER_NAME:
            thread.join(timeout=30)


@pytest.fixture(autouse=True)
def fresh_connections(monkeypatch):
    """Each test's requests go on connections of its own. A connection kept alive from an earlier
    test stays served by that test's fake API even after it shut down, so a later server given the
    same port would never see the request, and the earlier one would answer it."""
    monkeypatch.setattr("stages.transport.client._local", threading.local())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Run from the project root with no stray make variables, key file or proxies (traffic stays on loopback)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr("stages.transport.key.KEY_FILE", tmp_path / "no-key-file.txt")
    for name in MAKE_VARIABLES + PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def time_limit():
    """With TEST_TIME_LIMIT=seconds (`make mutants` sets it), a test that runs longer fails
    instead of hanging: a planted bug that deadlocks costs seconds, not minutes."""
    seconds = float(os.environ.get("TEST_TIME_LIMIT") or 0)
    if not seconds:
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"test ran past TEST_TIME_LIMIT={seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def dirs(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    return data, cache


@pytest.fixture
def rendered(dirs):
    """Five rendered prompts in the temp data folder."""
    render_all(load_sources(), Settings(), 5, dirs[0] / "prompts")
    return dirs


@pytest.fixture
def fake_api():
    """Start a fake API: fake_api(**FakeConfig fields) -> server with .base_url and .stats."""
    servers = []

    def start(**config):
        servers.append(start_fake(FakeConfig(**config)))
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def conversation_content(messages: list[dict]) -> str:
    return json.dumps({"messages": messages})


def chat_answer(content: str, finish: str = "stop", cost: float = 0.001) -> dict:
    return {"id": "gen-1", "choices": [{"finish_reason": finish, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "cost": cost}}


def chat(*contents: str) -> list[dict]:
    """A conversation from its message texts, user first, alternating."""
    return [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(contents)]


GOOD = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello, I am Sprout."}]


def files_containing(folder: Path, needle: str) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(path)
    return found


def project_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    env.update(extra)
    return env


def default_ctrl_c() -> None:
    """Popen's preexec_fn for a child that a test stops with SIGINT: a suite started in the background
    (`make test &`, nohup, some CI runners) ignores SIGINT, and a child would inherit that and never stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


FAKE_URL = "http://127.0.0.1:9/api/v1"


def cache_entry(content: str, finish: str = "stop", cost: float = 0.001) -> str:
    """A cache entry as fetch writes it, around a completion with this content."""
    return json.dumps({"seed": 0, "attempt": 0, "body": json.dumps(chat_answer(content, finish, cost))})


def store_answer(dirs, seed: int, attempt: int, raw, url: str = FAKE_URL) -> None:
    """Put an answer in the cache under the key fetch would use for this seed's rendered prompt."""
    with open_cache(dirs[1]) as cache:
        cache.set(answer_key(completions_url(url), load_body(dirs[0], seed), attempt), raw)


def run(*args, **env):
    """Invoke `python -m stages ARGS` in-process; env adds environment variables."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env or None)


def pytest_configure(config):
    """Known without pytest-xdist too (`-p no:xdist`, a serial run to compare with)."""
    config.addinivalue_line("markers", "xdist_group(name): tests that `make test` keeps in one process")


# Tests that may skip in CI, each with the reason it cannot run there. CI (CI=true) installs what
# every other test needs, so any other skip there is a failure, not a silent gap.
SKIP_ALLOWED_IN_CI: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    skipped = report.skipped and not hasattr(report, "wasxfail")
    if skipped and os.environ.get("CI") == "true" and item.nodeid not in SKIP_ALLOWED_IN_CI:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI ({reason}): install what it needs in .ci/run, "
                           "or list it in SKIP_ALLOWED_IN_CI with the reason")


DATASET_OUTPUTS = ("identity_conversations.jsonl", "rejected.jsonl", "duplicates.jsonl")


def dataset_outputs(folder: Path) -> dict:
    return {name: (folder / name).read_bytes() for name in DATASET_OUTPUTS}


def forget_build_notes(folder: Path) -> None:
    """Remove what earlier `make dataset` builds noted, so the next build starts from nothing."""
    (folder / NOTES_FILE).unlink(missing_ok=True)
