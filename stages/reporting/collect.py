"""One walk over a run's seeds for the report: a record per seed, written as it is made, and the
counts the report's summary needs (repeated sentences and openings, leaks, per-model cost, axes).

The walk reuses what `stats` and `show` use: review.walk_seed for the verdicts, permodel's tallies
for tokens and dollars per model, fidelity's counters for the repeated sentences and the leaks.
Only counters stay in memory; every conversation leaves as soon as its record is written.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import PipelineError
from ..judging.checks import Verdict
from ..judging.decisions import Decision, best_conversation, conversation_digest, decision_status, load_decisions
from ..judging.fidelity import ReviewCounts, count_reviews, leak_stats, ranked
from ..judging.permodel import ModelTally, add_seed, model_stats, spending_lookup
from ..judging.review import Rules, SeedReview, walk_seed
from ..judging.summary import opening, sentence_keys
from ..storage.bodies import load_body
from ..storage.cache import open_cache
from ..storage.paths import duplicates_path

TOP = 20  # sentences and openings listed


@dataclass(frozen=True)
class Walk:
    """Where a run's answers are and how they are judged (url: the completions URL)."""
    cache: object
    url: str
    data_dir: Path
    seeds: range
    rules: Rules
    limit: int | None
    axes_of: Callable[[int], dict[str, str]]      # the seed's axis items
    decisions: dict[int, Decision] = field(default_factory=dict)
    duplicates: dict[int, dict] = field(default_factory=dict)  # dropped seed -> duplicates.jsonl's row


class SentenceCounts:
    """The assistant sentences found in the most conversations (each counted once per conversation,
    as `stats` counts them), one conversation at a time; the report links every one to its seeds."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.shown: dict[str, str] = {}

    def add(self, messages: list[dict]) -> None:
        seen = sentence_keys(messages)
        self.counts.update(seen.keys())
        for key, sentence in seen.items():
            self.shown.setdefault(key, sentence)  # the first spelling seen stands for the others

    def top(self, limit: int) -> list[dict]:
        return [{"sentence": self.shown[key], "count": count} for key, count in ranked(self.counts)[:limit]]


@dataclass
class Summary:
    """What the walk counted besides the records."""
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)   # seeds with the reason on any attempt
    rules: Counter = field(default_factory=Counter)
    sentences: SentenceCounts = field(default_factory=SentenceCounts)
    openings: Counter = field(default_factory=Counter)
    axes: dict = field(default_factory=dict)            # axis -> item -> [seeds drawn, seeds in the dataset]
    tallies: dict = field(default_factory=dict)         # model -> permodel.ModelTally
    in_dataset: int = 0
    reviews: ReviewCounts = ReviewCounts()


def read_duplicates(path: Path) -> dict[int, dict]:
    """duplicates.jsonl of the last `make dataset`, by dropped seed (empty before the first build)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    rows = (json.loads(line) for line in text.split("\n") if line.strip())
    return {int(row["seed"]): row for row in rows}


def pairs(messages: list | None) -> list | None:
    return None if messages is None else [[m["role"], m["content"]] for m in messages]


def attempt_record(verdict: Verdict) -> dict:
    return {"reasons": verdict.reasons, "problems": [list(p) for p in verdict.problems],
            "messages": pairs(verdict.messages)}


def status_of(review: SeedReview, duplicate: dict | None, decision: dict | None) -> str:
    """valid, rejected, duplicate (dropped as a copy of a lower seed), dropped or kept (by hand)."""
    if decision and decision["status"] == "applies":
        if not decision["keep"] and review.conversation is not None:
            return "dropped"
        if decision["keep"] and review.conversation is None:
            return "kept"
    if review.conversation is None:
        return "rejected"
    return "duplicate" if duplicate else "valid"


def decision_record(decision: Decision | None, current: list | None) -> dict | None:
    if decision is None:
        return None
    return {"keep": decision.keep, "note": decision.note, "time": decision.time,
            "status": decision_status(decision, current)}


def seed_record(walk: Walk, review: SeedReview, model: str) -> dict:
    current = best_conversation(review)
    decision = decision_record(walk.decisions.get(review.seed), current)
    duplicate = walk.duplicates.get(review.seed)
    status = status_of(review, duplicate, decision)
    used = next((i for i, v in enumerate(review.verdicts) if v.valid), None)
    return {"seed": review.seed, "model": model, "status": status, "reasons": review.reasons,
            "rules": sorted({kind for v in review.verdicts for kind, _ in v.problems}),
            "messages": pairs(review.conversation if status != "kept" else current),
            "attempts": [attempt_record(v) | {"used": i == used} for i, v in enumerate(review.verdicts)],
            "axes": walk.axes_of(review.seed), "digest": current and conversation_digest(current),
            "decision": decision, "duplicate": duplicate}


def count_record(summary: Summary, record: dict) -> None:
    summary.statuses[record["status"]] += 1
    summary.reasons.update({reason for attempt in record["attempts"] for reason in attempt["reasons"]}
                           | set(record["reasons"]))
    summary.rules.update(record["rules"])
    kept = record["status"] in ("valid", "kept")
    for name, item in record["axes"].items():
        counts = summary.axes.setdefault(name, {}).setdefault(item, [0, 0])
        counts[0], counts[1] = counts[0] + 1, counts[1] + kept
    if kept:
        messages = [{"role": role, "content": text} for role, text in record["messages"]]
        summary.in_dataset += 1
        summary.sentences.add(messages)
        summary.openings[opening(messages)] += 1


def walk_records(walk: Walk, summary: Summary, write: Callable[[dict], None]):
    """Each seed's review, in seed order, after its record was written and counted."""
    for seed in walk.seeds:
        try:
            body = load_body(walk.data_dir, seed)
        except PipelineError:
            continue  # not rendered: nothing to look up
        spent: list = []
        review = walk_seed(seed, walk.url, body, walk.rules, spending_lookup(walk.cache, walk.rules, spent),
                           walk.limit)
        model = str(body.get("model"))
        add_seed(summary.tallies.setdefault(model, ModelTally()), review, spent, walk.rules.judge is not None)
        record = seed_record(walk, review, model)
        count_record(summary, record)
        write(record)
        yield review


def collect(walk: Walk, write: Callable[[dict], None]) -> Summary:
    """Write every seed's record through `write`; return what was counted."""
    summary = Summary()
    summary.reviews = count_reviews(walk_records(walk, summary, write), walk.rules.judge is not None)
    return summary


def summary_data(summary: Summary, duplicates: dict[int, dict]) -> dict:
    """The report's summary section, as the page reads it."""
    total = max(summary.in_dataset, 1)
    return {
        "statuses": dict(summary.statuses.most_common()), "reasons": dict(ranked(summary.reasons)),
        "rules": dict(ranked(summary.rules)), "in_dataset": summary.in_dataset,
        "sentences": [item | {"share": round(item["count"] / total, 4)} for item in summary.sentences.top(TOP)],
        "openings": [{"opening": text, "count": count, "share": round(count / total, 4)}
                     for text, count in ranked(summary.openings)[:TOP]],
        "leaks": leak_stats(summary.reviews),
        "judge": {"run": summary.reviews.judge_run, "judged": summary.reviews.judged,
                  "passed": summary.reviews.passed},
        "models": model_stats(summary.tallies), "axes": summary.axes,
        "duplicates": sorted(duplicates.values(), key=lambda row: row["seed"]),
    }


def walk_run(cache_dir: Path, data_dir: Path, url: str, seeds: range, rules: Rules, limit: int | None,
             axes_of: Callable[[int], dict[str, str]], write: Callable[[dict], None]) -> dict:
    """Walk a run's seeds (url: the completions URL), each record through `write`; the summary data."""
    duplicates = read_duplicates(duplicates_path(data_dir))
    with open_cache(cache_dir) as cache:
        walk = Walk(cache, url, data_dir, seeds, rules, limit, axes_of, load_decisions(data_dir), duplicates)
        return summary_data(collect(walk, write), duplicates)
