"""The cross-space judge, the restatement check and the mixed-type encoding scale (issue 20)."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.metrics import silhouette_score

from sknas import RandomFeatureSearch
from sknas.config import config_context
from sknas.preprocessing.tabular import INDICATOR_VALUE, TabularEncoder, split_mixed
from sknas.evaluation import selection_scores
from sknas.search.base import _final_fallbacks
from sknas.evaluation.judge import (
    RESTATEMENT_NMI,
    column_restatement,
    cross_space_scores,
    dip_pvalue,
    discrete_columns,
    precomputed_silhouette,
)
from sknas.space.categorical import CategoricalEmbedding, CategoricalLayout


def test_precomputed_silhouette_matches_scikit_learn_with_singletons():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    labels = np.r_[np.zeros(14), np.ones(15), [2]].astype(int)  # one singleton cluster
    D = cdist(X, X)
    assert precomputed_silhouette(D, labels) == pytest.approx(silhouette_score(D, labels, metric="precomputed"))
    assert precomputed_silhouette(D, np.zeros(30, dtype=int)) == -1.0  # one cluster: cannot be judged


def test_dip_test_tells_one_blob_from_two():
    rng = np.random.default_rng(0)
    blob = rng.normal(size=(300, 4))
    two = np.vstack([rng.normal(size=(150, 4)), rng.normal(size=(150, 4)) + 5])
    assert dip_pvalue(blob) > 0.05 > dip_pvalue(two)


def test_cross_space_prefers_the_partition_every_space_supports():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 80)
    X = rng.normal(size=(240, 4)) + 4 * np.eye(3, 4)[truth]
    # A map that "finds" an arbitrary partition by squeezing the rows onto it: tight in its own space only.
    arbitrary = rng.integers(0, 3, 240)
    squeezed = np.eye(3)[arbitrary] * 10 + 0.01 * rng.normal(size=(240, 3))
    scores, details = cross_space_scores([truth, arbitrary], [X, X[:, :3] * 2.0, squeezed], return_details=True)
    assert scores[0] > scores[1]
    assert details["matrix"].shape == (2, int(details["admissible"].sum()))
    assert np.isclose(details["weights"].sum(), 1.0)


def test_selection_scores_cross_space_uses_embeddings_and_input():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], 100)
    X = rng.normal(size=(200, 3)) + 5 * truth[:, None]
    records = [{"score": 0.1, "labels": truth, "embedding": X[:, :2]},
               {"score": 0.9, "labels": rng.integers(0, 2, 200), "embedding": rng.normal(size=(200, 2))}]
    assert np.argmax(selection_scores(records, "silhouette")) == 1
    assert np.argmax(selection_scores(records, "cross_space", X=X)) == 0


def test_column_restatement_finds_flags_categories_and_counts_not_continuous_columns():
    rng = np.random.default_rng(0)
    n = 200
    flag = rng.integers(0, 2, n).astype(float)
    count = rng.integers(0, 5, n).astype(float)
    continuous = rng.normal(size=n)
    region = rng.integers(0, 3, n)
    layout = CategoricalLayout(3, (3,))
    X = np.column_stack([flag, count, continuous, np.eye(3)[region] * INDICATOR_VALUE])
    columns = discrete_columns(X, layout, ["flag", "count", "amount", "region"])
    assert set(columns) == {"flag", "count", "region"}
    assert column_restatement(1 - flag, columns) == (pytest.approx(1.0), "flag")
    assert column_restatement(region, columns)[1] == "region"
    nmi, _ = column_restatement((continuous > 0).astype(int) + 2 * (rng.random(n) > 0.5), columns)
    assert nmi < RESTATEMENT_NMI


def test_a_count_with_a_few_rare_large_values_is_still_a_discrete_column():
    """More distinct values than max_discrete_values, but ten of them hold 99% of the rows (attachments per
    email): segments "none / some" are a group-by on it, and the check must see the column."""
    rng = np.random.default_rng(0)
    n = 1000
    attachments = np.where(rng.random(n) < 0.9, 0.0, rng.integers(1, 4, n)).astype(float)
    attachments[rng.choice(n, 5, replace=False)] = [20.0, 21.0, 25.0, 30.0, 41.0]  # 14 values in all
    measure = rng.normal(size=n)
    columns = discrete_columns(np.c_[attachments, measure], names=["attachments", "amount"])
    assert set(columns) == {"attachments"}
    assert column_restatement((attachments > 0).astype(int), columns)[0] >= RESTATEMENT_NMI
    with config_context(max_discrete_values=3):  # three values hold 90% + a few rows: not a count any more
        assert set(discrete_columns(np.c_[attachments, measure], names=["attachments", "amount"])) == set()


def test_a_group_by_on_two_columns_is_a_restatement_each_column_alone_misses():
    rng = np.random.default_rng(1)
    n = 400
    plan, churn = rng.integers(0, 2, n), rng.integers(0, 2, n)
    noise = {f"other{j}": rng.integers(0, 4, n) for j in range(12)}  # more columns than are combined
    columns = {**noise, "plan": plan, "churn": churn}
    segments = 2 * plan + churn
    one_nmi, one = column_restatement(segments, columns, combined=1)
    assert one in {"plan", "churn"} and one_nmi < RESTATEMENT_NMI  # each alone: about half-way
    nmi, both = column_restatement(segments, columns)
    assert nmi == pytest.approx(1.0) and set(both.split(" & ")) == {"plan", "churn"}
    with config_context(restatement_columns=1):
        assert column_restatement(segments, columns) == (one_nmi, one)
    region = rng.integers(0, 2, n)  # three columns crossed, with restatement_columns=3
    nmi, three = column_restatement(4 * segments + region, {**columns, "region": region}, combined=3)
    assert nmi == pytest.approx(1.0) and set(three.split(" & ")) == {"plan", "churn", "region"}
    # A column unrelated to the segments never lifts a combination above the column that explains them.
    assert column_restatement(plan, columns) == (pytest.approx(1.0), "plan")
    independent = (rng.normal(size=n) > 0).astype(int) + 2 * rng.integers(0, 2, n)
    assert column_restatement(independent, columns)[0] < 0.1


def test_the_counting_nmi_is_scikit_learns():
    from sklearn.metrics import normalized_mutual_info_score

    from sknas.evaluation.judge import _nmi

    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.integers(-1, rng.integers(1, 12), 300)  # -1: a missing category
        b = rng.integers(0, rng.integers(1, 6), 300)
        assert _nmi(a, b) == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)
    assert _nmi(np.zeros(5, int), np.zeros(5, int)) == 1.0 == normalized_mutual_info_score([0] * 5, [0] * 5)


def test_choose_k_sets_aside_the_combinations_of_two_flags():
    from sklearn.cluster import KMeans

    from sknas.evaluation.k_choice import choose_k

    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(c, 0.3, (60, 2)) for c in ((0, 0), (0, 6), (6, 0), (6, 6), (3, 3))])
    first, second = (Z[:, 0] > 4.5).astype(int), (Z[:, 1] > 4.5).astype(int)  # the four corners' flags
    ks = (3, 4, 5)
    labelings = {k: KMeans(k, n_init=5, random_state=0).fit_predict(Z) for k in ks}
    columns = {"first": first, "second": second}
    with config_context(restatement_columns=1):
        assert choose_k(Z, ks, labelings, columns)[1][4]["admissible"]  # each flag alone: NMI ~0.5
    k, evidence = choose_k(Z, ks, labelings, columns)
    assert not evidence[4]["admissible"] and "first & second" in evidence[4]["reason"] and k != 4


def test_two_segments_compete_when_neither_holds_groups_of_its_own():
    """prefer_at_least sets k = 2 back only when a half splits further (split_dip_alpha, the default 0.05)."""
    import math

    from sklearn.cluster import KMeans

    from sknas.evaluation.k_choice import SPLIT_DIP_ALPHA, choose_k, segment_split_pvalue

    rng = np.random.default_rng(0)
    two = np.vstack([rng.normal(c, 1.0, (150, 3)) for c in (0, 8)])  # two classes, each one blob
    ks = (2, 3, 4)
    labelings = {k: KMeans(k, n_init=5, random_state=0).fit_predict(two) for k in ks}
    k, evidence = choose_k(two, ks, labelings, prefer_at_least=3)
    assert k == 2 and evidence[2]["split_pvalue"] >= SPLIT_DIP_ALPHA and evidence[3]["split_pvalue"] is None
    with config_context(split_dip_alpha=math.inf):  # the rule until 2026-12-07: two segments always go last
        assert choose_k(two, ks, labelings, prefer_at_least=3)[0] == 3
    three = np.vstack([rng.normal(c, 0.5, (100, 2)) for c in ((0, 0), (10, 0), (10, 4))])
    labelings = {k: KMeans(k, n_init=5, random_state=0).fit_predict(three) for k in ks}
    k, evidence = choose_k(three, ks, labelings, prefer_at_least=3)
    assert k == 3 and evidence[2]["split_pvalue"] < SPLIT_DIP_ALPHA  # the far half holds two groups
    assert segment_split_pvalue(three, labelings[3]) >= SPLIT_DIP_ALPHA  # each third is one blob
    assert segment_split_pvalue(three[:15], np.zeros(15, int)) == 1.0  # too few rows to test


def test_with_no_admissible_k_segments_that_follow_a_column_beat_a_segment_of_one_far_row():
    """The last resort: a k whose segments cover the table (they restate a flag) wins over a better silhouette
    whose segment is one far row, which is not worth acting on; both are inadmissible and say why."""
    from sknas.evaluation.k_choice import choose_k

    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(6, 1, (100, 2)), [[200.0, 200.0]]])
    far = np.r_[np.zeros(200, int), 1]
    flag = np.r_[np.zeros(100, int), np.ones(101, int)]  # the two blobs, the far row with the second
    thirds = np.r_[np.zeros(50, int), np.ones(50, int), np.full(101, 2)]  # the first blob halved: follows flag
    k, evidence = choose_k(Z, (2, 3), {2: far, 3: thirds}, {"flag": flag})
    assert evidence[2]["reason"] == "smallest segment 0.5% of rows (1 row)"
    assert evidence[3]["reason"].startswith("restates flag")
    assert evidence[2]["silhouette"] > evidence[3]["silhouette"]  # the far row alone has the best silhouette
    assert k == 3


def test_two_segments_that_follow_a_flag_or_move_with_the_seed_go_last():
    """Two segments compete only on their own evidence: one blob each, no column telling them most of the
    way (few_segments_max_nmi), and stable; when no k is stable, few segments are not the fallback."""
    from sklearn.cluster import KMeans

    from sknas.evaluation.k_choice import SPLIT_DIP_ALPHA, choose_k

    rng = np.random.default_rng(0)
    two = np.vstack([rng.normal(c, 1.0, (150, 3)) for c in (0, 8)])
    ks = (2, 3, 4)
    labelings = {k: KMeans(k, n_init=5, random_state=0).fit_predict(two) for k in ks}
    halves = labelings[2]
    flag = halves.copy()
    flag[rng.choice(len(flag), 24, replace=False)] ^= 1  # agrees with the halves on 92% of the rows
    k, evidence = choose_k(two, ks, labelings, {"flag": flag}, prefer_at_least=3)
    assert evidence[2]["split_pvalue"] >= SPLIT_DIP_ALPHA  # one blob each
    assert 0.5 <= evidence[2]["column_nmi"] < 0.7 and evidence[2]["admissible"]  # not a restatement
    assert k == 3 and "follow flag" in evidence[2]["set_back"]  # but two segments that follow a flag go last
    assert evidence[3]["set_back"] == ""
    with config_context(few_segments_max_nmi=1.0):
        assert choose_k(two, ks, labelings, {"flag": flag}, prefer_at_least=3)[0] == 2
    stable = {2: 0.95, 3: 0.9, 4: 0.9}
    assert choose_k(two, ks, labelings, prefer_at_least=3, stability=stable)[0] == 2
    unstable = {2: 0.5, 3: 0.4, 4: 0.3}
    k, evidence = choose_k(two, ks, labelings, prefer_at_least=3, stability=unstable)
    assert k == 3 and evidence[2]["stability"] == 0.5  # tried first, unstable: not the fallback either


def test_a_string_flag_weighs_what_a_numeric_flag_weighs():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "yes": ["y", "n", "y", "n"]})
    mask = np.array([False, True])
    rows = split_mixed(frame, mask)
    Z = TabularEncoder(np.array(["yes"], dtype=object)).fit(rows).transform(rows)
    change = Z[0, 1:] - Z[1, 1:]
    assert float(change @ change) == pytest.approx(1.0)  # a 0/1 flag column's change
    assert INDICATOR_VALUE == pytest.approx(2 ** -0.5)


def test_category_embeddings_start_at_a_numeric_columns_scale():
    torch.manual_seed(0)
    emb = CategoricalEmbedding(CategoricalLayout(1, (2, 40)), "auto")
    for table in emb.embeddings:
        assert torch.all(table.weight[0] == 0)  # the reserved unknown row
        rows = table.weight[1:]
        width = table.embedding_dim
        assert float(rows.detach().var()) * 2 * width == pytest.approx(1.0, abs=0.6)


def _flag_table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    frame = pd.DataFrame(rng.normal(size=(n, 3)) * 0.8 + np.eye(3)[group] * 2.0, columns=["a", "b", "c"])
    # The flag follows the first group for 80% of the rows: partitions differ in how much they restate it.
    frame["member"] = np.where((group == 0) ^ (rng.random(n) < 0.2), "yes", "no")
    return frame


def test_history_says_which_column_each_partition_restates():
    search = RandomFeatureSearch(n_clusters=2, max_trials=3, max_epochs=3, random_state=0, device="cpu")
    search.fit(_flag_table())
    valid = [r for r in search.search_history_ if r["valid"]]
    assert valid and all("embedding" not in r for r in search.search_history_)  # dropped after judging
    for r in valid:
        assert r["closest_column"] in {"member", None}
        assert r["restates_column"] == (r["column_nmi"] >= RESTATEMENT_NMI)


def test_a_restating_winner_is_replaced_by_the_best_other_candidate():
    from sknas.config import config_context

    # seed 2: the LDA map wins with column NMI 0.15 and the linear map's partition is further from the flag
    params = dict(n_clusters=2, max_trials=3, max_epochs=3, random_state=2, device="cpu")
    first = RandomFeatureSearch(**params).fit(_flag_table())
    valid = [r for r in first.search_history_ if r["valid"]]
    winner = next(r for r in valid if r["architecture"] == first.architecture_)
    lower = [r["column_nmi"] for r in valid if r["column_nmi"] < winner["column_nmi"]]
    assert lower, "the table must give the winner a closer column than some other candidate"
    # A threshold between: the first winner now restates the flag, some other candidate does not.
    with config_context(restatement_nmi=(max(lower) + winner["column_nmi"]) / 2):
        second = RandomFeatureSearch(**params).fit(_flag_table())
    new_winner = next(r for r in second.search_history_ if r["valid"] and r["architecture"] == second.architecture_)
    assert second.architecture_ != first.architecture_
    assert not new_winner["restates_column"]
    others = [r for r in second.search_history_ if r["valid"] and not r["restates_column"]]
    assert new_winner["selection_score"] >= max(r["selection_score"] for r in others) - 0.02  # margin rule


def test_final_segments_that_restate_a_column_fall_back_to_a_runner_up(monkeypatch):
    """The final network is judged as the candidates were; a restating one gives way to a runner-up."""
    params = dict(n_clusters=2, max_trials=3, max_epochs=3, random_state=0, device="cpu")
    plain = RandomFeatureSearch(**params).fit(_flag_table())
    assert plain.final_check_["replaced"] is None
    assert plain.final_check_["restates_column"] == (plain.final_check_["column_nmi"] >= RESTATEMENT_NMI)
    fallbacks = _final_fallbacks(plain.architecture_, [r for r in plain.search_history_ if r["valid"]])
    assert fallbacks, "the table must leave a runner-up that does not restate the flag"

    calls = []

    def judged(self, net, context, columns):  # the first final network restates the flag, the next does not
        calls.append(net)
        return (1.0, "member") if len(calls) == 1 else (0.1, "member")

    monkeypatch.setattr(RandomFeatureSearch, "_final_restatement", judged)
    search = RandomFeatureSearch(**params).fit(_flag_table())
    assert len(calls) == 2
    assert search.final_check_ == {"column_nmi": 0.1, "closest_column": "member", "restates_column": False,
                                   "replaced": str(plain.architecture_)}
    assert search.architecture_ == fallbacks[0] and search.net_ is calls[1]
    assert search.transform(_flag_table()).shape == (len(_flag_table()), search.n_components_)

    calls.clear()
    monkeypatch.setattr(RandomFeatureSearch, "_final_restatement", lambda *a: calls.append(1) or (1.0, "member"))
    stuck = RandomFeatureSearch(**params).fit(_flag_table())  # every retrained map restates: the winner stays
    assert stuck.architecture_ == plain.architecture_ and stuck.final_check_["restates_column"]
    assert len(calls) == 1 + len(fallbacks)


def test_final_fallbacks_reach_below_restating_runner_ups(monkeypatch):
    """When the runner-ups restate a column too, the final check retrains the best candidate that does not,
    wherever it ranks (held-out credit default: the three runner-ups all restated ``student``)."""
    from sknas.search import base as search_base

    records = [{"architecture": name, "selection_score": score, "score": score, "restates_column": restates}
               for name, score, restates in [("linear", 0.61, False), ("lda", 0.91, True), ("embed", 0.79, True),
                                             ("gate", 0.75, True), ("identity", 0.53, False), ("net", 0.49, False),
                                             ("net", 0.40, False), ("res", 0.48, False), ("deep", 0.44, False)]]
    assert _final_fallbacks("linear", records) == ["identity", "net", "res"]  # distinct, best first, at most 3
    assert search_base.FINAL_FALLBACKS == 3
    assert _final_fallbacks("linear", []) == []

    # End to end: every other candidate is marked a restatement but the weakest; the final check reaches it.
    params = dict(n_clusters=2, max_trials=6, max_epochs=3, random_state=0, device="cpu")
    plain = RandomFeatureSearch(**params).fit(_flag_table())
    valid = sorted((r for r in plain.search_history_ if r["valid"] and r["architecture"] != plain.architecture_),
                   key=lambda r: -r["selection_score"])
    weakest = valid[-1]["architecture"]
    assert weakest not in [r["architecture"] for r in plain.runner_ups_], "the table must rank it below three"
    original = RandomFeatureSearch._mark_restatements

    def marked(self, records, context):
        original(self, records, context)
        for record in records:
            record["restates_column"] = record["architecture"] not in (weakest, plain.architecture_)

    calls = []

    def judged(self, net, context, columns):  # the chosen map's final segments restate the flag, the next not
        calls.append(net)
        return (1.0, "member") if len(calls) == 1 else (0.1, "member")

    monkeypatch.setattr(RandomFeatureSearch, "_mark_restatements", marked)
    monkeypatch.setattr(RandomFeatureSearch, "_final_restatement", judged)
    search = RandomFeatureSearch(**params).fit(_flag_table())
    assert all(r["restates_column"] for r in search.runner_ups_)
    assert search.architecture_ == weakest and search.final_check_["replaced"] == str(plain.architecture_)
    kept = [r["selection_score"] for r in search.search_history_ if r["valid"] and r["architecture"] == weakest]
    assert search.best_score_ == max(kept) < plain.best_score_  # the score of the map kept, not the first choice's


def test_a_replacement_of_another_width_sets_n_components(monkeypatch):
    """The identity map (as wide as the input) replacing an 8-wide map: the width follows the replacement."""
    params = dict(n_clusters=2, max_trials=6, max_epochs=3, random_state=0, device="cpu")
    plain = RandomFeatureSearch(**params).fit(_flag_table())
    assert plain.n_components_ == 8 and str(plain.architecture_) != "identity"
    original = RandomFeatureSearch._mark_restatements

    def marked(self, records, context):
        original(self, records, context)
        for record in records:
            record["restates_column"] = str(record["architecture"]) not in ("identity", str(plain.architecture_))

    calls = []
    monkeypatch.setattr(RandomFeatureSearch, "_mark_restatements", marked)
    monkeypatch.setattr(RandomFeatureSearch, "_final_restatement",
                        lambda self, *a: calls.append(1) or ((1.0, "member") if len(calls) == 1 else (0.1, "member")))
    search = RandomFeatureSearch(**params).fit(_flag_table())
    assert str(search.architecture_) == "identity" and search.final_check_["replaced"] == str(plain.architecture_)
    width = search.transform(_flag_table()).shape[1]  # three numbers and the flag's indicators
    assert width < 8 and search.n_components_ == width == len(search.get_feature_names_out())


def test_choose_k_prefers_three_or_more_stable_segments():
    """k = 2 loses to an admissible k >= 3; an unstable k loses to a stable one; with none stable, a reason."""
    from sklearn.cluster import KMeans

    from sknas.evaluation.k_choice import choose_k

    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(c, 0.3, (60, 2)) for c in ((0, 0), (0, 1.5), (12, 0), (12, 1.5))])
    ks = (2, 3, 4, 5)
    labelings = {k: KMeans(k, n_init=3, random_state=0).fit_predict(Z) for k in ks}
    plain, evidence = choose_k(Z, ks, labelings)
    assert plain == 2 and evidence[2]["silhouette"] > evidence[4]["silhouette"]  # two far halves
    assert choose_k(Z, ks, labelings, prefer_at_least=3)[0] == 3  # the best silhouette among k >= 3
    stable_k, evidence = choose_k(Z, ks, labelings, prefer_at_least=3, stability={2: 1.0, 3: 0.5, 4: 0.9, 5: 0.9})
    assert stable_k == 4 and evidence[3]["reason"].startswith("unstable") and not evidence[3]["admissible"]
    assert evidence[4]["admissible"] and evidence[4]["stability"] == 0.9
    assert evidence[5]["stability"] is None  # not measured: a better k was stable first
    none_stable, evidence = choose_k(Z, ks, labelings, prefer_at_least=3, stability=dict.fromkeys(ks, 0.1))
    assert none_stable == 3 and not any(e["admissible"] for e in evidence.values())
