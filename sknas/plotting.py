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
    head = {"identity": "identity", "lda": "LDA map (fitted)"}.get(architecture.head, "linear head")
    labels.append(head if architecture.head == "identity" else f"{head}\n{n_components or ''}".strip())
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


def plot_pareto_front(search, objectives=None, ax=None):
    """Draw candidates' quality against cost with the Pareto front highlighted.

    Two objectives give one scatter (cost on x, ``score`` on y, the front joined
    as a staircase); more give one scatter per pair of objectives, the front
    being the points not dominated in all of them.  The selected map of a
    fitted search is starred.

    Parameters
    ----------
    search : fitted sknas search or list of dict
        Any search (its ``search_history_`` is read) or search records.
    objectives : tuple of str, optional
        ``"score"`` and one or more of ``"params"``, ``"flops"``, ``"latency"``;
        default: the search's ``objectives`` when it has them, else ``("score", "params")``.
    ax : matplotlib Axes or array of Axes, optional
        One Axes per pair of objectives; created in a new figure when omitted.

    Returns
    -------
    ax : matplotlib Axes (two objectives) or ndarray of Axes (one per pair)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas import ParetoFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> from sknas.plotting import plot_pareto_front
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = ParetoFeatureSearch(n_components=3, population_size=3, max_trials=6, max_epochs=2,
    ...                              random_state=0).fit(X)
    >>> ax = plot_pareto_front(search)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('params', 'score')
    """
    from .search.pareto import (
        OBJECTIVE_KEYS,
        check_objectives,
        distinct_valid,
        pareto_records,
    )

    if isinstance(search, (list, tuple)):
        records, chosen = search, None
    else:
        check_is_fitted(search, "search_history_")
        records, chosen = search.search_history_, getattr(search, "architecture_", None)
        if objectives is None:
            objectives = getattr(search, "objectives", None)
    objectives = check_objectives(("score", "params") if objectives is None else objectives)
    pool = distinct_valid(records)
    if not pool:
        raise ValueError("No valid candidate to plot.")
    front = pareto_records(pool, objectives)
    # Quality on y whenever it is in the pair; costs on a symmetric log scale (0 params is a real value).
    pairs = [(objectives[j], objectives[i]) if objectives[i] == "score" else (objectives[i], objectives[j])
             for i in range(len(objectives)) for j in range(i + 1, len(objectives))]
    plt = _pyplot()
    if ax is None:
        ncols = min(3, len(pairs))
        _, axes = plt.subplots(-(-len(pairs) // ncols), ncols, figsize=(4.2 * ncols, 3.4 * -(-len(pairs) // ncols)),
                               squeeze=False)
    else:
        axes = np.asarray(ax, dtype=object)
    axes = axes.ravel()
    if len(axes) < len(pairs):
        raise ValueError(f"Need one Axes per pair of objectives ({len(pairs)}), got {len(axes)}.")
    for (x_name, y_name), axis in zip(pairs, axes):
        x_key, y_key = OBJECTIVE_KEYS[x_name], OBJECTIVE_KEYS[y_name]
        axis.scatter([r[x_key] for r in pool], [r[y_key] for r in pool], s=14, color="0.65", label="candidates")
        points = sorted((r[x_key], r[y_key]) for r in front)
        axis.scatter(*zip(*points), s=30, color="C1", zorder=3, label="Pareto front")
        if len(objectives) == 2:
            axis.step(*zip(*points), where="post", color="C1", linewidth=1)
        if chosen is not None:
            selected = [r for r in pool if r["architecture"] == chosen]
            if selected:
                axis.scatter([selected[0][x_key]], [selected[0][y_key]], marker="*", s=160, color="C3",
                             zorder=4, label="selected")
        for name, set_scale in ((x_name, axis.set_xscale), (y_name, axis.set_yscale)):
            if name != "score":
                set_scale("symlog", linthresh=1.0)
        axis.set_xlabel(x_name)
        axis.set_ylabel(y_name)
    axes[0].legend(fontsize="small")
    for axis in axes[len(pairs):]:
        axis.set_visible(False)
    return axes[0] if len(pairs) == 1 else axes[: len(pairs)]


def plot_search_learning(search, axes=None):
    """Draw how a learning search learned: RL's reward and policy entropy, or BO's surrogate quality.

    Parameters
    ----------
    search : RLFeatureSearch or BayesFeatureSearch
        Fitted.  For RL: the mean reward and the baseline per controller step,
        and the policy entropy.  For BO: the surrogate's prediction against the
        score then measured per trial, and the rank correlation per step.
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    axes : ndarray of two matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas import RLFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> from sknas.plotting import plot_search_learning
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = RLFeatureSearch(n_components=3, max_trials=7, max_epochs=2, controller_batch_size=2,
    ...                          random_state=0).fit(X)
    >>> reward_ax, entropy_ax = plot_search_learning(search)
    >>> [line.get_label() for line in reward_ax.get_lines()]
    ['mean reward', 'baseline']
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes = np.asarray(axes).ravel()
    if hasattr(search, "reward_history_"):
        steps = np.arange(1, len(search.reward_history_) + 1)
        axes[0].plot(steps, search.reward_history_, marker="o", label="mean reward")
        axes[0].plot(steps, search.baseline_history_, linestyle="--", label="baseline")
        axes[0].set_xlabel("controller step")
        axes[0].legend(fontsize="small")
        axes[1].plot(steps, search.entropy_history_, marker="o")
        axes[1].set_xlabel("controller step")
        axes[1].set_ylabel("policy entropy (nats)")
        return axes
    check_is_fitted(search, "acquisition_history_")
    rows = search.acquisition_history_
    axes[0].errorbar([a["trial"] for a in rows], [a["predicted"] for a in rows],
                     yerr=[a["predicted_std"] for a in rows], fmt="o", label="predicted")
    axes[0].plot([a["trial"] for a in rows], [a["measured"] for a in rows], "x", label="measured")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel("score")
    axes[0].legend(fontsize="small")
    history = search.surrogate_history_
    axes[1].plot([s["step"] for s in history], [s["rank_correlation"] for s in history], marker="o")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("Spearman(predicted, measured)")
    return axes
