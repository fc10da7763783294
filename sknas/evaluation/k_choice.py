"""Evidence for the number of segments, label-free (``AutoSegmenter(n_clusters="auto")``).

The silhouette of KMeans on the input, the classical rule, favours k = 2 on most real tables: two halves are
always far apart on average. :func:`choose_k` (what ``AutoSegmenter`` uses) takes the silhouette in the
learned embedding instead, and only among *admissible* k: the smallest segment holds at least 2% of the rows,
the segments do not restate one discrete input column or two together (a group-by is not a discovery), and,
when :func:`split_stability` is given, the segments come back when the clusterer is refitted on other rows
with another seed (a partition that moves with the seed is not one to act on). Two segments are the answer
only when no larger admissible k exists (``prefer_at_least``), unless they stand on their own evidence: two
halves are the weakest segmentation, and the silhouette's pull towards k = 2 is what made customer tables end at
"has service X or not". Two segments compete with the others when neither holds groups of its own
(:func:`segment_split_pvalue` at sknas.config's ``split_dip_alpha``), no discrete column tells them most of the
way (``few_segments_max_nmi``) and they are stable (``docs/selection.md``, "Two segments on their own
evidence").

:func:`prediction_strength` (Tibshirani & Walther 2005) is the reproducibility rule it was compared with:
cluster two halves of the rows separately; at the right k, the centroids fitted on one half put the other
half's co-clustered pairs together again.

The comparison is in ``benchmarks/results/k_choice*.md`` and ``docs/selection.md``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans

from ..config import _DEFAULTS, get_config

#: A k is reproducible when its worst cluster keeps at least this share of co-clustered pairs.
PREDICTION_STRENGTH_THRESHOLD = 0.8
#: Half-splits per k.
N_SPLITS = 4


def _kmeans(Z, k, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(k, n_init=3, random_state=seed).fit(Z)


def _halves(n, rng):
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2:]


def prediction_strength(Z, k, random_state=0, n_splits=N_SPLITS):
    """Mean over half-splits of the worst test cluster's share of pairs kept together by the train centroids.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.vstack([rng.normal(c, 0.5, (60, 2)) for c in ((0, 0), (6, 0), (0, 6), (6, 6))])
    >>> strength = {k: prediction_strength(Z, k) for k in range(2, 7)}
    >>> max(k for k in strength if strength[k] >= PREDICTION_STRENGTH_THRESHOLD)
    4
    """
    if len(Z) // 2 <= k:  # a half with no more rows than clusters
        return 0.0
    rng = np.random.RandomState(random_state)
    values = []
    for _ in range(n_splits):
        train, test = _halves(len(Z), rng)
        seed = rng.randint(2**31 - 1)
        by_train = _kmeans(Z[train], k, seed).predict(Z[test])
        test_labels = _kmeans(Z[test], k, seed).labels_
        worst = 1.0
        for c in np.unique(test_labels):
            members = by_train[test_labels == c]
            n = len(members)
            if n < 2:
                continue
            counts = np.bincount(members)
            worst = min(worst, float((counts * (counts - 1)).sum() / (n * (n - 1))))
        values.append(worst)
    return float(np.mean(values))


# The judges' thresholds are sknas.config settings (documented there, with the reasons for their
# defaults), read when a function runs; these names are their defaults.
#: A segment smaller than this share of the rows is not worth acting on: such a k is not chosen
#: (sknas.config's ``min_segment_share``).
MIN_SEGMENT_SHARE = _DEFAULTS["min_segment_share"]
#: A k is stable when clusterers refitted on random halves with other seeds agree on the rows at this ARI
#: (sknas.config's ``min_stability``).
MIN_STABILITY = _DEFAULTS["min_stability"]
#: Fewer segments than this are chosen only when no admissible k at or above it exists
#: (sknas.config's ``prefer_at_least``).
PREFER_AT_LEAST = _DEFAULTS["prefer_at_least"]
#: Half-splits behind one stability figure (sknas.config's ``stability_splits``).
STABILITY_SPLITS = _DEFAULTS["stability_splits"]
#: The dip test's usual level, the one ``split_dip_alpha`` was measured at: a segment holds groups of its own
#: when the test rejects one mode at it (sknas.config's ``split_dip_alpha``).
SPLIT_DIP_ALPHA = 0.05
#: A segment with fewer rows is not tested: the dip test has next to no power on fewer.
SPLIT_MIN_ROWS = 20


def segment_split_pvalue(Z, labels, random_state=0):
    """How likely it is that no segment of ``labels`` holds two groups of its own: the smallest p-value, over
    the segments, of Hartigan's dip test on the segment's rows of ``Z`` projected on the axis between the
    segment's own 2-means centres.

    This is dip-means' test (Kalogeratos & Likas, NeurIPS 2012) on G-means' projection (Hamerly & Elkan,
    NeurIPS 2003): one blob, whatever its shape, projects to one mode; two groups to two. 1.0 when no segment
    has :data:`SPLIT_MIN_ROWS` rows.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.vstack([rng.normal(c, 0.4, (80, 2)) for c in ((0, 0), (9, 0), (9, 3))])
    >>> halves = (Z[:, 0] > 4.5).astype(int)           # the right half holds two groups
    >>> bool(segment_split_pvalue(Z, halves) < SPLIT_DIP_ALPHA)
    True
    >>> thirds = halves + (Z[:, 1] > 1.5)
    >>> bool(segment_split_pvalue(Z, thirds) < SPLIT_DIP_ALPHA)
    False
    """
    import diptest

    Z, labels = np.asarray(Z, dtype=np.float64), np.asarray(labels)
    smallest = 1.0
    for segment in np.unique(labels):
        rows = Z[labels == segment]
        if len(rows) < SPLIT_MIN_ROWS:
            continue
        centres = _kmeans(rows, 2, random_state).cluster_centers_
        axis = centres[1] - centres[0]
        if not np.any(axis):
            continue
        projection = rows @ (axis / np.linalg.norm(axis))
        if np.ptp(projection) > 0:
            smallest = min(smallest, float(diptest.diptest(projection)[1]))
    return smallest


def split_stability(Z, k, fit, random_state=0, n_splits=None):
    """Mean ARI, over ``n_splits`` random half-splits, of the segments two refits put the rows of ``Z`` in.

    Each split fits ``fit(rows, k, seed)`` (a callable returning a fitted clusterer with ``predict``) on
    one half and on the other half, each with its own seed, and compares their predictions on every row
    of ``Z``. 1 means the segments do not depend on which rows or which seed the clusterer saw.
    ``n_splits`` None: sknas.config's ``stability_splits`` (6).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.vstack([rng.normal(c, 0.4, (60, 2)) for c in ((0, 0), (0, 5), (9, 0))])
    >>> fit = lambda rows, k, seed: KMeans(k, n_init=3, random_state=seed).fit(rows)
    >>> round(split_stability(Z, 3, fit), 2), bool(split_stability(Z, 7, fit) < 0.9)
    (1.0, True)
    """
    from sklearn.metrics import adjusted_rand_score

    if len(Z) // 2 <= k:  # a half with no more rows than clusters
        return 0.0
    rng = np.random.RandomState(random_state)
    values = []
    for _ in range(get_config()["stability_splits"] if n_splits is None else n_splits):
        first, second = _halves(len(Z), rng)
        a = fit(Z[first], k, rng.randint(2**31 - 1)).predict(Z)
        b = fit(Z[second], k, rng.randint(2**31 - 1)).predict(Z)
        values.append(adjusted_rand_score(a, b))
    return float(np.mean(values))


def too_small(smallest_share, smallest_rows, min_share=None, min_rows=None):
    """Whether a smallest segment of ``smallest_rows`` rows, ``smallest_share`` of them, is too small to choose:
    under sknas.config's ``min_segment_share`` or ``min_segment_rows`` (or the values given).

    Examples
    --------
    >>> too_small(0.025, 1), too_small(0.25, 10), too_small(0.01, 100)
    (True, False, True)
    """
    config = get_config()
    min_share = config["min_segment_share"] if min_share is None else min_share
    min_rows = config["min_segment_rows"] if min_rows is None else min_rows
    return smallest_share < min_share or smallest_rows < min_rows


def sized(k, evidence, min_share=None, min_rows=None):
    """Whether the segments of ``evidence`` (one k's entry of :func:`choose_k`'s evidence) are all there (``k`` of
    them) and none is :func:`too_small`: segments that cover the table, whatever else they break.

    Examples
    --------
    >>> three = {"segments": 3, "smallest_share": 0.2, "smallest_rows": 40}
    >>> sized(3, three), sized(3, {**three, "segments": 2}), sized(3, {**three, "smallest_rows": 2})
    (True, False, False)
    """
    return evidence["segments"] == k and \
        not too_small(evidence["smallest_share"], evidence["smallest_rows"], min_share, min_rows)


def choose_k(Z, ks, labelings, columns=None, *, min_share=None, restatement_nmi=None,
             stability=None, min_stability=None, prefer_at_least=None, min_rows=None):
    """The k of ``ks`` whose segments of ``Z`` have the best silhouette in ``Z``, among the admissible ones.

    A k is admissible when its smallest segment holds at least ``min_share`` of the rows and ``min_rows`` rows, its
    segments do not restate one discrete input column or two together (NMI below ``restatement_nmi`` with
    every one of ``columns``, ``{name: codes}``, and every pair of them:
    :func:`~sknas.evaluation.judge.column_restatement`) and, when ``stability`` is given, they are stable (at
    least ``min_stability``). A k below ``prefer_at_least`` whose segments hold groups of their own
    (:func:`segment_split_pvalue` below sknas.config's ``split_dip_alpha``) wins only when no admissible k at or above
    ``prefer_at_least`` exists; one whose segments do not competes with the others on the silhouette.
    Stability, the costly part, is measured lazily: k are tried by decreasing silhouette and the first
    stable one wins, so only the k tried carry a stability figure. When no k is stable, the best
    silhouette among the otherwise admissible k wins; when none is, the best among the k whose segments are
    all there and large enough (they restate a column), and only then every k: segments that follow a
    column still cover the table, while a segment of a few far rows is not worth acting on.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_dims)
        The rows to judge in (the learned embedding).
    ks : sequence of int
    labelings : dict
        ``{k: labels of the rows of Z}`` (the clusterer's segments at each k).
    columns : dict or None, default=None
        Discrete input columns of the same rows (``sknas.evaluation.judge.discrete_columns``).
    min_share : float or None, default=None
        None: sknas.config's ``min_segment_share`` (0.02).
    min_rows : int or None, default=None
        None: sknas.config's ``min_segment_rows`` (3).
    restatement_nmi : float or None, default=None
        None: sknas.config's ``restatement_nmi`` (0.7).
    stability : callable, dict or None, default=None
        ``stability(k)`` (e.g. a :func:`split_stability` of the clusterer) or ``{k: value}``; None:
        stability is not judged.
    min_stability : float or None, default=None
        None: sknas.config's ``min_stability`` (0.8).
    prefer_at_least : int or None, default=None
        None: every admissible k competes on the silhouette alone (``AutoSegmenter`` passes sknas.config's
        ``prefer_at_least``).

    Returns
    -------
    k : int
    evidence : dict
        ``{k: {"silhouette", "segments", "smallest_share", "smallest_rows", "column_nmi", "closest_column",
        "stability", "admissible", "reason", "split_pvalue", "set_back"}}`` (``segments``: how many the
        clusterer found); ``reason`` says in words why a k was not admissible
        ("" when it was); ``set_back`` why an admissible k below ``prefer_at_least`` went after the larger ones
        ("" otherwise); ``stability`` is None for a k that was not tried; ``split_pvalue``
        (:func:`segment_split_pvalue`) is None but for an admissible k below ``prefer_at_least``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = np.vstack([rng.normal(c, 0.4, (50, 2)) for c in ((0, 0), (0, 5), (9, 0), (9, 5))])
    >>> flag = (Z[:, 0] > 4.5).astype(int)   # a yes/no column that is the k=2 split
    >>> labelings = {k: KMeans(k, n_init=3, random_state=0).fit_predict(Z) for k in (2, 3, 4, 5)}
    >>> k, evidence = choose_k(Z, (2, 3, 4, 5), labelings, {"flag": flag})
    >>> k, evidence[2]["admissible"], round(evidence[2]["column_nmi"], 2)
    (4, False, 1.0)
    """
    from sklearn.metrics import silhouette_score

    from .judge import column_restatement

    config = get_config()
    threshold = config["restatement_nmi"] if restatement_nmi is None else restatement_nmi
    min_share = config["min_segment_share"] if min_share is None else min_share
    min_rows = config["min_segment_rows"] if min_rows is None else min_rows
    min_stability = config["min_stability"] if min_stability is None else min_stability
    evidence = {}
    for k in ks:
        labels = np.asarray(labelings[k])
        n_labels = len(np.unique(labels))
        silhouette = float(silhouette_score(Z, labels)) if 1 < n_labels < len(labels) else -1.0
        smallest = int(np.bincount(np.unique(labels, return_inverse=True)[1]).min())
        share = smallest / len(labels)
        nmi, column = column_restatement(labels, columns) if columns else (0.0, None)
        reasons = []
        if n_labels != k:
            reasons.append(f"only {n_labels} segments found")
        if too_small(share, smallest, min_share, min_rows):
            reasons.append(f"smallest segment {share:.1%} of rows ({smallest} row{'s' if smallest != 1 else ''})")
        if nmi >= threshold:
            reasons.append(f"restates {column} (NMI {nmi:.2f})")
        evidence[k] = {"silhouette": silhouette, "segments": n_labels, "smallest_share": share,
                       "smallest_rows": smallest, "column_nmi": nmi, "closest_column": column, "stability": None,
                       "admissible": not reasons, "reason": "; ".join(reasons), "split_pvalue": None, "set_back": ""}

    def best_first(pool):
        return sorted(pool, key=lambda k: (-evidence[k]["silhouette"], k))

    admissible = [k for k in ks if evidence[k]["admissible"]]

    def few(k):
        return prefer_at_least is not None and k < prefer_at_least

    # Fewer segments than prefer_at_least go last unless the data say few on their own evidence: no segment
    # holds groups of its own (with split_dip_alpha set; one that does means the silhouette's pull to two far
    # halves is hiding them) and no discrete column tells the segments most of the way (below
    # few_segments_max_nmi: two halves that follow a yes/no flag are that flag, the customer-table failure).
    # The stability check below is the third condition: few segments are never the fallback when no k is
    # stable. (docs/selection.md, "Two segments on their own evidence".)
    alpha, few_max_nmi = config["split_dip_alpha"], config["few_segments_max_nmi"]
    for k in filter(few, admissible):
        e = evidence[k]
        e["split_pvalue"] = segment_split_pvalue(Z, labelings[k])
        why = [f"a segment holds groups of its own (dip p {e['split_pvalue']:.3f})"] \
            if e["split_pvalue"] < alpha <= 1 else []
        if e["column_nmi"] >= few_max_nmi:
            why.append(f"they follow {e['closest_column']} (NMI {e['column_nmi']:.2f})")
        if not why and e["split_pvalue"] < alpha:  # alpha above 1 (math.inf): few segments always go last
            why.append(f"fewer than {prefer_at_least} segments")
        e["set_back"] = "; ".join(why)
    preferred = [k for k in admissible if not evidence[k]["set_back"]]
    if stability is not None:
        measure = stability.__getitem__ if isinstance(stability, dict) else stability
        for k in best_first(preferred) + best_first([k for k in admissible if k not in preferred]):
            value = float(measure(k))
            evidence[k]["stability"] = value
            if value >= min_stability:
                return k, evidence
            evidence[k].update(admissible=False, reason=f"unstable (ARI {value:.2f} between refits)")
        # No k is stable: the best silhouette among the otherwise admissible k, few segments last.
        preferred = [k for k in preferred if not few(k)] or preferred
    covering = [k for k in ks if sized(k, evidence[k], min_share, min_rows)]
    return best_first(preferred or admissible or covering or list(ks))[0], evidence
