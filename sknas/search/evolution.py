"""Evolutionary search: a population of Architectures evolved by mutation, crossover and selection.

The strategy is stateless between calls, as in Optuna's samplers: the
population is re-derived from the search history each time (the youngest
``population_size`` trained candidates with aging, the best ones without), so
the shared search loop, cache, budgets and ``n_jobs`` all apply unchanged.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np
from joblib import parallel_config
from sklearn.utils._param_validation import Interval, StrOptions

from ..space import genotype_distance
from ..training import WEIGHT_DECAY
from ..training.population import can_batch, train_population
from .base import BaseFeatureSearch
from .candidates import candidate_epochs, finish_record, score_candidate


def population_of(records, population_size, aging=True, elitism=0):
    """The population a history implies.

    Parameters
    ----------
    records : list of dict
        Search records in trial order; failed ones never join.
    population_size : int
    aging : bool
        Regularized evolution (Real et al. 2019): the oldest member leaves.
        Otherwise the worst leaves.
    elitism : int
        With aging, the ``elitism`` best members ever are kept however old.

    Returns
    -------
    list of dict
    """
    alive = [r for r in records if r["status"] == "ok"]
    if not aging:
        return sorted(alive, key=_fitness, reverse=True)[:population_size]
    elites = sorted(alive, key=_fitness, reverse=True)[:min(elitism, population_size)]
    elite_ids = {r["trial"] for r in elites}
    young = [r for r in alive if r["trial"] not in elite_ids][-(population_size - len(elites)):] \
        if population_size > len(elites) else []
    return sorted(elites + young, key=lambda r: r["trial"])


def _fitness(record):
    return record["score"] if record.get("valid") else -math.inf


def tournament(population, tournament_size, rng):
    """The fittest of ``tournament_size`` members drawn without replacement."""
    size = min(tournament_size, len(population))
    picks = rng.choice(len(population), size=size, replace=False)
    return max((population[i] for i in picks), key=lambda r: (_fitness(r), -r["trial"]))


class EvoFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by evolutionary architecture search (regularized evolution).

    The initial population holds the identity and linear fallbacks and
    random Architectures.  Each generation breeds ``population_size``
    children: parents are chosen by tournament, recombined with probability
    ``crossover_rate`` (one-point or uniform crossover on the blocks) and
    mutated with probability ``mutation_rate`` (a child identical to its
    parent is always mutated).  Mutation and crossover are the search space's
    own primitives, so every child is a valid Architecture.  Fitness is the
    shared label-free score after short training: candidates of early
    generations train on a row subsample for fewer epochs, growing linearly
    to full fidelity at the last generation.  A genome already evaluated at
    the same fidelity is never retrained.  The winner is chosen among the
    fully trained candidates (the last generation and the fixed maps): a
    partly trained score only earns a place in the population.

    On the tabulated benchmark (500 architectures x 8 tables, 20 seeds; ``benchmarks/results/strategies.md``)
    it was not better than random search at any budget from 10 to 200 evaluations.

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, n_jobs, verbose
        As in :class:`RandomFeatureSearch`.
    max_trials : int, default=40
        Candidates evaluated in all (cached repeats included).
    population_size : int, default=10
    n_generations : int or None, default=None
        Generations after the initial population; ``None`` runs until
        ``max_trials`` (or ``max_time``) is spent.
    tournament_size : int, default=3
    mutation_rate : float, default=1.0
        Probability that a child is mutated.
    crossover_rate : float, default=0.3
        Probability that a child is bred from two parents.
    aging : bool, default=True
        The oldest member leaves the population (regularized evolution), not
        the worst.
    elitism : int, default=1
        With aging, this many best members are kept however old.
    min_fidelity : float, default=0.25
        Share of training rows and of ``max_epochs`` used by the first
        generation; it grows linearly to 1 at the last generation.
    batch_candidates : bool, default=False
        Train the batchable candidates of a generation (no attention, no
        identity head, the ``neighbors`` objective) together as one padded
        model (:func:`sknas.training.population.train_population`); the others
        go through ``n_jobs``.  Off by default: on a 2-core CPU it measured
        0.75x of sequential training for the default space
        (``benchmarks/results/population.md``), and it is unmeasured on CUDA.

        .. deprecated:: 0.2
            ``"auto"`` (which batched on CUDA, unmeasured) warns (``FutureWarning``)
            and means ``False``; it is removed in 0.3.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: the first members of the initial population (before the fallbacks)
        (truncated to ``population_size``). Stored untouched: the estimator passed is never modified.

    Attributes
    ----------
    generation_stats_ : list of dict
        Per generation: ``generation``, ``best``, ``median``, ``worst``
        fitness of the population after it, ``n_distinct`` genomes,
        ``mean_distance`` (mean pairwise genotype distance), ``n_evaluated``,
        ``n_cached`` and ``fidelity`` (training rows, epochs).
    lineage_ : list of dict
        The winner's record, its first parent's, and so on back to the initial
        population.
    architecture_, net_, search_history_, best_score_, pareto_front_, search_time_, fit_time_, efficiency_,
    time_budget_, n_trials_, n_components_, objective_, device_, n_features_in_, feature_names_in_
        As in :class:`RandomFeatureSearch`; each record also has ``parents``
        (trial ids), ``generation``, ``cached`` and ``fidelity`` (training
        rows and epochs, or None for full training).

    Examples
    --------
    >>> from sknas import EvoFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = EvoFeatureSearch(n_components=4, n_clusters=5, population_size=4, max_trials=8, max_epochs=2,
    ...                           random_state=0).fit(X)
    >>> [g["generation"] for g in search.generation_stats_]
    [0, 1]
    >>> search.transform(X).shape
    (300, 4)
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "population_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_generations": [None, Interval(numbers.Integral, 0, None, closed="left")],
        "tournament_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "mutation_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "crossover_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "aging": ["boolean"],
        "elitism": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_fidelity": [Interval(numbers.Real, 0, 1, closed="right")],
        "batch_candidates": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=40, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, population_size=10, n_generations=None, tournament_size=3, mutation_rate=1.0,
                 crossover_rate=0.3, aging=True, elitism=1, min_fidelity=0.25, batch_candidates=False,
                 checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.population_size = population_size
        self.n_generations = n_generations
        self.tournament_size = tournament_size
        self.mutation_rate = mutation_rate
        self.crossover_rate = crossover_rate
        self.aging = aging
        self.elitism = elitism
        self.min_fidelity = min_fidelity
        self.batch_candidates = batch_candidates

    def _fit_rng(self):
        if isinstance(self.batch_candidates, str):  # "auto": the constraint admits no other string
            warnings.warn('batch_candidates="auto" is deprecated and will be removed in sknas 0.3: it batched '
                          "candidates on CUDA without a measurement that it helps. It now means False; pass "
                          "batch_candidates=True to batch (benchmarks/results/population.md).",
                          FutureWarning, stacklevel=4)
        return super()._fit_rng()

    # -- budget and fidelity ----------------------------------------------------------------------------
    def _n_generations(self):
        """Generations after the initial population that the budget allows."""
        by_trials = max(0, math.ceil((self.max_trials - self.population_size) / self.population_size))
        return by_trials if self.n_generations is None else min(self.n_generations, by_trials)

    def _fidelity(self, step, data, settings, rng):
        last = max(self._n_generations(), 1)
        share = self.min_fidelity + (1.0 - self.min_fidelity) * min(step, last) / last
        if share >= 1.0:
            return data, settings, None  # full fidelity: the same key as the fixed maps and any full training
        n_train = len(data["X_train"])
        n_rows = max(min(n_train, 3), math.ceil(share * n_train))
        epochs = max(1, math.ceil(share * self._epochs(n_train)))
        if n_rows < n_train:  # a fresh subsample per generation, from the search's own generator
            keep = np.sort(rng.choice(n_train, size=n_rows, replace=False))
            data = {**data, "X_train": data["X_train"][keep],
                    "y_train": None if data["y_train"] is None else data["y_train"][keep]}
        return data, {**settings, "max_epochs": epochs}, (n_rows, epochs)

    def _selectable(self, record):
        # A score from a partly trained candidate (fewer rows and epochs) only earned it a place in the
        # population; the winner is chosen among fully trained ones, as the final network will be (a search
        # stopped by max_time before its last generation lets every candidate compete: see the base class).
        return record["fidelity"] is None

    # -- the strategy -------------------------------------------------------------------------------------
    def _propose(self, space, rng, history, n_remaining):
        if not history:
            initial = self._initial_candidates(space)[: min(self.population_size, n_remaining)]  # init seeds it
            while len(initial) < min(self.population_size, n_remaining):
                initial.append(space.sample_distinct(initial, rng))  # depth 0 is common: avoid repeats
            return [(arch, {"parents": [], "generation": 0}) for arch in initial]
        generation = history[-1]["step"] + 1
        if generation > self._n_generations():
            return []
        population = population_of(history, self.population_size, self.aging, self.elitism)
        if not population:  # everything failed so far: start again from random genomes
            return [(space.sample(rng), {"parents": [], "generation": generation})
                    for _ in range(min(self.population_size, n_remaining))]
        return [self._breed(space, population, rng, generation)
                for _ in range(min(self.population_size, n_remaining))]

    def _breed(self, space, population, rng, generation):
        first = tournament(population, self.tournament_size, rng)
        parents = [first["trial"]]
        child = first["architecture"]
        if rng.rand() < self.crossover_rate:
            second = tournament(population, self.tournament_size, rng)
            parents.append(second["trial"])
            kind = "uniform" if rng.rand() < 0.5 else "one_point"
            child = space.crossover(first["architecture"], second["architecture"], rng, kind=kind)
        if child == first["architecture"] or rng.rand() < self.mutation_rate:
            child = space.mutate(child, rng)
        return child, {"parents": parents, "generation": generation}

    # -- batched evaluation ---------------------------------------------------------------------------------
    def _evaluate_many(self, candidates, seeds, data, settings):
        batch = self.batch_candidates != "auto" and bool(self.batch_candidates)  # "auto": deprecated, False
        # The stacked population model has no categorical embedding stage: such data trains one by one.
        batch = batch and settings.get("categorical") is None
        batchable = [i for i, a in enumerate(candidates) if batch and can_batch(a, settings["objective"])]
        if len(batchable) < 2:
            return super()._evaluate_many(candidates, seeds, data, settings)
        records = [None] * len(candidates)
        others = [i for i in range(len(candidates)) if i not in set(batchable)]
        if others:
            for i, record in zip(others, super()._evaluate_many([candidates[i] for i in others],
                                                                [seeds[i] for i in others], data, settings)):
                records[i] = record
        clock = self._deadline  # with a time_budget, the batched run gets the networks' share of the time left
        left = None if clock is None else clock.remaining()
        if clock is not None:
            settings = clock.limited(settings, [candidates[i] for i in batchable], parallel=len(batchable))
        start = time.perf_counter()
        with parallel_config(backend="sequential"):
            results = train_population(
                [candidates[i] for i in batchable], settings["objective"], data["X_train"], data["X_valid"],
                X_embed=data.get("X_score"),
                n_components=settings["n_components"], keep="last", max_epochs=candidate_epochs(data, settings),
                batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
                weight_decay=WEIGHT_DECAY, patience=None, seed=[seeds[i] for i in batchable],
                device=settings["device"], max_time=settings["max_time"])
        share = (time.perf_counter() - start) / len(batchable)  # a member's share of the batched run
        for i, result in zip(batchable, results):
            record = {"architecture": candidates[i], "seed": seeds[i], "status": "ok", "reason": None,
                      "batched": True}
            if result.status == "ok":
                score_candidate(record, result.embedding, result.best_valid_loss, result.n_epochs, data, settings)
            else:
                record.update(status="failed", reason=result.reason, score=-math.inf, valid=False)
            finish_record(record, data["X_train"].shape[1], settings, time.perf_counter())
            record["time"] = share
            records[i] = record
        if clock is not None:
            clock.observe([records[i] for i in batchable], data, settings, left)
        return records

    # -- analysis -------------------------------------------------------------------------------------------
    def _search(self, space, context):
        history = super()._search(space, context)
        n_train = len(context["X_train"])
        self.generation_stats_ = self._generation_stats(history, full=(n_train, self._epochs(n_train)))
        return history

    def _select_architecture(self, context):
        architecture = super()._select_architecture(context)
        winner = max((r for r in self.search_history_ if r["valid"] and r["architecture"] == architecture),
                     key=_fitness, default=None)
        self.lineage_ = self._lineage(winner) if winner is not None else []
        return architecture

    def _generation_stats(self, history, full):
        stats = []
        for generation in sorted({r["step"] for r in history}):
            upto = [r for r in history if r["step"] <= generation]
            members = population_of(upto, self.population_size, self.aging, self.elitism)
            fitness = [_fitness(r) for r in members if r.get("valid")]
            genomes = [r["architecture"] for r in members]
            pairs = [(a, b) for i, a in enumerate(genomes) for b in genomes[i + 1:]]
            this = [r for r in history if r["step"] == generation]
            stats.append({
                "generation": generation,
                "best": max(fitness, default=-math.inf),
                "median": float(np.median(fitness)) if fitness else -math.inf,
                "worst": min(fitness, default=-math.inf),
                "n_distinct": len(set(genomes)),
                "mean_distance": float(np.mean([genotype_distance(a, b) for a, b in pairs])) if pairs else 0.0,
                "n_evaluated": sum(not r["cached"] for r in this),
                "n_cached": sum(r["cached"] for r in this),
                # the generation's (rows, epochs); a fidelity of None is full training (fixed maps always)
                "fidelity": next((r["fidelity"] for r in this if r["fidelity"] is not None), full),
            })
        return stats

    def _lineage(self, record):
        by_trial = {r["trial"]: r for r in self.search_history_}
        lineage = [record]
        while lineage[-1]["parents"]:
            lineage.append(by_trial[lineage[-1]["parents"][0]])
        return lineage
