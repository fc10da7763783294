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
from sklearn.metrics import adjusted_rand_score

from ..config import _DEFAULTS, get_config
from .judge import cross_space_scores

#: Scorings decided on the whole pool of candidates, after the search.
SELECTION_SCORINGS = ("consensus", "silhouette+consensus", "cross_space")
#: The default of sknas.config's ``max_labelled_rows`` (the value in force is the config's): rows of the
#: scoring rows whose cluster labels are kept per candidate.
MAX_LABELLED_ROWS = _DEFAULTS["max_labelled_rows"]


def cluster_labels(Z, n_clusters):
    """KMeans labels of the first ``max_labelled_rows`` (:mod:`sknas.config`) rows of ``Z`` (a fixed seed, so
    that two candidates' labels differ because their embeddings do)."""
    Z = np.asarray(Z)[:get_config()["max_labelled_rows"]]
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


def selection_scores(records, scoring, X=None):
    """Scores to rank ``records`` (valid candidates with ``score`` and ``labels``) by; higher is better.

    ``"cross_space"`` judges every record's ``labels`` in every record's ``embedding`` and in the input
    rows ``X`` (the labelled rows, encoded): :func:`sknas.evaluation.judge.cross_space_scores`.
    """
    scores = np.array([r["score"] for r in records], dtype=float)
    if scoring not in SELECTION_SCORINGS:
        return scores
    if scoring == "cross_space":
        spaces = [r["embedding"] for r in records] + ([] if X is None else [np.asarray(X)[:get_config()["max_labelled_rows"]]])
        return cross_space_scores([r["labels"] for r in records], spaces)
    consensus = consensus_scores([r["labels"] for r in records])
    if scoring == "consensus":
        return consensus
    # Rank average: the two criteria live on different scales; ranks make them commensurable.
    return (rankdata(scores) + rankdata(consensus)) / (2.0 * len(records))
