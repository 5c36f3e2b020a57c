"""`make card` writes a folder Hugging Face datasets loads and whose card huggingface_hub parses;
`make publish` uploads it (to a loopback stand-in here: never to the Hub from the tests)."""
import json
import subprocess
import sys

import pytest
from conftest import FAKE_URL, ROOT, project_env, cache_entry, chat, conversation_content, files_containing, run, store_answer
from hubstandin import HubStandIn

from stages.render import Settings, load_sources, render_all

N = 40
TOKEN = "hf_standin_token_0123456789"


@pytest.fixture
def run40(dirs):
    """40 seeds, each with a distinct valid conversation; seed 7 leaks first."""
    render_all(load_sources(), Settings(), N, dirs[0] / "prompts")
    for seed in range(N):
        attempt = 0
        if seed == 7:
            store_answer(dirs, seed, 0, cache_entry(conversation_content(chat("hi", "I am ChatGPT, made by OpenAI."))))
            attempt = 1
        text = f"I am Sprout, seed {seed} speaking about topic number {seed * 7} in my own words today."
        store_answer(dirs, seed, attempt, cache_entry(conversation_content(chat(f"question {seed}?", text))))
    return dirs


def card(dirs, *extra):
    result = run("card", "--n", N, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", FAKE_URL, *extra)
    assert result.exit_code == 0, result.output
    return dirs[0] / "hf"


def test_the_folder_loads_with_datasets_and_the_card_parses(run40, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets", reason="pip install -e '.[hf]' runs this test")
    hub = pytest.importorskip("huggingface_hub", reason="pip install -e '.[hf]' runs this test")
    folder = card(run40, "--card-split", "0.2", "--license", "cc-by-4.0")
    loaded = datasets.load_dataset(str(folder))
    assert loaded["train"].num_rows + loaded["validation"].num_rows == N
    assert loaded["validation"].num_rows > 0
    assert loaded["train"][0]["messages"][0]["role"] == "user"
    parsed = hub.DatasetCard.load(folder / "README.md")
    assert parsed.data.license == "cc-by-4.0"
    assert parsed.data.size_categories == ["n<1K"] and parsed.data.task_categories == ["text-generation"]
    assert [c["config_name"] for c in parsed.data.configs] == ["default"]
    text = parsed.text
    for fact in ("**Sprout**", "from 40 seeds", "google/gemini-2.5-flash", "1 of 41 answers rejected (2.4%)",
                 "Total cost: $0.0410"):
        assert fact in text, fact


def test_sharegpt_lines_and_the_array_format_written_as_messages(run40):
    folder = card(run40, "--format", "sharegpt")
    first = json.loads((folder / "data" / "train.jsonl").read_text().splitlines()[0])
    assert first["conversations"][0]["from"] == "human"
    folder = card(run40, "--format", "array")
    first = json.loads((folder / "data" / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][1]["role"] == "assistant"


@pytest.fixture
def hub():
    server = HubStandIn().start()
    yield server
    server.shutdown()
    server.server_close()


def test_publish_uploads_every_file_to_a_loopback_stand_in(run40, hub, tmp_path):
    pytest.importorskip("huggingface_hub", reason="pip install -e '.[hf]' runs this test")
    folder = card(run40)
    # A process of its own: huggingface_hub reads its settings (offline mode, the endpoint) once, at import.
    env = project_env(HF_TOKEN=TOKEN, HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1",
                      HF_HOME=str(tmp_path / "hf-home"), REPO="someone/sprout-chats", DATA_DIR=str(run40[0]))
    result = subprocess.run([sys.executable, "-m", "stages", "publish"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"uploaded {folder} to someone/sprout-chats" in result.stderr
    assert hub.repos[0]["name"] == "sprout-chats" and hub.repos[0]["type"] == "dataset"
    sent = {path: (folder / path).read_bytes() for path in ("README.md", "data/train.jsonl", "data/validation.jsonl")}
    assert hub.files == sent
    assert hub.authorization == {f"Bearer {TOKEN}"}
    assert not files_containing(tmp_path, TOKEN)  # the token is written nowhere


def test_publish_without_a_token_is_one_line(run40):
    card(run40)
    result = run("publish", "--repo", "someone/sprout-chats", "--data-dir", run40[0])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no token: set HF_TOKEN to a Hugging Face token with write access"
