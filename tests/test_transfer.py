"""Warm starts (issue 10): ``init=`` on every search estimator."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.frozen import FrozenEstimator
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline

from sknas import (BayesFeatureSearch, DARTSFeatureSearch, EvoFeatureSearch, NeuralFeatureMap, ParetoFeatureSearch,
                   ProgressiveFeatureSearch, RandomFeatureSearch, RLFeatureSearch)
from sknas.space import Architecture, Block, SearchSpace
from sknas.transfer import architectures_of, init_architectures, reencode

from .conftest import FAST, FAST_SEARCH

#: A non-fallback architecture of FAST_SEARCH's space (widths (8,), depth <= 1).
WARM = Architecture((Block("gated", 8, activation="tanh"),))
WARM2 = Architecture((Block("linear", 8, activation="gelu", norm="layernorm"),))

SEARCHES = {
    "random": lambda **kw: RandomFeatureSearch(**{**FAST_SEARCH, "max_trials": 5, **kw}),
    "bayes": lambda **kw: BayesFeatureSearch(n_initial=3, n_candidates=20, **{**FAST_SEARCH, "max_trials": 6, **kw}),
    "evolution": lambda **kw: EvoFeatureSearch(population_size=5, **{**FAST_SEARCH, "max_trials": 5, **kw}),
    "pareto": lambda **kw: ParetoFeatureSearch(population_size=5, **{**FAST_SEARCH, "max_trials": 5, **kw}),
    "progressive": lambda **kw: ProgressiveFeatureSearch(beam_width=2, **{**FAST_SEARCH, "max_trials": 6, **kw}),
    "rl": lambda **kw: RLFeatureSearch(controller_batch_size=2, **{**FAST_SEARCH, "max_trials": 7, **kw}),
    "rl_shared": lambda **kw: RLFeatureSearch(controller_batch_size=2, weight_sharing=True,
                                              **{**FAST_SEARCH, "max_trials": 6, **kw}),
    "darts": lambda **kw: DARTSFeatureSearch(warmup_epochs=1, **{**FAST_SEARCH, **kw}),
}


@pytest.fixture
def small(customers):
    X, y = customers
    return X[:150], y[:150]


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_init_architectures_are_evaluated_first(name, small):
    X, _ = small
    search = SEARCHES[name](n_components=2, n_clusters=3, init=[WARM, WARM2]).fit(X)
    archs = [r["architecture"] for r in search.search_history_]
    fallbacks = SearchSpace(**FAST_SEARCH["search_space"]).fallbacks()
    # Right after the fallbacks (DARTS: after its discretised path and the fallbacks): nothing else first.
    before = [a for a in archs[: archs.index(WARM2) + 1] if a not in fallbacks]
    if name == "darts":
        before = before[1:]
    assert before[:2] == [WARM, WARM2]
    assert {r.get("source") for r in search.search_history_ if r["architecture"] in (WARM, WARM2)} <= {"init", None}


def test_rl_controller_learns_from_init(small):
    X, _ = small
    search = SEARCHES["rl"](n_components=2, n_clusters=3, init=WARM).fit(X)
    # fallbacks (baseline only), then init's batch (a policy step), then controller batches
    assert len(search.reward_history_) >= 2
    assert search.search_history_[3]["source"] == "init"


def test_init_from_fitted_estimator_is_untouched(small):
    X, _ = small
    source = RandomFeatureSearch(n_components=2, n_clusters=3, **{**FAST_SEARCH, "max_trials": 5}).fit(X)
    before = pickle.dumps(source)
    warm = architectures_of(source)
    assert warm[0] == source.architecture_ and len(warm) == len(set(warm)) <= 3
    target = EvoFeatureSearch(n_components=2, n_clusters=3, population_size=6, init=source,
                              **{**FAST_SEARCH, "max_trials": 6}).fit(X[::-1])
    assert target.init is source and pickle.dumps(source) == before  # never modified
    fallbacks = SearchSpace(**FAST_SEARCH["search_space"]).fallbacks()
    seeded_with = [a for a in warm if a not in fallbacks]
    assert all(a in [r["architecture"] for r in target.search_history_] for a in seeded_with)


def test_clone_and_get_params_keep_init(small):
    X, _ = small
    source = RandomFeatureSearch(n_components=2, n_clusters=3, **FAST_SEARCH).fit(X)
    for init in (WARM, [WARM, WARM2], source, FrozenEstimator(source)):
        search = RandomFeatureSearch(n_components=2, n_clusters=3, init=init, **FAST_SEARCH)
        assert search.get_params()["init"] is init
        copy = clone(search)
        assert copy.get_params(deep=False)["init"] == init or copy.init is init
        if init is source:  # a fitted estimator is knowledge, not refitted: clone keeps it
            assert copy.init is source and hasattr(copy.init, "architecture_")
        copy.fit(X)
    assert hasattr(source, "architecture_")


def test_invalid_init_gives_clear_errors(small):
    X, _ = small
    space_error = Architecture((Block("linear", 64),))  # width 64 is not in FAST_SEARCH's space
    cases = [
        ([], ValueError, "empty"),
        ([WARM, "linear(8)"], TypeError, "only Architecture"),
        ("zoo", ValueError, "init"),  # a string is not accepted (the zoo is not built yet)
        (space_error, ValueError, "not in this search's space"),
        (RandomFeatureSearch(), ValueError, "not a fitted"),
        (FrozenEstimator(RandomFeatureSearch()), ValueError, "not a fitted"),
    ]
    for init, error, match in cases:
        with pytest.raises(error, match=match):
            RandomFeatureSearch(init=init, **FAST_SEARCH).fit(X)


def test_reencode_and_foreign_space():
    numeric = SearchSpace()
    arch = Architecture((Block("linear", 32),), embedding_dim=4)
    assert reencode(arch, numeric).embedding_dim == "auto"
    assert reencode(arch, SearchSpace(categorical=True)) == arch
    # An estimator-derived architecture outside the space is dropped; if none is left, a clear error.
    fake = NeuralFeatureMap(architecture=arch)
    fake.architecture_ = arch
    with pytest.raises(ValueError, match="None of the architectures"):
        init_architectures(fake, SearchSpace(widths=(8,)))
    assert init_architectures(fake, numeric) == [reencode(arch, numeric)]


def test_pipeline_and_pickle_with_init(small):
    X, _ = small
    for final in (KMeans(3, n_init=2, random_state=0), GaussianMixture(3, random_state=0)):
        pipe = make_pipeline(RandomFeatureSearch(n_components=2, n_clusters=3, init=WARM, **FAST_SEARCH), final)
        labels = pipe.fit(X).predict(X)
        assert np.array_equal(pickle.loads(pickle.dumps(pipe)).predict(X), labels)


def test_init_is_deterministic(small):
    X, _ = small
    a = SEARCHES["evolution"](n_components=2, n_clusters=3, init=WARM).fit(X)
    b = SEARCHES["evolution"](n_components=2, n_clusters=3, init=WARM).fit(X)
    assert [r["architecture"] for r in a.search_history_] == [r["architecture"] for r in b.search_history_]
    assert np.allclose(a.transform(X), b.transform(X))


def test_weight_transfer_without_fine_tuning_reproduces_the_source(small):
    X, _ = small
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X)
    frozen = NeuralFeatureMap(n_components=2, init=source, fine_tune=False, **FAST).fit(X)
    assert frozen.architecture_ == source.architecture_
    assert np.allclose(frozen.transform(X), source.transform(X), atol=1e-6)  # same data, same standardisation
    tuned = NeuralFeatureMap(n_components=2, init=FrozenEstimator(source), **FAST).fit(X[::-1])
    assert not np.allclose(tuned.transform(X), source.transform(X))
    assert hasattr(source, "net_") and clone(tuned).init.estimator is source
    copy = clone(NeuralFeatureMap(n_components=2, init=source, **FAST))
    assert copy.init is source
    assert np.allclose(pickle.loads(pickle.dumps(tuned)).transform(X), tuned.transform(X))


def test_weight_transfer_errors(small):
    X, _ = small
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X)
    cases = [
        ({"init": source}, X[:, :-1], "columns"),
        ({"init": source, "n_components": 3}, X, "weight shapes"),
        ({"init": source, "architecture": WARM}, X, "differs from init"),
        ({"init": NeuralFeatureMap()}, X, "not a fitted"),
    ]
    for params, data, match in cases:
        with pytest.raises(ValueError, match=match):
            NeuralFeatureMap(**{**FAST, "n_components": 2, **params}).fit(data)
    # a search's winner transfers too
    search = RandomFeatureSearch(n_components=2, n_clusters=3, **FAST_SEARCH).fit(X)
    assert NeuralFeatureMap(n_components=2, init=search, **FAST).fit(X).architecture_ == search.architecture_
