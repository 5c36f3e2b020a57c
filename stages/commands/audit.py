"""`make audit FILE=path`: every local check on an existing dataset file, made by this tool or any other.

No API and no cache. Reads JSON lines or one whole-file JSON array, each conversation in any format
of storage/dataformats.py (detected per line unless FORMAT is given), names the shapes it read, prints the summary `make stats` prints plus counts by reason and
the most frequent leak sentences, and writes DATA_DIR/audit.jsonl: one {"line", "reasons",
"detail"} object per failing line. Exit 0: every line passes; 1: some line fails; 2: bad input.
"""
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

from ..config import ascii_option, data_dir_option, option
from ..given import IDENTITY_HOLDS, GivenPath, TextFile
from ..errors import PipelineError
from ..judging.checks import LEAK, first_order_break, role_problems
from ..judging.dedup import DEFAULT_THRESHOLD
from ..judging.fidelity import fidelity_lines, fidelity_stats, top_leak_lines
from ..judging.identity import Facts, load_identity
from ..judging.leaks import find_leak
from ..judging.summary import Summary, describe_counts, describe_numbers, row
from ..storage.dataformats import AUTO, FORMATS, Row, read_conversations
from ..storage.files import write_jsonl_atomic


class BadInput(click.ClickException):
    """A file that cannot be read at all: exit 2, like a usage error, with one line."""
    exit_code = 2


@dataclass(frozen=True)
class LineReport:
    line: int                      # as an editor numbers it, from 1 (the element's number in a JSON array)
    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # one per reason, same order

    def record(self) -> dict:
        detail = " | ".join(d for d in self.details if d)
        return {"line": self.line, "reasons": list(self.reasons), "detail": detail}


def order_detail(messages: list[dict]) -> str:
    """Where the user/assistant alternation first breaks."""
    index = first_order_break(messages)
    if index is None:
        return ""
    return f"message {index + 1} is {messages[index]['role']!r}, expected {('user', 'assistant')[index % 2]!r}"


ROLE_DETAILS = {"role_order": order_detail,
                "ends_with_user": lambda messages: f"the last message (number {len(messages)}) is the user's"}


def line_checks(messages: list[dict], facts: Facts, ascii_only: bool) -> list[tuple[str, str]]:
    """(reason, detail) pairs for one conversation: role order, content, ASCII, the leak check."""
    found = [(reason, ROLE_DETAILS[reason](messages) if reason in ROLE_DETAILS else "")
             for reason in role_problems(messages, ascii_only)]
    leak = find_leak(messages, facts)
    return found + ([(LEAK, leak)] if leak else [])


class Audit:
    """What one pass over a file found: the failing lines, the shapes seen, and what dedup and the
    summary need, never the conversations themselves."""

    def __init__(self, facts: Facts, ascii_only: bool = False, threshold: float = DEFAULT_THRESHOLD):
        self.facts, self.ascii_only, self.lines = facts, ascii_only, 0
        self.shapes: Counter = Counter()
        self.failing: dict[int, list[tuple[str, str]]] = {}
        self.kept_lines = array("q")  # the line of each conversation, in order (for "copy of line N")
        self.summary = Summary(facts, threshold)

    def add(self, row: Row) -> None:
        self.lines += 1
        self.shapes[row.shape or "unknown"] += 1
        if row.messages is None:
            self.failing[row.line] = [("shape", row.problem)]
            return
        found = line_checks(row.messages, self.facts, self.ascii_only)
        if found:
            self.failing[row.line] = found
        self.kept_lines.append(row.line)
        self.summary.add(row.messages)

    def add_duplicates(self, again) -> None:
        """exact_duplicate / near_duplicate for copies of an earlier line; `again` reads the conversations again."""
        for i, d in self.summary.duplicate_map(again).items():
            detail = f"copy of line {self.kept_lines[d.kept]}" + (f" (similarity {d.similarity:.2f})" if d.kind == "near" else "")
            self.failing.setdefault(self.kept_lines[i], []).append((f"{d.kind}_duplicate", detail))

    def reports(self) -> list[LineReport]:
        return [LineReport(line, tuple(r for r, _ in found), tuple(d for _, d in found))
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
    audit.add_duplicates(lambda: (r.messages for r in read_conversations(path, fmt) if r.messages is not None))
    return audit


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
    return lines + top_leak_lines(leak_sentences(reports))


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
def audit_command(file, format, identity, ascii, dedup_threshold, data_dir):
    """Check an existing file without the API or the cache: shape, role order, ASCII, identity
    leaks, duplicates. Writes DATA_DIR/audit.jsonl; exits 1 when a line fails, 2 on unreadable input.

    Example: python -m stages audit --file identity_conversations.jsonl --identity my_identity.md
    """
    try:
        facts = load_identity(identity).facts
    except PipelineError as err:
        raise BadInput(str(err)) from None
    audit = audit_file(file, facts, ascii, dedup_threshold, format)
    reports = audit.reports()
    write_jsonl_atomic(audit_path(data_dir), [report.record() for report in reports])
    again = lambda: (r.messages for r in read_conversations(file, format) if r.messages is not None)  # noqa: E731
    click.echo("\n".join(summary_lines(audit, reports, again)))
    click.echo(f"audit: {audit.lines - len(reports)}/{audit.lines} lines pass, {len(reports)} fail "
               f"(read as {describe_counts(dict(audit.shapes.most_common()))}); failing lines in "
               f"{audit_path(data_dir)}", err=True)
    if reports:
        click.get_current_context().exit(1)
