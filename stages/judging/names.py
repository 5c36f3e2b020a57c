"""Names as regular expressions: a model's or maker's name with its spacing variants ("chat gpt",
"Open-AI"), a version after it ("claude-3-5-sonnet-20241022", "GPT-4o-mini") and, for names written
in other scripts, no word boundary (Chinese and Japanese put no spaces around a name).
"""
import re

# A Latin, Cyrillic or Devanagari letter or digit: around a name, one of these means a longer word.
# Chinese, Japanese and Korean letters do not: "我是ChatGPT" names ChatGPT.
WORD_CHAR = r"[^\W\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
# What may follow a name as part of its version: "-mini", " Turbo", "-Instruct", "-20241022".
VERSION_WORDS = (r"mini|turbo|preview|pro|flash|ultra|nano|sonnet|opus|haiku|instruct|chat|coder|vision|max|plus"
                 r"|lite|large|medium|small|latest|exp|it|base|v\d+(?:\.\d+)*")
VERSION = (rf"(?:[\s-]?\d+(?:\.\d+)*[a-z]?)?(?:[\s-](?:\d+(?:\.\d+)*[a-z]?|\d+(?:\.\d+)?(?:x\d+)?[bmk]"
           rf"|(?:{VERSION_WORDS})(?=[\s.,;:!?)\]-]|$)))*")
# A name followed by these is a likeness, not the name itself: "ChatGPT-like", "a GPT-4 clone".
LIKENESS = (r"(?!-(?:like|style|esque|inspired|level|class|grade|sized?|type)\b)"
            r"(?!\s*-?\s*(?:clones?|alternatives?|competitors?|rivals?|killers?|wannabes?|look-?alikes?|knock-?offs?"
            r"|imitations?|copycats?|equivalents?|counterparts?)\b)")
JOINT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
CAPITALISED = re.compile(r"[A-Z][a-z]+")


def part_pattern(part: str) -> str:
    """One space-separated part: its CamelCase and letter-digit joints may be written with a space
    or a hyphen ("Chat GPT", "chat-gpt", "Deep Seek"), or not."""
    pieces = [p for p in JOINT.split(part) if p]
    if len(part) <= 3 or len(pieces) == 1:
        return re.escape(part)
    return r"[\s-]?".join(re.escape(piece) for piece in pieces)


ACCENTS = {"a": "[aáàâä]", "e": "[eéèêë]", "i": "[iíìîï]", "o": "[oóòôö]", "u": "[uúùûü]"}
CYRILLIC_ENDING = "[а-яё]{0,3}"   # a name declined in Russian: "Яндексе", "Сбера"


def accented(escaped: str) -> str:
    """Vowels written with or without an accent: "Gémini" is Gemini."""
    return "".join(ACCENTS.get(char.lower(), char) if char.lower() in ACCENTS else char for char in escaped)


def name_pattern(name: str, keep_case: bool = True) -> str:
    """One name as a regex: spaces as any whitespace or a hyphen; a plain capitalised word (Gemini,
    Falcon) must keep its capital initial unless a version follows it ("gemini-1.5-pro") or keep_case is
    off (users write "are you gemini?")."""
    if keep_case and CAPITALISED.fullmatch(name):
        return f"(?:(?-i:{name[0]}){accented(name[1:])}|{re.escape(name)}(?=[\\s-]?\\d))"
    if re.fullmatch(r"[\u0400-\u04ff\s]+", name):
        return r"\s+".join(map(re.escape, name.split())) + CYRILLIC_ENDING
    return r"(?:\s+|-)".join(accented(part_pattern(part)) for part in name.split())


def names_group(names: tuple[str, ...], keep_case: bool = True) -> str:
    """Any of the names as a whole word, a version after it allowed ("Llama 3.1", "Qwen2.5")."""
    if not names:
        return r"(?!x)x"  # matches nothing: every name was allowed
    bodies = "|".join(name_pattern(n, keep_case) for n in sorted(names, key=len, reverse=True))
    return rf"(?<!{WORD_CHAR})(?<!-)(?:{bodies}){VERSION}(?!{WORD_CHAR}){LIKENESS}"


def first_tokens(names: tuple[str, ...]) -> frozenset[str]:
    """Lower-case words one of which any text naming one of the names holds (see mentions_token): a
    one-word name as it is ("chatgpt"), a longer one as its first two words joined ("commandr",
    "gpt4o", "opena" for "Open A.I."), so that a common first word ("open", "le") lets no text through."""
    tokens = set()
    for name in names:
        found = re.findall(r"[a-z0-9]+", plain(name))
        if found:
            tokens.add("".join(found[:2]))
    return frozenset(tokens)


def plain(text: str) -> str:
    """Lower case without accents: "Gémini" -> "gemini"."""
    text = text.lower()
    if text.isascii():
        return text
    import unicodedata
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def mentions_token(words: frozenset[str], text: str) -> bool:
    """Whether the text holds one of first_tokens' words: a token as it is, or two neighbouring tokens
    joined ("chat gpt" -> "chatgpt"); accents are ignored."""
    lowered = plain(text)
    alnum = re.findall(r"[a-z0-9]+", lowered)
    if not words.isdisjoint(alnum) or not words.isdisjoint(re.findall(r"[a-z]+", lowered)):
        return True
    return any(a + b in words for a, b in zip(alnum, alnum[1:]))


def other_script(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names written without Latin letters or digits ("谷歌", "Яндекс"), looked for as substrings."""
    return tuple(name.lower() for name in names if not re.search(r"[A-Za-z0-9]", name))
