"""What fetch asks next for each seed, decided from the cache alone; a transport sends it.

A seed walks its conversation attempts 0, 1, ... in order (see review.walk_seed). The first
cached attempt that passes the rules (and the judge, with JUDGE=1) settles it; a missing answer
is the next request (an `Ask`); MAX_ATTEMPTS used up settles it without a conversation.
Answers go through `store`, which caches before judging.
"""
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from .judging.checks import Verdict
from .judging.review import Rules, judge_answer, judge_entry, walk_seed
from .storage.bodies import load_body
from .storage.cache import KeyMaker, encode_entry
from .transport.answers import Usage, parse_completion, reported_cost, usage_of
from .transport.ask import Ask
from .transport.prices import Prices


@dataclass(frozen=True)
class Stored:
    """What `Planner.store` learned from one answer."""
    verdict: Verdict
    usage: Usage


class Planner:
    """Decides each seed's next request from the cache; judges and caches the answers.

    Verdicts of answers stored in this run are remembered until their seed settles, so an
    answer is parsed and judged once, not again by the next `next_ask`. Nothing of a seed is kept
    once it leaves (`outcome` or `forget`): memory follows the seeds in progress, not N.
    """

    def __init__(self, cache, url: str, data_dir: Path, rules: Rules, max_attempts: int, prices: Prices | None = None,
                 noted_valid=lambda seed: False):
        self.cache, self.url, self.data_dir = cache, url, data_dir
        self.noted_valid = noted_valid                    # seed -> True when the last build's notes settle it
        self.prices = prices                              # for answers that report no usage.cost
        self.rules, self.max_attempts = rules, max_attempts
        self.bodies: dict[int, tuple[dict, KeyMaker]] = {}  # seeds in progress, with their keys
        self.fresh: dict[int, dict[str, Verdict]] = {}    # their answers stored in this run
        self.noted = 0                                    # seeds settled by the notes of the last build
        self.hits = 0                                     # cached answers judged again (replayed)
        self.outcomes: dict[int, bool] = {}               # settled seeds not yet collected by `outcome`
        self.lock = threading.Lock()

    def verdict_of(self, seed: int):
        fresh = self.fresh.get(seed, {})

        def lookup(key: str, kind: str) -> Verdict | None:
            if key in fresh:
                return fresh[key]
            raw = self.cache.get(key)
            if raw is None:
                return None
            with self.lock:
                self.hits += 1
            return judge_entry(raw, self.rules, kind)
        return lookup

    def next_ask(self, seed: int) -> Ask | None:
        """The next request this seed needs, or None when it is settled (see `outcomes`)."""
        if seed not in self.bodies and self.noted_valid(seed):
            with self.lock:
                self.noted += 1
            self.outcomes[seed] = True
            return None
        if seed not in self.bodies:  # its keys too: hashing a body's canonical JSON costs more than the walk
            body = load_body(self.data_dir, seed)
            self.bodies[seed] = (body, KeyMaker(self.url, body))
        body, keys = self.bodies[seed]
        review = walk_seed(seed, self.url, body, self.rules, self.verdict_of(seed), self.max_attempts, keys=keys)
        if review.gap is not None:
            gap = review.gap
            return Ask(seed, gap.kind, gap.attempt, self.url, gap.body, gap.key)
        self.forget(seed)
        self.outcomes[seed] = review.conversation is not None
        return None

    def outcome(self, seed: int) -> bool:
        """Whether the seed `next_ask` just settled is valid; read once, then forgotten."""
        return self.outcomes.pop(seed)

    def forget(self, seed: int) -> None:
        """Drop what is held for a seed: it settled, or it waits for the next run."""
        self.release_body(seed)
        self.fresh.pop(seed, None)

    def release_body(self, seed: int) -> None:
        """Drop a seed's body while it waits long for an answer (in a batch); read again when needed."""
        self.bodies.pop(seed, None)

    def store(self, ask: Ask, text: str, cost: float | None = None) -> Stored:
        """Parse an answer body (TransientAnswer if unusable), cache it, then judge it.

        `cost` is this answer's share of a batch's bill; an answer with neither that nor its own
        usage.cost is priced from its tokens when prices are known. Either is kept in the entry."""
        completion = parse_completion(text)
        usage = usage_of(completion)
        if cost is None and reported_cost(completion) is None and self.prices is not None:
            cost = self.prices.cost(usage)
        self.cache.set(ask.key, encode_entry(ask.seed, ask.attempt, text, cost, ask.url))  # paid for: stored first
        verdict = judge_answer(completion, self.rules, ask.kind)
        self.fresh.setdefault(ask.seed, {})[ask.key] = verdict
        return Stored(verdict, usage if cost is None else replace(usage, cost=cost))
