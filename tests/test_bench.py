"""bench end to end: a small real run against the fake API in its own process; no timing assertions."""
import json

from click.testing import CliRunner

from stages.bench import BenchResult, bench_command
from dataclasses import fields


def test_small_bench_counts_requests_and_a_silent_cached_rerun(tmp_path):
    out = tmp_path / "results" / "bench.json"
    args = ["--n", "30", "--workers", "8", "--latency", "0.05", "--out", str(out)]
    result = CliRunner().invoke(bench_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {f.name for f in fields(BenchResult)}
    assert data["requests"] == 30
    assert data["rerun_requests"] == 0
    assert set(data["rerun_stage_seconds"]) == {"prompts", "fetch", "dataset"}
    assert 0 < data["efficiency"] <= 1.5
    assert data["fetch_peak_rss_mb"] > 0
    assert "efficiency" in result.output
