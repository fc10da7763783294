"""RLFeatureSearch: the controller's validity and learning, ENAS weight sharing, the estimator contract."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline

import sknas.search.candidates
from sknas import RLFeatureSearch, SearchSpace
from sknas.search.reinforce import Controller, PathGrammar, Reinforce, SpaceGrammar
from sknas.space import build_network
from sknas.space.architecture import FIXED_HEADS

from .conftest import FAST

FAST_RL = {**FAST, "max_trials": 7, "controller_batch_size": 2, "search_space": {"widths": (8,), "max_depth": 2}}
SPACES = [
    SearchSpace(),
    SearchSpace(ops=("zero", "linear", "skip"), widths=(4, 8), max_depth=3, residual=(False, True)),
    SearchSpace(ops=("zero", "feature_gate"), max_depth=2, residual=(True,), include_identity=False),
    SearchSpace(ops=("zero", "gated"), max_depth=2, residual=(False,), dropouts=(0.0, 0.5)),
    SearchSpace(max_depth=0),
]


def _policy(grammar, seed=0, **kwargs):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        controller = Controller(grammar.n_choices, hidden_size=16)
    return Reinforce(grammar, controller, seed, **kwargs)


@pytest.mark.parametrize("space", SPACES, ids=range(len(SPACES)))
def test_controller_emits_only_valid_buildable_members(space):
    grammar = SpaceGrammar(space)
    policy = _policy(grammar)
    archs = policy.sample(25)
    for arch in archs:
        assert space.contains(arch)
        net = build_network(arch, 5, 2).eval()
        assert net(torch.randn(3, 5)).shape == (3, arch.output_width(5, 2))
        rollout = policy.controller.rollout()
        assert grammar.walk(rollout, target=arch) == arch  # replaying a sample gives it back
        log_prob = float(rollout.log_prob.detach())
        assert math.isfinite(log_prob) and log_prob <= 0
    # ... and it keeps doing so after learning steps
    policy.update(archs[:8], np.linspace(0, 1, 8))
    assert all(space.contains(a) for a in policy.sample(20))


def test_mean_reward_rises_where_one_choice_is_best():
    """A stub reward (no training): 1 when the first block is ``gated``, else 0."""
    space = SearchSpace(max_depth=1, include_identity=False)
    policy = _policy(SpaceGrammar(space), learning_rate=0.05)

    def reward(arch):
        return float(arch.depth == 1 and arch.blocks[0].op == "gated")

    for _ in range(30):
        archs = policy.sample(8)
        policy.update(archs, [reward(a) for a in archs])
    first, last = np.mean(policy.reward_history[:5]), np.mean(policy.reward_history[-5:])
    assert last > first + 0.3, (first, last)
    assert policy.entropy_history[-1] < policy.entropy_history[0]


def test_sampling_is_seeded_by_the_local_generator_only():
    grammar = SpaceGrammar(SearchSpace())
    torch.manual_seed(1)
    a = _policy(grammar, seed=3).sample(10)
    torch.manual_seed(2)  # the global RNG does not matter
    b = _policy(grammar, seed=3).sample(10)
    assert a == b
    assert _policy(grammar, seed=4).sample(10) != a


def test_path_grammar_round_trip():
    grammar = PathGrammar([("a", "b"), ("a", "b", "c")])
    policy = _policy(grammar)
    for path in policy.sample(5):
        assert len(path) == 2 and 0 <= path[0] < 2 and 0 <= path[1] < 3
        assert grammar.walk(policy.controller.rollout(), target=path) == path


def test_search_records_curves_and_only_space_members(customers):
    X, _ = customers
    search = RLFeatureSearch(n_components=2, n_clusters=3, **FAST_RL).fit(X)
    space = SearchSpace(**FAST_RL["search_space"])
    history = search.search_history_
    assert len(history) == 7
    assert [r["source"] for r in history[:3]] == ["fallback"] * 3
    assert all(r["source"] == "controller" and space.contains(r["architecture"]) for r in history[3:])
    assert len(search.reward_history_) == len(search.entropy_history_) == len(search.baseline_history_) == 2
    assert all(math.isfinite(v) for v in search.reward_history_ + search.entropy_history_)
    assert isinstance(search.controller_, Controller)


def test_failed_candidates_get_a_low_finite_reward(customers, monkeypatch):
    real = sknas.search.candidates.evaluate_candidate

    def failing_deep(arch, seed, data, settings):
        if arch.depth >= 1:
            record = {"architecture": arch, "seed": seed, "status": "failed", "reason": "stub", "score": -math.inf,
                      "valid": False}
            return sknas.search.candidates.finish_record(record, data["X_train"].shape[1], settings, 0.0)
        return real(arch, seed, data, settings)

    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate", failing_deep)
    X, _ = customers
    search = RLFeatureSearch(n_components=2, n_clusters=3, **FAST_RL).fit(X)
    assert any(r["status"] == "failed" for r in search.search_history_)
    assert all(math.isfinite(v) for v in search.reward_history_)
    assert all(bool(torch.isfinite(p).all()) for p in search.controller_.parameters())


def test_enas_trains_no_candidate_from_scratch(customers, monkeypatch):
    trained = []
    real = sknas.search.candidates.evaluate_candidate

    def recording(arch, seed, data, settings):
        trained.append(arch)
        return real(arch, seed, data, settings)

    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate", recording)
    X, _ = customers
    search = RLFeatureSearch(n_components=2, n_clusters=3, weight_sharing=True, **FAST_RL).fit(X)
    # Only the fixed maps (raw features, LDA), which have nothing to train, go through the candidate trainer.
    assert trained and all(a.head in FIXED_HEADS for a in trained)
    shared = [r for r in search.search_history_ if r["source"] == "enas"]
    assert len(shared) == 7 - len(trained) and all(r["inherited"] for r in shared)
    assert len(search.supernet_history_) == FAST_RL["max_epochs"]
    assert len(search.reward_history_) == math.ceil(len(shared) / FAST_RL["controller_batch_size"])
    assert search.transform(X).shape == (len(X), 2)


@pytest.mark.parametrize("weight_sharing", [False, True])
def test_same_random_state_gives_identical_results(customers, weight_sharing):
    X, _ = customers
    a = RLFeatureSearch(n_components=2, n_clusters=3, weight_sharing=weight_sharing, **FAST_RL).fit(X)
    b = RLFeatureSearch(n_components=2, n_clusters=3, weight_sharing=weight_sharing, **FAST_RL).fit(X)
    assert [r["architecture"] for r in a.search_history_] == [r["architecture"] for r in b.search_history_]
    assert [r["score"] for r in a.search_history_] == [r["score"] for r in b.search_history_]
    assert a.reward_history_ == b.reward_history_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_global_rngs_untouched(customers):
    X, _ = customers
    np.random.seed(5)
    torch.manual_seed(5)
    np_before, torch_before = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    RLFeatureSearch(n_components=2, n_clusters=3, **FAST_RL).fit(X)
    assert np.array_equal(np_before, np.random.get_state()[1])
    assert torch.equal(torch_before, torch.get_rng_state())


@pytest.mark.parametrize("clusterer", [lambda: KMeans(3, n_init=2, random_state=0),
                                       lambda: GaussianMixture(3, random_state=0)], ids=["KMeans", "GMM"])
def test_pipeline_and_pickle(customers, clusterer):
    X, _ = customers
    pipe = make_pipeline(RLFeatureSearch(n_components=2, n_clusters=3, **FAST_RL), clusterer())
    labels = pipe.fit_predict(X)
    loaded = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(loaded.predict(X), labels)
    assert loaded[0].reward_history_ == pipe[0].reward_history_


def test_grid_search_with_label_free_scorer(customers):
    from sklearn.model_selection import GridSearchCV

    from sknas.metrics import silhouette_scorer

    X, _ = customers
    pipe = make_pipeline(RLFeatureSearch(n_components=2, n_clusters=3, **FAST_RL), KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"rlfeaturesearch__weight_sharing": [False, True]}, scoring=silhouette_scorer,
                        cv=2).fit(X)
    assert np.isfinite(grid.best_score_)


@pytest.mark.parametrize("name, value", [("controller_batch_size", 0), ("entropy_weight", -1.0),
                                         ("baseline_decay", 1.0), ("weight_sharing", "yes")])
def test_bad_parameters_raise(customers, name, value):
    X, _ = customers
    with pytest.raises(ValueError, match=name):
        RLFeatureSearch(**{name: value}).fit(X)
