"""The fake API's Batch endpoints: create, poll, paged results and the list, with the ways a real
batch goes wrong (a rejected model slug, per-request errors, a failed or expired batch, results
withheld for credits, a create whose answer is lost).

A batch is `validating` for a tenth of its delay, `in_progress` until the delay has passed, then
terminal; its answers are made once, when it is first seen terminal, at half the sync price.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

BATCH_SUFFIX = ":batch"
BATCH_SHARE = 0.5          # a batch costs half the sync price
ENDPOINT = "/v1/chat/completions"
MAX_CUSTOM_ID = 64
WITHHELD = "add credits to unlock the already-computed results; the batch is not re-run"


@dataclass
class BatchFake:
    delay: float = 1.0              # seconds from create to a terminal status
    results: str = "both"           # "inline" (on the batch), "paged" (/results) or "both"
    page_size: int = 1000           # most results per page, whatever `limit` asks
    slugs: str = "any"              # "batch_only" rejects base slugs, "base_only" rejects :batch slugs
    reject_at: str = "create"       # a rejected slug: 400 on create, or "validation" (202, then failed)
    error_rate: float = 0.0         # share of requests ending as per-request errors
    fail_batches: int = 0           # the next n accepted batches end failed (after running)
    expire_batches: int = 0         # the next n end expired, with results for half of their requests
    withhold: bool = False          # terminal batches answer 402 until this is set back to False
    lose_creates: int = 0           # the next n creates are stored but their answer is never sent
    create_errors: list[int] = field(default_factory=list)  # statuses for the next creates, in order
    max_requests: int | None = None  # creates with more requests answer 413
    report_cost: bool = True        # the batch's usage.cost
    order: str = "shuffled"         # results "submitted" in request order, "reversed" or "shuffled" (no order
                                    # is promised by OpenAI-style batches)
    bill_share: float = 1.0         # the bill over the listed price of its answers (a provider's own discount)


def base_model(model: str) -> str:
    return model.removesuffix(BATCH_SUFFIX)


@dataclass
class FakeBatch:
    id: str
    model: str
    requests: list[dict]
    created: float                  # wall clock, for created_at
    started: float                  # monotonic clock, for the status
    delay: float
    rejection: str = ""             # a validation failure
    ending: str = "completed"       # or "failed", "expired"
    results: list[dict] | None = None
    usage: dict | None = None
    cost: float = 0.0               # what the batch was billed, reported or not

    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        if elapsed < self.delay * 0.1:
            return "validating"
        if self.rejection:
            return "failed"
        return "in_progress" if elapsed < self.delay else self.ending

    def counts(self) -> dict:
        done = self.results or []
        failed = sum("error" in r for r in done)
        return {"total": len(self.requests), "completed": len(done) - failed, "failed": failed}

    def describe(self, inline: bool) -> dict:
        status = self.status()
        terminal = status in ("completed", "failed", "expired")
        started = None if self.rejection or status == "validating" else int(self.created)
        return {"id": self.id, "object": "batch", "endpoint": ENDPOINT, "model": self.model, "status": status,
                "created_at": int(self.created), "in_progress_at": started,
                "expires_at": int(self.created) + 24 * 3600, "request_counts": self.counts(),
                "usage": self.usage if terminal else None,
                "results": self.results if terminal and inline and self.results is not None else None,
                "error": {"message": self.rejection or "batch failed"} if status == "failed" else None}


class BatchStore:
    """Every batch made on this server, and the countdowns of the scripted mishaps."""

    def __init__(self):
        self.batches: dict[str, FakeBatch] = {}
        self.lock = threading.Lock()

    def add(self, batch: FakeBatch) -> None:
        with self.lock:
            self.batches[batch.id] = batch

    def get(self, batch_id: str) -> FakeBatch | None:
        with self.lock:
            return self.batches.get(batch_id)

    def newest_first(self) -> list[FakeBatch]:
        with self.lock:
            return sorted(self.batches.values(), key=lambda b: b.started, reverse=True)

    def billed(self) -> float:
        """What every finished batch has cost: the sum a client must count, once each."""
        with self.lock:
            return sum(b.cost for b in self.batches.values() if b.results is not None)


def slug_rejection(model: str, mode: str) -> str:
    if mode == "batch_only" and not model.endswith(BATCH_SUFFIX):
        return f"model {model} is not available through the Batch API; use {model}{BATCH_SUFFIX}"
    if mode == "base_only" and model.endswith(BATCH_SUFFIX):
        return f"unknown model {model}"
    return ""


def request_problem(order: list[str], data: dict) -> str:
    """Why a create is malformed (answered 400 at once), or ''."""
    if "requests" in order and any(name not in order[:order.index("requests")] for name in ("endpoint", "model")):
        return "'endpoint' and 'model' must come before 'requests'"
    requests = data.get("requests")
    if not isinstance(requests, list) or not requests:
        return "requests must be a non-empty list"
    ids = [r.get("custom_id") if isinstance(r, dict) else None for r in requests]
    if any(not isinstance(i, str) or not i or len(i) > MAX_CUSTOM_ID for i in ids) or len(set(ids)) != len(ids):
        return f"every request needs a unique custom_id of at most {MAX_CUSTOM_ID} characters"
    if any(not isinstance(r.get("body"), dict) for r in requests):
        return "every request needs a body"
    return ""


def validation_failure(model: str, requests: list[dict]) -> str:
    """Why an accepted batch will end failed after validating, or ''."""
    if any(r["body"].get("model") != model for r in requests):
        return "the model of every request body must be the batch model"
    formats = {json.dumps(r["body"].get("response_format"), sort_keys=True) for r in requests}
    if model.startswith("google/") and len(formats) > 1:
        return "all requests of a batch on a Google model must share one response_format"
    if any(not isinstance(r["body"].get("messages"), list) or not r["body"]["messages"] for r in requests):
        return "every request body needs messages"
    return ""


def take(config: BatchFake, name: str) -> bool:
    """Count down one scripted mishap; True while some are left."""
    left = getattr(config, name)
    if left > 0:
        setattr(config, name, left - 1)
        return True
    return False


def handle_batch_post(handler) -> None:
    """POST /batches: 202 with the new batch, or an error; a scripted loss stores it and says nothing."""
    server, config = handler.server, handler.server.config.batch
    server.stats.note("batch:create")
    raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    if not handler.authorized():
        return handler.send_error_json(401, "User not found.")
    if config.create_errors:
        status = config.create_errors.pop(0)
        return handler.send_error_json(status, f"fake create error {status}")
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return handler.send_error_json(400, "the body must be a JSON object")
    problem = request_problem(list(data), data) or (
        "endpoint must be " + ENDPOINT if data.get("endpoint") != ENDPOINT else "")
    if problem:
        return handler.send_error_json(400, problem)
    model = str(data.get("model", ""))
    if config.max_requests is not None and len(data["requests"]) > config.max_requests:
        return handler.send_error_json(413, f"at most {config.max_requests} requests per batch")
    rejection = slug_rejection(model, config.slugs)
    if rejection and config.reject_at == "create":
        return handler.send_error_json(400, rejection)
    batch = new_batch(server, model, data["requests"], rejection or validation_failure(model, data["requests"]))
    server.batches.add(batch)
    server.stats.add_batch_requests(len(batch.requests))
    if take(config, "lose_creates"):
        handler.close_connection = True  # stored, billed later, and the client never hears of it
        return
    handler.send_json(202, batch.describe(inline=False))


def new_batch(server, model: str, requests: list[dict], rejection: str) -> FakeBatch:
    config = server.config.batch
    ending = "completed"
    if not rejection and take(config, "fail_batches"):
        ending = "failed"
    elif not rejection and take(config, "expire_batches"):
        ending = "expired"
    number = len(server.batches.batches) + 1
    return FakeBatch(f"batch_fake_{number:05d}", model, requests, time.time(), time.monotonic(), config.delay,
                     rejection, ending)


def finish(server, batch: FakeBatch) -> None:
    """Make the answers of a batch seen terminal for the first time (none for a failed one)."""
    with server.batches.lock:
        if batch.results is not None or batch.status() not in ("completed", "failed", "expired"):
            return
        done = [] if batch.status() == "failed" else batch.requests
        if batch.status() == "expired":
            done = done[: len(done) // 2]
        batch.results = ordered(server, [result_of(server, request) for request in done])
        batch.usage = batch_usage(batch.results, server.config.batch.report_cost)
        batch.cost = sum(r.pop("_cost", 0.0) for r in batch.results) * server.config.batch.bill_share
        if batch.usage is not None and "cost" in batch.usage:
            batch.usage["cost"] = round(batch.cost, 10)


def ordered(server, results: list[dict]) -> list[dict]:
    """The results in the order the config names (drawn from the server's seeded chance)."""
    order = server.config.batch.order
    if order == "reversed":
        return results[::-1]
    if order == "shuffled":
        with server.rng_lock:
            server.rng.shuffle(results)
    return results


def result_of(server, request: dict) -> dict:
    """One result: a per-request error, or a completion with tokens and no cost (the batch has it)."""
    custom_id, body = request["custom_id"], request["body"]
    with server.rng_lock:
        failed = server.rng.random() < server.config.batch.error_rate
    if failed:
        return {"custom_id": custom_id, "error": {"message": "the provider failed this request",
                                                  "type": "server_error"}}
    answer = json.loads(server.batch_answer(body, BATCH_SHARE))
    cost = answer["usage"].pop("cost", 0.0)
    return {"custom_id": custom_id, "_cost": cost,
            "response": {"status_code": 200, "request_id": f"req_{custom_id}", "body": answer}}


def batch_usage(results: list[dict], report_cost: bool) -> dict:
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for result in results:
        tokens = result.get("response", {}).get("body", {}).get("usage", {})
        for name in usage:
            usage[name] += int(tokens.get(name) or 0)
    if report_cost:
        usage["cost"] = 0.0
    return usage


def handle_batch_get(handler) -> None:
    """GET /batches, /batches/{id} and /batches/{id}/results?limit=&cursor=."""
    server = handler.server
    if not handler.authorized():
        return handler.send_error_json(401, "User not found.")
    url = urlsplit(handler.path)
    parts = url.path.rstrip("/").split("/")
    where = parts.index("batches")
    tail = parts[where + 1:]
    if not tail:
        server.stats.note("batch:list")
        listed = [b.describe(inline=False) for b in server.batches.newest_first()]
        return handler.send_json(200, {"object": "list", "data": listed, "has_more": False})
    batch = server.batches.get(tail[0])
    if batch is None or len(tail) > 2 or (len(tail) == 2 and tail[1] != "results"):
        return handler.send_error_json(404, "batch not found")
    finish(server, batch)
    server.stats.note("batch:poll" if len(tail) == 1 else "batch:results")
    config = server.config.batch
    if config.withhold and batch.results is not None:
        return handler.send_json(402, {"error": {"code": 402, "message": WITHHELD}, "results": None})
    if len(tail) == 1:
        return handler.send_json(200, batch.describe(inline=config.results in ("inline", "both")))
    if config.results == "inline":
        return handler.send_error_json(404, "not found")
    handler.send_json(200, results_page(batch, parse_qs(url.query), config.page_size))


def results_page(batch: FakeBatch, query: dict, page_size: int) -> dict:
    results = batch.results or []
    start = int((query.get("cursor") or ["0"])[0] or 0)
    limit = min(int((query.get("limit") or ["100"])[0]), page_size, 1000)
    page = results[start:start + limit]
    more = start + limit < len(results)
    return {"object": "list", "data": page, "has_more": more, "next_cursor": str(start + limit) if more else None}
