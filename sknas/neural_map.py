"""NeuralFeatureMap: train one given Architecture, no search (the control)."""

from __future__ import annotations



from sklearn.base import BaseEstimator

from .base import BaseNeuralTransformer
from .space import Architecture, Block
from .transfer import clone_keeping_init, unwrap_fitted

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
    max_epochs : int, default=40
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
    init : fitted sknas estimator or None, default=None
        Weight transfer: start from the trained weights of a fitted sknas
        estimator (a search or a NeuralFeatureMap; ``FrozenEstimator``
        accepted) instead of a fresh initialisation.  Its ``architecture_``
        is used (``architecture`` must be None or equal to it), and the new
        data must have the same columns (count, names when both have them,
        categorical layout) and ``n_components`` must equal its width: a
        ValueError says what differs (no input adapter yet).  The new data is
        standardised with its own statistics.  Never modified; ``clone``
        keeps it fitted.
    fine_tune : bool, default=True
        With ``init``: train the transferred weights for ``max_epochs`` on the
        new data (True), or keep them as transferred (False).  Ignored
        without ``init``.

    Attributes
    ----------
    architecture_ : Architecture
    net_ : sknas.training.FeatureNet
    efficiency_ : dict
    n_components_ : int
    objective_ : str
    device_ : torch.device
    search_time_, fit_time_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    is_categorical_ : ndarray of bool or None
        Which input columns are embedded as categories (None: none).

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
    """

    _parameter_constraints: dict = {
        **BaseNeuralTransformer._parameter_constraints,
        "architecture": [None, Architecture, str, dict],
        "init": [None, BaseEstimator],
        "fine_tune": ["boolean"],
    }

    def __init__(self, architecture=None, n_components=8, n_clusters=8, *, objective="auto", max_epochs=40,
                 batch_size=512, learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None,
                 verbose=0, categorical_features="from_dtype", handle_unknown="error", init=None, fine_tune=True):
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

    def __sklearn_clone__(self):
        return clone_keeping_init(self)  # a fitted init stays fitted (clone would unfit it)

    def _select_architecture(self, context):
        arch = self._given_architecture()
        if self.init is None:
            return DEFAULT_ARCHITECTURE if arch is None else arch
        source = unwrap_fitted(self.init)
        if arch is not None and arch != source.architecture_:
            raise ValueError(f"architecture={arch} differs from init's architecture_ {source.architecture_}; "
                             "leave architecture=None to transfer init's weights.")
        return source.architecture_

    def _initialize_weights(self, encoder):
        if self.init is None:
            return True
        source = unwrap_fitted(self.init)
        problems = []
        if source.n_features_in_ != self.n_features_in_:
            problems.append(f"{source.n_features_in_} columns at init's fit, {self.n_features_in_} here")
        names = [getattr(e, "feature_names_in_", None) for e in (source, self)]
        if not problems and all(n is not None for n in names) and list(names[0]) != list(names[1]):
            problems.append("other column names")
        if repr(source._standardizer.layout) != repr(self._standardizer.layout):
            problems.append("another categorical layout")
        state = source.net_.module_.encoder.state_dict()
        own = encoder.state_dict()
        if not problems and (set(state) != set(own) or any(state[k].shape != own[k].shape for k in own)):
            problems.append(f"other weight shapes (n_components={self.n_components}, init's "
                            f"{source.n_components_})")
        if problems:
            raise ValueError("init's weights cannot be transferred: " + "; ".join(problems) +
                             ". Weight transfer needs the same columns and width (input adapters are not "
                             "implemented).")
        encoder.load_state_dict(state)  # copies into this network's tensors, on its device
        return self.fine_tune

    def _given_architecture(self):
        arch = self.architecture
        if arch is None:
            return None
        if isinstance(arch, str):
            return Architecture.from_json(arch)
        if isinstance(arch, dict):
            return Architecture.from_dict(arch)
        return arch
