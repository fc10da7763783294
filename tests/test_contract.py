"""What ``check_estimator`` does not cover, on every public estimator (tests/_instances.py): set_output and
feature names, pickling into a fresh process, determinism and the caller's RNGs, bad input.

Each estimator is fitted once on the customer table (``fitted``) and reused where a test only reads it.
"""

import copy
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ._instances import PUBLIC, ids

REPO_ROOT = Path(__file__).resolve().parents[1]
_FITTED = {}


@pytest.fixture
def fitted(estimator, customers):
    """``estimator`` fitted on the customer table (once per estimator and test session)."""
    key = id(estimator)
    if key not in _FITTED:
        _FITTED[key] = clone(estimator).fit(customers[0])
    return _FITTED[key]


def _frame(X):
    return pd.DataFrame(X, columns=[f"col_{i}" for i in range(X.shape[1])])


def _transform(est, X):
    """The estimator's transform (AutoSegmenter's is its embedding too)."""
    return np.asarray(est.transform(X))


# -- set_output and feature names --------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_set_output_pandas_and_feature_names(estimator, customers):
    X, _ = customers
    df = _frame(X)
    est = clone(estimator).set_output(transform="pandas")
    out = est.fit_transform(df)
    assert isinstance(out, pd.DataFrame) and out.shape[0] == len(X)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(est.feature_names_in_) == list(df.columns) and est.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(est.transform(df).to_numpy(), out.to_numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        est.transform(df[df.columns[::-1]])


# -- pickling ------------------------------------------------------------------------------------------------------
_LOAD_ALL_AND_TRANSFORM = """
import pickle, sys
import numpy as np
import torch
torch.set_num_threads(1)
X = np.load(sys.argv[2])
with open(sys.argv[1], "rb") as fh:
    models = pickle.load(fh)
np.savez(sys.argv[3], *[np.asarray(m.transform(X)) for m in models])
"""


def test_every_estimator_pickles_into_a_fresh_process(customers, tmp_path):
    """One new interpreter loads every fitted estimator (nothing of this process's state is needed)."""
    X, _ = customers
    models = [clone(est).fit(X) for est in PUBLIC]
    expected = [_transform(m, X) for m in models]
    path, data, result = tmp_path / "models.pkl", tmp_path / "X.npy", tmp_path / "out.npz"
    with open(path, "wb") as fh:
        pickle.dump(models, fh)
    np.save(data, X)
    proc = subprocess.run([sys.executable, "-c", _LOAD_ALL_AND_TRANSFORM, str(path), str(data), str(result)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = np.load(result)
    for i, (model, want) in enumerate(zip(models, expected)):
        assert np.array_equal(got[f"arr_{i}"], want), type(model).__name__


@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_pickle_in_process_keeps_the_fitted_state(estimator, fitted, customers):
    X, _ = customers
    loaded = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(_transform(loaded, X), _transform(fitted, X))


# -- determinism and the caller's RNGs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_same_random_state_same_result_and_global_rngs_untouched(estimator, fitted, customers):
    X, _ = customers
    np.random.seed(123)
    torch.manual_seed(123)
    np_before, torch_before = np.random.get_state(), torch.get_rng_state().clone()
    again = clone(estimator).fit(X)
    out = _transform(again, X)
    np_after = np.random.get_state()
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert torch.equal(torch_before, torch.get_rng_state())
    assert np.array_equal(out, _transform(fitted, X))


@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_transform_of_a_row_alone_equals_its_row_in_the_table(estimator, fitted, customers):
    X, _ = customers
    table = _transform(fitted, X)
    for i in (0, 7, len(X) - 1):
        np.testing.assert_allclose(_transform(fitted, X[i:i + 1])[0], table[i], rtol=0, atol=1e-9)


# -- bad input ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_transform_before_fit_raises(estimator, customers):
    with pytest.raises(NotFittedError):
        clone(estimator).transform(customers[0])


@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
@pytest.mark.parametrize("case", ["inf", "nan", "1d", "sparse", "no rows", "strings"])
def test_bad_input_at_fit_raises_a_value_error(estimator, case, customers):
    X = customers[0][:60].copy()
    if case == "nan" and estimator.__sklearn_tags__().input_tags.allow_nan:
        pytest.skip("this estimator takes missing values (its tags say so)")
    bad = {"inf": lambda: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X),
           "nan": lambda: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X),
           "1d": lambda: X[:, 0], "sparse": lambda: sp.csr_matrix(X), "no rows": lambda: X[:0],
           "strings": lambda: np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object)}[case]()
    with pytest.raises((ValueError, TypeError)):
        clone(estimator).fit(bad)


@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_transform_with_another_number_of_columns_raises(estimator, fitted, customers):
    X, _ = customers
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :-1])


@pytest.mark.parametrize("estimator", PUBLIC, ids=ids)
def test_output_dtype_follows_the_tags(estimator, fitted, customers):
    X, _ = customers
    out = _transform(fitted, X[:20].astype(np.float32))
    preserved = estimator.__sklearn_tags__().transformer_tags.preserves_dtype
    assert out.dtype == (np.float32 if "float32" in preserved else np.float64) and np.isfinite(out).all()
    assert _transform(copy.deepcopy(fitted), X[:20]).dtype == np.float64


def test_every_public_estimator_is_listed():
    import sknas
    from sklearn.base import BaseEstimator

    public = {name for name in sknas.__all__ if isinstance(getattr(sknas, name), type)
              and issubclass(getattr(sknas, name), BaseEstimator) and not name.startswith("Base")}
    assert public == {type(est).__name__ for est in PUBLIC}
