"""Multi-objective primitives: non-dominated sorting, crowding distance, hypervolume, knee point.

Every function takes an objective matrix ``F`` of shape ``(n_points, n_objectives)`` in which
*lower is better* in every column (negate a quality before passing it).

Our own code rather than pymoo or moocore: the fronts of a search hold at most ``max_trials``
points in two to four objectives, where Deb's fast non-dominated sort and the exact
hypervolume by slicing objectives (HSO; exact in any dimension) take milliseconds.  A
dependency would buy speed on fronts thousands of points wide in five or more objectives,
which a search never produces.  Each function is checked against a brute-force definition
on random small fronts in ``tests/test_pareto.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crowding_distance", "dominates", "hypervolume", "knee_index", "non_dominated_sort", "normalize"]


def _as_matrix(F):
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"F must be 2-D (n_points, n_objectives), got shape {F.shape}.")
    return F


def dominates(a, b):
    """Whether point ``a`` Pareto-dominates ``b`` (no worse in every objective, better in one; minimising)."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_sort(F):
    """Fast non-dominated sorting (Deb et al. 2002, NSGA-II).

    Parameters
    ----------
    F : array-like of shape (n_points, n_objectives)
        Objectives to minimise.

    Returns
    -------
    fronts : list of list of int
        Indices of the first (non-dominated) front, then of the front that is
        non-dominated once the first is removed, and so on.  Equal points share a front.

    Examples
    --------
    >>> non_dominated_sort([[1, 2], [2, 1], [2, 2], [3, 3]])
    [[0, 1], [2], [3]]
    """
    F = _as_matrix(F)
    n = len(F)
    if n == 0:
        return []
    # dom[i, j]: i dominates j
    no_worse = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    better = np.any(F[:, None, :] < F[None, :, :], axis=2)
    dom = no_worse & better
    n_dominators = dom.sum(axis=0)
    fronts, current = [], [i for i in range(n) if n_dominators[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in np.flatnonzero(dom[i]):
                n_dominators[j] -= 1
                if n_dominators[j] == 0:
                    nxt.append(int(j))
        current = sorted(nxt)
    return fronts


def crowding_distance(F):
    """NSGA-II crowding distance of the points of one front.

    Each objective adds the normalised gap between a point's two neighbours
    along it; the boundary points of every objective get ``inf`` so the extremes
    of a front always survive.  An objective constant over the front adds nothing.

    Parameters
    ----------
    F : array-like of shape (n_points, n_objectives)

    Returns
    -------
    ndarray of shape (n_points,)

    Examples
    --------
    >>> crowding_distance([[0, 2], [1, 1], [2, 0]]).tolist()
    [inf, 2.0, inf]
    """
    F = _as_matrix(F)
    n, m = F.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        values = F[order, k]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span <= 0:
            continue
        distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def hypervolume(F, reference):
    """Exact hypervolume dominated by ``F`` and bounded by ``reference`` (minimising).

    Points that do not strictly dominate the reference point add nothing.  Two
    objectives are a sweep; more are sliced along the last objective (HSO), exact
    in any dimension and fast for the few dozen points of a search's front.

    Parameters
    ----------
    F : array-like of shape (n_points, n_objectives)
    reference : array-like of shape (n_objectives,)

    Returns
    -------
    float

    Examples
    --------
    >>> hypervolume([[1, 2], [2, 1]], reference=[3, 3])
    3.0
    """
    F = _as_matrix(F)
    reference = np.asarray(reference, dtype=float)
    if reference.shape != (F.shape[1],):
        raise ValueError(f"reference must have {F.shape[1]} values, got shape {reference.shape}.")
    F = F[np.all(F < reference, axis=1)]
    if len(F) == 0:
        return 0.0
    return float(_hv(F[non_dominated_sort(F)[0]], reference))


def _hv(F, reference):
    if F.shape[1] == 1:
        return reference[0] - F[:, 0].min()
    if F.shape[1] == 2:
        total, floor = 0.0, reference[1]
        for x, y in F[np.lexsort((F[:, 1], F[:, 0]))]:
            if y < floor:
                total += (reference[0] - x) * (floor - y)
                floor = y
        return total
    # Slice along the last objective: between consecutive levels, the covered region is the
    # (m-1)-dimensional hypervolume of the points at or below the lower level.
    F = F[np.argsort(F[:, -1], kind="stable")]
    levels = np.append(F[:, -1], reference[-1])
    total = 0.0
    for i in range(len(F)):
        depth = levels[i + 1] - levels[i]
        if depth > 0:
            total += depth * _hv(F[: i + 1, :-1], reference[:-1])
    return total


def normalize(F, lower, upper):
    """Scale each objective to [0, 1] by ``lower`` and ``upper``; a column with no range maps to 0."""
    F = _as_matrix(F)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    span = np.where(upper > lower, upper - lower, 1.0)
    return (F - lower) / span


def knee_index(F):
    """The knee of a front: the point furthest below the hyperplane through its extremes.

    Objectives are normalised to [0, 1] over the front, where the extreme
    points of a 2-D front lie on the line ``f1 + f2 = 1``; the knee is the point
    with the smallest sum of normalised objectives (the largest distance below
    that line, the same rule in more dimensions).  Ties go to the earlier point.

    Parameters
    ----------
    F : array-like of shape (n_points, n_objectives)
        Usually one non-dominated front.

    Returns
    -------
    int

    Examples
    --------
    >>> knee_index([[0.0, 1.0], [0.2, 0.3], [1.0, 0.0]])
    1
    """
    F = _as_matrix(F)
    if len(F) == 0:
        raise ValueError("An empty front has no knee.")
    scaled = normalize(F, F.min(axis=0), F.max(axis=0))
    return int(np.argmin(scaled.sum(axis=1)))
