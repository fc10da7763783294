"""Turn an :class:`~sknas.space.Architecture` into a torch module."""

from __future__ import annotations

from torch import nn

from .architecture import Architecture
from .ops import make_activation, make_norm, make_op, out_width


class BlockModule(nn.Module):
    """``dropout(act(norm(op(x))))`` plus an optional (projected) residual."""

    def __init__(self, block, in_features):
        super().__init__()
        width = out_width(block.op, in_features, block.width)
        self.op = make_op(block.op, in_features, block.width)
        self.norm = make_norm(block.norm, width)
        self.act = make_activation(block.activation)
        self.dropout = nn.Dropout(block.dropout) if block.dropout else nn.Identity()
        self.shortcut = None
        if block.residual:
            self.shortcut = nn.Identity() if width == in_features else nn.Linear(in_features, width)

    def forward(self, x):
        out = self.dropout(self.act(self.norm(self.op(x))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class FeatureNetwork(nn.Module):
    """The feature map built from an Architecture: blocks, then the head."""

    def __init__(self, architecture, n_features, n_components):
        super().__init__()
        layers = []
        width = n_features
        for block in architecture.blocks:
            layers.append(BlockModule(block, width))
            width = out_width(block.op, width, block.width)
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_components) if architecture.head == "linear" else nn.Identity()
        self.n_features = n_features
        self.n_outputs = architecture.output_width(n_features, n_components)

    def forward(self, x):
        return self.head(self.blocks(x))


def build_network(architecture, n_features, n_components):
    """Build the torch module of ``architecture``.

    Parameters
    ----------
    architecture : Architecture
    n_features : int
        Input width (columns after preprocessing).
    n_components : int
        Output width of a ``"linear"`` head.

    Returns
    -------
    FeatureNetwork

    Examples
    --------
    >>> import torch
    >>> from sknas.space import Architecture, Block, build_network
    >>> net = build_network(Architecture((Block("gated", 16),)), n_features=5, n_components=2)
    >>> net(torch.zeros(3, 5)).shape
    torch.Size([3, 2])
    """
    if not isinstance(architecture, Architecture):
        raise TypeError(f"Expected an Architecture, got {type(architecture).__name__}.")
    return FeatureNetwork(architecture, int(n_features), int(n_components))
