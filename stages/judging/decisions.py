"""A person's keep or drop decisions on single seeds, kept in DATA_DIR/review.jsonl (never in the cache).

Each line is {"seed", "keep", "note", "digest", "time"}; the last line of a seed wins. The digest
names the conversation the decision was made on: a build applies a decision only while the seed's
conversation is still that one, and reports it otherwise. keep=0 drops a valid conversation;
keep=1 keeps a rejected seed's best conversation, the first attempt whose shape is valid.
"""
import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PipelineError
from ..storage.bodies import load_body
from ..storage.cache import KeyMaker, canonical_json
from .checks import role_problems
from .dedup import sketch_all
from .memo import conversation_of
from .review import review_seed

REVIEW_FILE = "review.jsonl"
DROPPED = "review_dropped"  # the reason a seed dropped by hand is listed with in rejected.jsonl


@dataclass(frozen=True)
class Decision:
    seed: int
    keep: bool
    note: str
    digest: str
    time: str = ""


def review_path(data_dir: Path) -> Path:
    return Path(data_dir) / REVIEW_FILE


def conversation_digest(messages: list[dict]) -> str:
    """Names a conversation by its roles and texts (16 hex digits are plenty for one seed's attempts)."""
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return hashlib.sha256(canonical_json(plain).encode("utf-8")).hexdigest()[:16]


def parse_decision(line: str, path: Path, number: int) -> Decision:
    try:
        data = json.loads(line)
        return Decision(int(data["seed"]), bool(data["keep"]), str(data.get("note", "")), str(data["digest"]),
                        str(data.get("time", "")))
    except (ValueError, KeyError, TypeError):
        raise PipelineError(f"{path} line {number} is not a review decision: fix or delete that line") from None


def load_decisions(data_dir: Path) -> dict[int, Decision]:
    """The standing decision of each seed (the last one recorded); none when the file is absent."""
    path = review_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    decisions = {}
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            decision = parse_decision(line, path, number)
            decisions[decision.seed] = decision
    return decisions


def record_decision(data_dir: Path, decision: Decision) -> None:
    """Append one decision (a line, flushed and synced: a decision is a person's work)."""
    stamped = replace(decision, time=decision.time or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    path = review_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(stamped.__dict__, ensure_ascii=False) + "\n")
        file.flush()
        os.fsync(file.fileno())


def shape_ok(messages: list | None) -> bool:
    return messages is not None and not role_problems(messages, False)


def best_conversation(review) -> list | None:
    """The conversation a decision is about: the seed's valid one, else its first attempt of valid shape."""
    if review.conversation is not None:
        return review.conversation
    return next((v.messages for v in review.verdicts if shape_ok(v.messages)), None)


class CachedConversations:
    """The conversations a build's decisions are checked against, read from the cache only for
    seeds that have a decision (url: the completions URL)."""

    def __init__(self, cache, url: str, data_dir: Path, rules, limit: int | None):
        self.cache, self.url, self.data_dir, self.rules, self.limit = cache, url, data_dir, rules, limit

    def valid(self, outcome) -> list:
        """The messages of a seed's valid conversation (a build outcome)."""
        return outcome.messages if outcome.messages is not None else conversation_of(self.cache, outcome.entry,
                                                                                     self.rules)

    def best(self, seed: int) -> tuple[str, list] | None:
        """(cache key, messages) of a rejected seed's first attempt of valid shape, or None."""
        body = load_body(self.data_dir, seed)
        review = review_seed(self.cache, self.url, body, seed, self.rules, self.limit)
        keys = KeyMaker(self.url, body)
        return next(((keys.key(i), v.messages) for i, v in enumerate(review.verdicts) if shape_ok(v.messages)), None)


@dataclass
class Applied:
    """What a build did with the decisions: seeds dropped and kept by hand, and decisions left alone
    because their seed's conversation changed since (seed -> the decision)."""
    dropped: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    stale: dict[int, Decision] = field(default_factory=dict)

    def summary(self) -> str:
        if not (self.dropped or self.kept or self.stale):
            return ""
        stale = ", ".join(str(seed) for seed in sorted(self.stale))
        return (f"review: by hand, {len(self.dropped)} dropped and {len(self.kept)} kept"
                + (f"; NOT applied, the conversation changed since the decision: seeds {stale} "
                   "(`make show SEED=n`, then `make review` again)" if stale else ""))


def decision_status(decision: Decision, current: list | None) -> str:
    """"applies", or "changed" when the seed's conversation is no longer the one decided on."""
    return "applies" if current is not None and conversation_digest(current) == decision.digest else "changed"


def honour_decisions(outcomes, data_dir: Path, conversations: CachedConversations, applied: Applied):
    """A build's outcomes (memo.Outcome: seed, entry, reasons, sketch, messages) with each standing
    decision applied; a decision whose conversation changed since is noted in `applied`, not applied."""
    decisions = load_decisions(data_dir)
    for outcome in outcomes:
        decision = decisions.get(outcome.seed)
        if decision is not None:
            outcome = applied_to(outcome, decision, conversations, applied)
        yield outcome


def applied_to(outcome, decision: Decision, conversations: CachedConversations, applied: Applied):
    if outcome.entry is not None:
        if decision_status(decision, conversations.valid(outcome)) != "applies":
            applied.stale[outcome.seed] = decision
        elif not decision.keep:
            applied.dropped.append(outcome.seed)
            return replace(outcome, entry=None, reasons=[DROPPED], sketch=None, messages=None)
        return outcome
    if not decision.keep:
        return outcome  # nothing to drop
    best = conversations.best(outcome.seed)
    if best is None or decision_status(decision, best[1]) != "applies":
        applied.stale[outcome.seed] = decision
        return outcome
    applied.kept.append(outcome.seed)
    return replace(outcome, entry=best[0], reasons=[], sketch=sketch_all([best[1]])[0], messages=best[1])


def describe_decision(decision: Decision | None, current: list | None) -> list[str]:
    """`make show`'s lines about a seed's decision."""
    if decision is None:
        return []
    what = "keep" if decision.keep else "drop"
    note = f" ({decision.note})" if decision.note else ""
    if decision_status(decision, current) == "applies":
        return [f"review: {what}{note}, made {decision.time} on this conversation"]
    return [f"review: {what}{note}, made {decision.time} on another conversation: NOT applied "
            "(the seed's conversation changed since; decide again with `make review`)"]


def decision_counts(data_dir: Path) -> dict:
    """stats.json's "review" section: standing decisions by kind."""
    decisions = load_decisions(data_dir).values()
    return {"keep": sum(d.keep for d in decisions), "drop": sum(not d.keep for d in decisions)}
