"""The identity leak check: does an assistant message claim to be another model, or to be made by
another model's maker? (`find_leak`, reason code `identity_leak`.)

Regular expressions over each sentence of each assistant message, no NLP library. A sentence
leaks when it contains a claim ("I'm ChatGPT", "my name is Qwen", "I was trained by OpenAI",
"as an AI developed by Google, ...", "Anthropic made me", "I'm built on Meta's Llama") that is
not negated ("I'm not ChatGPT", "I wasn't made by Google", "neither OpenAI nor Google made me"),
not reported or hypothetical ("people think I'm Gemini", "if I were ChatGPT") and not a question.
Mentions that are not claims ("unlike ChatGPT, I ...", "people mix me up with Gemini") pass.
"""
import functools
import re
from dataclasses import dataclass

from .identity import Facts

OWN = "Ownname"  # what the identity's own names are replaced with before looking (a model "Gemma-mini" is not Gemma)

# Pieces of the claim patterns; {model}, {maker} and {any} are filled with the facts' names.
SELF_BE = (r"\bi(?:['’]?m\b|\s+am\b|\s+was\b|['’]ve\s+been\b|\s+have\s+been\b|\s+got\b"
           r"|\s+wasn['’]t\b|\s+haven['’]t\s+been\b|\s+have\s+never\s+been\b|['’]ve\s+never\s+been\b)")
FILL = (r"(?:\s+(?:just|actually|really|indeed|basically|essentially|technically|originally|officially|literally"
        r"|simply|also|still|currently|definitely|certainly|proudly|first|initially|mainly|primarily|ultimately"
        r"|fundamentally|partly|secretly|in\s+fact|not|never|no\s+longer|no))*")
DET = r"(?:\s+(?:an?|the|one|your))?"
NAME_INTRO = (r"\b(?:my\s+name\s+is|my\s+name['’]s|(?:you\s+can\s+)?call\s+me|i\s+go\s+by|i['’]?m\s+called|i\s+am\s+called"
              r"|i['’]?m\s+known\s+as|i\s+am\s+known\s+as|this\s+is|you['’]re\s+(?:talking|chatting|speaking)\s+(?:to|with)"
              r"|you\s+are\s+(?:talking|chatting|speaking)\s+(?:to|with)"
              r"|my\s+(?:underlying\s+|base\s+|core\s+)?(?:model|architecture|engine|backbone|llm)\s+(?:is|was))")
OF_PHRASE = (r"(?:\s+(?:version|variant|instance|form|kind|type|flavou?r|fork|copy|build|release|edition|member|part"
             r"|descendant|fine-?tune|distillation|successor)\s+of)?")
VERBS = (r"(?:made|trained|built|created|developed|owned|designed|produced|programmed|engineered|released|launched"
         r"|fine-?tuned|pre-?trained|written|coded|invented|maintained|operated|run|powered|backed|funded|taught"
         r"|crafted|published|open-?sourced|brought\s+to\s+you|put\s+together|raised|born)")
ACTIVE_VERBS = (r"(?:made|built|trained|created|developed|designed|owns|owned|programmed|released|runs|maintains"
                r"|fine-?tuned|pre-?trained|taught|invented|engineered|coded|wrote|produced|launched)")
SELF_NOUN = (r"(?:model|assistant|ai|a\.i\.|chatbot|bot|system|program|llm|agent|tool|product|helper|companion|version"
             r"|service|network|creation|project|offering|release|chat\s+model)")
NOT_OURS = r"(?!(?:to|than|like|unlike|not|instead|versus|vs|alternative|competitor|rival|fan|different|similar|unrelated|independent|nothing)\b)"
SOME_WORDS = rf"(?:\s+{NOT_OURS}[\w-]+){{0,2}}?"
NAMED_SELF = rf"(?:{SELF_BE}|{NAME_INTRO})\s+{OWN}\s*,?"   # "I'm Sprout, ..." (own names are masked as OWN)
SUBJECT = rf"(?:{NAMED_SELF}|{SELF_BE}|\bas|\bbeing)"
NOUN_PHRASE = rf"{SUBJECT}{FILL}\s+(?:an?|the|your)\s+(?:[\w-]+\s+){{0,4}}?{SELF_NOUN}"
BY_TEAM = r"(?:\s+(?:the\s+)?(?:team|folks|people|engineers|researchers|developers|scientists|company)\s+(?:at|from|of))?"
PREP = r"(?:on|upon|from|off(?:\s+of)?|using|atop|on\s+top\s+of)"
BASE_VERBS = r"(?:based|built|running|powered|fine-?tuned|trained|derived|distilled|descended|adapted|forked|cloned)"

CLAIMS = (
    # I'm ChatGPT / my name is Qwen / you're talking to Gemini / I'm a version of Llama
    rf"(?:{SELF_BE}|{NAME_INTRO}){FILL}(?:{DET}{OF_PHRASE})?{DET}(?:\s+{{maker}}['’]s)?\s+{{model}}(?!['’]s\b)",
    # I'm built on Meta's Llama / I'm based on technology from OpenAI / I run on GPT-4
    rf"(?:{SELF_BE}{FILL}\s+{BASE_VERBS}|\bi\s+(?:run|ran)){FILL}\s+{PREP}{DET}{SOME_WORDS}\s+{{any}}",
    # I was trained by OpenAI / as an AI developed by Google / I'm a model, made and trained by Meta
    rf"(?:{SELF_BE}|(?:{NOUN_PHRASE}|{NAMED_SELF})(?:\s*,)?(?:\s+(?:and|that|which|who))?"
    rf"(?:\s+(?:was|is|am|has\s+been|were))?){FILL}\s+"
    rf"{VERBS}(?:\s*(?:,|and|&)\s*{VERBS})*{FILL}\s+(?:by|at){DET}{BY_TEAM}\s+{{any}}",
    # I'm an AI from Google / a product of OpenAI
    rf"{NOUN_PHRASE}\s+(?:from|of|at|out\s+of){DET}\s+{{maker}}",
    # I'm an OpenAI model / I'm Google's assistant / as a Meta AI model, ...
    rf"{SUBJECT}{FILL}(?:\s+(?:an?|the|one\s+of))?{SOME_WORDS}\s+{{any}}(?:['’]s)?{SOME_WORDS}\s+{SELF_NOUN}\b",
    # OpenAI trained me / Google built and trained me
    rf"(?:{{maker}}\s+(?:or|nor|and|&)\s+)*{{maker}}(?:\s+(?:also|originally|actually|first))?\s+{ACTIVE_VERBS}(?:\s*(?:,|and|&)\s*{ACTIVE_VERBS})*\s+me\b",
    # my creator is OpenAI / OpenAI is my maker / I come from Google
    rf"\bmy\s+(?:creators?|makers?|developers?|builders?|authors?|trainers?|owners?|parent(?:\s+company)?|company"
    rf"|team|designers?|programmers?|engineers?|origins?|home)\s+(?:is|are|was|were){FILL}(?:\s+(?:at|from))?{DET}"
    rf"{BY_TEAM}\s+{{maker}}",
    rf"{{maker}}\s+(?:is|was){FILL}\s+my\s+(?:creator|maker|developer|builder|owner|parent|company|team|author)",
    rf"\bi(?:\s+belong\s+to|\s+come\s+from|\s+came\s+from|['’]?m\s+from|\s+am\s+from|\s+work\s+for|\s+was\s+born\s+(?:at|in))"
    rf"{DET}\s+{{maker}}",
    # As ChatGPT, I ... / ChatGPT here!
    rf"\bas(?:\s+an?)?\s+{{model}}(?:\s+\w+)?\s*,\s*(?:i|my)\b",
    rf"(?:^|[,;:!.]\s*|\b(?:hi|hello|hey)\b\s*[,!]?\s*){{model}}\s+here\b",
)
NEGATION = re.compile(r"\b(?:not|never|no|nor|neither|none|nothing|without|nobody)\b|n['’]t\b", re.IGNORECASE)
# Just before a claim, only these negate it ("neither OpenAI nor ...", "nobody at Google ..."); a
# "can't" there belongs to another verb ("I can't browse, as an AI developed by ...").
NEGATED_BEFORE = re.compile(r"\b(?:not|never|nor|neither|nobody|no\s+one|none\s+of)\b", re.IGNORECASE)
# Cues before a claim that make it someone else's belief, a hypothesis or a contrast. A cue right
# after "I" ("I think I'm ...") is the assistant's own belief and does not count.
DISTANCE = re.compile(
    r"(?<!\bi\s)(?<!\bi['’]d\s)\b(?:think|thinks|thought|assumes?|assumed|believes?|believed|guess(?:es|ed)?"
    r"|suspects?|suspected|wonders?|wondered|asks?|asked|asking|expects?|expected|says?|said|claims?|claimed"
    r"|mistakes?|mistaken(?:ly)?|confuses?|confused|mix(?:es|ed)?|misconception|myth|rumou?rs?|wrong(?:ly)?"
    r"|false|untrue|if|whether|pretend(?:ing)?|imagine|suppose|hypothetically|instead|rather|unlike"
    r"|as\s+opposed|not\s+true|isn['’]t\s+true)\b", re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"[,;:()\u2014\u2013]|\s-\s|\b(?:but|while|whereas|though|although|however|yet|and|so)\b",
                          re.IGNORECASE)
TOKEN = re.compile(r"[a-z]+|\d+")
ALNUM = re.compile(r"[a-z0-9]+")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)]*\s+|\n+")
AFFIRMATION = re.compile(
    r"^\W*(?:yes|yep|yeah|yup|correct|right|exactly|indeed|affirmative|that['’]?s\s+right|that\s+is\s+right"
    r"|that['’]?s\s+me|that\s+is\s+me|you\s+got\s+it|you\s+bet|i\s+am|i\s+sure\s+am|sure\s+am|i\s+was|they\s+did"
    r"|it\s+is|it\s+was|that['’]?s\s+correct)\b(?:[\s,.!]*(?:i\s+am|i['’]m|i\s+was|they\s+did|it\s+is|that['’]?s\s+me"
    r"|that\s+is\s+me|i\s+sure\s+am|indeed))?[\s.!]*$", re.IGNORECASE)
QUESTION_ABOUT = r"\b(?:are\s+you|r\s+u|were\s+you|is\s+this|you['’]re|you\s+are|did|is)\b[^?]*?{any}"


@dataclass(frozen=True)
class Detector:
    words: frozenset[str]      # each name's first token, lower case: a text with none of them is skipped at once
    mentions: re.Pattern       # any name at all, as a word
    claims: tuple[re.Pattern, ...]
    own: re.Pattern | None
    asked: re.Pattern          # a user message asking whether the assistant is one of them

    def may_mention(self, text: str) -> bool:
        """A set test on the text's tokens, far faster than the regex; most answers name no one.
        Both "Qwen2.5" -> qwen and "AI21" -> ai21 are tokens."""
        lowered = text.lower()
        return not (self.words.isdisjoint(TOKEN.findall(lowered)) and self.words.isdisjoint(ALNUM.findall(lowered)))


def name_pattern(name: str, keep_case: bool = True) -> str:
    """One name as a regex: spaces as any whitespace; a plain capitalised word (Gemini, Falcon)
    must keep its capital initial, unless keep_case is off (users write "are you gemini?")."""
    if keep_case and re.fullmatch(r"[A-Z][a-z]+", name):
        return f"(?-i:{name[0]}){re.escape(name[1:])}"
    return r"\s+".join(re.escape(part) for part in name.split())


def names_group(names: tuple[str, ...], keep_case: bool = True) -> str:
    """Any of the names as a whole word, a version after it allowed ("Llama 3.1", "Qwen2.5")."""
    if not names:
        return r"(?!x)x"  # matches nothing: every name was allowed
    bodies = "|".join(name_pattern(n, keep_case) for n in sorted(names, key=len, reverse=True))
    return rf"(?<![\w-])(?:{bodies})(?:[\s-]?\d+(?:\.\d+)*[a-z]?)?(?!\w)"


@functools.lru_cache(maxsize=8)
def detector(facts: Facts) -> Detector:
    everyone = facts.models + facts.makers
    groups = {"model": names_group(facts.models), "maker": names_group(facts.makers), "any": names_group(everyone)}
    own = re.compile(names_group(facts.own_names), re.IGNORECASE) if facts.own_names else None
    words = frozenset(ALNUM.findall(name.lower())[0] for name in everyone if ALNUM.search(name.lower()))
    return Detector(words, re.compile(groups["any"], re.IGNORECASE),
                    tuple(re.compile(fill_names(claim, groups), re.IGNORECASE) for claim in CLAIMS),
                    own, re.compile(fill_names(QUESTION_ABOUT, {"any": names_group(everyone, keep_case=False)}),
                                    re.IGNORECASE))


def fill_names(pattern: str, groups: dict[str, str]) -> str:
    """Put the name groups into a claim pattern (not str.format: the patterns hold {0,2} counts)."""
    for slot, group in groups.items():
        pattern = pattern.replace("{" + slot + "}", group)
    return pattern


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]


def clause_start(sentence: str, position: int) -> int:
    breaks = [m.end() for m in CLAUSE_BREAK.finditer(sentence, 0, position)]
    return breaks[-1] if breaks else 0


def is_excused(sentence: str, match: re.Match) -> bool:
    """A negated, reported or hypothetical claim, or one asked as a question, is not a claim."""
    start = clause_start(sentence, match.start())
    before = sentence[start:match.start()]
    last_words = " ".join(before.split()[-2:])
    if NEGATION.search(match.group()) or NEGATED_BEFORE.search(last_words) or DISTANCE.search(before):
        return True
    rest = sentence[match.end():]
    return sentence.rstrip().endswith("?") and not CLAUSE_BREAK.search(rest)


def leaking_sentence(text: str, found: Detector) -> str | None:
    """The first sentence of one assistant message that claims another identity, or None."""
    if not found.may_mention(text):
        return None
    masked = sentences(found.own.sub(OWN, text) if found.own is not None else text)
    originals = sentences(text)
    for number, sentence in enumerate(masked):
        if found.mentions.search(sentence) and any(
                not is_excused(sentence, match) for claim in found.claims for match in claim.finditer(sentence)):
            return originals[number] if len(originals) == len(masked) else sentence
    return None


def bare_yes(question: str, answer: str, found: Detector) -> str | None:
    """ "Are you ChatGPT?" answered with "Yes, I am." names no model and still leaks."""
    first = SENTENCE_END.split(answer.strip(), maxsplit=1)[0]
    if AFFIRMATION.match(first) and found.may_mention(question) and found.asked.search(question):
        return first
    return None


def find_leak(messages: list[dict], facts: Facts) -> str | None:
    """The first assistant sentence claiming another model's identity or maker, or None.
    User messages are never checked: a user may well ask "are you ChatGPT?"."""
    found = detector(facts)
    previous = ""
    for message in messages:
        if message.get("role") != "assistant":
            previous = message.get("content", "")
            continue
        sentence = leaking_sentence(message["content"], found) or bare_yes(previous, message["content"], found)
        if sentence:
            return sentence
    return None
