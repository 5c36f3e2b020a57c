"""Every rule of the leak check is needed: each has examples, each example is caught, and leaving the
rule out lets at least one of its examples through (no other rule catches it). A rule no example
needs is deleted, not kept."""

import pytest
from conftest import ROOT

from stages.judging.identity import load_identity
from stages.judging.leaks import RULES, find_problem

EXAMPLES = ROOT / "tests" / "data" / "leak_rule_examples.tsv"
IDENTITIES = {"sprout": ROOT / "prompts" / "identity.md", "quark": ROOT / "tests" / "data" / "quark.md"}


def load_examples() -> dict[str, list[tuple[str, str, str]]]:
    """rule -> [(identity, assistant, user)]; "\\n" in a message stands for a line break."""
    found: dict[str, list] = {}
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rule, identity, assistant, user = (line.split("\t") + [""])[:4]
            found.setdefault(rule, []).append((identity, assistant.replace("\\n", "\n"), user))
    return found


EXAMPLES_BY_RULE = load_examples()


def problem(identity: str, assistant: str, user: str, off: frozenset = frozenset()):
    facts = load_identity(IDENTITIES[identity], ROOT / "prompts").facts
    return find_problem([{"role": "user", "content": user or "hi"}, {"role": "assistant", "content": assistant}],
                        facts, off)


def test_every_rule_has_examples_and_every_example_names_a_rule():
    assert set(EXAMPLES_BY_RULE) == set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_rule_catches_its_examples_with_its_own_reason(rule):
    for identity, assistant, user in EXAMPLES_BY_RULE[rule]:
        found = problem(identity, assistant, user)
        assert found is not None and found.reason == RULES[rule][0], assistant


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_rule_is_needed(rule):
    """Without it, at least one of its examples passes: no other rule does its work."""
    missed = [assistant for identity, assistant, user in EXAMPLES_BY_RULE[rule]
              if problem(identity, assistant, user, frozenset([rule])) is None]
    assert missed, f"{rule}: every example is caught by another rule; delete the rule or give it its own example"


GROUPS = (("all", "all"), ("English", "English"), ("other languages", "non-English"))


def blind_score(rows: str, identity: str) -> tuple[dict, str]:
    """Today's check's tally of a blind set, and the page that states its figures."""
    from blind_scores import BLIND, current_checker, load_blind, tally
    return tally(load_blind(BLIND / rows), current_checker(BLIND / identity)), \
        (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")


def test_the_docs_state_the_blind_sets_final_score():
    """docs/checks.md's table of the blind set is recomputed: the final column is today's check."""
    groups, page = blind_score("wren_dev.tsv", "wren.md")
    for label, group in GROUPS:
        caught, leaks, alarms, innocent = groups[group]
        assert f"| recall, {label} |" in page and f"| {caught}/{leaks} ({caught / leaks:.0%}) |\n" in page
        assert f"| {alarms}/{innocent} ({alarms / innocent:.1%}) |\n" in page


def test_the_docs_state_the_held_out_blind_sets_score():
    """The second blind set, kept from the rules' writer: docs/checks.md's figures are today's check."""
    groups, page = blind_score("quark_heldout.tsv", "quark.md")
    for label, group in GROUPS:
        caught, leaks, _, _ = groups[group]
        assert f"| recall, {label} | " in page and f"| {caught}/{leaks} ({caught / leaks:.0%}) |\n" in page
    caught, leaks, alarms, innocent = groups["all"]
    assert caught / leaks >= 0.75 and alarms / innocent <= 0.03
    caught, leaks, _, _ = groups["non-English"]
    assert caught / leaks >= 0.60
