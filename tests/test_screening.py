"""RandomFeatureSearch(screening=...): successive halving over the network candidates (issue 22)."""

import math

import pytest

from sknas import RandomFeatureSearch
from sknas.space.architecture import FIXED_HEADS

from .conftest import FAST


def _fit(customers, **params):
    X, _ = customers
    params = {**FAST, "max_epochs": 8, "n_components": 3, "n_clusters": 3, "max_trials": 10, **params}
    return RandomFeatureSearch(**params).fit(X)


def test_screened_networks_then_the_best_third_trained_fully(customers):
    est = _fit(customers, screening=0.25)
    history = est.search_history_
    assert len(history) <= 10
    screened = [r for r in history if r["fidelity"] is not None]
    promoted = [r for r in history if r["step"] == 1]
    assert screened and all(r["fidelity"] == ("screen", 2) and r["n_epochs"] <= 2 for r in screened)
    valid = sorted((r for r in screened if r["valid"]), key=lambda r: r["score"], reverse=True)
    assert len(promoted) == math.ceil(len(valid) / 3)
    # The promoted are the screening's best, retrained from scratch with their seed for the whole budget.
    assert [r["architecture"] for r in promoted] == [r["architecture"] for r in valid[:len(promoted)]]
    by_arch = {r["architecture"]: r for r in screened}
    for r in promoted:
        assert r["fidelity"] is None and r["n_epochs"] == 8 and not r["cached"]
        assert r["seed"] == by_arch[r["architecture"]]["seed"]
        assert r["screened_score"] == by_arch[r["architecture"]]["score"]
    # Only a fixed map or a fully trained network may win.
    winner = next(r for r in history if r["architecture"] == est.architecture_ and r["fidelity"] is None)
    assert winner["architecture"].head in FIXED_HEADS or winner["step"] == 1


def test_screening_trains_fewer_updates_than_training_every_candidate(customers):
    full = _fit(customers, random_state=0)
    halved = _fit(customers, random_state=0, screening=0.25)

    def epochs(est):
        return sum(r["n_epochs"] for r in est.search_history_ if not r.get("cached"))

    assert epochs(halved) < 0.6 * epochs(full)
    assert all(r["fidelity"] is None for r in full.search_history_)  # off by default: nothing changes


@pytest.mark.parametrize("screening", [0, 1, 1.5, -0.2, "half"])
def test_bad_screening_is_refused(customers, screening):
    with pytest.raises((ValueError, TypeError), match="screening"):
        _fit(customers, screening=screening)
