"""Progressive search (PNAS-style): grow architectures one block at a time, train only the promising.

Each step expands every surviving branch by one block in every way the space allows, ranks the
expansions with a surrogate regressor fitted on every candidate measured so far, and trains only the
top ``beam_width`` by successive halving (a few rows and epochs first, full training for the
survivors).  The strategy is a small state machine driven by the shared search loop: each call to
``_propose`` is one rung, so budgets, the (architecture, fidelity) cache and ``n_jobs`` apply unchanged.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import replace

import numpy as np
from scipy.stats import kendalltau
from sklearn.ensemble import ExtraTreesRegressor, VotingRegressor
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import Interval

from .base import BaseFeatureSearch
from ..evaluation.zero_cost import NASWOT_ROWS, naswot_score
from ..space import Architecture, Block
from ..space.architecture import FIXED_HEADS, HEADS
from ..space.encoding import encode, encode_many
from ..space.ops import PRESERVING_OPS

#: A training subsample never goes below this many rows: the k-NN graph objective (15 neighbours) and
#: the cluster score need a few dozen rows to mean anything.
MIN_ROWS = 50
#: With prescreening, the zero-cost score re-ranks this many times ``beam_width`` of the best-predicted
#: expansions (or of random one-block ones at the first step), not all of them: it costs a forward pass each.
PRESCREEN_POOL = 4


def all_blocks(space):
    """Every distinct Block the space allows, in a fixed order."""
    blocks = []
    for op, act, norm, dropout, residual in itertools.product(space.ops, space.activations, space.norms,
                                                              space.dropouts, space.residual):
        if op == "zero" and not residual:
            continue  # a zero op alone would erase the signal (Block rejects it)
        for width in ((0,) if op in PRESERVING_OPS else space.widths):
            blocks.append(Block(op, width, activation=act, norm=norm, dropout=float(dropout),
                                residual=bool(residual)))
    return blocks


def expansions(architecture, space, blocks=None):
    """Every Architecture one block deeper than ``architecture``: a block of the space appended.

    Appending suffices to reach every architecture of the space (each is an expansion of its prefix),
    and keeps each architecture's ancestry unique.
    """
    if architecture.head in FIXED_HEADS or architecture.depth >= space.max_depth:
        return []
    blocks = all_blocks(space) if blocks is None else blocks
    return [Architecture(architecture.blocks + (block,)) for block in blocks]


def rung_sizes(n_candidates, eta, n_rungs):
    """Candidates kept at each successive-halving rung: ``ceil(n / eta)`` of the previous rung."""
    sizes = [n_candidates]
    for _ in range(n_rungs - 1):
        sizes.append(max(1, math.ceil(sizes[-1] / eta)))
    return sizes


def _tau(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
        return math.nan
    return float(kendalltau(a[keep], b[keep]).statistic)


def _fitness(record):
    return record["score"] if record.get("valid") else -math.inf


class ProgressiveFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by progressive architecture search (as in PNAS, Liu et al. 2018).

    The search starts from the fallbacks (raw features, the linear and the label-free LDA maps, so it
    never does worse than them by its own score) and from the one-block architectures of the space.
    Each step expands every surviving branch by one block in every allowed way (a block of the space
    appended), ranks the expansions with a surrogate (an ensemble of extra trees and ridge regression on
    the space's fixed-length encoding plus the training fidelity, refitted every step on every
    candidate measured so far, predicting full training), and trains only the top ``beam_width``.
    Inside a step those are trained by successive halving: all on ``1 / eta ** (n_rungs - 1)`` of the
    training rows and epochs, the best ``1 / eta`` of them on ``eta`` times more, up to full training
    (a promoted candidate restarts from a fresh initialisation at its new fidelity).  The fully trained
    candidates become the next step's branches; a branch that scored below its parent is pruned unless
    it is the step's best.  Growth stops after ``patience`` steps without a better grown architecture,
    at ``max_depth``, or when ``max_trials`` / ``max_time`` is spent.  The first step has no
    measurements to fit a surrogate on: it draws its ``beam_width`` one-block candidates at random (or
    by the zero-cost score, with ``prescreen=True``).  Only fully trained candidates can win.

    On the tabulated benchmark (500 architectures x 8 tables, 20 seeds; ``benchmarks/results/strategies.md``)
    it was not better than random search at any budget (worse on the label-free score at every budget from
    10 to 200 evaluations: it stopped at its depth limit after 22-35 evaluations).

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, n_jobs, verbose
        As in :class:`RandomFeatureSearch`.
    max_trials : int, default=200
        Candidate evaluations in all (each rung of a candidate counts once); growth normally stops
        earlier, by ``patience`` or ``max_depth``.
    beam_width : int, default=9
        Expansions trained per step (at the first rung).
    max_depth : int or None, default=None
        Most blocks to grow to; ``None`` (or more than the space allows) is the space's ``max_depth``.
    patience : int, default=1
        Steps without a better fully trained grown architecture before growth stops.
    eta : int, default=3
        Successive-halving rate: each rung keeps ``ceil(1 / eta)`` of its candidates and gives them
        ``eta`` times the rows and epochs.
    n_rungs : int, default=2
        Rungs per step; the last trains fully.  ``1`` trains all ``beam_width`` fully.
    prescreen : bool, default=False
        Re-rank candidates before any training with a label-free zero-cost score at initialisation
        (NASWOT's activation-pattern log-determinant, :mod:`sknas.evaluation.zero_cost`): the first
        step picks the best of ``4 * beam_width`` random one-block architectures by it, later steps
        rank-average it with the surrogate over the ``4 * beam_width`` best-predicted expansions.  Off
        by default: its Kendall tau with the fully trained score, measured on digits, breast cancer
        and wine (3 seeds each, ``benchmarks/results/progressive.md``), was 0.12 on average and ranged
        from -0.73 to 0.89.  The tau is measured and reported (``prescreen_tau_``) whether or not it is
        used.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: evaluated at full fidelity with the fallbacks, so the surrogate
        learns from them (the beam still grows from the linear map). Stored untouched: the estimator
        passed is never modified.

    Attributes
    ----------
    step_history_ : list of dict
        Per step: ``step``, ``depth``, ``n_branches`` (architectures expanded), ``n_expansions``
        (every allowed one-block expansion), ``rung_sizes`` (candidates trained at each rung),
        ``n_trained`` (distinct candidates trained at any fidelity), ``n_full`` (trained fully),
        ``surrogate_n_train`` (measurements the surrogate was fitted on; 0 at the first step),
        ``surrogate_tau`` (Kendall tau of its predictions with the first-rung measured scores) and
        ``surrogate_tau_full`` (with the fully trained scores), ``prescreen_tau`` (the zero-cost
        score's, with the first-rung scores), ``best_score`` (of the step's fully trained
        candidates), ``best_so_far``, ``improved``, ``n_pruned`` (fully trained branches dropped).
    computational_savings_ : dict
        What the search trained against training every expansion fully ("exhaustive expansion to the
        same depth": every one-block architecture, then every expansion of every branch):
        ``n_expansions``, ``n_trained``, ``n_full_trainings``, ``full_training_ratio``
        (exhaustive full trainings per full training run), ``epochs`` and ``row_epochs`` run (epochs
        times training rows), ``exhaustive_row_epochs`` (expansions times the mean row-epochs of a
        full training here) and ``row_epoch_ratio``.
    prescreen_tau_ : float
        Kendall tau between the zero-cost score and the fully trained score over the fully trained
        grown candidates (NaN below 3 of them).
    surrogate_ : sklearn regressor
        The surrogate as last fitted.
    stop_reason_ : str
        ``"max_depth"``, ``"patience"``, ``"no_branches"`` or ``"budget"``.
    architecture_, net_, search_history_, best_score_, runner_ups_, pareto_front_, search_time_,
    fit_time_, time_budget_, efficiency_, n_trials_, n_components_, objective_, device_, n_features_in_,
    feature_names_in_
        As in :class:`RandomFeatureSearch`; each record also has ``expansion_step``, ``depth``,
        ``rung`` (None for the fallbacks), ``predicted`` (the surrogate's prediction, NaN at the
        first step), ``prescreen`` (the zero-cost score) and ``fidelity`` (None: full training).

    See Also
    --------
    RandomFeatureSearch : The baseline.
    EvoFeatureSearch : Evolution with growing fidelity.

    Examples
    --------
    >>> from sknas import ProgressiveFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = ProgressiveFeatureSearch(n_components=4, n_clusters=5, beam_width=3, max_epochs=2,
    ...                                   search_space={"widths": (16,), "max_depth": 2},
    ...                                   random_state=0).fit(X)
    >>> [s["rung_sizes"] for s in search.step_history_][:1]
    [[3, 1]]
    >>> search.transform(X).shape
    (300, 4)
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "beam_width": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_depth": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "eta": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_rungs": [Interval(numbers.Integral, 1, None, closed="left")],
        "prescreen": ["boolean"],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=200, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, beam_width=9, max_depth=None, patience=1, eta=3, n_rungs=2, prescreen=False,
                 checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.beam_width = beam_width
        self.max_depth = max_depth
        self.patience = patience
        self.eta = eta
        self.n_rungs = n_rungs
        self.prescreen = prescreen

    # -- the search loop's hooks ---------------------------------------------------------------------
    def _search(self, space, context):
        depth = space.max_depth if self.max_depth is None else min(self.max_depth, space.max_depth)
        n_features = context["X_train"].shape[1]
        self._run = {
            "space": space, "max_depth": depth, "blocks": all_blocks(space), "n_features": n_features,
            "n_train": len(context["X_train"]), "probe": context["X_valid"][:NASWOT_ROWS],
            "phase": "fallbacks", "share": 1.0, "step": 0,
            "rung": 0, "candidates": [], "branches": [], "steps": [], "best": -math.inf, "stale": 0,
            "stop": "budget", "naswot": {}, "measured_from": 0, "surrogate": None,
        }
        try:
            history = super()._search(space, context)
            self.step_history_ = self._run["steps"]
            self.stop_reason_ = self._run["stop"]
            self.surrogate_ = self._run["surrogate"]
            self.computational_savings_ = self._savings(history)
            full = [r for r in history if r.get("rung") is not None and r["fidelity"] is None and r["valid"]]
            self.prescreen_tau_ = _tau([r["prescreen"] for r in full], [r["score"] for r in full])
        finally:
            del self._run  # search state only: not pickled with the fitted estimator
        return history

    def _fidelity(self, step, data, settings, rng):
        share = self._run["share"]
        if share >= 1.0:
            return data, settings, None
        n_train = len(data["X_train"])
        n_rows = min(n_train, max(MIN_ROWS, math.ceil(share * n_train)))
        epochs = max(1, math.ceil(share * self._epochs(n_train)))
        if n_rows < n_train:  # a fresh subsample per rung, from the search's own generator
            keep = np.sort(rng.choice(n_train, size=n_rows, replace=False))
            data = {**data, "X_train": data["X_train"][keep],
                    "y_train": None if data["y_train"] is None else data["y_train"][keep]}
        return data, {**settings, "max_epochs": epochs}, (n_rows, epochs)

    def _selectable(self, record):
        return record["fidelity"] is None  # a partly trained score is only a reason to train more

    # -- the strategy: one rung per call ---------------------------------------------------------------
    def _propose(self, space, rng, history, n_remaining):
        run = self._run
        results = history[run["measured_from"]:]
        run["measured_from"] = len(history)
        if run["phase"] == "fallbacks":
            run["phase"] = "grow"
            # The fallbacks and init's architectures, at full fidelity: the surrogate learns from them.
            proposals = self._emit(self._initial_candidates(space), 1.0,
                                   {"expansion_step": 0, "depth": 0, "rung": None})
            for arch, info in proposals:
                info["depth"] = arch.depth
            return proposals
        if run["candidates"]:  # the rung just measured
            if run["rung"] < len(run["sizes"]) - 1:
                ranked = sorted((r for r in results if r["valid"]), key=lambda r: (-r["score"], r["trial"]))
                keep = [r["architecture"] for r in ranked[:run["sizes"][run["rung"] + 1]]]
                if keep:  # a collapsed or failed candidate is never promoted
                    run["rung"] += 1
                    return self._emit_rung(keep)
            if not self._finish_step(history):
                return []
        return self._start_step(history, rng)

    def _emit(self, archs, share, info):
        self._run["share"] = share
        return [(arch, {**info, "predicted": math.nan, "prescreen": self._naswot(arch)}) for arch in archs]

    def _emit_rung(self, archs):
        run = self._run
        run["candidates"] = archs
        shares = [float(self.eta) ** -(len(run["sizes"]) - 1 - i) for i in range(len(run["sizes"]))]
        proposals = self._emit(archs, shares[run["rung"]], {"expansion_step": run["step"],
                                                             "depth": run["step"] + 1, "rung": run["rung"]})
        for arch, info in proposals:
            info["predicted"] = run["predicted"].get(arch, math.nan)
        return proposals

    def _start_step(self, history, rng):
        """Expand the branches, rank the expansions, and propose the first rung of the step."""
        run = self._run
        space = run["space"]
        if run["step"] == 0:
            pool = [Architecture((b,)) for b in run["blocks"]] if run["max_depth"] >= 1 else []
            n_branches = 1  # the linear map, grown by one block
        else:
            pool = [e for branch in run["branches"] for e in expansions(branch, space, run["blocks"])]
            n_branches = len(run["branches"])
        seen = {r["architecture"] for r in history}
        pool = list(dict.fromkeys(a for a in pool if a not in seen))
        if not pool:
            run["stop"] = "no_branches" if run["step"] else "max_depth"
            return []
        predicted, n_train = self._predict(pool, history, rng)
        chosen = self._choose(pool, predicted, rng)
        run["predicted"] = dict(zip(pool, predicted)) if predicted is not None else {}
        run["sizes"] = rung_sizes(len(chosen), self.eta, self.n_rungs)
        run["rung"] = 0
        run["steps"].append({"step": run["step"], "depth": run["step"] + 1, "n_branches": n_branches,
                             "n_expansions": len(pool), "rung_sizes": [], "surrogate_n_train": n_train})
        return self._emit_rung(chosen)

    def _choose(self, pool, predicted, rng):
        """The ``beam_width`` candidates of a step: best predicted, re-ranked by the zero-cost score."""
        k = min(self.beam_width, len(pool))
        if predicted is None:
            order = list(rng.permutation(len(pool)))  # nothing measured yet: a random draw
        else:
            order = list(np.argsort(-np.asarray(predicted), kind="stable"))
        if not self.prescreen:
            return [pool[i] for i in order[:k]]
        shortlist = order[:min(len(pool), PRESCREEN_POOL * k)]
        zero_cost = np.array([self._naswot(pool[i]) for i in shortlist])
        rank = np.argsort(np.argsort(-zero_cost, kind="stable"), kind="stable").astype(float)
        if predicted is not None:  # rank average with the surrogate (its ranks are the shortlist order)
            rank = (rank + np.arange(len(shortlist))) / 2.0
        return [pool[shortlist[i]] for i in np.argsort(rank, kind="stable")[:k]]

    def _finish_step(self, history):
        """Record the step's analysis; choose the next branches; return whether growth goes on."""
        run = self._run
        this = [r for r in history if r.get("expansion_step") == run["step"] and r.get("rung") is not None]
        first = [r for r in this if r["rung"] == 0]
        full = [r for r in this if r["rung"] == len(run["sizes"]) - 1]
        best = max((_fitness(r) for r in full), default=-math.inf)
        improved = best > run["best"]
        run["best"] = max(run["best"], best)
        run["stale"] = 0 if improved else run["stale"] + 1
        parents = {r["architecture"]: _fitness(r) for r in history
                   if r["fidelity"] is None and r["status"] == "ok" and r["architecture"].head == "linear"}
        branches = []
        for record in sorted(full, key=lambda r: (-_fitness(r), r["trial"])):
            parent = Architecture(record["architecture"].blocks[:-1])
            if record["valid"] and (not branches or _fitness(record) >= parents.get(parent, -math.inf)):
                branches.append(record["architecture"])
        run["steps"][-1].update(
            rung_sizes=[sum(r["rung"] == i for r in this) for i in range(len(run["sizes"]))],
            n_trained=len({r["architecture"] for r in this}), n_full=len(full),
            surrogate_tau=_tau([r["predicted"] for r in first], [_fitness(r) for r in first]),
            surrogate_tau_full=_tau([r["predicted"] for r in full], [_fitness(r) for r in full]),
            prescreen_tau=_tau([r["prescreen"] for r in first], [_fitness(r) for r in first]),
            best_score=best, best_so_far=run["best"], improved=improved, n_pruned=len(full) - len(branches))
        run["branches"], run["candidates"] = branches, []
        run["step"] += 1
        if run["step"] >= run["max_depth"]:
            run["stop"] = "max_depth"
        elif run["stale"] >= self.patience:
            run["stop"] = "patience"
        elif not branches:
            run["stop"] = "no_branches"
        else:
            return True
        return False

    # -- the surrogate and the zero-cost score -------------------------------------------------------------
    def _predict(self, pool, history, rng):
        """Refit the surrogate on every measured grown candidate; predict the pool at full training."""
        run = self._run
        measured = [r for r in history if r["status"] == "ok" and r["architecture"].head == "linear"]
        if run["step"] == 0 or not any(r["valid"] for r in measured):
            return None, 0
        floor = min(r["score"] for r in measured if r["valid"])  # a collapsed map is as bad as the worst seen
        X = self._features([r["architecture"] for r in measured], [self._share(r) for r in measured])
        y = np.array([r["score"] if r["valid"] else floor for r in measured])
        surrogate = VotingRegressor([
            ("trees", ExtraTreesRegressor(n_estimators=100, min_samples_leaf=2, random_state=rng.randint(2**31 - 1))),
            ("ridge", Ridge(alpha=1.0)),
        ]).fit(X, y)
        run["surrogate"] = surrogate
        return surrogate.predict(self._features(pool, [1.0] * len(pool))), len(measured)

    def _share(self, record):
        if record["fidelity"] is None:
            return 1.0
        return record["fidelity"][1] / self._epochs(self._run["n_train"])

    def _features(self, archs, shares):
        """Positional encoding, plus position-free summaries so a block measured at one depth informs its
        use at the next: the mean code of the blocks, the last block's code, the size, the fidelity."""
        run = self._run
        codes = encode_many(archs, run["space"])
        width = len(self._block_code(Block("linear", run["space"].widths[0])))
        blocks = [[self._block_code(b) for b in a.blocks] or [np.zeros(width)] for a in archs]
        mean = np.array([np.mean(b, axis=0) for b in blocks])
        last = np.array([b[-1] for b in blocks])
        size = np.log1p([a.n_params(run["n_features"], self.n_components) for a in archs])
        return np.column_stack([codes, mean, last, size, shares])

    def _block_code(self, block):
        """One block's one-hot code: the first slot of the shared encoding of a one-block architecture."""
        cache = self._run.setdefault("block_codes", {})
        if block not in cache:
            one = replace(self._run["space"], max_depth=1)
            cache[block] = encode(Architecture((block,)), one)[len(HEADS) + 2:]  # past head and depth 0..1
        return cache[block]

    def _naswot(self, arch):
        cache = self._run["naswot"]
        if arch not in cache:
            cache[arch] = naswot_score(arch, self._run["probe"], self.n_components)
        return cache[arch]

    # -- analysis -------------------------------------------------------------------------------------------
    def _savings(self, history):
        n_train = self._run["n_train"]
        grown = [r for r in history if r.get("rung") is not None and not r["cached"] and r["status"] == "ok"]
        full = [r for r in grown if r["fidelity"] is None]
        row_epochs = sum(r["n_epochs"] * (n_train if r["fidelity"] is None else r["fidelity"][0]) for r in grown)
        n_expansions = sum(s["n_expansions"] for s in self._run["steps"])
        # Exhaustive expansion trains every expansion as fully as this search trained its full candidates.
        full_row_epochs = float(np.mean([r["n_epochs"] * n_train for r in full])) if full else math.nan
        exhaustive = n_expansions * full_row_epochs
        return {
            "n_expansions": n_expansions, "n_trained": len({r["architecture"] for r in grown}),
            "n_full_trainings": len(full),
            "full_training_ratio": n_expansions / len(full) if full else math.nan,
            "epochs": int(sum(r["n_epochs"] for r in grown)), "row_epochs": int(row_epochs),
            "exhaustive_row_epochs": exhaustive,
            "row_epoch_ratio": exhaustive / row_epochs if row_epochs else math.nan,
        }
