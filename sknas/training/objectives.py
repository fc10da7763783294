"""Self-supervised objectives: what a feature network is trained to do.

An objective owns its trainable extras (decoder, projection, classifier).
The per-dataset structures it needs (the rows on the device, a k-NN graph,
encoded targets) are built once by :meth:`Objective.prepare` into a
:class:`LossData`, kept apart from the module so that a fitted model never
pickles its training set.  ``loss(encoder, data, idx)`` returns the mean loss
of the rows ``idx``; the same call serves the search trainer and the skorch
final network, so both optimise the same thing.

Which objective by default (``"auto"``): ``"neighbors"``.  In the prototype
study recorded in ``docs/architecture.md`` and issue 5, only the k-NN-graph loss reached
UMAP's level for KMeans on the embedding (digits ARI 0.83-0.88); reconstruction
and SCARF-style contrastive losses were poor on digits and breast cancer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.multiclass import type_of_target
from torch import nn
from torch.nn import functional as F

from .._runtime import ContentCache, content_key, one_thread
from ..config import _DEFAULTS, get_config

OBJECTIVES = ("auto", "neighbors", "reconstruction", "contrastive", "supervised")

# UMAP's output kernel q(d) = 1 / (1 + a d^(2b)) for spread=1, min_dist=0
# (umap.umap_.find_ab_params(1.0, 0.0)); min_dist=0 packs clusters tightly,
# which is what a clustering step downstream wants.
_UMAP_A, _UMAP_B = 1.929, 0.7915


def resolve_objective(objective, y=None):
    """Name of the objective ``objective="auto"`` stands for."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
    if objective == "supervised" and y is None:
        raise ValueError("objective='supervised' needs y; pass fit(X, y) or choose a self-supervised objective.")
    return "neighbors" if objective == "auto" else objective


def make_objective(name, n_features, n_outputs, y=None, layout=None):
    """Build the objective called ``name`` for a network of the given widths.

    ``layout`` (a :class:`~sknas.space.categorical.CategoricalLayout` or None) says where the encoded rows'
    categorical indicator blocks sit; the neighbours objective builds its graph with it.
    """
    if name == "neighbors":
        return NeighborsObjective(layout=layout)
    if name == "reconstruction":
        return ReconstructionObjective(n_features, n_outputs)
    if name == "contrastive":
        return ContrastiveObjective(n_outputs)
    if name == "supervised":
        return SupervisedObjective(n_outputs, y)
    raise ValueError(f"Unknown objective {name!r}.")


@dataclass
class LossData:
    """Rows an objective reads, already on the training device."""

    X: torch.Tensor
    knn: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def __len__(self):
        return len(self.X)


class Objective(nn.Module):
    """Base class: trainable extras and how to turn rows into :class:`LossData`."""

    def prepare(self, X, y=None):
        """Build the :class:`LossData` of rows ``X`` (a float tensor on the device)."""
        return LossData(X)

    def loss(self, encoder, data, idx, reduction="mean"):  # pragma: no cover - abstract
        raise NotImplementedError


# Above sknas.config's knn_exact_max_rows rows the k-NN graph is approximate (see :func:`_sampled_neighbors`):
# an exact graph costs O(n^2) (about two hours single-threaded at a million rows, extrapolated
# from 200,000 x 20,000 distances in 29 s on the 2-core development machine).
#: The default of sknas.config's ``knn_reference_rows`` (the value in force is the config's): reference rows
#: the approximate graph searches among (its cost is O(n * this)).
KNN_REFERENCE_ROWS = _DEFAULTS["knn_reference_rows"]


def _sampled_neighbors(rows, k):
    """Each row's ``k`` nearest neighbours among a fixed random sample of the rows (indices into ``rows``).

    Linear in ``len(rows)``: positives come from a coarser neighbourhood than the
    exact graph's (the sample is sparser), which is what parametric UMAP's
    loss needs (a near neighbour, not the nearest).  The sample is seeded by
    the row count, so the graph is deterministic and leaves the torch RNG alone.
    """
    n = len(rows)
    n_reference = get_config()["knn_reference_rows"]
    reference = np.sort(np.random.RandomState(n % (2**32)).choice(n, n_reference, replace=False))
    ind = reference[NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(rows[reference])
                    .kneighbors(rows, return_distance=False)]
    return _without_self(ind)  # a row need not be in the sample


def _without_self(ind):
    """``k + 1`` neighbour indices per row -> ``k``: each row itself dropped wherever it appears, else the
    farthest (the row is not among its candidates, or duplicates of it came back first)."""
    drop = ind == np.arange(len(ind))[:, None]
    drop[~drop.any(axis=1), -1] = True
    return ind[~drop].reshape(len(ind), ind.shape[1] - 1)


#: Neighbour graphs of recent inputs: every candidate of a search trains on the same split, and
#: rebuilding its graph per candidate cost seconds each at the search's 20,000-row cap.
_GRAPH_CACHE = ContentCache(size=8)


def neighbor_graph(rows, k):
    """Indices of each row's ``k`` nearest other rows (exact up to ``knn_exact_max_rows`` rows, then sampled).

    Deterministic in ``rows`` and ``k``, so it is cached by their content: a search asks for the same
    graph once per candidate.
    """
    config = get_config()
    exact_max_rows = config["knn_exact_max_rows"]
    key = (content_key(rows), k, exact_max_rows, config["knn_reference_rows"])
    cached = _GRAPH_CACHE.get(key)
    if cached is not None:
        return cached
    # One thread: sklearn's chunked distance kernels round (and so break near-ties)
    # differently per thread count, and the graph must not depend on n_jobs or Dask.
    with one_thread():
        if len(rows) <= exact_max_rows:
            _, ind = NearestNeighbors(n_neighbors=k + 1).fit(rows).kneighbors(rows)
            ind = ind[:, 1:]
        else:
            ind = _sampled_neighbors(rows, k)
    ind.setflags(write=False)  # shared between candidates
    _GRAPH_CACHE.put(key, ind)
    return ind


#: Rows :func:`numeric_column_kinds` counts distinct values on (an even spread of them): sorting every column of a
#: million-row table would cost seconds, and a column with more distinct values than the limit shows it early.
CONTINUOUS_CHECK_ROWS = 20_000


def numeric_column_kinds(rows, layout):
    """``(continuous, discrete)``: indices of the numeric columns of encoded ``rows`` (the indicator blocks of
    ``layout`` never) with more than sknas.config's ``max_discrete_values`` distinct values (measurements), and
    with 2 to that many (flags, such as a yes/no column ``AutoSegmenter`` made 0/1, counts and codes; a constant
    column splits nothing and is neither).

    Counted on at most :data:`CONTINUOUS_CHECK_ROWS` evenly spread rows.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.column_stack([np.arange(50.0), np.arange(50) % 3, np.zeros(50)])
    >>> numeric_column_kinds(rows, None)
    ([0], [1])
    """
    max_values = get_config()["max_discrete_values"]
    n_numeric = rows.shape[1] if layout is None else layout.n_numeric
    sample = rows[::max(1, len(rows) // CONTINUOUS_CHECK_ROWS)]
    counts = [len(np.unique(sample[:, j])) for j in range(n_numeric)]
    continuous = [j for j, c in enumerate(counts) if c > max_values]
    discrete = [j for j, c in enumerate(counts) if 2 <= c <= max_values]
    return continuous, discrete


def _measured_neighbors(rows, k):
    """Each row's ``k`` nearest other rows in ``rows`` (the continuous columns), cached as :func:`neighbor_graph`.

    Measurements repeat (ages, counts of days): a row's exact duplicates may come back before the row itself,
    so the row is dropped wherever it appears (:func:`_without_self`), not taken to be the first.
    """
    config = get_config()
    key = ("measured", content_key(rows), k, config["knn_exact_max_rows"], config["knn_reference_rows"])
    cached = _GRAPH_CACHE.get(key)
    if cached is not None:
        return cached
    with one_thread():
        if len(rows) > config["knn_exact_max_rows"]:
            ind = _sampled_neighbors(rows, k)
        else:
            ind = _without_self(NearestNeighbors(n_neighbors=k + 1).fit(rows).kneighbors(rows, return_distance=False))
    ind.setflags(write=False)
    _GRAPH_CACHE.put(key, ind)
    return ind


def mixed_neighbor_graph(rows, k, layout):
    """:func:`neighbor_graph`, with the last third of each row's ``k`` neighbours its nearest rows in the
    continuous columns alone, on a table with discrete columns: categorical ones (``layout``) or numeric
    ones with few values (yes/no flags, counts).

    Why: a change of category or of a flag costs a fixed step in the encoded rows, and within a category the
    nearest rows are usually closer than that, so on a table with a few discrete columns nearly all of a row's
    nearest rows share their values (penguins with its island and sex columns: 99% share the sex). The graph
    then falls apart along those columns, and a network trained on it learns their combinations: penguins'
    species split by sex, ARI 0.51 on every seed. A third of the neighbours taken from the measurements alone
    keep the graph connected across categories where the measurements say the rows are alike (penguins 0.96),
    while two thirds still see the categories (``docs/selection.md``). Unchanged without a discrete column
    or without a continuous one.
    """
    # Cached as the graphs it is made of: every candidate prepares the same rows, and counting each column's
    # distinct values is 20 ms on the search's 20,000-row cap.
    config = get_config()
    key = ("mixed", content_key(rows), k, None if layout is None else (layout.n_numeric, tuple(layout.cardinalities)),
           config["max_discrete_values"], config["knn_exact_max_rows"], config["knn_reference_rows"])
    cached = _GRAPH_CACHE.get(key)
    if cached is not None:
        return cached
    graph = ind = neighbor_graph(rows, k)
    share = k // 3
    continuous, discrete = numeric_column_kinds(rows, layout) if share >= 1 else ([], [])
    has_categories = layout is not None and bool(layout.cardinalities)
    if continuous and (discrete or has_categories):
        graph = ind.copy()
        graph[:, k - share:] = _measured_neighbors(np.ascontiguousarray(rows[:, continuous]), share)
        graph.setflags(write=False)
    _GRAPH_CACHE.put(key, graph)
    return graph


class NeighborsObjective(Objective):
    """Keep each row's k nearest neighbours close and random rows apart (parametric UMAP).

    Positive pairs are a row and one of its k nearest input-space neighbours;
    negatives are the other rows' positives in the same batch (``n_negatives``
    shuffles), as in parametric UMAP.  The loss is UMAP's fuzzy cross-entropy
    under the kernel ``1 / (1 + a d^(2b))``.  On a table with discrete columns
    (categorical ones, ``layout``, or flags and counts) a third of the neighbours
    are the nearest rows in the continuous columns alone (:func:`mixed_neighbor_graph`).
    """

    def __init__(self, n_neighbors=15, n_negatives=5, layout=None):
        super().__init__()
        self.n_neighbors = n_neighbors
        self.n_negatives = n_negatives
        self.layout = layout
        self.knn = None

    def prepare(self, X, y=None):
        k = min(self.n_neighbors, len(X) - 1)
        if k < 1:
            raise ValueError("The neighbors objective needs at least 2 rows.")
        ind = mixed_neighbor_graph(X.detach().cpu().numpy(), k, getattr(self, "layout", None))  # older pickles
        return LossData(X, knn=torch.tensor(ind, dtype=torch.long, device=X.device))  # a copy: the cache's stays

    def loss(self, encoder, data, idx, reduction="mean"):
        """Mean loss of the anchor rows ``idx``.

        ``encoder`` may return ``(n, k)`` (one network) or ``(P, n, k)`` (a
        population, see :mod:`sknas.training.population`); see
        :func:`reduce_population_loss` for ``reduction``.  Every candidate of a
        population sees the same sampled neighbours and negatives.
        """
        pick = torch.randint(data.knn.shape[1], (len(idx),), device=idx.device)
        pos = data.knn[idx, pick]
        n = len(idx)
        if n == len(data.X):
            # A full batch (every small table): each positive is also an anchor, so embed every row once and
            # pick both ends from it instead of embedding the positives a second time. Half the arithmetic of
            # a step: breast cancer 3.4 -> 2.2 ms, iris 2.3 -> 1.8 ms (docs/speed.md).
            z = encoder(data.X)
            z_i, z_j = z[..., idx, :], z[..., pos, :]
        else:
            z = encoder(data.X[torch.cat([idx, pos])])
            z_i, z_j = z[..., :n, :], z[..., n:, :]
        attract = -torch.log(_umap_q(z_i, z_j) + 1e-8)
        # All negative shuffles in one tensor op, not one op each: on small tables a training step is
        # dominated by per-op overhead, and this made a step 1.5x faster on CPU (docs/speed.md). The
        # permutations are drawn in the same order as one at a time.
        repel = 0.0
        if self.n_negatives:
            perms = torch.stack([torch.randperm(n, device=idx.device) for _ in range(self.n_negatives)])
            z_neg = z_j[..., perms, :]  # (..., n_negatives, n, k)
            repel = -torch.log(1.0 - _umap_q(z_i.unsqueeze(-3), z_neg) + 1e-8).sum(dim=-2)
        return reduce_population_loss(attract + repel, reduction)


def reduce_population_loss(per_row, reduction="mean"):
    """Reduce per-row losses ``(n,)`` or ``(P, n)`` to each candidate's mean.

    ``reduction="mean"``: the mean for one network; for a population the SUM
    over candidates of each candidate's mean, so every candidate's gradient is
    the one it would get alone.  ``"none"``: the per-candidate means, shape
    ``(P,)`` (a 0-d tensor for one network).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
    if per_row.dim() == 1:
        return per_row.mean()
    per_candidate = per_row.mean(dim=-1)
    return per_candidate if reduction == "none" else per_candidate.sum()


def _single_network_only(z, name):
    if z.dim() != 2:
        raise ValueError(f"The {name} objective does not support populations (a {z.dim()}-D embedding); "
                         "train those candidates one at a time with train_candidate.")
    return z


def _umap_q(a, b):
    d2 = ((a - b) ** 2).sum(dim=-1)
    return 1.0 / (1.0 + _UMAP_A * d2.clamp_min(1e-12) ** _UMAP_B)


class ReconstructionObjective(Objective):
    """Autoencoder: a small MLP decoder reconstructs the input from the embedding (MSE)."""

    def __init__(self, n_features, n_outputs, hidden=64):
        super().__init__()
        self.decoder = nn.Sequential(nn.Linear(n_outputs, hidden), nn.ReLU(), nn.Linear(hidden, n_features))

    def loss(self, encoder, data, idx, reduction="mean"):
        x = data.X[idx]
        return F.mse_loss(self.decoder(_single_network_only(encoder(x), "reconstruction")), x)


class ContrastiveObjective(Objective):
    """SCARF-style contrastive learning (Bahri et al. 2022).

    The positive view replaces a random ``corruption`` share of each row's
    features with the same features of random other rows (the empirical
    marginals); InfoNCE over the batch on a projection of the embedding.
    """

    def __init__(self, n_outputs, corruption=0.6, temperature=0.5, hidden=64):
        super().__init__()
        self.corruption = corruption
        self.temperature = temperature
        self.projection = nn.Sequential(nn.Linear(n_outputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden))

    def loss(self, encoder, data, idx, reduction="mean"):
        x = data.X[idx]
        donors = data.X[torch.randint(len(data.X), (len(idx),), device=idx.device)]
        mask = torch.rand(x.shape, device=x.device) < self.corruption
        view = torch.where(mask, donors, x)
        z = _single_network_only(encoder(torch.cat([x, view])), "contrastive")
        h = F.normalize(self.projection(z), dim=1)
        h1, h2 = h[: len(idx)], h[len(idx):]
        logits = h1 @ h2.T / self.temperature
        target = torch.arange(len(idx), device=idx.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class SupervisedObjective(Objective):
    """Predict ``y`` from the embedding: cross-entropy for classes, MSE for continuous targets."""

    def __init__(self, n_outputs, y):
        super().__init__()
        y = np.asarray(y)
        self.task = "regression" if type_of_target(y) in ("continuous", "continuous-multioutput") else "classification"
        if self.task == "classification":
            self.classes = np.unique(y)
            self.predictor = nn.Linear(n_outputs, len(self.classes))
        else:
            self.classes = None
            self.predictor = nn.Linear(n_outputs, 1 if y.ndim == 1 else y.shape[1])

    def prepare(self, X, y=None):
        if y is None:
            raise ValueError("objective='supervised' needs y.")
        y = np.asarray(y)
        if self.task == "classification":
            # Classes unseen in training (possible in a validation split) map to a valid index
            # and only perturb the validation loss, never training.
            codes = np.clip(np.searchsorted(self.classes, y), 0, len(self.classes) - 1)
            targets = torch.as_tensor(codes, dtype=torch.long, device=X.device)
        else:
            targets = torch.as_tensor(y.reshape(len(y), -1).astype(np.float32), device=X.device)
        return LossData(X, targets=targets)

    def loss(self, encoder, data, idx, reduction="mean"):
        out = self.predictor(_single_network_only(encoder(data.X[idx]), "supervised"))
        if self.task == "classification":
            return F.cross_entropy(out, data.targets[idx])
        return F.mse_loss(out, data.targets[idx])
