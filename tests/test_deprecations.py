"""Parameters that did nothing: each is implemented or deprecated (issue 24)."""

import warnings

import pytest

from sknas import DARTSFeatureSearch, EvoFeatureSearch, RandomFeatureSearch, RLFeatureSearch

from .conftest import FAST_SEARCH

SMALL = {"n_components": 2, "n_clusters": 3, **FAST_SEARCH}


@pytest.fixture
def X(customers):
    return customers[0][:150]


@pytest.mark.parametrize("max_trials", [1, 2, 10])
def test_darts_max_trials_caps_the_candidates_trained(max_trials, X):
    search = DARTSFeatureSearch(warmup_epochs=1, **{**SMALL, "max_trials": max_trials}).fit(X)
    history = search.search_history_
    # the discretised path, then the fixed maps (identity, LDA) as many as fit; no linear map beside them
    assert len(history) == min(max_trials, 3)
    assert history[0]["source"] == "darts"


@pytest.mark.parametrize("make", [
    pytest.param(lambda **p: DARTSFeatureSearch(warmup_epochs=1, **p), id="DARTS"),
    pytest.param(lambda **p: RLFeatureSearch(weight_sharing=True, controller_batch_size=2, **p), id="ENAS"),
])
def test_checkpoint_on_a_search_with_its_own_loop_is_deprecated(make, X, tmp_path):
    path = tmp_path / "search.json"
    with pytest.warns(FutureWarning, match="checkpoint is deprecated"):
        make(checkpoint=path, **{**SMALL, "max_trials": 4}).fit(X)
    assert not path.exists()  # nothing was written: the parameter does nothing


def test_checkpoint_still_works_where_the_shared_loop_runs(X, tmp_path):
    path = tmp_path / "search.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        RLFeatureSearch(controller_batch_size=2, checkpoint=path, **{**SMALL, "max_trials": 4}).fit(X)
        RandomFeatureSearch(checkpoint=tmp_path / "random.json", **SMALL).fit(X)
    assert path.exists() and (tmp_path / "random.json").exists()


def test_batch_candidates_auto_is_deprecated_and_means_false(X):
    params = {**SMALL, "max_trials": 4, "population_size": 2}
    with pytest.warns(FutureWarning, match='batch_candidates="auto" is deprecated'):
        auto = EvoFeatureSearch(batch_candidates="auto", **params).fit(X)
    plain = EvoFeatureSearch(**params).fit(X)
    assert EvoFeatureSearch().batch_candidates is False
    assert not any(r.get("batched") for r in auto.search_history_)
    assert [r["score"] for r in auto.search_history_] == [r["score"] for r in plain.search_history_]


def test_n_jobs_on_cuda_says_it_has_no_effect(monkeypatch, X):
    """Candidates share one GPU one after another; fit says so instead of ignoring n_jobs silently."""
    import torch

    import sknas.base

    monkeypatch.setattr(sknas.base, "resolve_device", lambda device: torch.device("cuda"))
    # Without a GPU the fit stops at its first CUDA tensor; the warning comes before any training.
    with pytest.warns(UserWarning, match="n_jobs=2 has no effect on cuda"), pytest.raises(Exception):
        RandomFeatureSearch(n_jobs=2, **SMALL).fit(X)
    if not torch.cuda.is_available():
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            with pytest.raises(Exception) as info:  # n_jobs=None: no warning, the same CUDA error
                RandomFeatureSearch(**SMALL).fit(X)
            assert not isinstance(info.value, UserWarning)
