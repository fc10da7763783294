"""ParetoFeatureSearch and the multi-objective primitives: brute-force checks, selection, contract."""

import itertools
import pickle

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline

from sknas import Architecture, Block, ParetoFeatureSearch, RandomFeatureSearch
from sknas.evaluation.multiobjective import (
    crowding_distance,
    dominates,
    hypervolume,
    knee_index,
    non_dominated_sort,
)
from sknas.search.pareto import nsga2_population, objective_matrix, pareto_records

from .conftest import FAST

matplotlib.use("Agg")

FAST_PARETO = {**FAST, "population_size": 3, "max_trials": 7, "search_space": {"widths": (8, 16), "max_depth": 2}}

# Small integer grids make ties and duplicate points common: the hard cases for sorting and volume.
fronts = st.integers(1, 3).flatmap(lambda m: st.lists(
    st.lists(st.integers(0, 5), min_size=m + 1, max_size=m + 1), min_size=1, max_size=9))


def _brute_force_ranks(F):
    """Peel the non-dominated set off repeatedly, straight from the definition."""
    remaining, ranks, rank = set(range(len(F))), {}, 0
    while remaining:
        layer = {i for i in remaining if not any(dominates(F[j], F[i]) for j in remaining)}
        ranks.update(dict.fromkeys(layer, rank))
        remaining -= layer
        rank += 1
    return ranks


def _brute_force_hypervolume(F, reference):
    """Sum the grid cells (cut at every coordinate) whose lower corner some point dominates weakly."""
    cuts = [sorted({*F[:, k][F[:, k] < reference[k]], reference[k]}) for k in range(F.shape[1])]
    total = 0.0
    for cell in itertools.product(*[range(len(c) - 1) for c in cuts]):
        corner = np.array([cuts[k][i] for k, i in enumerate(cell)])
        if np.any(np.all(F <= corner, axis=1)):
            total += np.prod([cuts[k][i + 1] - cuts[k][i] for k, i in enumerate(cell)])
    return total


@settings(max_examples=150, deadline=None)
@given(points=fronts)
def test_non_dominated_sort_matches_brute_force(points):
    F = np.array(points, dtype=float)
    fronts_found = non_dominated_sort(F)
    assert sorted(i for front in fronts_found for i in front) == list(range(len(F)))
    expected = _brute_force_ranks(F)
    for rank, front in enumerate(fronts_found):
        assert all(expected[i] == rank for i in front)


@settings(max_examples=150, deadline=None)
@given(points=fronts, ref_shift=st.integers(-1, 2))
def test_hypervolume_matches_brute_force(points, ref_shift):
    F = np.array(points, dtype=float)
    F, reference = F[:, :-1], np.full(F.shape[1] - 1, 5.0 + ref_shift)  # 1 to 3 objectives
    assert hypervolume(F, reference) == pytest.approx(_brute_force_hypervolume(F, reference))


def test_hypervolume_of_random_3d_and_4d_fronts_matches_brute_force():
    rng = np.random.RandomState(0)
    for m in (3, 4):
        for _ in range(10):
            F = rng.rand(6, m)
            assert hypervolume(F, np.ones(m)) == pytest.approx(_brute_force_hypervolume(F, np.ones(m)))


def test_hypervolume_ignores_points_outside_the_reference_and_checks_shape():
    assert hypervolume([[2.0, 0.0], [0.5, 0.5]], [1.0, 1.0]) == pytest.approx(0.25)
    assert hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="reference"):
        hypervolume([[0.0, 0.0]], [1.0])


def test_crowding_distance_boundaries_are_infinite_and_interior_finite():
    rng = np.random.RandomState(1)
    F = rng.rand(8, 3)
    distance = crowding_distance(F)
    boundary = {int(np.argmin(F[:, k])) for k in range(3)} | {int(np.argmax(F[:, k])) for k in range(3)}
    assert all(np.isinf(distance[i]) for i in boundary)
    assert all(np.isfinite(distance[i]) and distance[i] > 0 for i in set(range(8)) - boundary)
    assert np.isinf(crowding_distance([[0.0, 1.0], [1.0, 0.0]])).all()


def test_knee_is_the_point_furthest_below_the_line_through_the_extremes():
    F = [[0.0, 10.0], [1.0, 2.0], [3.0, 1.0], [10.0, 0.0]]
    assert knee_index(F) == 1
    with pytest.raises(ValueError):
        knee_index(np.empty((0, 2)))


def _record(trial, score, params, latency=None, valid=True):
    arch = Architecture((Block("linear", trial + 1),))  # distinct genome per trial
    return {"architecture": arch, "trial": trial, "step": 0, "score": score, "params": params, "flops": 2 * params,
            "latency_ms": latency, "valid": valid, "status": "ok"}


def test_pareto_records_and_nsga2_survivors():
    records = [_record(0, 0.5, 100), _record(1, 0.6, 1000), _record(2, 0.4, 1000), _record(3, 0.7, 10 ** 5),
               _record(4, 0.9, 10, valid=False)]
    front = pareto_records(records, ("score", "params"))
    assert [r["trial"] for r in front] == [3, 1, 0]  # best score first; trial 2 is dominated, 4 invalid
    survivors = nsga2_population(records, ("score", "params"), 3)
    assert [(r["trial"], rank) for r, rank, _ in survivors] == [(0, 0), (3, 0), (1, 0)]
    assert objective_matrix(records[:1], ("score", "params")).tolist() == [[-0.5, pytest.approx(np.log10(101))]]


@pytest.fixture(scope="module")
def fitted():
    from sknas.datasets import make_customers

    X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    return X, ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO).fit(X)


def test_fitted_front_hypervolume_history_and_base_attributes(fitted):
    X, search = fitted
    front = search.pareto_front_
    assert front and all(r["valid"] for r in front)
    for a in front:
        assert not any(b["score"] >= a["score"] and b["params"] <= a["params"]
                       and (b["score"] > a["score"] or b["params"] < a["params"]) for b in search.search_history_
                       if b["valid"])
    steps = sorted({r["step"] for r in search.search_history_})
    assert len(search.hypervolume_history_) == len(steps)
    assert np.all(np.diff(search.hypervolume_history_) >= -1e-12)  # the front found so far never shrinks
    assert search.architecture_ in {r["architecture"] for r in front}
    assert len(search.search_history_) == search.n_trials_ == 7
    assert {"parents", "generation"} <= set(search.search_history_[-1])
    assert all(r["architecture"] != search.architecture_ for r in search.runner_ups_)
    assert search.transform(X).shape == (len(X), search.n_components_)


def test_select_best_quality_takes_the_top_score_and_knee_is_no_costlier(fitted):
    X, knee = fitted
    best = ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO, select="best_quality").fit(X)
    assert [r["architecture"] for r in best.search_history_] == [r["architecture"] for r in knee.search_history_]
    top = max((r for r in best.search_history_ if r["valid"]), key=lambda r: r["score"])
    assert best.architecture_ == top["architecture"] and best.best_score_ == top["score"]
    chosen = next(r for r in knee.pareto_front_ if r["architecture"] == knee.architecture_)
    assert chosen["params"] <= top["params"]


def test_constraints_filter_and_name_themselves_when_unmet(customers):
    X, _ = customers
    search = ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO, max_params=0).fit(X)
    assert search.architecture_.head in ("identity", "lda")  # the only maps without parameters
    space = {"widths": (8,), "max_depth": 1, "include_identity": False}
    with pytest.raises(ValueError, match="max_params=1"):
        ParetoFeatureSearch(n_components=2, n_clusters=3, **{**FAST_PARETO, "search_space": space},
                            max_params=1).fit(X)
    with pytest.raises(ValueError, match="max_latency_ms=1e-09"):
        ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO, max_latency_ms=1e-9).fit(X)


def test_latency_objective_is_measured_only_when_asked(customers):
    X, _ = customers
    params = {**FAST_PARETO, "max_trials": 4}
    plain = ParetoFeatureSearch(n_components=2, n_clusters=3, **params).fit(X)
    assert all("latency_ms" not in r for r in plain.search_history_)
    timed = ParetoFeatureSearch(n_components=2, n_clusters=3, **params, objectives=("score", "params", "latency"),
                                max_latency_ms=1e6).fit(X)
    assert all(r["latency_ms"] > 0 for r in timed.search_history_)
    assert all("latency_ms" in r for r in timed.pareto_front_)


@pytest.mark.parametrize("objectives", [("params",), ("score", "score"), "score", ("score", "memory"), ("score",)])
def test_bad_objectives_raise(objectives, customers):
    X, _ = customers
    with pytest.raises(ValueError, match="objectives"):
        ParetoFeatureSearch(n_components=2, objectives=objectives, **FAST_PARETO).fit(X)


def test_same_random_state_gives_identical_results(fitted):
    X, first = fitted
    again = ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO).fit(X)
    assert [r["architecture"] for r in again.search_history_] == [r["architecture"] for r in first.search_history_]
    assert again.hypervolume_history_ == first.hypervolume_history_
    np.testing.assert_array_equal(again.transform(X), first.transform(X))


@pytest.mark.parametrize("clusterer", [lambda: KMeans(3, n_init=2, random_state=0),
                                       lambda: GaussianMixture(3, random_state=0)], ids=["KMeans", "GMM"])
def test_pipeline_and_pickle(clusterer, customers):
    X, _ = customers
    pipe = make_pipeline(ParetoFeatureSearch(n_components=2, n_clusters=3, **FAST_PARETO), clusterer())
    labels = pipe.fit_predict(X)
    loaded = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(loaded.predict(X), labels)
    assert loaded[0].pareto_front_[0]["score"] == pipe[0].pareto_front_[0]["score"]


def test_grid_search_with_label_free_scorer(customers):
    from sklearn.model_selection import GridSearchCV

    from sknas.metrics import silhouette_scorer

    X, _ = customers
    pipe = make_pipeline(ParetoFeatureSearch(n_components=2, n_clusters=3, **{**FAST_PARETO, "max_trials": 4}),
                         KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"paretofeaturesearch__select": ["knee", "best_quality"]}, scoring=silhouette_scorer,
                        cv=2).fit(X)
    assert np.isfinite(grid.best_score_)


def test_every_search_still_exposes_its_score_params_front(customers):
    X, _ = customers
    search = RandomFeatureSearch(n_components=2, n_clusters=3, **{**FAST, "max_trials": 4}).fit(X)
    assert [r["architecture"] for r in search.pareto_front_] == \
        [r["architecture"] for r in pareto_records(search.search_history_, ("score", "params"))]


def test_plot_pareto_front_two_objectives_and_pairwise(fitted):
    from sknas.reporting.plotting import plot_pareto_front

    _, search = fitted
    ax = plot_pareto_front(search)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("params", "score")
    front_points = ax.collections[1].get_offsets()
    assert len(front_points) == len(search.pareto_front_)
    axes = plot_pareto_front(search.search_history_, objectives=("score", "params", "flops"))
    assert len(axes) == 3
    assert [(a.get_xlabel(), a.get_ylabel()) for a in axes] == [("params", "score"), ("flops", "score"),
                                                                ("params", "flops")]
