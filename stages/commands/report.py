"""`make report`: one self-contained HTML file, DATA_DIR/report.html, to browse and review a run.

Every seed's conversation and attempts, searchable and filterable by status, reason, rule and model;
the most repeated assistant sentences and openings, duplicates side by side, axis coverage, cost
and tokens per model. It opens from disk with no server and no network (reporting/).
"""
from pathlib import Path

import click

from ..config import DEFAULT_ATTEMPTS, DEFAULT_BASE_URL, check_options, completions_url, count_option, \
    location_options, seed_range
from ..reporting.collect import walk_run
from ..reporting.page import RecordFile, write_page
from .prompts import load_sources, pick_axes
from .validate import rules_for


def report_path(data_dir: Path) -> Path:
    return data_dir / "report.html"


def review_args(data_dir: Path, cache_dir: Path, base_url: str, checks) -> str:
    """The settings a pasted `make review` needs to find this run, those not at their default."""
    pairs = [("DATA_DIR", str(data_dir), "data"), ("CACHE_DIR", str(cache_dir), "cache"),
             ("BASE_URL", base_url, DEFAULT_BASE_URL), ("JUDGE", str(int(checks.judge)), "0"),
             ("JUDGE_MODEL", checks.judge_model, ""), ("ASCII", str(int(checks.ascii_only)), "0"),
             ("MAX_ATTEMPTS", str(checks.max_attempts), str(DEFAULT_ATTEMPTS)),
             ("IDENTITY", str(checks.identity or ""), "")]
    return "".join(f" {name}={value}" for name, value, default in pairs if value != default)


def write_report(data_dir: Path, cache_dir: Path, base_url: str, seeds: range, checks) -> tuple[Path, dict]:
    axes, path = load_sources().axes, report_path(data_dir)
    records = RecordFile(path)
    try:
        summary = walk_run(cache_dir, data_dir, completions_url(base_url), seeds, rules_for(checks),
                           checks.max_attempts, lambda seed: pick_axes(axes, seed), records.write)
    finally:
        records.close()
    settings = {"review_args": review_args(data_dir, cache_dir, base_url, checks)}
    write_page(path, records, summary, f"Identity conversations: {records.count} seeds", settings)
    return path, summary


@click.command("report")
@count_option
@location_options
@check_options
def report_command(n, seeds, data_dir, cache_dir, base_url, checks):
    """Write DATA_DIR/report.html: every seed's conversation and verdicts, repeats, duplicates, axes, cost.

    Example: python -m stages report --n 1000
    """
    if not cache_dir.is_dir():
        raise click.ClickException(f"no cache at {cache_dir}: run `make dataset` first, or give CACHE_DIR")
    path, summary = write_report(data_dir, cache_dir, base_url, seed_range(n, seeds), checks)
    top = summary["sentences"][0] if summary["sentences"] else None
    said = f"; most repeated sentence in {top['count']} of {summary['in_dataset']} conversations" if top else ""
    click.echo(f"report: {sum(summary['statuses'].values())} seeds written to {path}{said}", err=True)
