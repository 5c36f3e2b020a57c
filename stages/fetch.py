"""Stage 2: send every rendered prompt that has no valid cached answer, WORKERS at a time.

Each answer is cached before it is judged; a rerun replays the cache and sends nothing for it.
"""
import hashlib
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

from .transport.answers import TransientAnswer, Usage, parse_completion, usage_of
from .transport.budget import Budget, BudgetReached
from .cache import answer_key, encode_entry, open_cache
from .checks import judge
from .transport.client import Request, post_completion
from .config import DEFAULT_ATTEMPTS, completions_url, option, prompt_dir, review_options, seed_range
from .key import load_key
from .prompts import load_body
from .review import Rules, judge_entry, review_seed
from .transport.throttle import Throttle
from .validate import rules_for

RETRIES = 10          # transient failures per answer before the seed waits for the next run
MAX_PAUSE = 120.0     # cap on one backoff or Retry-After wait
STOP_GRACE = 15.0     # after a fatal error, how long answers already in flight (maybe billed) may land


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
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def __post_init__(self):
        self.lock = threading.Lock()
        self.budget_stop: BudgetReached | None = None
        self.settled_earlier = False

    def add(self, **counts) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def add_usage(self, usage: Usage) -> None:
        self.add(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost=usage.cost)


def backoff_delay(retry: int, base: float, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_PAUSE)
    return random.uniform(0.5, 1.0) * min(MAX_PAUSE, base * 2 ** retry)  # jitter spreads the herd


@dataclass(frozen=True)
class Answer:
    text: str          # the body as it came, for the cache
    completion: dict   # the same, parsed


def send_once(job: Job, body: dict, tally: Tally) -> Answer:
    """One request within the budget; returns a usable completion or raises."""
    if job.stop.is_set():
        raise RunStopped()
    job.budget.reserve()
    cost = None
    try:
        tally.add(requests=1)
        text = post_completion(Request(job.url, body, job.api_key(), job.timeout))
        completion = parse_completion(text)
        cost = usage_of(completion).cost
        return Answer(text, completion)
    finally:
        job.budget.settle(cost)


def ask(job: Job, body: dict, throttle: Throttle, tally: Tally) -> Answer:
    """One usable completion, retrying transient failures; raises TransientAnswer when they persist."""
    for retry in itertools.count():
        throttle.acquire()
        try:
            answer = send_once(job, body, tally)
        except TransientAnswer as err:
            pause = backoff_delay(retry, job.backoff, getattr(err, "retry_after", None))
            limited = getattr(err, "status", None) == 429
            throttle.release(ok=False, pause=pause if limited else None)
            if retry == RETRIES:
                raise
            tally.add(retries=1)
            if not limited:
                time.sleep(pause)  # after a 429 everyone waits instead, in throttle.acquire
            continue
        except BaseException:
            throttle.release(ok=False)
            raise
        throttle.release(ok=True)
        return answer


def cached_outcome(seed: int, job: Job, cache) -> tuple[bool | None, int]:
    """From the cache alone: (True, n) when one of its n cached attempts is valid, (False, n) when
    all MAX_ATTEMPTS are used up, (None, n) when a request is still needed."""
    review = review_seed(cache, job.url, load_body(job.data_dir, seed), seed, job.rules, job.max_attempts)
    attempts = len(review.verdicts)
    if review.conversation is not None:
        return True, attempts
    return (False if attempts == job.max_attempts else None), attempts


def pending_seeds(seeds: range, job: Job, cache, tally: Tally, on_tick) -> list[tuple[int, int]]:
    """Settle what the cache can, in this thread (threads only slow this down); return
    (seed, first missing attempt) for the rest."""
    pending = []
    for count, seed in enumerate(seeds, 1):
        outcome, cached = cached_outcome(seed, job, cache)
        tally.add(cache_hits=cached)
        if outcome is None:
            pending.append((seed, cached))
        else:
            tally.add(done=1, valid=int(outcome))
        if count % 1000 == 0:
            on_tick()
    return pending


def fetch_seed(seed: int, first_attempt: int, job: Job, cache, throttle: Throttle, tally: Tally) -> bool:
    """Ask for attempts from first_attempt on until one is valid; True when one is."""
    body = load_body(job.data_dir, seed)
    for attempt in range(first_attempt, job.max_attempts):
        key = answer_key(job.url, body, attempt)
        raw = cache.get(key)
        if raw is None:
            answer = ask(job, body, throttle, tally)
            cache.set(key, encode_entry(seed, attempt, answer.text))  # paid for: store before anything else
            tally.add_usage(usage_of(answer.completion))
            verdict = judge(answer.completion, job.rules.validator, job.rules.ascii_only)
        else:
            tally.add(cache_hits=1)
            verdict = judge_entry(raw, job.rules)
        if verdict.valid:
            return True
    return False


class Pool:
    """WORKERS daemon threads pulling (seed, first attempt) pairs from one iterator; the first
    fatal error stops all sending."""

    def __init__(self, job: Job, cache, throttle: Throttle, tally: Tally, pending):
        self.job, self.cache, self.throttle, self.tally = job, cache, throttle, tally
        self.pending = iter(pending)
        self.lock = threading.Lock()
        self.finished = threading.Event()  # set by the last worker out
        self.running = 0
        self.error: BaseException | None = None
        self.budget_stop: BudgetReached | None = None

    def next_seed(self) -> tuple[int, int] | None:
        with self.lock:
            return None if self.error or self.budget_stop else next(self.pending, None)

    def work(self) -> None:
        try:
            while (item := self.next_seed()) is not None:
                try:
                    ok = fetch_seed(*item, self.job, self.cache, self.throttle, self.tally)
                except TransientAnswer:
                    ok = False  # still failing after all retries: the next run tries again
                self.tally.add(done=1, valid=int(ok))
        except RunStopped:
            pass
        except BudgetReached as err:  # answers in flight are still awaited
            self.budget_stop = err
        except BaseException as err:  # fatal for the run: the main thread reports it
            with self.lock:
                self.error = self.error or err
            self.job.stop.set()
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0:
                    self.finished.set()

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
            if self.error:
                grace_end = grace_end or time.monotonic() + STOP_GRACE
                if time.monotonic() > grace_end:
                    return


def progress_text(tally: Tally, throttle: Throttle) -> dict:
    return {"hits": tally.cache_hits, "retries": tally.retries, "failed": tally.done - tally.valid,
            "tokens": tally.prompt_tokens + tally.completion_tokens, "cost": f"${tally.cost:.4f}",
            "in_flight": f"{throttle.in_flight}/{throttle.limit}"}


def summary_line(tally: Tally, n: int) -> str:
    if tally.settled_earlier:
        return f"fetch: {n}/{n} seeds valid, as an earlier run of these prompts found; 0 requests"
    missing = n - tally.valid
    return (f"fetch: {tally.valid}/{n} seeds valid, {missing} without a valid answer; "
            f"{tally.requests} requests ({tally.retries} retried), {tally.cache_hits} cached answers reused, "
            f"{tally.prompt_tokens + tally.completion_tokens} tokens, ${tally.cost:.4f} spent now")


def settled_key(job: Job, seeds: range) -> str | None:
    """Names the fact "every seed had a valid answer" for these exact prompts, endpoint and rules,
    so a rerun of a finished job skips the review. None when the prompts carry no fingerprint."""
    stamp = prompt_dir(job.data_dir) / ".fingerprint"
    if not stamp.is_file():
        return None
    parts = [stamp.read_text(), job.url, seeds.start, seeds.stop, job.rules.fingerprint]
    return "settled:" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def run_fetch(job: Job, cache_dir: Path, seeds: range, workers: int, rpm: float | None = None) -> Tally:
    """Fetch these seeds; the tally's budget_stop says whether BUDGET ended the run early."""
    tally, throttle = Tally(), Throttle(workers, rpm)
    settled = settled_key(job, seeds)
    # In a log (not a terminal) one progress line per 10 s is plenty.
    interval = 0.5 if sys.stderr.isatty() else 10.0
    with open_cache(cache_dir) as cache, tqdm(total=len(seeds), file=sys.stderr, unit="seed", mininterval=interval,
                                              dynamic_ncols=True, desc="fetch") as bar:
        def tick():
            bar.set_postfix(progress_text(tally, throttle), refresh=False)
            bar.update(tally.done - bar.n)
        if settled and cache.get(settled):
            tally.add(done=len(seeds), valid=len(seeds))
            tally.settled_earlier = True
        else:
            fetch_pending(job, cache, throttle, tally, pending_seeds(seeds, job, cache, tally, tick), workers, tick)
        if settled and tally.valid == len(seeds):
            cache.set(settled, True)
        tick()
    return tally


def fetch_pending(job: Job, cache, throttle: Throttle, tally: Tally, pending: list, workers: int, tick) -> None:
    if pending:
        tally.budget_stop = Pool(job, cache, throttle, tally, pending).run(min(workers, len(pending)), tick)


@click.command("fetch")
@review_options
@option("MAX_ATTEMPTS", type=click.IntRange(min=1), default=DEFAULT_ATTEMPTS,
        help="Answers asked per seed until one is valid.")
@option("WORKERS", type=click.IntRange(1, 1024), default=4, help="Requests in flight at once.")
@option("TIMEOUT", type=click.FloatRange(min=1), default=120.0, help="Total seconds allowed per request.")
@option("BACKOFF", type=click.FloatRange(min=0), default=1.0, help="First retry wait in seconds; doubles each retry.")
@option("RPM", type=click.FloatRange(min=0, min_open=True), default=None, help="Cap on requests per minute (optional).")
@option("BUDGET", type=click.FloatRange(min=0, min_open=True), default=None, help="Dollar cap on what this run may spend (optional).")
def fetch_command(n, seeds, data_dir, cache_dir, base_url, max_attempts, ascii, workers, timeout, backoff, rpm, budget):
    """Send prompts without a valid cached answer to BASE_URL and cache every answer.

    Example: python -m stages fetch --n 1000 --workers 4
    """
    rules = rules_for(ascii)
    job = Job(completions_url(base_url), data_dir, max_attempts, timeout, backoff, rules, budget=Budget(budget))
    seeds = seed_range(n, seeds)
    tally = run_fetch(job, cache_dir, seeds, workers, rpm)
    click.echo(summary_line(tally, len(seeds)), err=True)
    if tally.budget_stop:
        raise tally.budget_stop
