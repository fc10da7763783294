"""The search loop every search estimator shares: :class:`BaseFeatureSearch`.

A strategy (one file per method in this package) implements ``_propose``; the loop here asks it
for candidates, evaluates them (:mod:`sknas.search.candidates`), records them in
``search_history_``, keeps the budget, picks the winner with the label-free judge and checks the
final network's segments. The estimator contract itself (validation, final fit, transform) is
:class:`sknas.base.BaseNeuralTransformer` (``docs/architecture.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import time
import warnings
from abc import abstractmethod

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.metrics import adjusted_rand_score
from sklearn.utils._param_validation import Interval, StrOptions

from .._runtime import one_thread
from ..base import BaseNeuralTransformer
from ..config import get_config
from ..io.checkpoint import NullJournal, SearchJournal
from ..evaluation import (
    SCORINGS,
    SELECTION_SCORINGS,
    cluster_labels,
    column_restatement,
    discrete_columns,
    resolve_scoring,
    selection_scores,
)
from ..training.faults import is_out_of_memory, release_memory, summarize_failures
from ..space import SearchSpace
from ..space.architecture import FIXED_HEADS
from ..training import SEED_MAX, as_float32_rows, embed, encoder_device
from ..training.budget import batches_per_epoch
from ..warmstart.transfer import INIT_CONSTRAINT, clone_keeping_init, init_architectures
from . import candidates as candidate_evaluation  # the module; "candidates" names lists of them below
from .clock import SearchClock

#: The scorings on the silhouette's [-1, 1] scale, where a network must beat the best fixed map by
#: sknas.config's fixed_map_margin (see _prefer_fixed_map); other scorings compare plainly.
MARGIN_SCORINGS = ("silhouette", "silhouette+separability", "discriminability+separability")
#: How many other candidates the final check may retrain when the chosen map's final segments restate a column.
FINAL_FALLBACKS = 3


def _best_others(records, chosen, n):
    """The best-scoring record (selection score) of each architecture but ``chosen``, best first, at most ``n``."""
    seen, out = set(), []
    for record in sorted((r for r in records if r["architecture"] != chosen),
                         key=lambda r: -r.get("selection_score", r["score"])):
        if record["architecture"] not in seen:
            seen.add(record["architecture"])
            out.append(record)
    return out[:n]


def _final_fallbacks(chosen, valid):
    """What the final check may train instead of ``chosen``: the ``FINAL_FALLBACKS`` best distinct other
    candidates (by selection score) whose partitions did not restate a column, wherever they rank. The three
    runner-ups can all be group-bys while a weaker candidate is not (docs/selection.md)."""
    plain = [r for r in valid if not r.get("restates_column", False)]
    return [r["architecture"] for r in _best_others(plain, chosen, FINAL_FALLBACKS)]


class SearchFailedError(RuntimeError):
    """Every candidate of a search failed; the message lists why."""


def fixed_map_margin(scoring, config=None):
    """How much a network's selection score must exceed the best fixed map's under ``scoring``.

    ``fixed_map_margin`` of ``config`` (default: the settings in force, :mod:`sknas.config`) for the
    scorings in ``MARGIN_SCORINGS``; 0 for the others (callables included).
    """
    if not isinstance(scoring, str) or scoring not in MARGIN_SCORINGS:
        return 0.0
    return (config or get_config())["fixed_map_margin"]


def _prefer_fixed_map(best, valid, scoring):
    """The best fixed map instead of a winning network that beats it by less than the score's noise.

    One-standard-error rule: a network's score moves with its training seed (within-architecture
    standard deviation 0.013-0.027 on digits, breast cancer, wine, olive oil and diabetes,
    ``benchmarks/results/architecture_signal*.md``) and the best of many networks is the one whose noise
    was luckiest, while a fixed map (raw features, LDA) is a deterministic function of the data. So a
    network must beat the best fixed map by :func:`fixed_map_margin` to replace it.
    """
    margin = fixed_map_margin(scoring)
    if not margin or best["architecture"].head in FIXED_HEADS:
        return best
    fixed = [r for r in valid if r["architecture"].head in FIXED_HEADS]
    if not fixed:
        return best
    simpler = max(fixed, key=lambda r: r["selection_score"])
    return simpler if simpler["selection_score"] >= best["selection_score"] - margin else best



class BaseFeatureSearch(BaseNeuralTransformer):
    """Base class of every search estimator (the contract: ``docs/architecture.md``).

    A strategy subclass implements :meth:`_propose` (and may override
    :meth:`_search` entirely, e.g. for a supernet).  Everything else lives here.
    """

    _parameter_constraints: dict = {
        **BaseNeuralTransformer._parameter_constraints,
        "scoring": [StrOptions({"auto", *SCORINGS, *SELECTION_SCORINGS}), callable],
        "search_space": [None, SearchSpace, dict],
        "max_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_time": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "n_jobs": [None, numbers.Integral],
        "checkpoint": [None, str, os.PathLike],
        "init": INIT_CONSTRAINT,  # checked in depth by init_architectures
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=10, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, checkpoint=None, categorical_features="from_dtype", handle_unknown="error",
                 init=None, time_budget=None):
        self.n_components = n_components
        self.n_clusters = n_clusters
        self.objective = objective
        self.scoring = scoring
        self.search_space = search_space
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.categorical_features = categorical_features
        self.handle_unknown = handle_unknown
        self.init = init
        self.time_budget = time_budget

    _min_samples = 3

    def __sklearn_clone__(self):
        return clone_keeping_init(self)  # a fitted init stays fitted (clone would unfit it)

    def _initial_candidates(self, space):
        """The warm-start architectures (``init``), then the fallbacks not among them.

        What an earlier search found best is tried first: a warm start is meant to reach a good
        score sooner, and the fallbacks (raw features, linear, LDA) come right after either way.
        """
        warm = self._warm_start()
        return warm + [a for a in space.fallbacks() if a not in warm]

    def _warm_start(self):
        """The validated ``init`` Architectures of the running fit (empty for a cold start)."""
        return getattr(self, "_init_archs", [])

    # -- what a strategy implements ----------------------------------------
    @abstractmethod
    def _propose(self, space, rng, history, n_remaining):
        """Return the next candidates to evaluate (a list of Architectures; empty to stop)."""

    # -- the shared search loop --------------------------------------------
    def _resolved_space(self):
        if self.search_space is None:
            space = SearchSpace()
        elif isinstance(self.search_space, dict):
            space = SearchSpace.from_dict(self.search_space)
        else:
            space = self.search_space
        if getattr(self, "_standardizer", None) is not None and self._standardizer.layout is not None:
            space = dataclasses.replace(space, categorical=True)  # the data has columns to embed
        return space

    def _fit_rng(self):
        # Opened before the split: a resumed fit restores the RNG state the first one started
        # from, so it draws the same split and seeds even with random_state=None.
        rng = super()._fit_rng()
        if self.device_.type == "cuda" and self.n_jobs not in (None, 1):
            warnings.warn(f"n_jobs={self.n_jobs} has no effect on {self.device_}: candidates train one after "
                          "another on the GPU (n_jobs runs CPU worker processes). Leave n_jobs=None on CUDA.",
                          UserWarning, stacklevel=4)
        if self.checkpoint is not None and not self._checkpoints():
            warnings.warn(f"checkpoint is deprecated for {type(self).__name__}{self._no_checkpoint_detail()} and "
                          "will be removed in sknas 0.3: its search is not checkpointed, so the parameter does "
                          "nothing (an interrupted fit starts again). Leave checkpoint=None.",
                          FutureWarning, stacklevel=4)
        if self.checkpoint is None or not self._checkpoints():
            self._journal = NullJournal()
            return rng
        self._journal, rng = SearchJournal.open(self.checkpoint, self, rng)
        return rng

    def _checkpoints(self):
        """Whether this search can be checkpointed (strategies with their own loop cannot)."""
        return True

    def _no_checkpoint_detail(self):
        """Words after the class name in the checkpoint deprecation (e.g. a parameter that decides it)."""
        return ""

    def _open_deadline(self):
        return None if self.time_budget is None else SearchClock(self.time_budget)

    def _parallel(self):
        """Candidates trained at once (worker processes on the CPU)."""
        return 1 if self.n_jobs in (None, 1) or self.device_.type == "cuda" else effective_n_jobs(self.n_jobs)

    def _select_architecture(self, context):
        space = self._resolved_space()
        if self._deadline is not None:  # the fit's shape, for the clock's estimates
            n_rows = len(context["X"])
            self._deadline.configure(n_rows=n_rows, n_train=len(context["X_train"]), final_epochs=self._epochs(n_rows),
                                     batch_size=self.batch_size, parallel=self._parallel())
        # before anything trains: bad init fails fast
        self._init_archs = init_architectures(self.init, space, X=context["X"], n_clusters=self.n_clusters)
        try:
            history = self._search(space, context)
            if self.checkpoint is not None and self._checkpoints() and not self._journal.used:
                warnings.warn(f"{type(self).__name__} runs its own search loop, which is not checkpointed: "
                              "an interrupted fit starts again.", UserWarning, stacklevel=3)
        finally:
            self.__dict__.pop("_journal", None)  # search state, never pickled with the fitted estimator
            self.__dict__.pop("_init_archs", None)
        ok = [r for r in history if r["status"] == "ok"]
        if not ok:
            raise SearchFailedError(
                f"All {len(history)} candidates failed, so there is no feature map to fit. Reasons: "
                f"{summarize_failures(history)}. Non-finite losses point to extreme values (check the data's "
                "scale) or a too large learning_rate; out of memory to a too large batch_size.")
        valid = [r for r in ok if r["valid"]]
        # A strategy that scores partly trained candidates restricts the win to fully trained ones
        # (_selectable), once a network has been trained fully: before that (a search stopped early by
        # max_time) only the fixed maps would qualify, so every valid candidate competes.
        if any(self._selectable(r) and r["architecture"].head not in FIXED_HEADS for r in ok):
            valid = [r for r in valid if self._selectable(r)] or valid
        if not valid:
            warnings.warn("No candidate produced a valid (non-collapsed) embedding; keeping the first trained one. "
                          f"Reasons: {sorted({r['reason'] for r in ok})}", RuntimeWarning, stacklevel=3)
        pool = valid or ok
        if valid:
            for record, value in zip(valid, self._selection_scores(valid, context)):
                record["selection_score"] = float(value)
            self._mark_restatements(valid, context)
            # A partition that restates one input column (or two) is what a group-by gives: it may win only when
            # every candidate's does (docs/selection.md).
            winners = [r for r in valid if not r["restates_column"]] or valid
            best = _prefer_fixed_map(max(winners, key=lambda r: r["selection_score"]), winners, self._scoring())
        else:
            best = pool[0]
        for record in history:  # the judge is done with the embeddings; the history stays small to pickle
            record.pop("embedding", None)
            record.setdefault("time_limited", False)  # records no time_budget limited (SearchClock.observe)
            record.setdefault("budget_left", None)
        self.search_history_ = history
        self.best_score_ = best.get("selection_score", best["score"])
        self.runner_ups_ = self._runner_ups(best, valid)
        context["valid_records"] = valid  # for the final check's fallbacks (_final_fallbacks)
        self.n_trials_ = len(history)
        self.pareto_front_ = pareto_front(history)
        return best["architecture"]

    def _selection_scores(self, valid, context):
        """One score per valid record to pick the winner by (higher is better)."""
        return selection_scores(valid, self._scoring(), X=context.get("X_score"))

    def _check_final(self, architecture, net, Xs, y, rng, context):
        """Judge the final network's segments as the candidates' were; a restating one gives way to a runner-up.

        The restatement check (``_mark_restatements``) judges candidates trained on the search rows; the
        final network is the chosen architecture retrained on every row with a new seed, and it can land
        on the group-by its candidate avoided (crabs with its sex column, seed 2: the candidate's NMI
        with sex 0.01, the final segments' 1.0; ``docs/selection.md``). Then the best other candidate that did
        not restate a column is trained instead, and kept when its segments do not restate one
        either (the ``FINAL_FALLBACKS`` best other candidates whose own partitions did not restate one, in
        order, whether or not they are among ``runner_ups_``). ``final_check_`` says what happened.
        """
        self.final_check_ = {"column_nmi": None, "closest_column": None, "restates_column": False,
                             "replaced": None}
        columns = self._discrete_score_columns(context)
        if not columns or not hasattr(self, "runner_ups_"):
            return architecture, net
        nmi, column = self._final_restatement(net, context, columns)
        threshold = get_config()["restatement_nmi"]
        self.final_check_.update(column_nmi=nmi, closest_column=column, restates_column=nmi >= threshold)
        if nmi < threshold:
            return architecture, net
        for fallback in _final_fallbacks(architecture, context.get("valid_records", ())):
            if self._deadline is not None and not self._deadline.final_fits(fallback):
                self._deadline.final_check_skipped = True  # no time left to train it: keep the chosen one
                break
            other = self._train_final(fallback, Xs, y, seed=rng.randint(SEED_MAX))
            other_nmi, other_column = self._final_restatement(other, context, columns)
            if other_nmi < threshold:
                self.final_check_.update(replaced=str(architecture), column_nmi=other_nmi,
                                         closest_column=other_column, restates_column=False)
                self.best_score_ = max(r.get("selection_score", r["score"]) for r in context["valid_records"]
                                       if r["architecture"] == fallback)  # the score of the map kept
                return fallback, other
        return architecture, net

    def _discrete_score_columns(self, context):
        """The discrete input columns of the labelled scoring rows (computed once per fit, kept in context)."""
        if "discrete_columns" not in context:
            X = np.asarray(context["X_score"])[:get_config()["max_labelled_rows"]]
            context["discrete_columns"] = discrete_columns(X, self._standardizer.layout, self._encoded_column_names())
        return context["discrete_columns"]

    def _final_restatement(self, net, context, columns):
        """``(nmi, column)`` of the final network's KMeans segments of the labelled scoring rows."""
        rows = np.asarray(context["X_score"])[:get_config()["max_labelled_rows"]]
        encoder = net.module_.encoder
        with torch.no_grad():
            Z = embed(encoder, torch.as_tensor(as_float32_rows(rows), device=encoder_device(encoder))).cpu().numpy()
        with one_thread(), parallel_config(backend="sequential"):
            labels = cluster_labels(Z, self.n_clusters)
        return column_restatement(labels, columns)

    def _mark_restatements(self, valid, context):
        """Record in each valid record which discrete input column its partition restates most (NMI), and
        whether that makes it a restatement (NMI >= sknas.config's ``restatement_nmi``: a group-by, not a
        discovery)."""
        columns = self._discrete_score_columns(context)
        threshold = get_config()["restatement_nmi"]
        for record in valid:
            nmi, column = column_restatement(record["labels"], columns)
            record.update(column_nmi=nmi, closest_column=column, restates_column=nmi >= threshold)

    def _encoded_column_names(self):
        """Input column names in the encoded order: numeric columns first, then categorical ones."""
        names = getattr(self, "feature_names_in_", None)
        names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(self.n_features_in_)]
        mask = self.is_categorical_ if self.is_categorical_ is not None else np.zeros(len(names), dtype=bool)
        return [n for n, c in zip(names, mask) if not c] + [n for n, c in zip(names, mask) if c]

    def _selectable(self, record):
        """Whether a valid record may win the search (a strategy scoring partly trained candidates restricts it)."""
        return True

    def _scoring(self):
        """The scoring in force (``"auto"`` resolved)."""
        return resolve_scoring(self.scoring)

    def _pool_scoring(self):
        return isinstance(self._scoring(), str) and self._scoring() in SELECTION_SCORINGS

    @staticmethod
    def _runner_ups(best, valid, n=3):
        """The next best distinct candidates and how much their clusterings agree (ARI) with the winner's."""
        out = []
        for record in _best_others(valid, best["architecture"], n):
            agreement = adjusted_rand_score(best["labels"], record["labels"]) \
                if best.get("labels") is not None and record.get("labels") is not None else math.nan
            out.append({"architecture": record["architecture"], "selection_score": record["selection_score"],
                        "score": record["score"], "agreement_with_winner": float(agreement),
                        "trial": record["trial"], "restates_column": record.get("restates_column", False),
                        "closest_column": record.get("closest_column"), "column_nmi": record.get("column_nmi")})
        return out

    def _search(self, space, context):
        """Ask the strategy for candidates until the budget is spent; return the history.

        A proposal is an Architecture, or ``(Architecture, info)`` where ``info``
        (e.g. the parents) is copied into its record.  A genome already
        evaluated at the same fidelity is never retrained: its record is reused
        with ``cached=True``.
        """
        rng = context["rng"]
        history, cache = [], {}
        settings = self._candidate_settings()
        data = {k: context[k] for k in candidate_evaluation.SEARCH_DATA_KEYS}
        journal = getattr(self, "_journal", None) or NullJournal()
        journal.start(context)
        progress = self._progress_bar()
        step = 0
        try:
            # The first batch always runs, so even a tiny max_time yields a model.
            while len(history) < self.max_trials and not (history and self._out_of_time(context)):
                proposals = self._propose(space, rng, history, self.max_trials - len(history))
                if not proposals:
                    break
                proposals = [p if isinstance(p, tuple) else (p, {}) for p in proposals]
                proposals = proposals[: self.max_trials - len(history)]
                # A strategy may draw a candidate's seed itself (``info["seed"]``), e.g. to keep one draw
                # order whatever its batch size; otherwise it is drawn here.
                seeds = [int(info.pop("seed")) if "seed" in info else int(rng.randint(SEED_MAX))
                         for _, info in proposals]
                # Resolved here already, so the checkpoint records and replays the seed each candidate
                # really used (fixed maps take the fit's one seed).
                seeds = [candidate_evaluation.candidate_seed(arch, seed, settings)
                         for (arch, _), seed in zip(proposals, seeds)]
                step_data, step_settings, fidelity = self._fidelity(step, data, settings, rng)
                # Fixed maps (raw features, LDA) train nothing, so low fidelity would only fit them on
                # fewer rows: they are always fitted on every row (X_fixed), at one fidelity.
                keys = [(arch, None if arch.head in FIXED_HEADS else fidelity) for arch, _ in proposals]
                if history and self._deadline is not None:  # a time_budget: the proposals that fit, in order
                    n_fit = self._deadline.n_fitting(
                        [arch for arch, _ in proposals], [key in cache for key in keys], len(step_data["X_train"]),
                        candidate_evaluation.candidate_epochs(step_data, step_settings))
                    if not n_fit:
                        break
                    proposals, seeds, keys = proposals[:n_fit], seeds[:n_fit], keys[:n_fit]
                fresh, seen = [], set()  # first occurrence of each genome not yet in the cache
                for i, key in enumerate(keys):
                    if key not in cache and key not in seen:
                        fresh.append(i)
                        seen.add(key)
                groups = [(fidelity, step_data, step_settings)]
                if fidelity is not None:
                    groups.append((None, data, settings))
                for group_fidelity, group_data, group_settings in groups:
                    group = [i for i in fresh if keys[i][1] == group_fidelity]
                    if not group:
                        continue
                    # A record already in the checkpoint is replayed, not retrained (trial = position). Fully
                    # trained networks race the fixed maps scored before them (_evaluate_raced).
                    evaluate = self._evaluate_contained if group_fidelity is not None else \
                        functools.partial(self._evaluate_raced, history, context)
                    evaluated = journal.evaluate(evaluate, [len(history) + i for i in group],
                                                 [proposals[i][0] for i in group], [seeds[i] for i in group],
                                                 group_fidelity, group_data, group_settings)
                    for i, record in zip(group, evaluated):
                        cache[keys[i]] = record
                for key, (arch, info) in zip(keys, proposals):
                    record = cache[key]
                    if record.get("trial") is not None:  # seen before: reuse, do not retrain
                        record = {**record, "cached": True, "time": 0.0}
                    else:
                        record["cached"] = False
                    record = {**record, **info, "fidelity": key[1], "trial": len(history), "step": step}
                    if not record["cached"]:
                        cache[key] = record
                    history.append(record)
                    if progress is not None:
                        progress.update(1)
                        best = max((r["score"] for r in history if r["valid"]), default=-math.inf)
                        progress.set_postfix(best=f"{best:.4f}", last=str(record["architecture"])[:40])
                step += 1
                journal.save(history, rng)  # whole steps only: a replayed step must see all its records
        except KeyboardInterrupt:
            raise KeyboardInterrupt(journal.interrupted_message(len(history))) from None
        finally:
            if progress is not None:
                progress.close()
        return history

    def _fidelity(self, step, data, settings, rng):
        """Data, settings and a hashable fidelity key for the candidates of ``step``.

        The default is full fidelity; strategies that train cheaply first
        (fewer epochs, a row subsample) override it.
        """
        return data, settings, None

    def _candidate_settings(self):
        return {
            "n_components": self.n_components, "n_clusters": self.n_clusters, "objective": self.objective_,
            # Pool-level scorings rank after the search; each candidate gets the silhouette meanwhile.
            "scoring": "silhouette" if self._pool_scoring() else self._scoring(),
            "max_epochs": self.max_epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "max_time": self.max_time, "device": self.device_,
            "categorical": self._standardizer.layout,  # where the indicator blocks the networks embed sit
            # The fixed maps' seed (candidates.candidate_seed): the same for every random_state, so a fixed map is
            # a function of the table alone and the segments it gives do not change with the user's seed
            # (docs/selection.md, "The fixed maps' seed").
            "fixed_map_seed": candidate_evaluation.FIXED_MAP_SEED,
            # Candidates may run in worker processes or threads, which do not share this thread's settings.
            "config": get_config(),
        }

    def _race_bar(self, records, context):
        """The score a network must be able to reach to keep training: the best fixed map's among ``records``
        plus the fixed-map margin (``_prefer_fixed_map``), or None when there is nothing to race.

        Only a fixed map that could win counts: a valid one whose partition restates no input column
        (``_mark_restatements``). Scorings without a fixed-map margin (pool-level ones rank after the
        search, callables) and an explicit ``max_epochs`` (the user's budget) are not raced.
        """
        scoring = self._scoring()
        if self.max_epochs != "auto" or not isinstance(scoring, str) or scoring not in MARGIN_SCORINGS:
            return None
        fixed = [r for r in records if r["status"] == "ok" and r["valid"] and r["architecture"].head in FIXED_HEADS]
        if not fixed:
            return None
        columns, threshold = self._discrete_score_columns(context), get_config()["restatement_nmi"]
        plain = [r["score"] for r in fixed if column_restatement(r["labels"], columns)[0] < threshold]
        return max(plain) + fixed_map_margin(scoring) if plain else None

    def _evaluate_raced(self, earlier, context, candidates, seeds, data, settings):
        """``_evaluate_contained``, the fixed maps first: the networks then race the best of them and of the
        ``earlier`` records (sknas.config's ``race_headroom``, :class:`~sknas.training.convergence.FixedMapRace`).

        Each candidate trains with its own seed, so the order changes no record; the records come back in
        the order of ``candidates``.
        """
        order = sorted(range(len(candidates)), key=lambda i: candidates[i].head not in FIXED_HEADS)
        n_fixed = sum(candidates[i].head in FIXED_HEADS for i in order)
        out = [None] * len(candidates)
        for batch in (order[:n_fixed], order[n_fixed:]):
            if not batch:
                continue
            known = list(earlier) + [r for r in out if r is not None]
            batch_settings = {**settings, "race_bar": self._race_bar(known, context)}
            records = self._evaluate_contained([candidates[i] for i in batch], [seeds[i] for i in batch], data,
                                               batch_settings)
            for i, record in zip(batch, records):
                out[i] = record
        return out

    def _evaluate_contained(self, candidates, seeds, data, settings):
        """``_evaluate_many``, with a batched evaluation that runs out of memory redone one by one."""
        try:
            return self._evaluate_many(candidates, seeds, data, settings)
        except Exception as exc:
            if not is_out_of_memory(exc) or len(candidates) == 1:
                raise
            release_memory()
            return [candidate_evaluation.evaluate_candidate(a, s, data, settings) for a, s in zip(candidates, seeds)]

    def _train_final(self, architecture, Xs, y, seed):
        if architecture.head in FIXED_HEADS:
            # The fixed map is refitted on all rows with the seed it was scored with (its record's: the
            # fit's fixed-map seed, _candidate_seed): its seed only picks KMeans starts, which decide
            # between local optima (wine: the same winning LDA map gave ARI 0.864, 0.897 or 0.915 with
            # three final seeds). A map that wins two searches with the same random_state then gives the
            # same output, whichever strategy found it.
            seed = next((r["seed"] for r in self.search_history_ if r["architecture"] == architecture), seed)
        try:
            return super()._train_final(architecture, Xs, y, seed)
        except KeyboardInterrupt:
            where = (f"checkpoint {os.fspath(self.checkpoint)!r} holds the whole search: fit again with it to "
                     "retrain the final network without searching") if self.checkpoint is not None \
                else "pass checkpoint='search.json' to make a search resumable"
            raise KeyboardInterrupt(f"Interrupted while training the final network; {where}.") from None

    def _final_epochs(self, architecture, n_rows):
        """The budget's epochs, or as many as the winning candidate's updates when its training converged.

        A candidate on the ``max_epochs="auto"`` budget stops once its clusters stop sharpening
        (sknas.config's ``convergence_tol``); the final network is the same architecture on all rows, and
        its score was judged after that many updates, so it trains for as many, not for the whole budget.
        """
        epochs = super()._final_epochs(architecture, n_rows)
        trained = [r for r in self.search_history_ if r["architecture"] == architecture and r["status"] == "ok"
                   and r.get("fidelity") is None and (r.get("converged") or r.get("raced"))]
        if not trained:
            return epochs
        record = max(trained, key=lambda r: r.get("selection_score", r["score"]))
        return min(epochs, math.ceil(record["n_updates"] / batches_per_epoch(n_rows, self.batch_size)))

    def _evaluate_many(self, candidates, seeds, data, settings):
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        # One GPU trains candidates one after another: seeded() serialises torch's global RNG, and worker
        # processes would each hold a CUDA context. fit says so when n_jobs asks for more (_warn_n_jobs).
        clock = self._deadline  # with a time_budget, each network trains at most its share of the time left
        if n_jobs == 1 or len(candidates) == 1 or self.device_.type == "cuda":
            if clock is None:
                return [candidate_evaluation.evaluate_candidate(a, s, data, settings)
                        for a, s in zip(candidates, seeds)]
            return clock.evaluate_each(candidate_evaluation.evaluate_candidate, candidates, seeds, data, settings)
        # Separate processes: each candidate has its own torch RNG and threads,
        # so results do not depend on n_jobs.
        settings = {**settings, "n_threads": 1}
        left = None if clock is None else clock.remaining()
        limited = settings if clock is None else clock.limited(settings, candidates, self._parallel())
        records = Parallel(n_jobs=n_jobs)(delayed(candidate_evaluation.evaluate_candidate)(a, s, data, limited)
                                          for a, s in zip(candidates, seeds))
        return records if clock is None else clock.observe(records, data, settings, left)

    def _out_of_time(self, context):
        if self.max_time is not None and time.perf_counter() - context["start"] > self.max_time:
            return True
        return self._deadline is not None and self._deadline.search_spent()

    def _time_budget_summary(self, **figures):
        clock = self._deadline
        return super()._time_budget_summary(
            search_seconds=self.search_time_, n_time_limited=sum(bool(r["time_limited"]) for r in self.search_history_),
            search_stopped_by_budget=clock is not None and clock.stopped,
            final_check_skipped=clock is not None and clock.final_check_skipped, **figures)

    def _progress_bar(self):
        if not self.verbose:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.max_trials, desc=type(self).__name__, unit="trial")



def pareto_front(history, quality="score", cost="params"):
    """Records not dominated in (higher ``quality``, lower ``cost``), best quality first."""
    ok = [r for r in history if r.get("valid")]
    front = [r for r in ok
             if not any(o[quality] >= r[quality] and o[cost] <= r[cost]
                        and (o[quality] > r[quality] or o[cost] < r[cost]) for o in ok)]
    return sorted(front, key=lambda r: -r[quality])
