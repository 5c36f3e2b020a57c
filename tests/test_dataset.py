"""The assembled file: nanochat's loading rules, other trainers' format, dedup and the stable split."""
import json
import random

import pytest
from conftest import FAKE_URL, TEST_KEY, cache_entry, conversation_content, run, store_answer

from stages.assemble import in_validation
from stages.render import Settings, load_sources, render_all
from stages.storage.cache import open_cache


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


def hf_datasets(monkeypatch, tmp_path):
    """Hugging Face datasets, offline with its cache in the test's folder, or a skip that says how
    to get it (the hf extra)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
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


@pytest.mark.parametrize("fmt, column, first_turn", [("messages", "messages", {"role": "user"}),
                                                     ("sharegpt", "conversations", {"from": "human"})])
def test_formats_load_with_hugging_face_datasets(fetched, monkeypatch, tmp_path, fmt, column, first_turn):
    datasets = hf_datasets(monkeypatch, tmp_path)
    dirs, base_url = fetched
    build(dirs, 40, "--format", fmt, base_url=base_url)
    table = datasets.load_dataset("json", data_files=str(dirs[0] / "identity_conversations.jsonl"), split="train")
    assert table.column_names == [column] and len(table) == 40
    assert first_turn.items() <= table[0][column][0].items()
    assert table[0][column] == lines(dirs[0] / "identity_conversations.jsonl")[0][column]


def test_split_is_stable_as_n_grows(fetched):
    dirs, base_url = fetched
    small = build(dirs, 20, "--split", 0.25, base_url=base_url)
    train_small, val_small = lines(dirs[0] / "identity_conversations.jsonl"), lines(dirs[0] / "identity_conversations.val.jsonl")
    build(dirs, 40, "--split", 0.25, base_url=base_url)
    train_big, val_big = lines(dirs[0] / "identity_conversations.jsonl"), lines(dirs[0] / "identity_conversations.val.jsonl")
    assert all(c in val_big for c in val_small) and all(c in train_big for c in train_small)
    assert len(val_small) == sum(in_validation(s, 0.25) for s in range(20)) > 0
    assert f"and {len(val_small)} to" in small.stderr
    build(dirs, 40, "--split", 0, base_url=base_url)
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
    store_answer(rendered, 4, 0, cache_entry(conversation_content(conversation(LONG.upper()))))       # exact
    result = build(rendered, 5)
    assert "3 duplicates dropped (2 exact, 1 near)" in result.stderr
    kept = lines(rendered[0] / "identity_conversations.jsonl")
    assert kept == [conversation(LONG), conversation("Something else entirely, friend.")]
    report = lines(rendered[0] / "duplicates.jsonl")
    assert [(r["seed"], r["kept_seed"], r["kind"]) for r in report] == [(1, 0, "exact"), (2, 0, "near"), (4, 0, "exact")]
    near = report[1]["similarity"]
    assert [set(r) for r in report] == [{"seed", "kept_seed", "kind", "similarity"}] * 3
    assert report[0]["similarity"] == 1.0 and 0.9 <= near < 1 and near == round(near, 3)
    everything = build(rendered, 5, "--dedup", 0)
    assert "0 duplicates dropped" in everything.stderr
    assert len(lines(rendered[0] / "identity_conversations.jsonl")) == 5


def test_a_lower_threshold_drops_looser_copies(rendered):
    rewritten = LONG.replace("team", "group").replace("machine", "computer").replace("dinner", "lunch")
    store_answer(rendered, 0, 0, cache_entry(conversation_content(conversation(LONG))))
    store_answer(rendered, 1, 0, cache_entry(conversation_content(conversation(rewritten))))
    assert "0 duplicates dropped" in build(rendered, 2).stderr  # under the default 0.9
    assert "1 duplicates dropped (0 exact, 1 near)" in build(rendered, 2, "--dedup-threshold", 0.6).stderr


def test_ascii_rule_applies_to_the_dataset(rendered):
    spanish = [{"role": "user", "content": "¿Quién eres?"}, {"role": "assistant", "content": "Soy Sprout, un modelo pequeño."}]
    store_answer(rendered, 0, 0, cache_entry(conversation_content(spanish)))
    store_answer(rendered, 1, 0, cache_entry(conversation_content(conversation(LONG))))
    assert "wrote 2 conversations" in build(rendered, 2).stderr
    strict = build(rendered, 2, "--ascii", 1)
    assert "wrote 1 conversations" in strict.stderr and "non_ascii 1" in strict.stderr
    assert lines(rendered[0] / "identity_conversations.jsonl") == [conversation(LONG)]

WORDS = "sprout model small open answers questions languages code maths limits privacy honest careful".split()


def seed_conversation(seed: int) -> list[dict]:
    """A conversation that names its seed and shares few word triples with any other seed's."""
    rng = random.Random(seed)
    return conversation(f"seed {seed}: " + " ".join(rng.choice(WORDS) for _ in range(40)))


def seed_of(row: list[dict]) -> int:
    return int(row[1]["content"].split(":")[0].removeprefix("seed "))


def store_seed_answers(dirs, seeds) -> None:
    for seed in seeds:
        store_answer(dirs, seed, 0, cache_entry(conversation_content(seed_conversation(seed))))


@pytest.fixture
def rendered_40(dirs):
    render_all(load_sources(), Settings(), 40, dirs[0] / "prompts")
    return dirs


def test_lines_follow_numeric_seed_order_past_ten(rendered_40):
    store_seed_answers(rendered_40, reversed(range(25)))  # cached in reverse, and beyond 9 so 10 < 2 as text
    build(rendered_40, 25)
    assert [seed_of(row) for row in lines(rendered_40[0] / "identity_conversations.jsonl")] == list(range(25))


def split_seeds(dirs, *args) -> tuple[set[int], set[int]]:
    build(dirs, 40, "--split", 0.3, *args)
    return ({seed_of(row) for row in lines(dirs[0] / "identity_conversations.jsonl")},
            {seed_of(row) for row in lines(dirs[0] / "identity_conversations.val.jsonl")})


def test_a_seeds_split_side_does_not_depend_on_the_other_rows(rendered_40):
    store_seed_answers(rendered_40, range(40))
    train, val = split_seeds(rendered_40)
    assert train | val == set(range(40)) and not train & val and 4 <= len(val) <= 20
    # Early seeds rejected or dropped as duplicates shift every later row's position, not its side.
    with open_cache(rendered_40[1]) as cache:
        cache.clear()
    store_seed_answers(rendered_40, range(3, 40))
    store_answer(rendered_40, 4, 0, cache_entry(conversation_content(seed_conversation(3))))  # a copy of seed 3
    fewer_train, fewer_val = split_seeds(rendered_40)
    assert fewer_val == val - {0, 1, 2, 4} and fewer_train == train - {0, 1, 2, 4}
    # A slice of seeds (SEEDS=10:40) keeps each seed's side too.
    sliced = run("dataset", "--seeds", "10:40", "--data-dir", rendered_40[0], "--cache-dir", rendered_40[1],
                 "--base-url", FAKE_URL, "--split", 0.3)
    assert sliced.exit_code == 0, sliced.output
    assert {seed_of(row) for row in lines(rendered_40[0] / "identity_conversations.val.jsonl")} == \
        {seed for seed in val if seed >= 10}


def test_no_conversation_from_some_seeds_is_an_error(rendered):
    result = run("dataset", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", FAKE_URL)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: no conversation for any of the 5 seeds (not_fetched 5; see "
                                     f"{rendered[0] / 'rejected.jsonl'}): run `make fetch` with the same N, "
                                     "BASE_URL and prompts")
    store_answer(rendered, 1, 0, cache_entry("not json"))
    two_reasons = run("dataset", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", FAKE_URL)
    assert two_reasons.exit_code == 1 and "seeds (not_fetched 4, not_json 1; see" in two_reasons.stderr
    store_answer(rendered, 2, 0, cache_entry(conversation_content(conversation(LONG))))
    assert "wrote 1 conversations" in build(rendered, 5).stderr
    store_answer(rendered, 1, 1, cache_entry(conversation_content(seed_conversation(1))))
    halves = build(rendered, 3, "--split", 0.5)  # seed 1 trains, seed 2 validates: as many on each side
    assert "wrote 1 conversations" in halves.stderr and "and 1 to" in halves.stderr
