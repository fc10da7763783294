"""Label-free scoring of a candidate feature map on the search's scoring rows.

A search estimator embeds the scoring rows (the validation split, topped up
with training rows when it is small: sknas.config's ``score_max_rows``) with each candidate network,
then asks :func:`score_embedding` how well KMeans can segment that embedding.
Every score is "higher is better", and every embedding first goes through the
collapse guard (:func:`detect_collapse`), because the cluster indices used
here are all maximised by a network that maps its input onto a few points.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from ..space.discriminant import shrinkage_lda_projection

__all__ = [
    "SCORINGS",
    "AUTO_SCORING",
    "resolve_scoring",
    "CandidateScore",
    "score_embedding",
    "detect_collapse",
    "neighbor_preservation",
    "separability",
]

SCORINGS = (
    "silhouette",
    "silhouette+separability",
    "discriminability+separability",
    "calinski_harabasz",
    "davies_bouldin",
    "stability",
    "validation_loss",
)

#: What ``scoring="auto"`` means. Evidence (``benchmarks/results/selection_random.md`` and
#: ``selection_evo.md``, 3 seeds): across the candidates of random and evolutionary searches on iris,
#: wine, breast cancer, digits and ``make_customers``, the silhouette in the embedding alone had mean
#: Kendall tau +0.30 / +0.34 with true ARI, its mean with the held-out separability +0.41 / +0.47; the
#: candidate each picks had validation ARI 0.673 / 0.670 against 0.709 / 0.715. In the full harness
#: (``quality_default.md``, 5 seeds) every search's mean ARI rose or held (random 0.681 -> 0.713,
#: DARTS 0.730 -> 0.731, evolution 0.677 -> 0.724).
AUTO_SCORING = "silhouette+separability"


def resolve_scoring(scoring):
    """The scoring a search uses: ``"auto"`` becomes :data:`AUTO_SCORING`, anything else is kept."""
    return AUTO_SCORING if isinstance(scoring, str) and scoring == "auto" else scoring


# --- Collapse-guard thresholds -------------------------------------------
# The guard only rejects embeddings that are degenerate beyond doubt: a
# rejected candidate can never win, so a false alarm is far more costly than
# a mildly bad embedding slipping through to be ranked by its score.

# Total variance / mean squared norm. Below 1e-10 the rows differ by less
# than ~1e-5 of their magnitude, i.e. a few hundred float32 ulps: the map
# is constant up to rounding noise.
_NEAR_CONSTANT_RTOL = 1e-10

# Rows closer than this fraction of the embedding's spread count as the same
# row. 1e-6 is far below any real cluster structure yet above float32
# round-off of centred coordinates.
_DISTINCT_ROW_RTOL = 1e-6

# A KMeans group smaller than 2% of its fair share n / k (and at least 2
# rows) is "trivial": it is a centroid spent on a few outliers, e.g. rows the
# network blew up to huge activations. A few trivial groups are normal (raw
# digits with k=10 has a singleton outlier cluster), so only an embedding
# with fewer than two non-trivial groups (one blob plus outliers) is
# rejected; the spread-ratio check below catches the k-point collapse.
_MIN_GROUP_SHARE = 0.02

# Mean distance of rows to their KMeans centroid / mean distance between
# centroids (scale-free). Measured references (KMeans, k = 4..16): t-SNE of
# the digits data 0.10-0.36; make_blobs with std 1 about 0.2-0.25; an
# unrealistically tight make_blobs (std 0.05, centres ~20 apart) 0.013. A map
# squeezed onto k points with 1e-6 noise gives ~1e-7 to 3e-7. At 1e-3 rows
# sit, on average, within a thousandth of the inter-centroid distance of
# their centroid: clusters are single points for every practical purpose,
# the regime where silhouette -> 1 whatever the segmentation means. That is
# >10x below the tightest honest embedding measured and >100x below t-SNE.
_POINT_COLLAPSE_RATIO = 1e-3

_N_NEIGHBORS = 10
_N_STABILITY_SPLITS = 5


@dataclass(frozen=True)
class CandidateScore:
    """Outcome of scoring one candidate embedding.

    Attributes
    ----------
    score : float
        Higher is better. ``-inf`` when the candidate is invalid.
    valid : bool
        False when the embedding is degenerate or the score could not be
        computed; such a candidate must never be selected.
    reason : str or None
        Why the candidate is invalid, ``None`` when valid.
    details : dict
        Raw index values that were computed (e.g. the positive
        Davies-Bouldin index before negation) and the collapse diagnostics.
    """

    score: float
    valid: bool
    reason: str | None
    details: dict = field(default_factory=dict)


def _invalid(reason, details):
    return CandidateScore(score=-math.inf, valid=False, reason=reason,
                          details=details)


def _effective_n_clusters(n_clusters, n_rows, X=None):
    # KMeans-based indices need 2 <= k <= n - 1 (silhouette is undefined
    # for k == n), so clip rather than fail on tiny validation splits. The
    # same holds for distinct input rows: a map cannot create more distinct
    # points than X has, and asking for that many clusters would flag every
    # candidate as collapsed.
    upper = n_rows - 1
    if X is not None:
        upper = min(upper, _n_distinct_rows(X) - 1)
    return int(max(2, min(int(n_clusters), upper)))


def _fit_kmeans(Z, n_clusters, seed):
    # Degenerate embeddings make KMeans warn about duplicate points; the
    # guard reports that case itself, so the warning is only noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(n_clusters, n_init=3, random_state=seed).fit(Z)


def _n_distinct_rows(A):
    centred = A - A.mean(axis=0)
    spread = np.sqrt(centred.var(axis=0).sum())
    if spread == 0:
        return 1
    grid = np.round(centred / (spread * _DISTINCT_ROW_RTOL))
    return int(np.unique(grid, axis=0).shape[0])


def _spread_ratio(Z, labels, centers):
    within = np.linalg.norm(Z - centers[labels], axis=1).mean()
    i, j = np.triu_indices(len(centers), k=1)
    between = np.linalg.norm(centers[i] - centers[j], axis=1).mean()
    return float(within / between) if between > 0 else 0.0


def _collapse_checks(Z, n_clusters, seed):
    """Run the guard; return ``(reason or None, diagnostics, kmeans)``."""
    diag = {}
    n_bad = int(np.size(Z) - np.count_nonzero(np.isfinite(Z)))
    if n_bad:
        return f"embedding has {n_bad} non-finite values", diag, None

    # Relative to the mean squared norm, so a constant far from the origin
    # (e.g. saturated sigmoids) counts as constant too.
    total_var = float(Z.var(axis=0).sum())
    power = float(np.mean(np.sum(Z * Z, axis=1)))
    rel_var = total_var / power if power > 0 else 0.0
    diag["relative_variance"] = rel_var
    if rel_var <= _NEAR_CONSTANT_RTOL:
        return f"embedding is near-constant (relative variance {rel_var:.3g})", diag, None

    n_distinct = _n_distinct_rows(Z)
    diag["n_distinct_rows"] = n_distinct
    if n_distinct < n_clusters:
        return (f"embedding has only {n_distinct} distinct rows for "
                f"{n_clusters} clusters"), diag, None

    km = _fit_kmeans(Z, n_clusters, seed)
    sizes = np.bincount(km.labels_, minlength=n_clusters)
    min_size = max(2, _MIN_GROUP_SHARE * len(Z) / n_clusters)
    n_groups = int(np.sum(sizes >= min_size))
    diag["n_nontrivial_groups"] = n_groups
    if n_groups < 2:
        return (f"KMeans finds only {n_groups} non-trivial groups (>= "
                f"{min_size:.0f} rows) for {n_clusters} clusters"), diag, km

    ratio = _spread_ratio(Z, km.labels_, km.cluster_centers_)
    diag["spread_ratio"] = ratio
    if ratio < _POINT_COLLAPSE_RATIO:
        return (f"embedding collapsed onto point-like clusters (within/between "
                f"spread ratio {ratio:.3g} < {_POINT_COLLAPSE_RATIO:g})"), diag, km
    return None, diag, km


def _as_2d_float(A, name):
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_features), got shape {A.shape}")
    return A


def _subsample(n_rows, max_samples, rng):
    if n_rows <= max_samples:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_samples, replace=False))


def _prepare(Z, X, max_samples, rng):
    Z = _as_2d_float(Z, "Z")
    if Z.shape[0] < 3:
        raise ValueError(f"need at least 3 rows to score an embedding, got {Z.shape[0]}")
    if max_samples < 3:
        raise ValueError(f"max_samples must be >= 3, got {max_samples}")
    idx = _subsample(Z.shape[0], max_samples, rng)
    if X is not None:
        X = _as_2d_float(X, "X")
        if X.shape[0] != Z.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Z has {Z.shape[0]}")
        if not np.isfinite(X).all():
            # X is data, not the candidate's output: a caller error.
            raise ValueError("X contains non-finite values")
        X = X[idx]
    return Z[idx], X


def detect_collapse(Z, n_clusters, X=None, *, random_state=None, max_samples=2000):
    """Tell whether an embedding is too degenerate to be scored.

    Checks, in order: non-finite values; near-constant embedding; fewer
    distinct rows than clusters; KMeans finding fewer non-trivial groups
    than clusters; rows squeezed onto about ``n_clusters`` points (mean
    within-cluster distance below 1e-3 of the mean centroid distance).

    Parameters
    ----------
    Z : array-like of shape (n_rows, n_dims)
        Embedding of the validation split.
    n_clusters : int
        Number of clusters; clipped to ``[2, n_rows - 1]``.
    X : array-like of shape (n_rows, n_features), default=None
        Input rows. When given, ``n_clusters`` is also clipped to one less
        than the number of distinct rows of ``X`` (no map can separate
        rows that are identical in the input).
    random_state : int, RandomState instance or None, default=None
        Seeds subsampling and KMeans.
    max_samples : int, default=2000
        Rows used at most (seeded subsample).

    Returns
    -------
    reason : str or None
        Why the embedding is degenerate, or ``None`` if it is usable.

    Examples
    --------
    >>> import numpy as np
    >>> detect_collapse(np.zeros((50, 3)), n_clusters=4)
    'embedding is near-constant (relative variance 0)'
    >>> rng = np.random.default_rng(0)
    >>> detect_collapse(rng.normal(size=(50, 3)), n_clusters=4, random_state=0) is None
    True
    """
    rng = check_random_state(random_state)
    Z, X = _prepare(Z, X, max_samples, rng)
    k = _effective_n_clusters(n_clusters, Z.shape[0], X)
    reason, _, _ = _collapse_checks(Z, k, rng.randint(np.iinfo(np.int32).max))
    return reason


def neighbor_preservation(Z, X, n_neighbors=_N_NEIGHBORS):
    """Mean fraction of each row's nearest neighbours in X kept in Z.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_dims)
        Embedding.
    X : ndarray of shape (n_rows, n_features)
        Input rows.
    n_neighbors : int, default=10
        Neighbourhood size; clipped to ``n_rows - 1``.

    Returns
    -------
    float
        In [0, 1]; 1 means every neighbourhood is preserved.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 4))
    >>> neighbor_preservation(X * 3.0, X)
    1.0
    """
    k = min(n_neighbors, len(Z) - 1)
    # kneighbors() without a query excludes each row itself, even when it
    # has exact duplicates.
    nx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(return_distance=False)
    nz = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)
    shared = (nx[:, :, None] == nz[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(shared / k))


def separability(X, labels, n_folds=2):
    """Held-out linear discriminability of a partition of the input rows ``X``.

    The partition a candidate induces (its KMeans labels) is judged in the
    input space, which every candidate shares: a shrinkage LDA fitted on the
    labels of one fold projects the other fold, whose silhouette under its
    labels is the score (averaged over folds).  Held out, because on few rows
    and many columns any partition is separable in-sample.  The folds are the
    same for every candidate (fixed seed), so scores compare.

    This judges the partition, not the embedding's geometry, so it does not
    reward a map for squeezing its clusters tight (which the silhouette in the
    embedding does); it favours partitions a linear map can express, which
    the embedding silhouette does not.  Hence it is used beside it, never alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised input rows.
    labels : ndarray of shape (n_samples,)
    n_folds : int, default=2

    Returns
    -------
    float
        In [-1, 1]; -1 when the partition cannot be judged (a fold holds one cluster).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 3)), rng.normal(6, 1, (50, 3))])
    >>> good = np.repeat([0, 1], 50); arbitrary = rng.randint(2, size=100)
    >>> separability(X, good) > 0.5 > separability(X, arbitrary)
    True
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    folds = np.array_split(np.random.RandomState(0).permutation(len(labels)), n_folds)
    values = []
    for i, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        n_test_labels = len(np.unique(labels[test]))
        if len(np.unique(labels[train])) < 2 or not 2 <= n_test_labels < len(test):
            return -1.0
        try:
            with warnings.catch_warnings():  # a one-row cluster makes the covariance estimators warn
                warnings.simplefilter("ignore", UserWarning)
                projected = shrinkage_lda_projection(X[train], labels[train], X[test])
            values.append(silhouette_score(projected, labels[test]))
        except (np.linalg.LinAlgError, ValueError):  # too few rows per cluster for a covariance
            return -1.0
    return float(np.mean(values))


def _stability(Z, n_clusters, rng):
    """Mean pairwise ARI of KMeans fits on random half-splits, all rows predicted."""
    n = len(Z)
    size = min(n, max(math.ceil(n / 2), n_clusters + 1))
    labelings = []
    for _ in range(_N_STABILITY_SPLITS):
        rows = rng.choice(n, size=size, replace=False)
        km = _fit_kmeans(Z[rows], n_clusters, rng.randint(np.iinfo(np.int32).max))
        labelings.append(km.predict(Z))
    return float(np.mean([adjusted_rand_score(a, b)
                          for a, b in combinations(labelings, 2)]))


def _geometric_score(scoring, Z, labels, n_clusters, rng):
    """Return ``(score, raw_index)`` for a built-in label-free scoring."""
    if scoring == "silhouette":
        raw = silhouette_score(Z, labels)
        return raw, raw
    if scoring == "calinski_harabasz":
        raw = calinski_harabasz_score(Z, labels)
        return raw, raw
    if scoring == "davies_bouldin":
        raw = davies_bouldin_score(Z, labels)
        return -raw, raw
    raw = _stability(Z, n_clusters, rng)
    return raw, raw


def _check_scoring(scoring, validation_loss, X):
    if callable(scoring):
        return
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}; expected a callable or "
                         f"one of {', '.join(SCORINGS)}")
    if scoring == "validation_loss" and validation_loss is None:
        raise ValueError("scoring='validation_loss' requires the validation_loss argument")
    if scoring in ("silhouette+separability", "discriminability+separability") and X is None:
        raise ValueError(f"scoring={scoring!r} requires the input rows X")


def _score_after_guard(scoring, Z, km, k, validation_loss, rng, details):
    if callable(scoring):
        try:
            value = float(scoring(Z))
        except Exception as exc:  # any failure only disqualifies this candidate
            return _invalid(f"scoring callable raised {type(exc).__name__}: {exc}", details)
        details["callable"] = value
    elif scoring == "validation_loss":
        value = -float(validation_loss)
        details["validation_loss"] = float(validation_loss)
    elif scoring == "silhouette+separability":
        # Two silhouettes of the same partition, both in [-1, 1]: in the candidate's own embedding
        # (rewards tight clusters, whatever made them) and held out in the shared input space
        # (rewards partitions the data supports linearly). Each corrects the other's bias.
        silhouette = float(silhouette_score(Z, km.labels_))
        details["silhouette"] = silhouette
        value = (silhouette + details["separability"]) / 2.0
    elif scoring == "discriminability+separability":
        # The same held-out judgement twice: in the candidate's own embedding and in the shared input.
        # The own-space silhouette it replaces favoured the LDA map by construction (the map whitens the
        # scatter of the very clusters it is judged on); here every candidate's space is whitened by its own
        # clusters' scatter, on rows the projection was not fitted to (docs/selection.md).
        discriminability = separability(Z, km.labels_)
        details["discriminability"] = discriminability
        value = (discriminability + details["separability"]) / 2.0
    else:
        value, raw = _geometric_score(scoring, Z, km.labels_, k, rng)
        value, details[scoring] = float(value), float(raw)
    if not math.isfinite(value):
        return _invalid(f"{scoring if isinstance(scoring, str) else 'callable'} "
                        f"score is not finite ({value})", details)
    return CandidateScore(score=value, valid=True, reason=None, details=details)


def score_embedding(Z, *, scoring="silhouette", n_clusters=8, X=None,
                    validation_loss=None, random_state=None, max_samples=2000):
    """Score a candidate embedding of the validation split, higher is better.

    The embedding first goes through :func:`detect_collapse`; a degenerate
    one gets ``valid=False`` and ``score=-inf`` whatever the scoring.
    Otherwise KMeans (``n_init=3``) is fitted on ``Z`` and scored.

    Silhouette, Calinski-Harabasz and Davies-Bouldin are invariant to a
    uniform rescaling (and translation) of ``Z``; that is what makes them
    comparable across feature maps whose outputs live on different scales.
    Stability (mean pairwise ARI) is invariant too.

    Parameters
    ----------
    Z : array-like of shape (n_rows, n_dims)
        Embedding of the validation split.
    scoring : str or callable, default="silhouette"
        One of :data:`SCORINGS`, or a callable ``f(Z) -> float`` (higher
        better). ``"davies_bouldin"`` and ``"validation_loss"`` are negated.
        ``"stability"`` is the mean pairwise adjusted Rand index of KMeans
        fitted on 5 random half-splits and predicted on all rows.
        ``"silhouette+separability"`` averages the silhouette in ``Z`` with
        :func:`separability` in ``X``; ``"discriminability+separability"``
        averages :func:`separability` in ``Z`` (the candidate's own space,
        judged held out and whitened by its clusters' scatter) with the one in
        ``X``. Both need ``X``.
    n_clusters : int, default=8
        Clusters for KMeans; clipped to ``[2, n_rows - 1]`` (and, with
        ``X``, to one less than the distinct rows of ``X``).
    X : array-like of shape (n_rows, n_features), default=None
        Standardised input rows of the same split. Enables the
        ``neighbor_preservation`` diagnostic (not used for selection).
    validation_loss : float, default=None
        Required for ``scoring="validation_loss"``.
    random_state : int, RandomState instance or None, default=None
        Seeds subsampling, KMeans and stability splits. Global RNGs are
        never touched.
    max_samples : int, default=2000
        Rows used at most (seeded subsample without replacement).

    Returns
    -------
    CandidateScore

    Raises
    ------
    ValueError
        Unknown scoring name, missing ``validation_loss``, or bad shapes.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> Z, _ = make_blobs(300, centers=3, random_state=0)
    >>> res = score_embedding(Z, n_clusters=3, random_state=0)
    >>> res.valid, bool(0.0 < res.score <= 1.0)
    (True, True)
    >>> score_embedding(Z * 0.0, n_clusters=3).valid
    False
    """
    _check_scoring(scoring, validation_loss, X)
    rng = check_random_state(random_state)
    Z, X = _prepare(Z, X, max_samples, rng)
    k = _effective_n_clusters(n_clusters, Z.shape[0], X)
    details = {"n_rows": int(Z.shape[0]), "n_clusters": k}
    reason, diag, km = _collapse_checks(Z, k, rng.randint(np.iinfo(np.int32).max))
    details.update(diag)
    if X is not None and np.isfinite(Z).all():
        details["neighbor_preservation"] = neighbor_preservation(Z, X)
    if reason is not None:
        return _invalid(reason, details)
    if X is not None:
        details["separability"] = separability(X, km.labels_)
    return _score_after_guard(scoring, Z, km, k, validation_loss, rng, details)
