"""Large data: the search's row cap and the approximate k-NN graph, exercised at small thresholds."""

import numpy as np
import pytest
import torch

import sknas.base
import sknas.search.candidates
from sknas import RandomFeatureSearch
from sknas.config import config_context, get_config
from sknas.training.objectives import NeighborsObjective, _sampled_neighbors

from .conftest import FAST_SEARCH


def test_sampled_neighbors_are_near_rows_of_the_sample():
    rows = np.random.RandomState(0).standard_normal((400, 5)).astype(np.float32)
    with config_context(knn_reference_rows=50):
        ind = _sampled_neighbors(rows, 4)
        again = _sampled_neighbors(rows, 4)
    assert ind.shape == (400, 4)
    assert not (ind == np.arange(400)[:, None]).any()  # never a row itself
    assert len(np.unique(ind)) <= 50  # all from the reference sample
    assert all(len(set(r)) == 4 for r in ind)
    np.testing.assert_array_equal(ind, again)  # deterministic
    # Nearer than random rows of the sample.
    d_nn = np.linalg.norm(rows[ind] - rows[:, None], axis=-1).mean()
    d_rand = np.linalg.norm(rows[np.unique(ind)][None] - rows[:, None], axis=-1).mean()
    assert d_nn < 0.8 * d_rand


def test_neighbors_objective_switches_to_the_sampled_graph():
    X = torch.randn(300, 4)
    exact = NeighborsObjective(n_neighbors=5).prepare(X)
    assert len(torch.unique(exact.knn)) > 60  # 300 rows: the exact graph by default
    with config_context(knn_exact_max_rows=100, knn_reference_rows=60):
        data = NeighborsObjective(n_neighbors=5).prepare(X)
    assert data.knn.shape == (300, 5)
    assert len(torch.unique(data.knn)) <= 60


def test_search_runs_on_a_capped_subsample_and_the_final_net_on_all_rows(monkeypatch, customers):
    X, _ = customers
    seen = []
    evaluate = sknas.search.candidates.evaluate_candidate
    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate",
                        lambda a, s, data, settings: seen.append((len(data["X_train"]), len(data["X_valid"])))
                        or evaluate(a, s, data, settings))
    params = {**FAST_SEARCH, "search_space": {**FAST_SEARCH["search_space"], "include_identity": False}}
    with config_context(search_max_rows=100):
        est = RandomFeatureSearch(n_components=2, n_clusters=3, **params).fit(X)
    assert est.provenance_["config"]["search_max_rows"] == 100  # recorded with the fitted model
    assert seen and all(n_train + n_valid <= 100 and n_valid >= 3 for n_train, n_valid in seen)
    assert seen[0][0] == pytest.approx(4 * seen[0][1], abs=2)  # the split's proportions are kept
    assert len(est.net_.history[-1, "batches"]) == -(-len(X) // 64)  # the final net: every row, each epoch
    assert est.transform(X).shape == (len(X), est.n_components_)


def test_final_network_epochs_are_capped_by_row_visits(customers):
    X, _ = customers
    params = {**FAST_SEARCH, "max_epochs": 3, "search_space": {**FAST_SEARCH["search_space"],
                                                                "include_identity": False}}
    with config_context(final_max_row_visits=len(X) + 1):  # room for one epoch
        est = RandomFeatureSearch(n_components=2, n_clusters=3, **params).fit(X)
    assert len(est.net_.history) == 1
    assert all(r["n_epochs"] <= 3 for r in est.search_history_)  # the search keeps max_epochs


def test_search_rows_leave_small_data_untouched():
    order = np.arange(50)
    assert sknas.base._search_rows(order, order) == (order, order)
    train, valid = sknas.base._search_rows(np.arange(40_000), np.arange(40_000, 50_000))
    assert len(train) + len(valid) <= get_config()["search_max_rows"] and len(train) == 4 * len(valid)
