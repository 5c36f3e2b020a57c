"""The leak check: the labelled sentence sets, what it reads (assistant messages only, the facts),
and how a leak travels through validate and fetch (rejected as one attempt, asked again)."""
import re
from pathlib import Path

import pytest
from conftest import GOOD, ROOT, conversation_content, run
from conftest import cache_entry as entry
from conftest import store_answer as store
from leak_scores import SENTENCES, SYNTHETIC_SETS, describe, flagged, load_rows

from stages.judging.identity import load_identity, parse_identity
from stages.judging.leaks import find_leak

ROWS = load_rows(SENTENCES)
SETS = {name: load_rows(path) for name, path in SYNTHETIC_SETS.items()}
SPROUT = load_identity(ROOT / "prompts" / "identity.md", ROOT / "prompts").facts


def said(text: str, user: str = "hi", facts=SPROUT) -> str | None:
    return find_leak([{"role": "user", "content": user}, {"role": "assistant", "content": text}], facts)


@pytest.mark.parametrize("row", [row for rows in SETS.values() for row in rows], ids=lambda row: row.test_id)
def test_labelled_sentence(row):
    """A row marked `miss` or `false alarm` documents a known limit: the check must disagree there
    (if it starts agreeing, move the row and update the figures in docs/checks.md)."""
    expected = row.leak if not row.known else not row.leak
    assert flagged(row) == expected


def test_the_sets_are_large_and_balanced():
    assert len(ROWS) >= 60 and abs(sum(r.leak for r in ROWS) - len(ROWS) / 2) <= len(ROWS) * 0.1
    for name, rows in SETS.items():
        if name != "labelled set":
            assert len(rows) >= 40 and sum(r.leak for r in rows) == len(rows) / 2


def test_the_docs_state_the_measured_precision_and_recall():
    page = " ".join((ROOT / "docs" / "checks.md").read_text().split())
    for name, rows in SETS.items():
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
    assert "identity_leak (rule i_am_model): \"I'm Gemini, made by Google.\"" in shown.output


def test_fetch_asks_again_after_a_leak(rendered, fake_api):
    server = fake_api(leak_rate=1.0)
    args = ["--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", server.base_url]
    result = run("fetch", "--n", 2, "--max-attempts", 3, *args, OPENROUTER_API_KEY="k")
    assert result.exit_code == 0, result.output
    assert server.stats.requests == 6  # every answer leaked, so each seed used all 3 attempts
    assert "0/2 seeds valid" in run("validate", "--n", 2, "--max-attempts", 3, *args).stderr


# Classes of sentence that name another model or lab without claiming its identity, and the
# claims next to them that must still be caught. Written for the classes, not taken from the data.
NOT_CLAIMS = [
    # compute and hosting are hardware facts, not a maker
    "I was trained on NVIDIA H100 GPUs in a university cluster.",
    "I was pretrained on eight NVIDIA A100s over two days.",
    "I run on Google Cloud TPUs.",
    "I'm hosted on Microsoft Azure servers.",
    "I was built using Amazon Web Services compute.",
    "My training ran on Google's TPU pods, and my code is all open.",
    # likeness and comparison
    "I'm a ChatGPT-like assistant you can train yourself.",
    "Think of me as a GPT-4 clone for hobbyists.",
    "I'm an alternative to ChatGPT that fits on a laptop.",
    "While I may not be as clever as a GPT-5, I'm yours to change.",
    "I'm not nearly as capable as Claude, but I'm small and open.",
    "I'm your own ChatGPT, built from scratch in a weekend.",
    "My training was done on four NVIDIA GPUs.",
    "Gemini is what I am not: I'm much smaller.",
    # where training data came from is provenance, not a maker
    "I was fine-tuned on example chats written by Claude.",
    "I was trained on synthetic answers from GPT-4o.",
    "I was trained in a Google Colab notebook.",
    # "as big as", "the same ... as": comparisons, however many words sit between
    "You can't build anything as big or as costly as GPT-4 with this repo, but you can learn a lot.",
    "I have the same basic design as Claude, but volunteers trained me.",
    # a maker as the source of the speaker, denied, reported or only hardware
    "OpenAI isn't responsible for my training.",
    "Neither Meta nor Google is the company behind me.",
    "Google's TPUs are responsible for my training.",
    "I came out of Google's data centers last week.",
    "The company behind me is not OpenAI.",
    "People think OpenAI is who made me.",
    "Anthropic's engineers built Claude, not me.",
]
STILL_CLAIMS = [
    "Meta AI created me.",
    "Google DeepMind trained me.",
    "I was trained by NVIDIA.",
    "I'm built on Meta's Llama 3 on my own servers.",
    "As a GPT-5, I can reason about many things.",
    "I was trained at OpenAI, on their own clusters.",
    "My fine-tuning was carried out by the team at Anthropic.",
    "Claude is who I really am.",
    "The company behind me is Anthropic.",
    "Google's researchers are the ones who trained me.",
    "I emerged from the research lab of Google.",
    "I owe it all to OpenAI.",
]


@pytest.mark.parametrize("sentence", NOT_CLAIMS)
def test_hardware_likeness_and_comparisons_are_not_claims(sentence):
    assert said(sentence) is None


@pytest.mark.parametrize("sentence", STILL_CLAIMS)
def test_claims_beside_those_classes_are_still_caught(sentence):
    assert said(sentence) == sentence


@pytest.mark.parametrize("question, leaks", [
    ("Are you ChatGPT?", True),
    ("wait, did OpenAI make you?", True),
    ("is this Gemini?", True),
    ("So you're Claude then?", True),
    ("So you're like a pocket ChatGPT?", False),
    ("you're basically a budget GPT-4 clone?", False),
    ("So you're not as good as GPT-5?", False),
    ("Are you similar to Llama?", False),
    ("Is this the best ChatGPT alternative around?", False),
    ("hey, are you chatgpt", True),
    ("Anthropic spent a fortune on that. You did it on a budget?", False),
    ("So, while Gemini is a huge model, you are a small one?", False),
])
def test_a_bare_yes_leaks_only_after_an_identity_question(question, leaks):
    assert (said("Exactly!", user=question) is not None) == leaks
    assert (said("Yes.", user=question) is not None) == leaks
