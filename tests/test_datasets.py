"""Tests for sknas.datasets.make_customers."""

import doctest
import sys

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils import Bunch

import sknas.datasets
from sknas.datasets import make_customers

NUMERIC = ["spend", "recency_days", "frequency", "tenure_months", "avg_basket"]


@pytest.fixture(scope="module")
def customers():
    """The default table, shared by the read-only tests below."""
    return make_customers(2000, random_state=0)


def test_default_bunch(customers):
    assert isinstance(customers, Bunch)
    assert set(customers) == {
        "data", "target", "frame", "feature_names", "target_names",
        "categorical_features", "DESCR",
    }
    X, y = customers.data, customers.target
    assert isinstance(X, np.ndarray) and X.dtype == np.float64
    assert X.shape == (2000, 9)
    assert y.shape == (2000,) and np.issubdtype(y.dtype, np.integer)
    assert customers.feature_names == NUMERIC + [f"noise_{j}" for j in range(4)]
    # Categoricals are dropped from the array form, and said so.
    assert customers.categorical_features == []
    assert customers.frame is None
    assert isinstance(customers.DESCR, str) and "segment" in customers.DESCR
    assert np.all(np.isfinite(X))


def test_target_names(customers):
    names = customers.target_names
    assert len(names) == 5 and len(set(names)) == 5
    assert names[0] == "loyal_high_value"
    assert all(isinstance(n, str) and n.replace("_", "").isalpha() for n in names)
    assert set(customers.target.tolist()) == set(range(5))


@pytest.mark.parametrize("n_noise_features", [0, 1, 6])
def test_noise_feature_count(n_noise_features):
    b = make_customers(50, n_noise_features=n_noise_features, random_state=0)
    assert b.data.shape == (50, 5 + n_noise_features)
    assert b.feature_names == NUMERIC + [
        f"noise_{j}" for j in range(n_noise_features)
    ]


def test_numeric_columns_are_plausible(customers):
    cols = dict(zip(customers.feature_names, customers.data.T))
    spend = cols["spend"]
    assert np.all(spend > 0)
    # Heavy right tail: mean well above median, log-spend roughly symmetric.
    assert spend.mean() > 1.3 * np.median(spend)
    assert np.max(spend) > 10 * np.median(spend)
    for name in ("recency_days", "frequency", "tenure_months"):
        assert np.all(cols[name] == np.round(cols[name])), name
    assert cols["recency_days"].min() >= 1
    assert np.mean(cols["recency_days"]) > np.median(cols["recency_days"])
    assert cols["frequency"].min() >= 1
    assert cols["tenure_months"].min() >= 1 and cols["tenure_months"].max() <= 120
    assert np.all(cols["avg_basket"] > 0)


def test_noise_columns_correlated_but_uninformative(customers):
    X, y = customers.data, customers.target
    noise = X[:, 5:]
    corr = np.corrcoef(noise, rowvar=False)
    off_diag = corr[~np.eye(4, dtype=bool)]
    assert np.all(off_diag > 0.3)
    # Nothing to learn from them: a classifier is no better than the
    # majority class.
    majority = np.bincount(y).max() / len(y)
    clf = make_pipeline(StandardScaler(), LogisticRegression())
    acc = cross_val_score(clf, noise, y, cv=3).mean()
    assert acc < majority + 0.04


def test_deterministic_for_fixed_seed():
    a = make_customers(300, random_state=42)
    b = make_customers(300, random_state=42)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.target, b.target)
    c = make_customers(300, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(a.data, c.data)


def test_different_seeds_differ():
    a = make_customers(300, random_state=0)
    b = make_customers(300, random_state=1)
    assert not np.array_equal(a.data, b.data)
    assert not np.array_equal(a.target, b.target)


def test_global_rng_untouched():
    np.random.seed(123)
    expected = np.random.random_sample()
    np.random.seed(123)
    make_customers(100, random_state=0)
    assert np.random.random_sample() == expected


@pytest.mark.parametrize("as_frame", [False, True])
def test_return_X_y(as_frame):
    pytest.importorskip("pandas")
    bunch = make_customers(100, as_frame=as_frame, random_state=3)
    X, y = make_customers(100, return_X_y=True, as_frame=as_frame, random_state=3)
    assert type(X) is type(bunch.data) and type(y) is type(bunch.target)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(bunch.target))
    if as_frame:
        assert X.equals(bunch.data)
    else:
        np.testing.assert_array_equal(X, bunch.data)


@pytest.mark.parametrize("n_categorical", [0, 1, 2])
def test_as_frame(n_categorical):
    pd = pytest.importorskip("pandas")
    b = make_customers(500, n_categorical=n_categorical, as_frame=True, random_state=0)
    cat_names = ["channel", "region"][:n_categorical]
    num_names = NUMERIC + [f"noise_{j}" for j in range(4)]
    assert isinstance(b.data, pd.DataFrame)
    assert list(b.data.columns) == num_names + cat_names
    assert b.feature_names == num_names + cat_names
    assert b.categorical_features == cat_names
    for name in num_names:
        assert b.data[name].dtype == np.float64
    levels = {"channel": ["web", "store", "app"],
              "region": ["north", "south", "east", "west"]}
    for name in cat_names:
        assert isinstance(b.data[name].dtype, pd.CategoricalDtype)
        assert list(b.data[name].cat.categories) == levels[name]
        assert b.data[name].notna().all()
        assert set(b.data[name]) == set(levels[name])
    assert isinstance(b.target, pd.Series) and b.target.name == "segment"
    assert list(b.frame.columns) == num_names + cat_names + ["segment"]
    assert b.frame["segment"].equals(b.target)


def test_frame_and_array_share_numeric_values():
    pytest.importorskip("pandas")
    arr = make_customers(200, random_state=5)
    frame = make_customers(200, as_frame=True, random_state=5)
    np.testing.assert_array_equal(
        frame.data[arr.feature_names].to_numpy(), arr.data
    )
    np.testing.assert_array_equal(frame.target.to_numpy(), arr.target)


def test_categoricals_depend_only_mildly_on_segment():
    pd = pytest.importorskip("pandas")
    b = make_customers(4000, as_frame=True, random_state=0)
    for name in b.categorical_features:
        table = pd.crosstab(b.target, b.data[name], normalize="index")
        overall = b.data[name].value_counts(normalize=True)
        deviation = (table - overall[table.columns]).abs().to_numpy()
        assert deviation.max() < 0.2, name
        assert deviation.max() > 0.02, name  # but they do depend a little


def test_missing_pandas_message(monkeypatch):
    # A None entry in sys.modules makes `import pandas` raise ImportError.
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="requires pandas"):
        make_customers(50, as_frame=True)
    # The array form does not need pandas at all.
    assert make_customers(50, random_state=0).data.shape == (50, 9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 9}, ValueError, "n_samples"),
        ({"n_samples": 5, "n_segments": 3}, ValueError, "n_samples"),
        ({"n_samples": 100.0}, TypeError, "n_samples"),
        ({"n_segments": 1}, ValueError, "n_segments"),
        ({"n_segments": 9}, ValueError, "n_segments"),
        ({"n_segments": True}, TypeError, "n_segments"),
        ({"n_noise_features": -1}, ValueError, "n_noise_features"),
        ({"n_categorical": 3}, ValueError, "n_categorical"),
        ({"n_categorical": -1}, ValueError, "n_categorical"),
        ({"random_state": "seed"}, ValueError, "seed"),
    ],
)
def test_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_customers(**kwargs)


def test_numpy_integers_accepted():
    b = make_customers(np.int64(20), n_segments=np.int32(2), random_state=0)
    assert b.data.shape == (20, 9)


def test_default_segment_sizes(customers):
    shares = np.bincount(customers.target) / len(customers.target)
    assert np.all(shares >= 0.10) and np.all(shares <= 0.35)
    assert len(set(np.round(shares, 3))) > 1  # unequal on purpose


@pytest.mark.parametrize("n_segments", range(2, 9))
def test_segment_sizes_all_k(n_segments):
    y = make_customers(1000, n_segments=n_segments, random_state=0).target
    shares = np.bincount(y, minlength=n_segments) / len(y)
    assert np.all(shares >= 0.5 / n_segments)
    assert np.all(shares <= 2.0 / n_segments)
    # Smallest allowed table still has every segment.
    y_small = make_customers(
        2 * n_segments, n_segments=n_segments, random_state=0
    ).target
    assert set(y_small.tolist()) == set(range(n_segments))


def test_segments_not_linearly_separable_but_learnable(customers):
    X, y = customers.data, customers.target
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    linear_train = linear.fit(X, y).score(X, y)
    forest = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=-1)
    forest_cv = cross_val_score(forest, X, y, cv=3).mean()
    # Measured at random_state=0: 0.74 vs 0.96 (seeds 0-5: <=0.76 vs >=0.95).
    assert linear_train < 0.9
    assert forest_cv >= 0.9
    assert forest_cv >= linear_train + 0.1


def test_kmeans_on_raw_columns_is_only_modest(customers):
    X, y = customers.data, customers.target
    Xs = StandardScaler().fit_transform(X)
    labels = KMeans(5, n_init=4, random_state=0).fit_predict(Xs)
    # Measured at random_state=0: 0.24 (seeds 0-5: 0.24-0.27).
    assert adjusted_rand_score(y, labels) < 0.5


def test_a_nonlinear_embedding_reveals_the_segments(customers):
    # The segments become linear in quadratic features of the log-numeric
    # columns, so an embedding exists in which KMeans finds them.  LDA on
    # those features stands in for a good (learned) embedding.
    X, y = customers.data, customers.target
    logged = np.log(X[:, :5])
    embed = make_pipeline(
        StandardScaler(),
        PolynomialFeatures(2, include_bias=False),
        StandardScaler(),
        LinearDiscriminantAnalysis(n_components=4),
    )
    Z = embed.fit_transform(logged, y)
    labels = KMeans(5, n_init=4, random_state=0).fit_predict(Z)
    raw = KMeans(5, n_init=4, random_state=0).fit_predict(
        StandardScaler().fit_transform(X)
    )
    ari_embed = adjusted_rand_score(y, labels)
    assert ari_embed > 0.65
    assert ari_embed > adjusted_rand_score(y, raw) + 0.3


def test_docstring_examples():
    result = doctest.testmod(sknas.datasets, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
