"""The leak check's rules built from the words of each language (prompts/leak_vocabulary/
languages.yaml): claims in Spanish, French, German, Italian, Portuguese, Chinese, Japanese, Russian
and Hindi, and the shapes every language shares (a field of a list or table about the speaker, "we
at <maker>", a maker named by its founder, place or product).

Each rule takes a Message (one assistant message with its user question, cleaned and in one
language) and returns the sentence it fires on, or None.
"""
import functools
import re
from dataclasses import dataclass

from .identity import Facts
from .names import names_group
from .wordsets import CLAUSE, OWN, WordSet, asks, clauses, is_question, sentences, unquoted

MARKUP = re.compile(r"\*\*|__|`+|^#+\s*|(?<=\s)#+\s+", re.MULTILINE)
NAME_GAP = 16          # characters between "我是" and a name in Chinese or Japanese
AS_GAP_WORDS = 6       # words between "as a" and the description of the speaker ("como modelo desarrollado por")
CLOSE_AFTER = 14       # characters after a name in which a negation still denies it ("ChatGPT नहीं हूँ")
SHORT_YES_WORDS = 8


@dataclass(frozen=True)
class Names:
    """The facts' names as patterns, for the rules of every language."""
    model: str           # regex text of any model name
    any: str             # any model or maker
    indirect: str        # founders, places, products
    mentions: re.Pattern  # any of those
    indirect_only: re.Pattern


@functools.lru_cache(maxsize=16)
def names_of(facts: Facts) -> Names:
    model, anyone = names_group(facts.models), names_group(facts.models + facts.makers)
    indirect = names_group(facts.indirect) if facts.indirect else r"(?!x)x"
    return Names(model, anyone, indirect, re.compile(f"{anyone}|{indirect}", re.IGNORECASE),
                 re.compile(indirect, re.IGNORECASE))


@dataclass(frozen=True)
class Message:
    text: str            # without Markdown emphasis or quotations, own names as OWN
    shown: str           # the same before the own names were masked, to quote
    question: str        # the user message before it
    words: WordSet
    names: Names
    fields_text: str = ""  # without Markdown emphasis, quotations kept (JSON keys are quoted), own names as OWN


def excused(clause: str, words: WordSet) -> bool:
    """Negated, reported, hypothetical or a likeness: not the speaker's own claim."""
    return bool(words.negation.search(clause) or words.reporting.search(clause) or words.likeness.search(clause))


@functools.lru_cache(maxsize=64)
def name_claim_pattern(words: WordSet, names: Names) -> re.Pattern:
    """The speaker introducing itself as a model: "soy (un modelo) ChatGPT", "我是ChatGPT"."""
    if words.spaced:
        gap = rf"(?:\s*(?:{words.filler}|[—–:,-])\s*|\s+){{0,5}}?\s*"
    else:
        gap = rf"[^，。！？,.!?]{{0,{NAME_GAP}}}?"
    return re.compile(rf"{words.i_am}{gap}(?:{names.model})", re.IGNORECASE)


def name_claim(message: Message) -> str | None:
    pattern = name_claim_pattern(message.words, message.names)
    for sentence in sentences(message.text):
        for clause in clauses(sentence):
            for match in pattern.finditer(clause):
                before, span = clause[:match.start()], clause[:match.end() + CLOSE_AFTER]
                after = clause[match.end():match.end() + CLOSE_AFTER]
                if not (message.words.negation.search(span) or message.words.reporting.search(before)
                        or message.words.likeness.search(before) or message.words.likeness.search(after)
                        or asks(sentence, clause)):
                    return sentence
    return None


def origin_claim(message: Message) -> str | None:
    """The speaker, a word of making or owning and another name in one clause: "fui creado por Google",
    "我由阿里云开发", "Меня создала компания Google", "मुझे Google ने बनाया है"."""
    words = message.words
    for sentence in sentences(message.text):
        # a verb-last language says who made the speaker at the end, after its commas: one clause
        for clause in ([sentence] if words.verb_last else clauses(sentence)):
            lead = sentence[:sentence.find(clause) + len(clause)]  # "Angenommen, OpenAI hätte mich gebaut"
            name = message.names.mentions.search(clause)
            if name and not asks(sentence, clause) and words.self.search(clause) and words.origin.search(clause) \
                    and OWN not in clause and not excused(clause, words) and not words.reporting.search(lead) \
                    and not words.topic.search(clause[:name.start()]) and not makes_another(clause, message):
                return sentence
    return None


def makes_another(clause: str, message: Message) -> bool:
    """A name, a word of making, then another name: "Anthropic ha progettato Claude", "Google entrenó a
    Gemini": one maker making another model, not the speaker."""
    origin = message.words.origin.search(clause)
    names = message.names.mentions
    if origin is None or not names.search(clause[:origin.start()]):
        return False
    after = names.search(clause, origin.end())
    return after is not None and len(clause[origin.end():after.start()].split()) <= 1


def as_model(message: Message) -> str | None:
    """ "As a model made by X" about the speaker: "Como modelo desarrollado por Google, ...", "作为OpenAI
    开发的模型，我...", "MetaのAIモデルである私は", "Как модель, разработанная OpenAI, я ..."."""
    words = message.words
    for sentence in sentences(message.text):
        for as_a in words.as_a.finditer(sentence):
            clause_start = max((m.end() for m in CLAUSE.finditer(sentence, 0, as_a.start())), default=0)
            if message.names.mentions.search(sentence[clause_start:as_a.start()]) and not words.verb_last:
                continue  # "Gemini se presenta como el asistente de Google": someone else's description
            span = as_model_span(sentence, as_a, message)
            if span and not (words.negation.search(span) or words.reporting.search(sentence[:as_a.start()])
                             or words.likeness.search(span.replace(as_a.group(), " "))):
                return sentence
    return None


def as_model_span(sentence: str, as_a: re.Match, message: Message) -> str | None:
    """The words from "as a" to the name, when a noun for the speaker and a name follow it in that order
    (precede it, in a verb-last language); None otherwise."""
    words, names = message.words, message.names.mentions
    if words.verb_last:
        start = max(0, as_a.start() - NAME_GAP - 8)
        span = sentence[start:as_a.end()]
        name, noun = names.search(span), words.self_noun.search(span)
        return span[name.start():] if name and noun and name.start() < noun.start() else None
    if not words.spaced:
        span = sentence[as_a.start():as_a.end() + NAME_GAP + 8]
        return span if names.search(span) and words.self_noun.search(span) else None
    rest = sentence[as_a.end():]
    noun = words.self_noun.search(rest)
    if noun is None or len(rest[:noun.start()].split()) > 2:
        return None
    name = names.search(rest, noun.end())
    if name is None or len(rest[noun.end():name.start()].split()) > AS_GAP_WORDS:
        return None
    return sentence[as_a.start():as_a.end() + name.end()]


def not_but_name(message: Message) -> str | None:
    """ "Not a gondolier but Claude": the speaker denies a role and names another model instead
    ("non sono un gondoliere ma Claude", "я не капитан, а YandexGPT", "मैं ज्योतिषी नहीं, Google का Gemini हूँ")."""
    words = message.words
    for sentence in sentences(message.text):
        negation = words.negation.search(sentence)
        if negation is None:
            continue
        rest = sentence[negation.end():]
        turn = words.but.search(rest) or re.search(r"[,，、]", rest)
        said = sentence[:negation.end() + (turn.start() if turn else 0)]
        if not (words.self.search(said) or re.search(words.i_am, said, re.IGNORECASE)):
            continue
        if turn and not words.reporting.search(sentence[:negation.start()]):
            after = rest[turn.end():]
            name = message.names.mentions.search(after)
            gap = after[:name.start()] if name else ""
            if name and (len(gap.split()) <= 2 if words.spaced else len(gap) <= 4) and OWN not in after \
                    and not words.likeness.search(gap) and not words.negation.search(gap):
                return sentence
    return None


def third_person(message: Message) -> str | None:
    """The speaker named without "I" and said to be another model: "Wren en realidad es Llama",
    "这个助手其实是Kimi", "Hinter Wren steckt eigentlich Claude"."""
    words = message.words
    if OWN not in message.text and not words.this_assistant.search(message.text):
        return None
    for sentence in sentences(message.text):
        speakers = [m.end() for m in (re.search(OWN, sentence), words.this_assistant.search(sentence)) if m]
        if not speakers or excused(sentence, words) or is_question(sentence):
            continue
        really = words.really.search(sentence)
        if really and message.names.mentions.search(sentence, max(really.end(), min(speakers))):
            return sentence
        if any(named_right_after(sentence[end:], message) for end in speakers):
            return sentence
    return None


def named_right_after(rest: str, message: Message) -> bool:
    """ "<speaker> is <name>": a copula, at most one word (an article), then a name: "this chatbot is
    Copilot", "the model you're talking to is Claude", "este asistente es Gemini"."""
    words = message.words
    copula = re.match(rf"\s*(?:{words.is_.pattern})", rest, re.IGNORECASE)
    name = message.names.mentions.search(rest, copula.end()) if copula else None
    if name is None:
        return False
    gap = rest[copula.end():name.start()]
    return len(gap.split()) <= 1 if words.spaced else len(gap.strip()) <= 2


def yes_answer(message: Message) -> str | None:
    """A short yes to "¿Eres Claude?": the question names a model and asks the assistant."""
    question = message.question
    if not (is_question(question) and message.names.mentions.search(question) and message.words.you.search(question)):
        return None
    first = (sentences(message.text) or [""])[0]
    opening = re.match(rf"\W*(?:{message.words.yes.pattern})", first, re.IGNORECASE)
    if opening and not message.words.negation.search(first) and not message.words.likeness.search(first) \
            and len(first.split()) <= SHORT_YES_WORDS:
        return first
    return None


@functools.lru_cache(maxsize=64)
def field_pattern(words: WordSet, english: WordSet, names: Names) -> re.Pattern:
    """A field of a list, table or JSON object about the speaker: "Developer: OpenAI", "| Hersteller | Google |"."""
    keys = f"(?:{words.fields}|{english.fields})"
    return re.compile(rf"(?:^|(?<=[\s|•*{{,\x22(-]))(?:the\s+)?{keys}\s*\x22?\s*[:：|]\s*\x22?\s*(?:the\s+)?(?:{names.any})",
                      re.IGNORECASE | re.MULTILINE)


def field_claim(message: Message, english: WordSet) -> str | None:
    """One name in the fields of a message that describes the speaker (its own name is among the
    fields, or the user asked about the assistant); a list of several models (a comparison) names
    more than one and is left alone."""
    text = message.fields_text or message.text
    if not any(mark in text for mark in ":|：="):
        return None
    about_speaker = OWN in text or message.words.you.search(message.question) or \
        english.you.search(message.question) or not message.names.mentions.search(message.question)
    if not about_speaker:
        return None  # a list about the model the user asked of ("GPT-4o's specs?" "Model: GPT-4o | Maker: OpenAI")
    found = list(field_pattern(message.words, english, message.names).finditer(text))
    if not found or len({match.group().split(":")[0].split("|")[0].strip(' "').lower() for match in found}) < len(found):
        return None
    if any(message.words.negation.search(line_of(text, match)) for match in found):
        return None
    return line_of(text, found[0]).strip()


def line_of(text: str, match: re.Match) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start:end if end >= 0 else len(text)]


ENGLISH_AFFILIATION = (
    r"\b(?:we|us|all\s+of\s+us)(?:\s+(?:here|over\s+here))?\s+(?:at|from)\s+(?:the\s+)?{maker}"
    r"|\bhere\s+at\s+(?:the\s+)?{maker}"
    r"|(?:^|[.!?]\s+)at\s+{maker}\s*,\s*(?:we|our)\b"
    r"|\bour\s+(?:own\s+)?(?:[\w-]+\s+)?(?:team|teams|engineers|researchers|folks|people|lab|company)\s+at\s+{maker}"
    r"|\bour\s+(?:own\s+)?(?:{maker})\s+(?:app|apps|plan|plans|subscription|team|models?|api|platform|service"
    r"|product|family|research|lineup|tier|enterprise|console)\b")


@functools.lru_cache(maxsize=64)
def affiliation_pattern(words: WordSet, names: Names) -> re.Pattern:
    """The speaker's side is a maker's: "we at OpenAI", "Wir bei Anthropic", "我们阿里云团队", "Мы в Яндексе"."""
    if words.code == "en":
        return re.compile(ENGLISH_AFFILIATION.replace("{maker}", f"(?:{names.any})"), re.IGNORECASE | re.MULTILINE)
    we = words.we.pattern
    gap = r"(?:\s+\S+){0,2}?\s*,?\s*" if words.spaced else r"[^，。！？,.!?]{0,4}?"
    return re.compile(rf"{we}{gap}(?:{names.any})|(?:{names.any}){gap}{we}", re.IGNORECASE)


def affiliation(message: Message) -> str | None:
    pattern = affiliation_pattern(message.words, message.names)
    for sentence in sentences(message.text):
        found = pattern.search(sentence)
        if found and not excused(sentence[:found.end()], message.words) and not asks(sentence, clause_at(sentence, found.end())):
            return sentence
    return None


def clause_at(sentence: str, position: int) -> str:
    """The clause of the sentence that holds the position."""
    start = max((m.end() for m in CLAUSE.finditer(sentence, 0, position)), default=0)
    end = next((m.start() for m in CLAUSE.finditer(sentence, position)), len(sentence))
    return sentence[start:end]


def indirect_maker(message: Message) -> str | None:
    """A maker named by its founder, place or product in a claim of origin: "Sam Altman's team trained me",
    "I was built in Mountain View", "Fui criado pela empresa dona do YouTube"."""
    words = message.words
    for sentence in sentences(message.text):
        if OWN in sentence or not message.names.indirect_only.search(sentence):
            continue
        for origin in words.origin.finditer(sentence):
            clause = clause_at(sentence, origin.start())
            if words.self.search(clause) and not excused(sentence[:origin.end()], words) and not excused(clause, words) \
                    and not asks(sentence, clause) and not named_subject(sentence, origin.start(), message):
                return sentence
    return None


def named_subject(clause: str, origin: int, message: Message) -> bool:
    """A maker named before the word of making is its subject: "DeepMind created AlphaGo"."""
    return message.names.mentions.search(clause[:origin]) is not None and \
        message.names.indirect_only.search(clause[:origin]) is None


def shown_sentence(message: Message, sentence: str) -> str:
    """The sentence as written (own names unmasked), for the verdict."""
    masked, shown = sentences(message.text), sentences(message.shown)
    if len(masked) == len(shown) and sentence in masked:
        return shown[masked.index(sentence)]
    return sentence


def own_masked(text: str, facts: Facts) -> str:
    own = own_pattern(facts)
    return own.sub(OWN, text) if own else text


@functools.lru_cache(maxsize=16)
def own_pattern(facts: Facts) -> re.Pattern | None:
    names = facts.own_names + ((facts.maker,) if facts.maker else ())
    return re.compile(names_group(names), re.IGNORECASE) if names else None


def prepared(text: str) -> str:
    """Markdown emphasis and headings removed, quotations blanked."""
    return unquoted(MARKUP.sub("", text))


def mentions_any(text: str, names: Names) -> bool:
    return names.mentions.search(text) is not None

