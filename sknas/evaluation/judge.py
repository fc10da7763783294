"""Judging candidates across spaces, and recognising segments that restate one input column.

Why across spaces (``docs/selection.md``): a score computed in each candidate's own embedding rewards
maps that squeeze the rows onto a simple structure, whatever that structure means; own-space scores
agree with true ARI at Kendall tau ~0.4 in published deep-clustering model selection and in our own
harness. A candidate's *partition*, though, can be judged in every space: the input space and every
other candidate's embedding. A partition that only its own map finds compact is an artefact of that
map; one that many independent maps find compact is structure in the data. :func:`cross_space_scores`
follows ACE (Wang & Ye, arXiv 2403.14830):

1. compute the silhouette of every partition in every space (a partitions x spaces matrix);
2. keep the *admissible* spaces, whose pairwise distances are multimodal (Hartigan's dip test): a space
   with one blob has no cluster structure to judge with;
3. rank the partitions within each space, weigh each space by how much its ranking agrees with the
   other spaces' (PageRank on their positive Spearman correlations), and average the ranks.

:func:`column_restatement` measures how much a partition restates the input's columns (normalised mutual
information with each discrete column: a categorical column, a yes/no flag, a count with few values; and
with each pair of them, as their combinations). Such a partition is what a group-by gives; the search
keeps it out of its default answer.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import rankdata

from ..config import _DEFAULTS, get_config

#: Rows the cross-space matrix is computed on at most (its cost is quadratic in them).
CROSS_SPACE_ROWS = 1000
#: Rows whose pairwise distances the dip test sees (300 rows: 44,850 distances).
DIP_ROWS = 300
#: A space is admissible when the dip test rejects unimodal distances at this level.
DIP_ALPHA = 0.05
#: The default of sknas.config's ``restatement_nmi`` (the value in force is the config's; the reason for
#: 0.7 is documented there): a partition restates a column when their normalised mutual information
#: reaches it.
RESTATEMENT_NMI = _DEFAULTS["restatement_nmi"]
#: The default of sknas.config's ``max_discrete_values`` (the value in force is the config's): a numeric
#: column with at most this many distinct values is discrete (a count, a rating, a flag).
MAX_DISCRETE_VALUES = _DEFAULTS["max_discrete_values"]
#: A numeric column with more distinct values than ``max_discrete_values`` is still discrete when that many of
#: its values hold at least this share of its rows: a count with a few rare large values (attachments per email:
#: 13 values, 99.9% of the rows at 0-9) is a count, and segments that follow it are a group-by. Its rare values
#: share one code.
DISCRETE_COVERAGE = 0.99
#: Columns combined into pairs (sknas.config's ``restatement_columns``) are the ones closest to the
#: partition one at a time, at most this many: two columns whose combinations a partition restates each
#: share information with it alone (adding a column unrelated to the partition only lowers the NMI), and
#: 8 columns make 28 pairs, whatever the width of the table.
COMBINED_COLUMNS = 8


def precomputed_silhouette(D, labels):
    """Mean silhouette of ``labels`` under the square distance matrix ``D`` (rows in one cluster get 0).

    The same value as ``sklearn.metrics.silhouette_score(D, labels, metric="precomputed")``, in one
    matrix product, so that many partitions can be judged on the same distances cheaply.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> from sklearn.metrics import silhouette_score
    >>> X = np.random.default_rng(0).normal(size=(40, 2)); labels = np.arange(40) % 3
    >>> D = cdist(X, X)
    >>> bool(np.isclose(precomputed_silhouette(D, labels), silhouette_score(D, labels, metric="precomputed")))
    True
    """
    codes, labels = np.unique(labels, return_inverse=True)
    if not 2 <= len(codes) < len(labels):
        return -1.0
    onehot = np.eye(len(codes))[labels]
    sizes = onehot.sum(axis=0)
    sums = D @ onehot  # row i: summed distance to each cluster
    own = sums[np.arange(len(labels)), labels]
    own_size = sizes[labels] - 1
    a = np.divide(own, own_size, out=np.zeros_like(own), where=own_size > 0)
    others = sums / sizes
    others[np.arange(len(labels)), labels] = np.inf
    b = others.min(axis=1)
    s = np.divide(b - a, np.maximum(a, b), out=np.zeros_like(a), where=np.maximum(a, b) > 0)
    s[own_size == 0] = 0.0  # scikit-learn's convention for singleton clusters
    return float(s.mean())


def _distances(Z):
    Z = np.asarray(Z, dtype=np.float64)
    sq = np.einsum("ij,ij->i", Z, Z)
    D2 = sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T
    np.fill_diagonal(D2, 0.0)
    return np.sqrt(np.maximum(D2, 0.0))


def dip_pvalue(Z, random_state=0):
    """p-value of Hartigan's dip test on the pairwise distances of (at most :data:`DIP_ROWS` rows of) ``Z``.

    Unimodal distances (small dip, large p) mean one blob: no cluster structure. Needs the ``diptest``
    package; without it every space counts as admissible (p = 0).
    """
    try:
        import diptest
    except ImportError:  # pragma: no cover - an install without the dependency
        return 0.0
    Z = np.asarray(Z, dtype=np.float64)
    rows = np.random.RandomState(random_state).permutation(len(Z))[:DIP_ROWS]
    D = _distances(Z[rows])
    distances = D[np.triu_indices(len(rows), k=1)]
    if distances.size < 4 or np.ptp(distances) == 0:
        return 1.0
    return float(diptest.diptest(distances)[1])


def cross_space_matrix(label_sets, spaces):
    """Silhouette of every partition (rows) in every space (columns), on the spaces' shared rows."""
    out = np.empty((len(label_sets), len(spaces)))
    for j, Z in enumerate(spaces):
        D = _distances(Z)
        for i, labels in enumerate(label_sets):
            out[i, j] = precomputed_silhouette(D, labels)
    return out


def space_weights(matrix):
    """PageRank weight of each space (column) on the graph of positive rank correlations between them."""
    n_spaces = matrix.shape[1]
    if n_spaces == 1 or matrix.shape[0] < 3:
        return np.full(n_spaces, 1.0 / n_spaces)
    ranks = np.apply_along_axis(rankdata, 0, matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(ranks.T)
    corr = np.nan_to_num(corr, nan=0.0)
    W = np.clip(corr, 0.0, None)
    np.fill_diagonal(W, 0.0)
    out_weight = W.sum(axis=0)
    if not out_weight.any():
        return np.full(n_spaces, 1.0 / n_spaces)
    # Column-stochastic transition matrix; a space no other agrees with links to every space uniformly.
    P = np.where(out_weight > 0, W / np.where(out_weight > 0, out_weight, 1.0), 1.0 / n_spaces)
    damping, w = 0.85, np.full(n_spaces, 1.0 / n_spaces)
    for _ in range(100):
        w_next = (1 - damping) / n_spaces + damping * P @ w
        if np.abs(w_next - w).sum() < 1e-10:
            break
        w = w_next
    return w / w.sum()


def cross_space_scores(label_sets, spaces, *, random_state=0, return_details=False):
    """ACE-style score of each partition, judged in every admissible space; higher is better.

    Parameters
    ----------
    label_sets : list of ndarray of shape (n_rows,)
        One partition of the same rows per candidate.
    spaces : list of ndarray of shape (n_rows, n_dims_j)
        The spaces to judge in (the input rows and the candidates' embeddings of the same rows).
    random_state : int, default=0
        Seeds the row subsample (at most :data:`CROSS_SPACE_ROWS`) and the dip test's rows.
    return_details : bool, default=False
        Also return ``{"matrix", "admissible", "dip_pvalues", "weights"}``.

    Returns
    -------
    scores : ndarray of shape (n_partitions,)
        Weighted mean rank of each partition over the admissible spaces, in (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(5, 1, (60, 3))])
    >>> truth = np.repeat([0, 1], 60); noise = rng.integers(0, 2, 120)
    >>> scores = cross_space_scores([truth, noise], [X, X[:, :2], X * [1, 1, 9]])
    >>> bool(scores[0] > scores[1])
    True
    """
    n_rows = min(len(labels) for labels in label_sets)
    rows = np.sort(np.random.RandomState(random_state).permutation(n_rows)[:CROSS_SPACE_ROWS])
    label_sets = [np.asarray(labels)[rows] for labels in label_sets]
    spaces = [np.asarray(Z)[rows] for Z in spaces]
    pvalues = np.array([dip_pvalue(Z, random_state) for Z in spaces])
    admissible = pvalues < DIP_ALPHA
    if admissible.sum() < 2:  # too few spaces with structure to judge by: every space judges
        admissible = np.ones(len(spaces), dtype=bool)
    matrix = cross_space_matrix(label_sets, [Z for Z, keep in zip(spaces, admissible) if keep])
    weights = space_weights(matrix)
    ranks = np.apply_along_axis(rankdata, 0, matrix) / len(label_sets)
    scores = ranks @ weights
    if return_details:
        return scores, {"matrix": matrix, "admissible": admissible, "dip_pvalues": pvalues, "weights": weights}
    return scores


def discrete_columns(X, layout=None, names=None):
    """The discrete columns of encoded rows ``X`` as ``{name: integer codes}``.

    Categorical indicator blocks (``layout``) become their category codes; numeric columns with at most
    sknas.config's ``max_discrete_values`` distinct values (flags, counts, ratings) their values' codes, and
    so do those whose ``max_discrete_values`` most frequent values cover :data:`DISCRETE_COVERAGE` of the rows
    (a count with a few rare large values), the rare values sharing one code.

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.r_[np.zeros(900), np.ones(80), np.full(15, 2), np.arange(3, 14)]  # 3-13 once each
    >>> rating, measure = np.arange(1006) % 5, np.linspace(0, 1, 1006)
    >>> codes = discrete_columns(np.c_[counts, rating, measure], names=["attachments", "rating", "measure"])
    >>> sorted(codes), np.bincount(codes["attachments"]).tolist()  # 3-9 their own codes, 10-13 one
    (['attachments', 'rating'], [900, 80, 15, 1, 1, 1, 1, 1, 1, 1, 4])
    """
    X = np.asarray(X)
    max_values = get_config()["max_discrete_values"]
    n_numeric = X.shape[1] if layout is None else layout.n_numeric
    names = list(names) if names is not None else \
        [f"x{j}" for j in range(n_numeric + (0 if layout is None else len(layout.cardinalities)))]
    out = {}
    for j in range(n_numeric):
        values, codes, counts = np.unique(X[:, j], return_inverse=True, return_counts=True)
        if 2 <= len(values) <= max_values:
            out[names[j]] = codes
        elif len(values) > max_values:
            common = np.argsort(-counts, kind="stable")[:max_values]
            if counts[common].sum() >= DISCRETE_COVERAGE * len(codes):
                by_value = np.full(len(values), max_values)  # the rare values: one code after the common ones
                by_value[np.sort(common)] = np.arange(max_values)
                out[names[j]] = by_value[codes]
    if layout is not None:
        for c, (start, card) in enumerate(zip(layout.offsets, layout.cardinalities)):
            block = X[:, start:start + card]
            codes = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1)
            if len(np.unique(codes)) >= 2:
                out[names[n_numeric + c]] = codes
    return out


def _entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _nmi(a, b):
    """Normalised mutual information of two integer codings (arithmetic mean of the entropies, as
    scikit-learn's ``normalized_mutual_info_score``), by counting: the pair check calls it 28 times
    for each partition, where scikit-learn's sparse contingency table costs ~1 ms a call."""
    # Codes are non-negative integers already except where a missing category is coded -1.
    a, b = (np.unique(c, return_inverse=True)[1].ravel() if c.min() < 0 else c for c in map(np.asarray, (a, b)))
    h_a, h_b = _entropy(np.bincount(a)), _entropy(np.bincount(b))
    if h_a == 0.0 and h_b == 0.0:
        return 1.0
    mutual = h_a + h_b - _entropy(np.bincount(a * (b.max() + 1) + b))
    return float(min(max(mutual, 0.0) / ((h_a + h_b) / 2), 1.0))


def column_restatement(labels, columns, *, combined=None):
    """``(nmi, column)``: the discrete column (``{name: codes}``), or combination of columns, that
    ``labels`` agree with most.

    A group-by of two columns (four segments from two yes/no flags) is no more a discovery than one, and
    each column alone agrees with such segments only half-way (NMI ~0.5), so the combinations of the
    columns closest to ``labels`` (:data:`COMBINED_COLUMNS` of them) are checked too; a combination's
    name joins its columns' with `` & ``. ``combined`` (None: sknas.config's ``restatement_columns``) is
    how many columns at most are combined; 1 checks each column alone.

    Examples
    --------
    >>> import numpy as np
    >>> flag = np.array([0, 1] * 20); other = np.arange(40) % 4
    >>> nmi, column = column_restatement(1 - flag, {"has_tv": flag, "region": other})
    >>> round(nmi, 3), column
    (1.0, 'has_tv')
    >>> tv, phone = np.repeat([0, 1], 20), np.tile([0, 1], 20)
    >>> nmi, column = column_restatement(2 * tv + phone, {"has_tv": tv, "has_phone": phone})
    >>> round(nmi, 3), column
    (1.0, 'has_tv & has_phone')
    >>> round(column_restatement(2 * tv + phone, {"has_tv": tv, "has_phone": phone}, combined=1)[0], 3)
    0.667
    """
    labels = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    combined = get_config()["restatement_columns"] if combined is None else combined
    codes = {name: np.unique(np.asarray(c)[:len(labels)], return_inverse=True)[1].ravel()
             for name, c in columns.items()}
    singles = {name: _nmi(c, labels) for name, c in codes.items()}
    best, best_name = 0.0, None
    for name, nmi in singles.items():
        if nmi > best:
            best, best_name = nmi, name
    closest = sorted(singles, key=lambda name: -singles[name])[:COMBINED_COLUMNS]
    for size in range(2, min(combined, len(closest)) + 1):
        for names in itertools.combinations(closest, size):
            joint = codes[names[0]]
            for name in names[1:]:  # recoded at each step so that three or more columns cannot overflow
                joint = np.unique(joint * (codes[name].max() + 1) + codes[name], return_inverse=True)[1].ravel()
            nmi = _nmi(joint, labels)
            if nmi > best:
                best, best_name = nmi, " & ".join(map(str, names))
    return best, best_name
