"""Per-model numbers for `make stats`: with MODELS, which generator gives valid conversations, and at what price.

Walks each seed's cached answers as the dataset does (rules, judge), grouped by the model in the
seed's rendered body: seeds, valid seeds, answers asked and the share of them that passed,
reasons for rejection, the leak and judge rates (fidelity.count_reviews, per model), mean
messages and lengths of the valid conversations, and dollars per valid conversation (every
cached answer of the model's seeds, judge answers included).
"""
import statistics
from collections import Counter
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PipelineError
from ..storage.bodies import load_body
from ..storage.cache import decode_entry
from ..transport.answers import TransientAnswer, Usage, parse_completion, usage_of
from .fidelity import count_reviews, share
from .review import Rules, judge_entry, walk_seed


@dataclass
class ModelTally:
    seeds: int = 0
    valid: int = 0
    answers: int = 0                                  # conversation answers walked (each one was paid for)
    reasons: Counter = field(default_factory=Counter)  # over every rejected answer
    leaks: int = 0                                    # answers rejected as identity leaks
    judged: int = 0                                   # conversations with a readable verdict (JUDGE=1)
    judge_passed: int = 0
    messages: array = field(default_factory=lambda: array("I"))        # packed: 4 bytes a value
    user_chars: array = field(default_factory=lambda: array("I"))
    assistant_chars: array = field(default_factory=lambda: array("I"))
    spent: Usage = field(default_factory=Usage)


def entry_usage(raw: object) -> Usage:
    entry = decode_entry(raw)
    try:
        return usage_of(parse_completion(entry["body"])) if entry else Usage()
    except (TransientAnswer, PipelineError):
        return Usage()


def spending_lookup(cache, rules: Rules, spent: list[Usage]):
    """walk_seed's verdict_of, which also notes what each answer it reads cost."""
    def verdict_of(key: str, kind: str):
        raw = cache.get(key)
        if raw is None:
            return None
        spent.append(entry_usage(raw))
        return judge_entry(raw, rules, kind)
    return verdict_of


def add_seed(tally: ModelTally, review, spent: list[Usage], judge_run: bool) -> None:
    tally.seeds += 1
    tally.answers += len(review.verdicts)
    tally.reasons.update(reason for verdict in review.verdicts for reason in verdict.reasons)
    counts = count_reviews([review], judge_run)
    tally.leaks, tally.judged = tally.leaks + counts.leaks, tally.judged + counts.judged
    tally.judge_passed += counts.passed
    tally.spent = sum(spent, tally.spent)
    conversation = review.conversation
    if conversation is not None:
        tally.valid += 1
        tally.messages.append(len(conversation))
        tally.user_chars.extend(len(m["content"]) for m in conversation if m["role"] == "user")
        tally.assistant_chars.extend(len(m["content"]) for m in conversation if m["role"] == "assistant")


def tally_models(cache, url: str, data_dir: Path, seeds: range, rules: Rules, limit: int | None,
                 tallies: dict[str, "ModelTally"]):
    """Walk the rendered seeds once, adding each to its model's tally (in the order the models first
    appear) and yielding its review, so other counts can ride on the same walk."""
    for seed in seeds:
        try:
            body = load_body(data_dir, seed)
        except PipelineError:
            continue  # not rendered: nothing to look up
        spent: list[Usage] = []
        review = walk_seed(seed, url, body, rules, spending_lookup(cache, rules, spent), limit)
        add_seed(tallies.setdefault(str(body.get("model")), ModelTally()), review, spent, rules.judge is not None)
        yield review


def mean(values) -> float:
    return round(statistics.fmean(values), 1) if values else 0.0


def model_stats(tallies: dict[str, ModelTally]) -> dict[str, dict]:
    """stats.json's "models" section."""
    return {model: {
        "seeds": t.seeds, "valid_seeds": t.valid, "answers": t.answers,
        "valid_answer_rate": share(t.valid, t.answers),
        "rejection_reasons": dict(t.reasons.most_common()),
        "leak_rate": share(t.leaks, t.answers), "judged": t.judged, "judge_pass_rate": share(t.judge_passed, t.judged),
        "mean_messages": mean(t.messages), "mean_user_chars": mean(t.user_chars),
        "mean_assistant_chars": mean(t.assistant_chars),
        "prompt_tokens": t.spent.prompt_tokens, "completion_tokens": t.spent.completion_tokens,
        "cost": round(t.spent.cost, 6),
        "cost_per_valid": round(t.spent.cost / t.valid, 6) if t.valid else None,
    } for model, t in tallies.items()}


def answer_rates(numbers: dict) -> str:
    """"40 answers (87.5% valid, 2.5% leaks, judge passed 90.0% of 35)", leaving out what did not happen."""
    rates = []
    if numbers["valid_answer_rate"] is not None:
        rates.append(f"{numbers['valid_answer_rate']:.1%} valid")
    if numbers["leak_rate"]:
        rates.append(f"{numbers['leak_rate']:.1%} leaks")
    if numbers["judge_pass_rate"] is not None:
        rates.append(f"judge passed {numbers['judge_pass_rate']:.1%} of {numbers['judged']}")
    return f"{numbers['answers']} answers" + (f" ({', '.join(rates)})" if rates else "")


def describe_model(model: str, numbers: dict) -> list[str]:
    price = numbers["cost_per_valid"]
    lines = [f"  {model}",
             f"    {numbers['valid_seeds']}/{numbers['seeds']} seeds valid, {answer_rates(numbers)}, "
             f"{numbers['mean_messages']} messages, {numbers['mean_user_chars']} / "
             f"{numbers['mean_assistant_chars']} chars per user / assistant message, "
             + (f"${price:.4f} per valid conversation" if price is not None else "no valid conversation")]
    reasons = ", ".join(f"{reason} {count}" for reason, count in numbers["rejection_reasons"].items())
    if reasons:
        lines.append(f"    rejected answers: {reasons}")
    return lines


def model_lines(models: dict[str, dict]) -> list[str]:
    """The per-model part of the stats table."""
    lines = ["per model (cached answers of seeds 0..N-1; judge answers count in the cost)"]
    for model, numbers in sorted(models.items()):
        lines += describe_model(model, numbers)
    return lines
