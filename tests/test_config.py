"""sknas.config: settings that change results, read at fit, carried to workers, recorded and checked."""

import threading

import pytest

import sknas
import sknas.search.candidates
from sknas import Architecture, Block, RandomFeatureSearch
from sknas.config import config_context, get_config, set_config
from sknas.io.checkpoint import CheckpointError

from .conftest import FAST_SEARCH


def test_defaults_and_a_context_that_restores_them():
    before = get_config()
    assert before == {"search_max_rows": 20_000, "score_max_rows": 2000, "final_max_row_visits": 5_000_000,
                      "fixed_map_margin": 0.02, "knn_exact_max_rows": 50_000, "lda_restarts": 5}
    with config_context(score_max_rows=10, fixed_map_margin=0.0):
        assert get_config()["score_max_rows"] == 10 and get_config()["fixed_map_margin"] == 0.0
        with config_context(score_max_rows=20):
            assert get_config()["score_max_rows"] == 20
        assert get_config()["score_max_rows"] == 10
    assert get_config() == before
    with pytest.raises(RuntimeError), config_context(lda_restarts=1):
        raise RuntimeError  # an error inside the block restores the settings too
    assert get_config() == before


@pytest.mark.parametrize("settings, error", [({"search_rows": 5}, TypeError), ({"lda_restarts": 0}, ValueError),
                                             ({"score_max_rows": 2.5}, ValueError),
                                             ({"fixed_map_margin": -0.1}, ValueError),
                                             ({"knn_exact_max_rows": True}, ValueError)])
def test_unknown_settings_and_bad_values_raise(settings, error):
    before = get_config()
    with pytest.raises(error):
        set_config(**settings)
    assert get_config() == before


def test_settings_are_per_thread():
    seen = []
    with config_context(lda_restarts=2):
        thread = threading.Thread(target=lambda: seen.append(get_config()["lda_restarts"]))
        thread.start()
        thread.join()
    assert seen == [5]


def test_a_candidate_evaluated_in_another_thread_runs_under_the_fit_settings(monkeypatch, customers):
    """Workers (threads, processes) have their own settings; the candidate's carry the fit's."""
    X, _ = customers
    seen = []
    real = sknas.search.candidates.build_network

    def build(*args, **kwargs):
        seen.append(get_config()["lda_restarts"])
        return real(*args, **kwargs)

    monkeypatch.setattr(sknas.search.candidates, "build_network", build)
    with config_context(lda_restarts=2):
        settings = {"n_components": 2, "n_clusters": 3, "objective": "reconstruction", "scoring": "silhouette",
                    "max_epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "max_time": None,
                    "device": "cpu", "config": get_config()}
    data = {"X_train": X[:200], "X_valid": X[200:], "X_score": X[200:], "y_train": None, "y_valid": None}
    thread = threading.Thread(target=lambda: sknas.search.candidates.evaluate_candidate(
        Architecture((Block("linear", 8),)), 0, data, settings))
    thread.start()
    thread.join()
    assert seen == [2]


def test_the_margin_setting_decides_a_close_call():
    from sknas.search.base import _prefer_fixed_map

    lda = {"architecture": Architecture(head="lda"), "selection_score": 0.63}
    network = {"architecture": Architecture((Block("linear", 8),)), "selection_score": 0.645}
    assert _prefer_fixed_map(network, [lda, network], "silhouette") is lda
    with config_context(fixed_map_margin=0.0):
        assert _prefer_fixed_map(network, [lda, network], "silhouette") is network


def test_fitted_models_record_the_settings_and_a_checkpoint_refuses_other_ones(customers, tmp_path):
    X, _ = customers
    path = tmp_path / "search.json"
    with config_context(score_max_rows=100):
        est = RandomFeatureSearch(n_components=2, n_clusters=3, checkpoint=str(path), **FAST_SEARCH).fit(X)
    assert est.provenance_["config"] == {**get_config(), "score_max_rows": 100}
    with pytest.raises(CheckpointError, match="sknas.config settings"):
        RandomFeatureSearch(n_components=2, n_clusters=3, checkpoint=str(path), **FAST_SEARCH).fit(X)
    with config_context(score_max_rows=100):  # the same settings resume
        RandomFeatureSearch(n_components=2, n_clusters=3, checkpoint=str(path), **FAST_SEARCH).fit(X)
