"""Pool-level selection: consensus between candidates, and the runner-ups shown to the user."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from sknas import RandomFeatureSearch
from sknas.config import get_config
from sknas.evaluation import consensus_scores, selection_scores, separability
from sknas.space.discriminant import shrinkage_lda_projection

from .conftest import FAST_SEARCH


def test_consensus_rewards_the_clustering_the_others_agree_with():
    truth = np.repeat([0, 1, 2], 20)
    rng = np.random.RandomState(0)
    noisy = [np.where(rng.rand(60) < 0.1, rng.randint(3, size=60), truth) for _ in range(3)]
    outlier = rng.randint(3, size=60)
    scores = consensus_scores([*noisy, outlier])
    assert scores.argmin() == 3 and scores[:3].min() > scores[3] + 0.3


def test_rank_average_combines_both_criteria():
    records = [{"score": score, "labels": labels} for score, labels in
               [(0.9, np.array([0, 0, 1, 1])), (0.1, np.array([0, 0, 1, 1])), (0.5, np.array([0, 1, 0, 1]))]]
    combined = selection_scores(records, "silhouette+consensus")
    assert combined.argmax() == 0  # best silhouette and in the agreeing majority
    assert np.array_equal(selection_scores(records, "silhouette"), [0.9, 0.1, 0.5])


def test_separability_prefers_the_partition_the_input_supports():
    rng = np.random.RandomState(0)
    # Two elongated clusters side by side: KMeans-like cuts across them are separable in-sample
    # but not held out as well as the true split, and a random partition is not separable at all.
    X = np.vstack([rng.normal(0, 1, (80, 4)) * [4, 0.3, 1, 1], rng.normal(0, 1, (80, 4)) * [4, 0.3, 1, 1] + [0, 3, 0, 0]])
    truth = np.repeat([0, 1], 80)
    across = (X[:, 0] > 0).astype(int)
    noise = rng.randint(2, size=160)
    assert separability(X, truth) > separability(X, across) > separability(X, noise)
    assert separability(X, np.zeros(160, dtype=int)) == -1.0  # one cluster cannot be judged


def test_separability_is_scale_free_in_the_candidates_labels_only():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 3))
    labels = rng.randint(3, size=60)
    assert separability(X, labels) == separability(X, (labels + 1) % 3)  # renaming clusters changes nothing


@pytest.mark.parametrize("shape, k", [((60, 3), 2), ((200, 12), 4), ((300, 30), 8)])
def test_the_numpy_shrinkage_lda_projects_as_scikit_learns_estimator(shape, k):
    # separability's LDA is scikit-learn's arithmetic without the estimator's overhead (docs/speed.md)
    rng = np.random.RandomState(k)
    X = rng.normal(size=shape) * rng.uniform(0.1, 10, shape[1])
    X[:, 0] = 1.5  # a constant column keeps scale 1, as in StandardScaler
    labels = rng.randint(k, size=shape[0])
    ours = shrinkage_lda_projection(X[:40], labels[:40], X[40:])
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X[:40], labels[:40])
    theirs = lda.transform(X[40:])
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-6, atol=1e-9)  # eigenvector signs are free


@pytest.mark.parametrize("scoring", ["consensus", "silhouette+consensus", "silhouette+separability"])
def test_search_with_pool_scoring(customers, scoring):
    X, _ = customers
    search = RandomFeatureSearch(n_components=2, n_clusters=3, scoring=scoring,
                                 **{**FAST_SEARCH, "max_trials": 5}).fit(X)
    valid = [r for r in search.search_history_ if r["valid"]]
    best = max(valid, key=lambda r: r["selection_score"])
    assert search.architecture_ == best["architecture"]
    assert search.best_score_ == best["selection_score"]
    # labelled on the scoring rows: all of them here (validation + training rows, fewer than SCORE_MAX_ROWS)
    assert all(r["labels"] is not None and len(r["labels"]) == min(len(X), get_config()["score_max_rows"])
               for r in valid)
    assert all(-1.0 <= r["separability"] <= 1.0 for r in valid)
    assert 1 <= len(search.runner_ups_) <= 3
    for runner in search.runner_ups_:
        assert runner["architecture"] != search.architecture_
        assert -1.0 <= runner["agreement_with_winner"] <= 1.0


def test_default_scoring_selects_by_the_candidate_score(customers):
    X, _ = customers
    search = RandomFeatureSearch(n_components=2, n_clusters=3, **{**FAST_SEARCH, "max_trials": 4}).fit(X)
    valid = [r for r in search.search_history_ if r["valid"]]
    assert all(r["selection_score"] == r["score"] for r in valid)
    assert search.best_score_ == max(r["score"] for r in valid)


def test_other_searches_accept_pool_scoring(customers):
    from sknas import DARTSFeatureSearch, EvoFeatureSearch

    X, _ = customers
    darts = DARTSFeatureSearch(n_components=2, n_clusters=3, scoring="silhouette+consensus", warmup_epochs=1,
                               **FAST_SEARCH).fit(X)
    assert np.isfinite(darts.supernet_score_)
    evo = EvoFeatureSearch(n_components=2, n_clusters=3, scoring="consensus", population_size=2,
                           **{**FAST_SEARCH, "max_trials": 4}).fit(X)
    # the pool is the fully trained candidates (evolution's winner is never a partly trained one)
    assert evo.architecture_ == max((r for r in evo.search_history_ if r["valid"] and r["fidelity"] is None),
                                    key=lambda r: r["selection_score"])["architecture"]


def test_auto_scoring_averages_the_embedding_silhouette_and_the_input_separability():
    from sklearn.datasets import make_blobs

    from sknas.evaluation import AUTO_SCORING, resolve_scoring, score_embedding

    X, _ = make_blobs(200, centers=3, n_features=4, random_state=0)
    Z = X[:, :2] * 10.0
    res = score_embedding(Z, scoring="silhouette+separability", n_clusters=3, X=X, random_state=0)
    assert res.valid and res.score == pytest.approx((res.details["silhouette"] + res.details["separability"]) / 2)
    assert resolve_scoring("auto") == AUTO_SCORING == "silhouette+separability"
    assert resolve_scoring("silhouette") == "silhouette"
    with pytest.raises(ValueError, match="requires the input rows X"):
        score_embedding(Z, scoring="silhouette+separability", n_clusters=3)


def test_discriminability_averages_the_embeddings_and_the_inputs_held_out_separability():
    from sklearn.datasets import make_blobs

    from sknas.evaluation import score_embedding

    X, _ = make_blobs(200, centers=3, n_features=4, random_state=0)
    Z = X[:, :2] * 10.0
    res = score_embedding(Z, scoring="discriminability+separability", n_clusters=3, X=X, random_state=0)
    assert res.valid and "silhouette" not in res.details
    assert res.score == pytest.approx((res.details["discriminability"] + res.details["separability"]) / 2)
    assert -1.0 <= res.details["discriminability"] <= 1.0
    with pytest.raises(ValueError, match="requires the input rows X"):
        score_embedding(Z, scoring="discriminability+separability", n_clusters=3)


def test_discriminability_does_not_reward_a_space_for_its_scale_per_direction():
    # The point of the scoring: the silhouette of a fixed partition moves when a space is stretched
    # differently along its axes (the LDA map's whitening wins it by construction), the held-out
    # discriminability does not (an affine map changes no discriminant up to the shrinkage).
    from sklearn.datasets import make_blobs
    from sklearn.metrics import silhouette_score

    from sknas.evaluation import separability

    Z, labels = make_blobs(300, centers=3, n_features=2, cluster_std=2.0, random_state=0)
    stretched = Z @ np.array([[8.0, 0.0], [3.0, 0.2]])
    assert abs(silhouette_score(stretched, labels) - silhouette_score(Z, labels)) > 0.1
    assert separability(stretched, labels) == pytest.approx(separability(Z, labels), abs=0.01)


def test_default_search_scores_with_auto(customers):
    X, _ = customers
    search = RandomFeatureSearch(n_components=2, n_clusters=3, **{**FAST_SEARCH, "max_trials": 3}).fit(X)
    assert search.get_params()["scoring"] == "auto"  # stored untouched; resolved at fit
    valid = [r for r in search.search_history_ if r["valid"]]
    assert valid and all(-1.0 <= r["separability"] <= 1.0 for r in valid)
    assert all(-1.0 <= r["score"] <= 1.0 for r in valid)


# -- a network must beat the fixed maps by more than the score's noise -----------------------------
def _record(head_or_width, score):
    from sknas import Architecture, Block

    arch = Architecture(head=head_or_width) if isinstance(head_or_width, str) else \
        Architecture((Block("linear", head_or_width),))
    return {"architecture": arch, "selection_score": score}


@pytest.mark.parametrize("network_score, expected", [(0.645, "lda"), (0.651, "network"), (0.60, "lda")])
def test_a_network_within_the_margin_of_the_best_fixed_map_loses_to_it(network_score, expected):
    from sknas.search.base import _prefer_fixed_map, fixed_map_margin

    assert fixed_map_margin("silhouette+separability") == pytest.approx(0.02)
    valid = [_record("identity", 0.40), _record("lda", 0.63), _record(64, network_score), _record(32, 0.5)]
    best = max(valid, key=lambda r: r["selection_score"])
    chosen = _prefer_fixed_map(best, valid, "silhouette+separability")
    assert (chosen["architecture"].head == "lda") == (expected == "lda")
    if expected == "network":
        assert chosen is best


def test_the_margin_applies_only_to_silhouette_scale_scorings():
    from sknas.search.base import _prefer_fixed_map

    valid = [_record("lda", 0.63), _record(64, 0.64)]
    for scoring in ("calinski_harabasz", "davies_bouldin", "consensus", (lambda Z: 0.0)):
        assert _prefer_fixed_map(valid[1], valid, scoring) is valid[1]
    assert _prefer_fixed_map(valid[1], valid, "silhouette") is valid[0]
    no_fixed = [_record(64, 0.64), _record(32, 0.63)]
    assert _prefer_fixed_map(no_fixed[0], no_fixed, "silhouette") is no_fixed[0]
