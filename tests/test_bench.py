"""bench end to end: a small real run against the fake API in its own process; no timing assertions."""
import json
from dataclasses import fields

import pytest
from click.testing import CliRunner

from benchmark import BenchResult, Case, CaseList, SizePair, bench_command


def test_small_bench_compares_with_the_baseline_and_times_faults_start_up_and_rebuilds(tmp_path):
    out = tmp_path / "results" / "bench.json"
    args = ["--bench-cases", "30x8,12x4", "--bench-latency", "0.05", "--bench-fault-rate", "0.3",
            "--bench-rebuild-n", "60", "--bench-repeats", "1", "--bench-sizes", "20,60", "--out", str(out)]
    result = CliRunner().invoke(bench_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {f.name for f in fields(BenchResult)}
    assert [(c["n"], c["workers"]) for c in data["cases"]] == [(30, 8), (12, 4)]
    for case in data["cases"]:
        assert case["fetch_requests"] == case["baseline_requests"] == case["n"]  # the same bodies, once each
        assert 0 < case["speed_vs_baseline"] and 0 < case["fetch_efficiency"] <= 1.5
    assert data["cached_rerun_requests"] == 0
    assert set(data["cached_rerun_seconds"]) == {"prompts", "fetch", "dataset"}
    faults = data["faults"]
    assert (faults["n"], faults["workers"]) == (12, 4)
    assert faults["valid"] == 12 and faults["requests"] > 12 and faults["busyness"] > 0
    assert data["rebuild"]["unchanged_same_bytes"] is True and data["rebuild"]["speed_vs_fresh"] > 0
    assert set(data["memory"]["rss_ratios"]) == {"prompts", "fetch", "validate", "dataset", "stats"}
    assert "speed vs baseline" in result.output and "workers busy" in result.output
    memory = data["memory"]
    assert (memory["small"]["n"], memory["large"]["n"]) == (20, 60)
    for scale in (memory["small"], memory["large"]):
        assert list(scale["stages"]) == ["prompts", "fetch", "validate", "dataset", "stats"]
        assert all(run["peak_rss_mb"] > 10 and run["seconds"] > 0 for run in scale["stages"].values())
        assert scale["prompts_disk_mb"] > 0 and scale["cache_disk_mb"] > 0
    assert memory["large"]["prompts_disk_mb"] > memory["small"]["prompts_disk_mb"]  # three times the request files
    fetch_peaks = [memory[size]["stages"]["fetch"]["peak_rss_mb"] for size in ("large", "small")]
    assert memory["fetch_rss_ratio"] == pytest.approx(fetch_peaks[0] / fetch_peaks[1], abs=0.01)
    assert "fetch peak memory at N=60 over N=20" in result.output


@pytest.mark.parametrize("text, cases", [("200x16", (Case(200, 16),)),
                                         ("200x16,2000x64", (Case(200, 16), Case(2000, 64))),
                                         ("200x16 4000x256", (Case(200, 16), Case(4000, 256)))])
def test_cases_parse(text, cases):
    assert CaseList().convert(text, None, None) == cases


@pytest.mark.parametrize("text", ["200", "200x0", "x16", "200x2000", "ax4"])
def test_bad_cases_are_one_line_errors(text):
    result = CliRunner().invoke(bench_command, ["--bench-cases", text])
    assert result.exit_code == 2
    assert "is not a case like 2000x64" in result.output


def test_sizes_parse_and_bad_sizes_are_one_line_errors():
    assert SizePair().convert("1000,10000", None, None) == (1000, 10000)
    for text in ["1000", "10000,1000", "0,10", "a,b", "1,2,3"]:
        result = CliRunner().invoke(bench_command, ["--bench-sizes", text])
        assert result.exit_code == 2 and "is not two sizes like 1000,10000" in result.output, text
