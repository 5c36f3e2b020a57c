"""Dataset statistics: the numbers in stats.json against a small hand-made dataset, the figure, the cost."""
import json

import pytest
from click.testing import CliRunner
from conftest import FAKE_URL as URL
from conftest import cache_entry, chat
from conftest import store_answer as store

from stages.__main__ import cli
from stages.commands.stats import compute_stats as stats_of, conversations_in, format_table, spent_on, summarize
from stages.judging.language import first_message_script


def compute_stats(conversations, spent=None, axes=None):
    return stats_of(summarize(conversations), lambda: iter(conversations), spent, axes)


def load_conversations(path):
    return list(conversations_in(path)())
from stages.storage.cache import open_cache
from stages.transport.answers import Usage

LONG = " ".join(f"fact{i} about the model" for i in range(60))


CONVERSATIONS = [
    chat("Who made you?", "I am Sprout, a small open model.", "Can you code?", "Yes, a little."),
    chat("Привет! Кто ты?", "Привет! Я Sprout."),
    chat("你好，你是谁？", "I am Sprout, a small open model built by volunteers."),
    chat("who  made YOU", "i am sprout a small open model", "can you code", "yes a little"),
    chat("Tell me about yourself.", LONG),
    chat("Tell me about yourself.", LONG.replace("fact30", "fict30")),
]


def write_dataset(data_dir, rows) -> None:
    lines = (json.dumps(row, ensure_ascii=False) for row in rows)
    (data_dir / "identity_conversations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_stats(dirs, n=3):
    return CliRunner().invoke(cli, ["stats", "--n", str(n), "--data-dir", str(dirs[0]), "--cache-dir", str(dirs[1])])


def entry(cost: float) -> str:
    return cache_entry("{}", cost=cost)


def test_compute_stats_counts_what_is_in_the_conversations():
    stats = compute_stats(CONVERSATIONS)
    assert stats["conversations"] == 6
    assert stats["turns"] == {"min": 2, "mean": 2.67, "median": 2.0, "max": 4, "histogram": {2: 4, 4: 2}}
    # User messages of 13, 13, 15, 7, 13, 12, 23 and 23 characters, counted by hand.
    assert stats["user_chars"] == {"min": 7, "mean": 14.88, "median": 13.0, "max": 23}
    assert stats["assistant_chars"]["max"] == len(LONG) and stats["assistant_chars"]["min"] == len("yes a little")
    assert stats["first_message_scripts"] == {"Latin": 4, "Cyrillic": 1, "Han": 1}
    assert stats["duplicates"] == {"exact": 1, "near": 1, "exact_rate": round(1 / 6, 4), "near_rate": round(1 / 6, 4)}
    assert stats["top_openings"][0] == {"opening": "i am sprout a small", "count": 3}
    assert stats["non_ascii_messages"] == 3
    assert stats["spent"] is None and "axes" not in stats


@pytest.mark.parametrize("text, script", [
    ("Hello there", "Latin"), ("Привет, мир", "Cyrillic"), ("Γειά σου", "Greek"), ("مرحبا", "Arabic"),
    ("שלום", "Hebrew"), ("नमस्ते", "Devanagari"), ("নমস্কার", "Bengali"), ("வணக்கம்", "Tamil"), ("สวัสดี", "Thai"),
    ("你好吗", "Han"), ("こんにちは世界、元気ですか", "Japanese"), ("日本語を話せますか", "Japanese"), ("안녕하세요", "Hangul"),
    ("ሰላም", "other"), ("123 ?!", "other"), ("", "other"), ("Hi, как твои дела?", "Cyrillic")])
def test_first_message_script_is_the_script_of_most_letters(text, script):
    assert first_message_script(text) == script


def test_axes_are_copied_with_their_least_and_most_used_counts():
    stats = compute_stats(CONVERSATIONS[:2], Usage(10, 5, 0.5), axes={"persona": {"student": 3, "teacher": 1}})
    assert stats["axes"] == {"persona": {"counts": {"student": 3, "teacher": 1}, "min": 1, "max": 3}}
    assert stats["spent"] == {"prompt_tokens": 10, "cached_tokens": 0, "completion_tokens": 5, "reasoning_tokens": 0,
                              "cost": 0.5, "cost_per_conversation": 0.25}
    table = format_table(stats)
    assert "persona" in table and "student" in table and "$0.5000" in table


def test_command_writes_stats_json_and_png(dirs):
    write_dataset(dirs[0], CONVERSATIONS)
    result = run_stats(dirs)
    assert result.exit_code == 0, result.output
    written = json.loads((dirs[0] / "stats.json").read_text(encoding="utf-8"))
    assert written["conversations"] == 6 and written["turns"]["histogram"] == {"2": 4, "4": 2}
    assert written["first_message_scripts"] == {"Cyrillic": 1, "Han": 1, "Latin": 4}
    assert written["duplicates"]["exact"] == 1 and written["duplicates"]["near"] == 1
    assert written["user_chars"]["max"] == 23 and written["spent"] is None
    png = (dirs[0] / "stats.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert result.stdout.startswith("conversations               6\n")
    assert result.stderr.strip() == (f"stats: 6 conversations, 1 exact and 1 near duplicates; written to "
                                     f"{dirs[0] / 'stats.json'} and {dirs[0] / 'stats.png'}")


@pytest.mark.parametrize("shape", [lambda c: {"messages": c}, lambda c: {"conversations": [
    {"from": {"user": "human", "assistant": "gpt"}[m["role"]], "value": m["content"]} for m in c]}])
def test_messages_and_sharegpt_lines_give_the_same_stats(dirs, shape):
    write_dataset(dirs[0], CONVERSATIONS)
    assert run_stats(dirs).exit_code == 0
    from_arrays = (dirs[0] / "stats.json").read_text(encoding="utf-8")
    write_dataset(dirs[0], [shape(c) for c in CONVERSATIONS])
    assert load_conversations(dirs[0] / "identity_conversations.jsonl") == CONVERSATIONS
    assert run_stats(dirs).exit_code == 0
    assert (dirs[0] / "stats.json").read_text(encoding="utf-8") == from_arrays
    assert json.loads(from_arrays)["conversations"] == 6


def test_a_missing_dataset_is_one_line_and_exit_1(dirs):
    result = run_stats(dirs)
    assert result.exit_code == 1
    path = dirs[0] / "identity_conversations.jsonl"
    assert result.stderr.strip() == f"Error: no dataset at {path}: run `make dataset` first"


def test_a_broken_line_is_named(dirs):
    (dirs[0] / "identity_conversations.jsonl").write_text(json.dumps(CONVERSATIONS[0]) + "\n{broken\n")
    result = run_stats(dirs)
    assert result.exit_code == 1 and "identity_conversations.jsonl line 2: not JSON" in result.stderr


def test_spent_on_sums_every_cached_attempt(rendered):
    store(rendered, 0, 0, entry(0.001))
    store(rendered, 0, 1, entry(0.002))
    store(rendered, 2, 0, entry(0.004))
    store(rendered, 1, 0, "not an entry")
    store(rendered, 4, 0, entry(1.0))  # beyond n
    with open_cache(rendered[1]) as cache:
        spent = spent_on(cache, URL, rendered[0], 3)
        with_missing_prompts = spent_on(cache, URL, rendered[0], range(3, 9))
    assert (spent.prompt_tokens, spent.completion_tokens) == (300, 150)
    assert spent.cost == pytest.approx(0.007)
    assert with_missing_prompts == Usage(100, 50, 1.0)


def test_command_reports_what_was_spent(rendered):
    store(rendered, 1, 0, entry(0.25))
    write_dataset(rendered[0], CONVERSATIONS[:2])
    result = CliRunner().invoke(cli, ["stats", "--n", "5", "--data-dir", str(rendered[0]),
                                                "--cache-dir", str(rendered[1]), "--base-url", URL])
    assert result.exit_code == 0, result.output
    written = json.loads((rendered[0] / "stats.json").read_text(encoding="utf-8"))
    assert written["spent"] == {"prompt_tokens": 100, "cached_tokens": 0, "completion_tokens": 50,
                                "reasoning_tokens": 0, "cost": 0.25, "cost_per_conversation": 0.125}
    assert "100 prompt (0 cached) + 50 completion (0 reasoning) tokens, $0.2500, $0.12500 per conversation" \
        in result.stdout


def test_per_model_numbers_follow_each_seeds_model(dirs):
    from conftest import GOOD, conversation_content

    from stages.render import Settings, load_sources, render_all
    from stages.judging.rules import completions_url
    from stages.judging.permodel import model_lines
    from stages.storage.bodies import load_body
    from stages.storage.cache import answer_key
    render_all(load_sources(), Settings(models=(("m/a", 1.0), ("m/b:free", 1.0))), 12, dirs[0] / "prompts")
    models = {seed: load_body(dirs[0], seed)["model"] for seed in range(12)}
    a_seeds = [s for s in range(12) if models[s] == "m/a"]
    b_seeds = [s for s in range(12) if models[s] == "m/b:free"]
    assert len(a_seeds) >= 2 and len(b_seeds) >= 2
    good = cache_entry(conversation_content(GOOD + GOOD), cost=0.002)
    store(dirs, a_seeds[0], 0, cache_entry("not json", cost=0.001))
    store(dirs, a_seeds[0], 1, good)
    store(dirs, a_seeds[1], 0, good)
    store(dirs, b_seeds[0], 0, cache_entry(conversation_content(GOOD[::-1]), cost=0.003))  # role order
    write_dataset(dirs[0], [GOOD])
    result = CliRunner().invoke(cli, ["stats", "--n", "12", "--data-dir", str(dirs[0]), "--cache-dir", str(dirs[1]),
                                      "--base-url", URL])
    assert result.exit_code == 0, result.output
    per_model = json.loads((dirs[0] / "stats.json").read_text())["models"]
    a, b = per_model["m/a"], per_model["m/b:free"]
    assert (a["seeds"], a["valid_seeds"], a["answers"], a["valid_answer_rate"]) == (len(a_seeds), 2, 3, round(2 / 3, 4))
    assert a["rejection_reasons"] == {"not_json": 1}
    assert a["leak_rate"] == 0 and (a["judged"], a["judge_pass_rate"]) == (0, None)  # no leaks, no JUDGE=1
    assert a["mean_messages"] == 4 and a["mean_user_chars"] == 2 and a["mean_assistant_chars"] == len(GOOD[1]["content"])
    assert a["cost"] == pytest.approx(0.005) and a["cost_per_valid"] == pytest.approx(0.0025)
    assert (b["seeds"], b["valid_seeds"], b["answers"], b["cost_per_valid"]) == (len(b_seeds), 0, 1, None)
    assert b["rejection_reasons"] == {"ends_with_user": 1, "role_order": 1}
    table = "\n".join(model_lines(per_model))
    assert "  m/a\n    2/" in table and "$0.0025 per valid conversation" in table
    assert "rejected answers: ends_with_user 1, role_order 1" in table
    assert "per model" in result.stdout and "m/b:free" in result.stdout
