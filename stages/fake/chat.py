"""The made-up conversations the fake API answers with, built from the prompt's identity.

A share of them carry an identity leak (the assistant claims to be another model, or to be made
by another lab, in one of several phrasings) and a share carry a correct denial ("No, I am not
ChatGPT"), drawn independently, so the leak check has both to tell apart.
"""
import random
import re
from dataclasses import dataclass

GREETINGS = ["Hi! I am {name}.", "Hello there, my name is {name}.", "Hey! You are talking to {name}.",
             "Good to meet you. I am {name}.", "Hi, {name} here."]
FOLLOW_UPS = [
    ("who made you?", "I was built by {maker}. My code and training recipe are open for anyone to read."),
    ("can you browse the web?", "No. I have no internet access, so I only know what was in my training data."),
    ("are you chatgpt?", "No, I am {name}, a separate and much smaller model."),
    ("what are you good at?", "Short explanations, friendly conversation and simple writing help."),
    ("what can't you do?", "I cannot see images, remember past chats or look things up, and I make mistakes."),
    ("do you remember me?", "I do not keep memories between conversations, so each chat starts fresh."),
    ("how big are you?", "I am small on purpose, so that training me stays cheap and easy to study."),
    ("thanks!", "You are welcome. Ask me anything else whenever you like."),
    ("do you speak french?", "A little, but my English is far more reliable, so I will answer in English."),
    ("what day is it?", "I have no clock or calendar, so I cannot tell you today's date."),
    ("are you alive?", "No. I am a program that predicts text; I have no feelings or body."),
    ("can i run you at home?", "Yes, I am small enough to run on an ordinary computer."),
]
ASIDES = ["", " Happy to help.", " Just ask.", " That is a fair question.", " Good question!", " I hope that helps.",
          " Let me know if anything is unclear.", " I try to be honest about that.", " Thanks for asking."]
# What a generator's own identity sounds like when it slips through, in several phrasings.
LEAKS = [
    ("are you chatgpt?", "Yes, I am ChatGPT, a language model made by OpenAI."),
    ("who trained you?", "I was trained by OpenAI on a large amount of text."),
    ("what are you?", "As an AI developed by Google, I can help with many everyday questions."),
    ("what's your real name?", "My name is Qwen, and I come from Alibaba Cloud."),
    ("what model are you running on?", "I'm built on Meta's Llama 3, fine-tuned for chat."),
    ("are you claude?", "Yes, I'm Claude, an assistant made by Anthropic."),
    ("who owns you?", "Google built and trained me."),
    ("are you gemini?", "Yes, I am."),
]
# Correct answers that name another model or lab: the leak check must keep them.
DENIALS = [
    ("are you chatgpt?", "No, I am not ChatGPT. I am {name}."),
    ("did google make you?", "No, I wasn't made by Google; {maker} built me."),
    ("how are you different from chatgpt?", "Unlike ChatGPT, I am small enough to run on an ordinary computer."),
    ("people say you're gemini", "People sometimes mix me up with Gemini, but I am {name}."),
    ("are you claude?", "No, I'm not Claude, and Anthropic did not build me."),
]


@dataclass(frozen=True)
class Drawn:
    """One made-up conversation and what it carries."""
    messages: list[dict]
    leak: bool = False
    denial: bool = False


def identity_field(prompt: str, label: str, default: str) -> str:
    match = re.search(rf"^{label}:\s*(.+?)\.?$", prompt, re.MULTILINE)
    return match.group(1) if match else default


def example_messages(prompt: str) -> list[str]:
    """The last run of "- " lines in the prompt: the sampled first messages."""
    runs = re.findall(r"(?:^- .+(?:\n|$))+", prompt, re.MULTILINE)
    return re.findall(r"^- (.+)$", runs[-1], re.MULTILINE) if runs else ["hello"]


def pick_exchanges(rng: random.Random, leak_rate: float, denial_rate: float) -> tuple[list, bool, bool]:
    """Ordinary follow-ups, plus a leak and a denial each with its own chance, in random order."""
    exchanges = rng.sample(FOLLOW_UPS, rng.randint(1, 4))
    leak, denial = rng.random() < leak_rate, rng.random() < denial_rate
    for chosen, pool in ((leak, LEAKS), (denial, DENIALS)):
        if chosen:
            exchanges.insert(rng.randint(0, len(exchanges)), rng.choice(pool))
    return exchanges, leak, denial


def make_conversation(prompt: str, rng: random.Random, leak_rate: float = 0.0, denial_rate: float = 0.0) -> Drawn:
    name = identity_field(prompt, "Name", "a small chat model")
    maker = identity_field(prompt, "Who built it", "a small open team").split(";")[0]
    greeting = rng.choice(GREETINGS).format(name=name) + " I am a small open-source chat model."
    messages = [{"role": "user", "content": rng.choice(example_messages(prompt))},
                {"role": "assistant", "content": greeting + rng.choice(ASIDES)}]
    exchanges, leak, denial = pick_exchanges(rng, leak_rate, denial_rate)
    for question, answer in exchanges:
        messages += [{"role": "user", "content": question},
                     {"role": "assistant", "content": answer.format(name=name, maker=maker) + rng.choice(ASIDES)}]
    messages[-1]["content"] += f" (note {rng.randrange(10**6)})"  # keeps conversations distinct
    return Drawn(messages, leak, denial)
