"""Each command through click's CliRunner: exit codes and the one-line messages a person sees."""
import json

import jsonlines
import pytest
from conftest import GOOD, TEST_KEY, conversation_content, files_containing, run
from conftest import cache_entry as entry
from conftest import store_answer as store


def dir_args(dirs):
    return ["--data-dir", dirs[0], "--cache-dir", dirs[1]]


def test_prompts_command_renders_n_files(dirs):
    result = run("prompts", "--n", 7, "--data-dir", dirs[0], "--model", "x/y")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (dirs[0] / "prompts").glob("*.json")) == sorted(f"{s}.json" for s in range(7))
    assert json.loads((dirs[0] / "prompts" / "3.json").read_text())["model"] == "x/y"
    assert "7 rendered, 7 changed" in result.stderr


def test_models_and_reasoning_options_shape_the_bodies(dirs):
    result = run("prompts", "--n", 40, "--data-dir", dirs[0], MODELS="x/a:free=3, y/b=1", REASONING="1500")
    assert result.exit_code == 0, result.output
    bodies = [json.loads((dirs[0] / "prompts" / f"{s}.json").read_text()) for s in range(40)]
    assert {b["model"] for b in bodies} == {"x/a:free", "y/b"}
    assert sum(b["model"] == "x/a:free" for b in bodies) > 20
    assert all(b["reasoning"] == {"max_tokens": 1500} and "provider" in b for b in bodies)
    local = run("prompts", "--n", 2, "--data-dir", dirs[0], BASE_URL="http://127.0.0.1:8000/v1", REASONING="high")
    assert local.exit_code == 0 and "2 changed" in local.stderr
    body = json.loads((dirs[0] / "prompts" / "0.json").read_text())
    assert "reasoning" not in body and "provider" not in body
    gateway = run("prompts", "--n", 2, "--data-dir", dirs[0], BASE_URL="http://127.0.0.1:8000/v1", OPENROUTER="1")
    assert gateway.exit_code == 0 and "provider" in json.loads((dirs[0] / "prompts" / "0.json").read_text())


def test_options_read_the_environment(dirs):
    result = run("prompts", "--data-dir", dirs[0], N="2", MODEL="env/model")
    assert result.exit_code == 0 and len(list((dirs[0] / "prompts").glob("*.json"))) == 2
    assert json.loads((dirs[0] / "prompts" / "0.json").read_text())["model"] == "env/model"


def test_fetch_without_a_key_is_one_line_and_exit_1(rendered, fake_api):
    server = fake_api()
    result = run("fetch", "--n", 5, *dir_args(rendered), "--base-url", server.base_url, OPENROUTER="1")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no API key: set OPENROUTER_API_KEY")
    assert "Traceback" not in result.output and server.stats.requests == 0


def test_a_server_that_wants_a_key_says_where_keys_are_read(rendered, fake_api):
    server = fake_api(key="local-secret")
    result = run("fetch", "--n", 5, *dir_args(rendered), "--base-url", server.base_url, "--workers", 1,
                 OPENROUTER_API_KEY=TEST_KEY)  # an OpenRouter key is not sent to another server
    assert result.exit_code == 1 and not server.stats.authorization_seen
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: HTTP 401, the server wants an API key and none was sent (User not found.); set API_KEY "
        "(OPENROUTER_API_KEY and openroutertoken.txt are sent to OpenRouter only; "
        "OPENROUTER=1 treats BASE_URL as a gateway to OpenRouter)")
    accepted = run("fetch", "--n", 5, *dir_args(rendered), "--base-url", server.base_url, API_KEY="local-secret")
    assert accepted.exit_code == 0, accepted.output


def test_fetch_validate_dataset_against_the_fake(rendered, fake_api):
    server = fake_api(fault_rate=0.5, faults=("500", "broken_json", "wrong_roles", "error200"), retry_after=0)
    common = ["--n", 5, *dir_args(rendered), "--base-url", server.base_url]
    fetched = run("fetch", *common, "--workers", 3, "--backoff", 0, API_KEY=TEST_KEY)
    assert fetched.exit_code == 0, fetched.output
    assert "fetch: 5/5 seeds valid" in fetched.stderr
    validated = run("validate", *common)
    assert validated.exit_code == 0
    assert validated.stderr == f"validate: 5/5 seeds valid, 0 rejected; rejected seeds in {rendered[0] / 'rejected.jsonl'}\n"
    built = run("dataset", *common, "--format", "messages")
    assert built.exit_code == 0 and "wrote 5 conversations" in built.stderr
    with jsonlines.open(rendered[0] / "identity_conversations.jsonl") as lines:
        rows = list(lines)
    assert len(rows) == 5 and all(set(row) == {"messages"} for row in rows)
    assert files_containing(rendered[0].parent, TEST_KEY) == []


def test_validate_counts_reasons_and_survives_corrupt_entries(rendered):
    assert run("prompts", "--n", 6, "--data-dir", rendered[0]).exit_code == 0
    store(rendered, 0, 0, entry(conversation_content(GOOD)))
    store(rendered, 1, 0, entry("nope"))
    store(rendered, 1, 1, entry(conversation_content(GOOD[::-1])))
    store(rendered, 2, 0, "garbage that is not an entry")
    store(rendered, 3, 0, b"\x00\x01 bytes")
    store(rendered, 4, 0, json.dumps({"seed": 4, "attempt": 0, "body": '{"error": {"code": 502, "message": "x"}}'}))
    result = run("validate", "--n", 6, *dir_args(rendered), "--base-url", "http://127.0.0.1:9/api/v1")
    assert result.exit_code == 0, result.output
    assert ("validate: 1/6 seeds valid, 5 rejected (corrupt_entry 3, ends_with_user 1, not_fetched 1, "
            "not_json 1, role_order 1)") in result.stderr
    with jsonlines.open(rendered[0] / "rejected.jsonl") as lines:
        assert list(lines) == [{"seed": 1, "reasons": ["ends_with_user", "not_json", "role_order"]},
                               {"seed": 2, "reasons": ["corrupt_entry"]}, {"seed": 3, "reasons": ["corrupt_entry"]},
                               {"seed": 4, "reasons": ["corrupt_entry"]}, {"seed": 5, "reasons": ["not_fetched"]}]


def test_dataset_takes_the_first_valid_attempt_in_seed_order(rendered):
    url = "http://127.0.0.1:9/api/v1"
    second = [GOOD[0], {"role": "assistant", "content": "second"}]
    store(rendered, 1, 0, entry("broken", "length"))
    store(rendered, 1, 1, entry(conversation_content(second)))
    store(rendered, 0, 0, entry(conversation_content(GOOD)))
    store(rendered, 0, 1, entry(conversation_content(second)))
    result = run("dataset", "--n", 2, *dir_args(rendered), "--base-url", url)
    assert result.exit_code == 0, result.output
    lines = (rendered[0] / "identity_conversations.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [GOOD, second]


def test_demo_builds_twenty_conversations_without_a_key(tmp_path):
    result = run("demo", "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "invalid answer (not the verdict schema)" not in result.stderr
    assert len((tmp_path / "demo" / "identity_conversations.jsonl").read_text().splitlines()) == 20
    assert not (tmp_path / "demo" / "identity_conversations.val.jsonl").exists()


def test_unreadable_prompt_is_one_line(dirs):
    (dirs[0] / "prompts").mkdir()
    (dirs[0] / "prompts" / "0.json").write_text("{broken")
    result = run("validate", "--n", 1, *dir_args(dirs))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {dirs[0] / 'prompts' / '0.json'} is not valid JSON: run `make prompts` to render it again"


@pytest.mark.parametrize("args, words", [(["fetch", "--workers", "0"], "Invalid value for WORKERS"),
                                         (["dataset", "--format", "csv"], "Invalid value for FORMAT"),
                                         (["prompts", "--models", "a/b=0,c"], "weight after = must be a positive"),
                                         (["prompts", "--models", "a/b=x"], "weight after = must be a positive"),
                                         (["prompts", "--models", "a:free,a:free"], "names a model twice"),
                                         (["prompts", "--models", "a,=2"], "empty model name"),
                                         (["prompts", "--reasoning", "max"], "not off, low, medium, high"),
                                         (["prompts", "--reasoning", "0"], "not off, low, medium, high"),
                                         (["fetch", "--openrouter", "yes"], "Invalid value for OPENROUTER")])
def test_bad_option_values_are_usage_errors(args, words):
    """The error names the make variable the user typed, not click's option."""
    result = run(*args)
    assert result.exit_code == 2 and words in result.stderr


def test_show_prints_prompt_parts_attempts_and_conversation(rendered):
    url = "http://127.0.0.1:9/api/v1"
    store(rendered, 3, 0, entry("not json at all"))
    store(rendered, 3, 1, entry(conversation_content(GOOD)))
    result = run("show", "--seed", 3, *dir_args(rendered), "--base-url", url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("seed 3\n  model: google/gemini-2.5-flash\n  axes:\n    dynamic: ")
    assert "  attempt 0: rejected: not_json\n    content starts: 'not json at all'" in out
    assert "  attempt 1: valid (used)" in out
    assert out.rstrip().endswith("assistant: Hello, I am Sprout.")
    one_attempt = run("show", "--seed", 3, *dir_args(rendered), "--base-url", url, "--max-attempts", 1).output
    assert "attempt 0: rejected" in one_attempt and "attempt 1" not in one_attempt  # MAX_ATTEMPTS bounds the walk
    missing = run("show", "--seed", 4, *dir_args(rendered), "--base-url", url)
    assert "no cached attempts: run `make fetch`" in missing.output and "none valid yet" in missing.output


def test_show_lists_a_rejected_conversation_role_by_role(rendered):
    url = "http://127.0.0.1:9/api/v1"
    swapped = [GOOD[1], GOOD[0]]
    store(rendered, 2, 0, entry(conversation_content(swapped)))
    store(rendered, 2, 1, entry(conversation_content(GOOD)))
    out = run("show", "--seed", 2, *dir_args(rendered), "--base-url", url).output
    assert "  attempt 0: rejected: role_order, ends_with_user\n" in out
    assert f"      1 assistant: {GOOD[1]['content']!r}   <- out of order: expected user\n" in out
    assert f"      2      user: {GOOD[0]['content']!r}   <- out of order" not in out
    assert '"choices"' not in out  # the messages, never the raw API body
