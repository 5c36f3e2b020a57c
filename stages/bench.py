"""`python -m stages bench`: time a real fetch against the fake API running in its own process.

In: N, WORKERS and the fake's latency, jitter and fault rate. Out: wall time, efficiency, peak memory and CPU
of fetch, the fake's CPU cost per request, and a cached rerun (prompts, fetch, dataset), on stdout and as JSON.
Linux only: it reads the fake's CPU time from /proc and the children's usage with os.wait4.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import click

from .config import option_variables
from .dataset import dataset_command
from .errors import PipelineError
from .fetch import fetch_command
from .files import write_atomic
from .prompts import prompts_command

DUMMY_KEY = "sk-or-v1-bench-dummy-key"
FETCH_TIMEOUT = 60


@dataclass(frozen=True)
class BenchConfig:
    n: int
    workers: int
    latency: float
    jitter: float
    fault_rate: float


@dataclass(frozen=True)
class Folders:
    data: Path
    cache: Path
    log: Path  # the children's stderr, to quote when one fails


@dataclass(frozen=True)
class Fake:
    pid: int
    base_url: str


@dataclass(frozen=True)
class ChildRun:
    wall: float
    cpu: float
    peak_rss_mb: float


@dataclass(frozen=True)
class BenchResult:
    n: int
    workers: int
    latency: float
    jitter: float
    fault_rate: float
    wall_seconds: float
    ideal_seconds: float
    efficiency: float
    requests: int
    requests_per_second: float
    fetch_peak_rss_mb: float
    fetch_cpu_seconds: float
    server_cpu_seconds: float
    server_capacity_rps: float | None
    rerun_seconds: float
    rerun_requests: int
    rerun_stage_seconds: dict[str, float]


def child_env() -> dict[str, str]:
    """The stages' own variables (N, RPM, BUDGET, ...) are dropped so only our flags count."""
    names = option_variables((prompts_command, fetch_command, dataset_command))
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(OPENROUTER_API_KEY=DUMMY_KEY, NO_PROXY="127.0.0.1,localhost")
    return env


def stages_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "stages", *map(str, args)]


def last_line(path: Path) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def run_child(args: list[str], log: Path) -> ChildRun:
    """Run one stage; os.wait4 gives this child's own peak RSS and CPU, not the max over all children."""
    start = time.perf_counter()
    with log.open("ab") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=child_env())
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait for it again
    if proc.returncode:
        raise PipelineError(f"bench: `{' '.join(args[2:4])}` exited with {proc.returncode}: {last_line(log)}")
    return ChildRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def fake_server(config: BenchConfig) -> Iterator[Fake]:
    """The fake API in a separate process, so it does not share fetch's GIL; always stopped."""
    args = stages_args("fakeapi", "--port", 0, "--latency", config.latency, "--jitter", config.jitter,
                       "--fault-rate", config.fault_rate)
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=child_env()) as proc:
        try:
            base_url = proc.stdout.readline().strip()
            if not base_url.startswith("http"):
                raise PipelineError("bench: the fake API did not print its base URL; try `python -m stages fakeapi`")
            yield Fake(proc.pid, base_url)
        finally:
            stop(proc)


def fake_requests(fake: Fake) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    with opener.open(fake.base_url + "/stats", timeout=10) as response:
        return int(json.load(response)["requests"])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process; fields 14 and 15 of /proc/PID/stat, after the ')' of its name."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stage_runs(config: BenchConfig, folders: Folders, base_url: str) -> dict[str, list[str]]:
    """The three commands `make dataset` runs, in its order."""
    data = ("--n", config.n, "--data-dir", folders.data)
    located = (*data, "--cache-dir", folders.cache, "--base-url", base_url)
    return {"prompts": stages_args("prompts", *data),
            "fetch": stages_args("fetch", *located, "--workers", config.workers, "--timeout", FETCH_TIMEOUT),
            "dataset": stages_args("dataset", *located)}


def measure_fetch(config: BenchConfig, folders: Folders, fake: Fake) -> tuple[ChildRun, int, float]:
    """The first fetch: its own usage, the requests the fake saw and the fake's CPU seconds meanwhile."""
    stages = stage_runs(config, folders, fake.base_url)
    run_child(stages["prompts"], folders.log)
    requests, cpu = fake_requests(fake), cpu_seconds(fake.pid)
    fetch = run_child(stages["fetch"], folders.log)
    return fetch, fake_requests(fake) - requests, cpu_seconds(fake.pid) - cpu


def measure_rerun(config: BenchConfig, folders: Folders, fake: Fake) -> tuple[dict[str, float], int]:
    """Seconds per stage of a fully cached `make dataset`, and the requests it sent (should be none)."""
    before = fake_requests(fake)
    seconds = {name: run_child(args, folders.log).wall for name, args in stage_runs(config, folders, fake.base_url).items()}
    return seconds, fake_requests(fake) - before


def make_result(config: BenchConfig, fetch: ChildRun, requests: int, server_cpu: float,
                rerun: tuple[dict[str, float], int]) -> BenchResult:
    ideal = config.n * config.latency / config.workers
    return BenchResult(**asdict(config), wall_seconds=round(fetch.wall, 3), ideal_seconds=round(ideal, 3),
                       efficiency=round(ideal / fetch.wall, 3), requests=requests,
                       requests_per_second=round(requests / fetch.wall, 1), fetch_peak_rss_mb=round(fetch.peak_rss_mb, 1),
                       fetch_cpu_seconds=round(fetch.cpu, 2), server_cpu_seconds=round(server_cpu, 2),
                       server_capacity_rps=round(requests / server_cpu, 1) if server_cpu else None,
                       rerun_seconds=round(sum(rerun[0].values()), 3), rerun_requests=rerun[1],
                       rerun_stage_seconds={name: round(s, 3) for name, s in rerun[0].items()})


def run_bench(config: BenchConfig) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="stages-bench-") as tmp:
        folders = Folders(Path(tmp) / "data", Path(tmp) / "cache", Path(tmp) / "stderr.log")
        with fake_server(config) as fake:
            fetch, requests, server_cpu = measure_fetch(config, folders, fake)
            rerun = measure_rerun(config, folders, fake)
    return make_result(config, fetch, requests, server_cpu, rerun)


def summary_text(r: BenchResult) -> str:
    stages = ", ".join(f"{name} {s:.2f} s" for name, s in r.rerun_stage_seconds.items())
    capacity = f"{r.server_capacity_rps:.0f} req/s per core" if r.server_capacity_rps else "n/a"
    return "\n".join([
        f"bench: N={r.n} workers={r.workers} latency={r.latency} s jitter={r.jitter} s fault rate={r.fault_rate}",
        f"  fetch wall time   {r.wall_seconds:.2f} s (ideal N*latency/workers = {r.ideal_seconds:.2f} s)",
        f"  efficiency        {r.efficiency:.2f}",
        f"  requests          {r.requests} ({r.requests_per_second:.0f}/s)",
        f"  fetch peak RSS    {r.fetch_peak_rss_mb:.0f} MB",
        f"  fetch CPU         {r.fetch_cpu_seconds:.2f} s (user+sys)",
        f"  fake API CPU      {r.server_cpu_seconds:.2f} s, capacity about {capacity}",
        f"  cached rerun      {r.rerun_seconds:.2f} s ({stages}), {r.rerun_requests} requests",
    ])


def write_json(path: Path, result: BenchResult) -> None:
    write_atomic(path, json.dumps(asdict(result), indent=2) + "\n")


@click.command("bench")
@click.option("--n", type=click.IntRange(min=1), default=2000, show_default=True, help="Seeds to fetch.")
@click.option("--workers", type=click.IntRange(1, 1024), default=64, show_default=True, help="Requests in flight at once.")
@click.option("--latency", type=click.FloatRange(min=0), default=0.5, show_default=True, help="Fake API seconds per answer.")
@click.option("--jitter", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Random +/- seconds on latency.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="Share of faulty answers.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="data/bench.json", show_default=True,
              help="JSON file for the results.")
def bench_command(n, workers, latency, jitter, fault_rate, out):
    """Time fetch against the fake API in its own process, then a fully cached rerun; nothing leaves 127.0.0.1.

    Example: python -m stages bench --n 2000 --workers 64 --latency 0.5
    """
    result = run_bench(BenchConfig(n, workers, latency, jitter, fault_rate))
    write_json(out, result)
    click.echo(summary_text(result))
    click.echo(f"bench: results written to {out}", err=True)
