"""A fixed-length numeric encoding of an Architecture within a SearchSpace.

Surrogate models (Bayesian optimisation, a progressive search's predictor)
need every Architecture of a space as a vector of the same length.  The
encoding is one-hot throughout, so Euclidean distance between two codes is
a weighted count of differing decisions (close to :func:`genotype_distance`)
and a stationary kernel on it is a kernel on genotypes:

- the head (``linear``, ``identity``, ``lda``) and the depth ``0..max_depth``;
- for each of the ``max_depth`` block slots: whether it is used, then one-hot
  groups for op, width, activation, norm, dropout and residual over the
  space's own choices.  An unused slot, a width-preserving op's width, or a
  value outside the space's choices encodes as zeros in its group.
"""

from __future__ import annotations

import numpy as np

from .architecture import HEADS
from .ops import PRESERVING_OPS

#: Block fields encoded per slot, with the SearchSpace attribute holding their choices.
_SLOT_GROUPS = (("op", "ops"), ("width", "widths"), ("activation", "activations"), ("norm", "norms"),
                ("dropout", "dropouts"), ("residual", "residual"))


def encoding_names(space):
    """Names of the entries of :func:`encode`'s vector, e.g. ``"block1.op=gated"``.

    Parameters
    ----------
    space : SearchSpace

    Returns
    -------
    list of str
    """
    names = [f"head={h}" for h in HEADS] + [f"depth={d}" for d in range(space.max_depth + 1)]
    for slot in range(space.max_depth):
        names.append(f"block{slot}.used")
        for name, attr in _SLOT_GROUPS:
            names.extend(f"block{slot}.{name}={value}" for value in getattr(space, attr))
    return names


def encode(architecture, space):
    """One-hot, fixed-length vector of ``architecture``'s decisions in ``space``.

    Parameters
    ----------
    architecture : Architecture
    space : SearchSpace
        Fixes the length (``len(encoding_names(space))``) and the choices.

    Returns
    -------
    ndarray of shape (len(encoding_names(space)),), float64

    Raises
    ------
    ValueError
        When the architecture is deeper than ``space.max_depth`` (it has no slot).

    Examples
    --------
    >>> from sknas.space import Architecture, Block, SearchSpace
    >>> from sknas.space.encoding import encode, encoding_names
    >>> space = SearchSpace(widths=(16, 32), max_depth=1)
    >>> code = encode(Architecture((Block("gated", 32),)), space)
    >>> len(code) == len(encoding_names(space))
    True
    >>> [n for n, v in zip(encoding_names(space), code) if v][:4]
    ['head=linear', 'depth=1', 'block0.used', 'block0.op=gated']
    """
    if architecture.depth > space.max_depth:
        raise ValueError(f"Architecture depth {architecture.depth} exceeds the space's max_depth "
                         f"{space.max_depth}: {architecture}")
    parts = [_one_hot(architecture.head, HEADS), _one_hot(architecture.depth, tuple(range(space.max_depth + 1)))]
    for slot in range(space.max_depth):
        block = architecture.blocks[slot] if slot < architecture.depth else None
        parts.append(np.array([float(block is not None)]))
        for name, attr in _SLOT_GROUPS:
            choices = getattr(space, attr)
            value = getattr(block, name) if block is not None else None
            if name == "width" and block is not None and block.op in PRESERVING_OPS:
                value = None  # the width of a width-preserving op is not a decision
            parts.append(_one_hot(value, choices))
    return np.concatenate(parts)


def encode_many(architectures, space):
    """Stack :func:`encode` of several Architectures into a ``(n, n_codes)`` array."""
    width = len(encoding_names(space))
    rows = [encode(a, space) for a in architectures]
    return np.vstack(rows) if rows else np.zeros((0, width))


def _one_hot(value, choices):
    out = np.zeros(len(choices))
    if value is None:
        return out
    for i, choice in enumerate(choices):
        # bool is an int in Python: a residual flag True must never match a width or depth of 1.
        if choice == value and isinstance(choice, bool) == isinstance(value, bool):
            out[i] = 1.0
            break
    return out
