"""Settings that change a fit's results without being estimator parameters.

They are row caps and margins that hold for every estimator alike, so they live here rather than
in twelve constructors; like scikit-learn's ``set_config`` they are read when an estimator is
fitted, and each fitted model records the values it was fitted under in ``provenance_["config"]``
(so a result can always be traced to them). Change them for one block of code with
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
}
#: Which settings are counts (positive integers); the others are non-negative reals.
_COUNTS = {"search_max_rows", "score_max_rows", "final_max_row_visits", "knn_exact_max_rows", "lda_restarts"}

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
