"""A small loopback fake of the chat-completions API, for tests, `make demo` and `make bench`.

It answers with made-up conversations built from the prompt (chat.py; a share leak another
model's identity, a share deny one), after an optional latency, and can mix in the faults a real
provider shows: 429, 5xx, dropped connections, errors inside HTTP 200, broken JSON, wrong roles,
extra keys, truncation, keep-alive whitespace and hung answers.
With `replay`, it answers with the lines of a real JSONL file instead (replay.py).
With `strict`, it plays a plain OpenAI-compatible server instead: served at /v1, no key wanted,
any field outside the OpenAI chat-completions request refused with a 400, no cost in the usage.
Either way it records whether an Authorization header or a non-OpenAI field ever came in.
"""
import hashlib
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from .batch import BatchFake, BatchStore, base_model, handle_batch_get, handle_batch_post
from .chat import make_conversation
from .replay import Replay, read_conversations

FAULTS = ("429", "500", "502", "503", "drop", "error200", "finish_error", "empty200", "broken_body",
          "broken_json", "wrong_roles", "extra_keys", "truncated")
PRICE_IN, PRICE_OUT = 0.30e-6, 2.50e-6  # dollars per token, like a small fast model


@dataclass
class FakeConfig:
    latency: float = 0.0
    jitter: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    key: str | None = None          # when set, any other bearer token (or none) gets 401
    retry_after: float = 1.0
    keepalive: bool = False         # send whitespace while "thinking", like OpenRouter
    hang: bool = False              # never finish an answer (to test deadlines)
    rpm: float | None = None        # answer 429 past this many requests per minute
    judge_fail_rate: float = 0.2    # share of judge requests answered "fail"
    seed: int = 0
    report_cost: bool = True        # False: answers carry no usage.cost, as OpenAI and local servers do
    deterministic: bool = False     # the same body (whatever its model slug) always gets the same answer
    batch: BatchFake = field(default_factory=BatchFake)
    leak_rate: float = 0.0          # share of conversations in which the assistant claims another identity
    denial_rate: float = 0.0        # share (drawn on its own) with a correct denial, e.g. "I am not ChatGPT"
    strict: bool = False            # a plain OpenAI-compatible server: /v1, unknown fields get 400
    replay: Replay | None = None    # answer conversation requests with these real conversations, in turn


# The request fields of OpenAI's chat completions; anything else is some server's own extension.
OPENAI_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "seed",
    "response_format", "tools", "tool_choice", "parallel_tool_calls", "stream", "stream_options",
    "reasoning_effort", "metadata", "store", "service_tier", "modalities", "prediction", "audio"})


@dataclass
class FakeStats:
    requests: int = 0
    outcomes: dict = field(default_factory=dict)
    served: dict = field(default_factory=dict)   # conversations sent, and how many held a leak or a denial
    authorization_seen: bool = False                     # any request came with an Authorization header
    foreign_fields: set = field(default_factory=set)     # request fields outside OPENAI_FIELDS ever seen
    models: dict = field(default_factory=dict)           # requests per model
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        """One chat-completions request and how it was answered."""
        with self.lock:
            self.requests += 1
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def note(self, outcome: str) -> None:
        """A call that is not a chat-completions request (the Batch API's)."""
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def add_batch_requests(self, count: int) -> None:
        with self.lock:
            self.outcomes["batch:requests"] = self.outcomes.get("batch:requests", 0) + count

    def count_served(self, leak: bool, denial: bool) -> None:
        with self.lock:
            for name, happened in (("conversations", True), ("leaks", leak), ("denials", denial)):
                self.served[name] = self.served.get(name, 0) + happened

    def record(self, headers, body: object) -> None:
        with self.lock:
            self.authorization_seen |= "Authorization" in headers
            if isinstance(body, dict):
                self.foreign_fields |= set(body) - OPENAI_FIELDS
                model = str(body.get("model"))
                self.models[model] = self.models.get(model, 0) + 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "outcomes": dict(self.outcomes), "served": dict(self.served),
                    "authorization_seen": self.authorization_seen, "foreign_fields": sorted(self.foreign_fields),
                    "models": dict(self.models)}


def plain_completion(data: dict) -> dict:
    """What a plain OpenAI-compatible server sends: no provider, no cost."""
    data = {key: value for key, value in data.items() if key != "provider"}
    if isinstance(data.get("usage"), dict):
        data["usage"] = {key: value for key, value in data["usage"].items() if key != "cost"}
    return data


CACHE_BLOCK_CHARS = 4096     # 1,024 tokens of ~4 characters: the smallest prefix a provider caches
CACHED_SHARE = 0.25          # a cached prompt token costs a quarter of an input token
# Thinking tokens drawn per answer by the body's reasoning setting (a dynamic budget when none is sent).
THINKING = {"default": (300, 1500), "low": (100, 600), "medium": (300, 1500), "high": (800, 3000)}


def reasoning_tokens(body: dict, rng: random.Random) -> int:
    """The model thinks unless the body turns it off (effort none, enabled false or a 0 budget)."""
    setting = body.get("reasoning")
    if not isinstance(setting, dict):
        return rng.randint(*THINKING["default"])
    if setting.get("enabled") is False or setting.get("effort") == "none" or setting.get("max_tokens") == 0:
        return 0
    drawn = rng.randint(*THINKING.get(str(setting.get("effort", "default")), THINKING["default"]))
    return min(drawn, int(setting["max_tokens"])) if isinstance(setting.get("max_tokens"), int) else drawn


@dataclass(frozen=True)
class Tokens:
    prompt: int
    cached: int
    completion: int
    reasoning: int

    def cost(self, share: float = 1.0) -> float:
        fresh = self.prompt - self.cached
        return round(share * ((fresh + CACHED_SHARE * self.cached) * PRICE_IN + self.completion * PRICE_OUT), 10)


def completion(content: str, tokens: Tokens, finish: str = "stop", cost: float | None = None) -> dict:
    """A chat.completion; `cost` None leaves usage.cost out, as OpenAI and batch results do."""
    usage = {"prompt_tokens": tokens.prompt, "completion_tokens": tokens.completion,
             "total_tokens": tokens.prompt + tokens.completion,
             "prompt_tokens_details": {"cached_tokens": tokens.cached},
             "completion_tokens_details": {"reasoning_tokens": tokens.reasoning}}
    if cost is not None:
        usage["cost"] = cost
    return {"id": "gen-fake", "object": "chat.completion", "model": "fake/model", "provider": "Fake",
            "choices": [{"index": 0, "finish_reason": finish, "native_finish_reason": finish,
                         "message": {"role": "assistant", "content": content}}],
            "usage": usage}


def answer_content(server: "FakeServer", body: dict, fault: str | None, prompt: str,
                   rng: random.Random) -> tuple[str, str]:
    """Content and finish reason: a conversation, or a judge's verdict; a content fault spoils either."""
    config = server.config
    if is_judge_request(body):
        if fault in CONTENT_FAULTS:
            return '{"verdict": "pa', "stop"
        return judge_content(prompt, config.judge_fail_rate, rng), "stop"
    if config.replay is not None:
        return faulty_content(fault or "", config.replay.next())
    drawn = make_conversation(prompt, rng, config.leak_rate, config.denial_rate)
    if not fault:
        server.stats.count_served(drawn.leak, drawn.denial)
    return faulty_content(fault or "", drawn.messages)


def make_answer(server: "FakeServer", body: dict, fault: str | None, rng: random.Random, share: float = 1.0,
                priced: bool = True) -> str:
    """The body text of a 200 answer to this request, spoilt by the fault if one is given.
    `share` scales the price (a batch's discount); `priced` False leaves usage.cost out."""
    if fault == "empty200":
        return ""
    if fault == "error200":
        return json.dumps({"error": {"code": 502, "message": "Provider returned error"}})
    prompt = str(body["messages"][-1].get("content", ""))
    if fault == "finish_error":
        tokens = server.tokens(body, prompt, "", None)
        data = completion("", tokens, "error", tokens.cost(share) if priced else None)
        data["choices"][0]["error"] = {"code": 502, "message": "upstream failed"}
        return json.dumps(data)
    content, finish = answer_content(server, body, fault, prompt, rng)
    tokens = server.tokens(body, prompt, content, rng)
    text = json.dumps(completion(content, tokens, finish, tokens.cost(share) if priced else None))
    return text[: len(text) // 2] if fault == "broken_body" else text


def faulty_content(kind: str, messages: list[dict]) -> tuple[str, str]:
    """Content and finish reason for the faults that arrive as a well-formed completion."""
    if kind == "broken_json":
        return json.dumps({"messages": messages})[:-7], "stop"
    if kind == "wrong_roles":
        return json.dumps({"messages": [{"role": "assistant", "content": "Hello."}] + messages}), "stop"
    if kind == "extra_keys":
        return json.dumps({"messages": [dict(m, mood="cheerful") for m in messages]}), "stop"
    if kind == "truncated":
        return json.dumps({"messages": messages})[:40], "length"
    return json.dumps({"messages": messages}), "stop"


JUDGE_KINDS = ("other_identity", "invented_fact", "contradicts_identity", "wrong_language", "unnatural")
CONTENT_FAULTS = ("broken_json", "wrong_roles", "extra_keys", "truncated")


def is_judge_request(body: dict) -> bool:
    """Judge requests are told apart by the name of their response schema."""
    try:
        return body["response_format"]["json_schema"]["name"] == "judge_verdict"
    except (KeyError, TypeError):
        return False


def judge_content(prompt: str, fail_rate: float, rng: random.Random) -> str:
    """A verdict on the conversation quoted in a judge prompt: a pass, or a fail quoting it."""
    if rng.random() >= fail_rate:
        return json.dumps({"verdict": "pass", "problems": []})
    quotes = re.findall(r'"content": "([^"]{8,60})', prompt) or ["(no quote)"]
    problem = {"kind": rng.choice(JUDGE_KINDS), "quote": rng.choice(quotes)}
    return json.dumps({"verdict": "fail", "problems": [problem]})


PARAMETERS = ["max_tokens", "temperature", "top_p", "seed", "stop", "response_format", "structured_outputs"]


def model_entry(model: str, share: float = 1.0, reasoning: bool = True) -> dict:
    pricing = {"prompt": f"{PRICE_IN * share:.12f}", "completion": f"{PRICE_OUT * share:.12f}",
               "input_cache_read": f"{PRICE_IN * share * CACHED_SHARE:.12f}"}
    return {"id": model, "context_length": 1048576, "pricing": pricing,
            "supported_parameters": PARAMETERS + (["reasoning", "include_reasoning"] if reasoning else [])}


def models_data() -> list[dict]:
    """The models list: a thinking model at the listed Gemini 2.5 Flash prices, its half-price
    :batch variant, and a model that supports no reasoning parameter."""
    return [model_entry("google/gemini-2.5-flash"), model_entry("google/gemini-2.5-flash:batch", 0.5),
            model_entry("fake/model"), model_entry("fake/model:batch", 0.5),
            model_entry("fake/no-reasoning", reasoning=False)]


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Hundreds of clients connect at once in `make bench`: with the default backlog of 5 the
    # kernel drops or resets their connections, which a real API's front end would not.
    request_queue_size = 1024

    def __init__(self, config: FakeConfig, port: int = 0):
        super().__init__(("127.0.0.1", port), FakeHandler)
        self.config = config
        self.stats = FakeStats()
        self.rng = random.Random(config.seed)
        self.rng_lock = threading.Lock()
        self.bucket, self.refilled = self.burst, time.monotonic()
        self.cached_prefixes: set[bytes] = set()
        self.batches = BatchStore()

    def answer_rng(self, body: dict) -> random.Random:
        """Seeded by the body (its model slug aside), plus chance unless answers are deterministic."""
        same = dict(body, model=base_model(str(body.get("model", ""))))
        digest = hashlib.sha256(json.dumps(same, sort_keys=True).encode()).digest()
        chance = 0 if self.config.deterministic else random.getrandbits(32)
        return random.Random(int.from_bytes(digest[:8], "big") ^ chance)

    def cached_tokens(self, prompt: str) -> int:
        """Like implicit prompt caching: the longest whole-block prefix of this prompt seen before."""
        blocks = [hashlib.sha256(prompt[:end].encode()).digest()
                  for end in range(CACHE_BLOCK_CHARS, len(prompt) + 1, CACHE_BLOCK_CHARS)]
        with self.rng_lock:
            seen = next((n for n in range(len(blocks), 0, -1) if blocks[n - 1] in self.cached_prefixes), 0)
            self.cached_prefixes.update(blocks)
        return seen * CACHE_BLOCK_CHARS // 4

    def batch_answer(self, body: dict, share: float) -> str:
        """A batch request's answer: content faults spoil it as in sync mode; transport faults do not
        happen inside a batch (its per-request errors are drawn separately)."""
        fault = self.draw_fault()
        return make_answer(self, body, fault if fault in CONTENT_FAULTS else None, self.answer_rng(body), share)

    def tokens(self, body: dict, prompt: str, content: str, rng: random.Random | None) -> Tokens:
        thinking = reasoning_tokens(body, rng) if rng is not None and not self.config.strict else 0
        return Tokens(len(prompt) // 4, self.cached_tokens(prompt), len(content) // 4 + thinking, thinking)

    def handle_error(self, request, client_address) -> None:
        """A client that hung up mid-answer (a deadline, Ctrl-C) is normal here, not worth a traceback."""

    @property
    def base_url(self) -> str:
        root = "/v1" if self.config.strict else "/api/v1"
        return f"http://127.0.0.1:{self.server_address[1]}{root}"

    def draw_fault(self) -> str | None:
        with self.rng_lock:
            if self.rng.random() < self.config.fault_rate:
                return self.rng.choice(self.config.faults)
        return None

    @property
    def burst(self) -> float:
        """A token bucket holding one second of the allowed rate, like most providers' limiters."""
        return max(1.0, (self.config.rpm or 0) / 60.0)

    def over_rate(self) -> bool:
        if not self.config.rpm:
            return False
        with self.rng_lock:
            now = time.monotonic()
            self.bucket = min(self.burst, self.bucket + (now - self.refilled) * self.config.rpm / 60.0)
            self.refilled = now
            if self.bucket < 1.0:
                return True
            self.bucket -= 1.0
            return False


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes; Nagle would hold the body ~40 ms
    server: FakeServer

    def log_message(self, *args) -> None:
        pass

    def send_json(self, status: int, data: object, headers: dict | None = None) -> None:
        self.send_text(status, json.dumps(data), headers)

    def send_text(self, status: int, text: str, headers: dict | None = None) -> None:
        payload = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_error_json(self, status: int, message: str, headers: dict | None = None) -> None:
        self.send_json(status, {"error": {"code": status, "message": message}}, headers)

    def do_GET(self) -> None:
        if "/batches" in self.path:
            handle_batch_get(self)
        elif self.path.endswith("/stats"):
            self.send_json(200, self.server.stats.snapshot() | {"batches_billed": round(self.server.batches.billed(), 10)})
        elif self.path.endswith("/models") and self.served_path():
            self.send_json(200, {"data": models_data()})
        else:
            self.send_error_json(404, "not found")

    def read_request(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            return None

    def authorized(self) -> bool:
        """Without a configured key anything goes, no header included; with one, only that bearer token."""
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return self.server.config.key in (None, token)

    def served_path(self) -> bool:
        """A plain server answers under /v1 only, so a wrong BASE_URL gets the 404 it would get there."""
        return not self.server.config.strict or self.path.startswith("/v1/")

    def refused_field(self, body: dict) -> str | None:
        """In strict mode, the first field an OpenAI-compatible server would not know."""
        unknown = sorted(set(body) - OPENAI_FIELDS)
        return unknown[0] if self.server.config.strict and unknown else None

    def do_POST(self) -> None:
        if self.path.endswith("/batches"):
            return handle_batch_post(self)
        body = self.read_request()
        config = self.server.config
        if not self.path.endswith("/chat/completions") or not self.served_path():
            return self.send_error_json(404, "not found")
        self.server.stats.record(self.headers, body)
        if not self.authorized():
            self.server.stats.count("401")
            return self.send_error_json(401, "User not found.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            self.server.stats.count("400")
            return self.send_error_json(400, "Invalid request body")
        if (refused := self.refused_field(body)) is not None:
            self.server.stats.count("400")
            return self.send_json(400, {"error": {"message": f"Unrecognized request argument supplied: {refused}",
                                                  "type": "invalid_request_error", "param": None, "code": None}})
        if self.server.over_rate():
            self.server.stats.count("rate_limited")
            return self.send_error_json(429, "Rate limit exceeded", {"Retry-After": f"{config.retry_after:g}"})
        self.answer(body, self.server.draw_fault())

    def answer(self, body: dict, fault: str | None) -> None:
        config = self.server.config
        self.server.stats.count(fault or ("hang" if config.hang else "ok"))
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("429", "500", "502", "503"):
            time.sleep(config.latency * 0.1)
            headers = {"Retry-After": f"{config.retry_after:g}"} if fault == "429" else None
            return self.send_error_json(int(fault), f"fake fault {fault}", headers)
        priced = config.report_cost and not config.strict
        text = make_answer(self.server, body, fault, self.server.answer_rng(body), priced=priced)
        self.stream_after_latency(self.plain(text) if config.strict else text)

    @staticmethod
    def plain(text: str) -> str:
        """A completion as a plain server sends it; broken bodies stay as they are."""
        try:
            data = json.loads(text)
        except ValueError:
            return text
        return json.dumps(plain_completion(data)) if isinstance(data, dict) and "choices" in data else text

    def delay(self) -> float:
        config = self.server.config
        return max(0.0, config.latency + random.uniform(-config.jitter, config.jitter))

    def stream_after_latency(self, text: str) -> None:
        """Plain answers wait then send; keep-alive answers send whitespace while waiting."""
        config = self.server.config
        if not (config.keepalive or config.hang):
            time.sleep(self.delay())
            return self.send_text(200, text)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + self.delay()
        try:
            while config.hang or time.monotonic() < deadline:
                self.wfile.write(b"\n")
                self.wfile.flush()
                time.sleep(0.2)
            self.wfile.write(text.encode("utf-8"))
        except OSError:
            pass  # the client gave up


def replay_of(path: Path | None) -> Replay | None:
    if path is None:
        return None
    try:
        return Replay(read_conversations(path))
    except (ValueError, UnicodeDecodeError) as err:
        raise click.BadParameter(f"{path}: {err}; give a JSONL file of conversations", param_hint="--replay")


def start_fake(config: FakeConfig, port: int = 0) -> FakeServer:
    """Serve in a background thread; call .shutdown() and .server_close() when done."""
    server = FakeServer(config, port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


@click.command("fakeapi")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Loopback port (0 picks one).")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds per answer.")
@click.option("--jitter", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Random +/- seconds on latency.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="Share of faulty answers.")
@click.option("--faults", default=",".join(FAULTS), show_default=True, help="Comma-separated fault kinds to mix.")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True), default=None, help="Answer 429 past this rate.")
@click.option("--keepalive/--no-keepalive", default=False, help="Send whitespace before the JSON while waiting.")
@click.option("--key", default=None, help="Accept only this bearer token (others get 401).")
@click.option("--cost/--no-cost", default=True, show_default=True,
              help="Report usage.cost in answers and on batches (--no-cost: like OpenAI or a local server).")
@click.option("--batch-delay", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds from a batch's creation to its end.")
@click.option("--batch-results", type=click.Choice(["inline", "paged", "both"]), default="both", show_default=True,
              help="Where a finished batch's results are read.")
@click.option("--batch-slugs", type=click.Choice(["any", "batch_only", "base_only"]), default="batch_only",
              show_default=True, help="Which model slugs a batch create accepts.")
@click.option("--batch-error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of batch requests ending as per-request errors.")
@click.option("--leak-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of conversations whose assistant claims another model's identity.")
@click.option("--denial-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of conversations with a correct denial such as 'I am not ChatGPT'.")
@click.option("--deterministic/--random", default=False, show_default=True,
              help="Answer the same request body (in sync or batch mode) with the same conversation.")
@click.option("--strict/--no-strict", default=False,
              help="Play a plain OpenAI-compatible server at /v1: unknown request fields get 400, no cost reported.")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Answer with the conversations of this JSONL file (.gz too), one per request, in turn.")
def fakeapi_command(port, latency, jitter, fault_rate, faults, rpm, keepalive, key, cost, batch_delay, batch_results,
                    batch_slugs, batch_error_rate, leak_rate, denial_rate, deterministic, strict, replay):
    """Run the loopback fake API (chat completions, models list, Batch API) until Ctrl-C; prints its BASE_URL.

    Example: python -m stages fakeapi --port 8765 --latency 0.5 --fault-rate 0.4 --leak-rate 0.25 --denial-rate 0.2
    """
    kinds = tuple(kind.strip() for kind in faults.split(",") if kind.strip())
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {unknown}; choose from {', '.join(FAULTS)}", param_hint="--faults")
    batch = BatchFake(delay=batch_delay, results=batch_results, slugs=batch_slugs, error_rate=batch_error_rate,
                      report_cost=cost)
    config = FakeConfig(latency, jitter, fault_rate, kinds, key, keepalive=keepalive, rpm=rpm, report_cost=cost,
                        batch=batch, leak_rate=leak_rate, denial_rate=denial_rate, deterministic=deterministic,
                        strict=strict, replay=replay_of(replay))
    server = FakeServer(config, port)
    click.echo(server.base_url, nl=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
