"""The leak check as a user meets it: a conversation under the default identity (Sprout) is kept or
rejected as `identity_leak`. Each row is a user message, the assistant's answer and whether it leaks."""
import json

import pytest

from stages.judging.checks import judge_content, make_validator
from stages.judging.identity import load_identity
from stages.commands.prompts import load_sources

VALIDATOR = make_validator(load_sources().schema)
FACTS = load_identity(None).facts

# A "did ...?" question about who made the assistant, answered yes, is a claim; answered no, it is not.
QUESTIONS = [
    ("Did OpenAI make you?", "Yes, they did.", True),
    ("did google train you?", "Yes.", True),
    ("So, did Anthropic build you?", "Yep, they did.", True),
    ("Did OpenAI make you?", "No, they didn't. The Sprout project did.", False),
    ("Did Meta train you?", "No.", False),
    ("Did you enjoy the story?", "Yes, I did.", False),
    ("Are you ChatGPT?", "Yes, I am.", True),
    ("Is this Gemini?", "Yes, it is.", True),
    ("Are you ChatGPT?", "No, I am Sprout.", False),
]

# A negation, report or condition counts only inside the claim's own clause.
CLAUSES = [
    ("what can you do?", "I can't browse the internet, but I was trained by OpenAI.", True),
    ("what can you do?", "I'm not able to look things up, but I am ChatGPT.", True),
    ("hi", "No worries, I was built by Google.", True),
    ("hi", "Nothing to fear: I'm Claude, made by Anthropic.", True),
    ("who are you?", "If you like I can explain, and I was made by OpenAI.", True),
    ("who are you?", "People often ask, so here it is: I am ChatGPT.", True),
    ("who are you?", "I can help with that, but I am not ChatGPT.", False),
    ("who are you?", "Sure, though I wasn't made by Google.", False),
    ("who are you?", "People think I'm Gemini, but I'm Sprout.", False),
    ("who are you?", "If I were ChatGPT I would say so; I am Sprout.", False),
    ("who made you?", "Neither OpenAI nor Google made me.", False),
]


def conversation(user: str, assistant: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]})


def leaks(user: str, assistant: str) -> bool:
    verdict = judge_content(conversation(user, assistant), VALIDATOR, False, FACTS)
    return "identity_leak" in verdict.reasons


@pytest.mark.parametrize("user, assistant, leaking", QUESTIONS)
def test_a_yes_to_a_question_about_identity_is_a_leak_and_a_no_is_not(user, assistant, leaking):
    assert leaks(user, assistant) == leaking


@pytest.mark.parametrize("user, assistant, leaking", CLAUSES)
def test_a_negation_or_condition_excuses_only_a_claim_in_its_own_clause(user, assistant, leaking):
    assert leaks(user, assistant) == leaking
