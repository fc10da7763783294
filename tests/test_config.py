"""sknas.config: settings that change results, read at fit, carried to workers, recorded and checked."""

import math
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
                      "fixed_map_margin": 0.02, "knn_exact_max_rows": 50_000, "lda_restarts": 5,
                      "lda_max_rows": 20_000, "knn_reference_rows": 10_000, "auto_min_epochs": 40,
                      "min_updates": 1000, "convergence_tol": 0.01, "convergence_min_share": 0.3, "race_headroom": 0.1,
                      "max_labelled_rows": 2000, "restatement_nmi": 0.7, "max_discrete_values": 10,
                      "restatement_columns": 2, "min_segment_share": 0.02, "min_segment_rows": 3, "min_stability": 0.8,
                      "prefer_at_least": 3, "split_dip_alpha": 0.05, "few_segments_max_nmi": 0.5,
                      "stability_splits": 6, "deskew_skewness": math.inf,
                      "retry_deskew_skewness": 1.0}
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


def test_the_module_level_names_are_the_defaults():
    """The names other code imports are the documented defaults; the value in force is the config's."""
    from sknas.evaluation import judge, k_choice, selection
    from sknas.space import builder
    from sknas.training import budget, objectives

    defaults = get_config()
    assert (judge.RESTATEMENT_NMI, judge.MAX_DISCRETE_VALUES) == (defaults["restatement_nmi"],
                                                                 defaults["max_discrete_values"])
    assert (k_choice.MIN_SEGMENT_SHARE, k_choice.MIN_STABILITY, k_choice.PREFER_AT_LEAST,
            k_choice.STABILITY_SPLITS) == (0.02, 0.8, 3, 6)
    assert (selection.MAX_LABELLED_ROWS, builder.LDA_MAX_ROWS, objectives.KNN_REFERENCE_ROWS) == (2000, 20_000, 10_000)
    assert (budget.AUTO_MIN_EPOCHS, budget.MIN_UPDATES) == (40, 1000)


def test_the_training_budget_settings_change_what_auto_means():
    from sknas.training.budget import resolve_epochs, supernet_epochs

    assert resolve_epochs("auto", 500, 512) == 1000 and resolve_epochs("auto", 100_000, 512) == 40
    with config_context(min_updates=300, auto_min_epochs=10):
        assert resolve_epochs("auto", 500, 512) == 300  # one update an epoch
        assert resolve_epochs("auto", 100_000, 512) == 10 and supernet_epochs("auto") == 10
        assert resolve_epochs(7, 500, 512) == 7  # an int is kept as given
    assert resolve_epochs("auto", 500, 512) == 1000


def test_the_judges_settings_change_which_k_is_admissible():
    import numpy as np
    from sklearn.cluster import KMeans

    from sknas.evaluation.judge import discrete_columns
    from sknas.evaluation.k_choice import choose_k, split_stability

    rng = np.random.default_rng(0)
    # Four blobs, one of them small (12 of 312 rows, 3.8%): k=4 is admissible at the default 2% share.
    Z = np.vstack([rng.normal(c, 0.3, (n, 2)) for c, n in (((0, 0), 100), ((0, 6), 100), ((8, 0), 100),
                                                          ((8, 6), 12))])
    labelings = {k: KMeans(k, n_init=5, random_state=0).fit_predict(Z) for k in (3, 4)}
    k, evidence = choose_k(Z, (3, 4), labelings)
    assert k == 4 and evidence[4]["admissible"]
    with config_context(min_segment_share=0.05):
        k, evidence = choose_k(Z, (3, 4), labelings)
    assert k == 3 and "smallest segment" in evidence[4]["reason"]
    assert choose_k(Z, (3, 4), labelings, min_share=0.05)[0] == 3  # the keyword still wins over the default
    with config_context(min_segment_share=0.05):
        assert choose_k(Z, (3, 4), labelings, min_share=0.02)[0] == 4  # ... and over the setting
    # The floor in rows: the 12-row blob is 3.8% of the rows but fewer rows than a floor of 13.
    with config_context(min_segment_rows=13):
        k, evidence = choose_k(Z, (3, 4), labelings)
    assert k == 3 and evidence[4]["reason"] == "smallest segment 3.8% of rows (12 rows)"
    assert evidence[4]["smallest_rows"] == 12 and choose_k(Z, (3, 4), labelings, min_rows=13)[0] == 3
    # A stability below the setting makes a k inadmissible; the setting moves the bar.
    assert choose_k(Z, (3, 4), labelings, stability={3: 0.85, 4: 0.75})[0] == 3
    with config_context(min_stability=0.7):
        assert choose_k(Z, (3, 4), labelings, stability={3: 0.85, 4: 0.75})[0] == 4
    # The number of half-splits, and which columns count as discrete.
    calls = []
    fit = lambda rows, n, seed: calls.append(seed) or KMeans(n, n_init=1, random_state=seed).fit(rows)  # noqa: E731
    with config_context(stability_splits=2):
        split_stability(Z, 3, fit)
    assert len(calls) == 4  # two fits a split
    counts = np.arange(len(Z)) % 12  # a numeric column with 12 values
    assert discrete_columns(counts[:, None]) == {}
    with config_context(max_discrete_values=12):
        assert list(discrete_columns(counts[:, None])) == ["x0"]


def test_a_candidate_in_another_thread_is_scored_and_labelled_under_the_fit_settings(customers):
    """Not only training: the labels and embedding a candidate keeps follow the fit's max_labelled_rows."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(customers[0]).astype(np.float32)  # as a search hands them on
    with config_context(max_labelled_rows=50, auto_min_epochs=1, min_updates=1):
        settings = {"n_components": 2, "n_clusters": 3, "objective": "reconstruction", "scoring": "silhouette",
                    "max_epochs": "auto", "batch_size": 64, "learning_rate": 1e-3, "max_time": None,
                    "device": "cpu", "config": get_config()}
    data = {"X_train": X[:200], "X_valid": X[200:], "X_score": X[200:], "y_train": None, "y_valid": None}
    records = []
    thread = threading.Thread(target=lambda: records.append(sknas.search.candidates.evaluate_candidate(
        Architecture((Block("linear", 8),)), 0, data, settings)))
    thread.start()
    thread.join()
    (record,) = records
    assert len(X) - 200 > 50 and record["valid"]
    assert len(record["labels"]) == 50 and len(record["embedding"]) == 50
    assert record["n_epochs"] == 1  # "auto" under the fit's auto_min_epochs and min_updates


def test_every_setting_is_documented_with_its_default():
    import sknas.config

    for name, value in sknas.config._DEFAULTS.items():
        kind = "int" if name in sknas.config._COUNTS else "float"
        assert f"\n{name} : {kind}, default=" in sknas.config.__doc__, name
