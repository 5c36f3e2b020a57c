"""Stage 2: send every rendered prompt that has no valid cached answer, WORKERS at a time.

Each answer is cached before it is judged; a rerun replays the cache and sends nothing for it.
"""
import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FatalAPIError
from .judging.review import Rules
from .judging.memo import NotedValid
from .plan import Planner, Stored
from .progress import progress_bar, write_line
from .storage.bodies import load_body
from .storage.cache import AnswerRows, open_cache
from .transport.answers import TransientAnswer
from .transport.ask import Ask
from .transport.batch import BatchRun, BatchSettings
from .transport.batchapi import BatchAPI
from .transport.budget import Budget, BudgetReached
from .transport.client import Request, TransientHTTP, post_completion
from .transport.formats import format_of
from .transport.key import load_key
from .transport.ledger import Ledger
from .transport.models import named_404
from .transport.prices import Prices, price_book, run_prices
from .transport.tally import Tally
from .transport.throttle import Throttle

RETRIES = 10          # transient failures per answer before the seed waits for the next run
MAX_PAUSE = 120.0     # cap on one backoff or Retry-After wait
STOP_GRACE = 15.0     # after a fatal error, how long answers already in flight (maybe billed) may land
WAITING_EXIT = 75     # BATCH_WAIT=0 left batches open: not an error, but nothing to build a dataset from yet
UNREACHABLE_SECONDS = 20.0  # stop when nothing has connected for this long and nothing ever answered
REDRAW = 1.0          # most seconds between two redraws of the progress bar
TICK = 0.2            # seconds between looks at the progress while the main thread waits
WORKER_NAME = "fetch-worker"  # a worker thread's name, so a test can wait for the ones a stopped run left out


class RunStopped(Exception):
    """A fatal error elsewhere: send nothing more."""


@dataclass
class Job:
    url: str
    data_dir: Path
    max_attempts: int
    timeout: float
    backoff: float
    rules: Rules
    key: str | None = field(default=None, repr=False)  # None: not read yet; "": the server wants none
    openrouter: bool = True                            # where the key is read from (see transport/key.py)
    budget: Budget = field(default_factory=lambda: Budget(None))
    batch: BatchSettings | None = None     # BATCH=1: requests travel through the Batch API
    prices: Prices | None = None           # prices answers that report no usage.cost (batch prices with BATCH=1)
    verdict_key: str = ""                  # the run's (judging/verdictkey.py): the notes of its last build settle seeds
    key_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def api_key(self) -> str:
        """Read the key on the first request only, so a fully cached run needs none."""
        with self.key_lock:
            if self.key is None:
                self.key = load_key(openrouter=self.openrouter)
            return self.key


def backoff_delay(retry: int, base: float, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_PAUSE)
    return random.uniform(0.5, 1.0) * min(MAX_PAUSE, base * 2 ** retry)  # jitter spreads the herd


def is_outage(err: TransientAnswer) -> bool:
    """5xx and dropped connections: a share of them lowers the concurrency like a 429."""
    status = getattr(err, "status", None)
    return isinstance(err, TransientHTTP) and (status is None or status >= 500)


@dataclass(frozen=True, order=True)
class Item:
    """A seed in the queue: ready from not_before on, with the request it was waiting to retry."""
    not_before: float
    order: int
    seed: int = field(compare=False)
    ask: Ask | None = field(compare=False, default=None)
    retries: int = field(compare=False, default=0)


def window_size(workers: int) -> int:
    """Seeds let into the queue at once: enough that no worker waits for the feeder, few enough
    that the request bodies held stay a few megabytes whatever N is."""
    return 2 * workers + 32


class SeedQueue:
    """Seeds ready now or after a backoff. A worker takes whichever is ready, so a seed waiting
    out its backoff never holds a worker; `open` counts seeds not yet settled, `active` those let
    in (`admit`) and not yet settled, at most `window`."""

    def __init__(self, open_seeds: int, window: int):
        self.heap: list[Item] = []
        self.open, self.active, self.window = open_seeds, 0, window
        self.order = itertools.count()
        self.stopped = False
        lock = threading.Lock()
        # Two conditions on one lock, so a settled seed wakes the feeder, not every idle worker.
        self.ready, self.room = threading.Condition(lock), threading.Condition(lock)

    def admit(self, seed: int, ask: Ask, on_wait) -> None:
        """Queue a new seed once the window has room, calling on_wait while it waits."""
        while True:
            with self.room:
                if self.stopped:
                    return
                if self.active < self.window:
                    self.active += 1
                    self.push(Item(time.monotonic(), next(self.order), seed, ask))
                    return
                self.room.wait(timeout=TICK)
            on_wait()

    def put(self, seed: int, ask: Ask, retries: int, delay: float) -> None:
        """Queue an admitted seed again, to retry `ask` after `delay`."""
        with self.ready:
            self.push(Item(time.monotonic() + delay, next(self.order), seed, ask, retries))

    def push(self, item: Item) -> None:
        heapq.heappush(self.heap, item)
        self.ready.notify()

    def take(self) -> Item | None:
        """The next ready seed; None once every seed is settled or the run stops."""
        with self.ready:
            while not self.stopped and self.open > 0:
                wait = self.heap[0].not_before - time.monotonic() if self.heap else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self.heap)
                self.ready.wait(timeout=wait)
            return None

    def settle(self, admitted: bool = True) -> None:
        """One seed done: an admitted one, or one the cache settled before it was let in."""
        with self.room:
            self.open -= 1
            self.active -= int(admitted)
            self.room.notify()
            if self.open == 0:
                self.ready.notify_all()

    def stop(self) -> None:
        with self.room:
            self.stopped = True
            self.room.notify_all()
            self.ready.notify_all()


class Pool:
    """WORKERS daemon threads serving the queue; the first fatal error stops all sending."""

    def __init__(self, job: Job, planner: Planner, throttle: Throttle, tally: Tally, queue: SeedQueue):
        self.job, self.planner, self.throttle, self.tally, self.queue = job, planner, throttle, tally, queue
        self.lock = threading.Lock()
        self.finished = threading.Event()  # set by the last worker out
        self.running = 0
        self.error: BaseException | None = None
        self.budget_stop: BudgetReached | None = None

    def work(self) -> None:
        try:
            while (item := self.queue.take()) is not None:
                self.serve(item)
        except RunStopped:
            pass
        except BudgetReached as err:  # answers in flight are still awaited
            self.budget_stop = err
            self.queue.stop()
        except BaseException as err:  # fatal for the run: the main thread reports it
            self.fail(err)
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0:
                    self.finished.set()

    def fail(self, err: BaseException) -> None:
        with self.lock:
            self.error = self.error or err
        self.job.stop.set()
        self.queue.stop()

    def serve(self, item: Item) -> None:
        """Send the seed's requests one after another until it settles, so the count of settled
        seeds moves with the answers; a transient failure requeues it after a backoff."""
        ask, retries = item.ask, item.retries
        while ask is not None:
            self.throttle.acquire()
            try:
                stored = self.exchange(ask)
            except TransientAnswer as err:
                return self.retry_later(item.seed, ask, retries, err)
            except BaseException:
                self.throttle.release(ok=False)
                raise
            self.throttle.release(ok=True)
            self.tally.add_usage(stored.usage)
            ask, retries = self.planner.next_ask(item.seed), 0
        self.settle(self.planner.outcome(item.seed))

    def exchange(self, ask: Ask) -> Stored:
        """One request within the budget, its answer cached and judged; raises TransientAnswer."""
        if self.job.stop.is_set():
            raise RunStopped()
        self.job.budget.reserve()
        cost = None
        try:
            self.tally.add(requests=1)
            text = post_completion(Request(ask.url, ask.body, self.job.api_key(), self.job.timeout))
            self.tally.reached = True
            self.tally.repeats.success()
            stored = self.planner.store(ask, text)
            cost = stored.usage.cost
            return stored
        finally:
            self.job.budget.settle(cost)

    def retry_later(self, seed: int, ask: Ask, retries: int, err: TransientAnswer) -> None:
        pause = backoff_delay(retries, self.job.backoff, getattr(err, "retry_after", None))
        limited = getattr(err, "status", None) == 429
        self.throttle.release(ok=False, pause=pause if limited else None, outage=is_outage(err))
        self.tally.failed(err)
        self.tally.repeats.failure(getattr(err, "status", None), getattr(err, "detail", ""), format_of(ask.body))
        if retries == RETRIES:
            self.planner.forget(seed)
            return self.settle(False)  # still failing: the next run tries again
        self.tally.add(retries=1)
        # After a 429 everyone waits in throttle.acquire instead.
        self.queue.put(seed, ask, retries + 1, delay=0.0 if limited else pause)

    def settle(self, valid: bool) -> None:
        self.tally.add(done=1, valid=int(valid), fresh_valid=int(valid))
        self.queue.settle()

    def run(self, workers: int, on_tick, feed) -> BudgetReached | None:
        """Start the workers, then feed the queue from this thread while they already send."""
        self.running = workers
        for _ in range(workers):
            threading.Thread(target=self.work, name=WORKER_NAME, daemon=True).start()
        try:
            feed(self.queue)
        except BaseException:
            self.queue.stop()
            raise
        self.wait(on_tick)
        on_tick()
        refusal = self.tally.repeats.refusal(finished=True)
        if refusal and not self.error:
            self.error = FatalAPIError(refusal)
        if self.error:
            raise self.error
        return self.budget_stop

    def wait(self, on_tick) -> None:
        """Until every worker is out, or STOP_GRACE after a fatal error: answers in flight then
        (a 402 mid-run, say) may be billed, so they get a moment to land in the cache. Threads
        still out after that, or at Ctrl-C, are daemons and end with the process."""
        grace_end = None
        while not self.finished.wait(TICK):
            on_tick()
            self.check()
            if self.error:
                grace_end = grace_end or time.monotonic() + STOP_GRACE
                if time.monotonic() > grace_end:
                    return


    def check(self) -> None:
        """Stop the run when no request ever connected for UNREACHABLE_SECONDS, or a refusal repeats.
        Called while the feeder waits for room too: with more seeds than the window, seeds waiting
        out their backoffs would otherwise hold the feeder, and this check, for many minutes."""
        if self.tally.unreachable_for() > UNREACHABLE_SECONDS and not self.error:
            self.fail(unreachable_error(self.job, self.tally))
        if (refusal := self.tally.repeats.refusal()) and not self.error:
            self.fail(FatalAPIError(refusal))


def unreachable_error(job: Job, tally: Tally) -> FatalAPIError:
    base = job.url.removesuffix("/chat/completions")
    return FatalAPIError(f"cannot reach BASE_URL {base}: {tally.last_failure} for {UNREACHABLE_SECONDS:.0f} s "
                         "and no request was ever answered; check BASE_URL and the network")


def batch_run(job: Job, cache, planner: Planner, tally: Tally, tick) -> BatchRun:
    """The batch transport over the same planner, tally and budget as the sync one; it also
    resumes the batches of earlier runs, so it runs even when every seed looks settled."""
    base_url = job.url.removesuffix("/chat/completions")
    api = BatchAPI(base_url, job.api_key, job.timeout)
    return BatchRun(api, Ledger(cache, base_url), planner, tally, job.budget, job.prices, job.batch, write_line, tick)


def batch_progress_text(tally: Tally, run: BatchRun) -> dict:
    """Requests done of those submitted, batches by status, tokens and the bill so far."""
    done, submitted = run.request_counts()
    text = {"requests": f"{done}/{submitted}", "batches": run.status_counts(),
            "tokens": tally.prompt_tokens + tally.completion_tokens, "cost": f"${tally.cost:.4f}"}
    if tally.last_failure:
        text["last"] = tally.last_failure
    return text


def progress_text(tally: Tally, throttle: Throttle) -> dict:
    text = {"hits": tally.cache_hits, "retries": tally.retries, "failed": tally.done - tally.valid,
            "tokens": tally.prompt_tokens + tally.completion_tokens, "cost": f"${tally.cost:.4f}",
            "in_flight": f"{throttle.in_flight}/{throttle.limit}"}
    if tally.last_failure:
        text["last"] = tally.last_failure
    return text


def tokens_text(tally: Tally) -> str:
    return (f"tokens {tally.prompt_tokens:,} prompt ({tally.cached_tokens:,} cached) + "
            f"{tally.completion_tokens:,} completion ({tally.reasoning_tokens:,} reasoning)")


def cost_text(tally: Tally) -> str:
    each = f", ${tally.cost / tally.fresh_valid:.5f} per valid conversation" if tally.fresh_valid else ""
    return f"${tally.cost:.4f} spent now{each}"


def requests_text(tally: Tally) -> str:
    if tally.batches is None:
        return f"{tally.requests} requests ({tally.retries} retried)"
    progress = tally.batches
    earlier = f", {progress.resumed} open batches of an earlier run awaited" if progress.resumed else ""
    return (f"{progress.sent} requests in {progress.created} batches ({progress.errors} per-request errors, "
            f"sent again{earlier})")


def summary_line(tally: Tally, n: int) -> str:
    if tally.settled_earlier:
        return f"fetch: {n}/{n} seeds valid, as an earlier run of these prompts found; 0 requests"
    missing = n - tally.valid
    last = f"; last failure: {tally.last_failure}" if missing and tally.last_failure else ""
    return (f"fetch: {tally.valid}/{n} seeds valid, {missing} without a valid answer; {requests_text(tally)}, "
            f"{tally.cache_hits} cached answers reused, {tokens_text(tally)}, {cost_text(tally)}{last}")


def waiting_line(tally: Tally) -> str:
    """BATCH_WAIT=0: what was left open on the API, and how to collect it."""
    return (f"fetch: {tally.batches.created} batches submitted now; not waiting (BATCH_WAIT=0): run the same "
            "command again to collect the results (`make batches` lists them; nothing is sent twice)")


def interrupted_line(tally: Tally, n: int) -> str:
    batches = ("; batches still open on the API are awaited and collected by the next run, not sent again"
               if tally.batches is not None else "")
    return (f"fetch: interrupted; {tally.stored} answers cached in this run, {tally.fresh_valid} seeds made valid by "
            f"them, {tally.valid}/{n} seeds valid so far; "
            f"run the same command again to resume (cached answers are not asked again{batches})")


def scan_cache(planner: Planner, seeds: range, tally: Tally, on_tick):
    """(seed, the request it needs first, or None when the cache settles it), counting the settled."""
    for count, seed in enumerate(seeds, 1):
        ask = planner.next_ask(seed)
        if ask is None:
            tally.add(done=1, valid=int(planner.outcome(seed)))
        yield seed, ask
        if count % 100 == 0:
            on_tick()


def unsettled(planner: Planner, seeds: range, tally: Tally, on_tick):
    """The seeds the cache does not settle; their bodies are not kept, so this holds no more than their numbers."""
    for seed, ask in scan_cache(planner, seeds, tally, on_tick):
        if ask is not None:
            planner.release_body(seed)
            yield seed


def feeder(planner: Planner, seeds: range, tally: Tally, on_tick):
    """feed(queue): settle what the cache can and let the rest into the queue as room frees up,
    each with the request it needs first."""
    def feed(queue: SeedQueue) -> None:
        for seed, ask in scan_cache(planner, seeds, tally, on_tick):
            if queue.stopped:  # a fatal error: reading the remaining bodies would only delay its report
                return
            if ask is None:
                queue.settle(admitted=False)
            else:
                queue.admit(seed, ask, on_tick)
    return feed


def run_fetch(job: Job, cache_dir: Path, seeds: range, workers: int, rpm: float | None = None) -> Tally:
    """Fetch these seeds; the tally says whether BUDGET (budget_stop) or Ctrl-C (interrupted) ended it early."""
    tally, throttle = Tally(), Throttle(workers, rpm)
    # On a terminal, a bar redrawn each REDRAW seconds; in a log, a line each PROGRESS_EVERY seconds.
    with open_cache(cache_dir) as cache, progress_bar(len(seeds), "fetch", REDRAW) as bar:
        rows = AnswerRows(cache)
        noted = NotedValid(job.data_dir, rows, job.verdict_key)
        planner = Planner(cache, job.url, job.data_dir, job.rules, job.max_attempts, job.prices, noted)
        batches = None

        def tick():
            tally.cache_hits = planner.hits
            text = batch_progress_text(tally, batches) if batches else progress_text(tally, throttle)
            bar.set_postfix(text, refresh=False)
            bar.update(tally.done - bar.n)
        try:
            if job.batch:
                pending = list(unsettled(planner, seeds, tally, tick))
                batches = batch_run(job, cache, planner, tally, tick)
                tally.batches = batches.progress
                tally.budget_stop = batches.run(pending).budget_stop
            elif seeds:
                pool = Pool(job, planner, throttle, tally, SeedQueue(len(seeds), window_size(workers)))

                def watch():
                    tick()
                    pool.check()
                tally.budget_stop = pool.run(min(workers, len(seeds)), tick, feeder(planner, seeds, tally, watch))
            tally.settled_earlier = bool(seeds) and planner.noted == len(seeds) and not tally.batches
        except KeyboardInterrupt:
            job.stop.set()
            tally.interrupted = True
        finally:
            noted.close()
            rows.close()
        tick()
    return tally


def prices_for(job: Job, cache_dir: Path, seeds: range, given: Prices | None, budget: float | None) -> Prices | None:
    """Prices of the run's model from PRICE_IN/PRICE_OUT or the models list (cached a day)."""
    if not seeds:
        return given
    model = load_body(job.data_dir, seeds[0])["model"]
    with open_cache(cache_dir) as cache:
        book = price_book(job.url.removesuffix("/chat/completions"), model, cache, given)
    return run_prices(book, job.batch is not None, budget, model)


def explained(err: FatalAPIError, job: Job, cache_dir: Path, seeds: range) -> FatalAPIError:
    """A 404 for a parameter the model does not support names the parameter and the fix."""
    if err.status != 404 or not seeds:
        return err
    with open_cache(cache_dir) as cache:
        return named_404(err, job.url.removesuffix("/chat/completions"), load_body(job.data_dir, seeds[0]), cache)
