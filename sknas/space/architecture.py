"""``Architecture``: a feature map described as plain, immutable data.

An Architecture is a chain of :class:`Block` s followed by a head.  It knows
nothing about torch modules (see :mod:`sknas.space.builder`), so it can be
hashed, compared, cached, written to JSON and read back on any machine.

The output width is not part of the Architecture: it is the estimator's
``n_components``, so one Architecture can be reused at another width.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import asdict, dataclass, field, fields

from .ops import ACTIVATIONS, NORMS, OPS, PRESERVING_OPS, op_flops, op_params, out_width

HEADS = ("linear", "identity", "lda")
#: Heads of the classical, non-neural maps: no hidden blocks, nothing trained by gradient.
FIXED_HEADS = ("identity", "lda")


@dataclass(frozen=True)
class Block:
    """One layer of a feature map: ``dropout(act(norm(op(x))))``, optionally residual.

    Parameters
    ----------
    op : str
        One of :data:`sknas.space.ops.OPS`.
    width : int
        Output width for width-changing ops; ignored (store 0) for
        ``feature_gate``, ``skip`` and ``zero``.
    activation : str, default="relu"
    norm : str, default="none"
    dropout : float, default=0.0
    residual : bool, default=False
        Add the block's input to its output (through a linear projection when
        the widths differ).  ``op="zero"`` requires it: a zero op alone would
        erase the signal.
    """

    op: str
    width: int = 0
    activation: str = "relu"
    norm: str = "none"
    dropout: float = 0.0
    residual: bool = False

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"Unknown op {self.op!r}; expected one of {OPS}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {self.activation!r}; expected one of {ACTIVATIONS}.")
        if self.norm not in NORMS:
            raise ValueError(f"Unknown norm {self.norm!r}; expected one of {NORMS}.")
        if isinstance(self.width, bool) or not isinstance(self.width, numbers.Integral) or self.width < 0:
            raise ValueError(f"Block width must be a non-negative int, got {self.width!r}.")
        object.__setattr__(self, "width", int(self.width))
        if self.op not in PRESERVING_OPS and self.width < 1:
            raise ValueError(f"Op {self.op!r} needs a positive width, got {self.width}.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if self.op == "zero" and not self.residual:
            raise ValueError("op='zero' is only valid with residual=True (it would erase the input).")
        if self.op in PRESERVING_OPS and self.width != 0:
            # One canonical spelling, so equal maps compare and hash equal.
            object.__setattr__(self, "width", 0)

    def __str__(self):
        parts = [self.op if self.op in PRESERVING_OPS else f"{self.op}({self.width})"]
        if self.norm != "none":
            parts.append(self.norm)
        if self.activation != "identity":
            parts.append(self.activation)
        if self.dropout:
            parts.append(f"dropout({self.dropout:g})")
        text = "-".join(parts)
        return f"res[{text}]" if self.residual else text


@dataclass(frozen=True)
class Architecture:
    """A feature map: ``head(block_n(...block_1(x)))``.

    Parameters
    ----------
    blocks : tuple of Block, default=()
        Hidden layers, applied in order.
    head : {"linear", "identity", "lda"}, default="linear"
        ``"linear"`` projects the last hidden layer to ``n_components``.
        ``"identity"`` (only with no blocks) returns the standardised input
        itself: the raw-features fallback every search can fall back to.
        ``"lda"`` (only with no blocks) is a label-free discriminative linear
        map: KMeans labels, then the linear discriminant projection of those
        labels, alternated until the labels settle (fitted, not trained).
    embedding_dim : int or "auto", default="auto"
        Width of each categorical column's learned embedding (used only when
        the data has categorical columns; the fixed maps read the columns'
        one-hot indicators and keep ``"auto"``).  ``"auto"`` is
        ``min(16, ceil(1.6 * cardinality ** 0.56))`` per column.  Shown in
        ``str`` and written to JSON only when not ``"auto"``, so
        Architectures of numeric data read and serialise as before.

    Examples
    --------
    >>> from sknas.space import Architecture, Block
    >>> arch = Architecture((Block("linear", 64, norm="batchnorm"),))
    >>> print(arch)
    linear(64)-batchnorm-relu -> linear
    >>> Architecture.from_json(arch.to_json()) == arch
    True
    >>> arch.n_params(n_features=10, n_components=2)
    962
    """

    blocks: tuple = field(default_factory=tuple)
    head: str = "linear"
    embedding_dim: object = "auto"

    def __post_init__(self):
        blocks = tuple(Block(**b) if isinstance(b, dict) else b for b in self.blocks)
        for b in blocks:
            if not isinstance(b, Block):
                raise TypeError(f"Architecture blocks must be Block instances, got {type(b).__name__}.")
        object.__setattr__(self, "blocks", blocks)
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}; expected one of {HEADS}.")
        if self.head in FIXED_HEADS and blocks:
            raise ValueError(f"head={self.head!r} (a classical map) cannot have hidden blocks.")
        dim = self.embedding_dim
        if dim != "auto":
            if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
                raise ValueError(f"embedding_dim must be a positive int or 'auto', got {dim!r}.")
            if self.head in FIXED_HEADS:
                raise ValueError(f"head={self.head!r} (a classical map) has no embeddings; "
                                 "embedding_dim must be 'auto'.")
            object.__setattr__(self, "embedding_dim", int(dim))

    # -- shape and cost -------------------------------------------------
    @property
    def depth(self):
        return len(self.blocks)

    def widths(self, n_features, categorical=None):
        """Input width of every block followed by the width before the head.

        ``categorical`` (a :class:`~sknas.space.categorical.CategoricalLayout`
        of the ``n_features`` encoded columns) makes the first width the
        numeric columns plus the embeddings.
        """
        widths = [self._input_width(n_features, categorical)]
        for b in self.blocks:
            widths.append(out_width(b.op, widths[-1], b.width))
        return widths

    def output_width(self, n_features, n_components):
        return n_features if self.head == "identity" else n_components

    def _embeds(self, categorical):
        """Whether the built network embeds categorical columns (the fixed maps read the indicators)."""
        return categorical is not None and bool(categorical.cardinalities) and self.head not in FIXED_HEADS

    def _input_width(self, n_features, categorical):
        return categorical.input_width(self.embedding_dim) if self._embeds(categorical) else n_features

    def n_params(self, n_features, n_components, categorical=None):
        """Weights of the built network: its trainable parameters, plus the fitted projection of the LDA map.

        The LDA map trains nothing, but it stores and applies an ``n_features x
        n_components`` projection; counting it keeps cost comparisons (Pareto
        fronts, ``max_params``) honest.  The identity map has none.
        """
        total = 0
        widths = self.widths(n_features, categorical)
        if self._embeds(categorical):
            total += categorical.n_params(self.embedding_dim)
        for b, d_in, d_out in zip(self.blocks, widths[:-1], widths[1:]):
            total += op_params(b.op, d_in, b.width)
            if b.norm != "none":
                total += 2 * d_out
            if b.residual and d_in != d_out:
                total += d_in * d_out + d_out
        if self.head == "linear":
            total += widths[-1] * n_components + n_components
        elif self.head == "lda":
            total += n_features * n_components + n_components
        return total

    def flops(self, n_features, n_components, categorical=None):
        """FLOPs of a forward pass for one row (2 per multiply-accumulate; embedding look-ups count 0)."""
        total = 0
        widths = self.widths(n_features, categorical)
        for b, d_in, d_out in zip(self.blocks, widths[:-1], widths[1:]):
            total += op_flops(b.op, d_in, b.width)
            total += 4 * d_out if b.norm != "none" else 0
            total += d_out if b.activation != "identity" else 0
            if b.residual:
                total += d_out + (2 * d_in * d_out if d_in != d_out else 0)
        if self.head in ("linear", "lda"):
            total += 2 * widths[-1] * n_components
        return total

    # -- plain data -----------------------------------------------------
    def to_dict(self):
        data = {"blocks": [asdict(b) for b in self.blocks], "head": self.head}
        if self.embedding_dim != "auto":
            data["embedding_dim"] = self.embedding_dim
        return data

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict) or set(data) - {"blocks", "head", "embedding_dim"}:
            raise ValueError(f"Not an Architecture dict: {data!r}")
        known = {f.name for f in fields(Block)}
        blocks = []
        for b in data.get("blocks", []):
            if not isinstance(b, dict) or set(b) - known:
                raise ValueError(f"Not a Block dict: {b!r}")
            blocks.append(Block(**b))
        return cls(tuple(blocks), data.get("head", "linear"), data.get("embedding_dim", "auto"))

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def __str__(self):
        if self.head in FIXED_HEADS:
            return self.head
        parts = [] if self.embedding_dim == "auto" else [f"embed({self.embedding_dim})"]
        body = " | ".join(parts + [str(b) for b in self.blocks])
        return f"{body} -> linear" if body else "linear"
