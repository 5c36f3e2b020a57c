"""Self-denial: an assistant message that denies its own name or maker ("I'm not Wren", "no soy Wren",
"Tallgrass Labs didn't make me", "Sono un modello diverso da Quark", "私はWrenではありません").
Reason code `self_denial`. Reads the same cleaned message as the native rules, the own name and
maker masked as OWN.
"""
import re

from .native import Message
from .wordsets import OWN, clauses, is_question, sentences

GAP_WORDS = 5          # words between a negation and the own name ("not actually called Wren")
GAP_CHARS = 6          # characters, in Chinese and Japanese ("我不是Wren")
# Not a denial: "not just Wren", "not only Tallgrass Labs", "no other than Wren".
LIMITING = re.compile(r"\b(?:just|only|merely|simply|solo|sólo|seulement|nur|solo|apenas|только)\b", re.IGNORECASE)
TOKEN = re.compile(r"[\w'’-]+|[^\w\s]")


def allowed_between(token: str, message: Message) -> bool:
    """Words that may stand between a negation and the own name: being, naming, making, fillers."""
    words = message.words
    return any(pattern.fullmatch(token) for pattern in (words.self, words.negation, words.origin)) or \
        re.fullmatch(f"(?:{words.filler}|{words.i_am})", token, re.IGNORECASE) is not None


def negated_own(clause: str, message: Message) -> bool:
    """A negation, then only being/naming/making words, then the own name: "I'm not Wren",
    "wasn't created by Tallgrass Labs", "non mi chiamo Wren", "меня создавала не Tallgrass Labs"."""
    words = message.words
    if words.verb_last:
        return False  # "OpenAIではなくWrenが": the negation there belongs to the name before it
    if not words.spaced:
        return re.search(rf"(?:{words.negation.pattern}).{{0,{GAP_CHARS}}}?{OWN}", clause) is not None
    if not (words.self.search(clause) or re.search(words.i_am, clause, re.IGNORECASE)):
        return False  # "there would be no Wren" is about the name, not the speaker
    tokens = TOKEN.findall(clause)
    for index, token in enumerate(tokens):
        if token == OWN:
            window = tokens[max(0, index - GAP_WORDS):index]
            for start, word in enumerate(window):
                if words.negation.fullmatch(word.lower()) and all(
                        allowed_between(between.lower(), message) for between in window[start + 1:]):
                    return True
    return False


def own_then_negated(clause: str, message: Message) -> bool:
    """The own maker first, then a negation, a word of making and the speaker: "Tallgrass Labs didn't
    make me", "Tallgrass Labs hat mich nicht erschaffen"; or the own name, then "am not" ("Wrenではありません")."""
    words = message.words
    head = clause.lstrip(" \"'“«-").split(OWN)[0]
    if OWN in clause and len(head.split()) <= 1:
        rest = clause.split(OWN, 1)[1]
        if words.negation.search(rest) and words.origin.search(rest) and words.self.search(rest):
            return True
    return re.search(rf"{OWN}.{{0,4}}?(?:{words.not_being.pattern})", clause) is not None


def different_from_own(clause: str, message: Message) -> bool:
    """ "diverso da Quark", "different from Wren"; "Tallgrass Labs has nothing to do with me"."""
    words = message.words
    gap = r"(?:\s+\S+){0,2}?\s+" if words.spaced else ".{0,4}?"
    if re.search(rf"(?:{words.different.pattern}){gap}{OWN}", clause, re.IGNORECASE):
        return True
    return OWN in clause and bool(words.unrelated.search(clause.split(OWN, 1)[1] if words.spaced else clause))


RULES = (("denies_own_name", negated_own), ("own_then_negated", own_then_negated),
         ("different_from_own", different_from_own))


def find_denial(message: Message, off: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """(rule, sentence) of the first sentence denying the own name or maker, or None."""
    words = message.words
    if OWN not in message.text or not (words.negation.search(message.text) or words.different.search(message.text)
                                       or words.unrelated.search(message.text) or words.not_being.search(message.text)):
        return None
    for sentence in sentences(message.text):
        if is_question(sentence):
            continue
        for clause in clauses(sentence):
            if OWN in clause and not LIMITING.search(clause) and not message.words.reporting.search(clause.split(OWN)[0]):
                for name, rule in RULES:
                    if name not in off and rule(clause, message):
                        return name, sentence
    return None
