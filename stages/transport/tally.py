"""What one fetch did, counted by its workers or its batches: seeds settled, requests, tokens,
dollars, the last failure and since when nothing could be reached."""
import threading
import time
from dataclasses import dataclass

from .answers import TransientAnswer, Usage
from .budget import BudgetReached
from .refusal import RepeatWatch, shorten


@dataclass
class Tally:
    done: int = 0
    valid: int = 0
    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    stored: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    fresh_valid: int = 0      # seeds made valid by answers of this run

    def __post_init__(self):
        self.lock = threading.Lock()
        self.budget_stop: BudgetReached | None = None
        self.settled_earlier = False
        self.interrupted = False
        self.last_failure = ""
        self.reached = False                      # some request got an HTTP answer
        self.unreachable_since: float | None = None
        self.repeats = RepeatWatch()              # the same failure from a server that never answered
        self.batches = None                       # a BATCH=1 run's BatchProgress

    def add(self, **counts) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def add_usage(self, usage: Usage) -> None:
        self.add(prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                 completion_tokens=usage.completion_tokens, reasoning_tokens=usage.reasoning_tokens, cost=usage.cost,
                 stored=1)

    def failed(self, err: TransientAnswer) -> None:
        """Remember the latest failure's cause, and since when nothing could be reached at all."""
        self.last_failure = shorten(str(err), 60)
        if getattr(err, "unreachable", False):
            if self.unreachable_since is None:
                self.unreachable_since = time.monotonic()
        else:
            self.reached = True

    def unreachable_for(self) -> float:
        if self.reached or self.unreachable_since is None:
            return 0.0
        return time.monotonic() - self.unreachable_since
