"""The batch transport (BATCH=1): the requests fetch wants answered travel through the Batch API.

In rounds: every open seed's next request (from the planner) that no open batch covers goes into
batches of one model and one response format, at most BATCH_SIZE each; they are polled with a
growing interval; each result is stored by the planner under the sync cache key and judged as in
sync mode; what is still missing goes into the next round. A batch is recorded in the cache
(ledger) the moment it is accepted, so a later run resumes it instead of paying twice.
"""
import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

from ..errors import FatalAPIError, PipelineError
from .answers import TransientAnswer, Usage, parse_completion, usage_of
from .ask import Ask
from .batchapi import BatchAPI, BatchState, CreateLost, ResultsWithheld
from .budget import Budget, BudgetReached
from .ledger import BatchRecord, Covered, Ledger
from .models import base_slug, batch_slug
from .prices import ASSUMED_OUTPUT_TOKENS, Prices, attribute, request_estimate
from .tally import Tally

ROUND_RETRIES = 5      # per-request errors of one request in a run before its seed waits for the next run
CREATE_RETRIES = 5     # transient failures of one create (429, 5xx, refused) before the run stops
SLUG_STATUSES = (400, 404, 422)   # how a create refuses a model slug
LOST_WINDOW = (-120.0, 900.0)     # seconds around a lost create in which a listed batch may be it
MEASURED_ANSWERS = 20  # answers of this run from which their average length replaces the assumed one
POLL_FIRST = 5.0       # seconds before the first poll; grows 1.5x while nothing changes ...
POLL_CAP = 60.0        # ... up to this


class BatchStop(PipelineError):
    """The run stops with one line: a create's answer was lost, a batch was rejected, results are withheld."""


@dataclass(frozen=True)
class BatchSettings:
    size: int = 1000          # BATCH_SIZE
    wait: bool = True         # BATCH_WAIT: False submits and returns
    poll_first: float | None = None   # None: POLL_FIRST
    poll_cap: float | None = None     # None: POLL_CAP
    backoff: float = 1.0      # first wait after a transient create failure; doubles


@dataclass
class BatchProgress:
    resumed: int = 0          # batches of earlier runs found open and awaited
    created: int = 0          # batches this run submitted
    sent: int = 0             # requests in them
    settled: int = 0          # results read (answers and per-request errors)
    errors: int = 0           # per-request errors
    collected: Counter = field(default_factory=Counter)   # batches finished in this run, by status
    waiting: bool = False     # returned with batches open (BATCH_WAIT=0)
    budget_stop: BudgetReached | None = None


def custom_id(ask) -> str:
    return f"s{ask.seed}-{ask.kind[0]}{ask.attempt}"


def group_key(body: dict) -> tuple[str, str]:
    """One model and one response format per batch (Google models insist on the latter)."""
    return body["model"], json.dumps(body.get("response_format"), sort_keys=True)


def result_text(result: dict) -> tuple[str | None, str]:
    """(the answer body text, '') of a result, or (None, why it failed)."""
    response = result.get("response")
    if isinstance(response, dict) and int(response.get("status_code") or 200) == 200:
        body = response.get("body")
        if isinstance(body, dict):
            return json.dumps(body, ensure_ascii=False), ""
        if isinstance(body, str):
            return body, ""
    error = result.get("error") or (response or {}).get("body", {})
    if isinstance(error, dict) and isinstance(error.get("error"), dict):
        error = error["error"]   # a failed request's body, as OpenAI returns it: {"error": {"message": ...}}
    message = error.get("message") if isinstance(error, dict) else error
    return None, str(message or "no answer")[:80]


class BatchRun:
    """One fetch's rounds of batches over its open seeds."""

    def __init__(self, api: BatchAPI, ledger: Ledger, planner, tally: Tally, budget: Budget, prices: Prices | None,
                 settings: BatchSettings, say: Callable[[str], None], tick: Callable[[], None] = lambda: None):
        self.api, self.ledger, self.planner, self.tally, self.budget = api, ledger, planner, tally, budget
        self.prices, self.settings, self.say, self.tick = prices, settings, say, tick
        self.open: dict[str, BatchRecord] = {}
        self.pending: set[int] = set()
        self.errors: Counter = Counter()   # per-request errors by cache key, this run
        self.progress = BatchProgress()

    # -- the loop ---------------------------------------------------------------------------
    def run(self, seeds) -> BatchProgress:
        """Until every seed is settled and every batch collected; with BATCH_WAIT=0, until submitted."""
        self.pending = set(seeds)
        self.resume()
        if self.open:
            self.poll()
        self.submit_round()
        first = self.settings.poll_first or POLL_FIRST
        cap = self.settings.poll_cap or POLL_CAP
        interval = first
        while self.open:
            if not self.settings.wait:
                self.progress.waiting = True
                break
            self.sleep(interval)
            if self.poll():
                self.submit_round()
                interval = first
            else:
                interval = min(cap, interval * 1.5)
        return self.progress

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))
            self.tick()

    @property
    def covered(self) -> set[str]:
        return set().union(*(record.keys for record in self.open.values())) if self.open else set()

    # -- resuming what earlier runs submitted -------------------------------------------------
    def resume(self) -> None:
        """Batches of earlier runs are awaited, not sent again; creates whose answer was lost are
        looked up in GET /batches first."""
        records = self.ledger.open()
        unconfirmed = [record for record in records if record.unconfirmed]
        if unconfirmed:
            self.reconcile(unconfirmed)
        for record in self.ledger.open():
            self.open[record.id] = record
            self.budget.hold(record.estimate, force=True)
        self.progress.resumed = len(self.open)

    def reconcile(self, records: list[BatchRecord]) -> None:
        try:
            listed = self.api.listed()
        except (TransientAnswer, FatalAPIError) as err:
            raise BatchStop(f"a batch create of an earlier run got no answer and GET {self.api.url()} cannot be "
                            f"read to check whether it exists ({err}); run again later") from None
        known = set(self.ledger.ids())
        for record in records:
            match = next((b for b in listed if is_lost_batch(b, record) and b["id"] not in known), None)
            if match:
                known.add(match["id"])
                self.ledger.accept(record, match["id"], str(match.get("status")), "its create answer was lost; "
                                   "found in GET /batches")
                self.say(f"fetch: batch {match['id']} ({len(record.asks)} requests), whose create answer was lost, "
                         "is listed by the API: it is awaited, not sent again")
            else:
                self.ledger.write(replace(record, status="not created", collected=True,
                                          note="its create answer was lost and GET /batches does not list it"))
                self.say(f"fetch: a batch create of {len(record.asks)} requests whose answer was lost is not listed "
                         "by GET /batches: it was not created, and its requests are sent again")

    # -- submitting -----------------------------------------------------------------------------
    def next_asks(self):
        """The next request of every open seed that no open batch covers; settled seeds leave."""
        covered = self.covered
        for seed in sorted(self.pending):
            ask = self.planner.next_ask(seed)
            if ask is None:
                self.settle(seed, self.planner.outcome(seed))
            elif ask.key in covered:
                self.planner.release_body(seed)
            elif self.errors[ask.key] >= ROUND_RETRIES:
                self.planner.forget(seed)
                self.settle(seed, False)   # keeps failing inside batches: the next run tries again
            else:
                yield ask

    def settle(self, seed: int, valid: bool) -> None:
        self.pending.discard(seed)
        self.tally.add(done=1, valid=int(valid), fresh_valid=int(valid))

    def submit_round(self) -> None:
        """Batches of one group each, sent as soon as one is full, so no more than a batch of
        request bodies is held at once."""
        groups: dict[tuple, list] = {}
        for ask in self.next_asks():
            group = groups.setdefault(group_key(ask.body), [])
            group.append(ask)
            if len(group) == self.settings.size:
                self.submit_chunk(groups.pop(group_key(ask.body)))
        for asks in groups.values():
            self.submit_chunk(asks)
        self.tick()

    def submit_chunk(self, asks: list) -> None:
        if self.progress.budget_stop is None:
            self.submit(asks)
        for ask in asks:  # sent or not, its next round reads the body again
            self.planner.release_body(ask.seed)

    def output_tokens(self) -> float:
        stored = self.tally.stored
        if stored >= MEASURED_ANSWERS:
            return self.tally.completion_tokens / stored
        return ASSUMED_OUTPUT_TOKENS

    def estimate(self, asks: list) -> float:
        if self.prices is None:
            return 0.0
        return sum(request_estimate(ask.body, self.prices, self.output_tokens()) for ask in asks)

    def submit(self, asks: list) -> None:
        """Hold the batch's estimated cost against BUDGET, then create it (split in two on a 413)."""
        estimate = self.estimate(asks)
        try:
            self.budget.hold(estimate)
        except BudgetReached as err:
            self.progress.budget_stop = err
            return
        try:
            accepted = self.create(asks, estimate)
        except BaseException:
            self.budget.bill(estimate, None)
            raise
        if accepted is None:   # too large (413): two halves
            self.budget.bill(estimate, None)
            half = len(asks) // 2
            self.submit(asks[:half])
            self.submit(asks[half:])

    def slugs(self, model: str) -> list[str]:
        accepted = self.ledger.accepted_slug(model)
        if accepted:
            return [accepted]
        rejected = self.ledger.rejected_slugs(model)
        return [slug for slug in dict.fromkeys([batch_slug(model), base_slug(model)]) if slug not in rejected]

    def create(self, asks: list, estimate: float) -> BatchRecord | None:
        """Try the model's slugs in turn; the first the API accepts is recorded and remembered."""
        model = asks[0].body["model"]
        covered = [Covered(custom_id(a), a.seed, a.kind, a.attempt, a.key) for a in asks]
        for slug in self.slugs(model):
            record = self.ledger.sending(model, slug, covered, estimate)
            requests = [{"custom_id": c.custom_id, "body": {**a.body, "model": slug}} for c, a in zip(covered, asks)]
            try:
                state = self.send_create(slug, requests)
            except CreateLost as err:
                self.ledger.write(replace(record, status="lost", note=str(err)))
                raise BatchStop(lost_line(len(asks), slug, str(err), self.api.url())) from None
            except FatalAPIError as err:
                self.ledger.forget(record)
                if err.status in SLUG_STATUSES and not self.ledger.accepted_slug(model):
                    self.ledger.reject_slug(model, slug, err.detail or str(err))
                    continue
                if err.status == 413 and len(asks) > 1:
                    return None
                raise
            except TransientAnswer as err:
                self.ledger.forget(record)
                raise BatchStop(f"creating a batch failed {CREATE_RETRIES + 1} times ({err}); nothing was "
                                "submitted for these requests: run the same command again later") from None
            return self.accepted(record, state)
        raise BatchStop(rejected_line(model, self.ledger.rejected_slugs(model)))

    def send_create(self, slug: str, requests: list[dict]) -> BatchState:
        """The create, retried after an answer that says it was not made (429, 5xx, refused)."""
        for retry in range(CREATE_RETRIES + 1):
            try:
                return self.api.create(slug, requests)
            except TransientAnswer as err:
                self.tally.failed(err)
                if retry == CREATE_RETRIES:
                    raise
                wait = getattr(err, "retry_after", None) or self.settings.backoff * 2 ** retry
                self.sleep(min(wait, 120.0))
        raise AssertionError("unreachable")

    def accepted(self, record: BatchRecord, state: BatchState) -> BatchRecord:
        accepted = self.ledger.accept(record, state.id, state.status)
        self.open[accepted.id] = accepted
        self.progress.created += 1
        self.progress.sent += len(accepted.asks)
        return accepted

    # -- polling and collecting ----------------------------------------------------------------
    def poll(self) -> bool:
        """Poll each open batch once; True when one ended (its seeds need their next requests)."""
        ended = False
        for record in list(self.open.values()):
            try:
                state = self.api.get(record.id)
            except ResultsWithheld:
                raise self.withheld(record) from None
            except TransientAnswer as err:
                self.tally.failed(err)
                continue
            except FatalAPIError as err:
                if err.status != 404:
                    raise
                self.close(record, "missing", None, "GET answered 404: the API does not know this batch")
                ended = True
                continue
            ended |= self.observe(record, state)
        self.tick()
        return ended

    def observe(self, record: BatchRecord, state: BatchState) -> bool:
        record = self.ledger.write(replace(record, status=state.status,
                                           counts=(state.total, state.completed, state.failed)))
        self.open[record.id] = record
        if state.started and not self.ledger.accepted_slug(record.model):
            self.ledger.remember_slug(record.model, record.slug)
        if not state.terminal:
            return False
        if state.status == "failed" and not state.started:
            self.rejected(record, state)
        else:
            self.collect(record, state)
        return True

    def rejected(self, record: BatchRecord, state: BatchState) -> None:
        """Failed while validating: the slug, if no slug has worked yet for this model; else the
        batch itself, which would fail again."""
        self.close(record, state.status, None, f"rejected: {state.error}")
        if self.ledger.accepted_slug(record.model):
            raise BatchStop(f"batch {record.id} was rejected as invalid ({state.error[:160] or 'no reason given'}); "
                            "it would fail again: check MODEL and the files in prompts/")
        self.ledger.reject_slug(record.model, record.slug, state.error or "failed while validating")
        if not self.slugs(record.model):
            raise BatchStop(rejected_line(record.model, self.ledger.rejected_slugs(record.model)))

    def collect(self, record: BatchRecord, state: BatchState) -> None:
        """Store every answer of a finished batch with its share of the bill, count the bill once,
        and close the record; per-request errors and missing results go to the next round."""
        try:
            results = self.api.results(state)
        except ResultsWithheld:
            raise self.withheld(record) from None
        answers = self.read_results(record, results)
        cost = self.bill_of(state, [usage for _, _, usage in answers])
        shares = attribute(cost or 0.0, [self.weight(usage) for _, _, usage in answers])
        for (covered, text, usage), share in zip(answers, shares):
            self.store(covered, text, share if cost is not None else None, usage)
        self.close(record, state.status, cost, f"{len(answers)} answers stored")
        if cost is not None:
            self.tally.add(cost=cost)

    def read_results(self, record: BatchRecord, results: list) -> list[tuple[Covered, str, Usage]]:
        """The usable answers; per-request errors are counted (the seed asks again, no attempt used)."""
        by_id = {covered.custom_id: covered for covered in record.asks}
        answers = []
        for result in results:
            covered = by_id.pop(result.get("custom_id"), None) if isinstance(result, dict) else None
            if covered is None:
                continue
            text, error = result_text(result)
            try:
                usage = usage_of(parse_completion(text)) if text is not None else None
            except (TransientAnswer, FatalAPIError) as err:
                usage, error = None, str(err)[:80]
            self.progress.settled += 1
            if usage is None:
                self.errors[covered.key] += 1
                self.progress.errors += 1
                self.tally.last_failure = f"in batch: {error}"[:40]
            else:
                answers.append((covered, text, usage))
        return answers

    def bill_of(self, state: BatchState, usages: list[Usage]) -> float | None:
        """The batch's usage.cost, or its tokens at the batch prices when the API reports none."""
        if state.cost is not None:
            return state.cost
        if self.prices is None:
            return None
        return sum(self.prices.cost(usage) for usage in usages)

    def weight(self, usage: Usage) -> float:
        return self.prices.cost(usage) if self.prices is not None else float(usage.tokens)

    def store(self, covered: Covered, text: str, share: float | None, usage: Usage) -> None:
        if covered.key in self.planner.cache:
            return  # answered meanwhile (by a sync run): the first answer stays
        self.planner.store(Ask(covered.seed, covered.kind, covered.attempt, self.planner.url, {}, covered.key),
                           text, share)
        self.tally.add_usage(replace(usage, cost=0.0))   # the bill is counted once, per batch

    def close(self, record: BatchRecord, status: str, cost: float | None, note: str) -> None:
        self.ledger.write(replace(record, status=status, cost=cost, collected=True, note=note))
        self.open.pop(record.id, None)
        self.budget.bill(record.estimate, cost)
        self.progress.collected[status] += 1

    def withheld(self, record: BatchRecord) -> BatchStop:
        self.ledger.write(replace(record, note="results withheld until credits are added (HTTP 402)"))
        return BatchStop(f"batch {record.id} has finished but the API withholds its results until credits are added "
                         "(HTTP 402); add credits, then run the same command again to collect them "
                         "(the batch is not run or billed again)")

    def request_counts(self) -> tuple[int, int]:
        """(requests done, requests submitted): results read, plus what the last poll of each open
        batch counted as completed or failed, so the figure moves while a batch runs."""
        done = self.progress.settled + sum(record.counts[1] + record.counts[2] for record in self.open.values())
        submitted = self.progress.settled + sum(max(record.counts[0], len(record.asks)) for record in self.open.values())
        return done, submitted

    def status_counts(self) -> str:
        counts = Counter(record.status for record in self.open.values()) + self.progress.collected
        return " ".join(f"{status}={count}" for status, count in sorted(counts.items())) or "none"


def is_lost_batch(listed: dict, record: BatchRecord) -> bool:
    """Whether a batch in GET /batches can be the one a lost create made: same slug and size,
    created around the time it was sent."""
    counts = listed.get("request_counts") if isinstance(listed.get("request_counts"), dict) else {}
    created = listed.get("created_at")
    return (listed.get("model") == record.slug and counts.get("total") == len(record.asks)
            and isinstance(created, (int, float))
            and LOST_WINDOW[0] <= created - record.sent <= LOST_WINDOW[1] and isinstance(listed.get("id"), str))


def lost_line(count: int, slug: str, reason: str, list_url: str) -> str:
    return (f"the answer to creating a batch of {count} requests ({slug}) was lost ({reason}): the batch may exist "
            f"and be billed, so it is not sent again blindly. Run the same command again: it looks the batch up in "
            f"GET {list_url} and awaits it, or sends the requests again if it is not listed. To look yourself: "
            f"curl -H \"Authorization: Bearer $OPENROUTER_API_KEY\" {list_url}")


def rejected_line(model: str, rejected: dict[str, str]) -> str:
    said = "; ".join(f"as {slug}: {reason[:100]}" for slug, reason in rejected.items())
    return f"the Batch API rejected {model} under every slug tried ({said}); check MODEL, or fetch without BATCH=1"
