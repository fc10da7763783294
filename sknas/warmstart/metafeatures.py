"""Meta-features of a table: the numbers that say which earlier dataset a new one resembles.

:func:`metafeatures` describes a table by its size, its mix of column types,
the shape of its numeric columns' distributions and how many dimensions its
rows really span.  The architecture zoo (:mod:`sknas.warmstart.zoo`) stores them beside
every architecture it ships and picks the entries nearest to the data being
fit, in the spirit of auto-sklearn's meta-learning warm start.

Categorical columns (pandas category/object/string columns, or those named by
``categorical_features``) count in the size and the categorical share and
enter the intrinsic-dimension estimates as 0/1 indicator blocks, the encoding
the estimators use; the distribution statistics describe the numeric columns
only.  Everything is deterministic: large tables are subsampled with a fixed
seed.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_array

from ..preprocessing.tabular import MixedRows, categorical_mask, reject_non_numeric_columns, split_mixed

#: The meta-features, in the order :func:`metafeatures` returns them (and the zoo stores them).
METAFEATURES = (
    "log10_rows",            # size
    "log10_columns",
    "categorical_share",     # categorical columns / all columns
    "binary_share",          # numeric columns with exactly two values (flags, hand-made one-hot)
    "mean_abs_skewness",     # numeric columns: asymmetry ...
    "mean_log_kurtosis",     # ... and tails, log(Pearson kurtosis) (0 for a two-point, ~1.1 for a normal)
    "mean_abs_correlation",  # redundancy between numeric columns
    "pca_dim_90_ratio",      # components for 90 % of the variance / encoded columns
    "log2_twonn_dimension",  # TwoNN intrinsic dimension (Facco et al. 2017), log2
)
#: Rows the distribution statistics and the PCA use at most (a fixed random subsample above).
MAX_STAT_ROWS = 5000
#: Rows the TwoNN estimate uses at most (it needs each row's two nearest neighbours).
MAX_TWONN_ROWS = 2000
_SEED = 0


def metafeatures(X, categorical_features="from_dtype"):
    """Meta-features of a table (see :data:`METAFEATURES`).

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        The table as given to an estimator's ``fit``: numeric columns of any
        scale; with a DataFrame, categorical columns of any values.
    categorical_features : {"from_dtype"}, array-like of int or str, bool mask or None, default="from_dtype"
        Which columns are categorical, as the estimators' parameter of that
        name (``"from_dtype"``: pandas category, object and string columns).

    Returns
    -------
    dict
        ``{name: float}`` for every name of :data:`METAFEATURES`, in that
        order.  Statistics of a part the table lacks (no numeric column, one
        row) are 0.

    Raises
    ------
    ValueError
        Non-finite numeric values, fewer than one row, or non-numeric columns
        not declared categorical.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknas.warmstart.metafeatures import metafeatures
    >>> mf = metafeatures(load_iris().data)
    >>> mf["log10_rows"], mf["log10_columns"], mf["categorical_share"]
    (2.1760912590556813, 0.6020599913279624, 0.0)
    >>> round(mf["pca_dim_90_ratio"], 2)  # 2 of 4 standardised components hold 90 % of the variance
    0.5
    """
    numeric, categorical = _split(X, categorical_features)
    n_rows = len(numeric)
    n_numeric, n_categorical = numeric.shape[1], categorical.shape[1]
    n_columns = n_numeric + n_categorical
    if n_rows < 1 or n_columns < 1:
        raise ValueError(f"metafeatures needs at least one row and one column, got shape {(n_rows, n_columns)}.")
    rows = _subsample(n_rows, MAX_STAT_ROWS)
    numeric, categorical = numeric[rows], categorical[rows]
    Z, binary = _standardise(numeric)
    encoded = np.hstack([Z, _indicators(categorical)])
    out = {
        "log10_rows": math.log10(n_rows),
        "log10_columns": math.log10(n_columns),
        "categorical_share": n_categorical / n_columns,
        "binary_share": float(binary.mean()) if n_numeric else 0.0,
        **_distribution_stats(Z),
        "pca_dim_90_ratio": _pca_dimension(encoded, 0.9) / max(encoded.shape[1], 1),
        "log2_twonn_dimension": math.log2(max(twonn_dimension(encoded[:MAX_TWONN_ROWS]), 1.0)),
    }
    return {name: float(out[name]) for name in METAFEATURES}


def twonn_dimension(X):
    """TwoNN intrinsic-dimension estimate (Facco et al. 2017) of the rows of ``X``.

    The ratio ``mu = r2 / r1`` of each row's second to first nearest-neighbour
    distance follows a Pareto law with index ``d`` on a ``d``-dimensional
    manifold; the maximum-likelihood estimate is ``n / sum(log mu)``.
    Duplicate rows (``r1 = 0``) are left out.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    float
        The estimate; 0.0 when fewer than three distinct rows remain.

    Examples
    --------
    >>> import numpy as np
    >>> from sknas.warmstart.metafeatures import twonn_dimension
    >>> plane = np.random.RandomState(0).uniform(size=(1000, 2)) @ np.ones((2, 5))  # rank 1 in 5-D
    >>> round(twonn_dimension(plane))
    1
    """
    X = np.unique(np.asarray(X, dtype=np.float64), axis=0)
    if len(X) < 3:
        return 0.0
    distances, _ = NearestNeighbors(n_neighbors=3).fit(X).kneighbors(X)
    r1, r2 = distances[:, 1], distances[:, 2]
    keep = r1 > 0
    log_mu = np.log(r2[keep] / r1[keep])
    total = log_mu.sum()
    return float(keep.sum() / total) if total > 0 else 0.0


# -- parts ----------------------------------------------------------------------------------------------------
def _split(X, categorical_features):
    """``(numeric float64 rows, categorical str rows)`` of a table, array, DataFrame or :class:`MixedRows`."""
    if isinstance(X, MixedRows):
        return np.asarray(X.numeric, dtype=np.float64), X.categorical
    mask = categorical_mask(X, categorical_features)
    if mask is None:
        reject_non_numeric_columns(X)
        numeric = check_array(X, dtype=np.float64, ensure_min_samples=1)
        return numeric, np.empty((len(numeric), 0), dtype=object)
    rows = split_mixed(X, mask)
    return np.asarray(rows.numeric, dtype=np.float64), rows.categorical


def _subsample(n_rows, most):
    if n_rows <= most:
        return np.arange(n_rows)
    return np.sort(np.random.RandomState(_SEED).choice(n_rows, most, replace=False))


def _standardise(numeric):
    """Z-scores (constant columns -> 0; two-valued ones -> 0/1, as the estimators scale them), two-valued mask."""
    if not numeric.shape[1]:
        return numeric, np.zeros(0, dtype=bool)
    peak = np.abs(numeric).max(axis=0)
    scaled = numeric / np.where(peak > 0, peak, 1.0)  # order-one numbers: no overflow on huge magnitudes
    low, high = scaled.min(axis=0), scaled.max(axis=0)
    std = scaled.std(axis=0)
    binary = ((scaled == low) | (scaled == high)).all(axis=0) & (high > low)
    centre = np.where(binary, low, scaled.mean(axis=0))
    spread = np.where(binary, high - low, np.where(std > 1e-12, std, 1.0))
    return (scaled - centre) / spread, binary


def _indicators(categorical):
    """One 0/1 column per category of every categorical column (the estimators' encoding)."""
    if not categorical.shape[1]:
        return np.empty((len(categorical), 0))
    codes = OrdinalEncoder(dtype=np.int64).fit_transform(categorical)
    blocks = [np.eye(column.max() + 1)[column] for column in codes.T]
    return np.hstack(blocks)


def _distribution_stats(Z):
    """Mean |skewness|, mean log Pearson kurtosis and mean |correlation| of the varying numeric columns."""
    varying = Z[:, Z.std(axis=0) > 1e-12] if Z.shape[1] else Z
    if len(varying) < 2 or not varying.shape[1]:
        return {"mean_abs_skewness": 0.0, "mean_log_kurtosis": 0.0, "mean_abs_correlation": 0.0}
    centred = varying - varying.mean(axis=0)
    var = (centred ** 2).mean(axis=0)
    skew = (centred ** 3).mean(axis=0) / var ** 1.5
    kurtosis = (centred ** 4).mean(axis=0) / var ** 2  # Pearson's: >= 1, 3 for a normal
    if varying.shape[1] > 1:
        corr = np.corrcoef(varying, rowvar=False)
        correlation = np.abs(corr[np.triu_indices_from(corr, k=1)]).mean()
    else:
        correlation = 0.0
    return {"mean_abs_skewness": float(np.abs(skew).mean()),
            "mean_log_kurtosis": float(np.log(kurtosis).mean()),
            "mean_abs_correlation": float(correlation)}


def _pca_dimension(encoded, share):
    """Principal components needed for ``share`` of the variance of the (standardised, encoded) rows."""
    if len(encoded) < 2 or not encoded.shape[1]:
        return 0
    singular = np.linalg.svd(encoded - encoded.mean(axis=0), compute_uv=False)
    variance = singular ** 2
    if variance.sum() <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(variance) / variance.sum(), share - 1e-12) + 1)
