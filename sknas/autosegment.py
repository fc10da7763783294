"""AutoSegmenter: a customer table in, named-ready segments out (preprocessing, NAS map, clustering)."""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, clone
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .preprocessing.tabular import Standardizer
from .preprocessing.table_columns import TableColumns
from .base import BaseNeuralTransformer
from .evaluation.judge import discrete_columns
from .config import config_context, get_config
from .evaluation.k_choice import choose_k, sized, split_stability, too_small
from .neural_map import NeuralFeatureMap
from .reporting.profiles import segment_profiles
from .io.provenance import record_provenance
from .training.deadline import Deadline, TimeBudgetWarning, no_budget_summary
from .search.bayes import BayesFeatureSearch
from .search.darts import DARTSFeatureSearch
from .search.evolution import EvoFeatureSearch
from .search.pareto import ParetoFeatureSearch
from .search.progressive import ProgressiveFeatureSearch
from .search.random import RandomFeatureSearch
from .search.reinforce import RLFeatureSearch

#: Rows the silhouette behind ``n_clusters="auto"`` is computed on at most (it is quadratic in rows).
_K_SELECTION_ROWS = 2000
#: With a ``time_budget``, the k choice is timed for this many k whose stability is measured (it stops at the
#: first stable k) ...
_K_STABILITY_TRIES = 2
#: ... and its estimate scaled by this much: the segmenting took 1.6-2.5x the estimate from a random projection
#: on make_customers and digits (KMeans iterates longer on a learned embedding; the profiles), so the search
#: left too little for it (``benchmarks/bench_time_budget.py``).
_K_ESTIMATE_FACTOR = 2.5
#: ``feature_map="random"`` searches with successive halving (``RandomFeatureSearch(screening=0.2)``): on the
#: development customer tables it gave the same segments' k, shares and column NMI as the full search, agreed
#: across seeds on all three (ARI 0.87-1.0, against 0.35 on health insurance without it) and fitted 1.1-2x
#: faster (``benchmarks/results/customers_dev_screening.md``, ``customers_dev_convergence.md``).
#: ``search_params={"screening": None}`` trains every network fully.
_RANDOM_SEARCH_SCREENING = 0.2
_MISSING = "(missing)"


def _distinct_rows(X, enough):
    """How many distinct rows ``X`` has, counted exactly only below ``enough`` (a sample usually shows that
    many, and the count of a large table would cost a hash of every row)."""
    sample = X[np.random.RandomState(0).choice(len(X), min(len(X), 2000), replace=False)]
    found = len(np.unique(sample, axis=0))
    return found if found >= enough or len(sample) == len(X) else len(np.unique(X, axis=0))


def _search_budget(deadline, k_estimate):
    """The search's share of what is left of ``deadline``: the segmenting's expected seconds (``k_estimate``)
    are set aside, at most half of what is left."""
    return max(deadline.remaining() - min(k_estimate, deadline.remaining() / 2), 1e-3)


#: ``method=`` name -> estimator class ("none": train one default architecture, no search).
METHODS = {"random": RandomFeatureSearch, "darts": DARTSFeatureSearch, "evo": EvoFeatureSearch,
           "pareto": ParetoFeatureSearch, "progressive": ProgressiveFeatureSearch, "rl": RLFeatureSearch,
           "bayes": BayesFeatureSearch, "none": NeuralFeatureMap}


class AutoSegmenter(ClusterMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Segment a table end to end: mixed-type preprocessing, a searched feature map, clustering.

    A DataFrame is taken as the user holds it: id-like and constant columns
    are left out with a warning, yes/no strings and booleans become 0/1 flags
    and dates days since the earliest one (``column_roles_``,
    ``dropped_columns_``).  Numeric columns are median-imputed; categorical
    and string columns are passed to the search estimator as they are
    when it embeds categories natively (``categorical_features``), and are
    one-hot encoded here otherwise.  The search learns a feature map label-free,
    the clusterer segments the embedding, and ``segment_profiles_`` summarises
    each segment in the original columns.

    Parameters
    ----------
    feature_map : {"random", "darts", "evo", "pareto", "progressive", "rl", "bayes", "none"} or estimator, \
default="random"
        What learns the embedding: a search method by name (``RandomFeatureSearch``, with successive
        halving: ``screening=0.2``; ``DARTSFeatureSearch``, ``EvoFeatureSearch``, ...; ``"none"`` is
        :class:`~sknas.NeuralFeatureMap`), or any sknas estimator instance
        (cloned; its own settings are kept, only ``n_clusters`` and
        ``random_state`` are set).
    clusterer : {"kmeans", "gmm"} or clusterer, default="kmeans"
        ``KMeans`` (10 starts) or ``GaussianMixture`` (full covariance) on the
        embedding, or any scikit-learn clusterer with ``fit`` and ``predict``
        and an ``n_clusters`` or ``n_components`` parameter (cloned, then given
        each k and the seed), e.g. ``Birch()`` or ``MiniBatchKMeans()``.
    n_clusters : int or "auto", default="auto"
        Number of segments.  ``"auto"`` tries every k in ``cluster_range``: the
        search runs with the middle of the range (it needs a k for its
        label-free score and its discriminant map), then the learned embedding
        is segmented at every k and the k whose segments have the best
        silhouette *in the embedding* wins among the admissible ones: the
        smallest segment holds at least 2% of the rows and 3 rows, and the
        segments do not restate one discrete input column (a yes/no flag, a
        category, a count with few values) or two together (normalised mutual
        information below 0.7), and
        the segments come back when the clusterer is refitted on other halves
        of the rows with other seeds (ARI at least 0.8 over 6 half-splits;
        measured for the best k first, until one passes). Two segments are
        chosen only when no larger admissible k exists, or when they stand on
        their own evidence: neither holds groups of its own (a dip test), no
        input column tells them most of the way (NMI below 0.5) and they are
        stable. (These thresholds are :mod:`sknas.config` settings:
        ``min_segment_share``, ``min_segment_rows``, ``restatement_nmi``, ``restatement_columns``,
        ``max_discrete_values``, ``min_stability``, ``stability_splits``,
        ``prefer_at_least``, ``split_dip_alpha``, ``few_segments_max_nmi``,
        ``retry_deskew_skewness``.)
        Segments a group-by
        would give are not a discovery, and segments that move with the seed
        are not ones to act on (:mod:`sknas.evaluation.k_choice`, ``docs/selection.md``). The
        evidence per k, with the reason each k lost, is in ``k_evidence_``.
        When no k is admissible because segments are too small, long-tailed
        numeric columns are power-transformed and the search runs once more
        (``deskewed_``); when still no k is admissible, the best silhouette
        wins and a ``UserWarning`` says why.
    cluster_range : tuple of (int, int), default=(2, 10)
        Smallest and largest k tried by ``n_clusters="auto"``.
    n_components : int, default=8
        Width of the learned embedding.
    max_trials : int, default=10
        Candidates the search evaluates.
    max_epochs : int or "auto", default="auto"
        Epochs per candidate and for the final network (``"auto"``: see
        :class:`~sknas.RandomFeatureSearch`).
    search_params : dict or None, default=None
        Further parameters of the search estimator (e.g. ``{"search_space":
        {"widths": (32,)}, "batch_size": 256}``).
    handle_unknown : {"ignore", "error"}, default="ignore"
        A category unseen at fit, met by ``predict``/``transform``: ``"ignore"``
        gives it no category (the search's reserved unknown embedding, or an
        all-zero one-hot block), so new customers are always segmented;
        ``"error"`` raises a ValueError naming the column and values.
    align_to : AutoSegmenter or None, default=None
        A previously fitted segmenter whose segment ids to keep: the new
        segments are matched to the previous model's segments of the same rows
        by the Hungarian algorithm on their agreement (row counts), so
        segment 3 stays segment 3 across monthly refits.  New segments without
        a match get ids after the previous ones.  Kept (not refitted) by
        ``clone``.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
    random_state : int, RandomState instance or None, default=None
    n_jobs : int or None, default=None
        Parallel candidates in the search.
    verbose : int, default=0
    time_budget : float or None, default=None
        Seconds ``fit`` may take in all. The search gets what is left once the segmenting is set aside
        (the k choice, timed from one fit of the clusterer on a projection of the table, times the fits the
        choice makes) and keeps within it (``time_budget`` of the search estimators); ``fit`` ends within
        1.1 times the budget when the budget covers the minimal work, and otherwise warns once
        (``TimeBudgetWarning``). ``search_params`` may set the search's own ``time_budget`` instead. None:
        no budget.

    Attributes
    ----------
    search_ : sknas estimator
        The fitted search (``search_.architecture_``, ``search_.search_history_``...).
    clusterer_ : KMeans or GaussianMixture
        Fitted on the embedding.
    n_clusters_ : int
        Number of segments.
    k_scores_ : dict
        ``{k: silhouette in the embedding}`` when ``n_clusters="auto"``.
    k_evidence_ : dict
        ``{k: {"silhouette", "segments", "smallest_share", "smallest_rows",
        "column_nmi", "closest_column", "stability", "admissible", "reason"}}``
        when ``n_clusters="auto"``:
        why each k was or was not chosen (``stability`` is None for a k not tried).
    deskewed_ : bool
        True when no k was admissible on the table as given because segments
        fell under ``min_segment_share`` or ``min_segment_rows`` (a few far rows of long-tailed
        columns, such as spend or counts, make segments of their own) and the
        search was run once more with those columns power-transformed
        (sknas.config's ``retry_deskew_skewness``), which gave an admissible k
        or, failing that, segments none of which is too small (the warning
        then says what they still break).
    labels_ : ndarray of shape (n_samples,)
        Segment of every training row (aligned ids).
    segment_ids_ : ndarray
        ``segment_ids_[c]`` is the public id of the clusterer's component ``c``.
    segment_profiles_ : pandas.DataFrame
        One row per segment id: ``size``, ``share``, ``description`` (one line
        of plain words from the strongest drivers, e.g. ``"higher spend (+1.4
        sd), mostly channel=web (78% vs 30%)"``), the median of each numeric
        column and the most frequent value of each categorical column, in the
        original columns (imputed numbers, raw categories; see
        :func:`sknas.reporting.profiles.segment_profiles`).
    segment_drivers_ : pandas.DataFrame
        What sets each segment apart from the other rows, one row per segment
        and column (and category): ``segment``, ``column``, ``value`` (the
        category, None for a number), ``kind`` (``"numeric"``, ``"flag"``,
        ``"category"``), ``effect`` (standardised mean difference for numbers
        and 0/1 flags, share difference for a category), ``segment_stat``,
        ``rest_stat`` (means; shares for flags and categories) and ``smd``
        (one scale for all kinds), sorted by ``|smd|`` within segment.
    categorical_columns_ : list
        Input columns treated as categories.
    column_roles_ : dict
        ``{column: role}`` for every input column: ``"numeric"``, ``"flag"``
        (booleans and yes/no strings as 0/1, missing values the most frequent),
        ``"date"`` (days since the earliest date at fit, missing values the
        median), ``"categorical"``, or left out: ``"id"`` (a non-float column
        with a different value in every row, tables of 20 rows or more),
        ``"constant"`` (one value, or missing in every row) and
        ``"high_cardinality"`` (strings with more than 100 distinct values:
        free text or a code).  Numbers written as strings, with blanks or
        ``"NA"`` for missing ones, are ``"numeric"``.  Only a DataFrame
        gets these rules; an array's columns ``x0, x1, ...`` are all numeric.
    dropped_columns_ : dict
        ``{column: reason}`` for the columns left out (a ``UserWarning`` names
        them at fit).
    native_categoricals_ : bool
        Whether categories went to the search estimator natively (else one-hot).
    provenance_ : dict
        Versions, seed, data shape/columns/hash, settings, search time.
    time_budget_ : dict
        ``budget`` (None without one), ``used`` (seconds), ``ratio``, ``within_tolerance`` (used at most
        1.1 x budget), ``search_budget`` (the search's ``time_budget``), ``search_seconds``,
        ``k_choice_seconds`` (both with a deskewed rerun's, ``deskewed_``, added) and ``k_choice_estimate``
        (the seconds set aside for the k choice).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.

    See Also
    --------
    sknas.metrics : scorers to tune an AutoSegmenter in ``GridSearchCV``.

    Examples
    --------
    >>> from sknas import AutoSegmenter
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> seg = AutoSegmenter(n_clusters="auto", cluster_range=(2, 6), max_trials=2, max_epochs=2,
    ...                     random_state=0, device="cpu").fit(X)
    >>> seg.labels_.shape
    (300,)
    >>> list(seg.segment_profiles_.columns[:2])
    ['size', 'share']
    >>> new = AutoSegmenter(max_trials=2, max_epochs=2, random_state=0, device="cpu", align_to=seg).fit(X)
    >>> bool((new.predict(X) == seg.predict(X)).mean() > 0.5)
    True
    """

    _parameter_constraints: dict = {
        "feature_map": [StrOptions(set(METHODS)), BaseNeuralTransformer],
        "clusterer": [StrOptions({"kmeans", "gmm"}), HasMethods(["fit", "predict"])],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "cluster_range": [tuple, list],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "search_params": [None, dict],
        "handle_unknown": [StrOptions({"ignore", "error"})],
        "align_to": [None],  # or an AutoSegmenter: added below the class
        "device": [str],
        "random_state": ["random_state"],
        "n_jobs": [None, numbers.Integral],
        "verbose": ["verbose"],
        "time_budget": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "method": [StrOptions(set(METHODS) | {"deprecated"}), BaseNeuralTransformer],
    }

    def __init__(self, feature_map="random", clusterer="kmeans", n_clusters="auto", *, cluster_range=(2, 10),
                 n_components=8, max_trials=10, max_epochs="auto", search_params=None, handle_unknown="ignore",
                 align_to=None, device="auto", random_state=None, n_jobs=None, verbose=0, time_budget=None,
                 method="deprecated"):
        self.feature_map = feature_map
        self.clusterer = clusterer
        self.n_clusters = n_clusters
        self.cluster_range = cluster_range
        self.n_components = n_components
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.search_params = search_params
        self.handle_unknown = handle_unknown
        self.align_to = align_to
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.time_budget = time_budget
        self.method = method

    def __sklearn_clone__(self):
        # align_to is a fitted reference model (data), not a sub-estimator to refit: clone keeps it as is.
        params = {k: clone(v, safe=False) for k, v in self.get_params(deep=False).items() if k != "align_to"}
        return type(self)(**params, align_to=self.align_to)

    # -- input --------------------------------------------------------------------------------
    def _split_columns(self, X, reset):
        """Validate ``X``; return (numeric float64 matrix, categorical object matrix or None, the frame or None).

        A DataFrame goes through :class:`~sknas.preprocessing.table_columns.TableColumns`: id-like and constant columns
        are left out (``dropped_columns_``), yes/no strings and booleans become 0/1 flags, dates days; the
        frame returned holds the used columns, ``_numeric_mask`` marks its numeric ones.  An array is all
        numbers (``column_roles_`` says so), as before.
        """
        table = getattr(self, "_table", None) if not reset else None
        if table is not None and not (hasattr(X, "columns") and hasattr(X, "dtypes")):
            import pandas as pd  # fitted on a DataFrame, given an array: its columns in the fitted order

            validate_data(self, X, skip_check_array=True, reset=False)  # warns: no feature names
            X = pd.DataFrame(np.asarray(X), columns=table.columns_)
        if hasattr(X, "columns") and hasattr(X, "dtypes"):
            if table is not None:
                table.check_columns(X)  # names the missing, unexpected or reordered columns
            validate_data(self, X, skip_check_array=True, reset=reset)
            if len(X) < 3 and reset:
                raise ValueError(f"Found array with {len(X)} sample(s) while a minimum of 3 is required.")
            if reset:
                self._table = TableColumns()
                X = self._table.fit_transform(X)  # warns once, naming the columns left out
                self.column_roles_, self.dropped_columns_ = dict(self._table.roles_), dict(self._table.dropped_)
                self._numeric_mask = np.array([self.column_roles_[c] != "categorical" for c in X.columns])
            elif table is not None:
                X = table.transform(X)
            elif len(X.columns) != len(self._numeric_mask):
                raise ValueError(f"X has {len(X.columns)} columns, expected {len(self._numeric_mask)}.")
            numeric = X.iloc[:, np.flatnonzero(self._numeric_mask)]
            numeric = numeric.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan) \
                if numeric.shape[1] else np.empty((len(X), 0))
            categorical = None
            if not self._numeric_mask.all():
                frame = X.iloc[:, np.flatnonzero(~self._numeric_mask)].astype(object)
                categorical = frame.where(frame.notna(), _MISSING).astype(str).to_numpy(dtype=object)
            return numeric, categorical, X
        numeric = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan",
                                ensure_min_samples=3 if reset else 1, reset=reset)
        if reset:
            self._numeric_mask = np.ones(numeric.shape[1], dtype=bool)
            self._table = None
            self.column_roles_ = {f"x{j}": "numeric" for j in range(numeric.shape[1])}
            self.dropped_columns_ = {}
        return numeric, None, None

    def _encode(self, X, reset):
        """The matrix the search sees: imputed numbers, then one-hot categories (the fallback)."""
        numeric, categorical, frame = self._split_columns(X, reset)
        if np.isinf(numeric).any():  # a DataFrame's column is named by TableColumns; an array's here
            columns = [f"x{j}" for j in np.flatnonzero(np.isinf(numeric).any(axis=0))]
            raise ValueError(f"Input contains infinity in column(s) {columns}; segments need finite numbers "
                             "(NaN is imputed).")
        if reset:
            with np.errstate(all="ignore"):
                fill = np.nanmedian(numeric, axis=0) if numeric.shape[1] else np.empty(0)
            self._fill = np.where(np.isnan(fill), 0.0, fill)  # an all-NaN column becomes zeros
        numeric = np.where(np.isnan(numeric), self._fill, numeric)
        if categorical is None:
            self._onehot = None
            return numeric, numeric, frame
        # The one-hot matrix serves the k selection (and is the search's input for a search estimator
        # without native categorical_features): unseen categories at predict get all zeros (no category).
        if reset:
            self._onehot = OneHotEncoder(handle_unknown=self.handle_unknown, sparse_output=False).fit(categorical)
        onehot = self._onehot.transform(categorical)
        return np.hstack([numeric, onehot]), numeric, frame

    def _selection_space(self, Xe, n_numeric):
        """The table as the classical recipes of the report see it: standardised numbers, 0/1 categories."""
        out = np.array(Xe, dtype=np.float64)
        out[:, :n_numeric] = self._input_scaler.transform(Xe[:, :n_numeric])
        return out

    # -- fit ----------------------------------------------------------------------------------
    def _feature_map(self):
        """``feature_map``, or the deprecated ``method`` where a user still gives it."""
        if isinstance(self.method, str) and self.method == "deprecated":
            return self.feature_map
        warnings.warn("AutoSegmenter(method=...) is deprecated since 0.2 and will be removed in 0.3; "
                      "use feature_map=... (the same values).", FutureWarning, stacklevel=3)
        return self.method

    def _make_search(self, k, rng):
        feature_map = self._feature_map()
        if isinstance(feature_map, BaseNeuralTransformer):
            search = clone(feature_map)
        else:
            search = METHODS[feature_map]()
        params = {"n_components": self.n_components, "n_clusters": k, "max_epochs": self.max_epochs,
                  "device": self.device, "random_state": rng.randint(2**31 - 1), "verbose": self.verbose}
        if "max_trials" in search.get_params():
            params.update(max_trials=self.max_trials, n_jobs=self.n_jobs)
        if feature_map == "random":
            params["screening"] = _RANDOM_SEARCH_SCREENING
        if isinstance(feature_map, BaseNeuralTransformer):
            params = {"n_clusters": k, "random_state": params["random_state"]}
        params.update(self.search_params or {})
        return search.set_params(**params)

    def _make_clusterer(self, k, seed):
        if not isinstance(self.clusterer, str):
            clusterer = clone(self.clusterer)
            params = clusterer.get_params()
            size = "n_clusters" if "n_clusters" in params else "n_components" if "n_components" in params else None
            if size is None:
                raise ValueError(f"clusterer {type(clusterer).__name__} has no n_clusters or n_components "
                                 "parameter, so AutoSegmenter cannot give it the number of segments.")
            return clusterer.set_params(**{size: k}, **({"random_state": seed} if "random_state" in params else {}))
        if self.clusterer == "gmm":
            return GaussianMixture(k, n_init=2, reg_covar=1e-4, random_state=seed)
        return KMeans(k, n_init=10, random_state=seed)  # 10 starts: the same segments whatever the seed

    def _k_candidates(self, Xe):
        if self.n_clusters != "auto":
            return [int(self.n_clusters)]
        low, high = (int(v) for v in self.cluster_range)
        if not 2 <= low <= high:
            raise ValueError(f"cluster_range must be (low, high) with 2 <= low <= high, got {self.cluster_range!r}.")
        # No more segments than distinct rows (a table of a few yes/no columns has a few): a clusterer asked for
        # more finds empty ones.
        distinct = _distinct_rows(Xe, enough=high)
        high = min(high, len(Xe) - 1, distinct)
        candidates = list(range(min(low, high), high + 1)) if high >= 2 else [1]
        if len(candidates) == 1 and low < int(self.cluster_range[1]):
            warnings.warn(f"n_clusters='auto' had nothing to choose: {len(Xe)} rows ({distinct} distinct, as encoded) "
                          f"allow only k = {candidates[0]} of cluster_range {tuple(self.cluster_range)}, so no "
                          "evidence was gathered (k_evidence_ is empty).", UserWarning, stacklevel=3)
        return candidates

    def _choose_k(self, Z, columns, candidates, seed):
        """The k of ``candidates`` chosen on the embedding ``Z`` (:func:`sknas.evaluation.k_choice.choose_k`)."""
        rng = check_random_state(seed)
        rows = rng.choice(len(Z), min(len(Z), _K_SELECTION_ROWS), replace=False)
        labelings = {k: self._make_clusterer(k, seed).fit(Z).predict(Z[rows]) for k in candidates}
        # Would the segments come back from other rows and another seed? (a user refits with another seed)
        def stability(k):
            return split_stability(Z[rows], k, lambda part, n, s: self._make_clusterer(n, s).fit(part),
                                   random_state=seed)

        return choose_k(Z[rows], candidates, labelings, {n: c[rows] for n, c in columns.items()},
                        stability=stability, prefer_at_least=get_config()["prefer_at_least"])

    def _fit_search(self, search, search_input, columns, candidates, k, seed):
        """Fit ``search``; return it, its embedding of ``search_input``, the chosen k, its evidence and the
        seconds the choice took."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TimeBudgetWarning)  # this fit warns once, for the whole fit
            search.fit(search_input)
        Z = search.transform(search_input).astype(np.float64)
        start = time.perf_counter()
        evidence = {}
        if len(candidates) > 1:
            k, evidence = self._choose_k(Z, columns, candidates, seed)
        return search, Z, k, evidence, time.perf_counter() - start

    @staticmethod
    def _small_segments_failed(evidence):
        """Whether no k is admissible and some k has a segment under ``min_segment_share`` or ``min_segment_rows``."""
        return bool(evidence) and not any(e["admissible"] for e in evidence.values()) and \
            any(too_small(e["smallest_share"], e["smallest_rows"]) for e in evidence.values())

    @staticmethod
    def _rerun_is_better(k, evidence, retry_k, retry_evidence):
        """Whether the deskewed rerun's answer (``retry_k``) replaces the first one (``k``): when some k of the
        rerun is admissible, or when the first answer has a segment too small to act on (or fewer segments than
        asked) and the rerun's does not. ``choose_k`` falls back to such a k when none is admissible: segments that
        restate a column or move with the seed, which the warning names, still cover the table; a segment of a few
        far rows does not."""
        return any(e["admissible"] for e in retry_evidence.values()) or (
            not sized(k, evidence[k]) and sized(retry_k, retry_evidence[retry_k]))

    def _warn_if_inadmissible(self, k, candidates):
        e = self.k_evidence_.get(k)
        if e is None or e["admissible"]:
            return
        span = f"{candidates[0]}..{candidates[-1]}"
        if e["stability"] is not None:
            warnings.warn(f"No number of segments in {span} came back when the clusterer was refitted on other rows "
                          f"with another seed (k = {k}: ARI {e['stability']:.2f}); these {k} segments may change "
                          "with random_state. See k_evidence_; more rows or another feature_map may help.",
                          UserWarning, stacklevel=3)
        else:
            hint = " A segment of a few rows is usually a few extreme rows: drop or cap them and fit again." \
                if too_small(e["smallest_share"], e["smallest_rows"]) else ""
            warnings.warn(f"No number of segments in {span} met AutoSegmenter's rules; k = {k} has the best "
                          f"silhouette among them ({e['reason']}). See k_evidence_.{hint}", UserWarning, stacklevel=3)

    def _discrete_columns(self, numeric, frame):
        """The table's discrete columns as codes: categorical columns, and numeric ones with few values."""
        names = list(frame.columns) if frame is not None else [f"x{i}" for i in range(numeric.shape[1])]
        numeric_names = [n for n, is_num in zip(names, self._numeric_mask) if is_num]
        out = discrete_columns(numeric, None, numeric_names)
        for name in self.categorical_columns_:
            values = frame[name].astype(object)
            values = values.where(values.notna(), _MISSING).astype(str).to_numpy()  # NaN is a category here
            out[str(name)] = np.unique(values, return_inverse=True)[1]
        return out

    def fit(self, X, y=None):
        """Learn the preprocessing, the feature map and the segments of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric columns and, in a DataFrame, categorical or string columns.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        deadline = None if self.time_budget is None else Deadline(self.time_budget)
        rng = check_random_state(self.random_state)
        Xe, numeric, frame = self._encode(X, reset=True)
        self.categorical_columns_ = [] if frame is None else \
            [c for c, is_num in zip(frame.columns, self._numeric_mask) if not is_num]
        # for the report's classical recipes, which standardise and no more
        self._input_scaler = Standardizer(deskew_skewness=math.inf).fit(numeric)
        seed = rng.randint(2**31 - 1)
        candidates = self._k_candidates(Xe)
        k0 = candidates[(len(candidates) - 1) // 2]  # the search's k; the final one is chosen on its embedding

        self.search_ = self._make_search(k0, rng)
        # Native categorical columns once the search estimators take them; the one-hot fallback until then.
        self.native_categoricals_ = bool(self.categorical_columns_) and \
            "categorical_features" in self.search_.get_params()
        if self.native_categoricals_:
            # by name, as strings: a search reads integer entries as column positions (a CSV read without a header
            # has columns 0, 1, ...), and _search_input gives the columns these names
            self.search_.set_params(categorical_features=[str(c) for c in self.categorical_columns_],
                                    handle_unknown=self.handle_unknown)
            search_input = self._search_input(frame, numeric)
        else:
            search_input = Xe
        k_estimate = search_budget = None
        if deadline is not None and "time_budget" in self.search_.get_params() and \
                "time_budget" not in (self.search_params or {}):
            k_estimate = self._k_choice_estimate(Xe, numeric.shape[1], candidates, k0, seed)
            search_budget = _search_budget(deadline, k_estimate)
            self.search_.set_params(time_budget=search_budget)
        columns = self._discrete_columns(numeric, frame)
        retry = clone(self.search_)  # the same settings and seed, for the deskewed rerun below
        self.search_, Z, k, self.k_evidence_, k_seconds = self._fit_search(
            self.search_, search_input, columns, candidates, k0, seed)
        search_seconds = self.search_.fit_time_
        self.deskewed_ = False
        # Segments under min_segment_share (or min_segment_rows) at every k: far rows of long-tailed columns make
        # segments of their own. Power-transforming those columns (docs/selection.md, "Skewed columns") and
        # searching once more is kept only when it gives an admissible k or mends the segment too small
        # (_rerun_is_better); otherwise the first answer stands. Either way an inadmissible k is warned about.
        threshold = get_config()["retry_deskew_skewness"]
        if self._small_segments_failed(self.k_evidence_) and math.isfinite(threshold) \
                and not math.isfinite(get_config()["deskew_skewness"]) \
                and Standardizer(deskew_skewness=threshold).fit(numeric).power_ \
                and (deadline is None or deadline.remaining() > search_seconds):
            if search_budget is not None:  # what is left now, less the segmenting's share
                retry.set_params(time_budget=_search_budget(deadline, k_estimate))
            with config_context(deskew_skewness=threshold):
                retry, retry_Z, retry_k, retry_evidence, retry_k_seconds = self._fit_search(
                    retry, search_input, columns, candidates, k0, seed)
            search_seconds, k_seconds = search_seconds + retry.fit_time_, k_seconds + retry_k_seconds  # both runs'
            if self._rerun_is_better(k, self.k_evidence_, retry_k, retry_evidence):
                self.search_, Z, k, self.k_evidence_ = retry, retry_Z, retry_k, retry_evidence
                self.deskewed_ = True
        self.k_scores_ = {c: e["silhouette"] for c, e in self.k_evidence_.items()}
        self._warn_if_inadmissible(k, candidates)
        self.n_clusters_ = k
        segmenting_start = time.perf_counter()
        self.clusterer_ = self._make_clusterer(k, seed).fit(Z)
        raw = self.clusterer_.predict(Z)
        self.segment_ids_ = self._aligned_ids(X, raw, k)
        self.labels_ = self.segment_ids_[raw]
        self.segment_profiles_, self.segment_drivers_ = self._profiles(numeric, frame)
        figures = {"search_budget": search_budget, "search_seconds": search_seconds,
                   "k_choice_seconds": k_seconds + time.perf_counter() - segmenting_start,
                   "k_choice_estimate": k_estimate}
        self.time_budget_ = no_budget_summary(search_seconds, **figures) if deadline is None \
            else deadline.summary(**figures)
        if deadline is not None:
            deadline.warn_if_exceeded(type(self).__name__, stacklevel=2)
        self.provenance_ = record_provenance(self, Xe, data=X if frame is not None else np.asarray(X))  # as given
        self.provenance_["search_time_s"] = float(self.search_.search_time_)
        self.provenance_["search"] = self.search_.provenance_["settings"]
        return self

    def _k_choice_estimate(self, Xe, n_numeric, candidates, k, seed):
        """Seconds the segmenting after the search is expected to take (``time_budget``): one fit of the
        clusterer at ``k`` on up to 2,000 rows of a random ``n_components``-wide projection of the table, timed,
        times the fits the k choice makes (every k and the final one on every row, the stability splits of the
        first k tried on halves of the 2,000)."""
        start = time.perf_counter()
        projection = np.random.RandomState(0)  # its own generator: the fit's draws stay as without a budget
        X = self._selection_space(Xe, n_numeric)
        rows = projection.choice(len(X), min(len(X), _K_SELECTION_ROWS), replace=False)
        probe = X[rows] @ projection.normal(size=(X.shape[1], self.n_components))
        self._make_clusterer(k, seed).fit(probe)
        one_fit = time.perf_counter() - start
        if len(candidates) == 1:
            return _K_ESTIMATE_FACTOR * one_fit * len(X) / len(rows)
        fits = (len(candidates) + 1) * len(X) / len(rows) + _K_STABILITY_TRIES * get_config()["stability_splits"]
        return _K_ESTIMATE_FACTOR * one_fit * fits

    def _search_input(self, frame, numeric):
        """The table as the search estimator sees it natively: imputed numbers, raw categories, column names as
        strings (scikit-learn keeps feature names only when all are strings)."""
        out = frame.copy()
        for j, col in enumerate(np.flatnonzero(self._numeric_mask)):
            out.isetitem(col, numeric[:, j])
        out.columns = [str(c) for c in out.columns]
        return out

    def _aligned_ids(self, X, raw, k):
        """Public id of each clusterer component: matched to ``align_to``'s segments, else 0..k-1."""
        if self.align_to is None:
            return np.arange(k)
        check_is_fitted(self.align_to, "segment_ids_")
        previous = self.align_to.predict(X)
        prev_ids = np.unique(np.concatenate([self.align_to.segment_ids_, previous]))
        # Agreement: rows in new component i and previous segment j; maximised by the Hungarian algorithm.
        agreement = np.array([[np.sum((raw == i) & (previous == j)) for j in prev_ids] for i in range(k)])
        rows, cols = linear_sum_assignment(-agreement)
        ids = np.full(k, -1)
        ids[rows] = prev_ids[cols]
        next_id = int(prev_ids.max()) + 1
        for i in np.flatnonzero(ids < 0):  # more segments than before: new ids after the old ones
            ids[i] = next_id
            next_id += 1
        return ids

    def _profiles(self, numeric, frame):
        """(``segment_profiles_``, ``segment_drivers_``) in the original columns: imputed numbers, raw categories."""
        import pandas as pd

        names = list(frame.columns) if frame is not None else [f"x{i}" for i in range(numeric.shape[1])]
        numeric_names = [n for n, is_num in zip(names, self._numeric_mask) if is_num]
        categorical = frame[self.categorical_columns_] if self.categorical_columns_ else None
        return segment_profiles(self.labels_, pd.DataFrame(numeric, columns=numeric_names), categorical,
                                segments=np.sort(self.segment_ids_))

    # -- predict / transform ----------------------------------------------------------------------
    def _embed(self, X):
        check_is_fitted(self, "clusterer_")
        Xe, numeric, frame = self._encode(X, reset=False)
        search_input = self._search_input(frame, numeric) if self.native_categoricals_ else Xe
        return self.search_.transform(search_input).astype(np.float64)

    def transform(self, X):
        """The learned embedding of ``X`` (what the clusterer segments).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components_)
        """
        return self._embed(X)

    @property
    def _n_features_out(self):
        """Width of the embedding: ``get_feature_names_out`` and ``set_output`` name its columns."""
        return self.search_.n_components_

    def predict(self, X):
        """Segment id of each row of ``X`` (new customers included).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        Z = self._embed(X)  # checks that the model is fitted
        return self.segment_ids_[self.clusterer_.predict(Z)]

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


AutoSegmenter._parameter_constraints["align_to"].append(AutoSegmenter)
