"""A refusal dressed as a server error: a server that has never answered a request with success
and keeps failing with the same message (a 500 carrying a validation error, say) is not having
an outage. Retrying it only burns time, so the run stops and quotes the server's words.
"""
import re
import threading
import time

REPEATS = 3              # the same message this often ...
SPAN_SECONDS = 10.0      # ... over at least this long (one burst of errors is not a pattern)
# Words of a server that is busy or starting, not refusing: those failures keep their retries.
BUSY_WORDS = ("loading", "overloaded", "unavailable", "try again", "busy", "timeout", "timed out",
              "bad gateway", "rate limit", "capacity", "starting")
BUSY_STATUSES = (502, 503, 504)   # a gateway or a server that is down or starting: an outage, not a refusal
SCHEMA_WORDS = ("response_format", "json_schema", "json schema", "schema", "validation", "input should be")
MESSAGE_CHARS = 160


def shorten(message: str, limit: int = MESSAGE_CHARS) -> str:
    """The message on one line, cut to `limit` characters."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pattern_of(message: str) -> str:
    """Messages that differ only in words holding a digit (request ids, counts, times) are the same failure."""
    return re.sub(r"\S*\d\S*", "#", " ".join(message.lower().split()))[:300]


def counts_as_refusal(status: int | None, message: str) -> bool:
    """A 5xx with words of its own, not the status of a server that is busy or starting."""
    if status is None or status < 500 or status in BUSY_STATUSES or not message.strip():
        return False
    return not any(word in message.lower() for word in BUSY_WORDS)


class RepeatWatch:
    """Counts failures by message until a request succeeds; `refusal()` names a repeating one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.succeeded = False
        self.seen: dict[str, list] = {}   # pattern -> [count, first seen, last message, status, format]

    def success(self) -> None:
        self.succeeded = True

    def failure(self, status: int | None, message: str, response_format: str) -> None:
        if self.succeeded or not counts_as_refusal(status, message):
            return
        with self.lock:
            entry = self.seen.setdefault(pattern_of(message), [0, time.monotonic(), message, status, response_format])
            entry[0] += 1

    def refusal(self, finished: bool = False) -> str | None:
        """The one-line stop, once a message repeats over SPAN_SECONDS (or at all by the run's end)."""
        if self.succeeded:
            return None
        with self.lock:
            for count, first, message, status, response_format in self.seen.values():
                spanned = time.monotonic() - first >= SPAN_SECONDS
                if count >= REPEATS and (spanned or finished):
                    return refusal_line(count, status, message, response_format)
        return None


def refusal_line(count: int, status: int, message: str, response_format: str) -> str:
    said = f'the server failed {count} requests with the same HTTP {status} and none ever succeeded: "{shorten(message)}"'
    return f"{said}; {refusal_fix(message, response_format)}"


def refusal_fix(message: str, response_format: str) -> str:
    """What to change, from what the requests asked for and what the server said."""
    about_schema = any(word in message.lower() for word in SCHEMA_WORDS)
    if response_format == "json_schema":
        lead = "it refuses" if about_schema else "if it refuses"
        return (f"{lead} JSON-schema output (RESPONSE_FORMAT=json_schema, the default), set RESPONSE_FORMAT=json_object "
                "(llama-cpp-python's server and other llama.cpp-based ones) or RESPONSE_FORMAT=none"
                + ("" if about_schema else "; otherwise check MODEL and the server's log"))
    if response_format == "json_object":
        return "if it refuses JSON mode too, set RESPONSE_FORMAT=none; otherwise check MODEL and the server's log"
    return "check MODEL and the server's log"
