"""Judge what the cache holds for one seed: a verdict per attempt and the first valid conversation."""
import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from importlib.metadata import version

import diskcache

from ..errors import FatalAPIError
from ..storage.bodies import load_body
from ..storage.cache import KeyMaker, decode_entry
from ..storage.codehash import code_digest
from ..transport.answers import TransientAnswer, parse_completion
from .checks import LazyValidator, Verdict, judge
from .identity import Facts
from .judge import JudgeSpec, judge_body, read_verdict


@dataclass(frozen=True)
class Rules:
    validator: object
    ascii_only: bool = False
    fingerprint: str = ""  # names the schema, options and judging code, for remembering finished runs
    judge: JudgeSpec | None = None
    judge_validator: object = None
    facts: Facts | None = None  # the identity's facts, for the leak check; None skips it
    conversation_fingerprint: str = ""  # names what judges a conversation, but ASCII and the judge


@dataclass(frozen=True)
class Gap:
    """The first answer a seed's walk needs and the cache lacks."""
    kind: str          # "conversation" or "judge"
    attempt: int
    body: dict
    key: str


@dataclass(frozen=True)
class SeedReview:
    seed: int
    verdicts: tuple[Verdict, ...]      # one per conversation attempt walked, the judge's word included
    gap: Gap | None = None             # set when the walk stopped at a missing answer
    judge_verdicts: tuple[tuple[Verdict, ...], ...] = ()  # per conversation attempt, each judge answer

    @property
    def conversation(self) -> list | None:
        return next((v.messages for v in self.verdicts if v.valid), None)

    @property
    def reasons(self) -> list[str]:
        """Why the seed has no valid conversation (empty when it has one)."""
        if self.conversation is not None:
            return []
        waiting = ["not_judged"] if self.gap and self.gap.kind == "judge" else []
        if not self.verdicts and not waiting:
            return ["not_fetched"]
        return sorted({reason for v in self.verdicts for reason in v.reasons} | set(waiting))


def make_rules(schema: dict, ascii_only: bool = False, judge: JudgeSpec | None = None,
               facts: Facts | None = None) -> Rules:
    """The facts are part of the fingerprint: editing them re-judges cached answers (never re-fetches).
    So is the code that judges, with the schema libraries' versions: a run remembered as finished
    is reviewed again after any change to them, with no version number to bump by hand."""
    parts = [schema, ascii_only, code_digest(), version("fastjsonschema"), version("jsonschema"),
             judge.fingerprint_parts() if judge else None, asdict(facts) if facts else None]
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    judge_validator = LazyValidator(judge.schema) if judge else None
    conversation = [schema, code_digest(), asdict(facts) if facts else None]
    conversation_fingerprint = hashlib.sha256(json.dumps(conversation, sort_keys=True).encode()).hexdigest()
    return Rules(LazyValidator(schema), ascii_only, fingerprint, judge, judge_validator, facts, conversation_fingerprint)


def judge_answer(completion: dict, rules: Rules, kind: str) -> Verdict:
    """The verdict on one parsed answer: a conversation by the rules, or a judge's verdict."""
    if kind == "judge":
        return read_verdict(completion, rules.judge_validator)
    return judge(completion, rules.validator, rules.ascii_only, rules.facts)


def judge_entry(raw: object, rules: Rules, kind: str = "conversation") -> Verdict:
    entry = decode_entry(raw)
    if entry is None:
        return Verdict(None, ["corrupt_entry"])
    try:
        completion = parse_completion(entry["body"])
    except (TransientAnswer, FatalAPIError):
        return Verdict(None, ["corrupt_entry"])  # such answers are never cached by fetch
    return judge_answer(completion, rules, kind)


def cache_lookup(cache: diskcache.Cache, rules: Rules):
    """verdict_of(key, kind) for walk_seed, straight from the cache."""
    def verdict_of(key: str, kind: str) -> Verdict | None:
        raw = cache.get(key)
        return None if raw is None else judge_entry(raw, rules, kind)
    return verdict_of


def attempts(limit: int | None):
    return range(limit) if limit is not None else itertools.count()


def walk_seed(seed: int, url: str, body: dict, rules: Rules, verdict_of, limit: int | None = None,
              keys: KeyMaker | None = None) -> SeedReview:
    """Walk the seed's conversation attempts (at most `limit`) until one passes every check and
    the judge, or an answer is missing (the review's gap), or the judge cannot give a verdict.
    `keys` may bring the body's KeyMaker, made once by a caller that walks the seed again."""
    keys = keys or KeyMaker(url, body)
    verdicts, judged = [], []
    for attempt in attempts(limit):
        key = keys.key(attempt)
        verdict = verdict_of(key, "conversation")
        if verdict is None:
            return SeedReview(seed, tuple(verdicts), Gap("conversation", attempt, body, key), tuple(judged))
        if verdict.valid and rules.judge:
            verdict, answers, gap = judge_conversation(url, body, verdict, rules, verdict_of, limit)
            judged.append(answers)
            if gap:
                return SeedReview(seed, tuple(verdicts), gap, tuple(judged))
        else:
            judged.append(())
        verdicts.append(verdict)
        if verdict.valid or NO_VERDICT in verdict.reasons:
            break  # later attempts are never used; a judge that cannot answer is reported, not re-asked
    return SeedReview(seed, tuple(verdicts), None, tuple(judged))


NO_VERDICT = "judge_no_verdict"


def judge_conversation(url: str, body: dict, verdict: Verdict, rules: Rules, verdict_of, limit: int | None):
    """(the conversation's verdict with the judge's word, the judge answers read, a gap or None)."""
    judge_request = judge_body(body, verdict.messages, rules.judge)
    keys = KeyMaker(url, judge_request)
    answers = []
    for attempt in attempts(limit):
        key = keys.key(attempt)
        answer = verdict_of(key, "judge")
        if answer is None:
            return verdict, tuple(answers), Gap("judge", attempt, judge_request, key)
        answers.append(answer)
        if answer.reasons != ["judge_invalid"]:
            return Verdict(verdict.messages, answer.reasons, answer.problems), tuple(answers), None
    return Verdict(verdict.messages, [NO_VERDICT]), tuple(answers), None


def review_seed(cache: diskcache.Cache, url: str, body: dict, seed: int, rules: Rules,
                limit: int | None = None) -> SeedReview:
    """Verdicts of the cached attempts, up to the first valid one (and at most `limit`)."""
    return walk_seed(seed, url, body, rules, cache_lookup(cache, rules), limit)


def review_all(cache: diskcache.Cache, url: str, data_dir, seeds: range, rules: Rules, limit: int | None = None):
    """Reviews of these seeds in seed order, one at a time."""
    verdict_of = cache_lookup(cache, rules)
    for seed in seeds:
        yield walk_seed(seed, url, load_body(data_dir, seed), rules, verdict_of, limit)


class ReviewTally:
    """Counts valid seeds and keeps the rejected ones while conversations stream past."""

    def __init__(self):
        self.valid = 0
        self.rejected: list[dict] = []

    def count(self, review) -> bool:
        """Count one seed's review (anything with seed, conversation and reasons); True if valid."""
        if review.conversation is None:
            self.rejected.append({"seed": review.seed, "reasons": review.reasons})
            return False
        self.valid += 1
        return True

    def conversations(self, reviews):
        """(seed, messages) of each valid seed; the rest are counted as rejected."""
        for review in reviews:
            if self.count(review):
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
