"""Turn an :class:`~sknas.space.Architecture` into a torch module."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from .._runtime import ContentCache, content_key, one_thread
from ..config import _DEFAULTS, get_config
from .architecture import Architecture
from .categorical import CategoricalEmbedding
from .discriminant import adjusted_rand, svd_discriminant
from .ops import make_activation, make_norm, make_op, out_width


class BlockModule(nn.Module):
    """``dropout(act(norm(op(x))))`` plus an optional (projected) residual."""

    def __init__(self, block, in_features):
        super().__init__()
        width = out_width(block.op, in_features, block.width)
        self.op = make_op(block.op, in_features, block.width)
        self.norm = make_norm(block.norm, width)
        self.act = make_activation(block.activation)
        self.dropout = nn.Dropout(block.dropout) if block.dropout else nn.Identity()
        self.shortcut = None
        if block.residual:
            self.shortcut = nn.Identity() if width == in_features else nn.Linear(in_features, width)

    def forward(self, x):
        out = self.dropout(self.act(self.norm(self.op(x))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


# Restarts of the LDA map's KMeans/LDA alternation (sknas.config's lda_restarts, 5); the one whose clusters
# are best separated in its projection (silhouette) is kept. One run lands in one of several local optima
# depending on its KMeans starts, and the optima differ in segment quality (wine: ARI 0.880, 0.897 or 0.915;
# breast cancer 0.718 or 0.754; make_customers 0.34 or 0.43-0.44 over 12 seeds); the silhouette ranked the
# better optimum first on breast cancer and customers, so a few restarts turn a lottery into a choice. Not
# more: with 10 restarts (10 seeds) customers went 0.397 -> 0.410 but digits 0.573 -> 0.534, the silhouette
# given more chances to prefer a worse optimum.

#: The default of sknas.config's ``lda_max_rows`` (the value in force is the config's): rows the LDA map is
#: fitted on at most (a seeded random subset beyond): it has at most n_clusters - 1 directions, which a few
#: thousand rows per cluster already pin down, and restarts on a million rows would cost minutes of KMeans.
LDA_MAX_ROWS = _DEFAULTS["lda_max_rows"]
#: Rows the silhouette that ranks the restarts is computed on at most.
_LDA_SILHOUETTE_ROWS = 2000
#: A restart whose labels leave a cluster with fewer rows than this share of n / k has collapsed (digits: one
#: restart squeezed the rows onto 2 points, silhouette 0.999, ARI 0); it is kept only when every restart did.
_LDA_MIN_CLUSTER_SHARE = 0.02


#: LDA maps fitted recently, by the content of their rows and settings (LDAHead.fit_map): on a 150-row table a
#: fit is 0.1-0.2 s of restarts, as much as a tenth of a whole default search (docs/speed.md).
_FITTED_MAPS = ContentCache(size=8)


class LDAHead(nn.Module):
    """A linear map fitted, not trained: discriminant directions of the clusters it induces.

    :meth:`fit_map` alternates KMeans on the current projection with
    linear discriminant analysis of those labels on the input (the label-free
    LDA refinement of issue 5), starting from KMeans on the input, from
    ``n_restarts`` different KMeans starts; the restart whose clusters have
    the best silhouette in its projection is kept.  The weights are buffers,
    so gradient training leaves them alone.  LDA gives at most
    ``n_clusters - 1`` directions; the remaining outputs are zero.
    """

    def __init__(self, n_features, n_components, n_rounds=5, n_restarts=None):
        super().__init__()
        self.n_rounds = n_rounds
        # None: sknas.config's lda_restarts, read when the map is built (inside the fit it belongs to)
        self.n_restarts = get_config()["lda_restarts"] if n_restarts is None else n_restarts
        self.register_buffer("weight", torch.zeros(n_components, n_features))
        self.register_buffer("bias", torch.zeros(n_components))

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def fit_map(self, X, n_clusters, random_state=0):
        """Fit the projection on rows ``X`` (numpy, standardised).

        A deterministic function of the rows, ``n_clusters`` and ``random_state``, so a fitted map is
        remembered (the last few, by content): a search fits each fixed map on all rows (``X_fixed``,
        :mod:`sknas.search.candidates`), and the final network of the one that wins is the same fit.
        """
        rng = np.random.RandomState(random_state)
        n_rows, max_rows = len(X), get_config()["lda_max_rows"]
        if n_rows > max_rows:  # subsampled before the float64 copy: a search passes all rows (X_fixed)
            X = X[np.sort(rng.choice(n_rows, max_rows, replace=False))]
        X = np.asarray(X, dtype=np.float64)
        k = int(min(max(n_clusters, 2), len(X) - 1))
        # a generator passed in is consumed by the fit, so only an integer seed names a repeatable fit
        key = (content_key(X), n_rows, k, self.n_rounds, self.n_restarts, tuple(self.weight.shape), random_state) \
            if isinstance(random_state, numbers.Integral) else None
        fitted = None if key is None else _FITTED_MAPS.get(key)
        if fitted is not None:
            with torch.no_grad():
                self.weight.copy_(fitted[0])
                self.bias.copy_(fitted[1])
            return self
        self._fit_restarts(X, k, rng)
        if key is not None:
            _FITTED_MAPS.put(key, (self.weight.detach().clone(), self.bias.detach().clone()))
        return self

    def _fit_restarts(self, X, k, rng):
        """Fit the projection on ``X``: the best of ``n_restarts`` alternations (see the class docstring)."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        best = None  # (rank, scalings, bias)
        # KMeans' sums depend on the thread count: one thread keeps fits reproducible. A restart whose
        # clusters collapse makes KMeans warn; that restart is simply not kept, which is not the user's news.
        with one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for seed in rng.randint(2**31 - 1, size=self.n_restarts):
                try:
                    fitted = self._alternate(X, k, int(seed))
                # Degenerate rows for these starts: too few per cluster, a singular scatter, or (IndexError from
                # scikit-learn's SVD solver) no within-cluster spread at all, as on a table of repeated rows.
                except (ValueError, IndexError, np.linalg.LinAlgError):
                    continue
                if fitted is not None and (best is None or fitted[0] > best[0]):
                    best = fitted
        with torch.no_grad():
            self.weight.zero_()
            self.bias.zero_()
            if best is not None:  # else a zero map, which the collapse guard rejects as a candidate
                _, scalings, bias = best
                self.weight[:scalings.shape[1]] = torch.as_tensor(scalings.T, dtype=self.weight.dtype)
                self.bias[:scalings.shape[1]] = torch.as_tensor(bias, dtype=self.bias.dtype)

    def _alternate(self, X, k, seed):
        """One run of the alternation: ``((not collapsed, silhouette), scalings, bias)``, or ``None``."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(X)
        for _ in range(self.n_rounds):
            if len(np.unique(labels)) < 2:
                return None  # nothing to discriminate
            n_dirs = min(len(np.unique(labels)) - 1, X.shape[1], self.weight.shape[0])
            # scikit-learn's LinearDiscriminantAnalysis(n_components=n_dirs) and adjusted_rand_score, without
            # their input checks (most of this loop's time on a small table; sknas/space/discriminant.py)
            all_scalings, xbar = svd_discriminant(X, labels)
            projected = ((X - xbar) @ all_scalings)[:, :n_dirs]
            new = KMeans(k, n_init=3, random_state=seed).fit_predict(projected)
            settled = adjusted_rand(labels, new) > 0.99
            labels = new
            if settled:
                break
        n_dirs = min(n_dirs, all_scalings.shape[1])  # collinear columns can lower the rank
        scalings = all_scalings[:, :n_dirs]
        projected = projected[:, :n_dirs]
        collapsed = np.bincount(labels, minlength=k).min() < max(2, _LDA_MIN_CLUSTER_SHARE * len(X) / k)
        rows = np.random.RandomState(seed).permutation(len(X))[:_LDA_SILHOUETTE_ROWS]
        n_labels = len(np.unique(labels[rows]))
        # the silhouette needs 2 to n - 1 clusters; a tiny table may have neither, and still gets a map
        silhouette = silhouette_score(projected[rows], labels[rows]) if 1 < n_labels < len(rows) else -1.0
        return (not collapsed, float(silhouette)), scalings, -xbar @ scalings


class FeatureNetwork(nn.Module):
    """The feature map built from an Architecture: categorical embeddings (if any), blocks, then the head."""

    def __init__(self, architecture, n_features, n_components, categorical=None):
        super().__init__()
        layers = []
        width = architecture.widths(n_features, categorical)[0]
        if architecture._embeds(categorical):
            self.categorical_input = CategoricalEmbedding(categorical, architecture.embedding_dim)
        for block in architecture.blocks:
            layers.append(BlockModule(block, width))
            width = out_width(block.op, width, block.width)
        self.blocks = nn.Sequential(*layers)
        if architecture.head == "linear":
            self.head = nn.Linear(width, n_components)
        elif architecture.head == "lda":
            self.head = LDAHead(n_features, n_components)
        else:
            self.head = nn.Identity()
        self.n_features = n_features
        self.n_outputs = architecture.output_width(n_features, n_components)

    def forward(self, x):
        embed = self._modules.get("categorical_input")  # absent on numeric data (and in older pickles)
        if embed is not None:
            x = embed(x)
        return self.head(self.blocks(x))

    def fit_fixed_parts(self, X, n_clusters, random_state=0):
        """Fit the parts not trained by gradient (an LDA head) on rows ``X``; a no-op otherwise."""
        if isinstance(self.head, LDAHead):
            self.head.fit_map(X, n_clusters, random_state)
        return self


def build_network(architecture, n_features, n_components, categorical=None):
    """Build the torch module of ``architecture``.

    Parameters
    ----------
    architecture : Architecture
    n_features : int
        Input width (columns after preprocessing).
    n_components : int
        Output width of a ``"linear"`` head.
    categorical : CategoricalLayout or None, default=None
        Where the categorical indicator blocks sit in the ``n_features``
        columns; the network then embeds them (``architecture.embedding_dim``)
        before its first block.  The fixed maps read the indicators as they are.

    Returns
    -------
    FeatureNetwork

    Examples
    --------
    >>> import torch
    >>> from sknas.space import Architecture, Block, build_network
    >>> net = build_network(Architecture((Block("gated", 16),)), n_features=5, n_components=2)
    >>> net(torch.zeros(3, 5)).shape
    torch.Size([3, 2])
    """
    if not isinstance(architecture, Architecture):
        raise TypeError(f"Expected an Architecture, got {type(architecture).__name__}.")
    return FeatureNetwork(architecture, int(n_features), int(n_components), categorical)
