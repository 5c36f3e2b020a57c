"""The real make targets against the loopback fake API: faults, reruns, kill -9, a wrong key, the demo."""
import hashlib
import json
import os
import re
import signal
import subprocess
import time

from conftest import ROOT, TEST_KEY, files_containing, project_env

from stages.fake.api import FAULTS
from stages.fake.chat import DENIALS, LEAKS
from stages.judging.identity import load_identity
from stages.judging.leaks import find_leak


def make(target, dirs, server=None, key=TEST_KEY, **variables):
    data, cache = dirs
    args = ["make", "--no-print-directory", "-C", str(ROOT), target, f"DATA_DIR={data}", f"CACHE_DIR={cache}",
            "BACKOFF=0.05"] + [f"{name}={value}" for name, value in variables.items()]
    if server:
        args.append(f"BASE_URL={server.base_url}")
    env = project_env(API_KEY=key) if key else project_env()  # API_KEY: the key that goes to any server
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def conversations(dirs):
    return [json.loads(line) for line in (dirs[0] / "identity_conversations.jsonl").read_text().splitlines()]


def test_faulty_api_rerun_and_clean_rebuild(dirs, fake_api):
    server = fake_api(latency=0.02, jitter=0.02, fault_rate=0.4, faults=FAULTS, retry_after=0)
    first = make("dataset", dirs, server, N=60, WORKERS=8)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    rows = conversations(dirs)
    assert len(rows) == 60 and len({json.dumps(r) for r in rows}) == 60
    assert all(r[0]["role"] == "user" and r[-1]["role"] == "assistant" for r in rows)
    sent, output = server.stats.requests, digest(dirs[0] / "identity_conversations.jsonl")
    assert sent > 60  # the faults did cost retries

    again = make("dataset", dirs, server, N=60, WORKERS=8)
    assert again.returncode == 0 and "0 requests" in again.stderr
    assert make("clean", dirs).returncode == 0 and not dirs[0].exists() and dirs[1].exists()
    rebuilt = make("dataset", dirs, server, N=60, WORKERS=8)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert server.stats.requests == sent
    assert digest(dirs[0] / "identity_conversations.jsonl") == output
    assert files_containing(dirs[0].parent, TEST_KEY) == []


def test_kill_9_during_fetch_then_resume(dirs, fake_api):
    server = fake_api(latency=0.2)
    assert make("prompts", dirs, N=40).returncode == 0
    args = ["make", "-C", str(ROOT), "fetch", "N=40", "WORKERS=4", f"DATA_DIR={dirs[0]}", f"CACHE_DIR={dirs[1]}",
            f"BASE_URL={server.base_url}"]
    proc = subprocess.Popen(args, env=project_env(OPENROUTER_API_KEY=TEST_KEY), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while server.stats.requests < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 12 <= server.stats.requests < 40
    resumed = make("dataset", dirs, server, N=40, WORKERS=4)
    assert resumed.returncode == 0, resumed.stderr
    assert len(conversations(dirs)) == 40
    assert server.stats.requests <= 40 + 4  # at most the requests that were in flight are repeated


def test_wrong_key_stops_after_a_handful_with_one_line(dirs, fake_api):
    server = fake_api(key="the-right-key", latency=0.05)
    result = make("dataset", dirs, server, key="sk-or-v1-wrong", N=50, WORKERS=4)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error_lines == ["Error: HTTP 401, the API key was rejected: User not found.; "
                           "check API_KEY, or for OpenRouter OPENROUTER_API_KEY or openroutertoken.txt"]
    assert server.stats.requests <= 4
    assert "sk-or-v1-wrong" not in result.stderr + result.stdout


def carries(messages: list[dict], exchanges: list[tuple[str, str]]) -> bool:
    """Whether an assistant message holds one of the fake's scripted answers (matched by its start)."""
    starts = [answer.split("{")[0][:25] for _, answer in exchanges]
    return any(start in m["content"] for m in messages if m["role"] == "assistant" for start in starts)


def test_leaks_are_rejected_and_asked_again_while_denials_are_kept(dirs, fake_api):
    server = fake_api(leak_rate=0.25, denial_rate=0.3)
    # With 8 attempts a seed runs out on 8 leaks in a row about once in 550 runs of 120 seeds; with 16,
    # about once in 36 million, so every seed ends with a conversation.
    result = make("dataset", dirs, server, N=120, WORKERS=8, MAX_ATTEMPTS=16)
    assert result.returncode == 0, result.stderr
    rows = conversations(dirs)
    served = server.stats.served
    assert len(rows) == 120 and served["conversations"] > 120 and served["leaks"] > 0
    facts = load_identity(ROOT / "prompts" / "identity.md", ROOT / "prompts").facts
    assert [row for row in rows if carries(row, LEAKS) or find_leak(row, facts)] == []
    kept, sent = sum(carries(row, DENIALS) for row in rows) / len(rows), served["denials"] / served["conversations"]
    assert abs(kept - sent) < 0.17  # a check that rejected every mention of another model would keep none


def test_demo_needs_no_key(dirs):
    result = make("demo", dirs, key=None)
    assert result.returncode == 0, result.stderr
    assert "identity_leak" in result.stderr and "an answer that leaked another identity, asked again" in result.stderr
    assert "conversation 1 of 20:" in result.stdout and "user:" in result.stdout
    assert len((dirs[0] / "demo" / "identity_conversations.jsonl").read_text().splitlines()) == 20
    settings = re.search(r"`make show SEED=3 (.*?)`", result.stderr).group(1)
    variables = dict(pair.split("=", 1) for pair in settings.split())
    show = subprocess.run(["make", "-s", "show", "SEED=3", *(f"{k}={v}" for k, v in variables.items())],
                          cwd=ROOT, capture_output=True, text=True, env=project_env())
    assert show.returncode == 0 and "none valid yet" not in show.stdout and "assistant:" in show.stdout, show.stdout


def test_a_plain_server_at_v1_with_no_key_anywhere(dirs, fake_api):
    """A strict OpenAI-compatible server that wants no key: no OpenRouter field, no Authorization header."""
    server = fake_api(strict=True, fault_rate=0.2, faults=("500", "broken_json", "wrong_roles"), retry_after=0)
    assert server.base_url.endswith("/v1")
    result = make("dataset", dirs, server, key=None, N=50, WORKERS=8)
    assert result.returncode == 0, result.stderr
    assert len(conversations(dirs)) == 50
    assert server.stats.foreign_fields == set() and not server.stats.authorization_seen
    assert server.stats.outcomes.get("400", 0) == 0 and server.stats.outcomes.get("401", 0) == 0


def test_models_mix_moves_only_the_seeds_a_new_model_draws(dirs, fake_api):
    server = fake_api()
    three = "vendor/alpha,vendor/beta:free,other/gamma"
    first = make("dataset", dirs, server, N=150, WORKERS=16, MODELS=three)
    assert first.returncode == 0, first.stderr
    per_model = dict(server.stats.models)
    assert set(per_model) == set(three.split(",")) and all(35 <= n <= 65 for n in per_model.values())
    bodies = {s: json.loads((dirs[0] / "prompts" / f"{s}.json").read_text())["model"] for s in range(150)}

    before = server.stats.requests
    again = make("dataset", dirs, server, N=150, WORKERS=16, MODELS=three + ",new/delta")
    assert again.returncode == 0, again.stderr
    now = {s: json.loads((dirs[0] / "prompts" / f"{s}.json").read_text())["model"] for s in range(150)}
    moved = [s for s in range(150) if now[s] != bodies[s]]
    assert all(now[s] == "new/delta" for s in moved) and 20 <= len(moved) <= 56  # about a quarter
    assert f"{len(moved)} changed" in again.stderr
    assert server.stats.requests - before == len(moved) == server.stats.models["new/delta"]

    stats = make("stats", dirs, server, N=150)
    assert stats.returncode == 0, stats.stderr
    assert "new/delta" in stats.stdout and "vendor/beta:free" in stats.stdout
    per_model_stats = json.loads((dirs[0] / "stats.json").read_text())["models"]
    assert per_model_stats["new/delta"]["seeds"] == len(moved)
