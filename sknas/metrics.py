"""Scorers for clustering pipelines, usable as ``scoring=`` in ``GridSearchCV``.

Works with ``GridSearchCV``, ``RandomizedSearchCV`` and ``HalvingGridSearchCV``
on pipelines ending in ``KMeans``, ``GaussianMixture`` or any estimator with
``predict`` (or ``fit_predict``), and on :class:`~sknas.AutoSegmenter`.

Label-free scorers judge a pipeline by how well its cluster labels separate
the rows *in the pipeline's input space* (standardised), not in the
embedding: every candidate feature map is then judged in the same units,
which an inertia or a silhouette in each embedding's own space is not.

Which to use when:

- ``silhouette_separability_scorer``: the default choice without labels; the
  mean of the two below.  The silhouette alone prefers the partitions a raw
  KMeans would find (round, same-size clusters); the separability credits any
  partition a linear map can express.  The sknas searches rank their
  candidates the same way (``scoring="auto"``).
- ``silhouette_scorer``: classic, bounded in [-1, 1]; quadratic in rows (a
  fixed sample of 5,000 rows is used above that).
- ``separability_scorer``: held-out shrinkage-LDA separability of the
  segments (:func:`sknas.evaluation.separability`); robust to elongated
  segments the silhouette penalises.  For comparing feature maps at a fixed
  k, not for choosing k: it favours fewer segments (on three well-separated
  blobs it scored k=2 above k=3, where the silhouette picked 3).
- ``calinski_harabasz_scorer``, ``davies_bouldin_scorer``: cheap; unbounded,
  so only for comparing pipelines on the same data.
- ``adjusted_rand_scorer``, ``normalized_mutual_info_scorer``: when some rows
  have known segments.  Pass ``y`` to the search's ``fit`` with ``-1`` (or NaN)
  for unlabelled rows; only labelled rows are scored.  ARI corrects for
  chance and penalises a wrong number of segments; NMI is kinder to
  over-segmentation.

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
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from .evaluation import separability

from .preprocessing.tabular import encode_table

_MAX_ROWS = 5000


def _labels_and_space(estimator, X):
    labels = estimator.predict(X) if hasattr(estimator, "predict") else estimator.fit_predict(X)
    # A table with categorical columns: standardised numbers and 0/1 indicators (not standardised:
    # a rare category would swamp the distances), as the sknas estimators see it.
    encoded = encode_table(X)
    X = np.asarray(X, dtype=np.float64) if encoded is None else encoded
    if len(X) > _MAX_ROWS:  # silhouette is quadratic in rows; a fixed-seed sample keeps it bounded
        keep = check_random_state(0).choice(len(X), _MAX_ROWS, replace=False)
        X, labels = X[keep], np.asarray(labels)[keep]
    return (StandardScaler().fit_transform(X) if encoded is None else X), labels


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



def silhouette_separability(X, labels):
    """Mean of the silhouette and the held-out separability of ``labels`` in ``X``."""
    return 0.5 * (silhouette_score(X, labels) + separability(X, labels))


separability_scorer = _label_free(separability)
silhouette_separability_scorer = _label_free(silhouette_separability)


def _predicted_labels(estimator, X):
    return np.asarray(estimator.predict(X) if hasattr(estimator, "predict") else estimator.fit_predict(X))


def _labelled_rows(y):
    """Mask of the rows with a known segment: ``-1``, NaN and None mark the unlabelled ones."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return ~np.isnan(y)
    if y.dtype.kind in "iu":
        return y != -1
    return np.array([v is not None and v != -1 and not (isinstance(v, float) and np.isnan(v)) for v in y.tolist()],
                    dtype=bool)


def _label_based(metric):
    def scorer(estimator, X, y=None):
        if y is None:
            raise ValueError(f"{scorer.__name__} needs the known segments: pass y to fit "
                             "(-1 or NaN for unlabelled rows), or use a label-free scorer.")
        labelled = _labelled_rows(y)
        if not labelled.any():
            raise ValueError(f"{scorer.__name__}: no row of this split has a known segment (all -1/NaN).")
        labels = _predicted_labels(estimator, X)
        return float(metric(np.asarray(y)[labelled], labels[labelled]))

    scorer.__name__ = f"{metric.__name__.replace('_score', '')}_scorer"
    scorer.__doc__ = (f"Label-based scorer: {metric.__name__} of the estimator's labels against the known "
                      "segments of the labelled rows (y of -1 or NaN: unlabelled, skipped).")
    return scorer


adjusted_rand_scorer = _label_based(adjusted_rand_score)
normalized_mutual_info_scorer = _label_based(normalized_mutual_info_score)

__all__ = ["adjusted_rand_scorer", "calinski_harabasz_scorer", "davies_bouldin_scorer",
           "normalized_mutual_info_scorer", "separability_scorer", "silhouette_scorer",
           "silhouette_separability_scorer"]
