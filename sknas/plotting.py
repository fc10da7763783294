"""Plots of searches and architectures (matplotlib, an optional dependency: ``pip install sknas[plot]``)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sknas.plotting needs matplotlib: pip install 'sknas[plot]'") from exc
    return plt


def plot_alpha_history(search, axes=None):
    """Draw each supernet layer's op probabilities ``softmax(alpha)`` over the epochs.

    Parameters
    ----------
    search : DARTSFeatureSearch
        A fitted DARTS search (it has ``alpha_history_``).
    axes : sequence of matplotlib Axes, optional
        One per layer; created in a new figure when omitted.

    Returns
    -------
    axes : ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas import DARTSFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> from sknas.plotting import plot_alpha_history
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = DARTSFeatureSearch(n_components=3, max_epochs=3, warmup_epochs=1,
    ...                             search_space={"widths": (8,), "max_depth": 2}, random_state=0).fit(X)
    >>> len(plot_alpha_history(search))
    2
    """
    check_is_fitted(search, "alpha_history_")
    if not search.alpha_history_:
        raise ValueError("alpha_history_ is empty: the supernet trained for no epoch.")
    plt = _pyplot()
    n_layers = len(search.alpha_history_[0])
    if axes is None:
        _, axes = plt.subplots(1, n_layers, figsize=(4 * n_layers, 3), squeeze=False, sharey=True)
        axes = axes[0]
    axes = np.asarray(axes).ravel()
    if len(axes) != n_layers:
        raise ValueError(f"Need one Axes per supernet layer ({n_layers}), got {len(axes)}.")
    epochs = np.arange(1, len(search.alpha_history_) + 1)
    candidates = search.supernet_layer_ops_
    for layer, ax in enumerate(axes):
        probs = np.array([epoch[layer] for epoch in search.alpha_history_])
        for k, op in enumerate(candidates[layer]):
            ax.plot(epochs, probs[:, k], label=op)
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("softmax(alpha)")
    return axes


def plot_architecture(architecture, n_features=None, n_components=None, ax=None):
    """Draw an Architecture as a chain of boxes, input at the left.

    Parameters
    ----------
    architecture : Architecture
    n_features, n_components : int, optional
        Shown on the input and output boxes when given.
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas import Architecture, Block
    >>> from sknas.plotting import plot_architecture
    >>> ax = plot_architecture(Architecture((Block("gated", 64, residual=True),)), n_features=9, n_components=8)
    >>> len(ax.patches)
    3
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * (len(architecture.blocks) + 2), 1.6))
    labels = [f"input\n{n_features or ''}".strip()]
    labels += [str(block).replace("-", "\n") for block in architecture.blocks]
    labels.append("identity" if architecture.head == "identity" else f"linear head\n{n_components or ''}".strip())
    for i, (text, block) in enumerate(zip(labels, [None, *architecture.blocks, None])):
        residual = block is not None and block.residual
        ax.add_patch(plt.Rectangle((i * 2.2, 0), 1.6, 1, fill=True, alpha=0.25 if residual else 0.12,
                                   edgecolor="black"))
        ax.text(i * 2.2 + 0.8, 0.5, text, ha="center", va="center", fontsize=8)
        if i:
            ax.annotate("", xy=(i * 2.2, 0.5), xytext=(i * 2.2 - 0.6, 0.5), arrowprops={"arrowstyle": "->"})
        if residual:  # the skip path around a residual block
            ax.annotate("", xy=(i * 2.2 + 1.6, 1.05), xytext=(i * 2.2 - 0.6, 1.05),
                        arrowprops={"arrowstyle": "->", "connectionstyle": "arc3,rad=-0.3"})
    ax.set_xlim(-0.2, len(labels) * 2.2)
    ax.set_ylim(-0.2, 1.6)
    ax.axis("off")
    return ax


def plot_evolution(search, axes=None):
    """Draw an evolutionary search's fitness (best, median, worst) and diversity per generation.

    Parameters
    ----------
    search : EvoFeatureSearch
        A fitted evolutionary search (it has ``generation_stats_``).
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    axes : ndarray of two matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas import EvoFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> from sknas.plotting import plot_evolution
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = EvoFeatureSearch(n_components=3, population_size=3, max_trials=6, max_epochs=2,
    ...                           random_state=0).fit(X)
    >>> fitness_ax, diversity_ax = plot_evolution(search)
    >>> [line.get_label() for line in fitness_ax.get_lines()]
    ['best', 'median', 'worst']
    """
    check_is_fitted(search, "generation_stats_")
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes = np.asarray(axes).ravel()
    stats = search.generation_stats_
    generations = [g["generation"] for g in stats]
    for key in ("best", "median", "worst"):
        axes[0].plot(generations, [g[key] for g in stats], marker="o", label=key)
    axes[0].set_xlabel("generation")
    axes[0].set_ylabel("fitness (label-free score)")
    axes[0].legend(fontsize="small")
    axes[1].plot(generations, [g["mean_distance"] for g in stats], marker="o", label="mean genotype distance")
    axes[1].plot(generations, [g["n_distinct"] for g in stats], marker="s", label="distinct genomes")
    axes[1].set_xlabel("generation")
    axes[1].legend(fontsize="small")
    return axes
