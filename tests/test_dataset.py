"""The assembled file: nanochat's loading rules, other trainers' format, dedup and the stable split."""
import json

import pytest

from stages.dataset import in_validation

from conftest import FAKE_URL, TEST_KEY, cache_entry, conversation_content, store_answer, run


def build(dirs, n, *extra, base_url=FAKE_URL):
    result = run("dataset", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url, *extra)
    assert result.exit_code == 0, result.output
    return result


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


class NanochatCustomJSON:
    """nanochat's CustomJSON loader (tasks/customjson.py at commit da32e1d, the last that has it),
    restated without its Task base class: the same reading and the same assertions, in order."""

    def __init__(self, filepath):
        self.conversations = []
        with open(filepath, 'r', encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                messages = json.loads(line)
                assert isinstance(messages, list), f"Expected list of messages, got {type(messages)}"
                assert len(messages) >= 2, f"Conversation must have at least 2 messages, got {len(messages)}"
                for i, message in enumerate(messages):
                    assert "role" in message, f"Message {i} missing 'role' field"
                    assert "content" in message, f"Message {i} missing 'content' field"
                    expected_role = "user" if i % 2 == 0 else "assistant"
                    assert message["role"] == expected_role, f"Message {i} has role {message['role']} but should be {expected_role}"
                    assert isinstance(message["content"], str), f"Message {i} content must be a string"
                self.conversations.append(messages)
        self.length = len(self.conversations)

    def get_example(self, index):
        return {"messages": self.conversations[index]}


def hf_datasets():
    """Hugging Face datasets, or a skip that says how to get it (the hf extra)."""
    return pytest.importorskip("datasets", reason="Hugging Face datasets is not installed: "
                                                  "pip install -e '.[hf]' runs this loader test")


@pytest.fixture
def fetched(dirs, fake_api):
    """Forty seeds fetched from the fake API, with faults, through the real commands."""
    server = fake_api(fault_rate=0.3, retry_after=0)
    assert run("prompts", "--n", 40, "--data-dir", dirs[0]).exit_code == 0
    fetch = run("fetch", "--n", 40, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url,
                "--backoff", 0, "--workers", 8, OPENROUTER_API_KEY=TEST_KEY)
    assert fetch.exit_code == 0, fetch.output
    return dirs, server.base_url


def test_every_line_loads_in_nanochat(fetched):
    dirs, base_url = fetched
    build(dirs, 40, base_url=base_url)
    task = NanochatCustomJSON(dirs[0] / "identity_conversations.jsonl")
    assert task.length == 40
    assert task.get_example(0)["messages"] == lines(dirs[0] / "identity_conversations.jsonl")[0]


@pytest.mark.parametrize("bad, words", [([{"role": "user", "content": "hi"}], "at least 2 messages"),
                                        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}],
                                         "Message 0 has role assistant"),
                                        ({"messages": []}, "Expected list")])
def test_the_nanochat_loader_refuses_what_nanochat_refuses(tmp_path, bad, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(AssertionError, match=words):
        NanochatCustomJSON(path)


def test_sharegpt_format_has_the_documented_shape(fetched):
    dirs, base_url = fetched
    build(dirs, 40, base_url=base_url)
    arrays = lines(dirs[0] / "identity_conversations.jsonl")
    result = build(dirs, 40, "--format", "sharegpt", base_url=base_url)
    assert "wrote 40 conversations" in result.stderr
    rows = lines(dirs[0] / "identity_conversations.jsonl")
    assert all(set(row) == {"conversations"} for row in rows)
    assert all(set(turn) == {"from", "value"} for row in rows for turn in row["conversations"])
    assert [[{"role": {"human": "user", "gpt": "assistant"}[t["from"]], "content": t["value"]}
             for t in row["conversations"]] for row in rows] == arrays
    assert all(row["conversations"][0]["from"] == "human" and row["conversations"][-1]["from"] == "gpt" for row in rows)


def test_messages_format_loads_with_hugging_face_datasets(fetched):
    datasets = hf_datasets()
    dirs, base_url = fetched
    build(dirs, 40, "--format", "messages", base_url=base_url)
    table = datasets.load_dataset("json", data_files=str(dirs[0] / "identity_conversations.jsonl"), split="train")
    assert table.column_names == ["messages"] and len(table) == 40
    assert table[0]["messages"][0]["role"] == "user"
    assert table[0]["messages"] == lines(dirs[0] / "identity_conversations.jsonl")[0]["messages"]


def test_sharegpt_format_loads_with_hugging_face_datasets(fetched):
    datasets = hf_datasets()
    dirs, base_url = fetched
    build(dirs, 40, "--format", "sharegpt", base_url=base_url)
    table = datasets.load_dataset("json", data_files=str(dirs[0] / "identity_conversations.jsonl"), split="train")
    assert table.column_names == ["conversations"] and len(table) == 40
    assert table[0]["conversations"][0]["from"] == "human" and table[0]["conversations"][1]["from"] == "gpt"
    assert table[0]["conversations"] == lines(dirs[0] / "identity_conversations.jsonl")[0]["conversations"]


def test_split_is_stable_as_n_grows(fetched):
    dirs, base_url = fetched
    small = build(dirs, 20, "--split", 0.25, base_url=base_url)
    train_small, val_small = lines(dirs[0] / "identity_conversations.jsonl"), lines(dirs[0] / "identity_conversations.val.jsonl")
    build(dirs, 40, "--split", 0.25, base_url=base_url)
    train_big, val_big = lines(dirs[0] / "identity_conversations.jsonl"), lines(dirs[0] / "identity_conversations.val.jsonl")
    assert all(c in val_big for c in val_small) and all(c in train_big for c in train_small)
    assert len(val_small) == sum(in_validation(s, 0.25) for s in range(20)) > 0
    assert f"and {len(val_small)} to" in small.stderr
    build(dirs, 40, base_url=base_url)
    assert not (dirs[0] / "identity_conversations.val.jsonl").exists()


def test_split_share_is_about_right():
    share = sum(in_validation(seed, 0.05) for seed in range(20000)) / 20000
    assert 0.045 < share < 0.055


def conversation(words: str) -> list[dict]:
    return [{"role": "user", "content": "who are you?"}, {"role": "assistant", "content": words}]


LONG = ("I am Sprout, a small open-source chat model trained by a team of volunteers. I cannot browse the web, "
        "I do not remember earlier chats, and I make mistakes with arithmetic, so please check what matters. "
        "My code, my training recipe and my weights are published under the MIT license, which means anyone "
        "can study them, train a copy of me from scratch or change how I behave. I was trained on one rented "
        "machine for about the price of a nice dinner, which is why I am small and sometimes wrong. I work best "
        "in English, and I will tell you so if you write to me in another language.")


def test_duplicates_are_dropped_keeping_the_lowest_seed(rendered):
    store_answer(rendered, 0, 0, cache_entry(conversation_content(conversation(LONG))))
    store_answer(rendered, 1, 0, cache_entry(conversation_content(conversation(LONG))))               # exact
    store_answer(rendered, 2, 0, cache_entry(conversation_content(conversation(LONG.replace("team", "group")))))
    store_answer(rendered, 3, 0, cache_entry(conversation_content(conversation("Something else entirely, friend."))))
    result = build(rendered, 4)
    assert "2 duplicates dropped (1 exact, 1 near)" in result.stderr
    kept = lines(rendered[0] / "identity_conversations.jsonl")
    assert kept == [conversation(LONG), conversation("Something else entirely, friend.")]
    report = lines(rendered[0] / "duplicates.jsonl")
    assert [(r["seed"], r["kept_seed"], r["kind"]) for r in report] == [(1, 0, "exact"), (2, 0, "near")]
    everything = build(rendered, 4, "--dedup", 0)
    assert "0 duplicates dropped" in everything.stderr
    assert len(lines(rendered[0] / "identity_conversations.jsonl")) == 4
