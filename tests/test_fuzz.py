"""Property-based fuzzing of every public estimator's fit/transform on awkward tables (hypothesis).

The property: ``fit`` then ``transform`` either raises a clear ValueError or
TypeError (sknas's or scikit-learn's, never one from inside torch), or returns
finite rows of the right shape and a floating dtype.  Tables vary in shape
(one row to wide), dtype, magnitude (1e-300 to 1e300), NaN/inf patterns,
duplicated rows, single-valued columns, and DataFrames with odd column names.

Example counts are bounded and the search derandomised, so CI runs the same
examples every time, well under a minute.  The cheap estimators get most of
the examples (they share the validation code with every search); each search
strategy gets a few.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sknas import (
    BayesFeatureSearch,
    DARTSFeatureSearch,
    EvoFeatureSearch,
    NeuralFeatureMap,
    ParetoFeatureSearch,
    ProgressiveFeatureSearch,
    RandomFeatureSearch,
    RLFeatureSearch,
)

from .conftest import FAST, FAST_SEARCH

TINY = {**FAST_SEARCH, "max_epochs": 1, "batch_size": 16}
FACTORIES = {
    "NeuralFeatureMap": lambda: NeuralFeatureMap(n_components=2, **{**FAST, "max_epochs": 1}),
    "RandomFeatureSearch": lambda: RandomFeatureSearch(n_components=2, n_clusters=2, **TINY),
    "DARTSFeatureSearch": lambda: DARTSFeatureSearch(n_components=2, n_clusters=2, warmup_epochs=1, **TINY),
    "EvoFeatureSearch": lambda: EvoFeatureSearch(n_components=2, n_clusters=2, population_size=2,
                                                 **{**TINY, "max_trials": 3}),
    "ParetoFeatureSearch": lambda: ParetoFeatureSearch(n_components=2, n_clusters=2, population_size=2,
                                                       **{**TINY, "max_trials": 3}),
    "ProgressiveFeatureSearch": lambda: ProgressiveFeatureSearch(n_components=2, n_clusters=2, beam_width=2,
                                                                 **{**TINY, "max_trials": 4}),
    "RLFeatureSearch": lambda: RLFeatureSearch(n_components=2, n_clusters=2, controller_batch_size=1,
                                               **{**TINY, "max_trials": 4}),
    "BayesFeatureSearch": lambda: BayesFeatureSearch(n_components=2, n_clusters=2, n_initial=3, n_candidates=5,
                                                     **{**TINY, "max_trials": 4}),
}
CHEAP = ("NeuralFeatureMap", "RandomFeatureSearch")

MAGNITUDES = st.sampled_from([1.0, 1e-300, 1e-30, 1e6, 1e30, 1e300])
DTYPES = st.sampled_from(["float64", "float32", "int64", "int32", "uint8", "bool", "float16"])
ODD_NAMES = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["", " ", "a b", "x\n", "0", "None", "é", "列"])),
                     min_size=1, max_size=8, unique=True)


@st.composite
def tables(draw):
    """A table (ndarray or DataFrame) with the awkward features above, drawn independently."""
    n_rows = draw(st.one_of(st.integers(1, 3), st.integers(4, 40)))
    n_cols = draw(st.one_of(st.integers(1, 6), st.integers(20, 60)))  # narrow, or wider than it is tall
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    X = rng.standard_normal((n_rows, n_cols)) * draw(MAGNITUDES)
    if draw(st.booleans()):  # a few columns single-valued
        X[:, rng.rand(n_cols) < 0.3] = draw(st.sampled_from([0.0, 1.0, -7.5, 1e300]))
    if n_rows > 1 and draw(st.booleans()):  # duplicated rows
        X[rng.rand(n_rows) < 0.5] = X[0]
    special = draw(st.sampled_from([None, None, None, np.nan, np.inf, -np.inf]))
    if special is not None:
        X.flat[rng.randint(X.size)] = special
    dtype = draw(DTYPES)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = (X > 0) if dtype == "bool" else X.astype(dtype)
    if draw(st.booleans()):
        names = draw(ODD_NAMES)
        columns = [names[i] if i < len(names) else f"{names[0]}{i}" for i in range(n_cols)]
        if len(columns) > 1 and draw(st.integers(0, 4)) == 0:
            columns[-1] = columns[0]  # a duplicated name
        if draw(st.integers(0, 3)) == 0:
            columns[0] = 0  # a non-string name among strings
        return pd.DataFrame(X, columns=columns)
    return X


def _check(make, X):
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X)
            out = est.transform(X)
        except (ValueError, TypeError) as exc:
            assert str(exc).strip(), "an error without a message"
            origin = exc.__traceback__
            while origin.tb_next is not None:
                origin = origin.tb_next
            assert "/torch/" not in origin.tb_frame.f_code.co_filename, f"a torch error leaked: {exc!r}"
            return
    out = np.asarray(out)
    assert out.shape == (len(X), est.n_components_)
    assert out.dtype.kind == "f"
    assert np.isfinite(out).all(), "transform returned non-finite values"


FUZZ = {"deadline": None, "derandomize": True, "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@pytest.mark.parametrize("name", CHEAP)
@settings(max_examples=50, **FUZZ)
@given(X=tables())
def test_cheap_estimators_on_awkward_tables(name, X):
    _check(FACTORIES[name], X)


@pytest.mark.parametrize("name", [n for n in FACTORIES if n not in CHEAP])
@settings(max_examples=4, **FUZZ)
@given(X=tables())
def test_every_search_on_awkward_tables(name, X):
    _check(FACTORIES[name], X)
