"""`make report`: one self-contained HTML file, DATA_DIR/report.html, to browse and review a run.

Every seed's conversation and attempts, searchable and filterable by status, reason, rule and model;
the most repeated assistant sentences and openings, duplicates side by side, axis coverage, cost
and tokens per model. It opens from disk with no server and no network (reporting/).
"""
from pathlib import Path

import click

from ..config import run_options
from ..judging.rules import checks_of, completions_url, rules_for
from ..render import load_sources, pick_axes
from ..reporting.collect import walk_run
from ..reporting.page import RecordFile, write_page


def report_path(data_dir: Path) -> Path:
    return data_dir / "report.html"


def review_args(data_dir: Path) -> str:
    """What a pasted `make review` needs besides the seed: the run's folder (its run record has the rest)."""
    return "" if Path(data_dir) == Path("data") else f" DATA_DIR={data_dir}"


def write_report(data_dir: Path, run) -> tuple[Path, dict]:
    axes, path, checks = load_sources().axes, report_path(data_dir), checks_of(run)
    records = RecordFile(path)
    try:
        summary = walk_run(Path(run.cache_dir), data_dir, completions_url(run.base_url), run.seed_range,
                           rules_for(checks), checks.max_attempts, lambda seed: pick_axes(axes, seed), records.write)
    finally:
        records.close()
    write_page(path, records, summary, f"Identity conversations: {records.count} seeds",
               {"review_args": review_args(data_dir)})
    return path, summary


@click.command("report")
@run_options()
def report_command(data_dir, run):
    """Write DATA_DIR/report.html: every seed's conversation and verdicts, repeats, duplicates, axes, cost.

    Example: python -m stages report --n 1000
    """
    if not Path(run.cache_dir).is_dir():
        raise click.ClickException(f"no cache at {run.cache_dir}: run `make dataset` first, or give CACHE_DIR")
    path, summary = write_report(data_dir, run)
    top = summary["sentences"][0] if summary["sentences"] else None
    said = f"; most repeated sentence in {top['count']} of {summary['in_dataset']} conversations" if top else ""
    click.echo(f"report: {sum(summary['statuses'].values())} seeds written to {path}{said}", err=True)
