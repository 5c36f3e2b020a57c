"""BUDGET: stop sending once this run's spend plus what is in flight would pass a dollar cap.

Until the first answer reports its cost only one request is in flight, so the first estimate
is never a blind guess for all workers at once.
"""
import threading

from ..errors import PipelineError


class BudgetReached(PipelineError):
    """No new requests; answers already in flight are still cached."""


class Budget:
    def __init__(self, limit: float | None):
        self.limit = limit
        self.spent = 0.0
        self.answers = 0
        self.in_flight = 0
        self.cond = threading.Condition()

    def average(self) -> float:
        return self.spent / self.answers if self.answers else 0.0

    def reserve(self) -> None:
        """Claim room for one more request, or raise BudgetReached."""
        with self.cond:
            if self.limit is None:
                self.in_flight += 1
                return
            while self.answers == 0 and self.in_flight > 0:
                self.cond.wait()
            if self.spent + (self.in_flight + 1) * self.average() > self.limit:
                raise BudgetReached(f"budget of ${self.limit:.2f} reached: ${self.spent:.4f} spent in this run; "
                                    "rerun with a higher BUDGET to continue where this one stopped")
            self.in_flight += 1

    def settle(self, cost: float | None) -> None:
        """Release a reservation; cost is None when no answer came back (nothing billed)."""
        with self.cond:
            self.in_flight -= 1
            if cost is not None:
                self.spent += cost
                self.answers += 1
            self.cond.notify_all()
