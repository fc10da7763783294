"""Alignment losses for domain adaptation: pull target embeddings towards a source embedding distribution.

``NeuralFeatureMap(init=fitted, alignment=...)`` adds one of these to the
objective while fine-tuning (:class:`AlignedObjective`): the target batch's
embeddings against a stored sample of the source estimator's embeddings of
its own training rows (``reference_embedding_``).

- :func:`coral_loss`: CORAL (Sun & Saenko 2016, Deep CORAL), the squared
  Frobenius distance between the two covariance matrices over ``4 d^2``.
  Second-order statistics only; cheap; blind to a shift of the mean.
- :func:`mmd_loss`: the (biased, V-statistic) squared maximum mean
  discrepancy with a Gaussian (RBF) kernel whose bandwidth is the median
  pairwise distance of the pooled sample (the median heuristic).  Compares
  whole distributions; zero for identical samples, never negative.
"""

from __future__ import annotations

import torch

from .objectives import Objective

ALIGNMENTS = ("coral", "mmd")


def coral_loss(source, target):
    """CORAL loss: ``||C_source - C_target||_F^2 / (4 d^2)`` (Sun & Saenko, 2016).

    Parameters
    ----------
    source : Tensor of shape (n_source, d)
    target : Tensor of shape (n_target, d)
        At least two rows each (covariances with ``n - 1`` in the denominator).

    Returns
    -------
    Tensor
        A scalar; differentiable in both arguments.

    Examples
    --------
    >>> import torch
    >>> from sknas.training.alignment import coral_loss
    >>> x = torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
    >>> float(coral_loss(x, x))
    0.0
    >>> float(coral_loss(x, 2 * x)) > float(coral_loss(x, 1.1 * x)) > 0
    True
    """
    _check_pair(source, target)
    d = source.shape[1]
    return ((_covariance(source) - _covariance(target)) ** 2).sum() / (4 * d * d)


def mmd_loss(source, target, bandwidth=None):
    """Squared MMD with a Gaussian kernel ``exp(-||x - y||^2 / (2 h^2))`` (biased V-statistic).

    Parameters
    ----------
    source : Tensor of shape (n_source, d)
    target : Tensor of shape (n_target, d)
    bandwidth : float or None, default=None
        ``h``; None is the median heuristic: the median of the pairwise
        distances of the pooled rows (computed without gradient), so the
        kernel adapts to the embedding's scale.

    Returns
    -------
    Tensor
        A scalar ``mean k(s, s') + mean k(t, t') - 2 mean k(s, t)``; 0 for
        identical samples, positive otherwise.

    Examples
    --------
    >>> import torch
    >>> from sknas.training.alignment import mmd_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 2, generator=g)
    >>> float(mmd_loss(x, x))
    0.0
    >>> float(mmd_loss(x, x + 2.0)) > float(mmd_loss(x, x + 0.5)) > 0
    True
    """
    _check_pair(source, target)
    pooled = torch.cat([source, target])
    squared = torch.cdist(pooled, pooled).pow(2)
    if bandwidth is None:
        with torch.no_grad():
            off_diagonal = squared[~torch.eye(len(pooled), dtype=torch.bool, device=pooled.device)]
            median = off_diagonal.median().sqrt() if len(off_diagonal) else squared.new_tensor(1.0)
            bandwidth = float(median) if float(median) > 0 else 1.0
    elif not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    kernel = torch.exp(-squared / (2.0 * bandwidth ** 2))
    n = len(source)
    k_ss, k_tt, k_st = kernel[:n, :n].mean(), kernel[n:, n:].mean(), kernel[:n, n:].mean()
    return (k_ss + k_tt - 2.0 * k_st).clamp_min(0.0)


ALIGNMENT_LOSSES = {"coral": coral_loss, "mmd": mmd_loss}


class AlignedObjective(Objective):
    """An objective plus ``weight *`` an alignment loss between the batch's embeddings and a reference sample.

    Parameters
    ----------
    objective : Objective
        The training objective (its loss and its ``prepare`` are used as they are).
    reference : array-like of shape (n_reference, n_outputs)
        Source embeddings, kept as a buffer (moves with the module, pickles with it).
    kind : {"coral", "mmd"}
    weight : float
    """

    def __init__(self, objective, reference, kind, weight):
        super().__init__()
        if kind not in ALIGNMENT_LOSSES:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {kind!r}.")
        self.objective = objective
        self.kind = kind
        self.weight = float(weight)
        self.register_buffer("reference", torch.as_tensor(reference, dtype=torch.float32).clone())

    def prepare(self, X, y=None):
        return self.objective.prepare(X, y)

    def loss(self, encoder, data, idx, reduction="mean"):
        base = self.objective.loss(encoder, data, idx, reduction=reduction)
        if reduction != "mean" or not self.weight or len(idx) < 2:
            return base  # alignment is a property of a batch, not of a row
        embedded = encoder(data.X[idx])
        return base + self.weight * ALIGNMENT_LOSSES[self.kind](self.reference, embedded)


def _covariance(X):
    centred = X - X.mean(dim=0, keepdim=True)
    return centred.T @ centred / (len(X) - 1)


def _check_pair(source, target):
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"Expected two 2-D samples of the same width, got shapes {tuple(source.shape)} and "
                         f"{tuple(target.shape)}.")
    if len(source) < 2 or len(target) < 2:
        raise ValueError("Alignment losses need at least two rows in each sample.")
