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
from sknas.space import Architecture, Block, SearchSpace, reencode
from sknas.warmstart.transfer import architectures_of, init_architectures

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
    "darts": lambda **kw: DARTSFeatureSearch(warmup_epochs=1, **{**FAST_SEARCH, "max_trials": 7, **kw}),
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
    # First (RL: right after the fallbacks; DARTS: right after its discretised path).
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
        ("zo", ValueError, "init"),  # the only string is "zoo"
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
        ({"init": source, "adapter": None}, X[:, :-1], "columns.*adapter='auto'"),
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


# -- input adapters (NeuralFeatureMap(init=fitted) on other columns) -------------------------------------------
@pytest.fixture
def cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]


def test_adapter_copies_shared_columns(cancer):
    X, _ = cancer
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X[:, :20])
    # more columns, unnamed: the first 20 match by position; untrained, the new 10 are ignored
    frozen = NeuralFeatureMap(n_components=2, init=source, fine_tune=False, **FAST).fit(X)
    assert frozen.adapter_ == {"n_inputs": 30, "n_outputs": 20, "matched": [(i, i) for i in range(20)]}
    assert np.allclose(frozen.transform(X), source.transform(X[:, :20]), atol=1e-5)
    assert frozen.efficiency_["params"] == source.efficiency_["params"] + 30 * 20 + 20
    # named columns in another order, some missing: matched by name
    import pandas as pd

    names = [f"f{j}" for j in range(30)]
    named = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(
        pd.DataFrame(X[:, :20], columns=names[:20]))
    shuffled = pd.DataFrame(X[:, ::-1], columns=names[::-1])
    moved = NeuralFeatureMap(n_components=2, init=named, fine_tune=False, **FAST).fit(shuffled)
    assert sorted(moved.adapter_["matched"]) == sorted((f"f{j}", f"f{j}") for j in range(20))
    assert np.allclose(moved.transform(shuffled), named.transform(pd.DataFrame(X[:, :20], columns=names[:20])),
                       atol=1e-5)
    # fewer columns: the source's unmatched columns get small weights; fine-tuning trains the adapter
    tuned = NeuralFeatureMap(n_components=2, init=source, **FAST).fit(X[:, :12])
    assert tuned.adapter_["n_inputs"] == 12 and tuned.transform(X[:, :12]).shape == (200, 2)
    assert np.allclose(pickle.loads(pickle.dumps(tuned)).transform(X[:, :12]), tuned.transform(X[:, :12]))
    # adapter="linear" on the same columns: the identity at first
    same = NeuralFeatureMap(n_components=2, init=source, adapter="linear", fine_tune=False, **FAST).fit(X[:, :20])
    assert same.adapter_["n_inputs"] == 20 and np.allclose(same.transform(X[:, :20]), source.transform(X[:, :20]),
                                                           atol=1e-5)


def test_adapter_with_categorical_columns():
    from sknas.datasets import make_customers

    X = make_customers(n_samples=200, as_frame=True, random_state=0).data
    source = NeuralFeatureMap(n_components=2, **FAST).fit(X)
    fewer = X.drop(columns=["noise_0", "noise_1"])
    tuned = NeuralFeatureMap(n_components=2, init=source, **FAST).fit(fewer)  # categoricals pass through
    assert tuned.adapter_["n_inputs"] == 7 and tuned.adapter_["n_outputs"] == 9
    assert tuned.transform(fewer).shape == (200, 2)
    with pytest.raises(ValueError, match="categorical columns differ"):
        NeuralFeatureMap(n_components=2, init=source, **FAST).fit(X.drop(columns=["region"]))


def test_adapter_errors(cancer):
    X, _ = cancer
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X[:, :20])
    lda = NeuralFeatureMap(Architecture(head="lda"), n_components=2, **FAST).fit(X[:, :20])
    cases = [
        ({"init": source, "n_components": 3}, "n_components=3 but init's width is 2"),
        ({"init": lda}, "fixed 'lda' map"),
        ({"init": source, "adapter": None}, "20 columns at init.s fit, 30 here"),
    ]
    for params, match in cases:
        with pytest.raises(ValueError, match=match):
            NeuralFeatureMap(**{**FAST, "n_components": 2, **params}).fit(X)
    for bad in ({"adapter": "conv"}, {"alignment": "kl"}, {"alignment_weight": -1.0}, {"init": "zooo"}):
        with pytest.raises(ValueError, match=list(bad)[0]):
            NeuralFeatureMap(**FAST, **bad).fit(X)


# -- alignment losses ---------------------------------------------------------------------------------------------
def test_alignment_losses_match_hand_computations():
    import torch

    from sknas.training.alignment import coral_loss, mmd_loss

    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(400, 3)), rng.normal(size=(300, 3)) * [1.0, 2.0, 0.5]
    ta, tb = torch.tensor(a), torch.tensor(b)
    expected = ((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2).sum() / (4 * 3 ** 2)
    assert float(coral_loss(ta, tb)) == pytest.approx(expected)
    assert float(coral_loss(ta, ta)) == 0.0
    assert float(coral_loss(ta, torch.tensor(rng.normal(size=(400, 3))))) < 0.01  # same distribution: ~0
    assert float(coral_loss(ta, 3 * ta)) > float(coral_loss(ta, 2 * ta)) > 0
    # MMD^2, biased, Gaussian kernel with a given bandwidth, by hand on three points
    x, y, h = np.array([[0.0], [1.0]]), np.array([[3.0]]), 1.5
    k = lambda u, v: np.exp(-((u - v) ** 2).sum() / (2 * h * h))  # noqa: E731
    hand = (np.mean([k(p, q) for p in x for q in x]) + k(y[0], y[0])
            - 2 * np.mean([k(p, y[0]) for p in x]))
    assert float(mmd_loss(torch.tensor(x), torch.tensor(np.vstack([y, y])), bandwidth=h)) == pytest.approx(hand)
    # median heuristic: the median pairwise distance of the pooled rows
    pooled = np.vstack([x, [[3.0], [3.0]]])
    d = np.abs(pooled - pooled.T)[~np.eye(4, dtype=bool)]
    assert float(mmd_loss(torch.tensor(x), torch.tensor([[3.0], [3.0]]))) == pytest.approx(
        float(mmd_loss(torch.tensor(x), torch.tensor([[3.0], [3.0]]), bandwidth=np.median(d))))
    assert float(mmd_loss(ta, ta)) == 0.0
    assert float(mmd_loss(ta[:200], ta[200:])) < 0.02
    assert float(mmd_loss(ta, ta + 2)) > float(mmd_loss(ta, ta + 0.5)) > float(mmd_loss(ta[:200], ta[200:]))
    for bad in ((ta, tb[:, :2]), (ta[:1], tb)):
        with pytest.raises(ValueError):
            coral_loss(*bad)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_loss(ta, tb, bandwidth=0.0)


def test_alignment_while_fine_tuning(cancer):
    X, _ = cancer
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X[:, :20])
    assert source.reference_embedding_.shape == (200, 2) and source.reference_embedding_.dtype == np.float32
    plain = NeuralFeatureMap(n_components=2, init=source, **FAST).fit(X)
    for kind in ("coral", "mmd"):
        aligned = NeuralFeatureMap(n_components=2, init=source, alignment=kind, alignment_weight=5.0, **FAST).fit(X)
        objective = aligned.net_.module_.objective
        assert objective.kind == kind and objective.reference.shape == (200, 2)
        assert not np.allclose(aligned.transform(X), plain.transform(X))
        assert np.allclose(pickle.loads(pickle.dumps(aligned)).transform(X), aligned.transform(X))
    # without fine-tuning nothing trains, so alignment is not applied
    frozen = NeuralFeatureMap(n_components=2, init=source, alignment="coral", fine_tune=False, **FAST).fit(X)
    assert not hasattr(frozen.net_.module_.objective, "reference")
    old = pickle.loads(pickle.dumps(source))
    del old.reference_embedding_
    with pytest.raises(ValueError, match="reference_embedding_"):
        NeuralFeatureMap(n_components=2, init=old, alignment="mmd", **FAST).fit(X)


def test_coral_alignment_pulls_covariance_towards_the_source(cancer):
    X, _ = cancer
    from sknas.training.alignment import coral_loss
    import torch

    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2,
                              **{**FAST, "max_epochs": 10}).fit(X[:100])
    reference = torch.tensor(source.reference_embedding_)
    gaps = {}
    for alignment in (None, "coral"):
        tuned = NeuralFeatureMap(n_components=2, init=source, alignment=alignment, alignment_weight=50.0,
                                 **{**FAST, "max_epochs": 10}).fit(X[100:] * 3.0 + 1.0)
        gaps[alignment] = float(coral_loss(reference, torch.tensor(tuned.transform(X[100:] * 3.0 + 1.0))))
    assert gaps["coral"] < gaps[None]


# -- scikit-learn's checks with a fitted init: the check data's columns differ from the source's ------------------
#: Expected failure, for a reason outside the transfer code: a fitted estimator as a parameter. The check
#: compares joblib hashes of the parameters with those of a deep copy, and torch tensors pickle with their
#: storage's address, so a copy never hashes the same (test_transfer_leaves_the_source_untouched checks the
#: property itself on the object). The invariance checks pass: transform computes in float64.
TRANSFER_XFAIL = {
    "check_estimators_overwrite_params": "a fitted torch-holding init hashes differently from its deep copy",
}


def _transfer_checked():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    import torch

    torch.set_num_threads(1)
    X = np.random.RandomState(0).normal(size=(60, 5))
    # width 1: some checks set n_components=1, and a transferred network keeps its width
    source = NeuralFeatureMap(Architecture((Block("linear", 8),)), n_components=1, **FAST).fit(X)
    return parametrize_with_checks([
        NeuralFeatureMap(n_components=1, init=source, alignment="coral", **FAST),
        NeuralFeatureMap(n_components=1, init=source, adapter="linear", alignment="mmd", alignment_weight=0.5,
                         **FAST),
    ], expected_failed_checks=lambda estimator: TRANSFER_XFAIL)


@_transfer_checked()
def test_sklearn_compatible_with_adapter_and_alignment(estimator, check):
    check(estimator)


def test_transfer_leaves_the_source_untouched(cancer):
    X, _ = cancer
    source = NeuralFeatureMap(Architecture((Block("linear", 16),)), n_components=2, **FAST).fit(X[:, :20])
    before = pickle.dumps(source)
    for params in ({}, {"alignment": "mmd"}, {"adapter": "linear", "alignment": "coral"}):
        NeuralFeatureMap(n_components=2, init=source, **FAST, **params).fit(X[:, 5:])
    NeuralFeatureMap(n_components=2, init=source, alignment="coral", **FAST).fit(X[:, :20])
    assert pickle.dumps(source) == before
