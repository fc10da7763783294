"""NeuralFeatureMap: train one given Architecture, no search (the control), or transfer a fitted one."""

from __future__ import annotations

import copy
import dataclasses
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .base import BaseNeuralTransformer
from .space import Architecture, Block
from .space.adapter import AdaptedNetwork, adapter_weights, match_columns
from .training.alignment import ALIGNMENTS, AlignedObjective
from .warmstart.transfer import clone_keeping_init, unwrap_fitted

#: The default map: one hidden layer of 128 units, enough on tabular data in
#: our measurements ("a 64-unit MLP was nearly as good as wider, deeper ones").
DEFAULT_ARCHITECTURE = Architecture((Block("linear", 128),))


class NeuralFeatureMap(BaseNeuralTransformer):
    """Learn a feature map with a fixed Architecture.

    The control every search is compared with: the same validation,
    objective, trainer and transform as the search estimators, without the
    search.

    Parameters
    ----------
    architecture : Architecture, str, dict or None, default=None
        The network; a JSON string or dict as written by
        ``Architecture.to_json``/``to_dict``; ``None`` is one hidden layer of
        128 ReLU units.
    n_components : int, default=8
    n_clusters : int, default=8
        Unused by training; kept so the shared parameters are spelled the
        same on every sknas estimator.
    objective : {"auto", "neighbors", "reconstruction", "contrastive", "supervised"}, default="auto"
        ``"auto"`` is ``"neighbors"``.
    max_epochs : int or "auto", default="auto"
        Training epochs. ``"auto"``: enough for 1,000 optimizer updates and at least 40 (see
        :mod:`sknas.training.budget`).
    batch_size : int, default=512
    learning_rate : float, default=3e-3
    validation_fraction : float, default=0.2
        Unused (no candidates to score); kept for the shared spelling.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    categorical_features : {"from_dtype"}, array-like of int or str, bool mask or None, default="from_dtype"
        Columns embedded as categories (see :class:`~sknas.RandomFeatureSearch`).
    handle_unknown : {"error", "ignore"}, default="error"
        A category unseen at fit, at transform: a ValueError, or the
        reserved unknown embedding.
    init : fitted sknas estimator, "zoo" or None, default=None
        Weight transfer: start from the trained weights of a fitted sknas
        estimator (a search or a NeuralFeatureMap; ``FrozenEstimator``
        accepted) instead of a fresh initialisation.  Its ``architecture_``
        is used (``architecture`` must be None or equal to it) and
        ``n_components`` must equal its width.  When the new data has other
        columns, an input adapter maps them in (``adapter``).  The new data
        is standardised with its own statistics.  Never modified; ``clone``
        keeps it fitted.  ``"zoo"``: no weights, the architecture of the zoo
        entry nearest to the data (:mod:`sknas.warmstart.zoo`; ``architecture`` must be
        None).
    fine_tune : bool, default=True
        With a fitted ``init``: train the transferred weights (and the
        adapter) for ``max_epochs`` on the new data (True), or keep them as
        transferred (False).  Ignored otherwise.
    adapter : {"auto", "linear"} or None, default="auto"
        With a fitted ``init``, how the new data's numeric columns reach the
        transferred network.  ``"auto"``: as they are when the columns are
        init's (same count, same names when both tables have names), else
        through a trainable linear input adapter (``"linear"``).
        ``"linear"``: always through the adapter, a linear map from the new
        numeric columns to init's, initialised to copy every column the two
        tables share (by name; by position when either has no names) to its
        old place, with small random weights (0.01) into init's columns that
        no new column matches (mean imputation plus noise), or a random
        orthogonal map when no column matches.  None: the columns must be
        init's, else a ValueError says what differs.  Categorical columns
        are not adapted: they must be init's exactly (names and categories)
        and pass through to its embeddings; a ValueError says otherwise.
        Fixed maps (identity, LDA) cannot be adapted.  Without
        ``fine_tune`` the adapter stays as initialised (a column selection
        when every init column has a match).
    alignment : {"coral", "mmd"} or None, default=None
        Domain adaptation while fine-tuning from a fitted ``init``: add an
        alignment loss between each batch's embeddings and init's
        ``reference_embedding_`` (its embeddings of up to 1,000 of its
        training rows), so that the new embeddings keep the source's
        distribution: ``"coral"`` matches covariances (Sun & Saenko 2016),
        ``"mmd"`` whole distributions (Gaussian-kernel MMD, median-heuristic
        bandwidth); see :mod:`sknas.training.alignment`.  Ignored without a
        fitted ``init`` or with ``fine_tune=False``.
    alignment_weight : float, default=1.0
        Weight of the alignment loss against the objective's.
    time_budget : float or None, default=None
        Seconds ``fit`` may take in all: the network stops training after the epoch that crosses what is
        left of them (at least one epoch), and ``fit`` ends within 1.1 times the budget when it covers
        that epoch (else it warns once, ``TimeBudgetWarning``). None: train every epoch.

    Attributes
    ----------
    architecture_ : Architecture
    net_ : sknas.training.FeatureNet
    efficiency_ : dict
    n_components_ : int
    objective_ : str
    device_ : torch.device
    search_time_, fit_time_ : float
    time_budget_ : dict
        ``budget`` (``time_budget``), ``used`` (seconds), ``ratio`` (used / budget), ``within_tolerance``
        (used at most 1.1 x budget; None without a budget), ``final_epochs`` (trained),
        ``final_epochs_planned`` and ``final_time_limited`` (the budget stopped the training early).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    is_categorical_ : ndarray of bool or None
        Which input columns are embedded as categories (None: none).
    reference_embedding_ : ndarray of shape (n_reference, n_components_)
        Embeddings of up to 1,000 training rows (a fixed random subset):
        what ``alignment`` aligns a map fine-tuned from this one to.
    adapter_ : dict or None
        With an input adapter: ``n_inputs`` (new numeric columns),
        ``n_outputs`` (init's numeric columns) and ``matched``, the
        ``(new column, init column)`` pairs copied at the start (names, or
        indices for unnamed columns).  None without one.

    Examples
    --------
    >>> from sknas import NeuralFeatureMap
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> fmap = NeuralFeatureMap(n_components=3, max_epochs=2, random_state=0).fit(X)
    >>> fmap.transform(X).shape
    (200, 3)
    >>> print(fmap.architecture_)
    linear(128)-relu -> linear

    Transfer to a table with other columns: an input adapter maps them in,
    and a CORAL loss keeps the embeddings' covariance close to the source's.

    >>> X2, _ = make_customers(n_samples=200, n_noise_features=2, random_state=1, return_X_y=True)
    >>> tuned = NeuralFeatureMap(n_components=3, max_epochs=2, random_state=0, init=fmap,
    ...                          alignment="coral").fit(X2)
    >>> tuned.adapter_["n_inputs"], tuned.adapter_["n_outputs"], len(tuned.adapter_["matched"])
    (7, 9, 7)
    >>> tuned.transform(X2).shape
    (200, 3)
    """

    _parameter_constraints: dict = {
        **BaseNeuralTransformer._parameter_constraints,
        "architecture": [None, Architecture, str, dict],
        "init": [None, StrOptions({"zoo"}), BaseEstimator],
        "fine_tune": ["boolean"],
        "adapter": [None, StrOptions({"auto", "linear"})],
        "alignment": [None, StrOptions(set(ALIGNMENTS))],
        "alignment_weight": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, architecture=None, n_components=8, n_clusters=8, *, objective="auto", max_epochs="auto",
                 batch_size=512, learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None,
                 verbose=0, categorical_features="from_dtype", handle_unknown="error", init=None, fine_tune=True,
                 adapter="auto", alignment=None, alignment_weight=1.0, time_budget=None):
        self.architecture = architecture
        self.n_components = n_components
        self.n_clusters = n_clusters
        self.objective = objective
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.categorical_features = categorical_features
        self.handle_unknown = handle_unknown
        self.init = init
        self.fine_tune = fine_tune
        self.adapter = adapter
        self.alignment = alignment
        self.alignment_weight = alignment_weight
        self.time_budget = time_budget

    def __sklearn_clone__(self):
        return clone_keeping_init(self)  # a fitted init stays fitted (clone would unfit it)

    def _select_architecture(self, context):
        arch = self._given_architecture()
        if self.init is None:
            return DEFAULT_ARCHITECTURE if arch is None else arch
        if isinstance(self.init, str):  # "zoo" (the parameter constraints allow no other string)
            if arch is not None:
                raise ValueError("init='zoo' chooses the architecture; leave architecture=None.")
            return self._zoo_architecture(context["X"])
        source = unwrap_fitted(self.init)
        if arch is not None and arch != source.architecture_:
            raise ValueError(f"architecture={arch} differs from init's architecture_ {source.architecture_}; "
                             "leave architecture=None to transfer init's weights.")
        return source.architecture_

    def _zoo_architecture(self, X):
        from .warmstart.zoo import zoo_architectures

        arch = zoo_architectures(X, None, self.n_clusters, n=1)[0]
        if self.is_categorical_ is None and arch.embedding_dim != "auto":
            arch = dataclasses.replace(arch, embedding_dim="auto")  # nothing to embed here
        return arch

    # -- weight transfer ---------------------------------------------------------------------------------
    def _initialize_weights(self, net):
        self.adapter_ = None
        if not isinstance(self.init, BaseEstimator):
            return True
        source = unwrap_fitted(self.init)
        module = net.module_
        if self._uses_adapter(source):
            module.encoder = self._adapted_network(source)
        else:
            self._check_same_columns(source, module.encoder)
            module.encoder.load_state_dict(source.net_.module_.encoder.state_dict())  # into this net's tensors
        if self.alignment is not None and self.fine_tune:
            reference = getattr(source, "reference_embedding_", None)
            if reference is None:
                raise ValueError("alignment needs init's reference_embedding_ (its embeddings of a sample of its "
                                 "training rows, stored by fit); refit init with this version of sknas.")
            module.objective = AlignedObjective(module.objective, reference, self.alignment, self.alignment_weight)
        module.to(self.device_)
        net.initialize_optimizer()  # over the parameters of the (possibly replaced) modules
        return self.fine_tune

    def _column_problems(self, source):
        """What differs between init's columns and this fit's (empty: the same columns)."""
        problems = []
        if source.n_features_in_ != self.n_features_in_:
            problems.append(f"{source.n_features_in_} columns at init's fit, {self.n_features_in_} here")
        names = [getattr(e, "feature_names_in_", None) for e in (source, self)]
        if not problems and all(n is not None for n in names) and list(names[0]) != list(names[1]):
            problems.append("other column names")
        if repr(source._standardizer.layout) != repr(self._standardizer.layout):
            problems.append("another categorical layout")
        return problems

    def _uses_adapter(self, source):
        return self.adapter == "linear" or (self.adapter == "auto" and bool(self._column_problems(source)))

    def _check_same_columns(self, source, encoder):
        problems = self._column_problems(source)
        state, own = source.net_.module_.encoder.state_dict(), encoder.state_dict()
        if not problems and (set(state) != set(own) or any(state[k].shape != own[k].shape for k in own)):
            problems.append(f"other weight shapes (n_components={self.n_components}, init's "
                            f"{source.n_components_})")
        if problems:
            hint = " (adapter=None: pass adapter='auto' to map other columns in)" if self.adapter is None else ""
            raise ValueError("init's weights cannot be transferred: " + "; ".join(problems) +
                             f". Weight transfer needs the same columns and width{hint}.")

    def _adapted_network(self, source):
        """init's network (a copy) behind a linear adapter of this fit's numeric columns."""
        problems = []
        if source.architecture_.head != "linear":
            problems.append(f"init's map is the fixed {source.architecture_.head!r} map, which has no trained "
                            "weights to adapt; fit NeuralFeatureMap(architecture=...) on this data instead")
        if source.n_components_ != self.n_components:
            problems.append(f"n_components={self.n_components} but init's width is {source.n_components_}")
        problems += _categorical_differences(source, self)
        if problems:
            raise ValueError("init's network cannot be adapted to these columns: " + "; ".join(problems) + ".")
        target_names, source_names = _numeric_names(self), _numeric_names(source)
        n_in, n_out = _n_numeric(self), _n_numeric(source)
        matches = match_columns(n_in, n_out, target_names, source_names)
        network = copy.deepcopy(source.net_.module_.encoder)
        n_features = self._standardizer.layout.n_encoded if self._standardizer.layout is not None \
            else self.n_features_in_
        self.adapter_ = {"n_inputs": n_in, "n_outputs": n_out,
                         "matched": [(_label(target_names, i), _label(source_names, j)) for i, j in matches]}
        return AdaptedNetwork(network, n_in, n_out, adapter_weights(n_in, n_out, matches), n_features)

    def _efficiency(self, architecture):
        report = super()._efficiency(architecture)
        if self.adapter_ is not None:  # the source network at its own width, plus the adapter
            source = unwrap_fitted(self.init)
            width, layout = source.net_.module_.encoder.n_features, source._standardizer.layout
            n_in, n_out = self.adapter_["n_inputs"], self.adapter_["n_outputs"]
            report["params"] = architecture.n_params(width, self.n_components, layout) + n_in * n_out + n_out
            report["flops"] = architecture.flops(width, self.n_components, layout) + 2 * n_in * n_out
        return report

    def _given_architecture(self):
        arch = self.architecture
        if arch is None:
            return None
        if isinstance(arch, str):
            return Architecture.from_json(arch)
        if isinstance(arch, dict):
            return Architecture.from_dict(arch)
        return arch


def _n_numeric(estimator):
    layout = estimator._standardizer.layout
    return estimator.n_features_in_ if layout is None else layout.n_numeric


def _label(names, i):
    return str(names[i]) if names is not None else i


def _numeric_names(estimator):
    """Names of the numeric columns, or None for unnamed columns."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None
    mask = estimator.is_categorical_
    return list(names if mask is None else np.asarray(names)[~mask])


def _categorical_differences(source, target):
    """Why the categorical columns of ``target``'s fit cannot pass through ``source``'s embeddings (empty: they can)."""
    def described(estimator):
        encoder = estimator._standardizer
        if estimator.is_categorical_ is None:
            return [], []
        names = getattr(estimator, "feature_names_in_", None)
        return ([str(n) for n in np.asarray(names)[estimator.is_categorical_]] if names is not None else None,
                [list(c) for c in encoder.ordinal_.categories_])
    (s_names, s_categories), (t_names, t_categories) = described(source), described(target)
    if s_categories != t_categories or (s_names is not None and t_names is not None and s_names != t_names):
        return ["its categorical columns differ (names or categories); an input adapter maps numeric columns "
                "only, so the categorical columns must be init's"]
    return []
