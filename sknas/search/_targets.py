"""What a learning strategy (a controller, a surrogate) is told a record scored.

The shared score is ``-inf`` for a failed or collapsed candidate: a learner
needs a finite number that still ranks it below every valid candidate.
"""

from __future__ import annotations

import math

import numpy as np

#: The target of invalid candidates when no candidate is valid yet.
NO_VALID_TARGET = -1.0


def record_targets(records):
    """Finite learning targets of ``records``, in order.

    A valid record's target is its ``score``.  A failed or invalid one gets the
    lowest valid score minus the spread of the valid scores (1.0 when they do
    not spread), so it ranks last on the scoring's own scale whatever that
    scale is; with no valid record at all, every target is :data:`NO_VALID_TARGET`.

    Parameters
    ----------
    records : list of dict
        Search records (``score`` and ``valid`` keys).

    Returns
    -------
    ndarray of shape (len(records),)
    """
    scores = [r["score"] for r in records if r.get("valid") and math.isfinite(r["score"])]
    if not scores:
        return np.full(len(records), NO_VALID_TARGET)
    spread = max(scores) - min(scores)
    low = min(scores) - (spread if spread > 0 else 1.0)
    return np.array([r["score"] if r.get("valid") and math.isfinite(r["score"]) else low for r in records],
                    dtype=np.float64)
