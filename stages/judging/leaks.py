"""The identity checks on a conversation's assistant messages, as named rules over the vocabulary of
prompts/leak_vocabulary/: does an answer claim another model's identity or maker (`identity_leak`),
deny its own name or maker (`self_denial`), or is it no answer at all (`junk_answer`)?

`find_problem` returns the first Finding (reason, rule, sentence) or None. Each message is read in
its language (the facts' `language:`, else guessed per message): English by stages/judging/english.py,
every language by stages/judging/native.py and denial.py. User messages are never checked: a user may
well ask "are you ChatGPT?". RULES lists every rule; each is there because an example needs it
(tests/test_leak_rules.py).
"""
import functools
import re
from dataclasses import dataclass, fields

from . import english, native
from .denial import find_denial
from .english import Detector, Leak, detector, message_leak, sentences
from .identity import Facts
from .junk import find_junk
from .language import language_code
from .names import first_tokens, other_script, mentions_token
from .wordsets import unquoted, word_set

LEAK, DENIAL, JUNK = "identity_leak", "self_denial", "junk_answer"

# rule -> (reason, what it catches)
RULES = {
    **{name: (LEAK, "English claim pattern") for name in (
        "i_am_model", "made_by", "maker_adjective", "family_member", "noun_from_maker", "maker_noun",
        "maker_made_me",
        "model_is_what_i_am", "being_model", "participle_opening",
        "as_model_i", "speaking_as", "greeting_intro", "verbless_intro")},
    "clause_link": (LEAK, "the speaker, another name and a word of origin in one English clause"),
    "yes_to_question": (LEAK, "an English yes to \"are you ChatGPT?\""),
    "short_named_answer": (LEAK, "a short answer naming a maker to \"who made you?\""),
    "native_name_claim": (LEAK, "the speaker introducing itself as a model: \"soy ChatGPT\", \"我是Gemini\""),
    "native_origin_claim": (LEAK, "the speaker, a word of making and a name in one clause, in any language"),
    "as_model": (LEAK, "\"as a model made by X\" about the speaker: \"como modelo desarrollado por Google\""),
    "not_but_name": (LEAK, "a role denied for another model's name: \"no soy un pirata sino Claude\""),
    "third_person": (LEAK, "the speaker named without \"I\" is really another model"),
    "native_yes": (LEAK, "a short yes to \"¿Eres Claude?\""),
    "field_claim": (LEAK, "a field of a list or table about the speaker: \"Developer: OpenAI\""),
    "affiliation": (LEAK, "the speaker's side is a maker's: \"we at OpenAI\", \"our Gemini app\""),
    "indirect_maker": (LEAK, "a maker named by founder, place or product in a claim of origin"),
    "denies_own_name": (DENIAL, "\"I'm not Wren\", \"no soy Wren\", \"wasn't made by Tallgrass Labs\""),
    "own_then_negated": (DENIAL, "\"Tallgrass Labs didn't make me\", \"私はWrenではありません\""),
    "different_from_own": (DENIAL, "\"diverso da Quark\", \"nothing to do with Tallgrass Labs\""),
    "error_string": (JUNK, "an API error as the answer"),
    "stack_trace": (JUNK, "a stack trace as the answer"),
    "entity_soup": (JUNK, "HTML entities as the answer"),
}
NATIVE_RULES = (("native_name_claim", native.name_claim), ("native_origin_claim", native.origin_claim),
                ("as_model", native.as_model), ("not_but_name", native.not_but_name),
                ("third_person", native.third_person), ("native_yes", native.yes_answer),
                ("affiliation", native.affiliation), ("indirect_maker", native.indirect_maker))
ENGLISH_RULES = (("third_person", native.third_person), ("affiliation", native.affiliation),
                 ("indirect_maker", native.indirect_maker))


@dataclass(frozen=True)
class Finding:
    reason: str     # identity_leak, self_denial or junk_answer
    rule: str       # the rule that fired (a key of RULES)
    sentence: str   # the sentence it fired on (the start of the message for junk)


@dataclass(frozen=True)
class Prefilter:
    """Cheap tests that skip the patterns for the many answers naming no one."""
    words: frozenset[str]
    scripts: tuple[str, ...]
    own: tuple[str, ...]

    def names_someone(self, lowered: str, found: Detector) -> bool:
        return found.may_mention(lowered) or any(name in lowered for name in self.scripts) or \
            mentions_token(self.words, lowered)

    def names_itself(self, lowered: str) -> bool:
        return any(name in lowered for name in self.own)


@functools.lru_cache(maxsize=16)
def prefilter(facts: Facts) -> Prefilter:
    own = facts.own_names + ((facts.maker,) if facts.maker else ())
    return Prefilter(first_tokens(facts.indirect), other_script(facts.indirect), tuple(n.lower() for n in own))


def message_language(text: str, facts: Facts) -> str:
    """The message's own language when it can be told (common words and the vocabulary's words count),
    else the facts' `language:`, else English."""
    return language_code(text, known_words(facts)) or facts.language or "en"


@functools.lru_cache(maxsize=16)
def known_words(facts: Facts) -> dict[str, frozenset[str]]:
    """Per language, the words and phrases of its lists (not the names), to tell a message's language."""
    return {words.code: frozenset(word for field in fields(words) if field.name != "code"
                                  for word in getattr(words, field.name) if len(word) > 1)
            for words in facts.words}


def english_finding(question: str, answer: str, facts: Facts, off: frozenset[str]) -> Finding | None:
    """The English claim patterns, on the answer with its quotations blanked (someone else's words)."""
    plain = english.MARKUP.sub("", answer)
    blanked = unquoted(plain)
    found = message_leak(question, blanked, detector(facts, off))
    if found is None:
        return None
    shown, said = english.sentences(blanked), english.sentences(plain)
    sentence = said[shown.index(found.sentence)] if found.sentence in shown and len(shown) == len(said) \
        else found.sentence
    return Finding(LEAK, found.rule, sentence)


def native_finding(question: str, answer: str, code: str, facts: Facts, off: frozenset[str],
                   names_someone: bool) -> Finding | None:
    """A leak (when the answer or its question names someone) or a denial in one assistant message,
    by the rules of its language."""
    words = facts_words(facts, code)
    if words is None:
        return None
    shown = native.prepared(answer)
    message = native.Message(native.own_masked(shown, facts), shown, question, words, native.names_of(facts),
                             native.own_masked(native.MARKUP.sub("", answer), facts))
    english = facts_words(facts, "en")
    if names_someone:
        rules = NATIVE_RULES if words.code != "en" else ENGLISH_RULES
        for name, rule in rules:
            sentence = rule(message) if name not in off else None
            if sentence:
                return Finding(LEAK, name, native.shown_sentence(message, sentence))
        sentence = native.field_claim(message, english) if "field_claim" not in off else None
        if sentence:
            return Finding(LEAK, "field_claim", sentence.replace(native.OWN, facts.name or native.OWN))
    denial = find_denial(message, off)
    return Finding(DENIAL, denial[0], native.shown_sentence(message, denial[1])) if denial else None


@functools.lru_cache(maxsize=16)
def denial_words(facts: Facts) -> re.Pattern:
    """Any language's words of denial, for a quick look before a message is read in its language."""
    found = {word for words in facts.words for key in ("negation", "different", "unrelated", "not_being")
             for word in getattr(words, key)}
    body = "|".join(re.escape(word) for word in sorted(found, key=len, reverse=True))
    return re.compile(f"(?:{body})", re.IGNORECASE) if found else re.compile(r"(?!x)x")


def denies_anything(answer: str, facts: Facts) -> bool:
    return denial_words(facts).search(answer) is not None


def facts_words(facts: Facts, code: str):
    words = next((words for words in facts.words if words.code == code), None)
    return word_set(words) if words is not None else None


def find_problem(messages: list[dict], facts: Facts, off: frozenset[str] = frozenset()) -> Finding | None:
    """The first junk answer, else the first assistant message claiming another identity or denying
    its own, with the rule that fired; None when every answer passes. `off` leaves rules out."""
    junk = find_junk(messages)
    if junk and junk[0] not in off:
        return Finding(JUNK, *junk)
    gate, names = prefilter(facts), detector(facts)
    previous, asked = "", False
    for message in messages:
        if message.get("role") != "assistant":
            previous = message.get("content", "")
            asked = gate.names_someone(previous.lower(), names)
            continue
        answer = message.get("content") or ""
        named = asked or gate.names_someone(answer.lower(), names)
        if not (named or (gate.names_itself(answer.lower()) and denies_anything(answer, facts))):
            continue  # names no one, and no denial of itself: nothing any rule looks for
        code = message_language(answer, facts)
        found = (english_finding(previous, answer, facts, off) if code == "en" and named else None) or \
            native_finding(previous, answer, code, facts, off, named)
        if found:
            return found
    return None


def find_leak(messages: list[dict], facts: Facts) -> str | None:
    """The first sentence claiming another model's identity or maker, or None (denials and junk aside)."""
    found = find_problem(messages, facts)
    return found.sentence if found is not None and found.reason == LEAK else None


__all__ = ["DENIAL", "JUNK", "LEAK", "RULES", "Finding", "Leak", "find_leak", "find_problem", "sentences"]
