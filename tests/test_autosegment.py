"""AutoSegmenter: mixed-type input, n_clusters="auto", segment profiles, aligned ids, persistence."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN, Birch, MeanShift
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV

import sknas
from sknas import AutoSegmenter, NeuralFeatureMap
from sknas.metrics import silhouette_separability_scorer

#: Parameters that make an AutoSegmenter fit in about a second on small data.
FAST_AUTO = {"max_trials": 2, "max_epochs": 2, "device": "cpu", "random_state": 0, "cluster_range": (2, 5),
             "search_params": {"batch_size": 64, "search_space": {"widths": (8,), "max_depth": 1}}}


@pytest.fixture
def blobs():
    X, y = make_blobs(n_samples=200, centers=4, n_features=5, cluster_std=0.6, random_state=3)
    return X, y


@pytest.fixture
def table():
    rng = np.random.RandomState(0)
    n = 120
    segment = rng.randint(3, size=n)
    frame = pd.DataFrame({
        "spend": rng.gamma(2.0, 50.0, n) + 300 * segment,
        "visits": rng.poisson(3, n).astype(float) + 5 * segment,
        # The channel follows the segment for half the rows: were it the segment, the segments would restate
        # one column, which a search keeps out of its answer (a group-by is not a discovery).
        "channel": pd.Categorical(np.array(["web", "store", "app"])[np.where(rng.rand(n) < 0.5, segment,
                                                                             rng.randint(3, size=n))]),
        "region": rng.choice(["north", "south"], n).astype(object),
        "age": pd.array(rng.randint(20, 70, n), dtype="Int64"),
    })
    frame.loc[3, "spend"] = np.nan
    frame.loc[5, "region"] = None
    return frame, segment


def test_mixed_table_and_profiles(table):
    frame, segment = table
    seg = AutoSegmenter(n_clusters=3, **FAST_AUTO).fit(frame)
    assert seg.categorical_columns_ == ["channel", "region"]
    assert seg.native_categoricals_  # the search estimators embed categories themselves
    assert seg.search_.get_params()["categorical_features"] == ["channel", "region"]
    assert seg.labels_.shape == (len(frame),)
    profile = seg.segment_profiles_
    assert list(profile.columns) == ["size", "share", "description", "spend", "visits", "age", "channel", "region"]
    assert profile["size"].sum() == len(frame) and profile["share"].sum() == pytest.approx(1.0)
    assert list(profile.index) == [0, 1, 2]
    first = seg.labels_ == profile.index[0]
    assert profile["visits"].iloc[0] == np.median(frame["visits"][first])
    assert profile["channel"].iloc[0] == frame["channel"][first].mode().iloc[0]
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)
    assert adjusted_rand_score(segment, seg.labels_) > 0.4  # the numbers carry the segments; half the channel
    new = frame.head(4).copy()
    new["region"] = ["unseen", "north", "south", "north"]  # unseen categories: all-zero indicators
    assert seg.predict(new).shape == (4,)
    strict = AutoSegmenter(n_clusters=3, handle_unknown="error", **FAST_AUTO).fit(frame)
    with pytest.raises(ValueError, match="unseen"):
        strict.predict(new)
    assert seg.transform(frame).shape[0] == len(frame)
    assert seg.provenance_["data"]["columns"] == list(frame.columns)


def test_random_feature_map_screens_by_default_and_search_params_override(blobs):
    X, _ = blobs
    params = {**FAST_AUTO, "n_clusters": 4, "max_trials": 5}
    screened = AutoSegmenter(**params).fit(X)
    assert screened.search_.screening == 0.2
    assert any(r.get("fidelity") is not None for r in screened.search_.search_history_)  # screened networks
    full = AutoSegmenter(**{**params, "search_params": {**FAST_AUTO["search_params"], "screening": None}}).fit(X)
    assert full.search_.screening is None
    assert all(r.get("fidelity") is None for r in full.search_.search_history_)


def test_auto_k(blobs):
    X, _ = blobs
    seg = AutoSegmenter(**FAST_AUTO).fit(X)
    assert sorted(seg.k_scores_) == [2, 3, 4, 5]
    assert seg.n_clusters_ == 4 == len(np.unique(seg.labels_))
    assert seg.search_.n_clusters == 3  # the middle of the range; the final k is chosen on the embedding


def test_align_to_keeps_segment_ids_on_shuffled_refit(blobs):
    X, _ = blobs
    first = AutoSegmenter(n_clusters=4, **FAST_AUTO).fit(X)
    order = np.random.RandomState(1).permutation(len(X))
    params = {**FAST_AUTO, "random_state": 7}
    plain = AutoSegmenter(n_clusters=4, **params).fit(X[order])
    aligned = AutoSegmenter(n_clusters=4, align_to=first, **params).fit(X[order])
    assert adjusted_rand_score(first.labels_, plain.predict(X)) == pytest.approx(1.0)  # same segments...
    assert not np.array_equal(plain.predict(X), first.labels_)  # ...under other ids without align_to
    np.testing.assert_array_equal(aligned.predict(X), first.labels_)
    np.testing.assert_array_equal(aligned.labels_, first.labels_[order])
    # align_to survives clone (a reference model, not a sub-estimator to refit).
    from sklearn.base import clone

    assert clone(aligned).align_to is first


def test_align_to_with_more_segments(blobs):
    X, _ = blobs
    first = AutoSegmenter(n_clusters=3, **FAST_AUTO).fit(X)
    more = AutoSegmenter(n_clusters=4, align_to=first, **FAST_AUTO).fit(X)
    assert sorted(more.segment_ids_) == [0, 1, 2, 3]
    assert sorted(more.segment_profiles_.index) == [0, 1, 2, 3]


@pytest.mark.parametrize("method", ["darts", "none"])
def test_methods_and_gmm(method, blobs):
    X, y = blobs
    extra = {"warmup_epochs": 1} if method == "darts" else {}
    params = {**FAST_AUTO, "search_params": {**FAST_AUTO["search_params"], **extra}}
    if method == "none":
        params["search_params"] = {"batch_size": 64}
    seg = AutoSegmenter(feature_map=method, clusterer="gmm", n_clusters=4, **params).fit(X)
    assert type(seg.search_).__name__ == {"darts": "DARTSFeatureSearch", "none": "NeuralFeatureMap"}[method]
    assert type(seg.clusterer_).__name__ == "GaussianMixture"
    assert adjusted_rand_score(y, seg.labels_) > 0.5


def test_persistence_round_trips(table, tmp_path):
    frame, _ = table
    first = AutoSegmenter(n_clusters=3, **FAST_AUTO).fit(frame)
    seg = AutoSegmenter(n_clusters=3, align_to=first, **{**FAST_AUTO, "random_state": 1}).fit(frame)
    sknas.save(seg, tmp_path / "seg.zip")
    loaded = sknas.load(tmp_path / "seg.zip")
    np.testing.assert_array_equal(loaded.predict(frame), seg.predict(frame))
    np.testing.assert_array_equal(loaded.transform(frame), seg.transform(frame))
    pd.testing.assert_frame_equal(loaded.segment_profiles_, seg.segment_profiles_)
    assert loaded.provenance_ == seg.provenance_
    np.testing.assert_array_equal(loaded.align_to.predict(frame), first.predict(frame))
    again = pickle.loads(pickle.dumps(seg))
    np.testing.assert_array_equal(again.predict(frame), seg.predict(frame))


def test_a_table_whose_columns_are_numbered_fits_predicts_and_round_trips(table, tmp_path):
    # A CSV read without a header has columns 0, 1, ...: the native categorical path must not read the category
    # columns' names as positions, and every column name the evidence joins must be a string.
    frame, _ = table
    numbered = frame.set_axis(range(frame.shape[1]), axis=1)
    seg = AutoSegmenter(**FAST_AUTO).fit(numbered)
    assert seg.native_categoricals_ and seg.categorical_columns_ == [2, 3]
    assert seg.search_.get_params()["categorical_features"] == ["2", "3"]
    named = AutoSegmenter(**FAST_AUTO).fit(frame)
    np.testing.assert_array_equal(seg.labels_, named.labels_)
    sknas.save(seg, tmp_path / "seg.zip")
    np.testing.assert_array_equal(sknas.load(tmp_path / "seg.zip").predict(numbered), seg.predict(numbered))


def test_no_more_segments_are_tried_than_the_table_has_distinct_rows():
    # Two string columns of 3 and 2 values: 6 distinct rows, so k = 7..10 would ask KMeans for empty clusters.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"plan": rng.choice(["a", "b", "c"], 300), "churn": rng.choice(["Yes", "No"], 300)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # scikit-learn's "distinct clusters found smaller"
        seg = AutoSegmenter(**{**FAST_AUTO, "cluster_range": (2, 10)}).fit(frame)
    assert list(seg.k_evidence_) == [2, 3, 4, 5, 6]


def test_a_user_is_told_when_the_rows_leave_one_number_of_segments():
    frame = pd.DataFrame({"a": [0.0, 1.0, 5.0], "b": [1.0, 0.0, 4.0]})
    with pytest.warns(UserWarning, match="nothing to choose: 3 rows .* allow only k = 2"):
        seg = AutoSegmenter(**FAST_AUTO).fit(frame)
    assert seg.n_clusters_ == 2 and seg.k_evidence_ == {}


def test_grid_search_over_k(blobs):
    X, _ = blobs
    grid = GridSearchCV(AutoSegmenter(**FAST_AUTO), {"n_clusters": [2, 4]}, scoring=silhouette_separability_scorer,
                        cv=2).fit(X)
    assert grid.best_params_ == {"n_clusters": 4}


def test_bad_parameters(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="feature_map"):
        AutoSegmenter(feature_map="magic").fit(X)
    with pytest.raises(ValueError, match="clusterer"):
        AutoSegmenter(clusterer=PCA()).fit(X)  # no predict: not a clusterer
    with pytest.raises(ValueError, match="cluster_range"):
        AutoSegmenter(**{**FAST_AUTO, "cluster_range": (5, 2)}).fit(X)
    with pytest.raises(ValueError, match="infinity"):
        AutoSegmenter(**FAST_AUTO).fit(np.where(np.arange(X.size).reshape(X.shape) == 0, np.inf, X))


def test_any_feature_map_and_any_clusterer(blobs):
    """Pieces swap without leaving the API: an sknas estimator instance and a scikit-learn clusterer."""
    X, y = blobs
    feature_map = NeuralFeatureMap(n_components=3, max_epochs=2, batch_size=64, device="cpu")
    seg = AutoSegmenter(feature_map=feature_map, clusterer=Birch(threshold=0.1), n_clusters=4,
                        random_state=0).fit(X)
    assert type(seg.search_) is NeuralFeatureMap and seg.search_.n_components == 3  # its settings kept
    assert type(seg.clusterer_) is Birch and seg.clusterer_.n_clusters == 4
    assert not hasattr(feature_map, "net_")  # cloned: the user's instance stays unfitted
    np.testing.assert_array_equal(seg.predict(X), seg.labels_)
    assert adjusted_rand_score(y, seg.labels_) > 0.5
    with pytest.raises(ValueError, match="n_clusters or n_components"):
        AutoSegmenter(clusterer=MeanShift(), n_clusters=3, **FAST_AUTO).fit(X)
    with pytest.raises(ValueError, match="fit' and 'predict'"):
        AutoSegmenter(clusterer=DBSCAN(), n_clusters=3, **FAST_AUTO).fit(X)


def test_method_is_deprecated_for_feature_map(blobs):
    X, _ = blobs
    with pytest.warns(FutureWarning, match="feature_map"):
        seg = AutoSegmenter(method="none", n_clusters=2, **{**FAST_AUTO, "search_params": {"batch_size": 64}}).fit(X)
    assert type(seg.search_) is NeuralFeatureMap


def test_k_evidence_says_why_each_k_lost(blobs):
    """Auto k: stability is measured per k, every inadmissible k has a reason, and k = 2 is not preferred."""
    X, _ = blobs
    seg = AutoSegmenter(**{**FAST_AUTO, "cluster_range": (2, 6)}).fit(X)
    evidence = seg.k_evidence_
    assert set(evidence) == {2, 3, 4, 5, 6}
    for e in evidence.values():
        assert e["stability"] is None or -0.5 <= e["stability"] <= 1.0 + 1e-9
        assert e["admissible"] == (e["reason"] == "")
    admissible = [k for k, e in evidence.items() if e["admissible"]]
    if any(k >= 3 for k in admissible):
        assert seg.n_clusters_ >= 3


def test_a_user_is_warned_when_no_k_is_stable():
    """Uniform noise has no segments that come back under refits: the answer carries a warning."""
    X = np.random.RandomState(0).uniform(size=(300, 6))
    with pytest.warns(UserWarning, match="came back"):
        seg = AutoSegmenter(**{**FAST_AUTO, "cluster_range": (3, 6)}).fit(X)
    assert not any(e["admissible"] for e in seg.k_evidence_.values())


def test_a_user_is_warned_when_no_k_meets_the_rules():
    """One far row makes a segment of its own at every k: no k is admissible, the best silhouette is returned,
    and the warning says why (the smallest segment) instead of falling silently to k = 2."""
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 2)), columns=["a", "b"])
    frame.loc[0] = [1e3, 1e3]
    with pytest.warns(UserWarning, match="met AutoSegmenter's rules.*smallest segment.*extreme rows"):
        seg = AutoSegmenter(feature_map="none", max_epochs=2, device="cpu", random_state=0,
                            cluster_range=(2, 4)).fit(frame)
    assert not any(e["admissible"] for e in seg.k_evidence_.values())
    assert all(e["reason"].startswith("smallest segment") for e in seg.k_evidence_.values())
    assert seg.deskewed_ is False  # the rerun with the column power-transformed still isolated the row: not kept


def test_the_deskewed_rerun_is_kept_when_it_mends_a_segment_too_small_to_act_on():
    """Kept when some k of the rerun is admissible, or when the first answer's smallest segment is too small
    (or a segment is missing) and the rerun's answer has none too small, though it restates a column or is
    unstable (openintro::email: a 0.4% segment before, six segments of 2.7% and more after, unstable)."""
    def evidence(segments, share, rows, admissible=False):
        return {"segments": segments, "smallest_share": share, "smallest_rows": rows, "admissible": admissible}

    tiny, restating, unstable = evidence(2, 0.004, 7), evidence(3, 0.2, 400), evidence(6, 0.027, 108)
    better = AutoSegmenter._rerun_is_better
    assert better(2, {2: tiny}, 6, {5: restating, 6: unstable})
    assert not better(2, {2: tiny}, 7, {7: evidence(7, 0.001, 1)})  # the rerun isolates a row too
    assert not better(3, {3: restating}, 6, {6: unstable})  # the first answer's segments were large enough
    assert better(3, {3: restating}, 4, {4: evidence(4, 0.1, 200, admissible=True)})
    assert better(3, {3: evidence(2, 0.3, 600)}, 6, {6: unstable})  # a segment the clusterer did not find


def test_one_far_row_of_a_small_table_is_not_a_segment():
    """On 40 rows a segment of one row is 2.5% of them, over min_segment_share: the floor in rows
    (min_segment_rows, 3) keeps it out, where it won on the silhouette before (AER::ShipAccidents)."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(np.vstack([rng.normal(c, 0.5, (13, 2)) for c in ((0, 0), (6, 0), (0, 6))] + [[[40, 40]]]),
                         columns=["a", "b"])
    params = {"feature_map": "none", "device": "cpu", "random_state": 0, "cluster_range": (2, 5)}
    with sknas.config.config_context(min_segment_rows=1):
        before = AutoSegmenter(**params).fit(frame)
    assert before.n_clusters_ == 4 and np.bincount(before.labels_).min() == 1
    seg = AutoSegmenter(**params).fit(frame)
    assert seg.n_clusters_ == 3 and np.bincount(seg.labels_).min() >= 13
    assert seg.k_evidence_[4]["reason"] == "smallest segment 2.5% of rows (1 row)"


def test_segments_of_a_few_far_rows_rerun_the_search_with_long_tails_transformed(long_tailed_blobs):
    """Every k leaves a segment under 2% of rows on the long-tailed column as given; the rerun with it
    power-transformed has an admissible k, which is kept (deskewed_), and predict uses the same transform."""
    frame = long_tailed_blobs
    params = {"feature_map": "random", "max_trials": 2, "max_epochs": 2, "device": "cpu", "random_state": 0}
    with sknas.config.config_context(retry_deskew_skewness=float("inf")), \
            pytest.warns(UserWarning, match="No number of segments"):
        plain = AutoSegmenter(**params).fit(frame)
    assert not plain.deskewed_ and not any(e["admissible"] for e in plain.k_evidence_.values())
    seg = AutoSegmenter(**params).fit(frame)
    assert seg.deskewed_ and seg.k_evidence_[seg.n_clusters_]["admissible"]
    assert np.bincount(seg.labels_).min() >= 0.02 * len(frame)
    assert (seg.predict(frame) == seg.labels_).all()
    assert seg.search_.provenance_["config"]["deskew_skewness"] == 1.0  # the setting the kept search ran under
    assert pickle.loads(pickle.dumps(seg)).predict(frame).tolist() == seg.labels_.tolist()


def test_segments_that_are_two_yes_no_columns_crossed_are_not_admissible():
    """A group-by on two yes/no columns (their four combinations) is set aside as a group-by on one is."""
    rng = np.random.RandomState(0)
    n = 240
    tv, phone = rng.randint(2, size=n), rng.randint(2, size=n)
    frame = pd.DataFrame({"has_tv": np.where(tv, "yes", "no").astype(object),
                          "has_phone": np.where(phone, "yes", "no").astype(object),
                          "tv_minutes": 4.0 * tv + rng.normal(0, 0.3, n),
                          "calls": 4.0 * phone + rng.normal(0, 0.3, n)})
    seg = AutoSegmenter(**{**FAST_AUTO, "cluster_range": (2, 5)}).fit(frame)
    four = seg.k_evidence_[4]
    assert not four["admissible"] and {"has_tv", "has_phone"} <= set(four["closest_column"].split(" & "))
    assert "restates" in four["reason"]
    with sknas.config.config_context(restatement_columns=1):  # one column at a time: the crossing gets through
        seg = AutoSegmenter(**{**FAST_AUTO, "cluster_range": (2, 5)}).fit(frame)
    assert seg.k_evidence_[4]["column_nmi"] < 0.7
