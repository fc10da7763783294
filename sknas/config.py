"""Settings that change a fit's results without being estimator parameters.

They are row caps, margins, judges' thresholds and training budgets that hold for every estimator
alike, so they live here rather than in twelve constructors; like scikit-learn's ``set_config`` they
are read when an estimator is fitted, and each fitted model records the values it was fitted under in
``provenance_["config"]`` (so a result can always be traced to them). Change them for one block of code with
:func:`config_context`, or for the thread with :func:`set_config`.

Settings
--------
search_max_rows : int, default=20_000
    Rows the search sees at most (train + validation, a random subset in the split's proportions):
    candidates are compared on a fixed subsample (low fidelity) and only the final network trains on
    all rows, so a search's cost stops growing with the data beyond this size.
score_max_rows : int, default=2000
    Rows a candidate's label-free score is computed on at most: the validation rows, topped up with
    training rows when the validation split is smaller. On small tables the validation split alone is
    tiny (wine: 36 rows, 12 per cluster), so one candidate's score swung with which rows fell there; a
    partition judged on more rows ranks candidates better (random-search pools, 5 datasets x 5 seeds:
    Kendall tau with ARI 0.45 -> 0.49, picked candidate's ARI 0.695 -> 0.722). Early stopping still
    uses the validation rows only.
final_max_row_visits : int, default=5_000_000
    Row visits (epochs x rows) the final network trains for at most: on large data it trains for fewer
    than ``max_epochs`` epochs (at least one), so its cost stops growing with the data (at 1,000,000
    rows: 5 epochs, about 10,000 steps at batch 512, several times what any search candidate gets).
fixed_map_margin : float, default=0.02
    How much a network's selection score must exceed the best fixed map's (raw features, LDA) to win,
    for the scorings on the silhouette's [-1, 1] scale (other scorings compare plainly). A network's
    score moves with its training seed (within-architecture standard deviation 0.013-0.027 on five
    datasets) and the best of many networks is the luckiest, while a fixed map is a deterministic
    function of the data: the one-standard-error rule.
knn_exact_max_rows : int, default=50_000
    Rows up to which the ``"neighbors"`` objective's k-nearest-neighbour graph is exact; above, each
    row's neighbours are found among a seeded sample of reference rows.
lda_restarts : int, default=5
    KMeans restarts of the LDA fixed map's alternating fit (more restarts, a better local optimum,
    proportionally more time).
lda_max_rows : int, default=20_000
    Rows the LDA fixed map is fitted on at most (a seeded random subset beyond): it has at most
    ``n_clusters - 1`` directions, which a few thousand rows per cluster already pin down, and restarts
    on a million rows would cost minutes of KMeans.
knn_reference_rows : int, default=10_000
    Reference rows the ``"neighbors"`` objective's approximate k-nearest-neighbour graph (above
    ``knn_exact_max_rows`` rows) searches among; its cost is linear in the rows times this.
auto_min_epochs : int, default=40
    What ``max_epochs="auto"`` means, with ``min_updates``: a network trains for at least this many
    epochs (and a weight-sharing supernet, DARTS or ENAS, for exactly this many).
min_updates : int, default=1000
    ... and for at least this many optimizer updates (epochs x batches per epoch), so that a network on
    a small table, where an epoch is one or two updates, is not left far from converged (olive oil: 40
    epochs gave ARI 0.50, 400 epochs, 1,200 updates, 0.99; ``benchmarks/results/training_budget.md``).
    Above ``min_updates / auto_min_epochs * batch_size`` rows (12,800 at batch 512) "auto" is
    ``auto_min_epochs`` epochs.
convergence_tol : float, default=0.01
    A search candidate on the ``max_epochs="auto"`` budget stops training early once its clusters have
    stopped sharpening: every tenth of its budget the silhouette of KMeans on at most 500 scoring rows is
    taken, and once ``convergence_min_share`` of the budget is done, training stops at the first check
    where the mean of the last two figures has not risen more than this above its best of two checks (a
    fifth of the budget) before (:class:`sknas.training.convergence.ScorePlateau`;
    ``benchmarks/results/convergence.md``). The final network then trains for the updates the winning
    candidate used.
convergence_min_share : float, default=0.3
    ... the share of the budget a candidate trains before it may stop; 1 turns the stop off (every
    candidate trains its whole budget).
race_headroom : float, default=0.1
    At those same checks a network also stops when its score (the search's own, on the scoring rows) plus
    this is still below the best fixed map's score plus ``fixed_map_margin``: it could not win
    (:class:`sknas.training.convergence.FixedMapRace`; ``docs/speed.md``). ``math.inf`` turns the race off.
max_labelled_rows : int, default=2000
    Rows of a candidate's scoring rows whose cluster labels (and embedding) are kept for the judges
    that compare candidates with one another (consensus, cross-space) and with the input's discrete
    columns.
restatement_nmi : float, default=0.7
    A partition restates a discrete input column (a group-by, not a discovery) when their normalised
    mutual information reaches this: a k=2 partition then agrees with a balanced yes/no column on about
    95% of the rows. 0.7 rather than the 0.8 a reader would call "restates" because the judge sees at
    most ``max_labelled_rows`` rows and a candidate's own KMeans labels, and such a NMI scatters by a
    few hundredths from the final segments' on the whole table (penguins: 0.7996 and 0.81 for
    candidates that split by the same column). No development table's true classes come above 0.5
    (``benchmarks/results/judges_dev.md``).
max_discrete_values : int, default=10
    A numeric column with at most this many distinct values is discrete (a count, a rating, a flag),
    one whose restatement a partition is checked for; so is one whose this many most frequent values hold
    99% of its rows (a count with a few rare large values; ``sknas.evaluation.judge.DISCRETE_COVERAGE``).
restatement_columns : int, default=2
    How many discrete input columns together a partition is checked against: 1, each column alone; 2,
    also each pair of columns as their combinations (a group-by of two yes/no columns gives four
    segments, each column alone reaching only NMI ~0.5 with them; ``docs/selection.md``, "Two columns
    at once").
min_segment_share : float, default=0.02
    ``AutoSegmenter`` does not choose a number of segments whose smallest segment holds less than this
    share of the rows: such a segment is not worth acting on.
min_segment_rows : int, default=3
    Nor one whose smallest segment has fewer rows than this, whatever the table's size: on small tables 2%
    is a row or two (one ship of 40 in ``AER::ShipAccidents`` was a segment of its own), and one row is an
    outlier, two a pair, not a group with a centre and a spread. Bites only under 150 rows (the k is chosen
    on at most 2,000 rows, where 2% is 40). 5 cost a 54-row table of eight painting schools (about 7 painters
    each) the k near its classes on 3 seeds of 5 (``docs/selection.md``, "Small tables and rare counts").
min_stability : float, default=0.8
    A number of segments is stable when clusterers refitted on random halves with other seeds agree on
    the rows at this ARI (the seed agreement issue 21 asks of the segments a user gets).
prefer_at_least : int, default=3
    ``AutoSegmenter`` chooses fewer segments than this only when no admissible number at or above it
    exists (two halves are rarely the segments a user is after), unless those few segments stand on their own
    evidence (``split_dip_alpha``, ``few_segments_max_nmi``, and stable).
split_dip_alpha : float, default=0.05
    Fewer than ``prefer_at_least`` segments compete with the others on the silhouette only when none of them
    holds groups of its own: Hartigan's dip test on its rows, projected on the axis between its own 2-means
    centres, does not reject one mode at this level (:func:`sknas.evaluation.k_choice.segment_split_pvalue`),
    no discrete column tells them most of the way (``few_segments_max_nmi``) and they are stable; ``math.inf``
    sets them back always (the rule until 2026-12-07). Replayed on saved pools, DARTS / random search, ARI at
    the chosen k against the rule before: development 0.602 / 0.595 against 0.617 / 0.607 (iris at 2, breast
    cancer at 2 instead of 3 or 6; a tie), fourth held-back split 0.090 / 0.090 against 0.079, fifth 0.142 /
    0.141 against 0.100 / 0.097; none of 15 customer-table fits gets two segments (``docs/selection.md``, "Two
    segments on their own evidence").
few_segments_max_nmi : float, default=0.5
    Fewer than ``prefer_at_least`` segments compete with the others (``split_dip_alpha`` set) only when their
    normalised mutual information with every discrete input column stays below this: two segments at NMI 0.5
    with a balanced yes/no column agree with it on about 89% of the rows, at 0.67 on 94% (a customer table's
    two stable halves that followed one service flag). Such halves are that column, and a user could have
    grouped by it. Has no effect while ``split_dip_alpha`` is ``math.inf``.
stability_splits : int, default=6
    Random half-splits behind one stability figure: with 2, the figure of the same k moved by 0.2-0.3
    between the random_state of two fits on a telecom customer table (0.67 / 0.98), enough to flip the
    chosen k; with 6, by at most 0.1 (``docs/selection.md``).
deskew_skewness : float, default=math.inf
    A numeric column whose skewness exceeds this in absolute value (1 is the usual line for "highly
    skewed") is power-transformed (Yeo-Johnson) after standardising, before any map, score or neighbour
    graph sees it (:class:`sknas.preprocessing.tabular.Standardizer`). Off by default (``math.inf``): at 1,
    KMeans on the 13 development tables gained (mean ARI 0.506 -> 0.537) but the default searches ->
    KMeans tied (DARTS 0.677 -> 0.686, paired +0.008 [-0.024, +0.044]; random search +0.007 [-0.031,
    +0.047]; diabetes +0.17, biopsy +0.08, the customer table -0.11, glass -0.05; ``docs/selection.md``,
    "Skewed columns").
retry_deskew_skewness : float, default=1.0
    ``AutoSegmenter(n_clusters="auto")`` only: when no k is admissible because segments fall under
    ``min_segment_share`` (or ``min_segment_rows``), the search runs once more with ``deskew_skewness`` at this
    value, and that answer is kept when it has an admissible k, or when the first answer's smallest segment is
    too small and the rerun's is not (``AutoSegmenter.deskewed_``). A few far rows of a long-tailed
    column (a whale customer, a blockbuster's votes) otherwise make a segment of their own at every k, and
    the fit fell silently to k = 2 with a segment of 1.1% of 87 film characters or 1.3% of 58,788 films;
    with the rerun they get 6 and 8 segments, the smallest 8.0% and 3.8% (``docs/selection.md``, "Skewed
    columns"). ``math.inf`` never retries. Fits where some k is admissible are untouched.

Examples
--------
>>> import sknas
>>> sknas.config.get_config()["search_max_rows"]
20000
>>> with sknas.config.config_context(search_max_rows=5000):
...     sknas.config.get_config()["search_max_rows"]
5000
>>> sknas.config.get_config()["search_max_rows"]
20000
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading

#: The defaults (documented above); the values the package's results were measured with.
_DEFAULTS = {
    "search_max_rows": 20_000,
    "score_max_rows": 2000,
    "final_max_row_visits": 5_000_000,
    "fixed_map_margin": 0.02,
    "knn_exact_max_rows": 50_000,
    "lda_restarts": 5,
    "lda_max_rows": 20_000,
    "knn_reference_rows": 10_000,
    "auto_min_epochs": 40,
    "min_updates": 1000,
    "convergence_tol": 0.01,
    "convergence_min_share": 0.3,
    "race_headroom": 0.1,
    "max_labelled_rows": 2000,
    "restatement_nmi": 0.7,
    "max_discrete_values": 10,
    "restatement_columns": 2,
    "min_segment_share": 0.02,
    "min_segment_rows": 3,
    "min_stability": 0.8,
    "prefer_at_least": 3,
    "split_dip_alpha": 0.05,
    "few_segments_max_nmi": 0.5,
    "stability_splits": 6,
    "deskew_skewness": math.inf,
    "retry_deskew_skewness": 1.0,
}
#: Which settings are counts (positive integers); the others are non-negative reals.
_COUNTS = {"search_max_rows", "score_max_rows", "final_max_row_visits", "knn_exact_max_rows", "lda_restarts",
           "lda_max_rows", "knn_reference_rows", "auto_min_epochs", "min_updates", "max_labelled_rows",
           "max_discrete_values", "restatement_columns", "prefer_at_least", "stability_splits", "min_segment_rows"}

# One configuration per thread, as scikit-learn's: a config_context in one thread never changes a fit
# running in another. Work shipped to other threads or processes carries the values explicitly
# (a search passes get_config() with each candidate's settings).
_local = threading.local()


def _config():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """The settings in force in this thread, as a new dict.

    Returns
    -------
    config : dict
        Setting name to value (see the module's documentation for each).
    """
    return dict(_config())


def _check(name, value):
    if name not in _DEFAULTS:
        raise TypeError(f"sknas.config has no setting {name!r}; the settings are {sorted(_DEFAULTS)}.")
    if name in _COUNTS:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        return int(value)
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    return float(value)


def set_config(**settings):
    """Change settings for this thread (until changed again).

    Parameters
    ----------
    **settings
        Setting names and their new values; see the module's documentation.

    Raises
    ------
    TypeError
        An unknown setting.
    ValueError
        A value out of range.
    """
    checked = {name: _check(name, value) for name, value in settings.items()}
    _config().update(checked)


@contextlib.contextmanager
def config_context(**settings):
    """Change settings within a ``with`` block; the previous values come back after it.

    Parameters
    ----------
    **settings
        Setting names and their values inside the block.

    Examples
    --------
    >>> from sknas.config import config_context, get_config
    >>> with config_context(score_max_rows=500):
    ...     get_config()["score_max_rows"]
    500
    """
    before = get_config()
    set_config(**settings)
    try:
        yield
    finally:
        _config().clear()
        _config().update(before)
