"""EvoFeatureSearch: the evolution primitives, population rules, cache, determinism and Dask."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline

import sknas.search.candidates
from sknas import Architecture, EvoFeatureSearch, SearchSpace
from sknas.search.evolution import population_of, tournament
from sknas.space import OPS, build_network

from .conftest import FAST

FAST_EVO = {**FAST, "population_size": 3, "max_trials": 7, "search_space": {"widths": (8,), "max_depth": 2}}

spaces = st.builds(
    SearchSpace,
    ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=len(OPS), unique=True).map(tuple)
    .filter(lambda ops: ops != ("zero",)),
    widths=st.lists(st.integers(1, 16), min_size=1, max_size=3, unique=True).map(tuple),
    max_depth=st.integers(0, 4),
    residual=st.sampled_from([(False,), (True,), (False, True)]),
    include_identity=st.booleans(),
)


def _buildable(arch, n_features=4, n_components=2):
    net = build_network(arch, n_features, n_components).eval()
    out = net(torch.randn(3, n_features))
    return out.shape == (3, arch.output_width(n_features, n_components)) and bool(torch.isfinite(out).all())


@settings(max_examples=60, deadline=None)
@given(space=spaces, seed=st.integers(0, 2**31 - 1))
def test_mutation_output_is_a_valid_buildable_member(space, seed):
    rng = np.random.RandomState(seed)
    parent = space.sample(rng)
    child = space.mutate(parent, rng)
    assert isinstance(child, Architecture) and space.contains(child)
    assert _buildable(child)


@settings(max_examples=60, deadline=None)
@given(space=spaces, seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["one_point", "uniform"]))
def test_crossover_output_is_a_valid_buildable_member(space, seed, kind):
    rng = np.random.RandomState(seed)
    child = space.crossover(space.sample(rng), space.sample(rng), rng, kind=kind)
    assert isinstance(child, Architecture) and space.contains(child)
    assert _buildable(child)


def _records(scores):
    return [{"trial": i, "score": s, "valid": True, "status": "ok", "architecture": Architecture(())}
            for i, s in enumerate(scores)]


def test_aging_removes_the_oldest_not_the_worst():
    records = _records([0.9, 0.1, 0.2, 0.3, 0.4])
    members = population_of(records, population_size=3, aging=True, elitism=0)
    assert [r["trial"] for r in members] == [2, 3, 4]  # trial 0 (the best) left because it is oldest


def test_elitism_keeps_the_best_however_old():
    records = _records([0.9, 0.1, 0.2, 0.3, 0.4])
    members = population_of(records, population_size=3, aging=True, elitism=1)
    assert [r["trial"] for r in members] == [0, 3, 4]


def test_without_aging_the_worst_leave_and_failed_never_join():
    records = _records([0.9, 0.1, 0.2, 0.3, 0.4])
    records[3]["status"] = "failed"
    members = population_of(records, population_size=3, aging=False)
    assert sorted(r["trial"] for r in members) == [0, 2, 4]


def test_tournament_returns_the_fittest_drawn():
    records = _records([0.1, 0.5, 0.3])
    assert tournament(records, 3, np.random.RandomState(0))["trial"] == 1


def test_cache_prevents_retraining(customers, monkeypatch):
    calls = []
    real = sknas.search.candidates.evaluate_candidate

    def counting(arch, seed, data, settings):
        calls.append(arch)
        return real(arch, seed, data, settings)

    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate", counting)
    tiny = {"ops": ("linear",), "widths": (8,), "max_depth": 1, "activations": ("relu",), "norms": ("none",),
            "dropouts": (0.0,), "residual": (False,), "include_identity": False}
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3,
                              **{**FAST_EVO, "search_space": tiny, "max_trials": 9}, min_fidelity=1.0).fit(X)
    # The space holds two genomes (the linear map and one hidden block): each is trained once.
    assert len(calls) == len(set(calls)) == 2
    assert len(search.search_history_) == 9
    assert sum(r["cached"] for r in search.search_history_) == 7


def test_same_random_state_gives_identical_results(customers):
    X, _ = customers
    a = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO).fit(X)
    b = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO).fit(X)
    assert [r["architecture"] for r in a.search_history_] == [r["architecture"] for r in b.search_history_]
    assert [r["score"] for r in a.search_history_] == [r["score"] for r in b.search_history_]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_generation_stats_fidelity_and_lineage(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO).fit(X)
    stats = search.generation_stats_
    assert [g["generation"] for g in stats] == [0, 1, 2]
    assert all(g["worst"] <= g["median"] <= g["best"] for g in stats)
    assert all(1 <= g["n_distinct"] <= 3 and g["mean_distance"] >= 0 for g in stats)
    rows = [g["fidelity"][0] for g in stats]
    assert rows == sorted(rows) and rows[-1] == round(len(X) * 0.8)  # grows to every training row
    assert sum(g["n_evaluated"] + g["n_cached"] for g in stats) == len(search.search_history_)
    lineage = search.lineage_
    assert lineage[0]["score"] == search.best_score_
    for child, parent in zip(lineage, lineage[1:]):
        assert child["parents"][0] == parent["trial"]
    assert lineage[-1]["parents"] == []


def test_children_record_their_parents(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO).fit(X)
    for record in search.search_history_:
        assert record["generation"] == record["step"]
        assert (record["parents"] == []) == (record["generation"] == 0)
        assert all(p < record["trial"] for p in record["parents"])


def test_pipeline_and_pickle(customers):
    X, _ = customers
    pipe = make_pipeline(EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO), KMeans(3, n_init=2,
                                                                                            random_state=0))
    labels = pipe.fit_predict(X)
    assert np.array_equal(pickle.loads(pickle.dumps(pipe)).predict(X), labels)


def test_local_dask_cluster_matches_sequential(customers):
    distributed = pytest.importorskip("distributed", reason="the dask extra is absent: pip install 'sknas[dask]'")
    from joblib import parallel_backend

    X, _ = customers
    params = {**FAST_EVO, "max_trials": 6}
    sequential = EvoFeatureSearch(n_components=2, n_clusters=3, **params, n_jobs=1).fit(X)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster):
        with parallel_backend("dask"):
            on_dask = EvoFeatureSearch(n_components=2, n_clusters=3, **params, n_jobs=2).fit(X)
    assert [r["architecture"] for r in on_dask.search_history_] == \
        [r["architecture"] for r in sequential.search_history_]
    # Equal up to float rounding (a worker's float32 sums have differed at 1e-9 under heavy load).
    assert [r["score"] for r in on_dask.search_history_] == \
        pytest.approx([r["score"] for r in sequential.search_history_], rel=1e-6)
    np.testing.assert_allclose(on_dask.transform(X), sequential.transform(X), rtol=1e-5, atol=1e-6)


def test_grid_search_with_label_free_scorer(customers):
    from sklearn.model_selection import GridSearchCV

    from sknas.metrics import silhouette_scorer

    X, _ = customers
    pipe = make_pipeline(EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO), KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"evofeaturesearch__aging": [True, False]}, scoring=silhouette_scorer, cv=2).fit(X)
    assert np.isfinite(grid.best_score_)
    assert grid.best_params_["evofeaturesearch__aging"] in (True, False)


def test_batched_generations_match_the_contract(customers):
    """batch_candidates=True trains batchable children as one model; records and results stay complete."""
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO, batch_candidates=True).fit(X)
    batched = [r for r in search.search_history_ if r.get("batched")]
    assert batched, "no generation was batched"
    for record in batched:
        assert record["status"] == "ok" and np.isfinite(record["score"]) and record["time"] > 0
        assert record["architecture"].head != "identity"  # the identity map is never batched
    again = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO, batch_candidates=True).fit(X)
    assert [r["score"] for r in again.search_history_] == [r["score"] for r in search.search_history_]
    assert search.transform(X).shape == (len(X), search.n_components_)  # the identity map keeps every column


def test_batching_is_off_by_default_on_cpu(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **FAST_EVO).fit(X)
    assert not any(r.get("batched") for r in search.search_history_)


def test_fixed_maps_always_run_at_full_fidelity(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **{**FAST_EVO, "population_size": 4, "max_trials": 8}
                              ).fit(X)
    for record in search.search_history_:
        if record["architecture"].head in ("identity", "lda"):
            assert record["fidelity"] is None
        else:
            assert record["fidelity"] is None or record["fidelity"][0] < round(0.8 * len(X))  # None: full
    assert any(r["architecture"].head == "lda" for r in search.search_history_)


def test_winner_is_chosen_among_fully_trained_candidates(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **{**FAST_EVO, "population_size": 4, "max_trials": 12}
                              ).fit(X)
    full = [r for r in search.search_history_ if r["valid"] and r["fidelity"] is None]
    partial = [r for r in search.search_history_ if r["valid"] and r["fidelity"] is not None]
    assert full and partial  # both kinds exist, so the rule decides something
    assert search.architecture_ in {r["architecture"] for r in full}
    assert search.best_score_ == max(r["selection_score"] for r in full)
    assert search.lineage_[0]["architecture"] == search.architecture_


def test_a_search_stopped_before_full_fidelity_lets_every_candidate_compete(customers):
    X, _ = customers
    search = EvoFeatureSearch(n_components=2, n_clusters=3, **{**FAST_EVO, "population_size": 4, "max_trials": 12},
                              max_time=1e-6).fit(X)  # only the first generation runs, at low fidelity
    assert all(r["step"] == 0 for r in search.search_history_)
    networks = [r for r in search.search_history_ if r["valid"] and r["fidelity"] is not None]
    assert networks and all("selection_score" in r for r in networks)
    assert "_trained_fully" not in vars(search)
