"""One BLAS/OpenMP thread for a block of code, at the cost of a context switch, not a library scan.

sknas runs its KMeans fits, neighbour searches and discriminant fits on one thread so that their sums, and so
a search's choices, do not depend on the thread count (``n_jobs``, a Dask worker). ``threadpoolctl``'s
``threadpool_limits`` finds the loaded libraries anew at every call (2.8 ms on this project's 2-core
machine) and a small table's search makes 10-20 such calls; a controller found once and reused limits
in 0.02 ms. scikit-learn does the same (``sklearn.utils.parallel._get_threadpool_controller``).
The controller is made at the first call, after torch, numpy, scipy and scikit-learn have loaded theirs.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

_CONTROLLER = None


def one_thread():
    """A context manager limiting every BLAS and OpenMP pool found at the first call to one thread.

    Examples
    --------
    >>> import numpy as np
    >>> with one_thread():
    ...     float(np.ones((3, 3)) @ np.ones(3) @ np.ones(3))
    9.0
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)
