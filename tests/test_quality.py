"""Segmentation quality on real labelled data (slow: run with ``pytest -m slow``)."""

import time

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas import RandomFeatureSearch


@pytest.mark.slow
def test_random_search_beats_kmeans_on_digits():
    X, y = load_digits(return_X_y=True)
    base, found = [], []
    start = time.perf_counter()
    for seed in range(3):
        kmeans = KMeans(10, n_init=10, random_state=seed)
        base.append(adjusted_rand_score(y, make_pipeline(StandardScaler(), kmeans).fit_predict(X)))
        search = RandomFeatureSearch(n_clusters=10, random_state=seed, device="cpu")
        pipe = make_pipeline(StandardScaler(), search, KMeans(10, n_init=10, random_state=seed))
        found.append(adjusted_rand_score(y, pipe.fit_predict(X)))
    print(f"digits: KMeans ARI {np.mean(base):.3f}, RandomFeatureSearch ARI {np.mean(found):.3f}, "
          f"wall {time.perf_counter() - start:.1f}s")
    assert np.mean(found) > np.mean(base)
