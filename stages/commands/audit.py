"""`make audit FILE=path`: every local check on an existing JSONL file, made by this tool or any other.

No API and no cache, unless JUDGE=1 (then the judge reads each line that passes; stages/auditjudge.py).
Reads lines of any of the three formats (array, messages, sharegpt; detected
per line unless FORMAT is given), prints the summary `make stats` prints plus counts by reason and
the most frequent leak sentences, and writes DATA_DIR/audit.jsonl: one {"line", "reasons",
"detail"} object per failing line. Exit 0: every line passes; 1: some line fails; 2: bad input.
"""
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

from ..auditjudge import FileJudge, cached_count, cost_line, judge_asks, run_judge
from ..config import (DEFAULT_ATTEMPTS, DEFAULT_MODEL, ascii_option, base_url_option, cache_dir_option,
                      completions_url, data_dir_option, openrouter_option, option)
from ..errors import PipelineError
from ..judging.checks import IDENTITY_REASONS, LEAK, first_order_break, is_message_list, role_problems
from ..judging.dedup import DEFAULT_THRESHOLD, find_duplicates
from ..judging.fidelity import fidelity_lines, fidelity_stats, top_leak_lines
from ..judging.identity import Facts, load_identity
from ..judging.leaks import find_problem
from ..judging.rulereport import group_by_rule, rule_lines
from ..storage.files import write_jsonl_atomic
from .stats import compute_stats, describe_counts, describe_summary, from_sharegpt, row

AUTO = "auto"
SHAPES = {"array": lambda value: value if isinstance(value, list) else None,
          "messages": lambda value: value.get("messages") if isinstance(value, dict) else None,
          "sharegpt": lambda value: from_sharegpt(value.get("conversations")) if isinstance(value, dict) else None}


class BadInput(click.ClickException):
    """A file that cannot be read at all: exit 2, like a usage error, with one line."""
    exit_code = 2


@dataclass(frozen=True)
class LineReport:
    line: int                      # as an editor numbers it, from 1
    messages: list | None          # None when the line is not a conversation
    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # one per reason, same order
    rule: str = ""                 # the leak check's rule behind a leak, denial or junk answer

    def record(self) -> dict:
        detail = " | ".join(d for d in self.details if d)
        return {"line": self.line, "reasons": list(self.reasons), "detail": detail} | (
            {"rule": self.rule} if self.rule else {})


def detect_format(value: object) -> str:
    if isinstance(value, dict) and "conversations" in value:
        return "sharegpt"
    return "messages" if isinstance(value, dict) else "array"


def read_text(path: Path) -> str:
    """The file's text; a missing or binary file is bad input, named with the line of its first bad byte."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file; give FILE=path/to/conversations.jsonl") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot be read ({err.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        number = data[:err.start].count(b"\n") + 1
        raise BadInput(f"{path} line {number}: not UTF-8 text (byte {data[err.start]:#04x}); "
                       "save the file as UTF-8") from None


def parse_value(text: str, path: Path, number: int) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInput(f"{path} line {number}: not JSON ({err.msg} at column {err.colno}); "
                       "fix or delete the line") from None


def shape_of(value: object, fmt: str) -> tuple[list | None, str]:
    """(the messages, "") or (None, what is wrong with the line's shape)."""
    shape = detect_format(value) if fmt == AUTO else fmt
    messages = SHAPES[shape](value)
    if is_message_list(messages) and messages:
        return messages, ""
    return None, f"not a {shape} conversation (a list of messages, each with string role and content)"


def read_lines(path: Path, fmt: str = AUTO) -> list[LineReport]:
    """One report per non-blank line: its messages, or the shape problem that makes it no conversation."""
    reports = []
    # split on "\n" only: str.splitlines would also break at U+2028 inside a JSON string
    for number, text in enumerate(read_text(path).split("\n"), 1):
        if text.strip():
            messages, problem = shape_of(parse_value(text, path, number), fmt)
            reports.append(LineReport(number, messages, ("shape",) if problem else (), (problem,) if problem else ()))
    if not reports:
        raise BadInput(f"{path}: no lines to check; give a JSONL file with one conversation per line")
    return reports


def order_detail(messages: list[dict]) -> str:
    """Where the user/assistant alternation first breaks."""
    index = first_order_break(messages)
    if index is None:
        return ""
    return f"message {index + 1} is {messages[index]['role']!r}, expected {('user', 'assistant')[index % 2]!r}"


ROLE_DETAILS = {"role_order": order_detail,
                "ends_with_user": lambda messages: f"the last message (number {len(messages)}) is the user's"}


def line_checks(messages: list[dict], facts: Facts, ascii_only: bool) -> tuple[list[tuple[str, str]], str]:
    """(reason, detail) pairs for one conversation (role order, content, ASCII, the leak check) and
    the leak check's rule when it fired."""
    found = [(reason, ROLE_DETAILS[reason](messages) if reason in ROLE_DETAILS else "")
             for reason in role_problems(messages, ascii_only)]
    problem = find_problem(messages, facts)
    return found + ([(problem.reason, problem.sentence)] if problem else []), problem.rule if problem else ""


def duplicate_checks(reports: list[LineReport], threshold: float) -> dict[int, tuple[str, str]]:
    """report index -> (reason, detail) for exact and near copies of an earlier line."""
    kept = [i for i, report in enumerate(reports) if report.messages is not None]
    found = find_duplicates([reports[i].messages for i in kept], threshold)
    return {kept[i]: (f"{d.kind}_duplicate", f"copy of line {reports[kept[d.kept]].line}"
                      + (f" (similarity {d.similarity:.2f})" if d.kind == "near" else ""))
            for i, d in found.items()}


def audit_lines(reports: list[LineReport], facts: Facts, ascii_only: bool = False,
                threshold: float = DEFAULT_THRESHOLD) -> list[LineReport]:
    """The reports with every check's reasons and details filled in."""
    copies = duplicate_checks(reports, threshold)
    audited = []
    for index, report in enumerate(reports):
        found, rule = list(zip(report.reasons, report.details)), ""
        if report.messages is not None:
            checked, rule = line_checks(report.messages, facts, ascii_only)
            found += checked
        found += [copies[index]] if index in copies else []
        audited.append(LineReport(report.line, report.messages, tuple(r for r, _ in found), tuple(d for _, d in found),
                                  rule))
    return audited


def leak_sentences(reports: list[LineReport]) -> Counter:
    return Counter(detail for report in reports for reason, detail in zip(report.reasons, report.details)
                   if reason == LEAK)


def summary_lines(reports: list[LineReport], facts: Facts) -> list[str]:
    """What `make stats` prints about a dataset's contents, then the audit's counts by reason."""
    conversations = [report.messages for report in reports if report.messages is not None]
    stats = compute_stats(conversations)
    dup = stats["duplicates"]
    failing = [report for report in reports if report.reasons]
    reasons = Counter(reason for report in failing for reason in report.reasons)
    fidelity = fidelity_stats(conversations, facts, None)
    lines = [row("lines", len(reports)), row("conversations", stats["conversations"]),
             row("turns per conversation", describe_summary(stats["turns"])),
             row("first message scripts", describe_counts(stats["first_message_scripts"])),
             row("duplicates", f"exact {dup['exact']} ({dup['exact_rate']:.1%}), near {dup['near']} "
                               f"({dup['near_rate']:.1%})"),
             row("messages with non-ASCII", stats["non_ascii_messages"])]
    lines += [line for line in fidelity_lines(fidelity, row) if "judge" not in line and "rejected as" not in line]
    lines += [row("failing lines", f"{len(failing)} of {len(reports)}"),
              row("  by reason", describe_counts(dict(sorted(reasons.items()))))]
    return lines + top_leak_lines(leak_sentences(reports)) + rule_lines(group_by_rule(
        (reason, report.rule, detail) for report in reports for reason, detail in zip(report.reasons, report.details)
        if reason in IDENTITY_REASONS))


def judged_reports(reports: list[LineReport], judge: FileJudge, cache_dir: Path, prices) -> list[LineReport]:
    """JUDGE=1: the judge's verdict on every line that passed the local checks, as `judge:<kind>`
    reasons (`judge_no_verdict` when it never answered readably); the cost is printed first."""
    from ..storage.cache import open_cache
    passing = [(report.line, report.messages) for report in reports if report.messages is not None and not report.reasons]
    asks = judge_asks(passing, judge)
    with open_cache(cache_dir) as cache:
        click.echo(cost_line(asks, prices(cache), cached_count(asks, judge, cache)), err=True)
        verdicts, sent = run_judge(asks, judge, cache)
    click.echo(f"audit: {sent} judge requests sent", err=True)
    return [with_judgement(report, verdicts[report.line]) if report.line in verdicts else report for report in reports]


def with_judgement(report: LineReport, verdict) -> LineReport:
    if verdict is None:
        found = [("judge_no_verdict", "")]
    else:
        quotes = " ; ".join(f"{kind}: {quote}" for kind, quote in verdict.problems) if verdict.reasons else ""
        found = [(reason, quotes) for reason in verdict.reasons]
    return LineReport(report.line, report.messages, report.reasons + tuple(r for r, _ in found),
                      report.details + tuple(d for _, d in found), report.rule)


def file_judge(identity_prose: str, model: str, base_url: str, openrouter: str, max_attempts: int) -> FileJudge:
    from ..judging.judge import load_judge
    from ..transport.server import is_openrouter
    return FileJudge(completions_url(base_url), load_judge(identity_prose, model), model,
                     is_openrouter(base_url, openrouter), max_attempts=max_attempts)


def judge_prices(base_url: str, model: str, cache, price_in, price_out):
    from ..transport.prices import given_prices, price_book
    return price_book(base_url, model, cache, given_prices(price_in, price_out)).sync


def audit_path(data_dir: Path) -> Path:
    return data_dir / "audit.jsonl"


@click.command("audit")
@option("FILE", type=click.Path(path_type=Path), required=True,
        help="The JSONL file to check (any tool's output).")
@option("FORMAT", type=click.Choice([AUTO, *SHAPES]), default=AUTO,
        help="Line shape: auto (detected per line), array, messages or sharegpt.")
@option("IDENTITY", type=click.Path(dir_okay=False, path_type=Path), default=None,
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
@base_url_option
@cache_dir_option
@openrouter_option
def audit_command(file, format, identity, ascii, dedup_threshold, data_dir, judge, judge_model, model, max_attempts,
                  price_in, price_out, base_url, cache_dir, openrouter):
    """Check an existing JSONL file: shape, role order, ASCII, identity leaks, duplicates, and with
    JUDGE=1 the judge pass (cached; its cost printed first). Writes DATA_DIR/audit.jsonl; exits 1 when
    a line fails, 2 on unreadable input.

    Example: python -m stages audit --file identity_conversations.jsonl --identity my_identity.md
    """
    try:
        loaded = load_identity(identity)
    except PipelineError as err:
        raise BadInput(str(err)) from None
    facts = loaded.facts
    reports = audit_lines(read_lines(file, format), facts, ascii, dedup_threshold)
    if judge:
        reports = judged_reports(reports, file_judge(loaded.prose, judge_model or model, base_url, openrouter,
                                                     max_attempts), cache_dir,
                                 lambda cache: judge_prices(base_url, judge_model or model, cache, price_in, price_out))
    failing = [report.record() for report in reports if report.reasons]
    write_jsonl_atomic(audit_path(data_dir), failing)
    click.echo("\n".join(summary_lines(reports, facts)))
    click.echo(f"audit: {len(reports) - len(failing)}/{len(reports)} lines pass, {len(failing)} fail; "
               f"failing lines in {audit_path(data_dir)}", err=True)
    if failing:
        click.get_current_context().exit(1)
