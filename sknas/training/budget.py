"""How long one network trains: its epochs, from the size of its data.

An epoch visits every training row once, so on a small table it is only one or two optimizer
updates (olive oil, 458 training rows at the default batch of 512: one update an epoch). A budget
in epochs alone then leaves small-data networks far from converged: on olive oil a network trained
for 40 epochs gave KMeans ARI 0.50 and lost the search to the LDA map (ARI 0.49); trained for 400
epochs (1,200 updates) it reached ARI 0.99 and a label-free score above the LDA map's
(``benchmarks/results/training_budget.md``). So the default budget (``max_epochs="auto"``) is counted in
updates on small data and in epochs on large data; and a search candidate trains its whole budget and
keeps its last weights, as the final network does (``train_candidate(keep="last")``).
"""

from __future__ import annotations

import math
import numbers

from ..config import _DEFAULTS, get_config

# What max_epochs="auto" means is two sknas.config settings, auto_min_epochs and min_updates (documented
# there), read when a budget is resolved; these names are their defaults.
#: ``max_epochs="auto"``: at least this many epochs (sknas.config's ``auto_min_epochs``) ...
AUTO_MIN_EPOCHS = _DEFAULTS["auto_min_epochs"]
#: ... and at least this many optimizer updates (epochs x batches per epoch; sknas.config's ``min_updates``).
#: Above ``MIN_UPDATES / AUTO_MIN_EPOCHS * batch_size`` rows (12,800 at batch 512) "auto" is AUTO_MIN_EPOCHS.
MIN_UPDATES = _DEFAULTS["min_updates"]


def batches_per_epoch(n_rows, batch_size):
    """Optimizer updates one epoch of ``n_rows`` rows makes (at least one)."""
    return max(1, math.ceil(n_rows / batch_size))


def resolve_epochs(max_epochs, n_rows, batch_size):
    """Epochs a network trains on ``n_rows`` rows: ``max_epochs``, or what ``"auto"`` means there.

    ``"auto"``: at least sknas.config's ``auto_min_epochs`` epochs (40) and at least its ``min_updates``
    optimizer updates (1000), read when called.

    Parameters
    ----------
    max_epochs : int or "auto"
    n_rows, batch_size : int

    Returns
    -------
    int

    Examples
    --------
    >>> resolve_epochs(25, n_rows=500, batch_size=512)
    25
    >>> resolve_epochs("auto", n_rows=500, batch_size=512)  # one update an epoch
    1000
    >>> resolve_epochs("auto", n_rows=100_000, batch_size=512)  # 196 updates an epoch
    40
    """
    if isinstance(max_epochs, numbers.Integral):
        return int(max_epochs)
    if max_epochs != "auto":
        raise ValueError(f"max_epochs must be a positive int or 'auto', got {max_epochs!r}.")
    config = get_config()
    return max(config["auto_min_epochs"], math.ceil(config["min_updates"] / batches_per_epoch(n_rows, batch_size)))


def supernet_epochs(max_epochs):
    """Epochs a weight-sharing supernet (DARTS, ENAS) trains: ``max_epochs``, or for "auto" sknas.config's
    ``auto_min_epochs`` (40).

    A supernet trains every op at once, at 0.11-0.16x a plain network's throughput (``docs/architecture.md``), and
    its weights only rank ops and paths; the architecture it picks is then trained and scored as a
    candidate, and trained finally, with the full "auto" budget.

    Examples
    --------
    >>> supernet_epochs("auto"), supernet_epochs(7)
    (40, 7)
    """
    return get_config()["auto_min_epochs"] if max_epochs == "auto" else int(max_epochs)
