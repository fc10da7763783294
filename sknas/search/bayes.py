"""Bayesian optimisation: a surrogate of the score given the Architecture, and an acquisition function.

After ``n_initial`` random trials (the fallbacks first), each step fits a
surrogate -- a Gaussian process on the one-hot encoding
(:func:`sknas.space.encoding.encode`), whose RBF kernel is then a function
of how many decisions differ, or a BANANAS-style ensemble of small MLPs
(White et al. 2021) -- to the scores measured so far, and proposes the
candidates that maximise the acquisition (expected improvement, an upper
confidence bound, or a Thompson draw) over a pool of sampled Architectures
and mutations of the best ones so far.  Like evolution, the strategy is
stateless between calls: everything is re-derived from the search history.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from scipy.stats import norm, spearmanr
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.neural_network import MLPRegressor
from sklearn.utils._param_validation import Interval, StrOptions

from ..space.encoding import encode_many
from ..training import SEED_MAX
from ._targets import record_targets
from .base import BaseFeatureSearch


# -- surrogates ---------------------------------------------------------------------------------------------
class GPSurrogate:
    """Gaussian process on one-hot codes: constant x RBF kernel plus white noise, targets normalised.

    On one-hot codes the squared distance is twice the number of differing
    one-hot groups, so the RBF kernel decays with the genotype distance; its
    length scale and the noise level are fitted by maximum likelihood.
    """

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(length_scale=2.0, length_scale_bounds=(0.1, 100.0)) \
            + WhiteKernel(0.1, (1e-6, 1.0))
        self.model_ = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.random_state)
        with warnings.catch_warnings():  # a bound reached on a few points is expected, not news
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(X, y)
        return self

    def predict(self, X):
        """Posterior mean and standard deviation."""
        mean, std = self.model_.predict(X, return_std=True)
        return mean, std

    def sample(self, X, rng):
        """One joint posterior draw over ``X`` (Thompson sampling)."""
        return self.model_.sample_y(X, random_state=int(rng.randint(SEED_MAX)))[:, 0]


class EnsembleSurrogate:
    """BANANAS-style ensemble: ``n_members`` small MLPs from different seeds; spread = uncertainty."""

    def __init__(self, n_members=5, random_state=0):
        self.n_members = n_members
        self.random_state = random_state

    def fit(self, X, y):
        self.shift_, self.scale_ = float(np.mean(y)), float(np.std(y)) or 1.0
        target = (y - self.shift_) / self.scale_
        self.members_ = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i in range(self.n_members):
                member = MLPRegressor(hidden_layer_sizes=(32, 32), alpha=1e-3, learning_rate_init=1e-2, max_iter=300,
                                      random_state=self.random_state + i)
                self.members_.append(member.fit(X, target))
        return self

    def _all(self, X):
        return np.stack([m.predict(X) for m in self.members_]) * self.scale_ + self.shift_

    def predict(self, X):
        predictions = self._all(X)
        return predictions.mean(axis=0), predictions.std(axis=0)

    def sample(self, X, rng):
        """The predictions of one member drawn at random (Thompson sampling over the ensemble)."""
        return self._all(X)[rng.randint(self.n_members)]


SURROGATES = {"gp": GPSurrogate, "ensemble": EnsembleSurrogate}


def acquisition_values(kind, mean, std, best, kappa=2.0, draw=None):
    """Acquisition of candidates with posterior ``mean`` and ``std`` (higher is more promising).

    ``"ei"``: expected improvement over ``best``; ``"ucb"``: ``mean + kappa * std``;
    ``"thompson"``: the posterior ``draw`` itself.
    """
    if kind == "thompson":
        return np.asarray(draw, dtype=np.float64)
    if kind == "ucb":
        return mean + kappa * std
    std = np.maximum(std, 1e-12)
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


def candidate_pool(space, history_archs, ranked, rng, n_candidates, n_parents=5):
    """Distinct unseen Architectures: half fresh samples, half one- or two-step mutations of the best.

    Parameters
    ----------
    space : SearchSpace
    history_archs : set of Architecture
        Already evaluated; never in the pool.
    ranked : list of Architecture
        Evaluated Architectures, best first (the mutation parents).
    rng : RandomState
    n_candidates : int
    """
    pool, seen = [], set(history_archs)
    parents = ranked[:n_parents]
    for i in range(4 * n_candidates):  # bounded: small spaces run out of unseen members
        if len(pool) >= n_candidates:
            break
        if parents and i % 2:
            arch = space.mutate(parents[rng.randint(len(parents))], rng)
            if rng.rand() < 0.5:
                arch = space.mutate(arch, rng)
        else:
            arch = space.sample(rng)
        if arch not in seen:
            seen.add(arch)
            pool.append(arch)
    return pool


# -- the estimator ---------------------------------------------------------------------------------------------
class BayesFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by Bayesian optimisation over architectures (GP or BANANAS-style ensemble).

    The first ``n_initial`` candidates are the fallbacks (raw features, a
    linear map, the label-free LDA map) and random Architectures.  Then each
    step fits a surrogate of the shared label-free score given the
    Architecture's one-hot encoding (failed or collapsed candidates enter with
    a low finite score) and proposes the unseen candidate maximising the
    acquisition over a pool of ``n_candidates`` Architectures, half drawn
    from the space, half one or two mutations of the five best so far; so
    every proposal is a member of the space.

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, verbose
        As in :class:`RandomFeatureSearch`.
    max_trials : int, default=40
        Candidates evaluated in all (the initial ones included).
    n_jobs : int or None, default=None
        Candidates of a step trained in parallel processes.  It never changes
        the search; set ``n_proposals`` to give the workers a batch.
    n_initial : int, default=10
        Random initial trials (fallbacks first) before the surrogate is used.
    n_proposals : int, default=1
        Candidates proposed per step after the initial ones: the
        ``n_proposals`` best distinct candidates of the acquisition (batch BO).
        1 is sequential BO, which uses every measurement before the next pick.
    surrogate : {"gp", "ensemble"}, default="gp"
        ``"gp"``: a Gaussian process with a constant x RBF + white-noise kernel
        on the encoding; ``"ensemble"``: five small MLP regressors from
        different seeds, their spread the uncertainty (BANANAS).
    acquisition : {"ei", "ucb", "thompson"}, default="ei"
        Expected improvement over the best score, upper confidence bound
        ``mean + kappa * std``, or Thompson sampling (one posterior draw; one
        ensemble member).
    kappa : float, default=2.0
        Exploration weight of ``"ucb"``.
    n_candidates : int, default=200
        Size of the pool the acquisition is maximised over.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: the first initial points, before the fallbacks (random draws fill up
        to ``n_initial``); the surrogate learns from them. Stored untouched: the estimator passed is
        never modified.

    Attributes
    ----------
    acquisition_history_ : list of dict
        Per surrogate-guided trial: ``trial``, ``step``, ``architecture``,
        ``acquisition`` (its value), ``predicted`` and ``predicted_std`` (the
        surrogate's mean and deviation before measuring), ``measured`` (the
        score it then got, as the surrogate saw it) and ``n_observed`` (the
        trials the surrogate was fitted on).
    surrogate_history_ : list of dict
        Per step: ``step``, ``n_observed`` and ``rank_correlation``: Spearman
        correlation between the predictions and the scores then measured, over
        all surrogate-guided trials up to that step (NaN below 3 trials).
    surrogate_rank_correlation_ : float
        The last ``rank_correlation``: how well the surrogate ranked what it
        proposed.
    architecture_, net_, search_history_, best_score_, runner_ups_, pareto_front_, search_time_, fit_time_,
    time_budget_, efficiency_, n_trials_, n_components_, objective_, device_, n_features_in_, feature_names_in_
        As in :class:`RandomFeatureSearch`; each record also has ``source``
        (``"fallback"``, ``"initial"`` or ``"surrogate"``); surrogate-guided
        ones carry ``predicted``, ``predicted_std`` and ``acquisition``.

    See Also
    --------
    RandomFeatureSearch : The baseline strategy.
    RLFeatureSearch : Reinforcement learning over the same space.

    References
    ----------
    White, Neiswanger & Savani, "BANANAS: Bayesian Optimization with Neural Architectures for Neural
    Architecture Search", AAAI 2021.

    Examples
    --------
    >>> from sknas import BayesFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = BayesFeatureSearch(n_components=4, n_clusters=5, max_trials=6, n_initial=4, max_epochs=2,
    ...                             random_state=0).fit(X)
    >>> [r["source"] for r in search.search_history_][-2:]
    ['surrogate', 'surrogate']
    >>> search.transform(X).shape
    (300, 4)
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "n_initial": [Interval(numbers.Integral, 1, None, closed="left")],
        "surrogate": [StrOptions(set(SURROGATES))],
        "acquisition": [StrOptions({"ei", "ucb", "thompson"})],
        "kappa": [Interval(numbers.Real, 0, None, closed="left")],
        "n_candidates": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_proposals": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=40, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, n_initial=10, surrogate="gp", acquisition="ei", kappa=2.0, n_candidates=200,
                 checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", n_proposals=1,
                 init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.n_initial = n_initial
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.kappa = kappa
        self.n_candidates = n_candidates
        self.n_proposals = n_proposals

    def _propose(self, space, rng, history, n_remaining):
        if not history:
            fallbacks = space.fallbacks()
            proposals = [(a, {"source": "fallback" if a in fallbacks else "init"})
                         for a in self._initial_candidates(space)]
            # A warm start's architectures are always initial points; random draws fill up to n_initial.
            proposals = proposals[: min(max(self.n_initial, len(proposals)), n_remaining)]
            seen = {a for a, _ in proposals}
            while len(proposals) < min(self.n_initial, n_remaining):
                arch = space.sample_distinct(seen, rng)
                seen.add(arch)
                proposals.append((arch, {"source": "initial"}))
            return proposals
        archs = [r["architecture"] for r in history]
        targets = record_targets(history)
        first = {}  # a repeated genome (cached) counts once
        for arch, target in zip(archs, targets):
            first.setdefault(arch, target)
        seen = list(first)
        y = np.array([first[a] for a in seen])
        model = SURROGATES[self.surrogate](random_state=int(rng.randint(2**16))).fit(encode_many(seen, space), y)
        ranked = [seen[i] for i in np.argsort(-y, kind="stable")]
        pool = candidate_pool(space, set(seen), ranked, rng, self.n_candidates)
        if not pool:  # the space is exhausted: a repeat (the cache answers it)
            return [(space.sample(rng), {"source": "surrogate"})]
        codes = encode_many(pool, space)
        mean, std = model.predict(codes)
        draw = model.sample(codes, rng) if self.acquisition == "thompson" else None
        values = acquisition_values(self.acquisition, mean, std, best=float(y.max()), kappa=self.kappa, draw=draw)
        n = min(self.n_proposals, n_remaining, len(pool))
        picks = np.argsort(-values, kind="stable")[:n]
        return [(pool[i], {"source": "surrogate", "predicted": float(mean[i]), "predicted_std": float(std[i]),
                           "acquisition": float(values[i]), "n_observed": len(seen)}) for i in picks]

    def _search(self, space, context):
        history = super()._search(space, context)
        targets = record_targets(history)
        self.acquisition_history_ = [
            {"trial": r["trial"], "step": r["step"], "architecture": r["architecture"],
             "acquisition": r["acquisition"], "predicted": r["predicted"], "predicted_std": r["predicted_std"],
             "measured": float(t), "n_observed": r["n_observed"]}
            for r, t in zip(history, targets) if r.get("source") == "surrogate" and "predicted" in r]
        self.surrogate_history_ = []
        for step in sorted({a["step"] for a in self.acquisition_history_}):
            upto = [a for a in self.acquisition_history_ if a["step"] <= step]
            self.surrogate_history_.append({"step": step, "n_observed": upto[-1]["n_observed"],
                                            "rank_correlation": _spearman([a["predicted"] for a in upto],
                                                                          [a["measured"] for a in upto])})
        self.surrogate_rank_correlation_ = self.surrogate_history_[-1]["rank_correlation"] \
            if self.surrogate_history_ else math.nan
        return history


def _spearman(a, b):
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b)[0])
