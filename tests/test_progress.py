"""What a fetch shows while it runs: the bar counts seeds as they settle and redraws every second,
and Ctrl-C counts the seeds this run made valid. Each test reads a real fetch process's stderr
while it is in flight, against a slow loopback fake."""
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from conftest import ROOT, TEST_KEY, default_ctrl_c, project_env, run

from stages.transport.batch import BatchRun, BatchSettings
from stages.transport.ledger import BatchRecord, Covered

BAR = re.compile(r"fetch:\s+\d+%\|[^|]*\| (\d+)/(\d+) \[(\d+):(\d\d)")


@dataclass(frozen=True)
class Redraw:
    done: int          # seeds the bar counts
    elapsed: int       # seconds, as the bar itself reports them
    answered: int      # requests the fake had taken when the redraw was read


def start_fetch(data, cache, server, n: int, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "stages", "fetch", "--n", str(n), "--data-dir", str(data), "--cache-dir",
            str(cache), "--base-url", server.base_url, "--workers", str(workers)]
    return subprocess.Popen(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_ctrl_c)


def read_stderr(proc: subprocess.Popen, server, redraws: list[Redraw], lines: list[str]) -> threading.Thread:
    """Collect each bar redraw as it arrives (tqdm ends them with \\r in a pipe) and the other lines."""
    def read() -> None:
        chunk = b""
        while byte := proc.stderr.read(1):
            if byte not in (b"\r", b"\n"):
                chunk += byte
                continue
            text, chunk = chunk.decode(errors="replace"), b""
            match = BAR.search(text)
            if match:
                minutes, seconds = int(match[3]), int(match[4])
                redraws.append(Redraw(int(match[1]), 60 * minutes + seconds, server.stats.requests))
            elif text.strip():
                lines.append(text)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_the_bar_counts_seeds_as_they_settle_and_redraws_every_second(dirs, fake_api):
    n, workers = 24, 4
    server = fake_api(latency=1.0)  # 6 s in all: every seed needs one answer
    data, cache = dirs
    assert run("prompts", "--n", n, "--data-dir", data).exit_code == 0
    redraws: list[Redraw] = []
    with start_fetch(data, cache, server, n, workers) as proc:
        reader = read_stderr(proc, server, redraws, [])
        assert proc.wait(timeout=60) == 0
        reader.join(timeout=10)
    in_flight = [r for r in redraws if 0 < r.done < n]
    assert len({r.done for r in in_flight}) >= 3, redraws    # it moved while requests were out
    # No seed counted late: by any redraw, the seeds of the answers in by the redraw before it show.
    for before, after in zip(redraws, redraws[1:]):
        assert after.done >= before.answered - 2 * workers, (before, after)
    gaps = [after.elapsed - before.elapsed for before, after in zip(redraws, redraws[1:])]
    assert max(gaps) <= 2, redraws                           # the bar's own clock: at most 2 s apart
    assert redraws[-1].done == n


def test_ctrl_c_counts_the_seeds_this_run_made_valid(dirs, fake_api):
    n, workers = 60, 4
    server = fake_api(latency=0.4)
    data, cache = dirs
    assert run("prompts", "--n", n, "--data-dir", data).exit_code == 0
    lines: list[str] = []
    with start_fetch(data, cache, server, n, workers) as proc:
        reader = read_stderr(proc, server, [], lines)
        deadline = time.monotonic() + 30
        while server.stats.requests < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        reader.join(timeout=10)
    said = re.search(r"(\d+) answers cached in this run, (\d+) seeds made valid by them, (\d+)/60 seeds valid", lines[-1])
    assert said, lines
    stored, made_valid, valid = map(int, said.groups())
    assert 12 <= stored < n and valid == made_valid  # the cache was empty: every valid seed is this run's
    assert made_valid >= stored - workers           # a valid answer settles its seed at once
    checked = run("validate", "--n", n, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url)
    counted = int(re.search(r"(\d+)/60 seeds valid", checked.stderr + checked.stdout)[1])
    assert made_valid <= counted <= made_valid + workers  # answers still in flight at Ctrl-C may land after the line


def record(batch_id: str, size: int, counts: tuple[int, int, int]) -> BatchRecord:
    asks = tuple(Covered(f"s{i}-c0", i, "conversation", 0, f"key-{batch_id}-{i}") for i in range(size))
    return BatchRecord(batch_id, "http://127.0.0.1:9/api/v1", "m", "m", asks, counts=counts)


def test_batch_progress_counts_requests_done_of_submitted_as_each_poll_reports_them():
    run = BatchRun(None, None, None, None, None, None, BatchSettings(), print)
    run.progress.settled = 5                                   # results of a collected batch, read
    run.open = {"b1": record("b1", 10, (10, 4, 1)),            # the last poll: 4 answered, 1 failed
                "b2": record("b2", 6, (0, 0, 0))}              # not polled yet: its size from the record
    assert run.request_counts() == (5 + 4 + 1, 5 + 10 + 6)
