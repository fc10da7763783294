"""Fitted results pinned for fixed seeds: refactoring must not change what a user gets.

The figures were recorded before the package was reorganised (issue 24) with this
machine's CPU torch build and one thread. A change here means public behaviour changed:
the same estimator, data and ``random_state`` no longer give the same feature map.
The tolerance covers float rounding only (transform sums over 900 values), not another map.
"""

import numpy as np
import pytest

import sknas

FAST = {"max_epochs": 2, "batch_size": 64, "device": "cpu"}
#: No identity map, so every candidate's result depends on the seed.
SEARCH = {**FAST, "max_trials": 3, "search_space": {"widths": (8,), "max_depth": 1, "include_identity": False}}

MAKERS = {
    "NeuralFeatureMap": lambda seed: sknas.NeuralFeatureMap(n_components=3, random_state=seed, **FAST),
    "RandomFeatureSearch": lambda seed: sknas.RandomFeatureSearch(
        n_components=3, n_clusters=3, random_state=seed, **SEARCH),
    "DARTSFeatureSearch": lambda seed: sknas.DARTSFeatureSearch(
        n_components=3, n_clusters=3, warmup_epochs=1, random_state=seed, **SEARCH),
    "EvoFeatureSearch": lambda seed: sknas.EvoFeatureSearch(
        n_components=3, n_clusters=3, population_size=2, random_state=seed, **{**SEARCH, "max_trials": 4}),
}

#: (estimator, seed, architecture_, best_score_ (nan: not a search), sum of |transform|, first row)
PINNED = [
    ("NeuralFeatureMap", 0, "linear(128)-relu -> linear", np.nan, 503.16958294808865, [0.582745, 0.713758, 0.242757]),
    ("NeuralFeatureMap", 1, "linear(128)-relu -> linear", np.nan, 498.73052478581667,
     [-0.168837, -0.275752, 0.535193]),
    ("RandomFeatureSearch", 0, "res[gated(8)-silu-dropout(0.1)] -> linear", 0.3886039153082487, 393.75812769308686,
     [-0.46419, 0.666838, -0.196677]),
    ("RandomFeatureSearch", 1, "linear(8)-silu-dropout(0.1) -> linear", 0.37546009089796184, 235.93181744590402,
     [-0.157699, -0.14178, -0.002031]),
    ("DARTSFeatureSearch", 0, "linear", 0.31388198781534893, 490.83917660079896, [-0.520561, 0.098865, -0.628664]),
    ("DARTSFeatureSearch", 1, "linear", 0.29816655500838485, 388.7133481055498, [0.297885, 0.559966, -0.699341]),
    ("EvoFeatureSearch", 0, "linear", 0.3572819174245119, 422.1508710756898, [0.111488, -0.670459, 0.475894]),
    ("EvoFeatureSearch", 1, "linear", 0.2979848759446927, 439.4520268961787, [-0.560897, 0.089609, 0.749492]),
]


@pytest.mark.parametrize("name, seed, architecture, best_score, abs_sum, first_row", PINNED,
                         ids=[f"{p[0]}-seed{p[1]}" for p in PINNED])
def test_same_seed_same_fitted_result(name, seed, architecture, best_score, abs_sum, first_row, customers):
    X, _ = customers
    est = MAKERS[name](seed).fit(X)
    Z = est.transform(X)
    assert str(est.architecture_) == architecture
    if not np.isnan(best_score):
        assert est.best_score_ == pytest.approx(best_score, rel=1e-6)
    assert float(np.abs(Z).sum()) == pytest.approx(abs_sum, rel=1e-5)
    np.testing.assert_allclose(Z[0], first_row, atol=1e-5)
