"""Stage 2: send every rendered prompt that has no valid cached answer, WORKERS at a time.

Each answer is cached before it is judged; a rerun replays the cache and sends nothing for it.
"""
import hashlib
import heapq
import itertools
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from tqdm import tqdm

from .cache import open_cache
from .config import completions_url, option, prompt_dir, review_options, seed_range
from .errors import FatalAPIError
from .key import load_key
from .plan import Ask, Planner, Stored
from .review import Rules
from .transport.answers import TransientAnswer, Usage
from .transport.budget import Budget, BudgetReached
from .transport.client import Request, TransientHTTP, post_completion
from .transport.throttle import Throttle
from .validate import rules_for

RETRIES = 10          # transient failures per answer before the seed waits for the next run
MAX_PAUSE = 120.0     # cap on one backoff or Retry-After wait
STOP_GRACE = 15.0     # after a fatal error, how long answers already in flight (maybe billed) may land
UNREACHABLE_SECONDS = 20.0  # stop when nothing has connected for this long and nothing ever answered


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
    key: str | None = field(default=None, repr=False)
    budget: Budget = field(default_factory=lambda: Budget(None))
    key_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def api_key(self) -> str:
        """Read the key on the first request only, so a fully cached run needs none."""
        with self.key_lock:
            if self.key is None:
                self.key = load_key()
            return self.key


@dataclass
class Tally:
    done: int = 0
    valid: int = 0
    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    stored: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def __post_init__(self):
        self.lock = threading.Lock()
        self.budget_stop: BudgetReached | None = None
        self.settled_earlier = False
        self.interrupted = False
        self.last_failure = ""
        self.reached = False                      # some request got an HTTP answer
        self.unreachable_since: float | None = None

    def add(self, **counts) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def add_usage(self, usage: Usage) -> None:
        self.add(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost=usage.cost,
                 stored=1)

    def failed(self, err: TransientAnswer) -> None:
        """Remember the latest failure's cause, and since when nothing could be reached at all."""
        self.last_failure = str(err)[:40]
        if getattr(err, "unreachable", False):
            if self.unreachable_since is None:
                self.unreachable_since = time.monotonic()
        else:
            self.reached = True

    def unreachable_for(self) -> float:
        if self.reached or self.unreachable_since is None:
            return 0.0
        return time.monotonic() - self.unreachable_since


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


class SeedQueue:
    """Seeds ready now or after a backoff. A worker takes whichever is ready, so a seed waiting
    out its backoff never holds a worker; `open` counts seeds not yet settled."""

    def __init__(self, items: list[Item]):
        self.heap = sorted(items)
        self.open = len(items)
        self.order = itertools.count(len(items))
        self.stopped = False
        self.cond = threading.Condition()

    def put(self, seed: int, ask: Ask | None = None, retries: int = 0, delay: float = 0.0) -> None:
        with self.cond:
            heapq.heappush(self.heap, Item(time.monotonic() + delay, next(self.order), seed, ask, retries))
            self.cond.notify()

    def take(self) -> Item | None:
        """The next ready seed; None once every seed is settled or the run stops."""
        with self.cond:
            while not self.stopped and self.open > 0:
                wait = self.heap[0].not_before - time.monotonic() if self.heap else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self.heap)
                self.cond.wait(timeout=wait)
            return None

    def settle(self) -> None:
        with self.cond:
            self.open -= 1
            if self.open == 0:
                self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


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
        """Send the seed's next request; requeue it at once, or after a backoff on a transient failure."""
        ask = item.ask or self.planner.next_ask(item.seed)
        if ask is None:
            return self.settle(self.planner.outcomes[item.seed])
        self.throttle.acquire()
        try:
            stored = self.exchange(ask)
        except TransientAnswer as err:
            return self.retry_later(item, ask, err)
        except BaseException:
            self.throttle.release(ok=False)
            raise
        self.throttle.release(ok=True)
        self.tally.add_usage(stored.usage)
        self.queue.put(item.seed)

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
            stored = self.planner.store(ask, text)
            cost = stored.usage.cost
            return stored
        finally:
            self.job.budget.settle(cost)

    def retry_later(self, item: Item, ask: Ask, err: TransientAnswer) -> None:
        pause = backoff_delay(item.retries, self.job.backoff, getattr(err, "retry_after", None))
        limited = getattr(err, "status", None) == 429
        self.throttle.release(ok=False, pause=pause if limited else None, outage=is_outage(err))
        self.tally.failed(err)
        if item.retries == RETRIES:
            return self.settle(False)  # still failing: the next run tries again
        self.tally.add(retries=1)
        # After a 429 everyone waits in throttle.acquire instead.
        self.queue.put(item.seed, ask, item.retries + 1, delay=0.0 if limited else pause)

    def settle(self, valid: bool) -> None:
        self.tally.add(done=1, valid=int(valid))
        self.queue.settle()

    def run(self, workers: int, on_tick) -> BudgetReached | None:
        self.running = workers
        for _ in range(workers):
            threading.Thread(target=self.work, daemon=True).start()
        self.wait(on_tick)
        on_tick()
        if self.error:
            raise self.error
        return self.budget_stop

    def wait(self, on_tick) -> None:
        """Until every worker is out, or STOP_GRACE after a fatal error: answers in flight then
        (a 402 mid-run, say) may be billed, so they get a moment to land in the cache. Threads
        still out after that, or at Ctrl-C, are daemons and end with the process."""
        grace_end = None
        while not self.finished.wait(0.2):
            on_tick()
            if self.tally.unreachable_for() > UNREACHABLE_SECONDS and not self.error:
                self.fail(unreachable_error(self.job, self.tally))
            if self.error:
                grace_end = grace_end or time.monotonic() + STOP_GRACE
                if time.monotonic() > grace_end:
                    return


def unreachable_error(job: Job, tally: Tally) -> FatalAPIError:
    base = job.url.removesuffix("/chat/completions")
    return FatalAPIError(f"cannot reach BASE_URL {base}: {tally.last_failure} for {UNREACHABLE_SECONDS:.0f} s "
                         "and no request was ever answered; check BASE_URL and the network")


def progress_text(tally: Tally, throttle: Throttle) -> dict:
    text = {"hits": tally.cache_hits, "retries": tally.retries, "failed": tally.done - tally.valid,
            "tokens": tally.prompt_tokens + tally.completion_tokens, "cost": f"${tally.cost:.4f}",
            "in_flight": f"{throttle.in_flight}/{throttle.limit}"}
    if tally.last_failure:
        text["last"] = tally.last_failure
    return text


def summary_line(tally: Tally, n: int) -> str:
    if tally.settled_earlier:
        return f"fetch: {n}/{n} seeds valid, as an earlier run of these prompts found; 0 requests"
    missing = n - tally.valid
    return (f"fetch: {tally.valid}/{n} seeds valid, {missing} without a valid answer; "
            f"{tally.requests} requests ({tally.retries} retried), {tally.cache_hits} cached answers reused, "
            f"{tally.prompt_tokens + tally.completion_tokens} tokens, ${tally.cost:.4f} spent now")


def interrupted_line(tally: Tally, n: int) -> str:
    return (f"fetch: interrupted; {tally.stored} answers cached in this run, {tally.valid}/{n} seeds valid so far; "
            "run the same command again to resume (cached answers are not asked again)")


def bodies_digest(data_dir: Path, seeds: range) -> str | None:
    """A hash of the rendered request files themselves, or None when one is missing."""
    digest = hashlib.sha256()
    folder = prompt_dir(data_dir)
    for seed in seeds:
        try:
            digest.update((folder / f"{seed}.json").read_bytes())
        except OSError:
            return None
        digest.update(b"\0")
    return digest.hexdigest()


def settled_key(job: Job, seeds: range) -> str | None:
    """Names the fact "every seed had a valid answer" for these exact request bodies, endpoint
    and rules, so a rerun of a finished job skips the review. Keyed on the rendered bodies, not
    on what they were made from, so it cannot outlive a change in how they are made."""
    bodies = bodies_digest(job.data_dir, seeds)
    if bodies is None:
        return None
    parts = [bodies, job.url, seeds.start, seeds.stop, job.rules.fingerprint]
    return "settled:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def queue_pending(planner: Planner, seeds: range, tally: Tally, on_tick) -> list[Item]:
    """Settle what the cache can, in this thread (threads only slow this down); queue the rest
    with the request each one needs first."""
    items = []
    for count, seed in enumerate(seeds, 1):
        ask = planner.next_ask(seed)
        if ask is None:
            tally.add(done=1, valid=int(planner.outcomes[seed]))
        else:
            items.append(Item(0.0, count, seed, ask))
        if count % 1000 == 0:
            on_tick()
    return items


def run_fetch(job: Job, cache_dir: Path, seeds: range, workers: int, rpm: float | None = None) -> Tally:
    """Fetch these seeds; the tally says whether BUDGET (budget_stop) or Ctrl-C (interrupted) ended it early."""
    tally, throttle = Tally(), Throttle(workers, rpm)
    settled = settled_key(job, seeds)
    # In a log (not a terminal) one progress line per 10 s is plenty.
    interval = 0.5 if sys.stderr.isatty() else 10.0
    with open_cache(cache_dir) as cache, tqdm(total=len(seeds), file=sys.stderr, unit="seed", mininterval=interval,
                                              dynamic_ncols=True, desc="fetch") as bar:
        planner = Planner(cache, job.url, job.data_dir, job.rules, job.max_attempts)

        def tick():
            tally.cache_hits = planner.hits
            bar.set_postfix(progress_text(tally, throttle), refresh=False)
            bar.update(tally.done - bar.n)
        try:
            if settled and cache.get(settled):
                tally.add(done=len(seeds), valid=len(seeds))
                tally.settled_earlier = True
            else:
                items = queue_pending(planner, seeds, tally, tick)
                if items:
                    pool = Pool(job, planner, throttle, tally, SeedQueue(items))
                    tally.budget_stop = pool.run(min(workers, len(items)), tick)
            if settled and tally.valid == len(seeds):
                cache.set(settled, True)
        except KeyboardInterrupt:
            job.stop.set()
            tally.interrupted = True
        tick()
    return tally


@click.command("fetch")
@review_options
@option("WORKERS", type=click.IntRange(1, 1024), default=4, help="Requests in flight at once.")
@option("TIMEOUT", type=click.FloatRange(min=1), default=120.0, help="Total seconds allowed per request.")
@option("BACKOFF", type=click.FloatRange(min=0), default=1.0, help="First retry wait in seconds; doubles each retry.")
@option("RPM", type=click.FloatRange(min=0, min_open=True), default=None, help="Cap on requests per minute (optional).")
@option("BUDGET", type=click.FloatRange(min=0, min_open=True), default=None, help="Dollar cap on what this run may spend (optional).")
def fetch_command(n, seeds, data_dir, cache_dir, base_url, checks, workers, timeout, backoff, rpm, budget):
    """Send prompts without a valid cached answer to BASE_URL and cache every answer.

    Example: python -m stages fetch --n 1000 --workers 4
    """
    rules = rules_for(checks)
    job = Job(completions_url(base_url), data_dir, checks.max_attempts, timeout, backoff, rules, budget=Budget(budget))
    seeds = seed_range(n, seeds)
    tally = run_fetch(job, cache_dir, seeds, workers, rpm)
    if tally.interrupted:
        click.echo(interrupted_line(tally, len(seeds)), err=True)
        raise click.exceptions.Exit(130)
    click.echo(summary_line(tally, len(seeds)), err=True)
    if tally.budget_stop:
        raise tally.budget_stop
