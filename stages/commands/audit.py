"""`make audit FILE=path`: every local check on an existing dataset file, made by this tool or any other.

No API and no cache, unless JUDGE=1 (then the judge reads each line that passes; stages/auditjudge.py).
Reads JSON lines or one whole-file JSON array, each conversation in any format
of storage/dataformats.py (detected per line unless FORMAT is given), names the shapes it read, prints the summary `make stats` prints plus counts by reason and
the most frequent leak sentences, and writes DATA_DIR/audit.jsonl: one {"line", "reasons",
"detail"} object per failing line. Exit 0: every line passes; 1: some line fails; 2: bad input.
"""
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

from ..auditjudge import FileJudge, cost_line, is_cached, judge_ask, run_judge
from ..config import ascii_option, cache_dir_option, data_dir_option, option
from ..given import IDENTITY_HOLDS, GivenPath, TextFile
from ..errors import PipelineError
from ..judging.checks import IDENTITY_REASONS, LEAK, conversation_problems
from ..judging.dedup import DEFAULT_THRESHOLD
from ..judging.fidelity import fidelity_lines, fidelity_stats, top_leak_lines
from ..judging.identity import Facts, load_identity
from ..judging.rulereport import group_by_rule, rule_lines
from ..judging.summary import Summary, describe_counts, describe_numbers, row
from ..storage.dataformats import AUTO, FORMATS, Row, read_conversations
from ..storage.files import write_jsonl_atomic
from ..storage.run import DEFAULT_ATTEMPTS, DEFAULT_BASE_URL, DEFAULT_MODEL
from ..transport.server import OPENROUTER_MODES


class BadInput(click.ClickException):
    """A file that cannot be read at all: exit 2, like a usage error, with one line."""
    exit_code = 2


@dataclass(frozen=True)
class LineReport:
    line: int                      # as an editor numbers it, from 1 (the element's number in a JSON array)
    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # one per reason, same order
    rule: str = ""                 # the leak check's rule behind a leak, denial or junk answer

    def record(self) -> dict:
        detail = " | ".join(d for d in self.details if d)
        return {"line": self.line, "reasons": list(self.reasons), "detail": detail} | (
            {"rule": self.rule} if self.rule else {})


def line_checks(messages: list[dict], facts: Facts, ascii_only: bool) -> tuple[list[tuple[str, str]], str]:
    """(reason, detail) pairs of every check (judging/checks.py's CONVERSATION_CHECKS, the ones
    the review runs) and the leak check's rule when it fired."""
    found = conversation_problems(messages, facts, ascii_only, every=True)
    return [(p.reason, p.detail) for p in found], next((p.rule for p in found if p.rule), "")


class Audit:
    """What one pass over a file found: the failing lines, the shapes seen, and what dedup and the
    summary need, never the conversations themselves."""

    def __init__(self, facts: Facts, ascii_only: bool = False, threshold: float = DEFAULT_THRESHOLD):
        self.facts, self.ascii_only, self.lines = facts, ascii_only, 0
        self.shapes: Counter = Counter()
        self.failing: dict[int, list[tuple[str, str]]] = {}
        self.rules: dict[int, str] = {}  # line -> the leak check's rule, where it fired
        self.kept_lines = array("q")  # the line of each conversation, in order (for "copy of line N")
        self.summary = Summary(facts, threshold)

    def add(self, row: Row) -> None:
        self.lines += 1
        self.shapes[row.shape or "unknown"] += 1
        if row.messages is None:
            self.failing[row.line] = [("shape", row.problem)]
            return
        found, rule = line_checks(row.messages, self.facts, self.ascii_only)
        if found:
            self.failing[row.line] = found
        if rule:
            self.rules[row.line] = rule
        self.kept_lines.append(row.line)
        self.summary.add(row.messages)

    def add_duplicates(self, again) -> None:
        """exact_duplicate / near_duplicate for copies of an earlier line; `again` reads the conversations again."""
        for i, d in self.summary.duplicate_map(again).items():
            detail = f"copy of line {self.kept_lines[d.kept]}" + (f" (similarity {d.similarity:.2f})" if d.kind == "near" else "")
            self.failing.setdefault(self.kept_lines[i], []).append((f"{d.kind}_duplicate", detail))

    def reports(self) -> list[LineReport]:
        return [LineReport(line, tuple(r for r, _ in found), tuple(d for _, d in found), self.rules.get(line, ""))
                for line, found in sorted(self.failing.items())]


def audit_file(path: Path, facts: Facts, ascii_only: bool = False, threshold: float = DEFAULT_THRESHOLD,
               fmt: str = AUTO) -> Audit:
    """Every line's checks in one pass over the file, then duplicates across lines."""
    audit = Audit(facts, ascii_only, threshold)
    try:
        for found in read_conversations(path, fmt):
            audit.add(found)
    except PipelineError as err:
        raise BadInput(str(err)) from None
    if not audit.lines:
        raise BadInput(f"{path}: no lines to check; give a JSONL file with one conversation per line")
    audit.add_duplicates(conversations_again(path, fmt))
    return audit


def conversations_again(path: Path, fmt: str):
    """A function reading the file's conversations (the lines that are one) from the start each call."""
    return lambda: (row.messages for row in read_conversations(path, fmt) if row.messages is not None)


def leak_sentences(reports: list[LineReport]) -> Counter:
    return Counter(detail for report in reports for reason, detail in zip(report.reasons, report.details)
                   if reason == LEAK)


def summary_lines(audit: Audit, reports: list[LineReport], again) -> list[str]:
    """What `make stats` prints about a dataset's contents, then the audit's counts by reason."""
    stats = audit.summary.shape(again)
    dup = stats["duplicates"]
    reasons = Counter(reason for report in reports for reason in report.reasons)
    fidelity = fidelity_stats(audit.summary, None, again)
    lines = [row("lines", audit.lines), row("shapes read", describe_counts(dict(audit.shapes.most_common()))),
             row("conversations", stats["conversations"]),
             row("turns per conversation", describe_numbers(stats["turns"])),
             row("first message scripts", describe_counts(stats["first_message_scripts"])),
             row("duplicates", f"exact {dup['exact']} ({dup['exact_rate']:.1%}), near {dup['near']} "
                               f"({dup['near_rate']:.1%})"),
             row("messages with non-ASCII", stats["non_ascii_messages"])]
    lines += [line for line in fidelity_lines(fidelity, row) if "judge" not in line and "rejected as" not in line]
    lines += [row("failing lines", f"{len(reports)} of {audit.lines}"),
              row("  by reason", describe_counts(dict(sorted(reasons.items()))))]
    return lines + top_leak_lines(leak_sentences(reports)) + rule_lines(group_by_rule(
        (reason, report.rule, detail) for report in reports for reason, detail in zip(report.reasons, report.details)
        if reason in IDENTITY_REASONS))


def passing_lines(audit: Audit, path: Path, fmt: str):
    """(line, messages) of each conversation no local check failed, read from the file again."""
    return ((row.line, row.messages) for row in read_conversations(path, fmt)
            if row.messages is not None and row.line not in audit.failing)


def judge_file(audit: Audit, path: Path, fmt: str, judge: FileJudge, cache_dir: Path, prices_of) -> None:
    """JUDGE=1: the judge's verdict on every line that passed the local checks, added to the audit as
    `judge:<kind>` (`judge_no_verdict` when it never answered readably); the cost is printed first."""
    from ..storage.cache import open_cache
    with open_cache(cache_dir) as cache:
        lines = sum(1 for _ in passing_lines(audit, path, fmt))
        cached = sum(is_cached(judge_ask(line, messages, judge), judge, cache)
                     for line, messages in passing_lines(audit, path, fmt))
        sample = next((judge_ask(line, messages, judge) for line, messages in passing_lines(audit, path, fmt)), None)
        click.echo(cost_line(lines, cached, sample, prices_of(cache)), err=True)
        asks = (judge_ask(line, messages, judge) for line, messages in passing_lines(audit, path, fmt))
        sent = 0
        for ask, verdict, count in run_judge(asks, judge, cache):
            sent += count
            found = judgement(verdict)
            if found:
                audit.failing[ask.line] = found
    click.echo(f"audit: {sent} judge requests sent", err=True)


def judgement(verdict) -> list[tuple[str, str]]:
    if verdict is None:
        return [("judge_no_verdict", "")]
    quotes = " ; ".join(f"{kind}: {quote}" for kind, quote in verdict.problems) if verdict.reasons else ""
    return [(reason, quotes) for reason in verdict.reasons]


def file_judge(identity_prose: str, model: str, base_url: str, openrouter: str, max_attempts: int) -> FileJudge:
    from ..judging.judge import load_judge
    from ..judging.rules import completions_url
    from ..transport.server import is_openrouter
    return FileJudge(completions_url(base_url), load_judge(identity_prose, model), model,
                     is_openrouter(base_url, openrouter), max_attempts=max_attempts)


def judge_prices(base_url: str, model: str, cache, price_in, price_out):
    from ..transport.prices import given_prices, price_book
    return price_book(base_url, model, cache, given_prices(price_in, price_out)).sync


def audit_path(data_dir: Path) -> Path:
    return data_dir / "audit.jsonl"


@click.command("audit")
@option("FILE", type=GivenPath("FILE", "make audit FILE=data/identity_conversations.jsonl"), required=True,
        help="The file to check: JSON lines or one JSON array, of any tool's output.")
@option("FORMAT", type=click.Choice([AUTO, *FORMATS]), default=AUTO,
        help="Line shape: auto (detected per line), " + ", ".join(FORMATS) + ".")
@option("IDENTITY", type=TextFile(IDENTITY_HOLDS), default=None,
        help="Identity file whose facts the leak check reads (default prompts/identity.md).")
@ascii_option
@option("DEDUP_THRESHOLD", type=click.FloatRange(0.5, 1), default=DEFAULT_THRESHOLD,
        help="Similarity from which two conversations count as near duplicates.")
@data_dir_option
@option("JUDGE", type=click.BOOL, default=False, help="Have JUDGE_MODEL read each line that passes (1 or 0).")
@option("JUDGE_MODEL", default="", help="Model of the judge pass; empty means MODEL.")
@option("MODEL", default=DEFAULT_MODEL, help="The judge's model when JUDGE_MODEL is empty.")
@option("MAX_ATTEMPTS", type=click.IntRange(min=1), default=DEFAULT_ATTEMPTS,
        help="Judge answers per line until one is a readable verdict.")
@option("PRICE_IN", type=click.FloatRange(min=0), default=None, help="Dollars per million input tokens.")
@option("PRICE_OUT", type=click.FloatRange(min=0), default=None, help="Dollars per million output tokens.")
@option("BASE_URL", default=DEFAULT_BASE_URL, help="OpenAI-compatible API root of the judge (JUDGE=1).")
@option("OPENROUTER", type=click.Choice(OPENROUTER_MODES), default="auto",
        help="Send OpenRouter-only fields and keys: auto (when BASE_URL is openrouter.ai), 1 or 0.")
@cache_dir_option
def audit_command(file, format, identity, ascii, dedup_threshold, data_dir, judge, judge_model, model, max_attempts,
                  price_in, price_out, base_url, openrouter, cache_dir):
    """Check an existing file: shape, role order, ASCII, identity leaks, duplicates, and with JUDGE=1
    the judge pass (cached; its cost printed first). Writes DATA_DIR/audit.jsonl; exits 1 when a line
    fails, 2 on unreadable input.

    Example: python -m stages audit --file identity_conversations.jsonl --identity my_identity.md
    """
    try:
        loaded = load_identity(identity)
    except PipelineError as err:
        raise BadInput(str(err)) from None
    facts = loaded.facts
    audit = audit_file(file, facts, ascii, dedup_threshold, format)
    if judge:
        judge_file(audit, file, format, file_judge(loaded.prose, judge_model or model, base_url, openrouter,
                                                   max_attempts), cache_dir,
                   lambda cache: judge_prices(base_url, judge_model or model, cache, price_in, price_out))
    reports = audit.reports()
    write_jsonl_atomic(audit_path(data_dir), [report.record() for report in reports])
    click.echo("\n".join(summary_lines(audit, reports, conversations_again(file, format))))
    click.echo(f"audit: {audit.lines - len(reports)}/{audit.lines} lines pass, {len(reports)} fail "
               f"(read as {describe_counts(dict(audit.shapes.most_common()))}); failing lines in "
               f"{audit_path(data_dir)}", err=True)
    if reports:
        click.get_current_context().exit(1)
