"""OptunaFeatureSearch: Optuna's samplers through ask/tell, with the contract of every search."""

import pickle

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas.space import Architecture, Block, SearchSpace

from .conftest import FAST_SEARCH

optuna = pytest.importorskip("optuna")

from sknas import OptunaFeatureSearch  # noqa: E402
from sknas.search.optuna import architecture_params, trial_architecture  # noqa: E402


def _search(**params):
    return OptunaFeatureSearch(n_components=2, n_clusters=3, **{**FAST_SEARCH, "max_trials": 5, **params})


def test_fit_asks_the_study_after_the_fallbacks(customers):
    X, _ = customers
    search = _search().fit(X)
    assert search.sampler_ == "TPESampler"
    sources = [r["source"] for r in search.search_history_]
    assert sources == ["fallback"] * 3 + ["optuna"] * 2
    assert [r["optuna_trial"] for r in search.search_history_[3:]] == [1, 2]  # trial 0: the linear map, told
    assert search.transform(X).shape == (len(X), search.n_components_)
    assert not hasattr(search, "_study")


def test_same_random_state_same_search(customers):
    X, _ = customers
    runs = [[r["architecture"] for r in _search(max_trials=6, random_state=3).fit(X).search_history_]
            for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("sampler, name", [("random", "RandomSampler"), ("nsga2", "NSGAIISampler"),
                                           ("cmaes", "CmaEsSampler")])
def test_named_samplers(customers, sampler, name):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
    X, _ = customers
    search = _search(sampler=sampler).fit(X)
    assert search.sampler_ == name
    assert len(search.search_history_) == 5


def test_a_sampler_instance_is_used_and_left_untouched(customers):
    X, _ = customers
    sampler = optuna.samplers.RandomSampler(seed=7)
    state = pickle.dumps(sampler)
    search = _search(sampler=sampler).fit(X)
    assert search.sampler_ == "RandomSampler"
    assert search.get_params()["sampler"] is sampler
    assert pickle.dumps(sampler) == state


def test_several_objectives_give_a_pareto_front(customers):
    X, _ = customers
    search = _search(max_trials=7, objectives=("score", "params")).fit(X)
    assert search.sampler_ == "NSGAIISampler"
    front = search.pareto_front_
    assert front
    valid = [r for r in search.search_history_ if r["valid"]]
    for r in front:  # nothing valid dominates a front member
        assert not any(o["score"] >= r["score"] and o["params"] <= r["params"]
                       and (o["score"] > r["score"] or o["params"] < r["params"]) for o in valid)


@pytest.mark.parametrize("params, error", [
    ({"sampler": "annealing"}, ValueError),
    ({"sampler": object()}, ValueError),
    ({"objectives": ("params",)}, ValueError),
    ({"objectives": ("score", "latency")}, ValueError),
    ({"objectives": "score"}, TypeError),
    ({"sampler": "cmaes", "objectives": ("score", "params")}, ValueError),
])
def test_bad_parameters(customers, params, error):
    X, _ = customers
    with pytest.raises(error):
        _search(**params).fit(X)


def test_params_spell_every_architecture_of_the_space():
    space = SearchSpace(widths=(8, 16), max_depth=2)
    rng = np.random.RandomState(0)
    for numeric in (False, True):
        for _ in range(30):
            arch = space.sample(rng)
            params = architecture_params(arch, space, numeric)
            if arch.head != "linear":
                assert params is None
                continue
            assert trial_architecture(optuna.trial.FixedTrial(params), space, numeric) == arch


def test_warm_start_is_evaluated_first(customers):
    X, _ = customers
    warm = Architecture((Block("gated", 8),))
    search = _search(init=warm).fit(X)
    assert search.search_history_[0]["architecture"] == warm
    assert search.search_history_[0]["source"] == "init"


def test_pipeline_grid_search_and_pickle(customers):
    X, _ = customers
    pipe = make_pipeline(StandardScaler(), _search(max_trials=4), KMeans(3, n_init=2, random_state=0))
    grid = GridSearchCV(pipe, {"optunafeaturesearch__sampler": ["tpe", "random"]}, cv=2,
                        scoring=lambda est, X_, y_=None: float(-est[-1].inertia_)).fit(X)
    fitted = pickle.loads(pickle.dumps(grid.best_estimator_))
    assert np.array_equal(fitted.predict(X[:10]), grid.best_estimator_.predict(X[:10]))
