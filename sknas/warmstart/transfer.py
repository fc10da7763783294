"""Warm starts: the architectures an earlier search found, as a new search's first candidates.

Every search estimator takes ``init=``: an :class:`~sknas.space.Architecture`,
a list of them, a fitted sknas estimator (its ``architecture_`` and the
best distinct candidates of its ``search_history_``), optionally wrapped in
:class:`sklearn.frozen.FrozenEstimator`, or ``"zoo"`` (the shipped
architectures found on the datasets most like the data being fit,
:mod:`sknas.warmstart.zoo`).  :func:`init_architectures` turns any of these into a
validated list of Architectures of the new search's space; each strategy then
decides how to use them (first points, seeded population, first controller
batch, ...).  ``NeuralFeatureMap(init=fitted)`` transfers trained weights
instead (:func:`unwrap_fitted`, :func:`clone_keeping_init`), aligning
embeddings with the source's :func:`reference_embedding` when asked.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import StrOptions

from ..space import Architecture, reencode
from ..training import embed
from .zoo import zoo_architectures

#: Architectures taken from a fitted estimator: its winner and the next best distinct candidates.
#: Few on purpose: a warm start should spend a small share of the new budget on old knowledge.
N_FROM_ESTIMATOR = 3
#: What every search's ``init`` accepts (its ``_parameter_constraints`` entry); checked in depth by
#: :func:`init_architectures`.
INIT_CONSTRAINT = [None, StrOptions({"zoo"}), Architecture, list, tuple, BaseEstimator]
#: Rows of its training data whose embedding a fitted estimator keeps (``reference_embedding_``).
REFERENCE_ROWS = 1000


def clone_keeping_init(estimator):
    """``clone(estimator)``, except that a fitted estimator given as its ``init`` is kept as is.

    A fitted ``init`` is knowledge to start from, not a model to refit; ``clone``
    would unfit it (the behaviour of :class:`sklearn.frozen.FrozenEstimator`, here
    without the wrapper).  ``estimator`` itself is never modified.
    """
    init = getattr(estimator, "init", None)
    if not hasattr(init, "architecture_"):
        return BaseEstimator.__sklearn_clone__(estimator)
    shallow = copy.copy(estimator)
    shallow.init = None
    new = BaseEstimator.__sklearn_clone__(shallow)
    new.init = init
    return new


def unwrap_fitted(init):
    """The fitted sknas estimator behind ``init`` (a FrozenEstimator is unwrapped); ValueError when unfitted."""
    estimator = init.estimator if isinstance(init, FrozenEstimator) else init
    if not isinstance(getattr(estimator, "architecture_", None), Architecture):
        raise ValueError(f"init={type(estimator).__name__}(...) is not a fitted sknas estimator (it has no "
                         "architecture_). Fit it first; note that clone() unfits an estimator parameter, so "
                         "pass init=FrozenEstimator(fitted) or a list of Architectures through tools that clone.")
    return estimator


def architectures_of(estimator, n=N_FROM_ESTIMATOR):
    """The winner of a fitted sknas estimator, then its best other distinct valid candidates.

    Parameters
    ----------
    estimator : fitted sknas estimator
        A search (``search_history_`` ranked by ``selection_score``) or a
        :class:`~sknas.NeuralFeatureMap` (its ``architecture_`` only).
    n : int, default=3
        Most architectures returned.

    Returns
    -------
    list of Architecture
    """
    out = [estimator.architecture_]
    history = getattr(estimator, "search_history_", None) or []
    # The candidates that competed for the win (they carry a selection_score; a partly trained
    # evolution candidate does not); a history without any (an old fit) ranks every valid one by score.
    valid = [r for r in history if r.get("valid")]
    ranked = sorted([r for r in valid if "selection_score" in r] or valid,
                    key=lambda r: (-r.get("selection_score", r["score"]), r.get("trial", 0)))
    for record in ranked:
        if len(out) >= n:
            break
        if record["architecture"] not in out:
            out.append(record["architecture"])
    return out


def reference_embedding(encoder, Xs, n=REFERENCE_ROWS):
    """Embeddings of at most ``n`` rows of ``Xs``, a fixed random subset (seed 0), as float32.

    What a fitted estimator keeps of its training data (``reference_embedding_``):
    the source distribution an alignment loss pulls a fine-tuned map's
    embeddings towards (``NeuralFeatureMap(init=..., alignment=...)``).  A
    sample of embeddings, not of rows: smaller, and it is what the losses
    compare (the rows of new data with other columns could not go through the
    source network anyway).

    Parameters
    ----------
    encoder : torch.nn.Module
        The trained feature network.
    Xs : ndarray of shape (n_samples, n_encoded)
        Encoded (standardised) training rows.
    n : int, default=1000

    Returns
    -------
    ndarray of shape (min(n, n_samples), n_outputs)
    """
    rows = np.arange(len(Xs)) if len(Xs) <= n else \
        np.sort(np.random.RandomState(0).choice(len(Xs), n, replace=False))
    first = next(encoder.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    with torch.no_grad():
        Z = embed(encoder, torch.as_tensor(np.ascontiguousarray(Xs[rows], dtype=np.float32), device=device))
    return Z.cpu().numpy().astype(np.float32)


def init_architectures(init, space, X=None, n_clusters=8):
    """Validate a search's ``init`` parameter and return its Architectures in ``space``.

    Parameters
    ----------
    init : None, "zoo", Architecture, list of Architecture, or fitted sknas estimator
        A fitted estimator may be wrapped in :class:`sklearn.frozen.FrozenEstimator`.
        ``"zoo"``: the architectures of the zoo entries nearest to ``X``
        (:func:`sknas.warmstart.zoo.zoo_architectures`).
    space : SearchSpace
        The new search's (resolved) space.
    X : array-like or validated rows, default=None
        The data being fit; needed by ``"zoo"`` only.
    n_clusters : int, default=8
        The search's cluster count; used by ``"zoo"`` only.

    Returns
    -------
    list of Architecture
        Distinct, re-encoded with :func:`reencode`, in the given order;
        empty for ``None`` (and for ``"zoo"`` when the space contains no
        zoo architecture, with a warning).

    Raises
    ------
    TypeError
        A list holding something other than Architectures, or an object that
        is none of the accepted kinds.
    ValueError
        An empty list; an unfitted estimator; a given Architecture outside
        ``space``; an estimator none of whose architectures is in ``space``;
        a string other than ``"zoo"``.
    """
    if init is None:
        return []
    if isinstance(init, str):
        return _zoo_architectures(init, space, X, n_clusters)
    from_estimator = False
    if isinstance(init, Architecture):
        archs = [init]
    elif isinstance(init, (list, tuple)):
        if not init:
            raise ValueError("init is an empty list; pass None for a cold start.")
        bad = [type(a).__name__ for a in init if not isinstance(a, Architecture)]
        if bad:
            raise TypeError(f"init lists must hold only Architecture instances, got {sorted(set(bad))}.")
        archs = list(init)
    elif hasattr(init, "get_params"):
        archs, from_estimator = architectures_of(unwrap_fitted(init)), True
    else:
        raise TypeError("init must be None, 'zoo', an Architecture, a list of Architectures or a fitted sknas "
                        f"estimator, got {type(init).__name__}.")
    out = []
    for arch in map(lambda a: reencode(a, space), archs):
        if not space.contains(arch):
            if from_estimator:  # the earlier search had another space: keep what this one can use
                continue
            raise ValueError(f"init architecture {arch} is not in this search's space ({space}); widen "
                             "search_space or pass architectures it contains.")
        if arch not in out:
            out.append(arch)
    if not out:
        raise ValueError(f"None of the architectures of init={type(init).__name__}(...) ({[str(a) for a in archs]}) "
                         "is in this search's space; widen search_space.")
    return out


def _zoo_architectures(init, space, X, n_clusters):
    if init != "zoo":
        raise ValueError(f"init={init!r} is not understood; the only string init is 'zoo'.")
    if X is None:
        raise ValueError("init='zoo' needs the data being fit to choose the nearest zoo entries.")
    archs = zoo_architectures(X, space, n_clusters)
    if not archs:
        warnings.warn(f"init='zoo': the search space ({space}) contains none of the zoo's architectures; "
                      "the search starts cold. Widen search_space to use the zoo.", UserWarning, stacklevel=4)
    return archs
