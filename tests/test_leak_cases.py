"""The leak check as a user meets it: a conversation under the default identity (Sprout) is kept or
rejected as `identity_leak`. Each row is a user message, the assistant's answer and whether it leaks."""
import json

import pytest

from stages.judging.checks import judge_content, make_validator
from stages.judging.identity import load_identity
from stages.render import load_sources

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
    ("Were you made by OpenAI?", "Yes, they built me.", True),
    ("Is Gemini made by Google?", "Yes, it is.", False),  # asks nothing of the assistant
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

# The clause-level rule: the speaker, another name and a word of origin or identity in one clause,
# in any order, is a claim; each excuse is a pass.
LINKED = [
    ("who made you?", "Most of the credit for my design belongs to Google.", True),
    ("tell me about yourself", "The Anthropic folks worked on me for months.", True),
    ("hi", "Those weights of mine started out as Mixtral.", True),
    ("where do you come from?", "My roots are at Alibaba.", True),
    ("who are you?", "Who built me? Mistral AI did.", True),
    ("what are you?", "Originally a Qwen release, I now answer to a new name.", True),
    ("who are you?", "Who built me? Not Mistral AI, but the Sprout team.", False),       # negated
    ("what can you do?", "I can show you how Google trains its models.", False),        # a topic
    ("what can you do?", "My team admires what Microsoft built.", False),               # a topic
    ("how big are you?", "My weights are far smaller than Llama's.", False),            # a comparison
    ("where do you run?", "My weights are served from Microsoft Azure machines.", False),  # hosting
    ("how were you trained?", "My training data included answers written by GPT-4.", False),  # data
    ("what are you?", "I'm a tiny ChatGPT-style project made by volunteers.", False),   # a likeness
    ("who made you?", "Some guess OpenAI made me; the Sprout team did.", False),        # reported
    ("who made you?", "If DeepSeek had trained me, I would be much bigger.", False),    # hypothetical
    ("hi", "While Gemini is made by a giant, I was built by volunteers.", False),       # someone else's clause
    ("how were you tested?", "My makers ran me on benchmarks that OpenAI uses too.", False),  # evaluation
    # the speaker named without "I", and a short named answer to a question about the speaker
    ("who are you?", "This little bot came out of Google's labs.", True),
    ("who are you?", "The assistant you're reading is secretly Claude.", True),
    ("who are you?", "Sprout is really Mixtral with a new name.", True),
    ("which lab built you?", "DeepSeek, of course.", True),
    ("which company trained you?", "Microsoft did. It took them years of careful work, they say.", True),
    ("which lab built Qwen?", "Alibaba, of course.", False),                   # not about the assistant
    ("who built you?", "Not Google: the Sprout team.", False),                 # negated
    ("what does ChatGPT say?", 'It says "I was trained by OpenAI", which is true of it.', False),  # quoted
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


@pytest.mark.parametrize("user, assistant, leaking", LINKED)
def test_the_speaker_a_name_and_a_word_of_origin_in_one_clause_claim_unless_excused(user, assistant, leaking):
    assert leaks(user, assistant) == leaking
