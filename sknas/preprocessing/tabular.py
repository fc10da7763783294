"""Input checks and the internal encoding every estimator applies.

Numeric columns are standardised (:class:`Standardizer`).  Categorical
columns (``categorical_features``) are ordinal-coded with the categories seen
at fit and written as one 0/1 indicator block per column after the numeric
columns (:class:`TabularEncoder`).  The feature network reads each block back
as a code and looks it up in a learned embedding
(:class:`sknas.space.categorical.CategoricalEmbedding`), so the embedding is
what the network trains on; the rest of the library only ever sees one numeric
matrix, which is what the fixed maps, the objectives and the scores need.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.stats
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_array, validate_data

from ..config import get_config
from ..space.categorical import CategoricalLayout

#: The category that missing values (None, NaN, pd.NA) of a categorical column form.
MISSING_CATEGORY = "<missing>"
#: The hot entry of a categorical column's indicator block: 1/sqrt(2), so that two rows in different
#: categories are at squared distance 1 -- what a 0/1 flag column (:class:`Standardizer`) puts between
#: its two values. With 1.0, a yes/no column given as strings weighed twice the same column given as 0/1,
#: and its gap-with-nothing-between made it the split KMeans and the silhouette lock onto (docs/selection.md).
INDICATOR_VALUE = float(np.sqrt(0.5))


def reject_non_numeric_columns(X):
    """Raise a clear error for DataFrame columns that are not numeric, naming them."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    bad = [str(col) for col, dtype in zip(X.columns, dtypes) if not _is_numeric_dtype(dtype)]
    if bad:
        raise ValueError(
            f"Non-numeric columns {bad} are not declared categorical. Pass categorical_features (a list of "
            "column names or indices, or 'from_dtype' for category/object/string dtypes) to embed them, "
            "or encode or drop them first."
        )


def _is_numeric_dtype(dtype):
    try:
        return np.issubdtype(np.dtype(dtype), np.number) or np.issubdtype(np.dtype(dtype), np.bool_)
    except TypeError:  # pandas extension dtypes (category, string, nullable Int64, ...)
        return getattr(dtype, "kind", "O") in "biuf"


def _is_categorical_dtype(dtype):
    """category, object and string dtypes (what ``categorical_features="from_dtype"`` embeds)."""
    name = str(getattr(dtype, "name", dtype))
    return name == "category" or name == "object" or name.startswith("string") or name == "str"


# -- which columns are categorical -------------------------------------------------------------------------
def categorical_mask(X, categorical_features):
    """Boolean mask of the categorical columns of ``X``, or None when there are none.

    ``categorical_features`` is ``None`` (none), ``"from_dtype"`` (pandas
    category/object/string columns; a plain array has none), an array-like of
    column indices or names, or a boolean mask.
    """
    if categorical_features is None or sp.issparse(X):
        return None
    columns = getattr(X, "columns", None)
    if isinstance(categorical_features, str):  # "from_dtype"; the parameter constraints allow no other string
        if columns is None:
            return None
        mask = np.array([_is_categorical_dtype(d) for d in X.dtypes], dtype=bool)
        return mask if mask.any() else None
    n_features = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
    if n_features is None:
        return None  # 1-D or odd input: the numeric path reports it
    given = np.asarray(categorical_features)
    if given.size == 0:
        return None
    if given.dtype.kind == "b":
        if given.shape != (n_features,):
            raise ValueError(f"categorical_features as a boolean mask needs {n_features} entries (one per "
                             f"column), got shape {given.shape}.")
        mask = given.astype(bool)
    elif given.dtype.kind in "iu":
        if given.ndim != 1 or given.min() < -n_features or given.max() >= n_features:
            raise ValueError(f"categorical_features indices must be in [0, {n_features}), got {given.tolist()}.")
        mask = np.zeros(n_features, dtype=bool)
        mask[given] = True
    elif given.dtype.kind in "UO":
        if columns is None:
            raise ValueError("categorical_features names columns, which needs X to be a pandas DataFrame "
                             "(with string column names); pass column indices for arrays.")
        names = [str(c) for c in columns]
        unknown = [str(g) for g in given.ravel() if str(g) not in names]
        if unknown:
            raise ValueError(f"categorical_features names columns {unknown} that X does not have; "
                             f"its columns are {names}.")
        mask = np.isin(names, [str(g) for g in given.ravel()])
    else:
        raise ValueError("categorical_features must be None, 'from_dtype', column indices, column names "
                         f"or a boolean mask; got {categorical_features!r}.")
    return mask if mask.any() else None


# -- the rows of a mixed-type table -------------------------------------------------------------------------
class MixedRows:
    """Validated rows of a table with categorical columns: a float numeric part and a str categorical part.

    Supports what the estimators do with a numeric array: ``len``, row
    slicing and ``dtype`` (the numeric part's: float32 when every numeric
    column is float32, float64 otherwise).
    """

    def __init__(self, numeric, categorical):
        self.numeric = numeric
        self.categorical = categorical

    def __len__(self):
        return len(self.numeric)

    def __getitem__(self, rows):
        return MixedRows(self.numeric[rows], self.categorical[rows])

    @property
    def dtype(self):
        return self.numeric.dtype

    ndim = 2

    @property
    def shape(self):
        return (len(self.numeric), self.numeric.shape[1] + self.categorical.shape[1])

    def __array__(self, dtype=None, copy=None):
        """Numeric then categorical columns as one object array (for hashing and inspection)."""
        out = np.hstack([self.numeric.astype(object), self.categorical])
        return out if dtype is None else out.astype(dtype)


def _column(X, j):
    return X.iloc[:, j].to_numpy(dtype=object) if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, j]


def _as_category_strings(values):
    """Object column -> str codes; missing values (None, NaN, pd.NA, NaT) become their own category."""
    import pandas as pd

    out = np.empty(len(values), dtype=object)
    missing = pd.isna(values)
    out[missing] = MISSING_CATEGORY
    out[~missing] = [str(v) for v in values[~missing]]
    return out


def check_mixed_input(estimator, X, mask, *, reset, ensure_min_samples=1):
    """Validate a table with categorical columns (mask) into :class:`MixedRows`.

    Column names and counts follow scikit-learn's conventions
    (``feature_names_in_``, ``n_features_in_``; checked at transform).
    Numeric columns follow the numeric rules (finite, float); categorical
    columns accept any values, missing ones forming their own category.
    """
    if sp.issparse(X):
        raise TypeError("Sparse data was passed, but dense data is required: categorical columns need a "
                        "DataFrame or a 2-D array.")
    validate_data(estimator, X, skip_check_array=True, reset=reset)  # names and column count only
    return split_mixed(X, mask, ensure_min_samples)


def split_mixed(X, mask, ensure_min_samples=1):
    """:class:`MixedRows` of ``X``: the numeric columns checked as floats, the ``mask`` columns as str."""
    shape = getattr(X, "shape", None) or np.asarray(X, dtype=object).shape
    if len(shape) != 2:
        raise ValueError(f"Expected 2D input, got {len(shape)}D; reshape your data.")
    n_rows = shape[0]
    if n_rows < ensure_min_samples:
        raise ValueError(f"Found array with {n_rows} sample(s) (shape={tuple(shape)}) while a minimum of "
                         f"{ensure_min_samples} is required.")
    numeric_idx, categorical_idx = np.flatnonzero(~mask), np.flatnonzero(mask)
    if len(numeric_idx):
        part = X.iloc[:, numeric_idx] if hasattr(X, "iloc") else np.asarray(X, dtype=object)[:, numeric_idx]
        reject_non_numeric_columns(part)
        numeric = check_array(part, dtype=[np.float64, np.float32], ensure_min_samples=ensure_min_samples)
    else:
        numeric = np.empty((n_rows, 0), dtype=np.float64)
    categorical = np.empty((n_rows, len(categorical_idx)), dtype=object)
    for out_col, j in enumerate(categorical_idx):
        categorical[:, out_col] = _as_category_strings(_column(X, j))
    return MixedRows(numeric, categorical)


# -- the encoding ------------------------------------------------------------------------------------------------
class Standardizer:
    """Per-column centring and scaling that survives huge magnitudes.

    Columns are first divided by their largest absolute value, so that the
    mean and variance are computed on numbers of order one: ``StandardScaler``
    on values near 1e300 overflows to inf.  Constant columns get scale 1 and
    become zeros.

    A column with exactly two values (a flag, or one-hot columns the user
    encoded) becomes 0/1 instead: standardised, a rare value becomes
    ``sqrt((1 - p) / p)`` (3 at p = 0.1), such columns swamp the numeric ones,
    and the searches then learn maps that split rows by flag combinations.
    Measured on ``make_customers`` with its two categorical columns one-hot
    encoded by hand (RandomFeatureSearch, seeds 0 and 1): ARI 0.004 and 0.004
    standardised, 0.424 and 0.282 as 0/1.  0/1 is also how the native
    categorical encoding (:class:`TabularEncoder`) feeds indicators.

    With ``deskew_skewness`` finite (off by default), a strongly skewed
    column (more than two values, ``|skewness| > deskew_skewness``) is
    standardised, passed through a Yeo-Johnson power transform with its
    maximum-likelihood exponent, and standardised again: a long tail (spend,
    counts, concentrations) otherwise puts most rows in a narrow band and lets
    a few far rows decide the distances the fixed maps, the scores and the
    neighbour graph see. It helps KMeans on the columns but ties end to end
    after a search (``docs/selection.md``, "Skewed columns").

    Parameters
    ----------
    deskew_skewness : float or None, default=None
        The skewness above which a column is power-transformed; None reads
        :mod:`sknas.config`'s ``deskew_skewness`` at fit, ``math.inf`` never
        transforms (plain standardisation).
    """

    #: No categorical columns: the network reads the columns as they are.
    layout = None

    def __init__(self, deskew_skewness=None):
        self.deskew_skewness = deskew_skewness

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        peak = np.abs(X).max(axis=0)
        self.peak_ = np.where(peak > 0, peak, 1.0)
        Xp = X / self.peak_
        self.mean_ = Xp.mean(axis=0)
        std = Xp.std(axis=0)
        # A column whose spread is round-off of its magnitude is constant.
        self.std_ = np.where(std > 1e-12, std, 1.0)
        low, high = Xp.min(axis=0), Xp.max(axis=0)
        # every value is the column's minimum or maximum (one pass, no sort: cheap on millions of rows)
        two_valued = ((Xp == low) | (Xp == high)).all(axis=0) & (std > 1e-12)
        self.mean_ = np.where(two_valued, low, self.mean_)  # the lower value -> 0, the upper -> 1
        self.std_ = np.where(two_valued, high - low, self.std_)
        threshold = get_config()["deskew_skewness"] if self.deskew_skewness is None else self.deskew_skewness
        varying = ~two_valued & (std > 1e-12)
        self.power_ = _power_transforms((Xp - self.mean_) / self.std_, varying, threshold) \
            if np.isfinite(threshold) and varying.any() else {}
        return self

    def transform(self, X, handle_unknown="error"):
        """Standardised float32 rows (``handle_unknown`` is unused: no categories, nothing unseen)."""
        Z = ((np.asarray(X, dtype=np.float64) / self.peak_) - self.mean_) / self.std_
        for j, (exponent, mean, std) in getattr(self, "power_", {}).items():  # getattr: saved before deskewing
            Z[:, j] = (scipy.stats.yeojohnson(Z[:, j], exponent) - mean) / std
        # C order: torch's matmul rounds differently on a transposed layout, and
        # transform must not depend on whether X came from pandas or numpy.
        return np.ascontiguousarray(Z, dtype=np.float32)


#: Rows the skewness and the power exponent of a column are estimated on at most (a seeded subset beyond):
#: both are means over rows, which a few thousand pin down, and the exponent's search costs a pass per step.
DESKEW_MAX_ROWS = 10_000
#: The exponent's bounds: beyond them the transform is driven by a handful of extreme rows.
DESKEW_EXPONENT_BOUNDS = (-3.0, 5.0)


def _power_transforms(Z, varying, threshold):
    """``{column: (exponent, mean, std)}`` of Yeo-Johnson transforms for the standardised columns of ``Z`` whose
    skewness exceeds ``threshold`` in absolute value (among ``varying``), and the moments of the result."""
    rows = Z if len(Z) <= DESKEW_MAX_ROWS else \
        Z[np.random.default_rng(0).choice(len(Z), DESKEW_MAX_ROWS, replace=False)]
    skewness = np.where(varying, (rows ** 3).mean(axis=0), 0.0)
    power = {}
    for j in np.flatnonzero(np.abs(skewness) > threshold):
        with np.errstate(all="ignore"):
            exponent = float(np.clip(scipy.stats.yeojohnson_normmax(rows[:, j]), *DESKEW_EXPONENT_BOUNDS))
            moved = scipy.stats.yeojohnson(Z[:, j], exponent)
        spread = moved.std()
        if np.isfinite(moved).all() and spread > 1e-12:
            power[int(j)] = (exponent, float(moved.mean()), float(spread))
    return power


class TabularEncoder:
    """:class:`MixedRows` -> ``[standardised numeric | one 0/1 indicator block per categorical column]``.

    Why indicator blocks (one-hot) rather than codes in the shared matrix:
    the fixed maps (identity, LDA), the label-free scores and the k-NN graph
    of the ``neighbors`` objective need rows with a meaningful distance.
    Ordinal codes would invent an order between categories; standardised
    one-hot columns would give a rare category a huge value
    (``sqrt((1 - p) / p)``) that swamps the numeric columns.  Plain 0/1
    indicators make two rows that differ in a categorical column as far apart
    (squared distance 1) as two rows that differ in a 0/1 flag column.  The
    network does not read the indicators as numbers: it turns each block back
    into a code and embeds it.

    An unseen category at transform is an error naming the column and the
    values (``handle_unknown="error"``) or an all-zero block
    (``"ignore"``), which the network maps to its reserved "unknown"
    embedding row (zeros, never trained).

    The hot entry is :data:`INDICATOR_VALUE` (1/sqrt(2)), not 1: a category
    change then costs squared distance 1, as a 0/1 flag column's change does.
    """

    def __init__(self, feature_names):
        self.feature_names = feature_names  # of the categorical columns, for error messages

    def fit(self, X):
        self.numeric_ = Standardizer().fit(X.numeric)
        self.ordinal_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.int64)
        self.ordinal_.fit(X.categorical)
        self.layout = CategoricalLayout(X.numeric.shape[1], tuple(len(c) for c in self.ordinal_.categories_))
        return self

    def transform(self, X, handle_unknown="error"):
        codes = self.ordinal_.transform(X.categorical)
        if handle_unknown == "error" and (codes < 0).any():
            raise ValueError(f"Unseen categories at transform: {self._unseen(X.categorical, codes)}. "
                             "Pass handle_unknown='ignore' to map them to the reserved unknown embedding.")
        out = np.zeros((len(X), self.layout.n_encoded), dtype=np.float32)
        out[:, :self.layout.n_numeric] = self.numeric_.transform(X.numeric)
        for start, column in zip(self.layout.offsets, codes.T):
            known = np.flatnonzero(column >= 0)
            out[known, start + column[known]] = INDICATOR_VALUE  # unknown rows keep an all-zero block
        return out

    def _unseen(self, categorical, codes):
        found = {}
        for j in np.flatnonzero((codes < 0).any(axis=0)):
            values = sorted(set(categorical[codes[:, j] < 0, j]))
            found[str(self.feature_names[j])] = values[:10] + (["..."] if len(values) > 10 else [])
        return found


# -- the one entry point of fit and transform ------------------------------------------------------------------
def validate_input(estimator, X, *, reset, ensure_min_samples=1):
    """Validate ``X`` for ``fit`` (``reset=True``) or ``transform``.

    Returns a float ndarray (no categorical columns: exactly the numeric
    rules) or :class:`MixedRows`.  At fit the categorical columns are decided
    (``is_categorical_``, a boolean mask, or None); transform reuses them.
    """
    if reset:
        mask = categorical_mask(X, estimator.categorical_features)
        estimator.is_categorical_ = mask
    else:
        mask = estimator.is_categorical_
    if mask is None:
        reject_non_numeric_columns(X)
        return validate_data(estimator, X, dtype=[np.float64, np.float32], reset=reset,
                             ensure_min_samples=ensure_min_samples)
    return check_mixed_input(estimator, X, mask, reset=reset, ensure_min_samples=ensure_min_samples)


def encode_table(X):
    """A DataFrame with category/object/string columns as one numeric matrix, as the estimators see it.

    Standardised numeric columns and 0/1 indicator blocks (see
    :class:`TabularEncoder` for why); None when ``X`` has no such column.
    For code that needs numeric rows of the user's table (the scorers).
    """
    mask = categorical_mask(X, "from_dtype")
    if mask is None:
        return None
    rows = split_mixed(X, mask)
    return TabularEncoder(np.asarray(X.columns, dtype=object)[mask]).fit(rows).transform(rows).astype(np.float64)


def make_encoder(X, estimator):
    """A fresh encoder for validated rows ``X``: a :class:`Standardizer` or a :class:`TabularEncoder`."""
    if not isinstance(X, MixedRows):
        return Standardizer()
    names = getattr(estimator, "feature_names_in_", None)
    names = names if names is not None else np.array([f"x{j}" for j in range(estimator.n_features_in_)],
                                                     dtype=object)
    return TabularEncoder(np.asarray(names, dtype=object)[estimator.is_categorical_])
