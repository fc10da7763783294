"""Stop a candidate's training once its clusters have stopped sharpening (issue 22, ``docs/speed.md``).

A search candidate trains for the default budget (``max_epochs="auto"``: 1,000 optimizer updates on small
tables, :mod:`sknas.training.budget`) because on some tables the clusters form late (olive oil: a network
reaches ARI 1.0 only after 350-500 updates). On most tables they have formed long before, and the rest of
the budget is spent polishing an embedding whose score no longer moves. :class:`ScorePlateau` watches a
cheap label-free figure during training (the silhouette of KMeans on a few hundred scoring rows, every
tenth of the budget) and stops the candidate when that figure has stopped rising: a late-forming
candidate keeps training because its figure is still climbing.

Replayed on recorded trajectories of 52 networks on 13 development tables
(``benchmarks/results/convergence.md``): candidates train 55% of their budget, with the same ARI and the
same label-free score on average as at the full budget, and the same candidate picked.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._runtime import one_thread
from ..config import get_config

#: The figure is checked this many times over a full budget (every tenth of it).
CHECKS_PER_BUDGET = 10
#: The checks averaged into the figure that must rise: one KMeans silhouette moves by 0.01-0.02
#: between neighbouring checks on a converged network (dropout, KMeans starts), two halve that.
SMOOTHING_CHECKS = 2
#: The smoothed figure must have risen by ``tol`` over this many checks (a fifth of the budget) to go on:
#: a figure still creeping up (digits: +0.003-0.008 a tenth of the budget, adding up to +0.04 by its end)
#: keeps training, so a network's score at its stop is on average its score at the full budget, and it
#: meets the fixed maps (LDA, raw features), which train nothing, on equal terms.
LOOKBACK_CHECKS = 2
#: Scoring rows the figure is computed on at most (a KMeans + silhouette of 500 rows: milliseconds).
MONITOR_ROWS = 500


class ScorePlateau:
    """Decide, during one candidate's training, when its label-free figure has converged.

    Every ``every`` optimizer updates (a tenth of ``budget``) the monitor embeds ``rows`` with the network,
    clusters them with KMeans(``n_clusters``) and takes the silhouette, averaged with the previous check's.
    Once ``min_updates`` are done, training stops at the first check where that figure is not more than
    ``tol`` above its best of two checks (a fifth of the budget) before.

    Parameters
    ----------
    rows : torch.Tensor of shape (n_rows, n_features)
        Rows to embed (on the network's device); at most :data:`MONITOR_ROWS` are used.
    n_clusters : int
    budget : int
        The optimizer updates the candidate would train for without the monitor.
    tol : float or None, default=None
        The rise over the last two checks that keeps training going; ``None``: sknas.config's
        ``convergence_tol``.
    min_share : float or None, default=None
        Share of ``budget`` trained before a stop is allowed; ``None``: sknas.config's
        ``convergence_min_share`` (1 turns the stop off).
    random_state : int, default=0
        Seeds KMeans (the figure must move with the network, not with KMeans' starts).
    race : FixedMapRace or None, default=None
        Also asked at every check from ``min_updates`` on where the figure is still rising: a network
        that cannot catch up with the best fixed map stops too.

    Attributes
    ----------
    trace : list of tuple
        ``(updates, figure)`` at every check.
    converged : bool
        Whether the monitor stopped the training because the figure converged.
    raced : bool
        Whether ``race`` stopped it.

    Examples
    --------
    >>> import torch
    >>> rows = torch.randn(60, 4)
    >>> plateau = ScorePlateau(rows, n_clusters=3, budget=100, tol=0.5, min_share=0.2)
    >>> plateau.every, plateau.min_updates
    (10, 20)
    >>> net = torch.nn.Linear(4, 2)  # never trained: its figure does not move
    >>> [plateau.should_stop(net, u) for u in (5, 10, 20, 30)]
    [False, False, False, True]
    >>> len(plateau.trace), plateau.converged
    (3, True)
    """

    def __init__(self, rows, n_clusters, budget, *, tol=None, min_share=None, random_state=0, race=None):
        config = get_config()
        self.rows = rows[:MONITOR_ROWS]
        self.n_clusters = int(n_clusters)
        self.tol = config["convergence_tol"] if tol is None else float(tol)
        min_share = config["convergence_min_share"] if min_share is None else float(min_share)
        self.every = max(1, math.ceil(budget / CHECKS_PER_BUDGET))
        self.min_updates = math.ceil(min_share * budget) if min_share < 1 else math.inf
        self.random_state = random_state
        self.trace = []
        self.converged = False
        self.raced = False
        self.race = race
        self._smoothed = []
        self._next_check = self.every

    def should_stop(self, encoder, updates):
        """Whether to stop after ``updates`` optimizer updates (called at the end of each epoch)."""
        if updates < self._next_check or self.min_updates == math.inf:
            return False
        self._next_check = (updates // self.every + 1) * self.every
        self.trace.append((int(updates), self._figure(encoder)))
        self._smoothed.append(float(np.mean([f for _, f in self.trace[-SMOOTHING_CHECKS:]])))
        if updates < self.min_updates or len(self._smoothed) <= LOOKBACK_CHECKS:
            return False
        self.converged = self._smoothed[-1] - max(self._smoothed[:-LOOKBACK_CHECKS]) <= self.tol
        if not self.converged and self.race is not None:
            self.raced = self.race.lagging(encoder, updates)
        return self.converged or self.raced

    def _figure(self, encoder):
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.metrics import silhouette_score

        from .trainer import embed

        was_training = encoder.training
        Z = embed(encoder, self.rows).detach().cpu().numpy().astype(np.float64)
        encoder.train(was_training)
        k = min(self.n_clusters, len(Z) - 1)
        if k < 2 or not np.isfinite(Z).all() or np.ptp(Z, axis=0).max() == 0:
            return -1.0  # nothing to cluster (yet)
        # One thread, as candidate scoring: KMeans' sums depend on the thread count, and where a candidate
        # stops must not depend on n_jobs (a worker process runs with other thread limits). KMeans warns when
        # the rows have fewer distinct points than clusters; the monitor's figure is internal, not the user's news.
        with one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(k, n_init=3, random_state=self.random_state).fit_predict(Z)
            if len(np.unique(labels)) < 2:
                return -1.0
            return float(silhouette_score(Z, labels))


class FixedMapRace:
    """Stop a network whose score is too far below the best fixed map's to win (issue 22, ``docs/speed.md``).

    A fixed map (raw features, LDA) trains nothing, so a search scores it before its networks. A network
    must beat the best one by sknas.config's ``fixed_map_margin`` to win (``_prefer_fixed_map``): that sum
    is the ``bar``. At the checks of :class:`ScorePlateau` from its ``min_share`` of the budget on, the race
    takes the network's score as the search would now; when even ``headroom`` more (the largest rise a
    network made from such a check to its stop on the development tables, plus a margin) leaves it below
    the bar, the rest of its budget cannot make it the winner, and it stops.

    Parameters
    ----------
    score : callable
        ``score(encoder)``: the network's label-free score now (the search's scoring of its scoring rows).
    bar : float
        The score to reach: the best fixed map's plus the fixed-map margin.
    headroom : float or None, default=None
        ``None``: sknas.config's ``race_headroom``.

    Attributes
    ----------
    trace : list of tuple
        ``(updates, score)`` at every check the race scored the network.
    reached : bool
        Whether the network has reached the bar (then it is not scored again).

    Examples
    --------
    >>> race = FixedMapRace(lambda encoder: 0.50, bar=0.70, headroom=0.1)
    >>> race.lagging(None, 300), race.trace
    (True, [(300, 0.5)])
    >>> ahead = FixedMapRace(lambda encoder: 0.75, bar=0.70, headroom=0.1)
    >>> ahead.lagging(None, 300), ahead.lagging(None, 400), ahead.trace  # a contender is scored once
    (False, False, [(300, 0.75)])
    """

    def __init__(self, score, bar, headroom=None):
        self.score = score
        self.bar = float(bar)
        self.headroom = get_config()["race_headroom"] if headroom is None else float(headroom)
        self.trace = []
        self.reached = False

    def lagging(self, encoder, updates):
        """Whether the network, after ``updates`` updates, scores too low to catch up.

        A network that has once reached the bar is a contender and is not scored again: the race only weeds
        out hopeless networks, and each of its scores costs a clustering of the scoring rows (0.1 s on digits).
        """
        if self.reached:
            return False
        score = float(self.score(encoder))
        self.trace.append((int(updates), score))
        self.reached = score >= self.bar
        return score + self.headroom < self.bar
