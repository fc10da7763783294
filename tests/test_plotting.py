"""sknas.reporting.plotting draws without error and shows what it claims."""

import matplotlib
import pytest

matplotlib.use("Agg")

from sknas import Architecture, Block, DARTSFeatureSearch  # noqa: E402
from sknas.reporting.plotting import plot_alpha_history, plot_architecture  # noqa: E402

from .conftest import FAST  # noqa: E402


def test_plot_alpha_history_one_axes_per_layer_one_line_per_op(customers):
    X, _ = customers
    search = DARTSFeatureSearch(n_components=3, **{**FAST, "max_epochs": 3}, warmup_epochs=1,
                                search_space={"widths": (8,), "max_depth": 2}).fit(X)
    axes = plot_alpha_history(search)
    assert len(axes) == 2
    for ax, ops in zip(axes, search.supernet_layer_ops_):
        assert [line.get_label() for line in ax.get_lines()] == list(ops)
        assert len(ax.get_lines()[0].get_xdata()) == len(search.alpha_history_)


def test_plot_alpha_history_needs_a_fitted_search():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_alpha_history(DARTSFeatureSearch())


def test_plot_architecture_draws_a_box_per_block_plus_input_and_head():
    arch = Architecture((Block("gated", 64, residual=True), Block("linear", 32, norm="layernorm")))
    ax = plot_architecture(arch, n_features=9, n_components=8)
    assert len(ax.patches) == 4
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # arrows are empty annotations
    assert texts[0] == "input\n9" and texts[-1] == "linear head\n8"
    assert any("gated(64)" in t for t in texts)
    lda_texts = [t.get_text() for t in plot_architecture(Architecture(head="lda"), n_features=9, n_components=8).texts]
    assert "LDA map (fitted)\n8" in lda_texts  # not drawn as a trained linear head


def test_plot_evolution_draws_fitness_and_diversity(customers):
    from sknas import EvoFeatureSearch
    from sknas.reporting.plotting import plot_evolution

    X, _ = customers
    search = EvoFeatureSearch(n_components=2, population_size=3, max_trials=6, **FAST,
                              search_space={"widths": (8,), "max_depth": 1}).fit(X)
    fitness_ax, diversity_ax = plot_evolution(search)
    best = fitness_ax.get_lines()[0]
    assert list(best.get_ydata()) == [g["best"] for g in search.generation_stats_]
    assert len(diversity_ax.get_lines()) == 2
