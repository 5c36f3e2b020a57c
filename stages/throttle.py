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

    def release(self, ok: bool = True) -> None:
        with self.cond:
            self.in_flight -= 1
            if ok:
                self.successes += 1
                if self.successes >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self.successes = 0
            self.cond.notify()

    def rate_limited(self, pause: float) -> None:
        """Called after release() for a 429: pause everyone and halve the limit once per pause."""
        with self.cond:
            now = time.monotonic()
            if now >= self.paused_until:  # the first 429 of a burst cuts; the rest only extend
                self.limit = max(1, self.limit // 2)
                self.successes = 0
            self.paused_until = max(self.paused_until, now + pause)
