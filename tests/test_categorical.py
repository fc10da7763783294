"""Categorical columns, natively (issue 6): DataFrames with category, object and string columns."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
from sklearn.pipeline import make_pipeline

from sknas import (
    Architecture,
    BayesFeatureSearch,
    Block,
    DARTSFeatureSearch,
    EvoFeatureSearch,
    NeuralFeatureMap,
    ParetoFeatureSearch,
    ProgressiveFeatureSearch,
    RandomFeatureSearch,
    RLFeatureSearch,
    SearchSpace,
)
from sknas.metrics import silhouette_scorer
from sknas.space import build_network
from sknas.space.categorical import CategoricalLayout, auto_embedding_width

from .conftest import FAST, FAST_SEARCH

SEARCHES = [RandomFeatureSearch, EvoFeatureSearch, DARTSFeatureSearch, ParetoFeatureSearch,
            ProgressiveFeatureSearch, RLFeatureSearch, BayesFeatureSearch]
#: What keeps each search to a couple of candidates (on top of FAST_SEARCH).
EXTRA = {EvoFeatureSearch: {"population_size": 2}, ParetoFeatureSearch: {"population_size": 2},
         ProgressiveFeatureSearch: {"max_trials": 3, "beam_width": 1}, DARTSFeatureSearch: {"warmup_epochs": 1}}


def make(cls, **params):
    base = FAST if cls is NeuralFeatureMap else {**FAST_SEARCH, "n_clusters": 3, **EXTRA.get(cls, {})}
    return cls(**{"n_components": 3, **base, **params})


@pytest.fixture(scope="module")
def table():
    """Numeric, category, object-string and pandas-string columns; the segments show in all of them."""
    rng = np.random.RandomState(0)
    n = 150
    segment = rng.randint(3, size=n)
    return pd.DataFrame({
        "spend": rng.normal(segment * 3.0, 1.0),
        "visits": rng.poisson(2 + 3 * segment).astype(float),
        "channel": pd.Categorical(np.array(["web", "store", "app"])[segment]),
        "region": np.array(["north", "south", "east", "west"], dtype=object)[(segment + rng.randint(2, size=n)) % 4],
        "plan": pd.array(np.array(["basic", "pro"])[rng.randint(2, size=n)], dtype="string"),
    })


def _finite_shape(est, Z, n_rows):
    assert Z.shape == (n_rows, est.n_components_)
    assert np.isfinite(Z).all()


# -- every estimator ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [*SEARCHES, NeuralFeatureMap], ids=lambda c: c.__name__)
def test_every_estimator_takes_a_mixed_table(cls, table):
    est = make(cls).fit(table)
    np.testing.assert_array_equal(est.is_categorical_, [False, False, True, True, True])
    assert est.n_features_in_ == 5
    np.testing.assert_array_equal(est.feature_names_in_, table.columns)
    Z = est.transform(table)
    _finite_shape(est, Z, len(table))
    assert Z.dtype == np.float64
    assert list(est.get_feature_names_out()) == [f"{cls.__name__.lower()}{i}" for i in range(est.n_components_)]


def test_networks_embed_and_fixed_maps_read_indicators(table):
    est = make(RandomFeatureSearch, max_trials=6).fit(table)
    layout = CategoricalLayout(2, (3, 4, 2))
    for record in est.search_history_:
        arch = record["architecture"]
        net = build_network(arch, layout.n_encoded, 3, layout)
        embedded = hasattr(net, "categorical_input")
        assert embedded == (arch.head == "linear")
        if embedded:
            assert record["params"] == arch.n_params(layout.n_encoded, 3, layout)
            widths = [e.embedding_dim for e in net.categorical_input.embeddings]
            assert widths == list(layout.embedding_widths(arch.embedding_dim))


def test_pipeline_and_pickle(table):
    pipe = make_pipeline(make(RandomFeatureSearch), KMeans(3, n_init=3, random_state=0))
    labels = pipe.fit_predict(table)
    assert labels.shape == (len(table),)

    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(table), pipe.predict(table))
    np.testing.assert_array_equal(restored[0].transform(table), pipe[0].transform(table))



def test_grid_search_n_jobs_2(table):
    pipe = make_pipeline(make(RandomFeatureSearch), KMeans(3, n_init=3, random_state=0))
    grid = GridSearchCV(pipe, {"randomfeaturesearch__n_components": [2, 3]}, scoring=silhouette_scorer,
                        cv=2, n_jobs=2).fit(table)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.predict(table).shape == (len(table),)


def test_halving_grid_search(table):
    pipe = make_pipeline(make(RandomFeatureSearch), KMeans(3, n_init=3, random_state=0))
    halving = HalvingGridSearchCV(pipe, {"randomfeaturesearch__n_components": [2, 3]}, scoring=silhouette_scorer,
                                  cv=2, factor=2, min_resources=60, random_state=0).fit(table)
    assert halving.best_params_["randomfeaturesearch__n_components"] in (2, 3)


def test_set_output_pandas(table):
    est = make(NeuralFeatureMap).set_output(transform="pandas").fit(table)
    out = est.transform(table.iloc[10:20])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(out.index) == list(range(10, 20))


# -- unseen categories ----------------------------------------------------------------------------------
def test_unseen_category_error_names_column_and_values(table):
    est = make(NeuralFeatureMap).fit(table)
    new = table.iloc[:5].copy()
    new["region"] = ["north", "mars", "north", "venus", "north"]
    with pytest.raises(ValueError, match=r"region.*mars.*venus.*handle_unknown='ignore'"):
        est.transform(new)


def test_unseen_category_ignore_uses_the_zero_unknown_row(table):
    est = make(NeuralFeatureMap, handle_unknown="ignore").fit(table)
    for embedding in est.net_.module_.encoder.categorical_input.embeddings:
        assert not embedding.weight[0].any()  # the reserved row: zeros, never trained
    new = table.iloc[:5].copy()
    new["channel"] = pd.Categorical(["never", "seen", "web", "app", "store"])
    Z = est.transform(new)
    _finite_shape(est, Z, 5)
    # Both unseen values map to the same unknown row, so rows equal elsewhere embed equally.
    twin = new.iloc[[0, 0]].copy()
    twin["channel"] = pd.Categorical(["never", "other"])
    Zt = est.transform(twin)
    np.testing.assert_allclose(Zt[0], Zt[1])


def test_nan_in_categorical_column_is_its_own_category(table):
    train = table.copy()
    train["region"] = train["region"].where(np.arange(len(train)) % 7 != 0, None)
    est = make(NeuralFeatureMap).fit(train)
    assert est.net_.module_.encoder.categorical_input.embeddings[1].num_embeddings == 4 + 1 + 1  # + missing, unknown
    _finite_shape(est, est.transform(train), len(train))
    # Missing never seen at fit is an unseen category.
    est = make(NeuralFeatureMap).fit(table)
    with pytest.raises(ValueError, match="region"):
        est.transform(train)


def test_nan_in_numeric_column_still_raises(table):
    bad = table.copy()
    bad.loc[3, "spend"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make(NeuralFeatureMap).fit(bad)


# -- columns --------------------------------------------------------------------------------------------
def test_columns_are_checked_at_transform(table):
    est = make(NeuralFeatureMap).fit(table)
    with pytest.raises(ValueError, match="feature names"):
        est.transform(table[list(reversed(table.columns))])
    with pytest.raises(ValueError, match="feature names|features"):
        est.transform(table.drop(columns="plan"))
    renamed = table.rename(columns={"spend": "amount"})
    with pytest.raises(ValueError, match="amount|spend"):
        est.transform(renamed)


@pytest.mark.parametrize("spec", [[2, 3, 4], ["channel", "region", "plan"], [False, False, True, True, True]],
                         ids=["indices", "names", "mask"])
def test_explicit_categorical_features_match_from_dtype(spec, table):
    ref = make(NeuralFeatureMap).fit(table).transform(table)
    est = make(NeuralFeatureMap, categorical_features=spec).fit(table)
    np.testing.assert_array_equal(est.is_categorical_, [False, False, True, True, True])
    np.testing.assert_allclose(est.transform(table), ref)


def test_integer_column_declared_categorical(table):
    df = table[["spend", "visits"]].copy()
    df["store_id"] = np.arange(len(df)) % 5
    est = make(NeuralFeatureMap, categorical_features=["store_id"]).fit(df)
    assert est.net_.module_.encoder.categorical_input.embeddings[0].num_embeddings == 6
    arr = make(NeuralFeatureMap, categorical_features=[2]).fit(df.to_numpy())
    assert arr.is_categorical_.tolist() == [False, False, True]


def test_none_rejects_strings_and_undeclared_columns_are_named(table):
    with pytest.raises(ValueError, match="channel"):
        make(NeuralFeatureMap, categorical_features=None).fit(table)
    with pytest.raises(ValueError, match="region"):
        make(NeuralFeatureMap, categorical_features=["channel", "plan"]).fit(table)


@pytest.mark.parametrize("spec, match", [(["nope"], "nope"), ([7], "indices"), ([True, False], "mask")])
def test_bad_categorical_features(spec, match, table):
    with pytest.raises(ValueError, match=match):
        make(NeuralFeatureMap, categorical_features=spec).fit(table)


def test_numeric_frames_are_unchanged(customers):
    X = pd.DataFrame(customers[0][:120], columns=[f"c{j}" for j in range(customers[0].shape[1])])
    a = make(RandomFeatureSearch).fit(X)
    b = make(RandomFeatureSearch, categorical_features=None).fit(X)
    assert a.is_categorical_ is None
    assert a.architecture_ == b.architecture_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_float32_numeric_columns_give_float32(table):
    df = table.astype({"spend": np.float32, "visits": np.float32})
    assert make(NeuralFeatureMap).fit(df).transform(df).dtype == np.float32


# -- the searched embedding width ----------------------------------------------------------------------
def test_space_draws_embedding_widths_only_for_categorical_data():
    numeric, categorical = SearchSpace(), SearchSpace(categorical=True)
    assert all(numeric.sample(seed).embedding_dim == "auto" for seed in range(30))
    drawn = {categorical.sample(seed).embedding_dim for seed in range(60)}
    assert drawn == {"auto", 2, 4, 8}
    rng = np.random.RandomState(0)
    arch = categorical.sample(rng)
    for _ in range(30):
        arch = categorical.mutate(arch, rng)
        assert categorical.contains(arch)
        other = categorical.sample(rng)
        assert categorical.contains(categorical.crossover(arch, other, rng))
    assert not SearchSpace(embedding_dims=(2,)).contains(Architecture((), embedding_dim=8))


def test_architecture_embedding_dim_plain_data():
    plain = Architecture((Block("linear", 64),))
    assert str(plain) == "linear(64)-relu -> linear"
    assert "embedding_dim" not in plain.to_dict()
    arch = Architecture((Block("linear", 64),), embedding_dim=4)
    assert str(arch) == "embed(4) | linear(64)-relu -> linear"
    assert Architecture.from_json(arch.to_json()) == arch
    assert hash(arch) != hash(plain) and arch != plain
    with pytest.raises(ValueError, match="embedding_dim"):
        Architecture(head="identity", embedding_dim=4)
    with pytest.raises(ValueError, match="embedding_dim"):
        Architecture((), embedding_dim=0)
    assert auto_embedding_width(3) == 3 and auto_embedding_width(10_000) == 16
