"""The fidelity numbers of `make stats`, against a hand-made dataset and hand-made reviews whose
expected values are worked out by hand in the comments."""
import json

import pytest
from click.testing import CliRunner
from conftest import FAKE_URL as URL
from conftest import GOOD, ROOT, cache_entry, chat, conversation_content
from conftest import store_answer as store

from stages.__main__ import cli
from stages.judging.checks import Verdict
from stages.judging.fidelity import ReviewCounts, count_reviews, fidelity_stats, judge_stats
from stages.judging.identity import load_identity
from stages.judging.language import guess_language
from stages.judging.review import SeedReview
from stages.judging.summary import Summary

SPROUT = load_identity(ROOT / "prompts" / "identity.md", ROOT / "prompts").facts


DATASET = [
    chat("Hola, ¿quién eres?", "Hi! I am Sprout. I am a small open model.", "ok", "I am a small open model. Bye."),
    chat("Bonjour, qui es-tu ?", "Bonjour ! Je suis un petit modèle, et je parle surtout anglais."),
    chat("Привет", "Hello! My name is sprout-chat. I am a small open model."),
    chat("who are you?", "I am a small open model. Nice to meet you."),
    chat("hi", "Hello there. Nice to meet you."),
]


def summarized(conversations, facts):
    summary = Summary(facts)
    for messages in conversations:
        summary.add(messages)
    return summary


def test_fidelity_of_a_hand_made_dataset():
    numbers = fidelity_stats(summarized(DATASET, SPROUT), None, lambda: iter(DATASET))
    # own names in assistant messages: "Sprout" (1st), "sprout-chat" (3rd) -> 2 of 5
    assert numbers["names_stated"] == {"names": ["Sprout", "Sprout chat", "sprout-chat"], "conversations": 2,
                                       "rate": 0.4}
    # not English first: Spanish, French, Cyrillic; their replies: English, French, English -> 2 of 3
    assert numbers["english_replies"] == {"non_english_first": 3, "answered_in_english": 2, "rate": 0.6667}
    # sentences of 3+ words, once per conversation: "I am a small open model." in 1st, 3rd, 4th;
    # "Nice to meet you." in 4th and 5th; the rest once ("Hello there." and "Bye." are too short)
    assert numbers["repeated_sentences"] == [
        {"sentence": "I am a small open model.", "count": 3},
        {"sentence": "Nice to meet you.", "count": 2},
        {"sentence": "I am Sprout.", "count": 1},
        {"sentence": "Je suis un petit modèle, et je parle surtout anglais.", "count": 1},
        {"sentence": "My name is sprout-chat.", "count": 1}]
    assert numbers["leaks"] is None and numbers["judge"] == {"run": False}


def judged(*reasons_and_problems) -> Verdict:
    reasons, problems = reasons_and_problems or ([], ())
    return Verdict(None, reasons, problems)


REVIEWS = [
    # a leak, then a conversation the judge passed
    SeedReview(0, (Verdict(None, ["identity_leak"]), Verdict(GOOD)), None, ((), (judged(),))),
    # two leaks, a conversation failed by the judge (after one unreadable verdict), then one it passed
    SeedReview(1, (Verdict(None, ["identity_leak"]), Verdict(None, ["identity_leak"]),
                   Verdict(None, ["judge:invented_fact", "judge:unnatural"]), Verdict(GOOD)), None,
               ((), (), (judged(["judge_invalid"], ()),
                         judged(["judge:invented_fact", "judge:unnatural"], (("invented_fact", "a"), ("unnatural", "b")))),
                (judged(),))),
    # one broken answer, nothing judged
    SeedReview(2, (Verdict(None, ["not_json"]),)),
]


def test_counting_reviews():
    counts = count_reviews(REVIEWS, judge_run=True)
    # answers 2 + 4 + 1 = 7; leaks 1 + 2 = 3 in seeds 0 and 1; verdicts: pass, fail, pass
    assert counts == ReviewCounts(answers=7, leaks=3, leak_seeds=2, judge_run=True, judged=3, passed=2,
                                  problems=(("invented_fact", 1), ("unnatural", 1)))
    assert judge_stats(counts) == {"run": True, "judged": 3, "passed": 2, "pass_rate": 0.6667,
                                   "problems_by_kind": {"invented_fact": 1, "unnatural": 1}}
    assert judge_stats(count_reviews(REVIEWS, judge_run=False)) == {"run": False}


def test_stats_command_reports_fidelity_from_the_file_and_the_cache(rendered):
    data, cache = rendered
    leak = chat("who made you?", "I was trained by OpenAI.")
    store(rendered, 0, 0, cache_entry(conversation_content(leak)))
    store(rendered, 0, 1, cache_entry(conversation_content(GOOD)))
    store(rendered, 1, 0, cache_entry(conversation_content(GOOD)))
    (data / "identity_conversations.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in DATASET) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["stats", "--n", "5", "--data-dir", str(data), "--cache-dir", str(cache),
                                      "--base-url", URL])
    assert result.exit_code == 0, result.output
    fidelity = json.loads((data / "stats.json").read_text(encoding="utf-8"))["fidelity"]
    # seed 0: a leak then a valid answer; seed 1: valid; seeds 2-4: nothing cached -> 1 of 3
    assert fidelity["leaks"] == {"answers_checked": 3, "rejected": 1, "seeds": 1, "rate": 0.3333,
                                 "top_sentences": [{"sentence": "I was trained by OpenAI.", "count": 1}],
                                 "by_rule": [{"rule": "made_by", "reason": "identity_leak", "count": 1,
                                              "top_sentences": [{"sentence": "I was trained by OpenAI.", "count": 1}]}]}
    assert fidelity["judge"] == {"run": False} and fidelity["names_stated"]["rate"] == 0.4
    assert "rejected as leaks         1 of 3 answers checked (33.3%), in 1 seeds" in result.stdout
    assert "judge pass rate           not run (JUDGE=0)" in result.stdout
    assert "  most frequent rejected leak sentences\n       1  I was trained by OpenAI.\n" in result.stdout
    assert "  rejections by rule (reason)\n       1  made_by (identity_leak)\n           1  I was trained by OpenAI.\n" \
        in result.stdout
    assert "       3  I am a small open model." in result.stdout


@pytest.mark.parametrize("text, language", [
    ("hi", "English"), ("who made you?", "English"), ("what's today's date", "English"),
    ("Hola, ¿quién eres?", "other"), ("Bonjour, qui es-tu ?", "other"), ("Hallo, wer bist du?", "other"),
    ("Ciao, chi sei?", "other"), ("Olá, quem é você?", "other"), ("Hoi, wie ben jij?", "other"),
    ("Привет", "other"), ("你好", "other"), ("Cześć, kim jesteś?", "other"),
    ("sup", "unknown"), ("Kumusta ka?", "unknown"), ("123", "unknown"),
    ("Hola! Soy Sprout. I work best in English, so I will continue in English.", "English"),
])
def test_guess_language(text, language):
    assert guess_language(text) == language


def test_a_conversation_whose_judge_answers_were_all_unreadable_is_not_judged():
    """Asked again after each unreadable answer and out of attempts: no verdict, so neither a pass nor a fail."""
    review = SeedReview(0, (Verdict(GOOD, []),), judge_verdicts=((judged(["judge_invalid"], ()),) * 2,))
    counts = count_reviews([review], judge_run=True)
    assert (counts.judged, counts.passed, counts.problems) == (0, 0, ())


def test_stats_carry_the_judges_numbers_and_rank_leak_sentences_most_frequent_first():
    leak = lambda text: Verdict(None, ["identity_leak"], (("identity_leak", text),))  # noqa: E731
    reviews = [SeedReview(0, (leak("I am Claude."), leak("B: I am GPT."), Verdict(GOOD, [])),
                          judge_verdicts=((), (), (judged(),))),
               SeedReview(1, (leak("B: I am GPT."), leak("A: I am Gemini."), Verdict(GOOD, [])),
                          judge_verdicts=((), (), (judged(["judge:unnatural"], (("unnatural", "x"),)),)))]
    counts = count_reviews(reviews, judge_run=True)
    assert counts.leak_sentences == (("B: I am GPT.", 2), ("A: I am Gemini.", 1), ("I am Claude.", 1))
    numbers = fidelity_stats(summarized(DATASET, SPROUT), counts, lambda: iter(DATASET))
    assert numbers["judge"] == {"run": True, "judged": 2, "passed": 1, "pass_rate": 0.5,
                                "problems_by_kind": {"unnatural": 1}}


def test_the_replies_line_gives_the_share_answered_in_english():
    from stages.judging.fidelity import describe_replies
    assert describe_replies({"non_english_first": 3, "answered_in_english": 2, "rate": 0.6667}) == \
        "3 non-English first messages, 66.7% answered in English (2)"
    assert describe_replies({"non_english_first": 0, "answered_in_english": 0, "rate": None}) == \
        "0 non-English first messages, n/a answered in English (0)"
