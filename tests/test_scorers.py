"""The scorers of sknas.metrics in scikit-learn's model selection tools."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknas.metrics
from sknas import RandomFeatureSearch
from sknas.metrics import __all__ as SCORERS
from sknas.metrics import (
    adjusted_rand_scorer,
    normalized_mutual_info_scorer,
    separability_scorer,
    silhouette_scorer,
    silhouette_separability_scorer,
)

from .conftest import FAST_SEARCH

LABEL_FREE = [silhouette_scorer, separability_scorer, silhouette_separability_scorer]


@pytest.fixture
def blobs():
    return make_blobs(n_samples=240, centers=[[0, 0, 0], [6, 0, 0], [0, 6, 0]], cluster_std=1.0, random_state=0)


class _Fixed:
    """A fitted 'clusterer' whose labels are given: scores a partition itself."""

    def __init__(self, labels):
        self.labels = labels

    def predict(self, X):
        return self.labels


@pytest.mark.parametrize("scorer", LABEL_FREE, ids=lambda s: s.__name__)
def test_label_free_rank_true_partition_first(scorer, blobs):
    X, y = blobs
    arbitrary = np.random.RandomState(0).randint(3, size=len(y))
    merged = np.where(y == 2, 1, y)
    assert scorer(_Fixed(y), X) > scorer(_Fixed(merged), X) > scorer(_Fixed(arbitrary), X)


def test_silhouette_chooses_k(blobs):
    X, _ = blobs
    grid = GridSearchCV(KMeans(n_init=3, random_state=0), {"n_clusters": [2, 3, 6]}, scoring=silhouette_scorer,
                        cv=2).fit(X)
    assert grid.best_params_ == {"n_clusters": 3}


@pytest.mark.parametrize("scorer", LABEL_FREE, ids=lambda s: s.__name__)
def test_label_free_is_comparable_across_feature_maps(scorer, blobs):
    # Judged in the input space: the score is the partition's, whatever embedding produced it.
    X, _ = blobs
    embedded = make_pipeline(StandardScaler(), PCA(1), KMeans(3, n_init=3, random_state=0)).fit(X)
    assert scorer(embedded, X) == scorer(_Fixed(embedded.predict(X)), X)


def test_label_based_use_labelled_rows_only(blobs):
    X, y = blobs
    km = KMeans(3, n_init=3, random_state=0).fit(X)
    assert adjusted_rand_scorer(_Fixed(y), X, y) == pytest.approx(1.0)
    partial = y.astype(float)
    partial[::2] = np.nan
    odd = np.arange(len(y)) % 2 == 1
    assert adjusted_rand_scorer(km, X, partial) == adjusted_rand_score(y[odd], km.predict(X)[odd])
    noisy = np.where(odd, y, (y + 1) % 3)  # wrong labels on the rows that will be marked unlabelled
    assert adjusted_rand_scorer(_Fixed(noisy), X, np.where(odd, y, -1)) == pytest.approx(1.0)
    assert normalized_mutual_info_scorer(_Fixed(noisy), X, np.where(odd, y, -1).astype(object)) == \
        pytest.approx(1.0)
    with pytest.raises(ValueError, match="needs the known segments"):
        adjusted_rand_scorer(km, X)
    with pytest.raises(ValueError, match="no row"):
        adjusted_rand_scorer(km, X, np.full(len(y), -1))


def test_all_exported(blobs):
    X, y = blobs
    km = KMeans(3, n_init=3, random_state=0).fit(X)
    for name in SCORERS:
        assert np.isfinite(getattr(sknas.metrics, name)(km, X, y))


def _pipe(clusterer):
    return make_pipeline(RandomFeatureSearch(n_components=2, n_clusters=3, **FAST_SEARCH), clusterer)


@pytest.mark.parametrize("clusterer, n_jobs", [
    (KMeans(3, n_init=2, random_state=0), 1), (GaussianMixture(3, random_state=0), 1),
    # Worker processes take ~30 s to start on the shared CI box; test_estimators covers n_jobs=2 by default.
    pytest.param(KMeans(3, n_init=2, random_state=0), 2, marks=pytest.mark.slow)], ids=["kmeans", "gmm", "n_jobs2"])
def test_grid_search_with_sknas_scorers(clusterer, n_jobs, blobs):
    X, y = blobs
    grid = GridSearchCV(_pipe(clusterer), {"randomfeaturesearch__n_components": [2, 3]},
                        scoring={"sil_sep": silhouette_separability_scorer, "ari": adjusted_rand_scorer},
                        refit="sil_sep", cv=2, n_jobs=n_jobs).fit(X, y)
    assert set(grid.cv_results_) >= {"mean_test_sil_sep", "mean_test_ari"}
    assert np.isfinite(grid.cv_results_["mean_test_sil_sep"]).all()
    assert np.isfinite(grid.cv_results_["mean_test_ari"]).all()


def test_randomized_and_halving_search(blobs):
    X, _ = blobs
    params = {"randomfeaturesearch__n_components": [2, 3], "kmeans__n_clusters": [2, 3]}
    rand = RandomizedSearchCV(_pipe(KMeans(3, n_init=2, random_state=0)), params, n_iter=2, cv=2,
                              scoring=separability_scorer, random_state=0).fit(X)
    assert np.isfinite(rand.best_score_)
    halving = HalvingGridSearchCV(_pipe(KMeans(3, n_init=2, random_state=0)), params, cv=2, factor=2,
                                  min_resources=60, scoring=silhouette_separability_scorer, random_state=0).fit(X)
    assert np.isfinite(halving.best_score_)
