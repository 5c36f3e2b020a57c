"""The judge pass on the lines of an existing file (`make audit JUDGE=1 FILE=...`): one judge request
per conversation that passed the local checks, built by judging/judge.py like fetch's judge requests,
sent through the one HTTP client (transport/client.py), cached in the answer cache under (endpoint,
judge body, attempt) before it is read, so a rerun sends nothing. The cost is printed before sending.
"""
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import FatalAPIError, PipelineError
from .judging.checks import Verdict, make_validator
from .judging.judge import JudgeSpec, judge_body, read_verdict
from .storage.cache import answer_key, decode_entry, encode_entry
from .transport.answers import TransientAnswer, parse_completion
from .transport.client import Request, post_completion
from .transport.formats import DEFAULT_FORMAT
from .transport.key import load_key
from .transport.prices import Prices, prompt_tokens, request_estimate
from .transport.server import server_fields

JUDGE_OUTPUT_TOKENS = 80      # a verdict, and a quote when it fails (as `make estimate` assumes)
TRIES = 6                     # sends per request before a transient failure (429, 5xx, a drop) stops the run
FIRST_WAIT = 1.0              # seconds before the first retry; doubled each time


@dataclass(frozen=True)
class FileJudge:
    """Where and how the judge is asked."""
    url: str                   # the chat-completions URL (part of each cache key)
    spec: JudgeSpec
    model: str
    openrouter: bool = False
    response_format: str = DEFAULT_FORMAT
    max_attempts: int = 3      # judge answers per conversation until one is a readable verdict
    timeout: float = 120.0


@dataclass(frozen=True)
class JudgeAsk:
    line: int
    body: dict


def conversation_base(judge: FileJudge) -> dict:
    """What a conversation's body would carry that the judge body copies: the model, OpenRouter's
    fields (reasoning off), and the RESPONSE_FORMAT (judge_body puts the verdict schema there)."""
    body = {"model": judge.model, **server_fields(judge.openrouter, "off")}
    if judge.response_format != "none":
        body["response_format"] = {"type": judge.response_format}
    return body


def judge_ask(line: int, messages: list[dict], judge: FileJudge) -> JudgeAsk:
    return JudgeAsk(line, judge_body(conversation_base(judge), messages, judge.spec))


def cost_line(lines: int, cached: int, sample: JudgeAsk | None, prices: Prices | None) -> str:
    """What judging the file will cost, before anything is sent (priced on the first request)."""
    todo = lines - cached
    head = f"audit: {lines} conversations to judge, {cached} already answered in the cache, {todo} to send"
    if sample is None:
        return head
    tokens = prompt_tokens(sample.body)
    if prices is None:
        return f"{head}; ~{tokens} prompt tokens each; cost unknown (no price listed: give PRICE_IN and PRICE_OUT)"
    each = request_estimate(sample.body, prices, JUDGE_OUTPUT_TOKENS)
    return f"{head}; ~{tokens} prompt tokens each, about ${each * todo:.4f} for the {todo} (${each:.5f} each)"


def is_cached(ask: JudgeAsk, judge: FileJudge, cache) -> bool:
    return cache.get(answer_key(judge.url, ask.body, 0)) is not None


def send_once(judge: FileJudge, body: dict, key: str | None) -> str:
    """One judge request, retried on transient failures; the answer's text (a parsed completion)."""
    wait = FIRST_WAIT
    for attempt in range(TRIES):
        try:
            text = post_completion(Request(judge.url, body, key, judge.timeout))
            parse_completion(text)
            return text
        except TransientAnswer as err:
            if attempt == TRIES - 1:
                raise PipelineError(f"audit: the judge request failed {TRIES} times ({err}); "
                                    "run the same command again later: answers so far are cached") from None
            time.sleep(getattr(err, "retry_after", None) or wait)
            wait *= 2
    raise AssertionError("unreachable")


def judge_one(ask: JudgeAsk, judge: FileJudge, cache, validator, key_of) -> tuple[Verdict | None, int]:
    """(the readable verdict or None, requests sent) for one conversation, cached answers first."""
    sent = 0
    for attempt in range(judge.max_attempts):
        cache_key = answer_key(judge.url, ask.body, attempt)
        raw = cache.get(cache_key)
        if raw is None:
            text = send_once(judge, ask.body, key_of())
            cache.set(cache_key, encode_entry(-ask.line, attempt, text, None, judge.url))  # paid for: stored first
            sent += 1
        else:
            text = decoded_body(raw)
        verdict = read_verdict(parse_completion(text), validator)
        if verdict.reasons != ["judge_invalid"]:
            return verdict, sent
    return None, sent


def decoded_body(raw: object) -> str:
    entry = decode_entry(raw)
    if entry is None:
        raise PipelineError("audit: a cache entry of a judge answer is not one this program wrote; "
                            "remove it or use another CACHE_DIR")
    return entry["body"]


def run_judge(asks, judge: FileJudge, cache, key_file: Path | None = None):
    """(ask, verdict or None, requests sent) for each ask in turn; the key is read only when something
    must be sent."""
    validator = make_validator(judge.spec.schema)
    key: list[str] = []

    def key_of() -> str | None:
        if not key:
            key.append(load_key(key_file, openrouter=judge.openrouter))
        return key[0] or None

    try:
        for ask in asks:
            verdict, sent = judge_one(ask, judge, cache, validator, key_of)
            yield ask, verdict, sent
    except FatalAPIError as err:
        raise PipelineError(f"audit: {err}") from None
