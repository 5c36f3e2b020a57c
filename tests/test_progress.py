"""What a fetch shows while it runs: in a log, a full line every PROGRESS_EVERY seconds that counts
seeds as they settle (one second here; a terminal gets tqdm's bar instead), and Ctrl-C counts the
seeds this run made valid. Each test reads a real fetch process's stderr, a pipe, while it is in
flight, against a slow loopback fake."""
import io
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from conftest import ROOT, TEST_KEY, default_ctrl_c, project_env, run

from stages.progress import LineProgress
from stages.transport.batch import BatchRun, BatchSettings
from stages.transport.ledger import BatchRecord, Covered

BAR = re.compile(r"^fetch: (\d+)/(\d+) seeds \(\d+%\) after (\d+):(\d\d)")


@dataclass(frozen=True)
class Redraw:
    done: int          # seeds the bar counts
    elapsed: int       # seconds, as the bar itself reports them
    answered: int      # requests the fake had taken when the redraw was read


def start_fetch(data, cache, server, n: int, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "stages", "fetch", "--n", str(n), "--data-dir", str(data), "--cache-dir",
            str(cache), "--base-url", server.base_url, "--workers", str(workers)]
    return subprocess.Popen(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY, PROGRESS_EVERY="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=default_ctrl_c)


def read_stderr(proc: subprocess.Popen, server, redraws: list[Redraw], lines: list[str]) -> threading.Thread:
    """Collect each progress line as it arrives (a carriage return would end one too) and the other lines."""
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


def test_progress_lines_count_seeds_as_they_settle_every_progress_every_seconds(dirs, fake_api):
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
    assert max(gaps) <= 2, redraws                           # the line's own clock: at most 2 s apart
    assert redraws[-1].done == n


def test_a_fetch_logged_to_a_file_writes_whole_lines_and_one_at_the_end(dirs, fake_api, tmp_path):
    n = 6
    server = fake_api()
    data, cache = dirs
    assert run("prompts", "--n", n, "--data-dir", data).exit_code == 0
    log = tmp_path / "log"
    with open(log, "wb") as stderr:
        args = [sys.executable, "-m", "stages", "fetch", "--n", str(n), "--data-dir", str(data), "--cache-dir",
                str(cache), "--base-url", server.base_url]
        subprocess.run(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY), stdout=subprocess.DEVNULL,
                       stderr=stderr, check=True, timeout=60)
    text = log.read_text()
    assert "\r" not in text
    progress = [line for line in text.splitlines() if BAR.match(line)]
    assert len(progress) == 1 and progress[0].startswith(f"fetch: {n}/{n} seeds (100%) after 0:0"), text


def test_line_progress_writes_a_line_each_interval_and_at_the_end():
    now = [0.0]
    out = io.StringIO()
    with LineProgress(10, "fetch", "seed", out, every=30, clock=lambda: now[0]) as bar:
        for step in range(10):
            now[0] += 7
            bar.set_postfix({"cost": f"${step}"})
            bar.update(1)
    assert out.getvalue().splitlines() == ["fetch: 5/10 seeds (50%) after 0:35, cost=$4",
                                           "fetch: 10/10 seeds (100%) after 1:10, cost=$9"]


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
