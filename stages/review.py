"""Judge what the cache holds for one seed: a verdict per attempt and the first valid conversation."""
import hashlib
import itertools
import json
from dataclasses import dataclass
from importlib.metadata import version

import diskcache

from .transport.answers import TransientAnswer, parse_completion
from .cache import cached_attempts, decode_entry
from .checks import Verdict, judge, make_validator
from .codehash import code_digest
from .errors import FatalAPIError
from .prompts import load_body


@dataclass(frozen=True)
class Rules:
    validator: object
    ascii_only: bool = False
    fingerprint: str = ""  # names the schema, options and judging code, for remembering finished runs


@dataclass(frozen=True)
class SeedReview:
    seed: int
    verdicts: tuple[Verdict, ...]

    @property
    def conversation(self) -> list | None:
        return next((v.messages for v in self.verdicts if v.valid), None)

    @property
    def reasons(self) -> list[str]:
        """Why the seed has no valid conversation (empty when it has one)."""
        if self.conversation is not None:
            return []
        if not self.verdicts:
            return ["not_fetched"]
        return sorted({reason for v in self.verdicts for reason in v.reasons})


def make_rules(schema: dict, ascii_only: bool = False) -> Rules:
    # The code that judges (and the schema libraries' versions) is part of the rules, so a run
    # remembered as finished is reviewed again after any change to them.
    parts = [schema, ascii_only, code_digest(), version("fastjsonschema"), version("jsonschema")]
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return Rules(make_validator(schema), ascii_only, fingerprint)


def judge_entry(raw: object, rules: Rules) -> Verdict:
    entry = decode_entry(raw)
    if entry is None:
        return Verdict(None, ["corrupt_entry"])
    try:
        completion = parse_completion(entry["body"])
    except (TransientAnswer, FatalAPIError):
        return Verdict(None, ["corrupt_entry"])  # such answers are never cached by fetch
    return judge(completion, rules.validator, rules.ascii_only)


def review_seed(cache: diskcache.Cache, url: str, body: dict, seed: int, rules: Rules,
                limit: int | None = None) -> SeedReview:
    """Verdicts of the cached attempts, up to the first valid one (and at most `limit`)."""
    verdicts = []
    for raw in itertools.islice(cached_attempts(cache, url, body), limit):
        verdicts.append(judge_entry(raw, rules))
        if verdicts[-1].valid:
            break  # later attempts are never used
    return SeedReview(seed, tuple(verdicts))


def review_all(cache: diskcache.Cache, url: str, data_dir, seeds: range, rules: Rules):
    """Reviews of these seeds in seed order, one at a time."""
    for seed in seeds:
        yield review_seed(cache, url, load_body(data_dir, seed), seed, rules)


class ReviewTally:
    """Counts valid seeds and keeps the rejected ones while conversations stream past."""

    def __init__(self):
        self.valid = 0
        self.rejected: list[dict] = []

    def conversations(self, reviews):
        """(seed, messages) of each valid seed; the rest are counted as rejected."""
        for review in reviews:
            if review.conversation is None:
                self.rejected.append({"seed": review.seed, "reasons": review.reasons})
            else:
                self.valid += 1
                yield review.seed, review.conversation

    def reason_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rejected:
            for reason in row["reasons"]:
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> str:
        total = self.valid + len(self.rejected)
        reasons = ", ".join(f"{name} {count}" for name, count in self.reason_counts().items())
        return f"{self.valid}/{total} seeds valid, {len(self.rejected)} rejected" + (f" ({reasons})" if reasons else "")
