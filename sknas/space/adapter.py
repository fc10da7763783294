"""Input adapters: a trained feature network reused on data with other numeric columns.

:class:`AdaptedNetwork` puts a trainable linear map (the adapter) from the
new data's numeric columns to the columns a trained network was fitted on in
front of that network.  :func:`adapter_weights` initialises it: a column the
two tables share (by name, or by position when either has no names) is copied
to its old place, so the transferred network sees it as before; a source
column without a counterpart receives small random weights (its mean, zero
after standardisation, plus noise: mean imputation); when no column matches
at all, a variance-preserving random orthogonal map instead, so the network
does not start on a constant input.

Categorical indicator blocks (see :mod:`sknas.space.categorical`) pass
through unchanged: the adapter maps numeric columns only.
"""

from __future__ import annotations

import torch
from torch import nn

#: Standard deviation of the adapter's weights into source columns that no new column matches.
UNMATCHED_SCALE = 0.01


def match_columns(n_target, n_source, target_names=None, source_names=None):
    """Pairs ``(target index, source index)`` of the numeric columns the two tables share.

    Parameters
    ----------
    n_target, n_source : int
        Numeric columns of the new and the source table.
    target_names, source_names : sequence of str or None, default=None
        Their names; when either is None, columns match by position (the
        first ``min(n_target, n_source)``), as scikit-learn treats unnamed
        columns.

    Returns
    -------
    list of tuple of int

    Examples
    --------
    >>> from sknas.space.adapter import match_columns
    >>> match_columns(3, 3, ["b", "c", "z"], ["a", "b", "c"])
    [(0, 1), (1, 2)]
    >>> match_columns(3, 2)  # unnamed: by position
    [(0, 0), (1, 1)]
    """
    if target_names is None or source_names is None:
        return [(i, i) for i in range(min(n_target, n_source))]
    where = {str(name): j for j, name in enumerate(source_names)}
    return [(i, where[str(name)]) for i, name in enumerate(target_names) if str(name) in where]


def adapter_weights(n_inputs, n_outputs, matches, generator=None):
    """The adapter's initial ``(n_outputs, n_inputs)`` weight matrix (see the module docstring).

    Parameters
    ----------
    n_inputs, n_outputs : int
        New and source numeric columns.
    matches : list of (int, int)
        ``(new column, source column)`` pairs, from :func:`match_columns`.
    generator : torch.Generator or None, default=None
        Source of the random weights (None: torch's global generator).

    Returns
    -------
    Tensor of shape (n_outputs, n_inputs)

    Examples
    --------
    >>> import torch
    >>> from sknas.space.adapter import adapter_weights
    >>> W = adapter_weights(3, 2, [(0, 1)], torch.Generator().manual_seed(0))
    >>> W[1].tolist()  # source column 1 copies new column 0 exactly
    [1.0, 0.0, 0.0]
    >>> bool(W[0].abs().max() < 0.1)  # source column 0 has no counterpart: small weights
    True
    """
    weight = torch.empty(n_outputs, n_inputs)
    if not matches and n_inputs and n_outputs:
        return nn.init.orthogonal_(weight, generator=generator)
    weight.normal_(0.0, UNMATCHED_SCALE, generator=generator)
    for i, j in matches:
        weight[j] = 0.0
        weight[j, i] = 1.0
    return weight


class AdaptedNetwork(nn.Module):
    """A trained feature network behind a linear map of the new numeric columns.

    Parameters
    ----------
    network : nn.Module
        The transferred network (a copy; trained further when fine-tuned).
        Its input: ``n_outputs`` numeric columns, then the categorical
        indicator blocks.
    n_inputs : int
        New numeric columns (the first ``n_inputs`` input columns); the
        remaining input columns (categorical blocks) pass through.
    n_outputs : int
        The network's numeric columns.
    weight : Tensor of shape (n_outputs, n_inputs)
        Initial adapter weights (:func:`adapter_weights`); the bias starts at 0.
    n_features : int
        Total input width (numeric columns plus indicator columns).

    Examples
    --------
    >>> import torch
    >>> from sknas.space import Architecture, build_network
    >>> from sknas.space.adapter import AdaptedNetwork, adapter_weights
    >>> source = build_network(Architecture(), n_features=2, n_components=2)
    >>> net = AdaptedNetwork(source, 3, 2, adapter_weights(3, 2, [(0, 0), (1, 1)]), n_features=3)
    >>> torch.allclose(net(torch.ones(4, 3)), source(torch.ones(4, 2)))  # column 2 is new: ignored at first
    True
    """

    def __init__(self, network, n_inputs, n_outputs, weight, n_features):
        super().__init__()
        self.adapter = nn.Linear(n_inputs, n_outputs)
        with torch.no_grad():
            self.adapter.weight.copy_(weight)
            self.adapter.bias.zero_()
        self.network = network
        self.n_inputs = int(n_inputs)
        self.n_features = int(n_features)
        self.n_outputs = network.n_outputs

    def forward(self, x):
        adapted = self.adapter(x[:, :self.n_inputs])
        return self.network(torch.cat([adapted, x[:, self.n_inputs:]], dim=1))

    def fit_fixed_parts(self, X, n_clusters, random_state=0):
        """Nothing to fit: the transferred network's fixed parts were fitted on its own data."""
        return self
