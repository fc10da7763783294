"""The demo runs end to end and prints its tables."""

import io

from sknas.cli import main, run_demo


def test_demo_prints_profiles_and_comparison():
    out = io.StringIO()
    pipe = run_demo(n_samples=300, max_trials=2, random_state=0, out=out)
    text = out.getvalue()
    assert "Segment profiles" in text
    assert "KMeans on raw columns" in text and "PCA(8) + KMeans" in text and "sknas RandomFeatureSearch" in text
    assert "Why this feature map:" in text and "What this means for you" in text
    assert "feature maps without labels" in text
    assert len(pipe.predict([[0.0] * pipe[1].n_features_in_])) == 1


def test_cli_rejects_unknown_command(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["nope"])


def _stub_search(history, chosen, best_score, runner_ups=()):
    from types import SimpleNamespace

    return SimpleNamespace(_scoring=lambda: "silhouette+separability", search_history_=history, architecture_=chosen,
                           best_score_=best_score, n_clusters=5, efficiency_={"params": 80},
                           runner_ups_=list(runner_ups))


def test_explain_choice_says_why_a_fixed_map_stays_or_a_network_wins():
    from sknas import Architecture, Block
    from sknas.cli import explain_choice

    lda, raw = Architecture(head="lda"), Architecture(head="identity")
    net = Architecture((Block("gated", 64), Block("linear", 32)))
    history = [{"architecture": raw, "selection_score": 0.30}, {"architecture": lda, "selection_score": 0.42},
               {"architecture": net, "selection_score": 0.43}]
    kept = " ".join(explain_choice(_stub_search(history, lda, 0.42, [
        {"architecture": net, "selection_score": 0.43, "agreement_with_winner": 0.9}])))
    assert "It kept the LDA map" in kept and "by 0.02 to replace it" in kept and "ahead by only 0.010" in kept
    assert "Runner-ups: a 3-layer network (0.430)" in kept and "ARI 0.90" in kept
    history[2]["selection_score"] = 0.50
    won = " ".join(explain_choice(_stub_search(history, net, 0.50)))
    assert "It chose a 3-layer network, gated(64)-relu | linear(32)-relu -> linear: score 0.500, against 0.420 for the LDA map" in won
    assert "ahead by 0.080" in won


def test_explain_choice_describes_the_map_the_final_check_kept():
    from sknas import Architecture
    from sknas.cli import explain_choice

    raw, linear = Architecture(head="identity"), Architecture(head="linear")
    history = [{"architecture": raw, "selection_score": 0.53}, {"architecture": linear, "selection_score": 0.61}]
    search = _stub_search(history, raw, 0.53)  # best_score_: the kept map's
    search.final_check_ = {"column_nmi": 0.6, "closest_column": "student", "restates_column": False,
                           "replaced": "linear"}
    text = " ".join(explain_choice(search))
    assert "It kept the raw columns" in text and "(score 0.530)" in text
    assert "Its first choice, linear, scored higher, but once retrained on every row its segments restated" in text
    assert "closest column now: student" in text and "ahead by" not in text  # the margin did not decide it
