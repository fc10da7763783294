"""Categorical columns inside the feature network: where they sit in the input, and their embeddings.

The estimators hand every network one numeric matrix: the standardised
numeric columns, then one 0/1 indicator block per categorical column
(:class:`sknas.preprocessing.tabular.TabularEncoder` says why).
:class:`CategoricalEmbedding` is the network's first stage: it reads each
block back as a code, looks it up in that column's ``nn.Embedding`` and
concatenates the embeddings with the numeric columns, so the first block sees
``n_numeric + sum(embedding widths)`` columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

#: Widest embedding the ``"auto"`` rule gives a column.
MAX_AUTO_EMBEDDING = 16


def auto_embedding_width(cardinality):
    """The rule of thumb (fast.ai's, capped): ``min(16, ceil(1.6 * cardinality ** 0.56))``."""
    return int(min(MAX_AUTO_EMBEDDING, math.ceil(1.6 * max(cardinality, 1) ** 0.56)))


@dataclass(frozen=True)
class CategoricalLayout:
    """Where the categorical indicator blocks are in the encoded input.

    Parameters
    ----------
    n_numeric : int
        Standardised numeric columns, first.
    cardinalities : tuple of int
        Categories seen at fit, per categorical column, in block order.

    Examples
    --------
    >>> from sknas.space.categorical import CategoricalLayout
    >>> layout = CategoricalLayout(3, (4, 2))
    >>> layout.n_encoded, layout.offsets
    (9, (3, 7))
    >>> layout.input_width(8), layout.input_width("auto")
    (19, 10)
    """

    n_numeric: int
    cardinalities: tuple

    @property
    def n_encoded(self):
        return self.n_numeric + sum(self.cardinalities)

    @property
    def offsets(self):
        starts, at = [], self.n_numeric
        for card in self.cardinalities:
            starts.append(at)
            at += card
        return tuple(starts)

    def embedding_widths(self, embedding_dim):
        """Width of each column's embedding: ``embedding_dim``, or the rule per column for ``"auto"``."""
        if embedding_dim == "auto":
            return tuple(auto_embedding_width(card) for card in self.cardinalities)
        return (int(embedding_dim),) * len(self.cardinalities)

    def input_width(self, embedding_dim):
        """Columns the first block sees: numeric columns plus every embedding."""
        return self.n_numeric + sum(self.embedding_widths(embedding_dim))

    def n_params(self, embedding_dim):
        """Embedding table entries (one extra "unknown" row per column; it stays zero)."""
        return sum((card + 1) * width for card, width in zip(self.cardinalities, self.embedding_widths(embedding_dim)))


class CategoricalEmbedding(nn.Module):
    """Numeric columns as they are, each categorical block replaced by its learned embedding.

    Row 0 of every table is the reserved "unknown" category (an all-zero
    block: a category not seen at fit, under ``handle_unknown="ignore"``).
    It is the padding row: zeros and never updated, so an unknown category
    contributes nothing rather than an untrained random vector.
    """

    def __init__(self, layout, embedding_dim):
        super().__init__()
        self.n_numeric = layout.n_numeric
        self.offsets = layout.offsets
        self.cardinalities = layout.cardinalities
        self.embeddings = nn.ModuleList(nn.Embedding(card + 1, width, padding_idx=0)
                                        for card, width in zip(layout.cardinalities,
                                                               layout.embedding_widths(embedding_dim)))
        for embedding in self.embeddings:
            # torch's N(0, 1) start put two categories of a width-w embedding at expected squared distance
            # 2w (6 for a yes/no column at the "auto" width 3) against 2 for two rows of a standardised
            # numeric column, so one categorical column dominated every network from its first step.
            # std 1/sqrt(2w) starts every column at expected squared distance 1 (a 0/1 flag's).
            with torch.no_grad():
                embedding.weight.normal_(0.0, (2.0 * embedding.embedding_dim) ** -0.5)
                embedding.weight[0].zero_()  # the reserved "unknown" row stays zero

    def forward(self, x):
        parts = [x[:, :self.n_numeric]]
        for embedding, start, card in zip(self.embeddings, self.offsets, self.cardinalities):
            value, index = x[:, start:start + card].max(dim=1)
            # The block's hot position is the code (+1: row 0 is "unknown", an all-zero block).
            # Corrupted rows (contrastive views swap columns) may have two hot positions: the first wins.
            codes = torch.where(value > 0, index + 1, torch.zeros_like(index))
            parts.append(embedding(codes))
        return torch.cat(parts, dim=1)
