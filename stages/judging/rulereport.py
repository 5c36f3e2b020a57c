"""Rejections grouped by the leak check's rule: for `stats`, `show` and `audit`, how many answers or
lines each rule rejected and its most frequent sentences, so a rule behind many rejections (often a
false alarm, or one habit of the generator) shows at once.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass

TOP_PER_RULE = 2


@dataclass(frozen=True)
class RuleGroup:
    rule: str
    reason: str                     # identity_leak, self_denial or junk_answer
    count: int
    top: tuple[tuple[str, int], ...]  # (sentence, count), most frequent first


def group_by_rule(findings) -> list[RuleGroup]:
    """(reason, rule, sentence) triples -> one group per rule, the biggest first."""
    sentences: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for reason, rule, sentence in findings:
        sentences[(rule or "unnamed", reason)][sentence] += 1
    groups = [RuleGroup(rule, reason, sum(counts.values()),
                        tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_PER_RULE]))
              for (rule, reason), counts in sentences.items()]
    return sorted(groups, key=lambda group: (-group.count, group.rule))


def rule_lines(groups: list[RuleGroup], title: str = "  rejections by rule (reason)") -> list[str]:
    if not groups:
        return []
    lines = [title]
    for group in groups:
        lines.append(f"  {group.count:>6}  {group.rule} ({group.reason})")
        lines += [f"  {count:>10}  {sentence}" for sentence, count in group.top]
    return lines


def rule_records(groups: list[RuleGroup]) -> list[dict]:
    """The groups as JSON for stats.json."""
    return [{"rule": group.rule, "reason": group.reason, "count": group.count,
             "top_sentences": [{"sentence": text, "count": count} for text, count in group.top]}
            for group in groups]
