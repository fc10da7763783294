"""Choosing among candidates with scores that need the whole pool, not one embedding.

A per-embedding index (silhouette, ...) judges each feature map in its own
geometry, which is what makes it hard to compare across maps.  The labels a
map induces are comparable: :func:`consensus_scores` rates each candidate by
how much its clustering of the validation rows agrees (ARI) with the other
candidates' clusterings.  Maps that find real structure tend to agree with
each other; maps that are wrong tend to be wrong in different ways.

Evidence (``benchmarks/results/selection.md``, random search, 12 candidates,
3 seeds, ARI of the picked candidate on the validation rows): mean Kendall tau
with true ARI across candidates over iris, wine, breast cancer, digits and
``make_customers``: silhouette +0.21, consensus +0.36, their rank average
+0.35; mean ARI of the pick 0.611, 0.623 and 0.642.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score, silhouette_score

#: Scorings decided on the whole pool of candidates, after the search.
SELECTION_SCORINGS = ("consensus", "silhouette+consensus", "silhouette+separability")
#: Rows of the validation split whose cluster labels are kept per candidate.
MAX_LABELLED_ROWS = 2000


def cluster_labels(Z, n_clusters):
    """KMeans labels of the first :data:`MAX_LABELLED_ROWS` rows of ``Z`` (a fixed seed, so that
    two candidates' labels differ because their embeddings do)."""
    Z = np.asarray(Z)[:MAX_LABELLED_ROWS]
    k = int(min(max(n_clusters, 2), len(Z) - 1))
    return KMeans(k, n_init=3, random_state=0).fit_predict(Z).astype(np.int16)


def consensus_scores(label_sets):
    """Mean ARI of each clustering with every other one (0 for a pool of one).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([0, 0, 1, 1]); b = np.array([1, 1, 0, 0]); c = np.array([0, 1, 0, 1])
    >>> np.round(consensus_scores([a, b, c]), 2).tolist()
    [0.25, 0.25, -0.5]
    """
    n = len(label_sets)
    if n < 2:
        return np.zeros(n)
    agreement = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            agreement[i, j] = agreement[j, i] = adjusted_rand_score(label_sets[i], label_sets[j])
    return (agreement.sum(axis=1) - 1.0) / (n - 1)


def separability(X, labels, n_folds=2):
    """Held-out linear discriminability of a partition of the input rows ``X``.

    The partition a candidate induces (its KMeans labels) is judged in the
    input space, which every candidate shares: a shrinkage LDA fitted on the
    labels of one fold projects the other fold, whose silhouette under its
    labels is the score (averaged over folds).  Held out, because on few rows
    and many columns any partition is separable in-sample.  The folds are the
    same for every candidate (fixed seed), so scores compare.

    This judges the partition, not the embedding's geometry, so it does not
    reward a map for squeezing its clusters tight (which the silhouette in the
    embedding does); it favours partitions a linear map can express, which
    the embedding silhouette does not.  Hence it is used beside it, never alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised input rows.
    labels : ndarray of shape (n_samples,)
    n_folds : int, default=2

    Returns
    -------
    float
        In [-1, 1]; -1 when the partition cannot be judged (a fold holds one cluster).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 3)), rng.normal(6, 1, (50, 3))])
    >>> good = np.repeat([0, 1], 50); arbitrary = rng.randint(2, size=100)
    >>> separability(X, good) > 0.5 > separability(X, arbitrary)
    True
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    folds = np.array_split(np.random.RandomState(0).permutation(len(labels)), n_folds)
    values = []
    for i, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        n_test_labels = len(np.unique(labels[test]))
        if len(np.unique(labels[train])) < 2 or not 2 <= n_test_labels < len(test):
            return -1.0
        try:
            lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X[train], labels[train])
            values.append(silhouette_score(lda.transform(X[test]), labels[test]))
        except (np.linalg.LinAlgError, ValueError):  # too few rows per cluster for a covariance
            return -1.0
    return float(np.mean(values))


def selection_scores(records, scoring):
    """Scores to rank ``records`` (valid candidates with ``score`` and ``labels``) by; higher is better."""
    scores = np.array([r["score"] for r in records], dtype=float)
    if scoring not in SELECTION_SCORINGS:
        return scores
    if scoring == "silhouette+separability":
        other = np.array([r.get("separability", -1.0) for r in records], dtype=float)
    else:
        other = consensus_scores([r["labels"] for r in records])
        if scoring == "consensus":
            return other
    # Rank average: the two criteria live on different scales; ranks make them commensurable.
    return (rankdata(scores) + rankdata(other)) / (2.0 * len(records))
