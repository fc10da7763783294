"""A search's share of its fit's ``time_budget``: what candidates cost, and what the final network will.

:class:`SearchClock` is the :class:`~sknas.training.deadline.Deadline` of a search's ``fit``. It watches
every candidate the search evaluates (its seconds, the rows and epochs it trained) and answers the
search loop (:class:`sknas.search.base.BaseFeatureSearch`):

- how many seconds the search may still spend (:meth:`SearchClock.search_left`): the time left, less the
  final network's estimated training (:meth:`SearchClock.final_reserve`) and what follows it;
- how many of a batch of proposals fit in that (:meth:`SearchClock.n_fitting`): the loop stops proposing
  when not even the cheapest candidate measured so far fits (:meth:`SearchClock.search_spent`);
- how long each candidate may train (:meth:`SearchClock.limited`): ``settings["max_time"]``, in seconds;
- and it marks each record with ``time_limited`` (its training was cut short by that limit) and
  ``budget_left`` (seconds of the budget left when it started).

The estimates, from what was measured so far in this fit:

- a fixed map (identity, LDA) costs what the fixed maps took; the cheapest of them (the identity map,
  scoring only) is also every candidate's scoring overhead;
- a network's training costs seconds per row-epoch (training rows x epochs), pooled over the networks
  measured so far;
- the final network costs the training of the likeliest winner (the slowest of the best
  :data:`LIKELY_WINNERS` valid candidates by score) scaled to every row and the final epochs; before any
  network was measured, :data:`FINAL_PRIOR_SHARE` of the budget.
"""

from __future__ import annotations

import math
import time

from ..config import get_config
from ..space.architecture import FIXED_HEADS
from ..training.budget import batches_per_epoch
from ..training.deadline import Deadline
from .candidates import candidate_epochs, finish_record

#: Share of the budget kept for the final network before any network candidate was measured.
FINAL_PRIOR_SHARE = 0.25
#: The final network's training is estimated for the slowest of this many best candidates.
LIKELY_WINNERS = 3
#: The ``reason`` of a network not trained because the search's time was spent (its batch had begun).
SKIPPED = "time_budget: no time left to train it"


def _is_fixed(architecture):
    return architecture.head in FIXED_HEADS


class SearchClock(Deadline):
    """The :class:`~sknas.training.deadline.Deadline` of a search, with estimates from its candidates.

    Parameters
    ----------
    seconds : float
        The fit's ``time_budget``.
    start : float or None, default=None
        When the fit started (``time.perf_counter()``); None: now.

    Examples
    --------
    >>> from sknas.space import Architecture, Block
    >>> clock = SearchClock(10.0)
    >>> clock.configure(n_rows=100, n_train=80, final_epochs=10, batch_size=64)
    >>> net = Architecture((Block("linear", 8),))
    >>> clock.estimate(net, rows=80, epochs=10) is None  # nothing measured yet
    True
    >>> record = {"architecture": net, "status": "ok", "valid": True, "score": 0.5, "time": 0.8, "n_epochs": 10}
    >>> data, settings = {"X_train": [[0.0]] * 80}, {"max_epochs": 10, "batch_size": 64}
    >>> clock.observe([record], data, settings, left=9.0)[0]["time_limited"]
    False
    >>> round(clock.estimate(net, rows=80, epochs=5), 2)  # half the epochs, half the seconds
    0.4
    >>> round(clock.final_reserve(), 2)  # 100 rows instead of 80: 20 updates of 50 rows, not of 40
    0.8
    """

    def __init__(self, seconds, start=None):
        super().__init__(seconds, start)
        self.measured = []  # (record, training rows, planned epochs) of every candidate evaluated
        self.stopped = False  # whether the budget stopped or shortened the search
        self.final_check_skipped = False  # whether the final check had no time to retrain a runner-up
        self.configure()

    def configure(self, n_rows=1, n_train=1, final_epochs=1, batch_size=512, parallel=1):
        """The fit's shape: ``n_rows`` (the final network's rows), ``n_train`` (a candidate's at full fidelity),
        ``final_epochs`` (the final network's epoch budget), ``batch_size`` and ``parallel`` (candidates
        trained at once)."""
        self.n_rows, self.n_train, self.batch_size, self.parallel = n_rows, n_train, batch_size, max(1, parallel)
        # The final network's updates: its row visits are at most sknas.config's final_max_row_visits (at least
        # one epoch).
        visits = min(final_epochs * n_rows, max(n_rows, get_config()["final_max_row_visits"]))
        self.final_updates = self._updates(n_rows, visits // n_rows)

    # -- what was measured ----------------------------------------------------------------------------
    def evaluate_each(self, evaluate, candidates, seeds, data, settings):
        """``evaluate(candidate, seed, data, settings)`` one after another, each network limited to its share of
        the time left; once the search's time is spent, a network is not trained (a failed record, ``SKIPPED``)
        unless none was measured yet (one epoch of a network is part of the minimal work)."""
        records = []
        for i, (architecture, seed) in enumerate(zip(candidates, seeds)):
            left = self.remaining()
            if _is_fixed(architecture) or self.search_left() > 0 or not self._networks():
                record = evaluate(architecture, seed, data, self.limited(settings, candidates[i:]))
            else:
                record = finish_record({"architecture": architecture, "seed": seed, "status": "failed",
                                        "reason": SKIPPED, "score": -math.inf, "valid": False, "n_epochs": 0},
                                       data["X_train"].shape[1], settings, time.perf_counter())
            records += self.observe([record], data, settings, left)
        return records

    def observe(self, records, data, settings, left):
        """Mark and remember ``records``, evaluated on ``data`` under ``settings``, started with ``left`` seconds."""
        rows, planned = len(data["X_train"]), candidate_epochs(data, settings)
        for record in records:
            trained = record["status"] == "ok" or record["reason"] == SKIPPED
            stopped = record.get("converged") or record.get("raced")  # by its own figures, not by the clock
            cut = trained and not stopped and record.get("n_epochs", 0) < planned
            record["time_limited"] = bool(cut and not _is_fixed(record["architecture"]))
            record["budget_left"] = left
            self.measured.append((record, rows, planned))
        self.mark()
        return records

    def _fixed_seconds(self):
        return [r["time"] for r, _, _ in self.measured if _is_fixed(r["architecture"])]

    def scoring_seconds(self):
        """A candidate's scoring overhead: the cheapest fixed map's seconds (0 before one was measured)."""
        return min(self._fixed_seconds(), default=0.0)

    def _networks(self):
        """The measured networks that trained: (record, training rows, planned epochs)."""
        return [(r, rows, planned) for r, rows, planned in self.measured
                if not _is_fixed(r["architecture"]) and r["status"] == "ok" and r.get("n_epochs")]

    def _updates(self, rows, epochs):
        return epochs * batches_per_epoch(rows, self.batch_size)

    def _trained_share(self):
        """Share of their planned epochs the networks not cut by their limit trained (a converged score stops
        a candidate early); 1 before one was measured."""
        done = [(r["n_epochs"], planned) for r, _, planned in self._networks() if not r["time_limited"]]
        return sum(e for e, _ in done) / sum(p for _, p in done) if done else 1.0

    def estimate(self, architecture, rows, epochs):
        """Seconds to evaluate ``architecture`` on ``rows`` training rows for at most ``epochs`` (None: unknown
        yet).

        A network's training seconds per optimizer update, pooled over the networks measured at the same
        fidelity (or all of them when none was), times its updates and the share of its epochs a network
        trains (:meth:`_trained_share`); updates, not rows, because on a small table an update's cost is
        mostly per-step overhead.
        """
        if _is_fixed(architecture):
            return max(self._fixed_seconds(), default=None)
        networks = self._networks()
        same = [e for e in networks if e[1] == rows and e[2] == epochs] or networks
        if not same:
            return None
        overhead = self.scoring_seconds()
        seconds = sum(max(r["time"] - overhead, 0.0) for r, _, _ in same)
        per_update = seconds / sum(self._updates(rows_r, r["n_epochs"]) for r, rows_r, _ in same)
        return overhead + per_update * self._updates(rows, epochs) * self._trained_share()

    # -- the final network ----------------------------------------------------------------------------
    def _final_seconds(self, record, rows):
        """Seconds to train ``record``'s architecture (trained on ``rows`` rows) on every row as the final network:
        its training seconds scaled by the final network's updates (or, when its score converged, which sets
        the final network's updates, by their larger batches)."""
        if _is_fixed(record["architecture"]):
            return record["time"] * self.n_rows / rows  # refitted on every row
        overhead, batches = self.scoring_seconds(), self._updates(self.n_rows, 1)
        if record.get("converged") or record.get("raced"):
            scale = (self.n_rows / batches) / (rows / self._updates(rows, 1))
        else:
            scale = self.final_updates / self._updates(rows, record["n_epochs"])
        return overhead + max(record["time"] - overhead, 0.0) * scale

    def _trained(self):
        """The measured records that trained (fixed maps included): (record, rows)."""
        return [(r, rows) for r, rows, _ in self.measured
                if r["status"] == "ok" and (_is_fixed(r["architecture"]) or r.get("n_epochs"))]

    def final_reserve(self):
        """Seconds kept for the final network: the slowest of the likeliest winners so far, or the prior."""
        valid = [(r, rows) for r, rows in self._trained() if r.get("valid")]
        if all(_is_fixed(r["architecture"]) for r, _ in valid):
            return FINAL_PRIOR_SHARE * self.seconds
        likely = sorted(valid, key=lambda e: -e[0]["score"])[:LIKELY_WINNERS]
        return max(self._final_seconds(r, rows) for r, rows in likely)

    def final_fits(self, architecture):
        """Whether ``architecture``'s final training (estimated from its candidates) fits in the time left."""
        estimates = [self._final_seconds(r, rows) for r, rows in self._trained() if r["architecture"] == architecture]
        return not estimates or min(estimates) <= self.final_limit()

    # -- the search's share -----------------------------------------------------------------------------
    def after_search(self):
        """Seconds kept after the search besides the final training: selection, the final check, the rest."""
        return self.after_final() + self.scoring_seconds()

    def search_left(self):
        """Seconds the search may still spend."""
        return self.remaining() - self.final_reserve() - self.after_search()

    def search_spent(self):
        """Whether the search must stop: not even the cheapest candidate measured so far fits."""
        spent = self.search_left() <= min((r["time"] for r, _, _ in self.measured), default=0.0)
        self.stopped |= spent
        return spent

    def n_fitting(self, architectures, cached, rows, epochs):
        """How many of the proposals ``architectures`` (in order; ``cached`` ones cost nothing) fit in the
        search's time left, ``parallel`` at a time; all of them while a cost cannot be estimated yet."""
        room, total = self.search_left() * self.parallel, 0.0
        for i, (architecture, hit) in enumerate(zip(architectures, cached)):
            cost = 0.0 if hit else self.estimate(architecture, rows, epochs)
            if cost is None:
                return len(architectures)
            total += cost
            if total > room:
                self.stopped = True
                return i
        return len(architectures)

    def limited(self, settings, candidates, parallel=1):
        """``settings`` with each network of ``candidates`` (trained ``parallel`` at a time) limited to its
        share of the search's time left, in seconds (``max_time``; 0 trains one epoch)."""
        networks = sum(not _is_fixed(a) for a in candidates)
        if not networks:
            return settings
        limit = max(0.0, self.search_left() / math.ceil(networks / parallel) - self.scoring_seconds())
        if settings.get("max_time") is not None:
            limit = min(limit, settings["max_time"])
        return {**settings, "max_time": limit}

    def step_over(self, reserve, step=None):
        over = super().step_over(reserve, step)
        self.stopped |= over
        return over
