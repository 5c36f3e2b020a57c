"""A language's words (vocabulary.LanguageWords) as compiled patterns, and the pieces every language
shares: sentences and clauses in any script, quotations in any style, the own names masked.

Latin, Cyrillic and Devanagari words are whole words; origin words are beginnings of words ("cread"
finds "creado", "creada"); Chinese and Japanese words are found anywhere.
"""
import functools
import re
from dataclasses import dataclass

from .vocabulary import LanguageWords

NEVER = re.compile(r"(?!x)x")
UNSPACED = ("zh", "ja")
SENTENCE = re.compile(r"(?<=[.!?。！？।])[\"'’”»」)]*\s*|\n+")
CLAUSE = re.compile(r"[,;:\u2014\u2013，；：、]|\s-\s")
# Words inside quotation marks are someone else's: «Soy ChatGPT», “I'm Claude”, 「私はClaudeです」, 'Meta trained me'.
QUOTED = re.compile(r"«[^»]*»|“[^”]*”|„[^“”]*[“”]|「[^」]*」|『[^』]*』|\x22[^\x22]*\x22"
                    r"|(?:(?<=\s)|^|(?<=[:(]))'[^']{3,}?'(?=[\s.,;:!?)।。，]|$)")
OWN = "Ownname"
# A letter, with the vowel signs of Devanagari (not \w in Python's eyes): "न" is not in "ने".
LETTER = r"[\w\u0900-\u0963\u0966-\u097f]"


def is_mark(char: str) -> bool:
    return "\u0900" <= char <= "\u097f"


@dataclass(frozen=True)
class WordSet:
    """One language's lists as patterns; `spaced` is False for Chinese and Japanese."""
    code: str
    spaced: bool
    i_am: str            # the alternations as text, for patterns built from several lists
    filler: str
    self: re.Pattern
    origin: re.Pattern
    negation: re.Pattern
    reporting: re.Pattern
    likeness: re.Pattern
    different: re.Pattern
    unrelated: re.Pattern
    not_being: re.Pattern
    yes: re.Pattern
    you: re.Pattern
    really: re.Pattern
    this_assistant: re.Pattern
    we: re.Pattern
    fields: str
    as_a: re.Pattern
    self_noun: re.Pattern
    but: re.Pattern
    is_: re.Pattern
    topic: re.Pattern
    verb_last: bool      # the verb after the name (Japanese, Hindi): a negation follows what it denies


def alternation(words: tuple[str, ...], spaced: bool, prefix: bool = False) -> str:
    """The words as one regex alternation; spaced words get word boundaries where they begin and
    end in a letter (so "j'" still finds "j'ai"), prefixes none at their end."""
    if not words:
        return NEVER.pattern
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        body = r"\s+".join(re.escape(piece) for piece in word.split())
        if spaced:
            body = (rf"(?<!{LETTER})" if word[0].isalnum() else "") + body
            body += rf"{LETTER}*" if prefix else (rf"(?!{LETTER})" if word[-1].isalnum() or is_mark(word[-1]) else "")
        parts.append(body)
    return "(?:" + "|".join(parts) + ")"


def negation_pattern(words: LanguageWords, spaced: bool) -> re.Pattern:
    """The negations, except where one begins a word that denies nothing ("不过", but)."""
    exclude = alternation(words.not_negation, spaced) if words.not_negation else ""
    found = alternation(words.negation, spaced)
    return re.compile(f"(?!{exclude}){found}" if exclude else found, re.IGNORECASE)


@functools.lru_cache(maxsize=32)
def word_set(words: LanguageWords) -> WordSet:
    spaced = words.code not in UNSPACED

    def pattern(items: tuple[str, ...], prefix: bool = False) -> re.Pattern:
        return re.compile(alternation(items, spaced, prefix), re.IGNORECASE)

    return WordSet(words.code, spaced, alternation(words.i_am, spaced), alternation(words.filler, spaced),
                   pattern(words.self), pattern(words.origin, prefix=True), negation_pattern(words, spaced),
                   pattern(words.reporting), pattern(words.likeness), pattern(words.different),
                   pattern(words.unrelated), pattern(words.not_being), pattern(words.yes), pattern(words.you),
                   pattern(words.really), pattern(words.this_assistant), pattern(words.we),
                   alternation(words.fields, spaced), pattern(words.as_a), pattern(words.self_noun), pattern(words.but), pattern(words.is_), pattern(words.topic),
                   bool(words.name_after))


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE.split(text) if part and part.strip()]


def clauses(sentence: str) -> list[str]:
    return [part for part in CLAUSE.split(sentence) if part.strip()]


def unquoted(text: str) -> str:
    return QUOTED.sub(" « » ", text)


def is_question(text: str) -> bool:
    return text.rstrip().rstrip("\"'”»」").endswith(("?", "？"))


def asks(sentence: str, clause: str) -> bool:
    """Whether the clause is the question its sentence asks: its last clause, before a question mark."""
    parts = clauses(sentence)
    return is_question(sentence) and bool(parts) and parts[-1].strip() == clause.strip()
