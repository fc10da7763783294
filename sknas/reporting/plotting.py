"""Plots of searches and architectures (matplotlib, an optional dependency: ``pip install sknas[plot]``)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sknas.reporting.plotting needs matplotlib: pip install 'sknas[plot]'") from exc
    return plt


def _new_axes(*args, **kwargs):
    """Axes in a new pyplot figure: only when the caller gave none (the report draws on its own Figures)."""
    return _pyplot().subplots(*args, **kwargs)[1]


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
    >>> from sknas.reporting.plotting import plot_alpha_history
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = DARTSFeatureSearch(n_components=3, max_epochs=3, warmup_epochs=1,
    ...                             search_space={"widths": (8,), "max_depth": 2}, random_state=0).fit(X)
    >>> len(plot_alpha_history(search))
    2
    """
    check_is_fitted(search, "alpha_history_")
    if not search.alpha_history_:
        raise ValueError("alpha_history_ is empty: the supernet trained for no epoch.")
    n_layers = len(search.alpha_history_[0])
    if axes is None:
        axes = _new_axes(1, n_layers, figsize=(4 * n_layers, 3), squeeze=False, sharey=True)[0]
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
    >>> from sknas.reporting.plotting import plot_architecture
    >>> ax = plot_architecture(Architecture((Block("gated", 64, residual=True),)), n_features=9, n_components=8)
    >>> len(ax.patches)
    3
    """
    from matplotlib.patches import Rectangle

    if ax is None:
        ax = _new_axes(figsize=(2.2 * (len(architecture.blocks) + 2), 1.6))
    labels = [f"input\n{n_features or ''}".strip()]
    labels += [str(block).replace("-", "\n") for block in architecture.blocks]
    head = {"identity": "identity", "lda": "LDA map (fitted)"}.get(architecture.head, "linear head")
    labels.append(head if architecture.head == "identity" else f"{head}\n{n_components or ''}".strip())
    for i, (text, block) in enumerate(zip(labels, [None, *architecture.blocks, None])):
        residual = block is not None and block.residual
        ax.add_patch(Rectangle((i * 2.2, 0), 1.6, 1, fill=True, alpha=0.25 if residual else 0.12,
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
    >>> from sknas.reporting.plotting import plot_evolution
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = EvoFeatureSearch(n_components=3, population_size=3, max_trials=6, max_epochs=2,
    ...                           random_state=0).fit(X)
    >>> fitness_ax, diversity_ax = plot_evolution(search)
    >>> [line.get_label() for line in fitness_ax.get_lines()]
    ['best', 'median', 'worst']
    """
    check_is_fitted(search, "generation_stats_")
    if axes is None:
        axes = _new_axes(1, 2, figsize=(9, 3))
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
    >>> from sknas.reporting.plotting import plot_pareto_front
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = ParetoFeatureSearch(n_components=3, population_size=3, max_trials=6, max_epochs=2,
    ...                              random_state=0).fit(X)
    >>> ax = plot_pareto_front(search)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('params', 'score')
    """
    from ..search.pareto import (
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
    if ax is None:
        ncols = min(3, len(pairs))
        axes = _new_axes(-(-len(pairs) // ncols), ncols, figsize=(4.2 * ncols, 3.4 * -(-len(pairs) // ncols)),
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
    >>> from sknas.reporting.plotting import plot_search_learning
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = RLFeatureSearch(n_components=3, max_trials=7, max_epochs=2, controller_batch_size=2,
    ...                          random_state=0).fit(X)
    >>> reward_ax, entropy_ax = plot_search_learning(search)
    >>> [line.get_label() for line in reward_ax.get_lines()]
    ['mean reward', 'baseline']
    """
    if axes is None:
        axes = _new_axes(1, 2, figsize=(9, 3))
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


# -- segments ------------------------------------------------------------------------------------------------
def segment_colors(segments):
    """``{segment id: colour}``, the same in every segment plot (tab10, tab20 beyond ten segments)."""
    from matplotlib import colormaps

    segments = list(segments)
    cmap = colormaps["tab10" if len(segments) <= 10 else "tab20"]
    return {s: cmap(i % cmap.N) for i, s in enumerate(segments)}


def plot_segment_map(embedding, labels, *, segments=None, max_rows=3000, random_state=0, ax=None):
    """Draw rows as dots on the first two principal components of an embedding, coloured by segment.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, n_components)
        E.g. ``AutoSegmenter.transform(X)``, the space the segments were found in.
    labels : array-like of shape (n_samples,)
        Segment of every row.
    segments : list, optional
        Every segment id, in order (fixes the colours); default: the distinct labels.
    max_rows : int, default=3000
        A random subsample of at most this many rows is drawn.
    random_state : int, default=0
        Seed of the subsample and of the PCA.
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
        The axis labels say how much of the embedding's variance each component holds.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from sknas.reporting.plotting import plot_segment_map
    >>> Z, labels = make_blobs(n_samples=300, centers=3, n_features=5, random_state=0)
    >>> ax = plot_segment_map(Z, labels)
    >>> ax.get_xlabel()
    'PC1 of the embedding (58% of its variance)'
    """
    from sklearn.decomposition import PCA

    embedding, labels = np.asarray(embedding, dtype=np.float64), np.asarray(labels)
    rows = np.random.RandomState(random_state).permutation(len(labels))[:max_rows]
    embedding, labels = embedding[rows], labels[rows]
    n_pcs = min(2, embedding.shape[1], len(labels))
    pca = PCA(n_pcs, random_state=random_state).fit(embedding)
    xy = np.zeros((len(labels), 2))
    xy[:, :n_pcs] = pca.transform(embedding)
    colors = segment_colors(np.unique(labels) if segments is None else segments)
    if ax is None:
        ax = _new_axes(figsize=(6, 4.5))
    ax.scatter(xy[:, 0], xy[:, 1], s=7, c=[colors[s] for s in labels], alpha=0.6, linewidths=0)
    for s, color in colors.items():  # legend entries, with each segment's rows on the map
        ax.scatter([], [], s=30, color=color, label=f"segment {s} ({np.sum(labels == s)})")
    share = [f"{v:.0%}" for v in pca.explained_variance_ratio_] + ["0%"]
    ax.set_xlabel(f"PC1 of the embedding ({share[0]} of its variance)")
    ax.set_ylabel(f"PC2 of the embedding ({share[1]} of its variance)" if n_pcs > 1 else "(one dimension)")
    ax.legend(fontsize="small", loc="best", framealpha=0.8)
    ax.set_title(f"Customers by segment ({len(labels)} rows)")
    return ax


def plot_k_evidence(evidence, chosen=None, ax=None):
    """Draw the evidence per number of segments: silhouette per k, admissible ones filled, the chosen k starred.

    Parameters
    ----------
    evidence : dict
        ``{k: {"silhouette", "admissible", ...}}``, e.g. ``AutoSegmenter.k_evidence_``; a
        ``"stability"`` entry per k is drawn too.
    chosen : int, optional
        The k chosen (``AutoSegmenter.n_clusters_``).
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknas.reporting.plotting import plot_k_evidence
    >>> evidence = {2: {"silhouette": 0.41, "admissible": False}, 3: {"silhouette": 0.35, "admissible": True},
    ...             4: {"silhouette": 0.30, "admissible": True}}
    >>> ax = plot_k_evidence(evidence, chosen=3)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['silhouette (admissible k)', 'silhouette (k not admissible)', 'chosen k = 3']
    """
    ks = sorted(evidence)
    if not ks:
        raise ValueError("No k to plot: the evidence is empty.")
    if ax is None:
        ax = _new_axes(figsize=(5.5, 3.2))

    def values(key):
        return np.array([np.nan if evidence[k].get(key) is None else float(evidence[k][key]) for k in ks])

    silhouette = values("silhouette")
    admissible = np.array([bool(evidence[k].get("admissible", True)) for k in ks])
    ax.plot(ks, silhouette, color="C0", linewidth=1, zorder=1)
    ax.scatter(np.array(ks)[admissible], silhouette[admissible], s=40, color="C0", zorder=2,
               label="silhouette (admissible k)")
    if not admissible.all():
        ax.scatter(np.array(ks)[~admissible], silhouette[~admissible], s=50, marker="x", color="0.5", zorder=2,
                   label="silhouette (k not admissible)")
    if any(evidence[k].get("stability") is not None for k in ks):
        ax.plot(ks, values("stability"), marker="s", ms=4, color="C2", linewidth=1, label="stability")
    if chosen in evidence:
        ax.axvline(chosen, color="C3", alpha=0.25, linewidth=8, zorder=0)
        ax.scatter([chosen], [evidence[chosen]["silhouette"]], marker="*", s=220, color="C3", zorder=3,
                   label=f"chosen k = {chosen}")
    ax.set_xticks(ks)
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("score (higher is better)")
    ax.set_title("Evidence per number of segments")
    ax.legend(fontsize="small")
    return ax


def plot_segment_drivers(drivers, n_drivers=3, *, segments=None, ax=None):
    """Draw each segment's strongest drivers as horizontal bars of their effect size (in standard deviations).

    Parameters
    ----------
    drivers : pandas.DataFrame
        ``AutoSegmenter.segment_drivers_`` or the second output of
        :func:`sknas.reporting.profiles.segment_profiles`.
    n_drivers : int, default=3
        Columns shown per segment (its strongest category for a categorical column).
    segments : list, optional
        Every segment id, in order (fixes the colours); default: those in ``drivers``.
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sknas.reporting.plotting import plot_segment_drivers
    >>> from sknas.reporting.profiles import segment_profiles
    >>> table = pd.DataFrame({"spend": [10.0, 20.0, 15.0, 30.0, 40.0, 35.0],
    ...                       "plan": ["basic", "basic", "pro", "pro", "pro", "pro"]})
    >>> _, drivers = segment_profiles([0, 0, 0, 1, 1, 1], table[["spend"]], table[["plan"]])
    >>> ax = plot_segment_drivers(drivers, n_drivers=2)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['0: spend', '0: plan=basic', '1: spend', '1: plan=pro']
    """
    segments = list(dict.fromkeys(drivers["segment"])) if segments is None else list(segments)
    colors = segment_colors(segments)
    bars = []  # (segment, label, smd, text)
    for s in segments:
        rows = drivers[drivers["segment"] == s].drop_duplicates("column").head(n_drivers)
        for row in rows.itertuples(index=False):
            if row.kind == "numeric":
                label, text = str(row.column), f"{row.smd:+.1f} sd"
            else:
                value = "yes" if row.kind == "flag" else row.value
                label, text = f"{row.column}={value}", f"{row.segment_stat:.0%} vs {row.rest_stat:.0%}"
            bars.append((s, f"{s}: {label}", float(row.smd), text))
    if ax is None:
        ax = _new_axes(figsize=(6.5, 0.32 * len(bars) + 1.2))
    y = np.arange(len(bars)) + np.repeat(np.arange(len(segments)), [sum(b[0] == s for b in bars)
                                                                     for s in segments]) * 0.6
    ax.barh(y, [b[2] for b in bars], color=[colors[b[0]] for b in bars], height=0.8)
    limit = max([abs(b[2]) for b in bars] + [0.5]) * 1.35
    for yi, (_, _, smd, text) in zip(y, bars):
        ax.text(smd + (0.02 if smd >= 0 else -0.02) * limit, yi, text, va="center",
                ha="left" if smd >= 0 else "right", fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-limit, limit)
    ax.set_yticks(y, [b[1] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("segment vs the other rows (standardised mean difference, sd)")
    ax.set_title("What sets each segment apart")
    return ax
