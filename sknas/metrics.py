"""Label-free scorers for clustering pipelines, usable as ``scoring=`` in ``GridSearchCV``.

A pipeline ``[..., feature map, KMeans]`` is scored by how well its cluster
labels separate the rows *in the pipeline's input space* (standardised), not
in the embedding: every candidate feature map is then judged in the same
units, which an inertia or a silhouette in each embedding's own space is not.

Examples
--------
>>> from sklearn.cluster import KMeans
>>> from sklearn.datasets import make_blobs
>>> from sklearn.model_selection import GridSearchCV
>>> from sknas.metrics import silhouette_scorer
>>> X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
>>> grid = GridSearchCV(KMeans(n_init=3, random_state=0), {"n_clusters": [2, 3, 4]},
...                     scoring=silhouette_scorer, cv=3).fit(X)
>>> grid.best_params_
{'n_clusters': 3}
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

_MAX_ROWS = 5000


def _labels_and_space(estimator, X):
    labels = estimator.predict(X) if hasattr(estimator, "predict") else estimator.fit_predict(X)
    X = np.asarray(X, dtype=np.float64)
    if len(X) > _MAX_ROWS:  # silhouette is quadratic in rows; a fixed-seed sample keeps it bounded
        keep = check_random_state(0).choice(len(X), _MAX_ROWS, replace=False)
        X, labels = X[keep], np.asarray(labels)[keep]
    return StandardScaler().fit_transform(X), labels


def _label_free(metric, sign=1.0, worst=-1.0):
    def scorer(estimator, X, y=None):
        Xs, labels = _labels_and_space(estimator, X)
        if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(Xs):
            return worst  # one cluster (or one per row) separates nothing
        return sign * float(metric(Xs, labels))

    scorer.__name__ = f"{metric.__name__.replace('_score', '')}_scorer"
    scorer.__doc__ = (f"Label-free scorer: {metric.__name__} of the estimator's labels in the standardised "
                      f"input space{' (negated: higher is better)' if sign < 0 else ''}.")
    return scorer


silhouette_scorer = _label_free(silhouette_score)
calinski_harabasz_scorer = _label_free(calinski_harabasz_score, worst=0.0)
davies_bouldin_scorer = _label_free(davies_bouldin_score, sign=-1.0, worst=-np.inf)

__all__ = ["calinski_harabasz_scorer", "davies_bouldin_scorer", "silhouette_scorer"]
