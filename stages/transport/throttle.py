"""One limiter shared by all fetch workers: how many requests may be in flight, and when.

On a 429 the whole run pauses (for Retry-After when given) and the limit halves. When most
recent answers fail with 5xx or dropped connections (an outage) the limit halves too, without
a pause. It grows back by one after each window of successes. An optional RPM cap spaces the
sends evenly.
"""
import threading
import time
from collections import deque

OUTAGE_WINDOW = 20      # recent outcomes looked at
OUTAGE_SHARE = 0.5      # failing share of them that counts as an outage
OUTAGE_MIN = 8          # failures needed before any cut, so a few unlucky answers cut nothing


class Throttle:
    def __init__(self, workers: int, rpm: float | None = None):
        self.ceiling = workers
        self.limit = workers
        self.in_flight = 0
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_send = 0.0
        self.paused_until = 0.0
        self.successes = 0
        self.recent: deque[bool] = deque(maxlen=OUTAGE_WINDOW)  # True for an answer, False for an outage failure
        self.cond = threading.Condition()

    def wait_seconds(self, now: float) -> float:
        return max(self.paused_until - now, self.next_send - now)

    def acquire(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                wait = self.wait_seconds(now)
                if wait <= 0 and self.in_flight < self.limit:
                    break
                self.cond.wait(timeout=wait if wait > 0 else None)
            self.in_flight += 1
            self.next_send = max(now, self.next_send) + self.interval

    def release(self, ok: bool = True, pause: float | None = None, outage: bool = False) -> None:
        """Free a slot. A pause (after a 429) stops everyone for that long and halves the limit,
        once per burst: the first 429 cuts, the ones arriving during the pause only extend it.
        An outage failure (5xx, dropped connection) counts toward halving the limit."""
        with self.cond:
            self.in_flight -= 1
            now = time.monotonic()
            if pause is not None:
                if now >= self.paused_until:
                    self.cut()
                self.paused_until = max(self.paused_until, now + pause)
            elif ok:
                self.recent.append(True)
                self.grow()
            elif outage:
                self.recent.append(False)
                if self.in_outage():
                    self.cut()
                    self.recent.clear()  # the next cut needs a fresh window of failures
            self.cond.notify()

    def in_outage(self) -> bool:
        failures = self.recent.count(False)
        return failures >= OUTAGE_MIN and failures >= OUTAGE_SHARE * len(self.recent)

    def cut(self) -> None:
        self.limit = max(1, self.limit // 2)
        self.successes = 0

    def grow(self) -> None:
        self.successes += 1
        if self.successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self.successes = 0
            self.cond.notify()  # the grown limit frees a second slot
