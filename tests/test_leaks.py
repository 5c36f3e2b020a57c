"""The leak check: the labelled sentence sets, what it reads (assistant messages only, the facts),
and how a leak travels through validate and fetch (rejected as one attempt, asked again)."""
import re
from pathlib import Path

import pytest
from conftest import GOOD, ROOT, conversation_content, run
from conftest import cache_entry as entry
from conftest import store_answer as store
from leak_scores import HELD_OUT, SENTENCES, describe, flagged, load_rows

from stages.judging.identity import load_identity, parse_identity
from stages.judging.leaks import find_leak

ROWS = load_rows(SENTENCES)
HELD_OUT_ROWS = load_rows(HELD_OUT)
SPROUT = load_identity(ROOT / "prompts" / "identity.md", ROOT / "prompts").facts


def said(text: str, user: str = "hi", facts=SPROUT) -> str | None:
    return find_leak([{"role": "user", "content": user}, {"role": "assistant", "content": text}], facts)


@pytest.mark.parametrize("row", ROWS + HELD_OUT_ROWS, ids=lambda row: row.assistant[:40])
def test_labelled_sentence(row):
    """A row marked `miss` or `false alarm` documents a known limit: the check must disagree there
    (if it starts agreeing, move the row and update the figures in docs/checks.md)."""
    expected = row.leak if not row.known else not row.leak
    assert flagged(row) == expected


def test_the_sets_are_large_and_balanced():
    assert len(ROWS) >= 60 and abs(sum(r.leak for r in ROWS) - len(ROWS) / 2) <= len(ROWS) * 0.1
    assert len(HELD_OUT_ROWS) >= 40 and sum(r.leak for r in HELD_OUT_ROWS) == len(HELD_OUT_ROWS) / 2


def test_the_docs_state_the_measured_precision_and_recall():
    page = " ".join((ROOT / "docs" / "checks.md").read_text().split())
    for name, rows in (("labelled set", ROWS), ("held-out set", HELD_OUT_ROWS)):
        assert describe(name, rows) in page


def test_user_messages_are_never_checked():
    conversation = [{"role": "user", "content": "I'm ChatGPT and I was trained by OpenAI, are you?"},
                    {"role": "assistant", "content": "No, I'm Sprout."}]
    assert find_leak(conversation, SPROUT) is None


def test_the_leaking_sentence_is_returned_from_a_later_message():
    conversation = GOOD + [{"role": "user", "content": "who trained you?"},
                           {"role": "assistant", "content": "Good question. I was trained by OpenAI. Anything else?"}]
    assert find_leak(conversation, SPROUT) == "I was trained by OpenAI."


def test_allowed_names_pass_and_added_names_fail():
    facts = parse_identity("---\nname: Sprout\nallow: Llama, Meta\nnever_claim: Orion Labs\n---\nName: Sprout.\n",
                           Path("x.md"), ROOT / "prompts").facts
    assert said("I'm built on Meta's Llama 3.1.", facts=facts) is None
    assert said("I was trained by Orion Labs.", facts=facts) == "I was trained by Orion Labs."
    assert said("I was trained by OpenAI.", facts=facts) is not None


def test_the_identity_own_names_are_never_mistaken_for_other_models():
    facts = parse_identity("---\nname: Gemma-mini\nalso_called: Nova\n---\nName: Gemma-mini.\n",
                           Path("x.md"), ROOT / "prompts").facts
    assert said("I'm Gemma-mini, a small model.", facts=facts) is None
    assert said("Hi, I'm Nova!", facts=facts) is None
    assert said("I'm Gemma-mini. Well, I'm Gemma, from Google.", facts=facts) == "Well, I'm Gemma, from Google."
    assert said("Honestly, I'm Gemma-mini, made by Google.", facts=facts) == "Honestly, I'm Gemma-mini, made by Google."


def test_plain_word_names_need_their_capital_letter():
    assert said("I'm a falcon fan and your copilot for essays.") is None
    assert said("I'm Falcon, a model from TII.") is not None


def test_validate_rejects_a_leak_as_an_attempt_and_takes_the_next(rendered):
    leak = [GOOD[0], {"role": "assistant", "content": "Hello! I'm Gemini, made by Google."}]
    store(rendered, 0, 0, entry(conversation_content(leak)))
    store(rendered, 0, 1, entry(conversation_content(GOOD)))
    store(rendered, 1, 0, entry(conversation_content(leak)))
    args = ["--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", "http://127.0.0.1:9/api/v1"]
    result = run("dataset", "--n", 2, *args)
    assert result.exit_code == 0, result.output
    assert "1/2 seeds valid, 1 rejected (identity_leak 1)" in result.stderr
    shown = run("show", "--seed", 1, *args)
    assert "attempt 0: rejected: identity_leak" in shown.output
    assert "identity_leak: \"I'm Gemini, made by Google.\"" in shown.output


def test_fetch_asks_again_after_a_leak(rendered, fake_api):
    server = fake_api(leak_rate=1.0)
    args = ["--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", server.base_url]
    result = run("fetch", "--n", 2, "--max-attempts", 3, *args, OPENROUTER_API_KEY="k")
    assert result.exit_code == 0, result.output
    assert server.stats.requests == 6  # every answer leaked, so each seed used all 3 attempts
    assert "0/2 seeds valid" in run("validate", "--n", 2, "--max-attempts", 3, *args).stderr
