"""A fit's wall-clock budget (``time_budget=``): how much time is left, and how to split it.

An estimator with a ``time_budget`` opens a :class:`Deadline` when ``fit`` starts and asks it, before
each piece of work, how many seconds that piece may take: a search's candidates and supernet
(:class:`sknas.search.clock.SearchClock` adds the estimates a search learns from its candidates), then
the final network, which trains with :meth:`Deadline.final_limit` seconds and stops after the epoch that
crosses them (:class:`sknas.training.net.FeatureNet`). What follows the final network's training (its
check, ``efficiency_``, ``provenance_``) is kept :meth:`Deadline.after_final` seconds.

Limits handed to the work are durations in seconds, never ``perf_counter`` timestamps: a candidate may
train in a joblib worker process, whose clock is not this one's.

The promise (``docs/speed.md``): ``fit`` ends within :data:`BUDGET_TOLERANCE` times the budget whenever
the budget covers the minimal work (the fixed maps, and one epoch of each network that trains); below
that the fit still returns a usable model and warns once (:class:`TimeBudgetWarning`).
"""

from __future__ import annotations

import time
import warnings

#: ``fit`` ends within this many times ``time_budget`` (when the budget covers the minimal work).
BUDGET_TOLERANCE = 1.1
#: Share of the budget kept for what follows the final network's training: its check, ``efficiency_``
#: (a latency probe), ``reference_embedding_``, ``provenance_`` (a hash of the data).
AFTER_FINAL_SHARE = 0.03


class TimeBudgetWarning(UserWarning):
    """A fit took longer than ``time_budget`` allowed: the budget was below the minimal work."""


class Deadline:
    """The seconds left of a budget that started at ``start`` (a ``time.perf_counter()`` value).

    Parameters
    ----------
    seconds : float
        The budget.
    start : float or None, default=None
        When it started; None: now.

    Examples
    --------
    >>> clock = Deadline(10.0)
    >>> 9.0 < clock.remaining() <= 10.0, clock.expired()
    (True, False)
    >>> round(clock.after_final(), 2)
    0.3
    >>> Deadline(0.5, start=time.perf_counter() - 1.0).final_limit()
    0.0
    """

    def __init__(self, seconds, start=None):
        self.seconds = float(seconds)
        self.start = time.perf_counter() if start is None else start
        self._mark = self.start  # the end of the last step (see step_over)

    def elapsed(self):
        """Seconds since the budget started."""
        return time.perf_counter() - self.start

    def remaining(self):
        """Seconds left (negative once the budget is spent)."""
        return self.seconds - self.elapsed()

    def expired(self):
        return self.remaining() <= 0

    def after_final(self):
        """Seconds kept for what follows the final network's training."""
        return AFTER_FINAL_SHARE * self.seconds

    def final_limit(self):
        """Seconds the final network may train: what is left but :meth:`after_final` (0: one epoch)."""
        return max(0.0, self.remaining() - self.after_final())

    def mark(self):
        """Note that a step of work ended now (the next :meth:`step_over` measures from here)."""
        self._mark = time.perf_counter()

    def step_over(self, reserve, step=None):
        """Whether another step as long as the last one would eat into the last ``reserve`` seconds.

        A loop of steps (supernet epochs, controller steps) asks after each step; ``step`` is that step's
        seconds, or None to measure them since the previous call (or :meth:`mark`).
        """
        now = time.perf_counter()
        step = now - self._mark if step is None else step
        self._mark = now
        return self.remaining() - reserve < step

    def summary(self, **figures):
        """``time_budget_``: the budget, the seconds used, whether they were within the tolerance, ``figures``."""
        used = self.elapsed()
        return {"budget": self.seconds, "used": used, "ratio": used / self.seconds,
                "within_tolerance": used <= BUDGET_TOLERANCE * self.seconds, **figures}

    def warn_if_exceeded(self, name, stacklevel=3):
        """Warn once (:class:`TimeBudgetWarning`) when the fit ran past the tolerance."""
        used = self.elapsed()
        if used > BUDGET_TOLERANCE * self.seconds:
            warnings.warn(f"{name}(time_budget={self.seconds:g}) took {used:.2f} s: the budget is below the minimal "
                          "work here (the fixed maps, one epoch of each network trained and of the final "
                          "network). The model is usable; time_budget_ says where the time went, and a larger "
                          "budget or fewer rows fit within it.", TimeBudgetWarning, stacklevel=stacklevel)


def no_budget_summary(used, **figures):
    """``time_budget_`` of a fit without a budget: the seconds used and ``figures``."""
    return {"budget": None, "used": used, "ratio": None, "within_tolerance": None, **figures}
