"""Multi-objective search (NSGA-II): the Pareto front of segmentation quality against cost.

As in :mod:`sknas.search.evolution`, the strategy keeps no state between calls: each
generation's population is re-derived from the search history (the NSGA-II survivors of
every candidate evaluated so far, an elitist archive), so the shared search loop, cache,
budgets and ``n_jobs`` all apply unchanged.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .base import BaseFeatureSearch
from ..evaluation.cost import measure_latency_ms
from ..evaluation.multiobjective import (
    crowding_distance,
    hypervolume,
    knee_index,
    non_dominated_sort,
    normalize,
)
from ..space import build_network
from ..training import seeded

#: Objective name -> the search-record key holding it.  ``score`` is maximised, the costs minimised.
OBJECTIVE_KEYS = {"score": "score", "params": "params", "flops": "flops", "latency": "latency_ms"}
COSTS = ("params", "flops", "latency")
#: Reference point of the normalised hypervolume: 10% beyond the worst value of each objective,
#: so the extreme points of a front still add volume.
HV_REFERENCE = 1.1


def check_objectives(objectives):
    """Validate ``objectives``: ``"score"`` plus one or more distinct costs; returns a tuple."""
    if isinstance(objectives, str) or not isinstance(objectives, (tuple, list)):
        raise TypeError(f"objectives must be a tuple such as ('score', 'params'), got {objectives!r}.")
    objectives = tuple(objectives)
    unknown = [o for o in objectives if o not in OBJECTIVE_KEYS]
    if unknown:
        raise ValueError(f"Unknown objectives {unknown}; expected 'score' and some of {list(COSTS)}.")
    if len(set(objectives)) != len(objectives) or "score" not in objectives or len(objectives) < 2:
        raise ValueError("objectives must hold 'score' once and one or more distinct costs "
                         f"from {list(COSTS)}, got {objectives!r}.")
    return objectives


def objective_matrix(records, objectives):
    """Objectives of ``records`` as a matrix to minimise: ``-score`` and ``log10(1 + cost)``.

    Costs span orders of magnitude (the raw-feature map costs 0 parameters, a deep
    candidate 10^5), so they enter on a log scale; dominance is unchanged by it, crowding,
    hypervolume and the knee are measured on it.
    """
    columns = []
    for name in objectives:
        values = np.array([float(r[OBJECTIVE_KEYS[name]]) for r in records], dtype=float)
        columns.append(-values if name == "score" else np.log10(1.0 + np.maximum(values, 0.0)))
    return np.column_stack(columns) if records else np.empty((0, len(objectives)))


def distinct_valid(records):
    """Valid records, one per Architecture (a cached repeat carries the same values)."""
    seen, out = set(), []
    for record in records:
        if record.get("valid") and record["architecture"] not in seen:
            seen.add(record["architecture"])
            out.append(record)
    return out


def pareto_records(records, objectives=("score", "params")):
    """The valid records not dominated in ``objectives``, best score first.

    Parameters
    ----------
    records : list of dict
        Search records (``search_history_`` of any sknas search).
    objectives : tuple of str
        ``"score"`` and one or more of ``"params"``, ``"flops"``, ``"latency"``.

    Returns
    -------
    list of dict
    """
    pool = distinct_valid(records)
    if not pool:
        return []
    F = objective_matrix(pool, objectives)
    front = sorted(non_dominated_sort(F)[0], key=lambda i: tuple(F[i]))  # -score first: best score first
    return [pool[i] for i in front]


def front_hypervolume(records, objectives, lower, upper):
    """Hypervolume of the front of ``records``, objectives scaled to [0, 1] by ``lower``/``upper``
    (bounds of :func:`objective_matrix` values), reference point 1.1 in every objective."""
    front = pareto_records(records, objectives)
    if not front:
        return 0.0
    F = normalize(objective_matrix(front, objectives), lower, upper)
    return hypervolume(F, np.full(len(objectives), HV_REFERENCE))


def nsga2_population(records, objectives, size):
    """The ``size`` survivors of NSGA-II's selection among ``records``.

    Whole fronts are taken in order; the front that does not fit is cut by
    crowding distance, most isolated first.  Returns ``(record, rank, crowding)``
    triples, the crowding computed on each member's whole front.
    """
    pool = distinct_valid(records)
    if not pool:
        return []
    F = objective_matrix(pool, objectives)
    survivors = []
    for rank, front in enumerate(non_dominated_sort(F)):
        crowding = crowding_distance(F[front])
        members = sorted(zip(front, crowding), key=lambda item: (-item[1], pool[item[0]]["trial"]))
        survivors += [(pool[i], rank, float(c)) for i, c in members[: size - len(survivors)]]
        if len(survivors) >= size:
            break
    return survivors


def crowded_tournament(population, rng):
    """Binary tournament by NSGA-II's crowded comparison: lower rank, then larger crowding."""
    picks = rng.choice(len(population), size=min(2, len(population)), replace=False)
    return min((population[i] for i in picks), key=lambda m: (m[1], -m[2], m[0]["trial"]))


class ParetoFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by multi-objective architecture search (NSGA-II).

    Searches the trade-off between segmentation quality (the label-free
    ``score`` of each candidate) and its cost (parameters, FLOPs or measured CPU
    latency), then picks one map from the Pareto front.  The initial population
    holds the fallbacks (raw features, linear map, label-free LDA map) and random
    Architectures.  Each generation breeds ``population_size`` children: parents
    are chosen by binary tournament on (front rank, crowding distance), recombined
    with probability ``crossover_rate`` and mutated with the search space's own
    primitives; a child already evaluated is redrawn a few times, since a repeat
    teaches nothing.  The population is the NSGA-II survivors of every candidate
    evaluated so far (fast non-dominated sorting, then crowding distance), so the
    extremes and the sparsely covered parts of the front are kept.

    On the tabulated benchmark (500 architectures x 8 tables, 20 seeds; ``benchmarks/results/strategies.md``),
    judged on the label-free score it keeps, it was not better than random search at any budget from 10
    to 200 evaluations.

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, n_jobs, verbose
        As in :class:`RandomFeatureSearch`.  With a pool-level ``scoring``
        (``"consensus"``...) the front still uses each candidate's ``score``.
    max_trials : int, default=40
        Candidates evaluated in all (cached repeats included).
    objectives : tuple of str, default=("score", "params")
        ``"score"`` (higher is better) and one or more costs (lower is better):
        ``"params"`` and ``"flops"`` (counted from the Architecture) or
        ``"latency"`` (CPU milliseconds per 1,000 rows: median of 7 timed passes
        after 2 warm-up passes, measured only when needed).  Costs enter crowding,
        hypervolume and the knee on a ``log10(1 + cost)`` scale.
    population_size : int, default=10
    mutation_rate : float, default=1.0
        Probability that a child is mutated (a child identical to its parent always is).
    crossover_rate : float, default=0.3
        Probability that a child is bred from two parents.
    select : {"knee", "best_quality"}, default="knee"
        The map kept from the front (after the constraints): the knee (the point
        furthest below the line through the front's extremes, objectives
        normalised over the front) or the best score.
    max_params : int or None, default=None
        Keep only candidates with at most this many parameters.
    max_latency_ms : float or None, default=None
        Keep only candidates at most this slow (CPU milliseconds per 1,000
        rows); latency is then measured even when not an objective.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: the first members of the initial population (before the fallbacks)
        (truncated to ``population_size``). Stored untouched: the estimator passed is never modified.

    Attributes
    ----------
    pareto_front_ : list of dict
        The valid candidates not dominated in ``objectives``, best score first;
        each record has its ``architecture``, ``score``, ``params``, ``flops`` and,
        when measured, ``latency_ms``.
    hypervolume_history_ : list of float
        Per generation, the hypervolume of the front found so far, objectives
        normalised to [0, 1] by the best and worst values of the whole search and
        the reference point at 1.1: non-decreasing, comparable within one fit.
    architecture_, net_, search_history_, best_score_, runner_ups_, search_time_, fit_time_, time_budget_, efficiency_,
    n_trials_, n_components_, objective_, device_, n_features_in_, feature_names_in_
        As in :class:`RandomFeatureSearch`, for the selected candidate; each
        record also has ``parents`` (trial ids) and ``generation``.

    Examples
    --------
    >>> from sknas import ParetoFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = ParetoFeatureSearch(n_components=4, n_clusters=5, population_size=4, max_trials=8,
    ...                              max_epochs=2, random_state=0).fit(X)
    >>> len(search.hypervolume_history_)
    2
    >>> search.transform(X).shape[0]
    300
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "objectives": [tuple, list],
        "population_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "mutation_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "crossover_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "select": [StrOptions({"knee", "best_quality"})],
        "max_params": [None, Interval(numbers.Integral, 0, None, closed="left")],
        "max_latency_ms": [None, Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=40, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, objectives=("score", "params"), population_size=10, mutation_rate=1.0,
                 crossover_rate=0.3, select="knee", max_params=None, max_latency_ms=None, checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.objectives = objectives
        self.population_size = population_size
        self.mutation_rate = mutation_rate
        self.crossover_rate = crossover_rate
        self.select = select
        self.max_params = max_params
        self.max_latency_ms = max_latency_ms

    # -- the strategy -------------------------------------------------------------------------------------
    def _propose(self, space, rng, history, n_remaining):
        n = min(self.population_size, n_remaining)
        if not history:
            initial = self._initial_candidates(space)[:n]  # init's architectures, then the fallbacks
            while len(initial) < n:
                initial.append(space.sample_distinct(initial, rng))
            return [(arch, {"parents": [], "generation": 0}) for arch in initial]
        generation = history[-1]["step"] + 1
        seen = {r["architecture"] for r in history}
        population = nsga2_population(history, self._objectives, self.population_size)
        children = []
        for _ in range(n):
            if population:
                child, parents = self._breed(space, population, rng, seen)
            else:  # nothing valid yet: start again from random genomes
                child, parents = space.sample_distinct(seen, rng), []
            seen.add(child)
            children.append((child, {"parents": parents, "generation": generation}))
        return children

    def _breed(self, space, population, rng, seen, tries=10):
        for _ in range(tries):
            first = crowded_tournament(population, rng)[0]
            parents, child = [first["trial"]], first["architecture"]
            if rng.rand() < self.crossover_rate:
                second = crowded_tournament(population, rng)[0]
                parents.append(second["trial"])
                kind = "uniform" if rng.rand() < 0.5 else "one_point"
                child = space.crossover(child, second["architecture"], rng, kind=kind)
            if child == first["architecture"] or rng.rand() < self.mutation_rate:
                child = space.mutate(child, rng)
            if child not in seen:
                break
        return child, parents

    # -- latency, measured only when asked for ----------------------------------------------------------------
    def _measures_latency(self):
        return "latency" in self._objectives or self.max_latency_ms is not None

    def _evaluate_many(self, candidates, seeds, data, settings):
        records = super()._evaluate_many(candidates, seeds, data, settings)
        if self._measures_latency():
            for record in records:
                record["latency_ms"] = self._latency(record["architecture"], data["X_train"].shape[1],
                                                     settings["n_components"])
        return records

    def _latency(self, architecture, n_features, n_components):
        """CPU ms per 1,000 rows of a candidate's network, once per Architecture.

        Timed in this process, one candidate at a time, on a freshly built copy:
        forward time depends on the layers' shapes, not on the trained weights,
        and the copy exists in this process whatever ``n_jobs`` trained it.
        """
        if architecture not in self._latency_cache:
            try:
                with seeded(0):  # weight initialisation must not draw from the user's torch RNG
                    network = build_network(architecture, n_features, n_components)
                self._latency_cache[architecture] = measure_latency_ms(network, n_features)
            except (RuntimeError, ValueError):  # a candidate that cannot be built fails in training too
                self._latency_cache[architecture] = math.inf
        return self._latency_cache[architecture]

    # -- selection from the front ---------------------------------------------------------------------------
    def _select_architecture(self, context):
        self._objectives = check_objectives(self.objectives)
        self._latency_cache = {}
        try:
            fallback = super()._select_architecture(context)
        finally:
            del self._latency_cache
        history = self.search_history_
        self.pareto_front_ = pareto_records(history, self._objectives)
        self.hypervolume_history_ = self._hypervolume_history(history)
        valid = distinct_valid(history)
        if not valid:  # the base warned and kept the first trained candidate
            return fallback
        chosen = self._choose(valid)
        self.best_score_ = chosen.get("selection_score", chosen["score"])
        self.runner_ups_ = self._runner_ups(chosen, [r for r in history if r["valid"]])
        return chosen["architecture"]

    def _choose(self, valid):
        # As in every search: segments that restate one input column are not the answer while others exist.
        feasible = [r for r in valid if not r.get("restates_column")] or valid
        constrained = False  # whether an earlier constraint already narrowed the candidates
        for name, key, limit in (("max_params", "params", self.max_params),
                                 ("max_latency_ms", "latency_ms", self.max_latency_ms)):
            if limit is None:
                continue
            meeting = [r for r in feasible if r[key] <= limit]
            if not meeting:
                cheapest = min(r[key] for r in feasible)
                raise ValueError(f"No candidate meets {name}={limit}: the least {key} among the {len(feasible)} "
                                 f"valid candidates{' meeting the other constraint' if constrained else ''}"
                                 f" is {cheapest:g}. Relax {name} or widen the search.")
            feasible, constrained = meeting, True
        front = pareto_records(feasible, self._objectives)
        if self.select == "best_quality":
            return front[0]
        return front[knee_index(objective_matrix(front, self._objectives))]

    def _hypervolume_history(self, history):
        """One normalised hypervolume per generation, bounds from the whole search."""
        valid = distinct_valid(history)
        if not valid:
            return [0.0 for _ in sorted({r["step"] for r in history})]
        F = objective_matrix(valid, self._objectives)
        lower, upper = F.min(axis=0), F.max(axis=0)
        return [front_hypervolume([r for r in history if r["step"] <= step], self._objectives, lower, upper)
                for step in sorted({r["step"] for r in history})]
