"""Tests for sknas.evaluation: label-free scores, collapse guard, cost."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from sknas.evaluation import (
    SCORINGS,
    CandidateScore,
    count_parameters,
    detect_collapse,
    efficiency_report,
    measure_latency_ms,
    neighbor_preservation,
    score_embedding,
)

torch.set_num_threads(1)

N_BLOBS = 4
GEOMETRIC = ("silhouette", "calinski_harabasz", "davies_bouldin", "stability")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(400, centers=N_BLOBS, n_features=5, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def collapsed(blobs):
    """The blob data squeezed onto its 4 class means plus 1e-6 noise."""
    X, y = blobs
    means = np.stack([X[y == c].mean(axis=0) for c in range(N_BLOBS)])
    noise = 1e-6 * np.random.default_rng(1).standard_normal(X.shape)
    return means[y] + noise


def _every_scoring():
    return list(SCORINGS) + [lambda Z: float(Z[:, 0].std())]


# --- collapse guard -------------------------------------------------------


@pytest.mark.parametrize("scoring", _every_scoring(), ids=list(SCORINGS) + ["callable"])
def test_collapsed_embedding_is_invalid_under_every_scoring(blobs, collapsed, scoring):
    X, y = blobs
    # Without the guard this embedding would be the best possible one.
    assert silhouette_score(collapsed, y) > 0.999
    res = score_embedding(collapsed, scoring=scoring, n_clusters=N_BLOBS, X=X,
                          validation_loss=0.0, random_state=0)
    assert isinstance(res, CandidateScore)
    assert res.valid is False
    assert res.score == -math.inf
    assert "collapsed" in res.reason
    assert res.details["spread_ratio"] < 1e-3


def test_collapse_guard_rejects_collapse_with_more_clusters_requested(collapsed):
    # 4 points, 8 clusters asked: caught by distinct rows or the point check.
    res = score_embedding(collapsed, n_clusters=8, random_state=0)
    assert not res.valid


def test_guard_runs_before_callable(collapsed):
    calls = []
    res = score_embedding(collapsed, scoring=lambda Z: calls.append(1) or 1.0,
                          n_clusters=N_BLOBS, random_state=0)
    assert not res.valid and calls == []


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("scoring", ["silhouette", "validation_loss"])
def test_non_finite_embedding_is_invalid(blobs, bad, scoring):
    Z = blobs[0].copy()
    Z[3, 1] = bad
    res = score_embedding(Z, scoring=scoring, validation_loss=0.1, n_clusters=4, X=blobs[0])
    assert not res.valid and res.score == -math.inf
    assert "non-finite" in res.reason


def test_detect_collapse_cases(blobs):
    X, _ = blobs
    rng = np.random.default_rng(0)
    assert detect_collapse(X, N_BLOBS, random_state=0) is None
    assert "near-constant" in detect_collapse(np.zeros((100, 3)), 4)
    # A constant far from the origin (saturated units) plus rounding noise.
    flat = 1e3 + 1e-9 * rng.standard_normal((100, 3))
    assert "near-constant" in detect_collapse(flat, 4)
    three_points = np.repeat(np.eye(3), 30, axis=0)
    assert "distinct rows" in detect_collapse(three_points, 8)


def test_detect_collapse_outlier_groups():
    # One blob plus three exploded rows: KMeans spends centroids on them.
    rng = np.random.default_rng(0)
    Z = np.vstack([rng.standard_normal((300, 2)), [[1e3, 0], [0, 1e3], [-1e3, 0]]])
    assert "non-trivial groups" in detect_collapse(Z, 4, random_state=0)


def test_detect_collapse_is_scale_invariant(collapsed, blobs):
    for scale in (1e-3, 1.0, 1e4):
        assert detect_collapse(blobs[0] * scale, N_BLOBS, random_state=0) is None
        assert detect_collapse(collapsed * scale, N_BLOBS, random_state=0) is not None


# --- scores -----------------------------------------------------------------


@pytest.mark.parametrize("scoring", GEOMETRIC)
def test_good_embedding_beats_noise(blobs, scoring):
    X, _ = blobs
    noise = np.random.default_rng(0).standard_normal(X.shape)
    good = score_embedding(X, scoring=scoring, n_clusters=N_BLOBS, random_state=0)
    bad = score_embedding(noise, scoring=scoring, n_clusters=N_BLOBS, random_state=0)
    assert good.valid and bad.valid
    assert good.score > bad.score
    assert scoring in good.details


@pytest.mark.parametrize("scoring", ["silhouette", "calinski_harabasz", "davies_bouldin"])
def test_scale_invariance(blobs, scoring):
    X, _ = blobs
    a = score_embedding(X, scoring=scoring, n_clusters=N_BLOBS, random_state=0)
    b = score_embedding(X * 1000.0, scoring=scoring, n_clusters=N_BLOBS, random_state=0)
    assert b.score == pytest.approx(a.score, rel=1e-6)


def test_davies_bouldin_is_negated(blobs):
    res = score_embedding(blobs[0], scoring="davies_bouldin", n_clusters=4, random_state=0)
    assert res.details["davies_bouldin"] > 0
    assert res.score == -res.details["davies_bouldin"]


def test_stability_high_on_blobs_low_on_noise(blobs):
    uniform = np.random.default_rng(0).uniform(size=(400, 10))
    on_blobs = score_embedding(blobs[0], scoring="stability", n_clusters=N_BLOBS, random_state=0)
    on_noise = score_embedding(uniform, scoring="stability", n_clusters=N_BLOBS, random_state=0)
    assert on_blobs.score > 0.95
    assert on_noise.score < 0.8
    assert -1.0 <= on_noise.score <= 1.0


def test_validation_loss(blobs):
    res = score_embedding(blobs[0], scoring="validation_loss", validation_loss=0.25,
                          n_clusters=4, random_state=0)
    assert res.valid and res.score == -0.25
    nan_loss = score_embedding(blobs[0], scoring="validation_loss",
                               validation_loss=float("nan"), n_clusters=4)
    assert not nan_loss.valid and "not finite" in nan_loss.reason
    with pytest.raises(ValueError, match="validation_loss"):
        score_embedding(blobs[0], scoring="validation_loss")


def test_unknown_scoring_lists_valid_names(blobs):
    with pytest.raises(ValueError) as err:
        score_embedding(blobs[0], scoring="purity")
    for name in SCORINGS:
        assert name in str(err.value)


def test_callable_scoring(blobs):
    X, _ = blobs
    res = score_embedding(X, scoring=lambda Z: float(Z.shape[1]), n_clusters=4, random_state=0)
    assert res.valid and res.score == 5.0

    def boom(Z):
        raise RuntimeError("boom: bad candidate")

    res = score_embedding(X, scoring=boom, n_clusters=4, random_state=0)
    assert not res.valid and res.score == -math.inf
    assert "boom: bad candidate" in res.reason
    res = score_embedding(X, scoring=lambda Z: float("nan"), n_clusters=4, random_state=0)
    assert not res.valid and "not finite" in res.reason


@pytest.mark.parametrize("scoring", ["silhouette", "stability"])
def test_determinism_and_global_rng_untouched(scoring):
    X, _ = make_blobs(600, centers=3, n_features=4, random_state=2)
    state = np.random.get_state()
    runs = [score_embedding(X, scoring=scoring, n_clusters=3, X=X, random_state=7,
                            max_samples=300) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0].details["n_rows"] == 300
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1])


def test_n_clusters_is_clipped():
    Z = np.random.default_rng(0).standard_normal((5, 2))
    assert score_embedding(Z, n_clusters=8, random_state=0).details["n_clusters"] == 4
    assert score_embedding(Z, n_clusters=1, random_state=0).details["n_clusters"] == 2
    with pytest.raises(ValueError, match="at least 3 rows"):
        score_embedding(Z[:2])


def test_neighbor_preservation(blobs):
    X, _ = blobs
    assert neighbor_preservation(X * 5.0 + 1.0, X) == 1.0
    noise = np.random.default_rng(0).standard_normal(X.shape)
    assert neighbor_preservation(noise, X) < 0.2
    res = score_embedding(X[:, :2], n_clusters=4, X=X, random_state=0)
    assert 0.0 < res.details["neighbor_preservation"] <= 1.0
    assert "neighbor_preservation" not in score_embedding(X, n_clusters=4).details


# --- cost ---------------------------------------------------------------------


def _net():
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16),
                               torch.nn.ReLU(), torch.nn.Linear(16, 3))


def test_count_parameters_trainable_only():
    net = _net()
    assert count_parameters(net) == (6 * 16 + 16) + 2 * 16 + (16 * 3 + 3)
    for p in net[0].parameters():
        p.requires_grad_(False)
    assert count_parameters(net) == 2 * 16 + (16 * 3 + 3)


def test_measure_latency_restores_training_modes():
    net = _net()
    net.train()
    net[2].eval()  # deliberately mixed modes must survive
    ms = measure_latency_ms(net, 6, repeats=3, warmup=1)
    assert ms > 0 and math.isfinite(ms)
    assert net.training and net[1].training and not net[2].training
    # BatchNorm (in train mode before) ran in eval mode: running stats untouched.
    assert torch.all(net[1].running_mean == 0)


def test_measure_latency_float64_module_and_bad_args():
    net = torch.nn.Linear(4, 2).double()
    assert measure_latency_ms(net, 4, n_rows=100, repeats=2, warmup=0) > 0
    with pytest.raises(ValueError):
        measure_latency_ms(net, 4, repeats=0)


def test_efficiency_report():
    net = _net()
    rep = efficiency_report(net, 6, flops=1234)
    assert set(rep) == {"params", "flops", "latency_ms_per_1000_rows"}
    assert rep["params"] == count_parameters(net) and rep["flops"] == 1234
    assert rep["latency_ms_per_1000_rows"] > 0
    assert efficiency_report(net, 6, measure_latency=False)["latency_ms_per_1000_rows"] is None


def test_candidates_are_scored_on_validation_rows_topped_up_with_training_rows():
    from sknas.base import _score_rows
    from sknas.config import get_config

    SCORE_MAX_ROWS = get_config()["score_max_rows"]
    train, valid = np.arange(100, 5000), np.arange(100)
    rows = _score_rows(train, valid)
    assert len(rows) == SCORE_MAX_ROWS and list(rows[:100]) == list(valid) and set(rows[100:]) <= set(train)
    big_valid = np.arange(SCORE_MAX_ROWS + 5)
    assert _score_rows(train, big_valid) is big_valid  # enough validation rows: only those
    same = np.arange(30)
    assert _score_rows(same, same) is same  # tiny data: train and validation are all rows
