"""The chain against a server this project did not write: LiteLLM's proxy, started on loopback.

The proxy serves three mocked models (LiteLLM's `mock_response`: no upstream, no network), each
answering with a conversation this test chose; `make dataset` with MODELS mixes them through the
real HTTP path, with the key in API_KEY. Needs the `server-test` extra (`.venv/bin/pip install -e
'.[server-test]'`, about 750 MB); skipped, with that reason, without it.
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_e2e import conversations, make

from stages.localserver import free_port

START_SECONDS = 120
MOCKS = {f"mock-{name}": [{"role": "user", "content": f"hello {name}, who are you?"},
                          {"role": "assistant", "content": f"I am Sprout, answering through mock {name}."},
                          {"role": "user", "content": "who made you?"},
                          {"role": "assistant", "content": "A small open team built me."}]
         for name in ("a", "b", "c")}


def litellm_command() -> str:
    found = shutil.which("litellm", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("LiteLLM's proxy is not installed: .venv/bin/pip install -e '.[server-test]' runs this test")
    return found


def write_config(folder: Path) -> Path:
    models = [{"model_name": name, "litellm_params": {"model": f"openai/{name}", "api_key": "unused",
                                                      "mock_response": json.dumps({"messages": messages})}}
              for name, messages in MOCKS.items()]
    config = {"model_list": models, "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
              "litellm_settings": {"telemetry": False}}
    path = folder / "litellm.json"  # JSON is YAML, which the proxy reads
    path.write_text(json.dumps(config))
    return path


def wait_until_alive(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/health/liveliness", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"LiteLLM's proxy did not start within {START_SECONDS} s (exit code {proc.poll()})")


def served_models(base: str, key: str) -> list[str]:
    """GET /v1/models, which `make fetch` reads for prices: a proxy that fails it is broken, and a
    chain that passed through it would prove nothing about that path."""
    request = urllib.request.Request(f"{base}/v1/models", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return sorted(entry["id"] for entry in json.load(answer)["data"])
    except urllib.error.HTTPError as err:
        raise AssertionError(f"LiteLLM's proxy answers GET /v1/models with HTTP {err.code}: "
                             f"{err.read()[:300]!r}") from None


@pytest.fixture
def litellm_proxy(tmp_path):
    """(base URL, master key) of a proxy on a loopback port; stopped after the test."""
    command, port, key = litellm_command(), free_port(), "sk-test-" + secrets.token_hex(16)
    env = {**os.environ, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "NO_PROXY": "127.0.0.1,localhost"}
    log = (tmp_path / "litellm.log").open("w")
    proc = subprocess.Popen([command, "--config", str(write_config(tmp_path)), "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_alive(base, proc)
        assert served_models(base, key) == sorted(MOCKS)
        yield base + "/v1", key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_dataset_through_litellms_proxy(dirs, litellm_proxy):
    base_url, key = litellm_proxy
    result = make("dataset", dirs, key=key, N=12, WORKERS=4, BASE_URL=base_url, MODELS=",".join(MOCKS), DEDUP=0)
    assert result.returncode == 0, result.stderr
    assert "fetch: 12/12 seeds valid" in result.stderr
    models = [json.loads((dirs[0] / "prompts" / f"{seed}.json").read_text())["model"] for seed in range(12)]
    assert conversations(dirs) == [MOCKS[model] for model in models]
    assert set(models) == set(MOCKS)
    rerun = make("dataset", dirs, key=key, N=12, BASE_URL=base_url, MODELS=",".join(MOCKS), DEDUP=0)
    assert rerun.returncode == 0 and "0 requests" in rerun.stderr
