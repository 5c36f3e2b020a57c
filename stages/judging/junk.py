"""Junk answers: an assistant message that is not an answer at all but an error string ("ERROR: peer
closed connection without sending complete message body"), a stack trace or HTML entity soup.
Reason code `junk_answer`; `find_junk` names the rule and quotes the start of the message.
"""
import re

QUOTE_CHARS = 120
# An error line as a whole message, or as its first line: "ERROR: ..." counts when what follows is
# technical ("Error: the file you uploaded seems empty" is an answer); the others are always machine text.
GENERIC_ERROR = re.compile(r"^\s*\[?(?:error|fatal)\]?\s*[:!\-\]]", re.IGNORECASE)
TECHNICAL = re.compile(
    r"\b(?:connection|connect|timed?\s*out|timeout|status|code|exception|failed|refused|reset|peer|upstream"
    r"|gateway|server|request|response|api|rate\s+limit|http|socket|body|chunk(?:ed)?|json|quota|unauthori[sz]ed"
    r"|forbidden|internal|stream|ssl|tls|dns|\d{3})\b", re.IGNORECASE)
MACHINE_ERROR = re.compile(
    r"^\s*(?:\[?(?:exception|internal\s+server\s+error|bad\s+gateway|service\s+unavailable"
    r"|gateway\s+time-?out|upstream\s+(?:connect\s+)?error)\]?\b\s*[:!\-\]]|\{\s*\x22error\x22\s*:"
    r"|(?:[\w.]+\.)?(?-i:[A-Z]\w*(?:Error|Exception))\s*:\s|HTTP(?:/\d(?:\.\d)?)?\s+[45]\d\d\b|<!doctype\s+html|<html\b"
    r"|(?:request|connection)\s+(?:failed|timed\s+out|reset|refused)\b|peer\s+closed\s+connection"
    r"|rate\s+limit\s+(?:exceeded|reached)\b|upstream\s+(?:request\s+)?timeout)", re.IGNORECASE)
TECHNICAL_SPAN = 200   # characters after "ERROR:" in which a technical word must appear
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \x22[^\x22]+\x22, line \d+"
                       r"|^\s+at [\w$.<>]+\([\w$.]*(?::\d+)*\)\s*$", re.MULTILINE)
ENTITY = re.compile(r"&(?:#\d{1,6}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.IGNORECASE)
ENTITY_COUNT, ENTITY_SHARE = 4, 0.15   # at least this many entities, taking this share of the characters


def entity_soup(text: str) -> bool:
    found = ENTITY.findall(text)
    return len(found) >= ENTITY_COUNT and sum(map(len, found)) >= ENTITY_SHARE * len(text.strip())


def junk_rule(text: str) -> str | None:
    generic = GENERIC_ERROR.match(text)
    if MACHINE_ERROR.match(text) or (generic and TECHNICAL.search(text, generic.end(), generic.end() + TECHNICAL_SPAN)):
        return "error_string"
    if len(TRACEBACK.findall(text)) >= 2 or text.lstrip().startswith("Traceback (most recent call last)"):
        return "stack_trace"
    if entity_soup(text):
        return "entity_soup"
    return None


def find_junk(messages: list[dict]) -> tuple[str, str] | None:
    """(rule, the message's start) of the first assistant message that is junk, or None."""
    for message in messages:
        if message.get("role") == "assistant":
            rule = junk_rule(message.get("content") or "")
            if rule:
                return rule, " ".join(message["content"].split())[:QUOTE_CHARS]
    return None
