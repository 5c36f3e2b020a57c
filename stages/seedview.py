"""One seed described for a person (`make show SEED=n`): what varies in its prompt, every cached
attempt and its verdict (the judge's too, with JUDGE=1), the final conversation."""
from collections import Counter
from pathlib import Path

from .elsewhere import elsewhere_hint
from .errors import PipelineError
from .judging.decisions import best_conversation, describe_decision, load_decisions
from .judging.checks import IDENTITY_REASONS, Verdict, first_order_break
from .judging.review import SeedReview, review_seed
from .judging.rules import CheckChoice, completions_url, rules_for
from .storage.bodies import load_body
from .storage.cache import KeyMaker, decode_entry
from .transport.answers import TransientAnswer, parse_completion
from .render import load_sources, pick_axes, pick_examples


def describe_prompt(seed: int, model: str | None = None) -> list[str]:
    sources = load_sources()  # axes and examples depend on the seed only, not on IDENTITY or CONTEXT
    lines = [f"seed {seed}"] + ([f"  model: {model}"] if model else []) + ["  axes:"]
    lines += [f"    {name}: {item}" for name, item in pick_axes(sources.axes, seed).items()]
    lines += ["  example first messages:"] + [f"    - {text}" for text in pick_examples(sources.first_messages, seed)]
    return lines


def describe_judge(answers: tuple[Verdict, ...]) -> list[str]:
    lines = []
    for number, answer in enumerate(answers):
        said = "no verdict: its answer did not follow the verdict format, so it was asked again" if (
            answer.reasons == ["judge_invalid"]) else (
            "fail" if answer.reasons else "pass")
        lines.append(f"    judge {number}: {said}")
        lines += [f"      {kind}: {quote!r}" for kind, quote in answer.problems]
    return lines


def describe_attempts(review: SeedReview, raw_of) -> list[str]:
    lines = []
    for attempt, verdict in enumerate(review.verdicts):
        outcome = "valid (used)" if verdict.valid else "rejected: " + ", ".join(verdict.reasons)
        lines.append(f"  attempt {attempt}: {outcome}")
        lines += identity_lines(verdict)
        judged = review.judge_verdicts[attempt] if attempt < len(review.judge_verdicts) else ()
        lines += describe_judge(judged)
        if not verdict.valid and not judged and not verdict.problems:
            lines += rejected_messages(verdict.messages) if verdict.messages else content_start(raw_of(attempt))
    if review.gap and review.gap.kind == "judge":
        lines.append(f"  attempt {len(review.verdicts)}: passed the checks, waiting for the judge")
        lines += describe_judge(review.judge_verdicts[-1] if review.judge_verdicts else ())
    return lines


def identity_lines(verdict: Verdict) -> list[str]:
    """The leak check's rejection: its reason, the rule that fired and the sentence."""
    rule = f" (rule {verdict.rule})" if verdict.rule else ""
    return [f"    {kind}{rule}: {quote!r}" for kind, quote in verdict.problems if kind in IDENTITY_REASONS]


def rejected_messages(messages: list[dict]) -> list[str]:
    """A rejected conversation role by role, the first message out of the user/assistant order marked."""
    broken = first_order_break(messages)
    lines = []
    for index, message in enumerate(messages):
        mark = f"   <- out of order: expected {('user', 'assistant')[index % 2]}" if index == broken else ""
        lines.append(f"    {index + 1:>3} {message['role']:>9}: {message['content'][:200]!r}{mark}")
    return lines


def content_start(raw: object) -> list[str]:
    """The start of what the model wrote, for an answer that holds no conversation to list."""
    entry = decode_entry(raw)
    if entry is None:
        return []
    try:
        message = parse_completion(entry["body"])["choices"][0].get("message") or {}
    except (TransientAnswer, PipelineError, LookupError, TypeError, AttributeError):
        return [f"    answer starts: {entry['body'].strip()[:160]!r}"]  # not even a completion
    content = message.get("content") if isinstance(message, dict) else None
    return [f"    content starts: {str(content or '').strip()[:160]!r}"]


def not_cached_lines(cache, seed: int, base_url: str) -> list[str]:
    hint = elsewhere_hint(cache, range(seed, seed + 1), base_url, f"show SEED={seed}")
    return [f"  no cached attempts; {hint}" if hint else "  no cached attempts: run `make fetch`"]


def describe_conversation(messages: list | None) -> list[str]:
    if messages is None:
        return ["conversation: none valid yet"]
    return ["conversation:"] + format_messages(messages)


def format_messages(messages: list[dict]) -> list[str]:
    return [f"  {m['role']:>9}: {m['content']}" for m in messages]


def describe_seed(cache, data_dir: Path, seed: int, base_url: str, checks: CheckChoice) -> list[str]:
    """What `make show` prints for one seed."""
    body, url = load_body(data_dir, seed), completions_url(base_url)
    review = review_seed(cache, url, body, seed, rules_for(checks), checks.max_attempts)
    keys = KeyMaker(url, body)
    attempt_lines = describe_attempts(review, lambda attempt: cache.get(keys.key(attempt)))
    if not review.verdicts and not review.judge_verdicts:
        attempt_lines = not_cached_lines(cache, seed, base_url)
    return (describe_prompt(seed, body.get("model")) + ["attempts:"] + attempt_lines
            + describe_conversation(review.conversation)
            + describe_decision(load_decisions(data_dir).get(seed), best_conversation(review)))


def rejected_answers(reviews: list) -> str:
    """Why answers were rejected and asked again, over every attempt (not only the final ones)."""
    reasons = Counter(reason for review in reviews for verdict in review.verdicts for reason in verdict.reasons)
    return ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())) or "none"


def first_example(reviews: list, reason: str, title: str) -> list[str]:
    """The attempts of the first seed with an answer rejected for `reason` (a prefix), as `make show` lists them."""
    for review in reviews:
        if any(r.startswith(reason) for verdict in review.verdicts for r in verdict.reasons):
            return [f"demo: seed {review.seed}, {title}:"] + describe_attempts(review, lambda attempt: None)
    return []
