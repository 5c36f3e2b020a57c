"""What the dataset teaches, beyond its shape: the fidelity numbers of `make stats`.

From the cache review of the seeds: answers rejected as identity leaks, and (with JUDGE=1) the
judge's pass rate and problems by kind. From the dataset file: how often the assistant states
its own name, how often a non-English first message is answered in English, and the assistant
sentences most repeated across conversations.
"""
from collections import Counter
from dataclasses import dataclass

from .checks import IDENTITY_REASONS, LEAK
from .rulereport import RuleGroup, group_by_rule, rule_lines, rule_records
from .summary import Summary, share

TOP_LEAKS = 3  # the rejected leak sentences shown: a high leak share that is one sentence is a false alarm


@dataclass(frozen=True)
class ReviewCounts:
    """What the review of the seeds' cached answers saw: leak rejections and judge verdicts."""
    answers: int = 0                # conversation answers checked (attempts walked)
    leaks: int = 0                  # of which rejected as identity_leak
    leak_seeds: int = 0             # seeds with at least one leak caught
    judge_run: bool = False         # JUDGE=1: the review read the judge's verdicts
    judged: int = 0                 # conversations with a readable verdict
    passed: int = 0
    problems: tuple[tuple[str, int], ...] = ()   # (kind, count) over failed verdicts
    leak_sentences: tuple[tuple[str, int], ...] = ()  # (rejected sentence, count), most frequent first
    by_rule: tuple = ()             # RuleGroups of the leak check's rejections (leaks, denials, junk)


def final_verdict(answers: tuple) -> object | None:
    """The judge's readable verdict on one conversation; unreadable answers were asked again."""
    readable = [answer for answer in answers if answer.reasons != ["judge_invalid"]]
    return readable[-1] if readable else None


def count_reviews(reviews, judge_run: bool) -> ReviewCounts:
    """Leak and judge counts over SeedReviews (see review.walk_seed)."""
    answers = leaks = leak_seeds = judged = passed = 0
    problems: Counter = Counter()
    sentences_seen: Counter = Counter()
    findings = []
    for review in reviews:
        findings += identity_findings(review.verdicts)
        found = sum(LEAK in verdict.reasons for verdict in review.verdicts)
        sentences_seen.update(quote for verdict in review.verdicts for kind, quote in verdict.problems if kind == LEAK)
        answers, leaks, leak_seeds = answers + len(review.verdicts), leaks + found, leak_seeds + (found > 0)
        for verdict in filter(None, map(final_verdict, review.judge_verdicts)):
            judged, passed = judged + 1, passed + (not verdict.reasons)
            problems.update(kind for kind, _ in verdict.problems if verdict.reasons)
    return ReviewCounts(answers, leaks, leak_seeds, judge_run, judged, passed, tuple(sorted(problems.items())),
                        tuple(ranked(sentences_seen)[:TOP_LEAKS]), tuple(group_by_rule(findings)))


def identity_findings(verdicts) -> list[tuple[str, str, str]]:
    """(reason, rule, sentence) of each verdict the leak check rejected."""
    return [(kind, getattr(verdict, "rule", ""), quote) for verdict in verdicts
            for kind, quote in verdict.problems if kind in IDENTITY_REASONS]


def ranked(counts: Counter) -> list[tuple[str, int]]:
    """Most frequent first, ties in text order, so the same counts always print the same."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def leak_stats(counts: ReviewCounts | None) -> dict | None:
    if counts is None:
        return None
    return {"answers_checked": counts.answers, "rejected": counts.leaks, "seeds": counts.leak_seeds,
            "rate": share(counts.leaks, counts.answers),
            "top_sentences": [{"sentence": text, "count": count} for text, count in counts.leak_sentences],
            "by_rule": rule_records(list(counts.by_rule))}


def judge_stats(counts: ReviewCounts | None) -> dict:
    """Pass rate and problems by kind of the judge pass; {"run": False} without JUDGE=1 or a cache."""
    if counts is None or not counts.judge_run:
        return {"run": False}
    return {"run": True, "judged": counts.judged, "passed": counts.passed,
            "pass_rate": share(counts.passed, counts.judged), "problems_by_kind": dict(counts.problems)}


def fidelity_stats(summary: Summary, counts: ReviewCounts | None, again) -> dict:
    """counts is None when there is no cache to review; `again` reads the conversations once more."""
    return {"leaks": leak_stats(counts), "judge": judge_stats(counts),
            "names_stated": summary.names_stated(), "english_replies": summary.english_replies(),
            "repeated_sentences": summary.repeated_sentences(again)}


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def describe_leaks(leaks: dict | None) -> str:
    if leaks is None:
        return "unknown (no cache)"
    return (f"{leaks['rejected']} of {leaks['answers_checked']} answers checked ({percent(leaks['rate'])}), "
            f"in {leaks['seeds']} seeds")


def describe_judge(judge: dict) -> tuple[str, str]:
    """(pass rate, problems by kind) as table cells."""
    if not judge["run"]:
        return "not run (JUDGE=0)", "not run"
    problems = ", ".join(f"{kind}: {count}" for kind, count in judge["problems_by_kind"].items()) or "none"
    return f"{percent(judge['pass_rate'])} of {judge['judged']} conversations judged", problems


def describe_names(names: dict | None) -> str:
    if names is None:
        return "unknown (the identity's facts state no name)"
    return f"{percent(names['rate'])} of conversations ({names['conversations']}; {', '.join(names['names'])})"


def describe_replies(replies: dict) -> str:
    return (f"{replies['non_english_first']} non-English first messages, {percent(replies['rate'])} "
            f"answered in English ({replies['answered_in_english']})")


def fidelity_lines(fidelity: dict, row) -> list[str]:
    """The fidelity part of the stats table; row(label, value) formats one line."""
    pass_rate, problems = describe_judge(fidelity["judge"])
    lines = ["fidelity (what the conversations teach)",
             row("  rejected as leaks", describe_leaks(fidelity["leaks"])),
             *top_leak_lines(Counter({item["sentence"]: item["count"]
                                      for item in (fidelity["leaks"] or {}).get("top_sentences", [])})),
             *by_rule_lines((fidelity["leaks"] or {}).get("by_rule", [])),
             row("  judge pass rate", pass_rate),
             row("  judge problems by kind", problems),
             row("  states its own name", describe_names(fidelity["names_stated"])),
             row("  other-language openers", describe_replies(fidelity["english_replies"])),
             "most repeated assistant sentences (conversations containing each)"]
    return lines + [f"  {item['count']:>6}  {item['sentence']}" for item in fidelity["repeated_sentences"]]


def by_rule_lines(records: list[dict]) -> list[str]:
    """stats.json's by_rule records as lines (rule_lines reads RuleGroups; these are their JSON)."""
    groups = [RuleGroup(r["rule"], r["reason"], r["count"], tuple((s["sentence"], s["count"]) for s in r["top_sentences"]))
              for r in records]
    return rule_lines(groups)


def top_leak_lines(sentences: Counter) -> list[str]:
    """The most frequent rejected leak sentences; read them before changing the model: one sentence
    behind most rejections is usually a false alarm (a vendor to `allow:`, a pattern to fix)."""
    if not sentences:
        return []
    return ["  most frequent rejected leak sentences"] + [
        f"  {count:>6}  {text}" for text, count in ranked(sentences)[:TOP_LEAKS]]


def fidelity_bars(fidelity: dict) -> dict[str, float | None]:
    """The shares the stats.png panel draws, in percent (None: not measured)."""
    def pct(rate):
        return None if rate is None else 100 * rate
    leaks, names = fidelity["leaks"], fidelity["names_stated"]
    judge = fidelity["judge"]
    return {"answers\nrejected\nas leaks": pct(leaks and leaks["rate"]),
            "judge\npass rate": pct(judge.get("pass_rate")) if judge["run"] else None,
            "states\nits name": pct(names and names["rate"]),
            "other-language\nopeners answered\nin English": pct(fidelity["english_replies"]["rate"])}


def draw_fidelity(axes, fidelity: dict) -> None:
    bars = fidelity_bars(fidelity)
    labels = list(bars)
    values = [value or 0.0 for value in bars.values()]
    axes.barh(labels, values)
    for y, value in enumerate(bars.values()):
        axes.text(1, y, "not measured" if value is None else f"{value:.1f}%", va="center")
    axes.set(title="Fidelity", xlabel="percent", xlim=(0, 100))
    axes.invert_yaxis()
