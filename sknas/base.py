"""The estimator contract every sknas transformer keeps: validation, seeding, final fit, transform.

:class:`BaseNeuralTransformer` turns rows into a learned embedding given a way to choose the
Architecture (``_select_architecture``): ``NeuralFeatureMap`` takes one it is given,
:class:`sknas.search.base.BaseFeatureSearch` searches for one. Everything a scikit-learn user
relies on lives here once: parameter validation, the train/validation split, the final
training as a skorch net, ``transform``, feature names and tags (``docs/architecture.md``).
"""

from __future__ import annotations

import copy
import numbers
import time
from abc import abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .config import get_config
from .preprocessing.tabular import make_encoder, validate_input
from .evaluation import efficiency_report
from .io.provenance import record_provenance
from .space import build_network
from .warmstart.transfer import reference_embedding
from .training.deadline import Deadline, no_budget_summary
from .training import (
    OBJECTIVES,
    SEED_MAX,
    WEIGHT_DECAY,
    CandidateFailure,
    as_float32_rows,
    embed,
    encoder_device,
    make_final_net,
    make_objective,
    resolve_device,
    resolve_epochs,
    resolve_objective,
    seeded,
)

#: Below this many rows the train/validation split would leave too little on
#: either side; both then use all rows (documented under ``validation_fraction``).
MIN_ROWS_TO_SPLIT = 20
#: Rows standardised and moved to the device at a time in ``transform`` (bounds its memory).
TRANSFORM_CHUNK_ROWS = 65536


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
        "time_budget": [None, Interval(numbers.Real, 0, None, closed="neither")],
    }

    #: BatchNorm needs 2 rows to train; searches need 3 to score a clustering.
    _min_samples = 2
    #: The running fit's clock when ``time_budget`` is set (sknas.training.deadline); never kept after fit.
    _deadline = None

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
        self._deadline = self._open_deadline()  # the budget counts from here
        try:
            self._fit(X, y)
            if self._deadline is not None:
                self._deadline.warn_if_exceeded(type(self).__name__)
            return self
        finally:
            self.__dict__.pop("_deadline", None)

    def _open_deadline(self):
        """The clock of a fit with a ``time_budget`` (None without one)."""
        return None if self.time_budget is None else Deadline(self.time_budget)

    def _fit(self, X, y):
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
            "X_fixed": Xs,  # a fixed map is fitted on every row, in the search as in the final fit
            "y_train": None if y is None else y[train_idx], "y_valid": None if y is None else y[valid_idx],
            "rng": rng, "start": start, "X": X,  # X: the validated rows, for init="zoo"'s meta-features
        }
        architecture = self._select_architecture(context)
        self.search_time_ = time.perf_counter() - start

        net = self._train_final(architecture, Xs, y, seed=rng.randint(SEED_MAX))
        self.architecture_, self.net_ = self._check_final(architecture, net, Xs, y, rng, context)
        self.reference_embedding_ = reference_embedding(self.net_.module_.encoder, Xs)  # for alignment losses
        self.n_components_ = self.architecture_.output_width(Xs.shape[1], self.n_components)
        self.efficiency_ = self._efficiency(self.architecture_)  # the final check may have replaced it
        self.fit_time_ = time.perf_counter() - start
        self.time_budget_ = self._time_budget_summary()
        self.provenance_ = record_provenance(self, X)  # versions, seed, data hash, settings (sknas.save keeps it)
        return self

    def _time_budget_summary(self, **figures):
        """``time_budget_``: the budget and the seconds used, the final network's epochs trained and planned."""
        trained = len(self.net_.history)
        planned = self.net_.max_epochs if trained else 0
        figures = {"final_epochs": trained, "final_epochs_planned": planned, "final_time_limited": trained < planned,
                   **figures}
        if self._deadline is None:
            return no_budget_summary(self.fit_time_, **figures)
        return self._deadline.summary(**figures)

    def _final_time_limit(self):
        """Seconds the final network may train (None: no ``time_budget``)."""
        return None if self._deadline is None else self._deadline.final_limit()

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
        X_t = torch.as_tensor(as_float32_rows(X), device=self.device_)
        return objective.prepare(X_t, y)

    def _train_final(self, architecture, Xs, y, seed):
        """Retrain ``architecture`` on all rows as a skorch net (``net_``)."""
        with seeded(seed, self.device_):
            encoder = build_network(architecture, Xs.shape[1], self.n_components, self._standardizer.layout)
            encoder.fit_fixed_parts(Xs, self.n_clusters, random_state=seed)
            objective = make_objective(self.objective_, Xs.shape[1], encoder.n_outputs, y,
                                       layout=self._standardizer.layout)
            # Row visits capped (sknas.config's final_max_row_visits): on large data fewer epochs, at least one.
            epochs = max(1, min(self._final_epochs(architecture, len(Xs)),
                                get_config()["final_max_row_visits"] // len(Xs)))
            net = make_final_net(encoder, objective, max_epochs=epochs, batch_size=self.batch_size,
                                 learning_rate=self.learning_rate, weight_decay=WEIGHT_DECAY, device=self.device_)
            net.initialize()
            trains = self._initialize_weights(net)
            if net.optimizer_ is not None and trains:
                try:
                    net.fit_data(self._loss_data(objective, Xs, y), time_limit=self._final_time_limit())
                except CandidateFailure as exc:
                    raise RuntimeError(f"Training the final network {architecture} failed: {exc.reason}. "
                                       "Try a smaller learning_rate.") from None
        net.module_.eval()
        return net

    def _epochs(self, n_rows):
        """Epochs one network trains on ``n_rows`` rows (``max_epochs``; "auto": see sknas.training.budget)."""
        return resolve_epochs(self.max_epochs, n_rows, self.batch_size)

    def _final_epochs(self, architecture, n_rows):
        """Epochs the final network trains on ``n_rows`` rows (a search may know better than the budget)."""
        return self._epochs(n_rows)

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
            integer input or no numeric column). Computed in float64, so a
            row's embedding does not depend on the other rows transformed
            with it.
        """
        check_is_fitted(self, "net_")
        X = validate_input(self, X, reset=False)
        # A float64 copy of the trained (float32) weights: float32 GEMM rounds a row differently with the
        # batch's row count and the row's position in it (1 ulp, up to 5e-7), so a row transformed alone
        # and in a table got different embeddings; in float64 the difference is ~1e-16.
        encoder = copy.deepcopy(self.net_.module_.encoder).double().eval()
        device = encoder_device(encoder)
        out = np.empty((len(X), self.n_components_), dtype=X.dtype)
        step = TRANSFORM_CHUNK_ROWS
        with torch.no_grad():
            for start in range(0, len(X), step):  # bounded memory: one slice on the device at a time
                rows = self._standardizer.transform(X[start:start + step], handle_unknown=self.handle_unknown)
                chunk = torch.as_tensor(rows, dtype=torch.float64, device=device)
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



def _search_rows(train_idx, valid_idx):
    """At most ``search_max_rows`` (:mod:`sknas.config`) of the (shuffled) split for the search, both sides
    cut alike."""
    n, max_rows = len(train_idx) + len(valid_idx), get_config()["search_max_rows"]
    if n <= max_rows or train_idx is valid_idx:
        return train_idx, valid_idx
    keep = max_rows / n  # the indices are a random permutation, so a prefix is a random sample
    return train_idx[:int(len(train_idx) * keep)], valid_idx[:int(len(valid_idx) * keep)]


def _score_rows(train_idx, valid_idx):
    """The rows candidates are scored on: the validation rows, then training rows up to ``score_max_rows``
    (:mod:`sknas.config`)."""
    max_rows = get_config()["score_max_rows"]
    if train_idx is valid_idx or len(valid_idx) >= max_rows:
        return valid_idx
    # train_idx is a random permutation's slice, so its prefix is a random sample of the training rows
    return np.concatenate([valid_idx, train_idx[:max_rows - len(valid_idx)]])



def _cpu_copy(module):
    return copy.deepcopy(module).to("cpu")

