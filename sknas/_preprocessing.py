"""Input checks and the internal standardisation every estimator applies."""

from __future__ import annotations

import numpy as np


def reject_non_numeric_columns(X):
    """Raise a clear error for DataFrame columns that are not numeric.

    Categorical support arrives with issue 6; until then a string or category
    column is an error that names the columns, not numpy's "could not convert".
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    bad = [str(col) for col, dtype in zip(X.columns, dtypes) if not _is_numeric_dtype(dtype)]
    if bad:
        raise ValueError(
            f"Non-numeric columns are not supported yet: {bad}. Encode them first "
            "(e.g. sklearn.preprocessing.OneHotEncoder in a ColumnTransformer) or drop them."
        )


def _is_numeric_dtype(dtype):
    try:
        return np.issubdtype(np.dtype(dtype), np.number) or np.issubdtype(np.dtype(dtype), np.bool_)
    except TypeError:  # pandas extension dtypes (category, string, nullable Int64, ...)
        return getattr(dtype, "kind", "O") in "biuf"


class Standardizer:
    """Per-column centring and scaling that survives huge magnitudes.

    Columns are first divided by their largest absolute value, so that the
    mean and variance are computed on numbers of order one: ``StandardScaler``
    on values near 1e300 overflows to inf.  Constant columns get scale 1 and
    become zeros.
    """

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        peak = np.abs(X).max(axis=0)
        self.peak_ = np.where(peak > 0, peak, 1.0)
        Xp = X / self.peak_
        self.mean_ = Xp.mean(axis=0)
        std = Xp.std(axis=0)
        # A column whose spread is round-off of its magnitude is constant.
        self.std_ = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(self, X):
        Z = ((np.asarray(X, dtype=np.float64) / self.peak_) - self.mean_) / self.std_
        # C order: torch's matmul rounds differently on a transposed layout, and
        # transform must not depend on whether X came from pandas or numpy.
        return np.ascontiguousarray(Z, dtype=np.float32)
