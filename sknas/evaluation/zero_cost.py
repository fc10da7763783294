"""Zero-cost proxies: rank untrained candidates by what their initialisation does to the data.

NASWOT (Mellor et al. 2021, "Neural Architecture Search without Training") scores a network at
initialisation by how differently it treats the rows of a batch: each row gets a binary code (which
units of every hidden layer are active), and the log-determinant of the rows' code-agreement kernel
is high when many rows get distinct, far-apart codes.  It needs no labels, so it applies to the
unsupervised feature maps here unchanged; the adaptation is what counts as "active" (the sign of every
block's pre-activation, whatever the activation function, since the space mixes relu, gelu, silu,
tanh and identity) and that a network with no hidden block is coded by the sign of its output.

Whether the proxy agrees with the trained, label-free score is an empirical question; searches report
its Kendall tau with the fully trained scores (``ProgressiveFeatureSearch.prescreen_tau_``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..space import build_network
from ..space.architecture import FIXED_HEADS
from ..training import seeded

#: Rows in the kernel: NASWOT's batch; the log-determinant of a larger kernel costs O(n^3).
NASWOT_ROWS = 128
#: Added to the kernel's diagonal so duplicate codes give a finite (very low) score, not -inf.
_JITTER = 1e-3


def activation_codes(architecture, X, n_components, seed=0):
    """Binary activity codes of the rows ``X`` in ``architecture`` at a seeded initialisation.

    Parameters
    ----------
    architecture : Architecture
    X : ndarray of shape (n_rows, n_features)
        Standardised rows.
    n_components : int
        Output width of a linear head.
    seed : int
        Seed of the initial weights.

    Returns
    -------
    ndarray of bool, shape (n_rows, n_units)
        Sign of every block's pre-activation (or of the output, with no hidden block).
    """
    with seeded(seed):
        net = build_network(architecture, X.shape[1], n_components)
    net.eval()
    codes = []
    hooks = [block.act.register_forward_hook(lambda module, inputs, output: codes.append(inputs[0] > 0))
             for block in net.blocks]
    try:
        with torch.no_grad():
            out = net(torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)))
    finally:
        for hook in hooks:
            hook.remove()
    if not codes:
        codes = [out > 0]
    return torch.cat([c.flatten(1) for c in codes], dim=1).numpy()


def naswot_score(architecture, X, n_components, seed=0, n_rows=NASWOT_ROWS):
    """Label-free NASWOT score of ``architecture`` at initialisation (higher: rows better separated).

    Parameters
    ----------
    architecture : Architecture
    X : ndarray of shape (n_samples, n_features)
        Standardised rows; the first ``n_rows`` are used (pass them shuffled).
    n_components : int
    seed : int
    n_rows : int, default=128

    Returns
    -------
    float
        ``log det K`` with ``K[i, j]`` the number of units on which rows ``i`` and ``j`` agree;
        NaN for the fixed maps (raw features, LDA), which have no initialisation to judge.

    Examples
    --------
    >>> import numpy as np
    >>> from sknas.space import Architecture, Block
    >>> from sknas.evaluation.zero_cost import naswot_score
    >>> X = np.random.RandomState(0).randn(64, 5)
    >>> wide = naswot_score(Architecture((Block("linear", 64),)), X, n_components=2)
    >>> narrow = naswot_score(Architecture((Block("linear", 2),)), X, n_components=2)
    >>> bool(wide > narrow)
    True
    """
    if architecture.head in FIXED_HEADS:
        return math.nan
    codes = activation_codes(architecture, X[:n_rows], n_components, seed).astype(np.float64)
    kernel = codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T
    kernel /= max(codes.shape[1], 1)  # per-unit agreement: comparable across widths
    _, logdet = np.linalg.slogdet(kernel + _JITTER * np.eye(len(kernel)))
    return float(logdet)
