"""What fetch asks next for each seed, decided from the cache alone; a transport sends it.

A seed walks its conversation attempts 0, 1, ... in order. The first cached attempt that passes
the rules settles it; a missing attempt is the next request (an `Ask`); MAX_ATTEMPTS used up
settles it without a conversation. Answers go through `store`, which caches before judging.
"""
import threading
from dataclasses import dataclass
from pathlib import Path

from .cache import KeyMaker, encode_entry
from .checks import Verdict, judge
from .prompts import load_body
from .review import Rules, judge_entry
from .transport.answers import Usage, parse_completion, usage_of


@dataclass(frozen=True)
class Ask:
    """One request fetch wants answered, and where its answer is cached."""
    seed: int
    kind: str          # "conversation" (a judge request is another kind of the same shape)
    attempt: int
    url: str
    body: dict
    key: str


@dataclass(frozen=True)
class Stored:
    """What `Planner.store` learned from one answer."""
    verdict: Verdict
    usage: Usage


class Planner:
    """Decides each seed's next request from the cache; judges and caches the answers.

    Verdicts of answers stored in this run are remembered until their seed settles, so an
    answer is parsed and judged once, not again by the next `next_ask`.
    """

    def __init__(self, cache, url: str, data_dir: Path, rules: Rules, max_attempts: int):
        self.cache, self.url, self.data_dir = cache, url, data_dir
        self.rules, self.max_attempts = rules, max_attempts
        self.keys: dict[int, KeyMaker] = {}      # seeds in progress: their body and key maker
        self.fresh: dict[str, Verdict] = {}      # verdicts of answers stored in this run
        self.hits = 0                            # cached answers judged again (replayed)
        self.outcomes: dict[int, bool] = {}      # settled seeds: valid or not
        self.lock = threading.Lock()

    def key_maker(self, seed: int) -> KeyMaker:
        maker = self.keys.get(seed)
        if maker is None:
            maker = self.keys[seed] = KeyMaker(self.url, load_body(self.data_dir, seed))
        return maker

    def verdict(self, key: str) -> Verdict | None:
        """The verdict on the cached answer under key, or None when there is none."""
        if (fresh := self.fresh.get(key)) is not None:
            return fresh
        raw = self.cache.get(key)
        if raw is None:
            return None
        with self.lock:
            self.hits += 1
        return judge_entry(raw, self.rules)

    def next_ask(self, seed: int) -> Ask | None:
        """The next request this seed needs, or None when it is settled (see `outcomes`)."""
        maker = self.key_maker(seed)
        for attempt in range(self.max_attempts):
            key = maker.key(attempt)
            verdict = self.verdict(key)
            if verdict is None:
                return Ask(seed, "conversation", attempt, self.url, maker.body, key)
            if verdict.valid:
                return self.settle(seed, True)
        return self.settle(seed, False)

    def settle(self, seed: int, valid: bool) -> None:
        maker = self.keys.pop(seed, None)
        if maker is not None:
            for attempt in range(self.max_attempts):
                self.fresh.pop(maker.key(attempt), None)
        self.outcomes[seed] = valid
        return None

    def store(self, ask: Ask, text: str) -> Stored:
        """Parse an answer body (TransientAnswer if unusable), cache it, then judge it."""
        completion = parse_completion(text)
        self.cache.set(ask.key, encode_entry(ask.seed, ask.attempt, text))  # paid for: stored first
        verdict = judge(completion, self.rules.validator, self.rules.ascii_only)
        self.fresh[ask.key] = verdict
        return Stored(verdict, usage_of(completion))
