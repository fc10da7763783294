"""NeuralFeatureMap: train one given Architecture, no search (the control)."""

from __future__ import annotations



from .base import BaseNeuralTransformer
from .space import Architecture, Block

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
    }

    def __init__(self, architecture=None, n_components=8, n_clusters=8, *, objective="auto", max_epochs=40,
                 batch_size=512, learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None,
                 verbose=0, categorical_features="from_dtype", handle_unknown="error"):
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

    def _select_architecture(self, context):
        arch = self.architecture
        if arch is None:
            return DEFAULT_ARCHITECTURE
        if isinstance(arch, str):
            return Architecture.from_json(arch)
        if isinstance(arch, dict):
            return Architecture.from_dict(arch)
        return arch
