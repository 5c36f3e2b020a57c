"""`make bench` (python tests/benchmark.py): fetch against the bare thread-pool baseline, side by side, on this machine.

For each case (N seeds, WORKERS in flight) the fake API runs in its own process and the baseline
(tests/bench_baseline.py: requests in a ThreadPoolExecutor, nothing else) and a real fetch post the same
bodies to it in turn; the ratio of their wall times is the figure to quote. Then: a run with
transient faults and how busy its workers were, a fully cached rerun, the start-up of a fetch with
nothing to send and of show, dataset rebuilds of BENCH_REBUILD_N conversations, and each stage's
time, peak memory and disk at the two sizes of BENCH_SIZES (fetch's memory compared as a ratio).
Linux only: it reads the fake's CPU time from /proc and the children's usage with os.wait4.
"""
import json
import os
import random
import statistics
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the project root: the package beside it

from stages.__main__ import COMMANDS  # noqa: E402
from stages.config import option, option_variables  # noqa: E402
from stages.judging.rules import CheckChoice, completions_url
from stages.errors import PipelineError  # noqa: E402
from stages.fake.api import Tokens, completion, faulty_content, make_conversation  # noqa: E402
from stages.judging.review import ReviewTally  # noqa: E402
from stages.judging.rules import reviews_for  # noqa: E402
from stages.storage.bodies import load_body  # noqa: E402
from stages.storage.cache import KeyMaker, encode_entry, open_cache  # noqa: E402
from stages.storage.files import write_atomic  # noqa: E402
from stages.judging.memo import NOTES_FILE  # noqa: E402

DUMMY_KEY = "sk-or-v1-bench-dummy-key"
FETCH_TIMEOUT = 60
STARTUP_N = 1000       # seeds of the no-op fetch timed for start-up (make's default N)
# Everything a provider does wrong that a retry or a new attempt fixes; 429 is left out, it pauses the whole run.
TRANSIENT_FAULTS = ("500", "502", "503", "drop", "error200", "finish_error", "empty200", "broken_body",
                    "broken_json", "wrong_roles", "extra_keys", "truncated")


@dataclass(frozen=True)
class Case:
    n: int
    workers: int

    def __str__(self) -> str:
        return f"N={self.n} WORKERS={self.workers}"


class CaseList(click.ParamType):
    """`200x16,2000x64` -> (Case(200, 16), Case(2000, 64))."""
    name = "NxWORKERS,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        cases = []
        for part in str(value).replace(" ", ",").split(","):
            n, sep, workers = part.strip().partition("x")
            if not (sep and n.isdigit() and workers.isdigit() and int(n) > 0 and 0 < int(workers) <= 1024):
                self.fail(f"{part!r} is not a case like 2000x64 (N x WORKERS, WORKERS at most 1024)", param, ctx)
            cases.append(Case(int(n), int(workers)))
        if not cases:
            self.fail("give at least one case, e.g. 2000x64", param, ctx)
        return tuple(cases)


class SizePair(click.ParamType):
    """`1000,10000` -> (1000, 10000): a small and a larger N, in that order."""
    name = "SMALL,LARGE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).replace(" ", ",").split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not 0 < int(parts[0]) < int(parts[1]):
            self.fail(f"{value!r} is not two sizes like 1000,10000 (the smaller first)", param, ctx)
        return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class BenchConfig:
    cases: tuple[Case, ...]
    latency: float
    fault_rate: float
    rebuild_n: int
    repeats: int = 5       # start-up and rebuild timings: the median of this many runs
    sizes: tuple[int, int] = (1000, 10000)   # N of the per-stage scale runs


@dataclass(frozen=True)
class ChildRun:
    wall: float
    cpu: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Fake:
    pid: int
    base_url: str


@dataclass(frozen=True)
class Counted:
    """One child run against the fake, with what the fake saw meanwhile."""
    run: ChildRun
    requests: int
    server_cpu: float


@dataclass(frozen=True)
class CaseResult:
    n: int
    workers: int
    ideal_seconds: float
    fetch_seconds: float
    baseline_seconds: float
    speed_vs_baseline: float       # baseline wall / fetch wall: 1.0 is as fast as the bare thread pool
    fetch_efficiency: float        # ideal / wall
    baseline_efficiency: float
    fetch_requests: int
    baseline_requests: int
    fetch_cpu_ms_per_request: float
    baseline_cpu_ms_per_request: float
    fake_cpu_ms_per_request: float
    fetch_peak_rss_mb: float


@dataclass(frozen=True)
class FaultResult:
    n: int
    workers: int
    fault_rate: float
    wall_seconds: float
    requests: int
    valid: int
    busyness: float                # (requests x latency / WORKERS) / wall time; goal 0.8


@dataclass(frozen=True)
class StartupResult:
    n: int
    python_seconds: float          # `python -c pass`, for scale
    fetch_noop_seconds: float      # prompts + fetch with nothing to render or send, as `make fetch` runs them
    show_seconds: float


@dataclass(frozen=True)
class RebuildResult:
    n: int
    fresh_seconds: float           # no notes: every seed judged and sketched (the streaming rebuild alone)
    unchanged_seconds: float       # nothing changed: every verdict and sketch read from the notes
    unchanged_same_bytes: bool     # and the files written are the bytes of the fresh build
    speed_vs_fresh: float          # fresh over unchanged, run side by side: what the notes save
    option_change_seconds: float   # SPLIT changed: every verdict and sketch is reused
    rule_change_seconds: float     # ASCII=1: a new verdict key, so every answer is judged again


@dataclass(frozen=True)
class StageRun:
    seconds: float
    peak_rss_mb: float


@dataclass(frozen=True)
class ScaleResult:
    """Every stage once at N seeds, in order, against the fake API with no latency."""
    n: int
    workers: int
    stages: dict[str, StageRun]    # prompts, fetch, validate, dataset, stats
    prompts_disk_mb: float         # DATA_DIR/prompts as the disk holds it
    cache_disk_mb: float


@dataclass(frozen=True)
class MemoryResult:
    small: ScaleResult
    large: ScaleResult
    fetch_rss_ratio: float         # fetch's peak at the large size over the small one; goal at most 1.2
    rss_ratios: dict[str, float]   # every stage's peak at the large size over the small one; goal at most 1.3


@dataclass(frozen=True)
class BenchResult:
    latency: float
    repeats: int
    cpus: int
    load_at_start: float
    cases: list[CaseResult]
    faults: FaultResult
    cached_rerun_seconds: dict[str, float]
    cached_rerun_requests: int
    startup: StartupResult
    rebuild: RebuildResult
    memory: MemoryResult


def child_env() -> dict[str, str]:
    """The stages' own variables (N, RPM, BUDGET, ...) are dropped so only our flags count."""
    env = {k: v for k, v in os.environ.items() if k not in option_variables(COMMANDS)}
    env.update(OPENROUTER_API_KEY=DUMMY_KEY, NO_PROXY="127.0.0.1,localhost")
    return env


def stages_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "stages", *map(str, args)]


def prompts_args(*args: object) -> list[str]:
    """Bodies with OpenRouter's fields whatever the run's BASE_URL, as fetch and the baseline send them."""
    return stages_args("prompts", "--openrouter", "1", *args)


def last_line(path: Path) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def run_child(args: list[str], log: Path) -> ChildRun:
    """Run one process; os.wait4 gives this child's own peak RSS and CPU, not the max over all children."""
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


def median_wall(runs: list[list[str]], log: Path, repeats: int) -> float:
    """The median over `repeats` of the summed wall time of these processes run one after another."""
    return statistics.median(sum(run_child(args, log).wall for args in runs) for _ in range(repeats))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def fake_server(latency: float, fault_rate: float = 0.0) -> Iterator[Fake]:
    """The fake API in a separate process, so it shares no GIL with what it serves; always stopped."""
    args = stages_args("fakeapi", "--port", 0, "--latency", latency, "--fault-rate", fault_rate,
                       "--faults", ",".join(TRANSIENT_FAULTS))
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


def counted(args: list[str], fake: Fake, log: Path) -> Counted:
    requests, cpu = fake_requests(fake), cpu_seconds(fake.pid)
    run = run_child(args, log)
    return Counted(run, fake_requests(fake) - requests, cpu_seconds(fake.pid) - cpu)


def located(data: Path, cache: Path, base_url: str, n: int) -> tuple:
    return ("--n", n, "--data-dir", data, "--cache-dir", cache, "--base-url", base_url)


def fetch_args(data: Path, cache: Path, base_url: str, case: Case) -> list[str]:
    return stages_args("fetch", *located(data, cache, base_url, case.n), "--workers", case.workers,
                       "--timeout", FETCH_TIMEOUT)


def baseline_args(data: Path, base_url: str, case: Case) -> list[str]:
    return [sys.executable, str(ROOT / "tests" / "bench_baseline.py"), str(data / "prompts"), completions_url(base_url),
            str(case.n), str(case.workers)]


def per_request_ms(seconds: float, requests: int) -> float:
    return round(1000 * seconds / requests, 2) if requests else 0.0


def compare(case: Case, latency: float, fetch: Counted, baseline: Counted) -> CaseResult:
    ideal = case.n * latency / case.workers
    return CaseResult(
        case.n, case.workers, round(ideal, 3), round(fetch.run.wall, 3), round(baseline.run.wall, 3),
        round(baseline.run.wall / fetch.run.wall, 3), round(ideal / fetch.run.wall, 3),
        round(ideal / baseline.run.wall, 3), fetch.requests, baseline.requests,
        per_request_ms(fetch.run.cpu, fetch.requests), per_request_ms(baseline.run.cpu, baseline.requests),
        per_request_ms(fetch.server_cpu, fetch.requests), round(fetch.run.peak_rss_mb, 1))


def run_case(case: Case, latency: float, work: Path, fake: Fake) -> CaseResult:
    """The baseline, then fetch into an empty cache: the same bodies, the same fake, one after the other."""
    log, cache = work / "stderr.log", work / f"cache-{case.n}x{case.workers}"
    baseline = counted(baseline_args(work / "data", fake.base_url, case), fake, log)
    fetch = counted(fetch_args(work / "data", cache, fake.base_url, case), fake, log)
    return compare(case, latency, fetch, baseline)


def run_faults(case: Case, config: BenchConfig, work: Path) -> FaultResult:
    """fetch with transient faults: how much of the run its workers spent waiting on answers."""
    cache = work / "cache-faults"
    with fake_server(config.latency, config.fault_rate) as fake:
        fetch = counted(fetch_args(work / "data", cache, fake.base_url, case), fake, work / "stderr.log")
        tally = ReviewTally()
        with open_cache(cache) as opened:
            sum(1 for _ in tally.conversations(reviews_for(opened, range(case.n), work / "data", fake.base_url,
                                                           CheckChoice())))
    busy = fetch.requests * config.latency / case.workers / fetch.run.wall
    return FaultResult(case.n, case.workers, config.fault_rate, round(fetch.run.wall, 3), fetch.requests,
                       tally.valid, round(busy, 3))


def measure_rerun(case: Case, work: Path, fake: Fake) -> tuple[dict[str, float], int]:
    """Seconds per stage of a fully cached `make dataset` of the largest case, and the requests it sent."""
    data, cache = work / "data", work / f"cache-{case.n}x{case.workers}"
    stages = {"prompts": prompts_args("--n", case.n, "--data-dir", data),
              "fetch": fetch_args(data, cache, fake.base_url, case),
              "dataset": stages_args("dataset", *located(data, cache, fake.base_url, case.n))}
    before = fake_requests(fake)
    seconds = {name: round(run_child(args, work / "stderr.log").wall, 3) for name, args in stages.items()}
    return seconds, fake_requests(fake) - before


def measure_startup(case: Case, work: Path, fake: Fake, repeats: int) -> StartupResult:
    """`make fetch` with nothing to do runs prompts then fetch; both and show, against the largest case's cache."""
    n, log = min(STARTUP_N, case.n), work / "stderr.log"
    data, cache = work / "startup", work / f"cache-{case.n}x{case.workers}"
    prompts = prompts_args("--n", n, "--data-dir", data)
    fetch = fetch_args(data, cache, fake.base_url, Case(n, case.workers))
    show = stages_args("show", "--seed", 3 % n, *located(data, cache, fake.base_url, n)[2:])
    run_child(prompts, log), run_child(fetch, log)  # render, and note the finished run
    return StartupResult(n, round(median_wall([[sys.executable, "-c", "pass"]], log, repeats), 3),
                         round(median_wall([prompts, fetch], log, repeats), 3),
                         round(median_wall([show], log, repeats), 3))


def fill_cache(data: Path, cache_dir: Path, base_url: str, n: int) -> None:
    """Cached answers for seeds 0..n-1 as the fake API writes them; one seed in ten has a broken first answer."""
    with open_cache(cache_dir) as cache, cache.transact():
        for seed in range(n):
            body = load_body(data, seed)
            prompt, rng, keys = body["messages"][-1]["content"], random.Random(seed), KeyMaker(completions_url(base_url), body)
            kinds = ["wrong_roles", ""] if seed % 10 == 0 else [""]
            for attempt, kind in enumerate(kinds):
                content, finish = faulty_content(kind, make_conversation(prompt, rng).messages)
                tokens = Tokens(len(prompt) // 4, 0, len(content) // 4, 0)
                text = json.dumps(completion(content, tokens, finish, tokens.cost()))
                cache.set(keys.key(attempt), encode_entry(seed, attempt, text, url=completions_url(base_url)))


def measure_rebuilds(n: int, work: Path, repeats: int) -> RebuildResult:
    """`dataset` of n cached conversations: without notes and with them, in turns; then an option
    changed, then a rule changed (each change and its undoing, halved)."""
    data, cache, log, url = work / "rebuild", work / "cache-rebuild", work / "stderr.log", "http://127.0.0.1:9/api/v1"
    run_child(prompts_args("--n", n, "--data-dir", data), log)
    fill_cache(data, cache, url, n)
    dataset = stages_args("dataset", *located(data, cache, url, n))
    notes = data / NOTES_FILE
    fresh, unchanged = [], []
    for _ in range(repeats):
        notes.unlink(missing_ok=True)
        fresh.append(run_child(dataset, log).wall)
        written = (data / "identity_conversations.jsonl").read_bytes()
        unchanged.append(run_child(dataset, log).wall)
    same = (data / "identity_conversations.jsonl").read_bytes() == written
    split = median_wall([dataset + ["--split", "0.05"], dataset + ["--split", "0"]], log, repeats) / 2
    ascii_rule = median_wall([dataset + ["--ascii", "1"], dataset + ["--ascii", "0"]], log, repeats) / 2
    first, again = statistics.median(fresh), statistics.median(unchanged)
    return RebuildResult(n, round(first, 3), round(again, 3), same, round(first / again, 2), round(split, 3),
                         round(ascii_rule, 3))


SCALE_WORKERS = 64


def disk_mb(folder: Path) -> float:
    """What the files under a folder take on disk (allocated blocks, as du counts them)."""
    blocks = sum(entry.stat().st_blocks for entry in folder.rglob("*") if entry.is_file())
    return round(blocks * 512 / 2**20, 1)


def measure_scale(n: int, work: Path, fake: Fake) -> ScaleResult:
    """Each stage at n seeds as `make` runs them, one process each, into a fresh data and cache folder."""
    data, cache, log = work / f"scale-{n}", work / f"scale-cache-{n}", work / "stderr.log"
    where = located(data, cache, fake.base_url, n)
    commands = {"prompts": prompts_args("--n", n, "--data-dir", data),
                "fetch": fetch_args(data, cache, fake.base_url, Case(n, SCALE_WORKERS)),
                "validate": stages_args("validate", *where),
                "dataset": stages_args("dataset", *where),
                "stats": stages_args("stats", *where)}
    stages = {}
    for name, args in commands.items():
        run = run_child(args, log)
        stages[name] = StageRun(round(run.wall, 2), round(run.peak_rss_mb, 1))
    return ScaleResult(n, SCALE_WORKERS, stages, disk_mb(data / "prompts"), disk_mb(cache))


def measure_memory(sizes: tuple[int, int], work: Path) -> MemoryResult:
    """Both sizes in one run, so their ratio compares like with like on this machine."""
    with fake_server(0.0) as fake:
        small, large = (measure_scale(n, work, fake) for n in sizes)
    ratios = {name: round(large.stages[name].peak_rss_mb / small.stages[name].peak_rss_mb, 3) for name in small.stages}
    return MemoryResult(small, large, ratios["fetch"], ratios)


def run_bench(config: BenchConfig) -> BenchResult:
    largest = max(config.cases, key=lambda case: case.n)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="stages-bench-") as tmp:
        work = Path(tmp)
        run_child(prompts_args("--n", largest.n, "--data-dir", work / "data"), work / "stderr.log")
        with fake_server(config.latency) as fake:
            cases = [run_case(case, config.latency, work, fake) for case in config.cases]
            rerun, rerun_requests = measure_rerun(largest, work, fake)
            startup = measure_startup(largest, work, fake, config.repeats)
        faults = run_faults(min(config.cases, key=lambda case: case.n), config, work)
        rebuild = measure_rebuilds(config.rebuild_n, work, config.repeats)
        memory = measure_memory(config.sizes, work)
    return BenchResult(config.latency, config.repeats, os.cpu_count() or 0, round(load, 2), cases, faults, rerun, rerun_requests,
                       startup, rebuild, memory)


def case_lines(result: BenchResult) -> list[str]:
    lines = [f"{'case':<22}{'fetch':>9}{'baseline':>10}{'speed vs baseline':>19}{'efficiency':>16}"
             f"{'CPU ms/request':>18}{'fake ms/req':>13}",
             f"{'':<22}{'':>9}{'':>10}{'':>19}{'fetch / base':>16}{'fetch / base':>18}"]
    for c in result.cases:
        lines.append(f"{str(Case(c.n, c.workers)):<22}{c.fetch_seconds:>8.2f}s{c.baseline_seconds:>9.2f}s"
                     f"{c.speed_vs_baseline:>19.2f}{c.fetch_efficiency:>9.2f} /{c.baseline_efficiency:>5.2f}"
                     f"{c.fetch_cpu_ms_per_request:>11.2f} /{c.baseline_cpu_ms_per_request:>5.2f}"
                     f"{c.fake_cpu_ms_per_request:>13.2f}")
    return lines


def scale_lines(memory: MemoryResult) -> list[str]:
    """Seconds and peak MB of each stage at both sizes, then disk, then fetch's memory ratio."""
    small, large = memory.small, memory.large
    lines = [f"stages at N={small.n:,} and N={large.n:,} (fake API, no latency, WORKERS={small.workers}): "
             "seconds / peak MB"]
    for name in small.stages:
        a, b = small.stages[name], large.stages[name]
        lines.append(f"  {name:<10}{a.seconds:>9.2f} s {a.peak_rss_mb:>7.1f} MB   {b.seconds:>9.2f} s {b.peak_rss_mb:>7.1f} MB")
    lines.append(f"  disk: prompts {small.prompts_disk_mb} / {large.prompts_disk_mb} MB, "
                 f"cache {small.cache_disk_mb} / {large.cache_disk_mb} MB")
    lines.append(f"  fetch peak memory at N={large.n:,} over N={small.n:,}: {memory.fetch_rss_ratio:.2f} (goal at most 1.2)")
    lines.append(f"  peak memory at N={large.n:,} over N={small.n:,}: "
                 + ", ".join(f"{name} {ratio:.2f}" for name, ratio in memory.rss_ratios.items())
                 + " (goal at most 1.3 after fetch)")
    return lines


def summary_text(r: BenchResult) -> str:
    f, s, b = r.faults, r.startup, r.rebuild
    rerun = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in r.cached_rerun_seconds.items())
    return "\n".join([
        f"bench: fake API latency {r.latency} s, in its own process; {r.cpus} CPUs, load {r.load_at_start} at start",
        *case_lines(r),
        f"faults {f.fault_rate:.0%} ({Case(f.n, f.workers)}): {f.wall_seconds:.2f} s, {f.requests} requests, "
        f"{f.valid}/{f.n} seeds valid, workers busy {f.busyness:.2f} of the time (goal 0.8)",
        f"cached rerun of the largest case: {rerun}; {r.cached_rerun_requests} requests",
        f"start-up (median of {r.repeats}): `make fetch N={s.n}` with nothing to do {s.fetch_noop_seconds:.2f} s "
        f"(prompts + fetch), show {s.show_seconds:.2f} s; python alone {s.python_seconds:.2f} s",
        f"dataset of {b.n} cached conversations: without notes {b.fresh_seconds:.2f} s, with them "
        f"{b.unchanged_seconds:.2f} s ({b.speed_vs_fresh:.2f}x, side by side; "
        f"{'the same bytes' if b.unchanged_same_bytes else 'OTHER BYTES'}), after SPLIT changed "
        f"{b.option_change_seconds:.2f} s, after ASCII=1 {b.rule_change_seconds:.2f} s",
        *scale_lines(r.memory),
    ])


def write_json(path: Path, result: BenchResult) -> None:
    write_atomic(path, json.dumps(asdict(result), indent=2) + "\n")


@click.command("bench")
@option("BENCH_CASES", type=CaseList(), default="200x16,2000x64,4000x256",
        help="Cases to time, N x WORKERS, comma-separated.")
@option("BENCH_LATENCY", type=click.FloatRange(min=0), default=0.5, help="The fake API's seconds per answer.")
@option("BENCH_FAULT_RATE", type=click.FloatRange(0, 0.9), default=0.3,
        help="Share of transiently faulty answers in the fault case (the smallest case's N and WORKERS).")
@option("BENCH_REBUILD_N", type=click.IntRange(min=1), default=10000, help="Cached conversations of the rebuild timings.")
@option("BENCH_REPEATS", type=click.IntRange(min=1), default=5, help="Runs of each start-up and rebuild timing (median).")
@option("BENCH_SIZES", type=SizePair(), default="1000,10000",
        help="Two N, smaller first: every stage is timed and its peak memory measured at both.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="data/bench.json", show_default=True,
              help="JSON file for the results.")
def bench_command(bench_cases, bench_latency, bench_fault_rate, bench_rebuild_n, bench_repeats, bench_sizes, out):
    """Time fetch and the bare thread-pool baseline side by side against the fake API; nothing leaves 127.0.0.1.

    Example: python tests/benchmark.py --bench-cases 200x16,2000x64 --bench-latency 0.5
    """
    result = run_bench(BenchConfig(bench_cases, bench_latency, bench_fault_rate, bench_rebuild_n, bench_repeats,
                                   bench_sizes))
    write_json(out, result)
    click.echo(summary_text(result))
    click.echo(f"bench: results written to {out}", err=True)


if __name__ == "__main__":
    bench_command()
