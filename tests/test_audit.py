"""`make audit`: every local check on a file made elsewhere; its exit codes, report and summary."""
import gzip
import json

import pytest

from leak_scores import REAL, SYNTHETIC_SETS, load_rows
from conftest import project_env
from conftest import ROOT, run

SPROUT_HELLO = [{"role": "user", "content": "hi, who are you?"},
                {"role": "assistant", "content": "Hi! I'm Sprout, a small open model made by volunteers."}]
OTHER = [{"role": "user", "content": "what can you do?"},
         {"role": "assistant", "content": "I can chat, explain simple things and help you write."}]
LEAKING = [{"role": "user", "content": "who trained you?"},
           {"role": "assistant", "content": "Good question. I was trained by OpenAI. Ask me anything!"}]


def write_lines(path, rows) -> None:
    path.write_text("".join(row if isinstance(row, str) else json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def audit(tmp_path, rows, *args):
    target = tmp_path / "in.jsonl"
    write_lines(target, rows)
    result = run("audit", "--file", target, "--data-dir", tmp_path / "data", *args)
    report = tmp_path / "data" / "audit.jsonl"
    records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else None
    return result, records


def test_a_clean_file_exits_0_with_an_empty_report(tmp_path):
    result, records = audit(tmp_path, [SPROUT_HELLO, {"messages": OTHER}])
    assert result.exit_code == 0, result.output
    assert records == []
    assert "audit: 2/2 lines pass, 0 fail" in result.stderr


def test_failing_lines_are_numbered_as_an_editor_shows_them(tmp_path):
    reversed_order = [OTHER[1], OTHER[0]]
    rows = [SPROUT_HELLO, "\n", LEAKING, reversed_order, SPROUT_HELLO, OTHER[:1]]
    result, records = audit(tmp_path, rows)
    assert result.exit_code == 1
    assert records == [
        {"line": 3, "reasons": ["identity_leak"], "detail": "I was trained by OpenAI.", "rule": "made_by"},
        {"line": 4, "reasons": ["role_order", "ends_with_user"],
         "detail": "message 1 is 'assistant', expected 'user' | the last message (number 2) is the user's"},
        {"line": 5, "reasons": ["exact_duplicate"], "detail": "copy of line 1"},
        {"line": 6, "reasons": ["too_short"], "detail": ""}]
    assert "by reason                 ends_with_user: 1, exact_duplicate: 1, identity_leak: 1, role_order: 1, too_short: 1" in result.stdout
    assert "       1  I was trained by OpenAI." in result.stdout
    assert "rejections by rule (reason)\n       1  made_by (identity_leak)\n           1  I was trained by OpenAI." \
        in result.stdout


def test_denials_and_junk_answers_have_their_own_reasons_and_a_yaml_list_names_others(tmp_path):
    identity = tmp_path / "inkbot.md"
    identity.write_text("---\nname: Inkbot\nmaker: Quill Studio\nnever_claim: [Scribe, \"Pen & Co\"]\n---\nInkbot.\n",
                        encoding="utf-8")
    ask = {"role": "user", "content": "who are you?"}
    rows = [[ask, {"role": "assistant", "content": "Hello! I'm Inkbot, made by Quill Studio."}],
            [ask, {"role": "assistant", "content": "Non sono Inkbot, mi dispiace."}],
            [ask, {"role": "assistant", "content": "ERROR: peer closed connection without sending complete message body"}],
            [ask, {"role": "assistant", "content": "I am Scribe, at your service."}],
            [ask, {"role": "assistant", "content": "Soy un modelo creado por Pen & Co."}]]
    result, records = audit(tmp_path, rows, "--identity", identity)
    assert result.exit_code == 1
    assert [(r["line"], r["reasons"], r["rule"]) for r in records] == [
        (2, ["self_denial"], "denies_own_name"), (3, ["junk_answer"], "error_string"),
        (4, ["identity_leak"], "i_am_model"), (5, ["identity_leak"], "native_origin_claim")]
    assert "rejections by rule (reason)" in result.stdout and "error_string (junk_answer)" in result.stdout


@pytest.mark.parametrize("rows, words", [
    (["{not json\n"], "in.jsonl line 1: not JSON (Expecting property name enclosed in double quotes at column 2)"),
    ([SPROUT_HELLO, "\n", '[{"role": "user"\n'], "in.jsonl line 3: not JSON"),
])
def test_an_unreadable_line_exits_2_naming_the_file_and_line(tmp_path, rows, words):
    result, records = audit(tmp_path, rows)
    assert result.exit_code == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert records is None  # nothing half-checked is written


def test_bytes_that_are_not_utf8_exit_2_with_their_line(tmp_path):
    target = tmp_path / "in.jsonl"
    target.write_bytes(json.dumps(SPROUT_HELLO).encode() + b"\n" + b'[{"role": "user", "content": "\xff"}]\n')
    result = run("audit", "--file", target, "--data-dir", tmp_path)
    assert result.exit_code == 2 and f"{target} line 2: not UTF-8 text" in result.stderr


@pytest.mark.parametrize("name, problem", [
    ("nowhere.jsonl", "no such file; give FILE=path/to/conversations.jsonl"),
    ("empty.jsonl", "no lines to check; give a JSONL file with one conversation per line"),
    ("folder", "cannot be read (Is a directory); give FILE=path/to/conversations.jsonl"),
])
def test_a_missing_empty_or_unreadable_file_exits_2_in_one_line(tmp_path, name, problem):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    (tmp_path / "folder").mkdir()
    result = run("audit", "--file", tmp_path / name, "--data-dir", tmp_path / "data")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / name}: {problem}"
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("row, fmt, failing", [
    (SPROUT_HELLO, "auto", False),
    ({"messages": SPROUT_HELLO}, "auto", False),
    ({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "Hello, I'm Sprout."}]}, "auto", False),
    ({"messages": SPROUT_HELLO}, "array", True),       # a format given is a format required
    (SPROUT_HELLO, "sharegpt", True),
    ({"text": "hi"}, "auto", True),
    ([{"role": "user", "content": 3}], "auto", True),
])
def test_the_three_formats_are_read_and_other_shapes_fail(tmp_path, row, fmt, failing):
    result, records = audit(tmp_path, [row], "--format", fmt)
    assert result.exit_code == (1 if failing else 0), result.output
    assert [r["reasons"] for r in records] == ([["shape"]] if failing else [])


def test_ascii_and_the_identity_are_honoured(tmp_path):
    accented = [{"role": "user", "content": "hola"}, {"role": "assistant", "content": "¡Hola! Soy Sprout."}]
    result, records = audit(tmp_path, [accented], "--ascii", "1")
    assert result.exit_code == 1 and records[0]["reasons"] == ["non_ascii"]
    identity = tmp_path / "id.md"
    identity.write_text("---\nname: Nova\nallow: OpenAI\n---\nNova is a model made by OpenAI.\n", encoding="utf-8")
    result, records = audit(tmp_path, [LEAKING], "--identity", identity)
    assert result.exit_code == 0, result.output


def planted(conversation: list[dict], sentence: str) -> list[dict]:
    """The conversation with the sentence added to its last assistant message."""
    last = max(i for i, m in enumerate(conversation) if m["role"] == "assistant")
    return [dict(m, content=f"{m['content']} {sentence}") if i == last else m for i, m in enumerate(conversation)]


def test_planted_held_out_leaks_in_real_conversations_are_all_flagged(tmp_path):
    """100 real conversations, a leaking sentence of the eighth held-out set (written blind to the patterns)
    added to every other one."""
    with gzip.open(REAL / "nanochat_gemini.jsonl.gz", "rt", encoding="utf-8") as lines:
        real = [json.loads(line) for _, line in zip(range(100), lines)]
    leaks = [row.assistant for row in load_rows(SYNTHETIC_SETS["eighth held-out set"]) if row.leak and not row.user]
    rows = [planted(c, leaks[i // 2 % len(leaks)]) if i % 2 == 0 else c for i, c in enumerate(real)]
    result, records = audit(tmp_path, rows, "--identity", REAL / "nanochat.md")
    assert result.exit_code == 1
    flagged = {r["line"] for r in records if "identity_leak" in r["reasons"]}
    assert flagged >= set(range(1, 101, 2))
    assert len(flagged - set(range(1, 101, 2))) <= 1
    # the detail is the leaking sentence itself, taken from what was planted
    assert all(r["detail"] in leaks[(r["line"] - 1) // 2 % len(leaks)] for r in records if r["line"] % 2)


def test_make_audit_passes_file_identity_and_format(tmp_path):
    """The make target hands FILE, IDENTITY and FORMAT, given on its command line, to the command."""
    import subprocess
    target = tmp_path / "in.jsonl"
    write_lines(target, [{"messages": SPROUT_HELLO}])
    command = ["make", "audit", f"FILE={target}", f"DATA_DIR={tmp_path}"]
    plain = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=project_env())
    assert plain.returncode == 0 and "read as messages: 1" in plain.stderr
    given = subprocess.run(command + ["FORMAT=sharegpt", f"IDENTITY={tmp_path / 'x.md'}"], cwd=ROOT,
                           capture_output=True, text=True, env=project_env())
    assert given.returncode == 2 and "x.md" in given.stderr
    formatted = subprocess.run(command + ["FORMAT=sharegpt"], cwd=ROOT, capture_output=True, text=True,
                               env=project_env())
    assert formatted.returncode != 0 and "read as sharegpt: 1" in formatted.stderr  # the line fails as sharegpt


@pytest.mark.parametrize("value", ["", "  "])
def test_make_audit_without_file_names_file(tmp_path, value):
    result = run("audit", "--file", value, "--data-dir", tmp_path / "data")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "FILE is not set" in result.stderr and "make audit FILE=" in result.stderr
    assert not (tmp_path / "data").exists()


def test_judge_pass_on_a_file_prices_caches_and_a_rerun_sends_nothing(tmp_path, fake_api):
    server = fake_api(judge_fail_rate=0.5, seed=3)
    rows = [SPROUT_HELLO, LEAKING] + [[{"role": "user", "content": f"question {i}?"},
                                       {"role": "assistant", "content": f"Answer number {i}, from Sprout."}]
                                      for i in range(6)]
    args = ("--judge", "1", "--base-url", server.base_url, "--cache-dir", tmp_path / "cache", "--openrouter", "0",
            "--price-in", "0.3", "--price-out", "2.5")
    result, records = audit(tmp_path, rows, *args)
    assert result.exit_code == 1, result.output
    assert "audit: 7 conversations to judge, 0 already answered in the cache, 7 to send" in result.stderr
    assert "about $0." in result.stderr and "audit: 7 judge requests sent" in result.stderr
    assert server.stats.snapshot()["requests"] == 7   # the leaking line is not judged: the rules rejected it
    judged = [r for r in records if any(reason.startswith("judge:") for reason in r["reasons"])]
    assert judged and all(r["line"] != 2 for r in judged)
    again, records_again = audit(tmp_path, rows, *args)
    assert "7 already answered in the cache, 0 to send" in again.stderr and "0 judge requests sent" in again.stderr
    assert server.stats.snapshot()["requests"] == 7 and records_again == records


def test_make_audit_with_no_file_at_all_names_file(tmp_path):
    """The Makefile passes only the variables given, so no FILE is a missing setting: named, with an example."""
    import subprocess
    result = subprocess.run(["make", "audit", f"DATA_DIR={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
                            env=project_env())
    assert result.returncode != 0
    assert "Error: FILE is not set; give it, e.g. make audit FILE=" in result.stderr and "Traceback" not in result.stderr
