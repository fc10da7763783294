"""ProgressiveFeatureSearch: expansions, successive halving, the surrogate, patience, the zero-cost score."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sknas.search.progressive as progressive
from sknas import Architecture, Block, SearchSpace
from sknas.evaluation.zero_cost import naswot_score
from sknas.metrics import silhouette_scorer
from sknas.search.progressive import ProgressiveFeatureSearch, all_blocks, expansions, rung_sizes
from sknas.space import build_network

from .conftest import FAST

SMALL_SPACE = {"widths": (8,), "max_depth": 2, "activations": ("relu", "tanh"), "norms": ("none",),
               "dropouts": (0.0,)}
FAST_PROG = {**FAST, "beam_width": 3, "search_space": SMALL_SPACE, "patience": 2}


def _fit(X, **params):
    return ProgressiveFeatureSearch(n_components=2, n_clusters=3, **{**FAST_PROG, **params}).fit(X)


@pytest.mark.parametrize("space", [
    SearchSpace(widths=(4, 8), max_depth=3),
    SearchSpace(ops=("linear", "skip", "zero"), widths=(5,), max_depth=2, residual=(True,)),
    SearchSpace(ops=("feature_gate", "zero"), max_depth=4, include_identity=False),
])
def test_expansions_are_valid_and_exactly_one_block_longer(space):
    rng = np.random.RandomState(0)
    parents = [Architecture(())] + [space.sample(rng) for _ in range(10)]
    for parent in parents:
        children = expansions(parent, space)
        if parent.head != "linear" or parent.depth >= space.max_depth:
            assert children == []
            continue
        assert len(children) == len(set(children)) == len(all_blocks(space))
        for child in children:
            assert space.contains(child)
            assert child.depth == parent.depth + 1 and child.blocks[:-1] == parent.blocks
            out = build_network(child, 4, 2).eval()(torch.randn(3, 4))
            assert out.shape == (3, 2) and bool(torch.isfinite(out).all())


def test_all_blocks_covers_the_space_without_repeats():
    space = SearchSpace(**SMALL_SPACE)
    blocks = all_blocks(space)
    # linear and gated at one width, feature_gate width-free: 3 ops x 2 activations x 2 residual flags
    assert len(blocks) == len(set(blocks)) == 3 * 2 * 2


def test_rung_sizes_keep_one_in_eta():
    assert rung_sizes(9, 3, 3) == [9, 3, 1]
    assert rung_sizes(10, 2, 3) == [10, 5, 3]
    assert rung_sizes(4, 3, 1) == [4]


def test_successive_halving_promotes_the_best_fraction(customers):
    X, _ = customers
    search = _fit(X, beam_width=4, eta=2, n_rungs=3, patience=1)
    history = search.search_history_
    for step in search.step_history_:
        assert step["rung_sizes"] == rung_sizes(4, 2, 3)
        this = [r for r in history if r["expansion_step"] == step["step"] and r["rung"] is not None]
        for rung in (0, 1):
            measured = sorted((r for r in this if r["rung"] == rung), key=lambda r: -r["score"])
            promoted = {r["architecture"] for r in this if r["rung"] == rung + 1}
            assert promoted == {r["architecture"] for r in measured[:len(promoted)]}
        fidelities = [next(r["fidelity"] for r in this if r["rung"] == rung) for rung in range(3)]
        assert fidelities[-1] is None  # the last rung trains fully
        assert fidelities[0][0] < fidelities[1][0] and fidelities[0][1] <= fidelities[1][1]  # rows and epochs grow


def test_surrogate_is_refit_every_step_on_all_measurements(customers, monkeypatch):
    fits = []
    real = progressive.VotingRegressor.fit

    def counting(self, X, y, **kw):
        fits.append(len(y))
        return real(self, X, y, **kw)

    monkeypatch.setattr(progressive.VotingRegressor, "fit", counting)
    X, _ = customers
    search = _fit(X)
    steps = search.step_history_
    assert len(steps) == 2 and len(fits) == len(steps) - 1  # no surrogate before anything is measured
    for step, n in zip(steps[1:], fits):
        before = [r for r in search.search_history_ if r["step"] < min(
            r2["step"] for r2 in search.search_history_ if r2["expansion_step"] == step["step"]
            and r2["rung"] is not None) and r["architecture"].head == "linear"]
        assert step["surrogate_n_train"] == n == len(before)
    grown = [r for r in search.search_history_ if r["expansion_step"] == 1]
    assert all(np.isfinite(r["predicted"]) for r in grown)
    assert search.surrogate_ is not None


def test_patience_stops_the_growth(customers):
    X, _ = customers
    space = {**SMALL_SPACE, "max_depth": 3}
    # A score that never improves: growth stops after `patience` steps without improvement.
    flat = _fit(X, search_space=space, scoring=lambda Z: 1.0, patience=1)
    assert flat.stop_reason_ == "patience" and len(flat.step_history_) == 2
    assert [s["improved"] for s in flat.step_history_] == [True, False]
    longer = _fit(X, search_space=space, scoring=lambda Z: 1.0, patience=2)
    assert longer.stop_reason_ == "max_depth" and len(longer.step_history_) == 3


def test_only_full_training_wins_and_savings_add_up(customers):
    X, _ = customers
    search = _fit(X)
    winner = [r for r in search.search_history_ if r.get("selection_score") == search.best_score_]
    assert winner and all(r["fidelity"] is None for r in winner)
    savings = search.computational_savings_
    assert savings["n_expansions"] == sum(s["n_expansions"] for s in search.step_history_)
    assert savings["n_full_trainings"] == sum(s["n_full"] for s in search.step_history_)
    assert savings["full_training_ratio"] == savings["n_expansions"] / savings["n_full_trainings"]
    assert savings["row_epoch_ratio"] > 1
    assert -1 <= search.prescreen_tau_ <= 1 or math.isnan(search.prescreen_tau_)
    assert not hasattr(search, "_run")


def test_prescreen_changes_the_first_step(customers):
    X, _ = customers
    plain = _fit(X)
    screened = _fit(X, prescreen=True)
    first = [r for r in screened.search_history_ if r["expansion_step"] == 0 and r["rung"] == 0]
    assert all(np.isfinite(r["prescreen"]) for r in first)
    assert len(screened.step_history_) >= 1 and plain.step_history_[0]["n_expansions"] == 12


def test_naswot_score_is_deterministic_and_label_free():
    X = np.random.RandomState(0).randn(64, 5)
    arch = Architecture((Block("gated", 16), Block("linear", 8, activation="tanh")))
    assert naswot_score(arch, X, 2, seed=1) == naswot_score(arch, X, 2, seed=1)
    assert np.isfinite(naswot_score(Architecture(()), X, 2))
    assert math.isnan(naswot_score(Architecture(head="identity"), X, 2))


def test_same_random_state_gives_identical_results(customers):
    X, _ = customers
    a, b = _fit(X), _fit(X)
    assert [r["architecture"] for r in a.search_history_] == [r["architecture"] for r in b.search_history_]
    assert [r["score"] for r in a.search_history_] == [r["score"] for r in b.search_history_]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("clusterer", [lambda: KMeans(3, n_init=2, random_state=0),
                                       lambda: GaussianMixture(3, random_state=0)], ids=["KMeans", "GMM"])
def test_pipeline_and_pickle(customers, clusterer):
    X, _ = customers
    pipe = make_pipeline(ProgressiveFeatureSearch(n_components=2, n_clusters=3, **{**FAST_PROG, "beam_width": 2}),
                         clusterer())
    labels = pipe.fit(X).predict(X)
    assert len(np.unique(labels)) > 1
    assert np.array_equal(pickle.loads(pickle.dumps(pipe)).predict(X), labels)


def test_grid_search(customers):
    X, _ = customers
    one_step = {**FAST_PROG, "beam_width": 2, "search_space": {**SMALL_SPACE, "max_depth": 1}}
    pipe = make_pipeline(ProgressiveFeatureSearch(n_components=2, n_clusters=3, **one_step), KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"progressivefeaturesearch__eta": [2, 3]}, scoring=silhouette_scorer, cv=2).fit(X)
    assert np.isfinite(grid.best_score_)
    assert grid.best_params_["progressivefeaturesearch__eta"] in (2, 3)


@pytest.mark.parametrize("params", [{"beam_width": 0}, {"eta": 1}, {"patience": 0}, {"prescreen": "yes"},
                                    {"n_rungs": 0}, {"max_depth": 0}])
def test_bad_parameters_raise(customers, params):
    X, _ = customers
    with pytest.raises(ValueError):
        ProgressiveFeatureSearch(**params).fit(X)
