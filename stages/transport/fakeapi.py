"""A small loopback fake of the chat-completions API, for tests, `make demo` and `make bench`.

It answers with made-up conversations built from the prompt (fakechat.py; a share leak another
model's identity, a share deny one), after an optional latency, and can mix in the faults a real
provider shows: 429, 5xx, dropped connections, errors inside HTTP 200, broken JSON, wrong roles,
extra keys, truncation, keep-alive whitespace and hung answers.
"""
import hashlib
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import click

from .fakechat import make_conversation

FAULTS = ("429", "500", "502", "503", "drop", "error200", "finish_error", "empty200", "broken_body",
          "broken_json", "wrong_roles", "extra_keys", "truncated")
PRICE_IN, PRICE_OUT = 0.30e-6, 2.50e-6  # dollars per token, like a small fast model

@dataclass
class FakeConfig:
    latency: float = 0.0
    jitter: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    key: str | None = None          # when set, any other bearer token gets 401
    retry_after: float = 1.0
    keepalive: bool = False         # send whitespace while "thinking", like OpenRouter
    hang: bool = False              # never finish an answer (to test deadlines)
    rpm: float | None = None        # answer 429 past this many requests per minute
    judge_fail_rate: float = 0.2    # share of judge requests answered "fail"
    seed: int = 0
    leak_rate: float = 0.0          # share of conversations in which the assistant claims another identity
    denial_rate: float = 0.0        # share (drawn on its own) with a correct denial, e.g. "I am not ChatGPT"


@dataclass
class FakeStats:
    requests: int = 0
    outcomes: dict = field(default_factory=dict)
    served: dict = field(default_factory=dict)   # conversations sent, and how many held a leak or a denial
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.requests += 1
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def count_served(self, leak: bool, denial: bool) -> None:
        with self.lock:
            for name, happened in (("conversations", True), ("leaks", leak), ("denials", denial)):
                self.served[name] = self.served.get(name, 0) + happened


def completion(content: str, prompt: str, finish: str = "stop") -> dict:
    prompt_tokens, completion_tokens = len(prompt) // 4, len(content) // 4
    return {"id": "gen-fake", "object": "chat.completion", "model": "fake/model", "provider": "Fake",
            "choices": [{"index": 0, "finish_reason": finish, "native_finish_reason": finish,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "cost": round(prompt_tokens * PRICE_IN + completion_tokens * PRICE_OUT, 8)}}


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


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: FakeConfig, port: int = 0):
        super().__init__(("127.0.0.1", port), FakeHandler)
        self.config = config
        self.stats = FakeStats()
        self.rng = random.Random(config.seed)
        self.rng_lock = threading.Lock()
        self.tokens, self.refilled = self.burst, time.monotonic()

    def handle_error(self, request, client_address) -> None:
        """A client that hung up mid-answer (a deadline, Ctrl-C) is normal here, not worth a traceback."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1"

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
            self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.config.rpm / 60.0)
            self.refilled = now
            if self.tokens < 1.0:
                return True
            self.tokens -= 1.0
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
        if self.path.endswith("/stats"):
            stats = self.server.stats
            with stats.lock:
                self.send_json(200, {"requests": stats.requests, "outcomes": dict(stats.outcomes),
                                     "served": dict(stats.served)})
        elif self.path.endswith("/models"):
            pricing = {"prompt": f"{PRICE_IN:.10f}", "completion": f"{PRICE_OUT:.10f}"}
            self.send_json(200, {"data": [{"id": "google/gemini-2.5-flash", "context_length": 1048576,
                                           "pricing": pricing}, {"id": "fake/model", "pricing": pricing}]})
        else:
            self.send_error_json(404, "not found")

    def read_request(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            return None

    def authorized(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return bool(token) and self.server.config.key in (None, token)

    def do_POST(self) -> None:
        body = self.read_request()
        config = self.server.config
        if not self.path.endswith("/chat/completions"):
            return self.send_error_json(404, "not found")
        if not self.authorized():
            self.server.stats.count("401")
            return self.send_error_json(401, "User not found.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            self.server.stats.count("400")
            return self.send_error_json(400, "Invalid request body")
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
        prompt = str(body["messages"][-1].get("content", ""))
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big") ^ random.getrandbits(32))
        if is_judge_request(body):
            text = self.judge_text(fault, prompt, rng)
        else:
            text = self.answer_text(fault, prompt, rng)
        self.stream_after_latency(text)

    def judge_text(self, fault: str | None, prompt: str, rng: random.Random) -> str:
        """Transport faults as for any request; a content fault makes the verdict unreadable."""
        if fault in CONTENT_FAULTS:
            return json.dumps(completion('{"verdict": "pa', prompt, "stop"))
        if fault is not None:
            return self.answer_text(fault, prompt, rng)
        return json.dumps(completion(judge_content(prompt, self.server.config.judge_fail_rate, rng), prompt))

    def answer_text(self, fault: str | None, prompt: str, rng: random.Random) -> str:
        if fault == "empty200":
            return ""
        if fault == "error200":
            return json.dumps({"error": {"code": 502, "message": "Provider returned error"}})
        config = self.server.config
        drawn = make_conversation(prompt, rng, config.leak_rate, config.denial_rate)
        messages = drawn.messages
        if not fault:
            self.server.stats.count_served(drawn.leak, drawn.denial)
        if fault == "finish_error":
            data = completion("", prompt, "error")
            data["choices"][0]["error"] = {"code": 502, "message": "upstream failed"}
            return json.dumps(data)
        content, finish = faulty_content(fault or "", messages)
        text = json.dumps(completion(content, prompt, finish))
        return text[: len(text) // 2] if fault == "broken_body" else text

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
@click.option("--leak-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of conversations whose assistant claims another model's identity.")
@click.option("--denial-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of conversations with a correct denial such as 'I am not ChatGPT'.")
def fakeapi_command(port, latency, jitter, fault_rate, faults, rpm, keepalive, key, leak_rate, denial_rate):
    """Run the loopback fake API until Ctrl-C; prints its BASE_URL on stdout.

    Example: python -m stages fakeapi --port 8765 --latency 0.5 --fault-rate 0.4 --leak-rate 0.25 --denial-rate 0.2
    """
    kinds = tuple(kind.strip() for kind in faults.split(",") if kind.strip())
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {unknown}; choose from {', '.join(FAULTS)}", param_hint="--faults")
    config = FakeConfig(latency, jitter, fault_rate, kinds, key, keepalive=keepalive, rpm=rpm,
                        leak_rate=leak_rate, denial_rate=denial_rate)
    server = FakeServer(config, port)
    click.echo(server.base_url, nl=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
