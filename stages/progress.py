"""Progress on stderr: tqdm's bar on a terminal; in a log (a file, a pipe: CI, nohup), one full line
every PROGRESS_EVERY seconds (30 unless the environment says otherwise) and one at the end,
instead of a bar redrawn with carriage returns that piles up on one ever-growing line.
"""
import os
import sys
import time
from typing import TextIO

EVERY_VARIABLE = "PROGRESS_EVERY"
DEFAULT_EVERY = 30.0


def log_interval() -> float:
    """Seconds between two lines in a log, from PROGRESS_EVERY (a bad value means the default)."""
    try:
        every = float(os.environ.get(EVERY_VARIABLE) or DEFAULT_EVERY)
    except ValueError:
        return DEFAULT_EVERY
    return every if every > 0 else DEFAULT_EVERY


def is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


def clock_text(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class LineProgress:
    """The part of tqdm's interface the stages use (update, n, set_postfix, write), as whole lines."""

    def __init__(self, total: int, desc: str, unit: str, file: TextIO, every: float, clock=time.monotonic):
        self.total, self.desc, self.unit, self.file, self.every, self.clock = total, desc, unit, file, every, clock
        self.n = 0
        self.postfix: dict = {}
        self.started = self.last = clock()
        self.shown: tuple | None = None  # the count and postfix of the last line written

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_postfix(self, postfix: dict, refresh: bool = False) -> None:
        self.postfix = dict(postfix)

    def update(self, count: int = 1) -> None:
        self.n += count
        if self.clock() - self.last >= self.every:
            self.emit()

    def line(self) -> str:
        share = f" ({self.n / self.total:.0%})" if self.total else ""
        extra = "".join(f", {key}={value}" for key, value in self.postfix.items())
        return f"{self.desc}: {self.n}/{self.total} {self.unit}s{share} after {clock_text(self.clock() - self.started)}{extra}"

    def emit(self) -> None:
        self.last, self.shown = self.clock(), (self.n, self.postfix)
        print(self.line(), file=self.file, flush=True)

    def close(self) -> None:
        """The last line, unless the one just written already says it."""
        if self.shown != (self.n, self.postfix):
            self.emit()

    def write(self, text: str) -> None:
        print(text, file=self.file, flush=True)


def progress_bar(total: int, desc: str, redraw: float, unit: str = "seed", file: TextIO | None = None):
    """tqdm's bar on a terminal (redrawn each `redraw` seconds), else a LineProgress."""
    file = file or sys.stderr
    if not is_terminal(file):
        return LineProgress(total, desc, unit, file, log_interval())
    from tqdm import tqdm  # here, not at import: a run with nothing to do starts faster
    # miniters=0: the bar redraws each `redraw` seconds even while no seed settles (tokens move).
    return tqdm(total=total, file=file, unit=unit, mininterval=redraw, miniters=0, dynamic_ncols=True, desc=desc)


def write_line(text: str, file: TextIO | None = None) -> None:
    """A message above a terminal's bar (tqdm.write), or a plain line in a log."""
    file = file or sys.stderr
    if is_terminal(file):
        from tqdm import tqdm
        tqdm.write(text, file=file)
    else:
        print(text, file=file, flush=True)
