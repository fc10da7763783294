"""The architecture zoo and ``init="zoo"`` (issue 10), and the meta-features it is indexed by."""

import dataclasses
import json
import math
import pickle
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknas import DARTSFeatureSearch, EvoFeatureSearch, NeuralFeatureMap, RandomFeatureSearch
from sknas.preprocessing.tabular import categorical_mask, split_mixed
from sknas.warmstart.metafeatures import METAFEATURES, metafeatures, twonn_dimension
from sknas.space import Architecture, Block, SearchSpace
from sknas.warmstart.zoo import ZooEntry, load_zoo, parse_zoo, rank_entries, zoo_architectures

from .conftest import FAST, FAST_SEARCH
from .test_transfer import SEARCHES

#: The default space's widths and depth, where the zoo's architectures come from (other choices stay default).
ZOO_SPACE = {"widths": (32, 64, 128, 256), "max_depth": 3}
ZOO_SEARCH = {**FAST_SEARCH, "search_space": ZOO_SPACE}


# -- meta-features ----------------------------------------------------------------------------------------------
def test_metafeatures_of_a_numeric_table():
    X = load_iris().data
    mf = metafeatures(X)
    assert list(mf) == list(METAFEATURES) and all(isinstance(v, float) and math.isfinite(v) for v in mf.values())
    assert mf["log10_rows"] == pytest.approx(math.log10(150)) and mf["log10_columns"] == pytest.approx(math.log10(4))
    assert mf["categorical_share"] == 0.0 and mf["binary_share"] == 0.0
    assert mf["pca_dim_90_ratio"] == 0.5  # 2 of 4 standardised components
    assert metafeatures(X * 1000.0 + 7.0) == pytest.approx(mf)  # scale-free
    assert metafeatures(X) == mf  # deterministic


def test_metafeatures_hand_values():
    rng = np.random.RandomState(0)
    normal = rng.normal(size=(20000, 1))
    mf = metafeatures(np.hstack([normal, np.exp(normal), (normal > 0).astype(float)]))
    assert mf["binary_share"] == pytest.approx(1 / 3)
    # normal: skew 0, kurtosis 3; log-normal(0, 1): skew 6.18, kurtosis 113.9; a fair flag: skew 0, kurtosis 1
    assert mf["mean_abs_skewness"] == pytest.approx((0 + 6.18 + 0) / 3, abs=0.6)
    assert mf["mean_log_kurtosis"] == pytest.approx((math.log(3) + math.log(113.9) + 0) / 3, abs=0.5)
    line = rng.uniform(size=(1000, 1)) * np.ones((1, 6))
    assert twonn_dimension(line) == pytest.approx(1.0, abs=0.2)
    plane = rng.uniform(size=(2000, 2)) @ rng.normal(size=(2, 8))
    assert twonn_dimension(plane) == pytest.approx(2.0, abs=0.3)
    assert twonn_dimension(np.zeros((5, 2))) == 0.0  # duplicates only


def test_metafeatures_with_categorical_columns():
    frame = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2,
                          "c": list("xyxyxyxyzz"), "d": pd.Categorical(list("pqpqpqpqpq"))})
    mf = metafeatures(frame)
    assert mf["categorical_share"] == 0.5 and mf["log10_columns"] == pytest.approx(math.log10(4))
    # the validated rows the estimators hold give the same numbers
    rows = split_mixed(frame, categorical_mask(frame, "from_dtype"))
    assert metafeatures(rows) == mf
    # declared by index: an integer-coded column counts as categorical
    assert metafeatures(frame[["a", "b"]].assign(k=[1, 2] * 5), categorical_features=[2])["categorical_share"] \
        == pytest.approx(1 / 3)
    only_categorical = metafeatures(frame[["c", "d"]])
    assert only_categorical["categorical_share"] == 1.0 and only_categorical["mean_abs_skewness"] == 0.0


def test_metafeatures_errors():
    with pytest.raises(ValueError):
        metafeatures(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="Non-numeric"):
        metafeatures(pd.DataFrame({"a": ["x", "y"]}), categorical_features=None)


# -- the shipped zoo ------------------------------------------------------------------------------------------------
def test_zoo_loads_from_package_resources():
    path = resources.files("sknas.warmstart").joinpath("zoo.json")
    assert path.is_file()
    raw = json.loads(path.read_text(encoding="utf-8"))
    entries = load_zoo()
    assert len(entries) == len(raw["entries"]) >= 24 and len({e.dataset for e in entries}) >= 10
    space = SearchSpace(categorical=True)
    for entry in entries:
        assert Architecture.from_json(entry.architecture.to_json()) == entry.architecture
        assert space.contains(entry.architecture) and set(entry.metafeatures) == set(METAFEATURES)
    assert load_zoo() is entries  # read once
    assert {"date", "command", "search"} <= set(raw["built"])


def test_parse_zoo_rejects_malformed_files():
    good = {"format": 1, "entries": [{"dataset": "d", "rank": 0, "architecture": {"blocks": [], "head": "linear"},
                                      "score": 0.5, "n_clusters": 3, "metafeatures": dict.fromkeys(METAFEATURES, 0.0)}]}
    assert parse_zoo(good)[0].architecture == Architecture()
    for bad, match in (({"format": 2, "entries": []}, "format-1"), ({"format": 1, "entries": []}, "no entries"),
                       ({"format": 1, "entries": [{"dataset": "d"}]}, "entry 0")):
        with pytest.raises(ValueError, match=match):
            parse_zoo(bad)


def test_rank_entries_is_nearest_first_and_keeps_order_on_ties():
    base = dict.fromkeys(METAFEATURES, 0.0)
    far = {**base, "log10_rows": 5.0}
    a, b, c = (Architecture((Block("linear", w),)) for w in (32, 64, 128))
    entries = [ZooEntry("far", 0, a, 0.1, 3, far), ZooEntry("near", 0, b, 0.2, 3, base),
               ZooEntry("near", 1, c, 0.1, 3, base)]
    ranked = rank_entries(base, 3, entries)
    assert [e.architecture for _, e in ranked] == [b, c, a]  # the tie keeps file order
    assert ranked[0][0] == ranked[1][0] < ranked[2][0]


def test_zoo_architectures_filter_by_space_and_are_deterministic():
    X = load_wine().data
    archs = zoo_architectures(X, SearchSpace(), n_clusters=3)
    assert 1 <= len(archs) <= 3 and len(set(archs)) == len(archs)
    assert not set(archs) & set(SearchSpace().fallbacks())
    assert archs == zoo_architectures(X.copy(), SearchSpace(), n_clusters=3)
    assert zoo_architectures(X, SearchSpace(widths=(7,), ops=("linear",), include_identity=False), 3) == []
    nearest = rank_entries(metafeatures(X), 3)[0][1]
    assert zoo_architectures(X, None, 3, n=1) == [nearest.architecture]


# -- init="zoo" on the searches -------------------------------------------------------------------------------------
@pytest.fixture
def rows(customers):
    return customers[0][:150]


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_every_search_starts_from_the_zoo(name, rows):
    X = rows
    search = SEARCHES[name](n_components=2, n_clusters=3, init="zoo", search_space=ZOO_SPACE).fit(X)
    space = SearchSpace(**ZOO_SPACE)
    expected = zoo_architectures(X, space, n_clusters=3)
    assert expected  # the zoo has architectures this space holds
    evaluated = [r["architecture"] for r in search.search_history_]
    assert expected[0] in evaluated


def test_init_zoo_is_deterministic_and_pickles(rows):
    X = rows
    a = RandomFeatureSearch(n_components=2, n_clusters=3, init="zoo", **{**ZOO_SEARCH, "max_trials": 5}).fit(X)
    b = clone(a).fit(X)
    history = [r["architecture"] for r in a.search_history_]
    assert history == [r["architecture"] for r in b.search_history_]
    fallbacks = SearchSpace(**ZOO_SPACE).fallbacks()
    first = history[:len(fallbacks) + 2]  # the zoo's architectures come with the fallbacks, before any draw
    assert set(zoo_architectures(X, SearchSpace(**ZOO_SPACE), 3)[:2]) <= set(first)
    assert np.allclose(pickle.loads(pickle.dumps(a)).transform(X), a.transform(X))
    pipe = make_pipeline(clone(a), KMeans(3, n_init=2, random_state=0))
    labels = pipe.fit(X).predict(X)
    assert np.array_equal(pickle.loads(pickle.dumps(pipe)).predict(X), labels)


def test_init_zoo_in_a_space_without_zoo_architectures_warns_and_starts_cold(rows):
    X = rows
    with pytest.warns(UserWarning, match="none of the zoo"):
        search = RandomFeatureSearch(n_components=2, n_clusters=3, init="zoo",
                                     **{**FAST_SEARCH, "search_space": {"widths": (8,), "ops": ("linear",)}}).fit(X)
    assert search.n_trials_ == 2


def test_bad_init_strings(rows):
    X = rows
    for init in ("Zoo", "nearest"):
        with pytest.raises(ValueError, match="init"):
            RandomFeatureSearch(init=init, **FAST_SEARCH).fit(X)


def test_neural_feature_map_from_the_zoo(rows):
    X = rows
    fmap = NeuralFeatureMap(n_components=2, n_clusters=3, init="zoo", **FAST).fit(X)
    nearest = zoo_architectures(X, None, 3, n=1)[0]
    assert fmap.architecture_ == dataclasses.replace(nearest, embedding_dim="auto")  # numeric data: no embeddings
    assert fmap.adapter_ is None
    with pytest.raises(ValueError, match="leave architecture=None"):
        NeuralFeatureMap(Architecture(), init="zoo", **FAST).fit(X)


# -- scikit-learn's checks with init="zoo" -----------------------------------------------------------------------
def _checked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            RandomFeatureSearch(n_components=2, n_clusters=3, init="zoo", **{**ZOO_SEARCH, "max_trials": 4}),
            EvoFeatureSearch(n_components=2, n_clusters=3, init="zoo", population_size=2,
                             **{**ZOO_SEARCH, "max_trials": 5}),
            DARTSFeatureSearch(n_components=2, n_clusters=3, init="zoo", warmup_epochs=1, **FAST_SEARCH),
            NeuralFeatureMap(n_components=2, init="zoo", **FAST),
        ]


# The zoo's architectures are wide (up to 256 units), where float32 GEMM rounding showed in the invariance
# checks until transform computed in float64: no check is expected to fail.
@parametrize_with_checks(_checked())
def test_sklearn_compatible_with_zoo(estimator, check):
    check(estimator)
