"""BUDGET: stop sending once this run's spend plus what is in flight would pass a dollar cap.

Sync requests: until the first answer reports its cost only one request is in flight, so the
first estimate is never a blind guess for all workers at once. Batches: each holds its
estimated cost from before it is submitted until its bill is known.
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
        self.held = 0.0       # estimates of batches not yet billed
        self.cond = threading.Condition()

    def average(self) -> float:
        return self.spent / self.answers if self.answers else 0.0

    def reached(self) -> BudgetReached:
        return BudgetReached(f"budget of ${self.limit:.2f} reached: ${self.spent:.4f} spent in this run; "
                             "rerun with a higher BUDGET to continue where this one stopped")

    def hold(self, estimate: float, force: bool = False) -> None:
        """Hold a batch's estimated cost, or raise BudgetReached if it would pass the cap. `force`
        holds it anyway (a batch submitted by an earlier run: it is billed whatever we decide)."""
        with self.cond:
            if not force and self.limit is not None and self.spent + self.held + estimate > self.limit:
                raise self.reached()
            self.held += estimate

    def bill(self, estimate: float, cost: float | None) -> None:
        """A held batch is over: release its estimate and count its bill (None: not billed)."""
        with self.cond:
            self.held = max(0.0, self.held - estimate)
            if cost is not None:
                self.spent += cost

    def reserve(self) -> None:
        """Claim room for one more request, or raise BudgetReached."""
        with self.cond:
            if self.limit is None:
                self.in_flight += 1
                return
            while self.answers == 0 and self.in_flight > 0:
                self.cond.wait()
            if self.spent + self.held + (self.in_flight + 1) * self.average() > self.limit:
                raise self.reached()
            self.in_flight += 1

    def settle(self, cost: float | None) -> None:
        """Release a reservation; cost is None when no answer came back (nothing billed)."""
        with self.cond:
            self.in_flight -= 1
            if cost is not None:
                self.spent += cost
                self.answers += 1
            self.cond.notify_all()
