"""BayesFeatureSearch: the encoding, the surrogates' predictive power, acquisition, the estimator contract."""

import math
import pickle

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline

from sknas import Architecture, BayesFeatureSearch, Block, SearchSpace
from sknas.search.bayes import SURROGATES, acquisition_values, candidate_pool
from sknas.space.encoding import encode, encode_many, encoding_names

from .conftest import FAST

FAST_BO = {**FAST, "max_trials": 6, "n_initial": 4, "n_candidates": 30,
           "search_space": {"widths": (8,), "max_depth": 2}}


# -- the encoding ------------------------------------------------------------------------------------------
def test_encoding_is_fixed_length_one_hot_and_injective():
    space = SearchSpace(ops=("linear", "gated", "feature_gate", "zero"), max_depth=3)
    rng = np.random.RandomState(0)
    archs = list({space.sample(rng) for _ in range(200)} | set(space.fallbacks()))
    codes = encode_many(archs, space)
    assert codes.shape == (len(archs), len(encoding_names(space)))
    assert set(np.unique(codes)) <= {0.0, 1.0}
    assert len({c.tobytes() for c in codes}) == len(archs)  # distinct Architectures, distinct codes


def test_encoding_distance_counts_differing_decisions():
    space = SearchSpace(widths=(16, 32), max_depth=2)
    a = Architecture((Block("linear", 16), Block("gated", 32)))
    b = Architecture((Block("linear", 32), Block("gated", 32)))
    c = Architecture((Block("linear", 32), Block("gated", 32, norm="layernorm")))
    assert np.sum((encode(a, space) - encode(b, space)) ** 2) == 2  # one decision: two flipped entries
    assert np.sum((encode(a, space) - encode(c, space)) ** 2) == 4


def test_encoding_rejects_architectures_too_deep_for_the_space():
    with pytest.raises(ValueError, match="max_depth"):
        encode(Architecture((Block("linear", 8),) * 2), SearchSpace(max_depth=1))


# -- the surrogate and the acquisition ----------------------------------------------------------------------
def _toy_score(arch):
    """A known function of the genotype: gated blocks and layer norms help, the raw features are mediocre."""
    if arch.head != "linear":
        return 0.2
    return 0.1 + 0.3 * sum(b.op == "gated" for b in arch.blocks) + 0.15 * sum(b.norm == "layernorm"
                                                                             for b in arch.blocks)


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
def test_surrogate_predictions_correlate_with_held_out_scores(surrogate):
    space = SearchSpace(max_depth=2)
    rng = np.random.RandomState(0)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(120)))
    train, test = archs[:40], archs[40:80]
    noise = np.random.RandomState(1).normal(0, 0.02, len(train))
    model = SURROGATES[surrogate](random_state=0).fit(encode_many(train, space),
                                                      np.array([_toy_score(a) for a in train]) + noise)
    mean, std = model.predict(encode_many(test, space))
    assert np.all(std >= 0)
    rho = spearmanr(mean, [_toy_score(a) for a in test])[0]
    assert rho > 0.6, rho


def test_expected_improvement_properties():
    mean = np.array([0.0, 0.5, 1.0, 1.0])
    std = np.array([0.1, 0.1, 0.1, 0.5])
    ei = acquisition_values("ei", mean, std, best=0.8)
    assert np.all(ei >= 0)
    assert ei[0] < ei[1] < ei[2] < ei[3]  # better mean, then more uncertainty, both help
    np.testing.assert_allclose(acquisition_values("ucb", mean, std, best=0.8, kappa=2.0), mean + 2 * std)


def test_candidate_pool_is_unseen_distinct_members():
    space = SearchSpace(widths=(8, 16), max_depth=2)
    rng = np.random.RandomState(0)
    seen = {space.sample(rng) for _ in range(10)}
    pool = candidate_pool(space, seen, sorted(seen, key=str), rng, 50)
    assert len(pool) == len(set(pool)) == 50
    assert not set(pool) & seen and all(space.contains(a) for a in pool)


# -- the estimator --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("surrogate, acquisition", [("gp", "ei"), ("gp", "thompson"), ("ensemble", "ucb")])
def test_search_proposes_members_and_records_surrogate_quality(customers, surrogate, acquisition):
    X, _ = customers
    search = BayesFeatureSearch(n_components=2, n_clusters=3, surrogate=surrogate, acquisition=acquisition,
                                **{**FAST_BO, "max_trials": 8}).fit(X)
    space = SearchSpace(**FAST_BO["search_space"])
    history = search.search_history_
    assert [r["source"] for r in history] == ["fallback"] * 3 + ["initial"] + ["surrogate"] * 4
    assert len({r["architecture"] for r in history}) == len(history)  # never a repeat
    assert all(space.contains(r["architecture"]) for r in history)
    rows = search.acquisition_history_
    assert [a["trial"] for a in rows] == [4, 5, 6, 7]
    assert all(math.isfinite(a["predicted"]) and math.isfinite(a["measured"]) for a in rows)
    assert [a["n_observed"] for a in rows] == [4, 5, 6, 7]
    assert [s["step"] for s in search.surrogate_history_] == [1, 2, 3, 4]
    assert math.isnan(search.surrogate_history_[0]["rank_correlation"])
    assert search.surrogate_rank_correlation_ == search.surrogate_history_[-1]["rank_correlation"]


def test_same_random_state_gives_identical_results(customers):
    X, _ = customers
    a = BayesFeatureSearch(n_components=2, n_clusters=3, **FAST_BO).fit(X)
    b = BayesFeatureSearch(n_components=2, n_clusters=3, **FAST_BO).fit(X)
    assert [r["architecture"] for r in a.search_history_] == [r["architecture"] for r in b.search_history_]
    assert [r["score"] for r in a.search_history_] == [r["score"] for r in b.search_history_]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("clusterer", [lambda: KMeans(3, n_init=2, random_state=0),
                                       lambda: GaussianMixture(3, random_state=0)], ids=["KMeans", "GMM"])
def test_pipeline_and_pickle(customers, clusterer):
    X, _ = customers
    pipe = make_pipeline(BayesFeatureSearch(n_components=2, n_clusters=3, **FAST_BO), clusterer())
    labels = pipe.fit_predict(X)
    loaded = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(loaded.predict(X), labels)


def test_grid_search_with_label_free_scorer(customers):
    from sklearn.model_selection import GridSearchCV

    from sknas.metrics import silhouette_scorer

    X, _ = customers
    pipe = make_pipeline(BayesFeatureSearch(n_components=2, n_clusters=3, **FAST_BO), KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"bayesfeaturesearch__surrogate": ["gp", "ensemble"]}, scoring=silhouette_scorer,
                        cv=2).fit(X)
    assert np.isfinite(grid.best_score_)


@pytest.mark.parametrize("name, value", [("n_initial", 0), ("surrogate", "tree"), ("acquisition", "pi"),
                                         ("kappa", -1.0), ("n_candidates", 0)])
def test_bad_parameters_raise(customers, name, value):
    X, _ = customers
    with pytest.raises(ValueError, match=name):
        BayesFeatureSearch(**{name: value}).fit(X)


def test_plot_search_learning_draws_surrogate_quality(customers):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sknas.reporting.plotting import plot_search_learning

    X, _ = customers
    search = BayesFeatureSearch(n_components=2, n_clusters=3, **FAST_BO).fit(X)
    fit_ax, rank_ax = plot_search_learning(search)
    assert {t.get_text() for t in fit_ax.get_legend().get_texts()} == {"predicted", "measured"}
    assert len(rank_ax.get_lines()[0].get_xdata()) == len(search.surrogate_history_)
