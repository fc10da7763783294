"""Awkward input: every case gets a clear error or a correct result, never NaN or a torch traceback."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sknas import NeuralFeatureMap, RandomFeatureSearch

from .conftest import FAST, FAST_SEARCH


def make_map(**params):
    return NeuralFeatureMap(**{"n_components": 3, **FAST, **params})


def make_search(**params):
    return RandomFeatureSearch(**{"n_components": 3, "n_clusters": 3, **FAST_SEARCH, **params})


FACTORIES = [pytest.param(make_map, id="NeuralFeatureMap"), pytest.param(make_search, id="RandomFeatureSearch")]


@pytest.fixture
def X(customers):
    return customers[0][:120]


def _fit_transform_quietly(est, X):
    """Fit and transform, tolerating warnings (degenerate data may warn), never errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est.fit(X)
        return est.transform(X)


def _assert_good_output(est, out, n_rows):
    assert out.shape == (n_rows, est.n_components_)
    assert np.isfinite(out).all(), "transform returned non-finite values"


# -- clear errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", FACTORIES)
def test_nan_raises(make, X):
    X = X.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make().fit(X)


@pytest.mark.parametrize("make", FACTORIES)
def test_nan_at_transform_raises(make, X):
    est = make().fit(X)
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.transform(X)


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_raises(make, value, X):
    X = X.copy()
    X[5, 1] = value
    with pytest.raises(ValueError, match="infinity"):
        make().fit(X)


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("kind", ["string", "category"])
def test_non_numeric_dataframe_column_raises_naming_it(make, kind, X):
    """With categorical_features=None (all numeric); the default embeds such columns (test_categorical.py)."""
    df = pd.DataFrame(X[:, :3], columns=["spend", "recency", "frequency"])
    labels = np.array(["web", "store", "app"])[np.arange(len(df)) % 3]
    df["channel"] = labels if kind == "string" else pd.Categorical(labels)
    with pytest.raises(ValueError, match="channel"):
        make(categorical_features=None).fit(df)


@pytest.mark.parametrize("make", FACTORIES)
def test_non_numeric_column_at_transform_raises_naming_it(make, X):
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    est = make().fit(df)
    bad = df.copy()
    bad["c"] = pd.Categorical(np.array(["x", "y"])[np.arange(len(df)) % 2])
    with pytest.raises(ValueError, match="'c'"):
        est.transform(bad)


@pytest.mark.parametrize("make", FACTORIES)
def test_object_array_of_strings_raises(make):
    X = np.array([["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]], dtype=object)
    with pytest.raises(ValueError):
        make().fit(X)


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("shape", [(0, 4), (10, 0)], ids=["no-rows", "no-columns"])
def test_empty_input_raises(make, shape):
    with pytest.raises(ValueError):
        make().fit(np.empty(shape))


@pytest.mark.parametrize("make", FACTORIES)
def test_one_sample_raises(make, X):
    with pytest.raises(ValueError, match="sample"):
        make().fit(X[:1])


@pytest.mark.parametrize("make", FACTORIES)
def test_1d_input_raises(make, X):
    with pytest.raises(ValueError, match="2D|reshape"):
        make().fit(X[:, 0])


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_raises(make, fmt, X):
    sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    with pytest.raises((TypeError, ValueError), match="[Ss]parse"):
        make().fit(sparse)


@pytest.mark.parametrize("make", FACTORIES)
def test_sparse_at_transform_raises(make, X):
    est = make().fit(X)
    with pytest.raises((TypeError, ValueError), match="[Ss]parse"):
        est.transform(sp.csr_matrix(X))


# -- correct results ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", FACTORIES)
def test_one_feature_works(make, X):
    est = make()
    out = _fit_transform_quietly(est, X[:, :1])
    _assert_good_output(est, out, len(X))
    assert est.n_features_in_ == 1
    if isinstance(est, NeuralFeatureMap):
        assert out.shape[1] == 3


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("n_rows", [2, 3, 7])
def test_few_rows_work_or_raise_a_value_error(make, n_rows, X):
    """Tiny data: a correct result, or a ValueError about the number of rows at validation.

    Not a SearchFailedError after training every candidate on data that could never be scored.
    """
    est = make()
    try:
        out = _fit_transform_quietly(est, X[:n_rows])
    except ValueError as exc:
        assert n_rows == 2, f"{n_rows} rows should be enough: {exc}"
        assert "sample" in str(exc) or "rows" in str(exc)
        return
    _assert_good_output(est, out, n_rows)


@pytest.mark.parametrize("make", FACTORIES)
def test_all_columns_constant(make):
    X = np.tile([1.0, -3.0, 1e6, 0.0], (60, 1))
    est = make()
    out = _fit_transform_quietly(est, X)
    _assert_good_output(est, out, len(X))


@pytest.mark.parametrize("make", FACTORIES)
def test_one_constant_column_among_others(make, X):
    X = X.copy()
    X[:, 2] = 42.0
    est = make()
    out = _fit_transform_quietly(est, X)
    _assert_good_output(est, out, len(X))


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("magnitude", [1e150, 1e300])
def test_huge_magnitudes(make, magnitude, X):
    Xh = X / np.abs(X).max() * magnitude
    est = make()
    out = _fit_transform_quietly(est, Xh)
    _assert_good_output(est, out, len(X))
    # internal standardisation makes the map scale-free: same as on the original data up to round-off
    ref = make().fit(X).transform(X)
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("make", FACTORIES)
def test_tiny_magnitudes(make, X):
    est = make()
    out = _fit_transform_quietly(est, X / np.abs(X).max() * 1e-300)
    _assert_good_output(est, out, len(X))


@pytest.mark.parametrize("make", FACTORIES)
@pytest.mark.parametrize("in_dtype, out_dtype", [
    (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64), (np.int32, np.float64),
])
def test_output_dtype(make, in_dtype, out_dtype, X):
    Xd = np.round(X).astype(in_dtype)
    est = make().fit(Xd)
    out = est.transform(Xd)
    assert out.dtype == out_dtype
    assert np.isfinite(out).all()
    # a float64 fit still embeds float32 rows as float32, and the other way round
    assert est.transform(Xd.astype(np.float32)).dtype == np.float32
    assert est.transform(Xd.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("make", FACTORIES)
def test_dataframe_matches_numpy(make, X):
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    from_df = make().fit(df).transform(df)
    from_np = make().fit(X).transform(X)
    assert isinstance(from_df, np.ndarray)
    assert np.array_equal(from_df, from_np)


@pytest.mark.parametrize("make", FACTORIES)
def test_fortran_ordered_input_gives_the_same_output(make, X):
    """Memory layout must not change the embedding (a DataFrame's values are Fortran-ordered)."""
    est = make().fit(X)
    c_out = est.transform(np.ascontiguousarray(X))
    f_out = est.transform(np.asfortranarray(X))
    assert np.array_equal(c_out, f_out)
    # and fitting on either layout learns the same map
    assert np.array_equal(make().fit(np.asfortranarray(X)).transform(X), est.transform(X))


@pytest.mark.parametrize("make", FACTORIES)
def test_read_only_memmap(make, X, tmp_path):
    path = tmp_path / "X.dat"
    X = np.ascontiguousarray(X)
    X.tofile(path)
    mm = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    assert not mm.flags.writeable
    est = make().fit(mm)
    out = est.transform(mm)
    assert np.array_equal(out, make().fit(X).transform(X))


@pytest.mark.parametrize("make", FACTORIES)
def test_read_only_array(make, X):
    X = X.copy()
    X.setflags(write=False)
    est = make().fit(X)
    assert np.isfinite(est.transform(X)).all()


@pytest.mark.parametrize("make", FACTORIES)
def test_all_rows_identical(make, X):
    Xd = np.tile(X[0], (50, 1))
    est = make()
    try:
        out = _fit_transform_quietly(est, Xd)
    except ValueError as exc:  # a clear error is acceptable
        assert str(exc)
        return
    _assert_good_output(est, out, len(Xd))


@pytest.mark.parametrize("make", FACTORIES)
def test_many_duplicated_rows(make, X):
    Xd = np.repeat(X[:12], 10, axis=0)  # every row 10 times: more duplicates than k-NN neighbours
    est = make()
    out = _fit_transform_quietly(est, Xd)
    _assert_good_output(est, out, len(Xd))
    # duplicated input rows embed to the same row (up to float32 GEMM rounding, which depends on a
    # row's position in the batch; per-row randomness such as dropout left on would be far larger)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", FACTORIES)
def test_boolean_input(make, X):
    Xb = X > np.median(X, axis=0)
    est = make()
    out = _fit_transform_quietly(est, Xb)
    _assert_good_output(est, out, len(X))
    assert out.dtype == np.float64
