"""One limiter shared by all fetch workers: how many requests may be in flight, and when.

On a 429 the whole run pauses (for Retry-After when given) and the limit halves; it grows back
by one after each window of successes. An optional RPM cap spaces the sends evenly.
"""
import threading
import time


class Throttle:
    def __init__(self, workers: int, rpm: float | None = None):
        self.ceiling = workers
        self.limit = workers
        self.in_flight = 0
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_send = 0.0
        self.paused_until = 0.0
        self.successes = 0
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

    def release(self, ok: bool = True, pause: float | None = None) -> None:
        """Free a slot. A pause (after a 429) stops everyone for that long and halves the limit,
        once per burst: the first 429 cuts, the ones arriving during the pause only extend it."""
        with self.cond:
            self.in_flight -= 1
            now = time.monotonic()
            if pause is not None:
                if now >= self.paused_until:
                    self.limit = max(1, self.limit // 2)
                    self.successes = 0
                self.paused_until = max(self.paused_until, now + pause)
            elif ok:
                self.successes += 1
                if self.successes >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self.successes = 0
                    self.cond.notify()  # the grown limit frees a second slot
            self.cond.notify()
