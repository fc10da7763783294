"""What every sknas estimator shares: validation, seeding, the search loop, final fit, transform.

:class:`BaseNeuralTransformer` turns rows into a learned embedding given a
way to choose the Architecture (``_select_architecture``).
:class:`BaseFeatureSearch` chooses it by searching: a strategy proposes
candidates (``_propose``), the base trains and scores them, records them in
``search_history_``, keeps the budget, and retrains the winner on all rows.
A new search method is one file with a subclass that implements ``_propose``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import os
import time
import warnings
from abc import abstractmethod

import numpy as np
import torch
from joblib import Parallel, delayed, parallel_config
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._preprocessing import make_encoder, validate_input
from .checkpoint import NullJournal, SearchJournal
from .faults import failure_reason, is_out_of_memory, release_memory, retry_batch_sizes, summarize_failures
from .provenance import record_provenance
from .evaluation import (
    MAX_LABELLED_ROWS,
    SCORINGS,
    SELECTION_SCORINGS,
    cluster_labels,
    RESTATEMENT_NMI,
    column_restatement,
    discrete_columns,
    efficiency_report,
    resolve_scoring,
    score_embedding,
    selection_scores,
)
from .space import SearchSpace, build_network
from .space.architecture import FIXED_HEADS
from .transfer import INIT_CONSTRAINT, clone_keeping_init, init_architectures, reference_embedding
from .training import (
    OBJECTIVES,
    CandidateFailure,
    embed,
    make_final_net,
    make_objective,
    resolve_device,
    resolve_epochs,
    resolve_objective,
    seeded,
    train_candidate,
)

#: Below this many rows the train/validation split would leave too little on
#: either side; both then use all rows (documented under ``validation_fraction``).
MIN_ROWS_TO_SPLIT = 20
#: Rows the search sees at most (train + validation, a random subset in the split's proportions):
#: candidates are compared on a fixed subsample (low fidelity) and only the final network
#: trains on all rows, so a search's cost stops growing with the data beyond this size.
SEARCH_MAX_ROWS = 20_000
#: Row visits (epochs x rows) the final network trains for at most: on large data it trains for fewer
#: than ``max_epochs`` epochs (at least one), so its cost stops growing with the data (at 1,000,000
#: rows: 5 epochs, about 10,000 steps at batch 512, several times what any search candidate gets).
FINAL_MAX_ROW_VISITS = 5_000_000
#: Rows a candidate's label-free score is computed on at most: the validation rows, topped up with training
#: rows when the validation split is smaller. On small tables the validation split alone is tiny (wine: 36
#: rows, 12 per cluster), so one candidate's score swung with which rows fell there; a partition judged on
#: more rows ranks candidates better (random-search pools, 5 datasets x 5 seeds: Kendall tau with ARI 0.45
#: -> 0.49, picked candidate's ARI 0.695 -> 0.722; iris and wine gain, none loses). Early stopping still
#: uses the validation rows only.
SCORE_MAX_ROWS = 2000
#: The data every candidate evaluation gets (a strategy's own search loop passes the same keys).
SEARCH_DATA_KEYS = ("X_train", "X_valid", "X_score", "y_train", "y_valid")
#: Rows standardised and moved to the device at a time in ``transform`` (bounds its memory).
TRANSFORM_CHUNK_ROWS = 65536
#: How much a network's selection score must exceed the best fixed map's to win (see _prefer_fixed_map),
#: for the scorings on the silhouette's [-1, 1] scale; other scorings compare plainly.
FIXED_MAP_MARGIN = {"silhouette": 0.02, "silhouette+separability": 0.02}
_SEED_MAX = 2**31 - 1
_WEIGHT_DECAY = 1e-5


class SearchFailedError(RuntimeError):
    """Every candidate of a search failed; the message lists why."""


class BaseNeuralTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Validation, standardisation, final training and transform of a learned feature map.

    Subclasses implement ``_select_architecture(context)``.  Not for direct use.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "objective": [StrOptions(set(OBJECTIVES))],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "categorical_features": [None, StrOptions({"from_dtype"}), "array-like"],
        "handle_unknown": [StrOptions({"error", "ignore"})],
    }

    #: BatchNorm needs 2 rows to train; searches need 3 to score a clustering.
    _min_samples = 2

    # -- fit --------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the feature map from ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric columns are standardised internally; categorical columns
            (``categorical_features``) are embedded.
        y : array-like of shape (n_samples,), default=None
            Only used by ``objective="supervised"``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        X = validate_input(self, X, reset=True, ensure_min_samples=self._min_samples)
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(X):
                raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        self.objective_ = resolve_objective(self.objective, y)
        self.device_ = resolve_device(self.device)
        rng = self._fit_rng()
        start = time.perf_counter()

        self._standardizer = make_encoder(X, self).fit(X)  # numeric rows, or numeric + categorical indicators
        Xs = self._standardizer.transform(X)
        train_idx, valid_idx = _search_rows(*self._split(len(Xs), rng))
        score_rows = _score_rows(train_idx, valid_idx)
        context = {
            "X_train": Xs[train_idx], "X_valid": Xs[valid_idx], "X_score": Xs[score_rows], "score_rows": score_rows,
            "y_train": None if y is None else y[train_idx], "y_valid": None if y is None else y[valid_idx],
            "rng": rng, "start": start, "X": X,  # X: the validated rows, for init="zoo"'s meta-features
        }
        architecture = self._select_architecture(context)
        self.search_time_ = time.perf_counter() - start

        net = self._train_final(architecture, Xs, y, seed=rng.randint(_SEED_MAX))
        self.architecture_, self.net_ = self._check_final(architecture, net, Xs, y, rng, context)
        self.reference_embedding_ = reference_embedding(self.net_.module_.encoder, Xs)  # for alignment losses
        self.n_components_ = architecture.output_width(Xs.shape[1], self.n_components)
        self.efficiency_ = self._efficiency(architecture)
        self.fit_time_ = time.perf_counter() - start
        self.provenance_ = record_provenance(self, X)  # versions, seed, data hash, settings (sknas.save keeps it)
        return self

    def _fit_rng(self):
        """The generator behind every random draw of ``fit`` (split, seeds, proposals)."""
        return check_random_state(self.random_state)

    def _split(self, n_rows, rng):
        """Shuffled train/validation indices; tiny data uses all rows for both."""
        order = rng.permutation(n_rows)
        n_valid = int(round(self.validation_fraction * n_rows))
        if n_rows < MIN_ROWS_TO_SPLIT or n_valid < 3 or n_rows - n_valid < 2:
            return order, order
        return order[n_valid:], order[:n_valid]

    @abstractmethod
    def _select_architecture(self, context):
        """Return the Architecture to train on all rows."""

    def _check_final(self, architecture, net, Xs, y, rng, context):
        """``(architecture, net)`` to keep once the chosen map is trained on all rows (a search checks it)."""
        return architecture, net

    def _loss_data(self, objective, X, y):
        X_t = torch.as_tensor(_contiguous(X), device=self.device_)
        return objective.prepare(X_t, y)

    def _train_final(self, architecture, Xs, y, seed):
        """Retrain ``architecture`` on all rows as a skorch net (``net_``)."""
        with seeded(seed, self.device_):
            encoder = build_network(architecture, Xs.shape[1], self.n_components, self._standardizer.layout)
            encoder.fit_fixed_parts(Xs, self.n_clusters, random_state=seed)
            objective = make_objective(self.objective_, Xs.shape[1], encoder.n_outputs, y)
            epochs = max(1, min(self._epochs(len(Xs)), FINAL_MAX_ROW_VISITS // len(Xs)))
            net = make_final_net(encoder, objective, max_epochs=epochs, batch_size=self.batch_size,
                                 learning_rate=self.learning_rate, weight_decay=_WEIGHT_DECAY, device=self.device_)
            net.initialize()
            trains = self._initialize_weights(net)
            if net.optimizer_ is not None and trains:
                try:
                    net.fit_data(self._loss_data(objective, Xs, y))
                except CandidateFailure as exc:
                    raise RuntimeError(f"Training the final network {architecture} failed: {exc.reason}. "
                                       "Try a smaller learning_rate.") from None
        net.module_.eval()
        return net

    def _epochs(self, n_rows):
        """Epochs one network trains on ``n_rows`` rows (``max_epochs``; "auto": see sknas.training.budget)."""
        return resolve_epochs(self.max_epochs, n_rows, self.batch_size)

    def _initialize_weights(self, net):
        """Hook before the final training: may load weights into ``net.module_.encoder`` (or replace the
        encoder or objective, then re-initialise the optimizer); returns whether to train it.

        Here the weights stay freshly initialised and are trained; ``NeuralFeatureMap(init=...)``
        loads a fitted map's weights (transfer, input adapter, alignment loss).
        """
        return True

    def _efficiency(self, architecture):
        encoder = self.net_.module_.encoder
        # Latency is a CPU figure by definition (what scoring nightly costs on a server).
        cpu_encoder = encoder if self.device_.type == "cpu" else _cpu_copy(encoder)
        n_features, layout = encoder.n_features, self._standardizer.layout  # the encoded width
        report = efficiency_report(cpu_encoder, n_features,
                                   flops=architecture.flops(n_features, self.n_components, layout),
                                   params=architecture.n_params(n_features, self.n_components, layout))
        encoder.eval()
        return report

    # -- transform --------------------------------------------------------
    def transform(self, X):
        """Embed ``X`` with the learned feature map.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The columns seen at fit, in the same order.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
            Same floating dtype as ``X``'s numeric columns (float64 for
            integer input or no numeric column).
        """
        check_is_fitted(self, "net_")
        X = validate_input(self, X, reset=False)
        encoder = self.net_.module_.encoder
        device = _encoder_device(encoder)
        out = np.empty((len(X), self.n_components_), dtype=X.dtype)
        step = TRANSFORM_CHUNK_ROWS
        encoder.eval()
        with torch.no_grad():
            for start in range(0, len(X), step):  # bounded memory: one slice on the device at a time
                rows = self._standardizer.transform(X[start:start + step], handle_unknown=self.handle_unknown)
                chunk = torch.as_tensor(rows, device=device)
                out[start:start + step] = embed(encoder, chunk).cpu().numpy()
        return out

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags


def _prefer_fixed_map(best, valid, scoring):
    """The best fixed map instead of a winning network that beats it by less than the score's noise.

    One-standard-error rule: a network's score moves with its training seed (within-architecture
    standard deviation 0.013-0.027 on digits, breast cancer, wine, olive oil and diabetes,
    ``benchmarks/results/architecture_signal*.md``) and the best of many networks is the one whose noise
    was luckiest, while a fixed map (raw features, LDA) is a deterministic function of the data. So a
    network must beat the best fixed map by ``FIXED_MAP_MARGIN`` to replace it.
    """
    margin = FIXED_MAP_MARGIN.get(scoring, 0.0) if isinstance(scoring, str) else 0.0
    if not margin or best["architecture"].head in FIXED_HEADS:
        return best
    fixed = [r for r in valid if r["architecture"].head in FIXED_HEADS]
    if not fixed:
        return best
    simpler = max(fixed, key=lambda r: r["selection_score"])
    return simpler if simpler["selection_score"] >= best["selection_score"] - margin else best


def _search_rows(train_idx, valid_idx):
    """At most ``SEARCH_MAX_ROWS`` of the (shuffled) split for the search, both sides cut alike."""
    n = len(train_idx) + len(valid_idx)
    if n <= SEARCH_MAX_ROWS or train_idx is valid_idx:
        return train_idx, valid_idx
    keep = SEARCH_MAX_ROWS / n  # the indices are a random permutation, so a prefix is a random sample
    return train_idx[:int(len(train_idx) * keep)], valid_idx[:int(len(valid_idx) * keep)]


def _score_rows(train_idx, valid_idx):
    """The rows candidates are scored on: the validation rows, then training rows up to ``SCORE_MAX_ROWS``."""
    if train_idx is valid_idx or len(valid_idx) >= SCORE_MAX_ROWS:
        return valid_idx
    # train_idx is a random permutation's slice, so its prefix is a random sample of the training rows
    return np.concatenate([valid_idx, train_idx[:SCORE_MAX_ROWS - len(valid_idx)]])


def _encoder_device(encoder):
    """The device an encoder's weights live on (the identity map has none: CPU)."""
    first_weight = next(encoder.parameters(), None)
    return first_weight.device if first_weight is not None else torch.device("cpu")


def _cpu_copy(module):
    return copy.deepcopy(module).to("cpu")


def _contiguous(X):
    """A writable C-ordered float32 copy when needed: rows arriving through joblib or Dask may be
    read-only or in another layout, and torch's kernels round differently on other layouts."""
    return np.array(X, dtype=np.float32, order="C", copy=not (X.flags.c_contiguous and X.flags.writeable))


def _candidate_seed(architecture, seed, settings):
    """The seed a candidate is evaluated with: its drawn ``seed``, or the fit's fixed-map seed.

    Common random numbers: a fixed map (raw features, fitted LDA) is a function of the data, and
    its seed only picks KMeans starts, which can flip its score between local optima (wine: 0.51
    or 0.57 for the same LDA map). One seed per fit, whatever the map's position in the search,
    makes it score the same in every search with the same random_state, so strategies and warm
    starts compare on equal terms. (The drawn seed is still drawn: other candidates keep theirs.)
    """
    if architecture.head in FIXED_HEADS and settings.get("fixed_map_seed") is not None:
        return settings["fixed_map_seed"]
    return seed


def _evaluate_candidate(architecture, seed, data, settings):
    """Train and score one candidate; never raises for a candidate's own fault.

    Every fault is recorded in the record's ``reason`` (non-finite loss,
    exploding gradients, a layer that cannot be built or run on this data);
    out of memory is retried with smaller batches first (:mod:`sknas.faults`).
    A module-level function so joblib can ship it to worker processes.
    """
    seed = _candidate_seed(architecture, seed, settings)
    record = {"architecture": architecture, "seed": seed, "status": "ok", "reason": None}
    start = time.perf_counter()
    if settings.get("n_threads"):
        torch.set_num_threads(settings["n_threads"])
    n_features = data["X_train"].shape[1]
    batch_sizes = retry_batch_sizes(settings["batch_size"])
    for attempt, batch_size in enumerate(batch_sizes):
        try:
            _train_and_score(record, architecture, seed, data, {**settings, "batch_size": batch_size})
            if attempt:
                record["batch_size"] = batch_size  # what fitted in memory
            break
        # Any exception from one candidate is that candidate's fault: a long search must
        # survive it (KeyboardInterrupt and SystemExit are not Exceptions and still stop it).
        except Exception as exc:  # noqa: BLE001
            if is_out_of_memory(exc) and attempt + 1 < len(batch_sizes):
                release_memory()
                continue
            reason = failure_reason(exc)
            if is_out_of_memory(exc) and len(batch_sizes) > 1:
                reason = f"{reason} (also at batch sizes {batch_sizes[1:]})"
            record.update(status="failed", reason=reason, score=-math.inf, valid=False)
            break
    return finish_record(record, n_features, settings, start)


def _train_and_score(record, architecture, seed, data, settings):
    device = settings["device"]
    n_features = data["X_train"].shape[1]
    # Parallelism is across candidates, never inside one: under a Dask or other joblib
    # backend, scikit-learn's own Parallel calls (k-NN search) would otherwise secede and
    # let a second candidate run in this process at the same time.
    with parallel_config(backend="sequential"), seeded(seed, device):
        encoder = build_network(architecture, n_features, settings["n_components"], settings.get("categorical"))
        encoder.fit_fixed_parts(data["X_train"], settings["n_clusters"], random_state=seed % (2**31 - 1))
        objective = make_objective(settings["objective"], n_features, encoder.n_outputs, data["y_train"])
        train = objective.prepare(torch.as_tensor(_contiguous(data["X_train"]), device=device), data["y_train"])
        valid = objective.prepare(torch.as_tensor(_contiguous(data["X_valid"]), device=device), data["y_valid"])
        # Trained like the final network (the whole budget, last weights: keep="last"), so the score
        # judges what the final training will produce.
        result = train_candidate(encoder, objective, train, valid, max_epochs=candidate_epochs(data, settings),
                                 batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
                                 weight_decay=_WEIGHT_DECAY, max_time=settings["max_time"], keep="last")
        X_score = torch.as_tensor(_contiguous(data.get("X_score", data["X_valid"])), device=device)
        Z = embed(encoder, X_score).cpu().numpy().astype(np.float64)
    validation_loss = result.best_valid_loss if result.n_epochs else math.nan
    score_candidate(record, Z, validation_loss, result.n_epochs, data, settings)


def candidate_epochs(data, settings):
    """Epochs a candidate trains on its training rows (``settings["max_epochs"]``, "auto" resolved)."""
    return resolve_epochs(settings["max_epochs"], len(data["X_train"]), settings["batch_size"])


def score_candidate(record, Z, validation_loss, n_epochs, data, settings):
    """Score a trained candidate's embedding ``Z`` of the scoring rows (``data["X_score"]``; see
    ``SCORE_MAX_ROWS``) into its ``record``."""
    # One BLAS/OpenMP thread: KMeans' floating-point sums depend on the thread count,
    # and a score must not change with n_jobs or the parallel backend (Dask workers
    # run with one thread). Scoring uses at most a few thousand rows, so this is cheap.
    with threadpool_limits(limits=1), parallel_config(backend="sequential"):
        scored = score_embedding(Z, scoring=settings["scoring"], n_clusters=settings["n_clusters"],
                                 X=data.get("X_score", data["X_valid"]), validation_loss=validation_loss,
                                 random_state=record["seed"])
        labels = cluster_labels(Z, settings["n_clusters"]) if scored.valid else None
    # The embedding of the labelled rows stays with the record until the search has picked its winner: the
    # cross-space judge scores every candidate's partition in every other candidate's space (then dropped).
    embedding = np.asarray(Z[:MAX_LABELLED_ROWS], dtype=np.float32) if scored.valid else None
    record.update(score=scored.score, valid=scored.valid, reason=scored.reason, validation_loss=validation_loss,
                  n_epochs=n_epochs, neighbor_preservation=scored.details.get("neighbor_preservation"),
                  labels=labels, separability=scored.details.get("separability"), embedding=embedding)
    return record


def finish_record(record, n_features, settings, start):
    """Add the cost columns (params, FLOPs, seconds) every history record carries."""
    layout = settings.get("categorical")
    record["params"] = record["architecture"].n_params(n_features, settings["n_components"], layout)
    record["flops"] = record["architecture"].flops(n_features, settings["n_components"], layout)
    record["time"] = time.perf_counter() - start
    return record


class BaseFeatureSearch(BaseNeuralTransformer):
    """Base class of every search estimator (see DESIGN.md for the contract).

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
                 init=None):
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
        if self.checkpoint is None:
            self._journal = NullJournal()
            return rng
        self._journal, rng = SearchJournal.open(self.checkpoint, self, rng)
        return rng

    def _select_architecture(self, context):
        space = self._resolved_space()
        # before anything trains: bad init fails fast
        self._init_archs = init_architectures(self.init, space, X=context["X"], n_clusters=self.n_clusters)
        # The fixed maps' seed (see _evaluate_candidate): read from a copy, so the draws are as before.
        self._fixed_map_seed = int(copy.deepcopy(context["rng"]).randint(_SEED_MAX))
        try:
            history = self._search(space, context)
            if self.checkpoint is not None and not self._journal.used:
                warnings.warn(f"{type(self).__name__} runs its own search loop, which is not checkpointed: "
                              "an interrupted fit starts again.", UserWarning, stacklevel=3)
        finally:
            self.__dict__.pop("_journal", None)  # search state, never pickled with the fitted estimator
            self.__dict__.pop("_init_archs", None)
            self.__dict__.pop("_fixed_map_seed", None)
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
            # A partition that restates one input column is what a group-by gives: it may win only when
            # every candidate's does (docs/selection.md).
            winners = [r for r in valid if not r["restates_column"]] or valid
            best = _prefer_fixed_map(max(winners, key=lambda r: r["selection_score"]), winners, self._scoring())
        else:
            best = pool[0]
        for record in history:  # the judge is done with the embeddings; the history stays small to pickle
            record.pop("embedding", None)
        self.search_history_ = history
        self.best_score_ = best.get("selection_score", best["score"])
        self.runner_ups_ = self._runner_ups(best, valid)
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
        with sex 0.01, the final segments' 1.0; ``docs/selection.md``). Then the best runner-up that did
        not restate a column is trained instead, and kept when its segments do not restate one
        either (at most the 3 runner-ups, in order). ``final_check_`` says what happened.
        """
        self.final_check_ = {"column_nmi": None, "closest_column": None, "restates_column": False,
                             "replaced": None}
        columns = self._discrete_score_columns(context)
        if not columns or not hasattr(self, "runner_ups_"):
            return architecture, net
        nmi, column = self._final_restatement(net, context, columns)
        self.final_check_.update(column_nmi=nmi, closest_column=column, restates_column=nmi >= RESTATEMENT_NMI)
        if nmi < RESTATEMENT_NMI:
            return architecture, net
        for fallback in (r["architecture"] for r in self.runner_ups_ if not r["restates_column"]):
            other = self._train_final(fallback, Xs, y, seed=rng.randint(_SEED_MAX))
            other_nmi, other_column = self._final_restatement(other, context, columns)
            if other_nmi < RESTATEMENT_NMI:
                self.final_check_.update(replaced=str(architecture), column_nmi=other_nmi,
                                         closest_column=other_column, restates_column=False)
                return fallback, other
        return architecture, net

    def _discrete_score_columns(self, context):
        """The discrete input columns of the labelled scoring rows (computed once per fit, kept in context)."""
        if "discrete_columns" not in context:
            X = np.asarray(context["X_score"])[:MAX_LABELLED_ROWS]
            context["discrete_columns"] = discrete_columns(X, self._standardizer.layout, self._encoded_column_names())
        return context["discrete_columns"]

    def _final_restatement(self, net, context, columns):
        """``(nmi, column)`` of the final network's KMeans segments of the labelled scoring rows."""
        rows = np.asarray(context["X_score"])[:MAX_LABELLED_ROWS]
        encoder = net.module_.encoder
        with torch.no_grad():
            Z = embed(encoder, torch.as_tensor(_contiguous(rows), device=_encoder_device(encoder))).cpu().numpy()
        with threadpool_limits(limits=1), parallel_config(backend="sequential"):
            labels = cluster_labels(Z, self.n_clusters)
        return column_restatement(labels, columns)

    def _mark_restatements(self, valid, context):
        """Record in each valid record which discrete input column its partition restates most (NMI), and
        whether that makes it a restatement (NMI >= RESTATEMENT_NMI: a group-by, not a discovery)."""
        columns = self._discrete_score_columns(context)
        for record in valid:
            nmi, column = column_restatement(record["labels"], columns)
            record.update(column_nmi=nmi, closest_column=column, restates_column=nmi >= RESTATEMENT_NMI)

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
        others = sorted((r for r in valid if r["architecture"] != best["architecture"]),
                        key=lambda r: -r["selection_score"])
        seen, out = set(), []
        for record in others:
            if record["architecture"] in seen:
                continue
            seen.add(record["architecture"])
            agreement = adjusted_rand_score(best["labels"], record["labels"]) \
                if best.get("labels") is not None and record.get("labels") is not None else math.nan
            out.append({"architecture": record["architecture"], "selection_score": record["selection_score"],
                        "score": record["score"], "agreement_with_winner": float(agreement),
                        "trial": record["trial"], "restates_column": record.get("restates_column", False),
                        "closest_column": record.get("closest_column"), "column_nmi": record.get("column_nmi")})
            if len(out) == n:
                break
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
        data = {k: context[k] for k in SEARCH_DATA_KEYS}
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
                seeds = [int(info.pop("seed")) if "seed" in info else int(rng.randint(_SEED_MAX))
                         for _, info in proposals]
                # Resolved here already, so the checkpoint records and replays the seed each candidate
                # really used (fixed maps take the fit's one seed).
                seeds = [_candidate_seed(arch, seed, settings) for (arch, _), seed in zip(proposals, seeds)]
                step_data, step_settings, fidelity = self._fidelity(step, data, settings, rng)
                # Fixed maps (raw features, LDA) train nothing, so low fidelity would only fit them on
                # fewer rows: they always see the full training split.
                keys = [(arch, None if arch.head in FIXED_HEADS else fidelity) for arch, _ in proposals]
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
                    # A record already in the checkpoint is replayed, not retrained (trial = position).
                    evaluated = journal.evaluate(self._evaluate_contained, [len(history) + i for i in group],
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
            "fixed_map_seed": self.__dict__.get("_fixed_map_seed"),
        }

    def _evaluate_contained(self, candidates, seeds, data, settings):
        """``_evaluate_many``, with a batched evaluation that runs out of memory redone one by one."""
        try:
            return self._evaluate_many(candidates, seeds, data, settings)
        except Exception as exc:
            if not is_out_of_memory(exc) or len(candidates) == 1:
                raise
            release_memory()
            return [_evaluate_candidate(a, s, data, settings) for a, s in zip(candidates, seeds)]

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

    def _evaluate_many(self, candidates, seeds, data, settings):
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        if n_jobs == 1 or len(candidates) == 1 or self.device_.type == "cuda":
            return [_evaluate_candidate(a, s, data, settings) for a, s in zip(candidates, seeds)]
        # Separate processes: each candidate has its own torch RNG and threads,
        # so results do not depend on n_jobs.
        settings = {**settings, "n_threads": 1}
        return Parallel(n_jobs=n_jobs)(delayed(_evaluate_candidate)(a, s, data, settings)
                                       for a, s in zip(candidates, seeds))

    def _out_of_time(self, context):
        return self.max_time is not None and time.perf_counter() - context["start"] > self.max_time

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
