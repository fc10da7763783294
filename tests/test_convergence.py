"""A candidate on the default budget stops once its clusters stop sharpening (issue 22)."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from sknas import RandomFeatureSearch
from sknas.config import config_context
from sknas.space import Architecture, Block, build_network
from sknas.training import make_objective, seeded, train_candidate
from sknas.training.convergence import ScorePlateau


class Figures(ScorePlateau):
    """A monitor whose figures are given, to test the rule alone."""

    def __init__(self, figures, budget=100, **kwargs):
        super().__init__(torch.zeros(4, 2), n_clusters=2, budget=budget, **kwargs)
        self._figures = iter(figures)

    def _figure(self, encoder):
        return next(self._figures)


def decisions(monitor, updates):
    return [monitor.should_stop(None, u) for u in updates]


def test_checks_every_tenth_of_the_budget_and_never_before_the_min_share():
    monitor = Figures([0.5] * 10, budget=100, tol=0.01, min_share=0.4)
    # a flat figure: checks at 10, 20, 30, 40 updates; the stop waits for 40% of the budget
    assert decisions(monitor, [5, 10, 15, 20, 30, 40]) == [False, False, False, False, False, True]
    assert [u for u, _ in monitor.trace] == [10, 20, 30, 40]
    assert monitor.converged


def test_a_figure_still_rising_keeps_training():
    monitor = Figures([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], budget=60, tol=0.01, min_share=0.0)
    assert not any(decisions(monitor, [6, 12, 18, 24, 30, 36]))
    assert not monitor.converged


def test_a_slow_creep_that_adds_up_over_two_checks_keeps_training_a_plateau_stops():
    # +0.008 a check, below tol: over two checks +0.016 > tol, so training goes on (digits' networks creep so)
    creeping = Figures([0.500 + 0.008 * i for i in range(8)], budget=80, tol=0.01, min_share=0.0)
    assert not any(decisions(creeping, range(10, 81, 10)))
    # noise around 0.60: the smoothed figure does not beat its best of two checks before by 0.01
    noisy = Figures([0.60, 0.62, 0.59, 0.61, 0.60, 0.61], budget=60, tol=0.01, min_share=0.0)
    assert decisions(noisy, range(10, 61, 10)) == [False, False, True, True, True, True]


def test_min_share_one_turns_the_stop_off():
    monitor = Figures([0.5] * 10, budget=100, tol=0.01, min_share=1.0)
    assert not any(decisions(monitor, range(10, 101, 10)))
    assert monitor.trace == []  # nothing is even computed


def test_the_settings_come_from_sknas_config():
    with config_context(convergence_tol=0.05, convergence_min_share=0.5):
        monitor = ScorePlateau(torch.zeros(4, 2), n_clusters=2, budget=200)
    assert (monitor.tol, monitor.min_updates, monitor.every) == (0.05, 100, 20)


@pytest.fixture
def blobs_data():
    X, _ = make_blobs(150, n_features=5, centers=3, random_state=0)
    X = torch.as_tensor(((X - X.mean(0)) / X.std(0)).astype(np.float32))
    with seeded(0):
        encoder = build_network(Architecture((Block("linear", 16),)), 5, 2)
        objective = make_objective("neighbors", 5, encoder.n_outputs)
        return encoder, objective, objective.prepare(X), X


def test_train_candidate_stops_when_the_monitor_says_so(blobs_data):
    encoder, objective, data, X = blobs_data
    monitor = ScorePlateau(X, n_clusters=3, budget=300, tol=1.0, min_share=0.2)  # tol 1: never rising enough
    result = train_candidate(encoder, objective, data, max_epochs=300, batch_size=512, keep="last", stop=monitor)
    assert result.converged and not result.timed_out
    # checks every 30 updates; the first stop needs 20% of 300 updates and a figure from two checks before
    assert result.n_updates == result.n_epochs == 90
    assert math.isfinite(result.best_valid_loss)
    assert all(-1 <= figure <= 1 for _, figure in monitor.trace)


def test_train_candidate_counts_updates_without_a_monitor(blobs_data):
    encoder, objective, data, _ = blobs_data
    result = train_candidate(encoder, objective, data, max_epochs=3, batch_size=64, keep="last")
    assert (result.n_updates, result.n_epochs, result.converged) == (9, 3, False)  # 150 rows: 3 batches an epoch


def test_stop_needs_keep_last(blobs_data):
    encoder, objective, data, X = blobs_data
    with pytest.raises(ValueError, match="keep='last'"):
        train_candidate(encoder, objective, data, max_epochs=3, keep="best", stop=ScorePlateau(X, 3, 100))


SPACE = {"widths": (16,), "max_depth": 1, "include_identity": False}


def test_a_search_on_the_default_budget_records_the_stop_and_trains_the_final_network_as_long():
    X, _ = make_blobs(200, n_features=4, centers=3, random_state=1)
    search = RandomFeatureSearch(n_components=2, n_clusters=3, max_trials=3, search_space=SPACE,
                                 random_state=0, device="cpu").fit(X)
    networks = [r for r in search.search_history_ if r["n_updates"]]
    assert networks and all(r["n_updates"] <= 1000 for r in networks)
    assert any(r["converged"] for r in networks)  # well separated blobs: the clusters form early
    winner = [r for r in networks if r["architecture"] == search.architecture_]
    if winner and winner[0]["converged"]:
        assert len(search.net_.history) == winner[0]["n_updates"]  # 200 rows: one update an epoch


def test_an_explicit_budget_or_min_share_one_trains_every_candidate_fully():
    X, _ = make_blobs(200, n_features=4, centers=3, random_state=1)
    common = {"n_components": 2, "n_clusters": 3, "max_trials": 2, "search_space": SPACE, "random_state": 0,
              "device": "cpu"}
    explicit = RandomFeatureSearch(max_epochs=30, **common).fit(X)
    assert all(not r["converged"] for r in explicit.search_history_)
    assert {r["n_updates"] for r in explicit.search_history_ if r["n_updates"]} == {30}
    with config_context(convergence_min_share=1.0):
        full = RandomFeatureSearch(**common).fit(X)
    assert {r["n_updates"] for r in full.search_history_ if r["n_updates"]} == {1000}


def test_where_a_candidate_stops_does_not_depend_on_n_jobs():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=2)
    common = {"n_components": 2, "n_clusters": 3, "max_trials": 3, "search_space": SPACE, "random_state": 0,
              "device": "cpu"}
    one = RandomFeatureSearch(n_jobs=1, **common).fit(X)
    two = RandomFeatureSearch(n_jobs=2, **common).fit(X)
    assert [r["n_updates"] for r in one.search_history_] == [r["n_updates"] for r in two.search_history_]
    assert [r["converged"] for r in one.search_history_] == [r["converged"] for r in two.search_history_]
    assert str(one.architecture_) == str(two.architecture_)


def test_the_monitor_keeps_kmeans_warnings_to_itself():
    rows = torch.as_tensor(np.repeat(np.eye(3, dtype=np.float32), 10, axis=0))  # 3 distinct rows, 8 clusters
    monitor = ScorePlateau(rows, n_clusters=8, budget=10, min_share=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.should_stop(torch.nn.Identity(), 1)
    assert caught == []
    assert -1 <= monitor.trace[0][1] <= 1
