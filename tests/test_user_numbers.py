"""Numbers and verdicts a person reads, each guarded against one small slip that once passed every
other test (each was planted by hand to see its test here fail): the line splitting and the
near-duplicate share of `make stats`, the original line an audit names, which openers count as
non-English, the stop on a refusal that carries request ids, merge over keys the target holds,
which hosts count as OpenRouter, and the models list's one-day expiry."""
import json
import random
import time
import types

import pytest
import responses
from conftest import GOOD, TEST_KEY, cache_entry, chat, chat_answer, conversation_content, run, store_answer

BASE = "http://127.0.0.1:9/api/v1"
MODEL = "google/gemini-2.5-flash"


def write_dataset(data_dir, rows) -> None:
    lines = (json.dumps(row, ensure_ascii=False) for row in rows)
    (data_dir / "identity_conversations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def stats_of(dirs) -> tuple:
    result = run("stats", "--n", 3, "--data-dir", dirs[0], "--cache-dir", dirs[1])
    assert result.exit_code == 0, result.output
    return result, json.loads((dirs[0] / "stats.json").read_text(encoding="utf-8"))


# -- make stats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_stats_reads_a_message_holding_a_line_separator_of_unicode(dirs, separator):
    """str.splitlines breaks at these inside a JSON string; a JSONL line ends only at \\n."""
    rows = [chat("Who are you?", f"I am Sprout.{separator}A small model."), chat("Hi", "Hello, I am Sprout.")]
    write_dataset(dirs[0], rows)
    result, stats = stats_of(dirs)
    assert stats["conversations"] == 2 and stats["turns"]["histogram"] == {"2": 2}
    assert stats["assistant_chars"]["max"] == len(rows[0][1]["content"])


LONG = " ".join(f"fact{i} about the model" for i in range(60))


def test_stats_gives_the_near_duplicate_share_of_the_near_count(dirs):
    """Two near copies and no exact one: `near 2 (40.0%)`, not the exact count's 0.0%."""
    rows = [chat("Tell me about yourself.", LONG), chat("Tell me about yourself.", LONG.replace("fact30", "fict30")),
            chat("Tell me about yourself.", LONG.replace("fact40", "fict40")), chat("Who made you?", "Volunteers."),
            chat("Can you code?", "A little, yes.")]
    write_dataset(dirs[0], rows)
    result, stats = stats_of(dirs)
    assert stats["duplicates"] == {"exact": 0, "near": 2, "exact_rate": 0.0, "near_rate": 0.4}
    assert "exact 0 (0.0%), near 2 (40.0%)" in result.stdout


def test_stats_gives_the_exact_duplicate_share_of_the_exact_count(dirs):
    rows = [chat("Who made you?", "Volunteers."), chat("Who made you?", "Volunteers."),
            chat("Who made you?", "Volunteers."), chat("Can you code?", "A little, yes.")]
    write_dataset(dirs[0], rows)
    result, stats = stats_of(dirs)
    assert stats["duplicates"] == {"exact": 2, "near": 0, "exact_rate": 0.5, "near_rate": 0.0}
    assert "exact 2 (50.0%), near 0 (0.0%)" in result.stdout


# -- make audit ---------------------------------------------------------------------------------

def test_audit_names_the_original_by_its_line_after_a_line_that_is_no_conversation(tmp_path):
    hello = chat("hi, who are you?", "Hi! I'm Sprout, a small open model made by volunteers.")
    other = chat("what can you do?", "I can chat, explain simple things and help you write.")
    rows = [{"text": "not a conversation"}, other, hello, [], hello]
    target = tmp_path / "in.jsonl"
    target.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = run("audit", "--file", target, "--data-dir", tmp_path / "data")
    assert result.exit_code == 1
    records = [json.loads(line) for line in (tmp_path / "data" / "audit.jsonl").read_text().splitlines()]
    assert [record["line"] for record in records] == [1, 4, 5]
    assert records[2] == {"line": 5, "reasons": ["exact_duplicate"], "detail": "copy of line 3"}


# -- fidelity: replies to openers in another language ------------------------------------------

def test_openers_in_no_known_language_are_not_counted_as_another_language(dirs):
    english = "Hi! I am Sprout, a small open model. What can I do for you?"
    rows = [chat("??", english), chat("Sprout?", english), chat("👋🙂", english), chat("12345", english),
            chat("Привет! Кто ты?", english), chat("Hola, ¿quién eres?", "¡Hola! Soy Sprout, un modelo pequeño."),
            chat("Who made you?", english)]
    write_dataset(dirs[0], rows)
    result, stats = stats_of(dirs)
    assert stats["fidelity"]["english_replies"] == {"non_english_first": 2, "answered_in_english": 1, "rate": 0.5}


# -- the stop on a refusal that repeats --------------------------------------------------------

def render(dirs, n, *extra):
    assert run("prompts", "--n", n, "--data-dir", dirs[0], *extra).exit_code == 0


@pytest.mark.parametrize("request_id", [lambda: f"req_{random.getrandbits(24):06x}",      # req_8f3a2c
                                        lambda: f"{random.getrandbits(64):016x}",          # a bare hex id
                                        lambda: f"req-{random.randrange(10**6)}"])
@responses.activate
def test_a_refusal_carrying_a_new_request_id_each_time_still_stops_the_run(dirs, request_id):
    render(dirs, 2)
    responses.get(BASE + "/models", json={"data": []})

    def refuse(request):
        message = f"Invalid schema for response_format (request {request_id()})"
        return 500, {}, json.dumps({"error": {"code": 500, "message": message}})
    responses.add_callback(responses.POST, BASE + "/chat/completions", callback=refuse)
    result = run("fetch", "--n", 2, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", BASE,
                 "--backoff", 0, "--workers", 1, "--price-in", 0, "--price-out", 0, OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1
    errors = [line.split("\r")[-1] for line in result.stderr.splitlines() if "Error:" in line]
    assert len(errors) == 1 and "the same HTTP 500 and none ever succeeded" in errors[0]
    assert "Invalid schema for response_format" in errors[0] and "RESPONSE_FORMAT=json_object" in errors[0]


# -- make merge ---------------------------------------------------------------------------------

def test_merge_keeps_what_the_target_holds_and_a_second_merge_copies_nothing(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mine, other = chat("hey", "Hi, Sprout here. Ask me anything."), chat("hi", "Hey there, I am Sprout, a small model.")
    for data in (ours, theirs):
        (data / "data").mkdir(parents=True)
        render((data / "data", data / "cache"), 2)
    store_answer((ours / "data", ours / "cache"), 0, 0, cache_entry(conversation_content(mine)))
    store_answer((theirs / "data", theirs / "cache"), 0, 0, cache_entry(conversation_content(other)))
    store_answer((theirs / "data", theirs / "cache"), 1, 0, cache_entry(conversation_content(GOOD)))
    first = run("merge", "--cache-dir", ours / "cache", theirs / "cache")
    second = run("merge", "--cache-dir", ours / "cache", theirs / "cache")
    assert first.exit_code == second.exit_code == 0
    assert f"merge: 1 answers copied from {theirs / 'cache'}" in first.stderr
    assert f"merge: 0 answers copied from {theirs / 'cache'}" in second.stderr
    built = run("dataset", "--n", 2, "--data-dir", ours / "data", "--cache-dir", ours / "cache", "--base-url",
                "http://127.0.0.1:9/api/v1")
    assert built.exit_code == 0, built.output
    lines = (ours / "data" / "identity_conversations.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [mine, GOOD]


# -- which server is OpenRouter ----------------------------------------------------------------

@pytest.mark.parametrize("base_url, openrouter", [
    ("https://openrouter.ai/api/v1", True), ("https://eu.openrouter.ai/api/v1", True),
    ("https://OpenRouter.AI/api/v1", True),
    ("https://notopenrouter.ai/v1", False), ("https://openrouter.ai.example.com/v1", False),
    ("https://my-openrouter.ai/v1", False), ("http://127.0.0.1:9/openrouter.ai/v1", False)])
@responses.activate
def test_only_openrouter_ai_and_its_subdomains_get_the_openrouter_key_and_fields(dirs, monkeypatch, base_url,
                                                                                  openrouter):
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("API_KEY", "sk-other-server-key")
    render(dirs, 1, "--base-url", base_url)
    responses.get(base_url + "/models", json={"data": []})
    responses.post(base_url + "/chat/completions", json=chat_answer(conversation_content(GOOD)))
    result = run("fetch", "--n", 1, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url,
                 "--price-in", 0, "--price-out", 0)
    assert result.exit_code == 0, result.output
    sent = [call.request for call in responses.calls if call.request.method == "POST"]
    assert len(sent) == 1
    key = TEST_KEY if openrouter else "sk-other-server-key"
    assert sent[0].headers["Authorization"] == f"Bearer {key}"
    body = json.loads(sent[0].body)
    assert ("provider" in body) is openrouter and ("reasoning" in body) is openrouter


# -- the models list's one-day expiry ----------------------------------------------------------

def listed(price_in: str) -> dict:
    return {"data": [{"id": MODEL, "pricing": {"prompt": price_in, "completion": "0.0000025"}}]}


def later_clock(monkeypatch, hours: float) -> None:
    """The cache's clock (diskcache reads time.time() to expire entries) moved forward."""
    import diskcache.core
    clock = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    clock.time = lambda: time.time() + hours * 3600
    monkeypatch.setattr(diskcache.core, "time", clock)


@responses.activate
def test_estimate_uses_a_price_list_at_most_a_day_old(rendered, monkeypatch):
    args = ["estimate", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE]
    responses.get(BASE + "/models", json=listed("0.0000003"))
    first = run(*args)
    responses.replace(responses.GET, BASE + "/models", json=listed("0.0000006"))
    later_clock(monkeypatch, 23)
    same_day = run(*args)
    later_clock(monkeypatch, 25)
    next_day = run(*args)
    assert first.exit_code == same_day.exit_code == next_day.exit_code == 0, next_day.output
    assert "$0.30 in, $2.50 out per million tokens" in first.output and same_day.output == first.output
    assert "$0.60 in, $2.50 out per million tokens" in next_day.output
    assert [call.request.method for call in responses.calls] == ["GET", "GET"]
