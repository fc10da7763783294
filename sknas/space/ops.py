"""The op library: the building blocks a tabular feature map is made of.

Every op maps a ``(batch, in_features)`` tensor to ``(batch, out_features)``.
Width-changing ops (``linear``, ``gated``, ``attention``) take the block's
width; width-preserving ops (``feature_gate``, ``skip``, ``zero``) ignore it.
Activations and normalisations are separate choices of a block, so that the
search can combine any op with any of them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Ops whose output width is the block's ``width``.
WIDTH_OPS = ("linear", "gated", "attention")
#: Ops whose output width equals their input width.
PRESERVING_OPS = ("feature_gate", "skip", "zero")
OPS = WIDTH_OPS + PRESERVING_OPS
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "identity")
NORMS = ("none", "batchnorm", "layernorm")


class GatedLinear(nn.Module):
    """Gated linear unit: ``a * sigmoid(b)`` with ``[a, b] = W x`` (Dauphin et al. 2017)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.proj = nn.Linear(in_features, 2 * out_features)

    def forward(self, x):
        a, b = self.proj(x).chunk(2, dim=-1)
        return a * torch.sigmoid(b)


class FeatureGate(nn.Module):
    """Learned per-feature gates in (0, 1): a soft, differentiable feature selection.

    Gates start at ``sigmoid(2) ~ 0.88`` so the op begins close to the identity
    and training decides which columns to turn down.
    """

    def __init__(self, in_features):
        super().__init__()
        self.logits = nn.Parameter(torch.full((in_features,), 2.0))

    def forward(self, x):
        return x * torch.sigmoid(self.logits)


class FeatureAttention(nn.Module):
    """Self-attention across features: each column is a token (as in FT-Transformer).

    A scalar value ``x_j`` becomes the token ``x_j * w_j + b_j`` (one learned
    embedding per column), one multi-head attention layer mixes the tokens, and
    the flattened tokens are projected to ``out_features``.  Cost is quadratic
    in the number of columns, which is fine for tables of tens to a few hundred.
    """

    def __init__(self, in_features, out_features, token_dim=8, n_heads=2):
        super().__init__()
        self.token_weight = nn.Parameter(torch.randn(in_features, token_dim) / math.sqrt(token_dim))
        self.token_bias = nn.Parameter(torch.zeros(in_features, token_dim))
        self.attn = nn.MultiheadAttention(token_dim, n_heads, batch_first=True)
        self.out = nn.Linear(in_features * token_dim, out_features)

    def forward(self, x):
        tokens = x.unsqueeze(-1) * self.token_weight + self.token_bias
        mixed, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return self.out((tokens + mixed).flatten(1))


class Zero(nn.Module):
    """Outputs zeros of the input's shape; only meaningful inside a residual block."""

    def forward(self, x):
        return torch.zeros_like(x)


def out_width(op, in_features, width):
    """Output width of ``op`` given its input width and the block's width."""
    return width if op in WIDTH_OPS else in_features


def make_op(op, in_features, width):
    """Build the torch module of one op."""
    if op == "linear":
        return nn.Linear(in_features, width)
    if op == "gated":
        return GatedLinear(in_features, width)
    if op == "attention":
        return FeatureAttention(in_features, width)
    if op == "feature_gate":
        return FeatureGate(in_features)
    if op == "skip":
        return nn.Identity()
    if op == "zero":
        return Zero()
    raise ValueError(f"Unknown op {op!r}; expected one of {OPS}.")


def make_activation(name):
    """Build an activation module by name."""
    table = {
        "relu": nn.ReLU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "identity": nn.Identity,
    }
    if name not in table:
        raise ValueError(f"Unknown activation {name!r}; expected one of {ACTIVATIONS}.")
    return table[name]()


def make_norm(name, width):
    """Build a normalisation module by name."""
    if name == "none":
        return nn.Identity()
    if name == "batchnorm":
        return nn.BatchNorm1d(width)
    if name == "layernorm":
        return nn.LayerNorm(width)
    raise ValueError(f"Unknown norm {name!r}; expected one of {NORMS}.")


def op_params(op, in_features, width):
    """Trainable parameter count of one op (matches :func:`make_op`)."""
    if op == "linear":
        return in_features * width + width
    if op == "gated":
        return in_features * 2 * width + 2 * width
    if op == "attention":
        t = 8
        attn = 4 * t * t + 4 * t  # in_proj (3 t x t + 3 t) + out_proj (t x t + t)
        return 2 * in_features * t + attn + in_features * t * width + width
    if op == "feature_gate":
        return in_features
    return 0


def op_flops(op, in_features, width):
    """Multiply-accumulate-based FLOPs (2 per MAC) of one op for one row."""
    if op == "linear":
        return 2 * in_features * width
    if op == "gated":
        return 2 * in_features * 2 * width + 4 * width
    if op == "attention":
        t = 8
        tokens = 2 * in_features * t
        qkv = 2 * in_features * 3 * t * t
        scores = 2 * 2 * in_features * in_features * t  # QK^T and AV
        out = 2 * in_features * t * t
        return tokens + qkv + scores + out + 2 * in_features * t * width
    if op == "feature_gate":
        return 2 * in_features
    return 0
