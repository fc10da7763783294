"""Segment profiles: effect sizes checked against hand computations, descriptions, edge cases."""

import numpy as np
import pandas as pd
import pytest

from sknas.reporting.profiles import DRIVER_COLUMNS, segment_profiles

#: Segment 1: spend 4, 6, 8, 6 (mean 6, squares 8), plan pro x3 + basic, member 1, 1, 1, 0.
#: The rest: spend 1, 2, 3 (mean 2, squares 2), plan basic, basic, pro, member 0, 0, 1.
LABELS = np.array([0, 0, 0, 1, 1, 1, 1])


@pytest.fixture
def table():
    return pd.DataFrame({"spend": [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 6.0],
                         "member": [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
                         "plan": ["basic", "basic", "pro", "pro", "pro", "pro", "basic"]})


def _driver(drivers, segment, column, value=None):
    rows = drivers[(drivers["segment"] == segment) & (drivers["column"] == column)]
    if value is not None:
        rows = rows[rows["value"] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_numeric_smd_is_the_mean_difference_over_the_pooled_std(table):
    profiles, drivers = segment_profiles(LABELS, table[["spend", "member"]], table[["plan"]])
    spend = _driver(drivers, 1, "spend")
    pooled_std = np.sqrt((8 + 2) / (4 + 3 - 2))  # sqrt(2)
    assert spend["kind"] == "numeric" and spend["value"] is None
    assert spend["effect"] == pytest.approx((6 - 2) / pooled_std) == spend["smd"]
    assert (spend["segment_stat"], spend["rest_stat"]) == (6.0, 2.0)
    assert _driver(drivers, 0, "spend")["effect"] == pytest.approx(-4 / pooled_std)
    assert profiles.loc[1, "spend"] == 6.0 and profiles.loc[0, "spend"] == 2.0  # medians


def test_category_share_difference_and_flag(table):
    _, drivers = segment_profiles(LABELS, table[["spend", "member"]], table[["plan"]])
    pro = _driver(drivers, 1, "plan", "pro")
    assert pro["kind"] == "category"
    assert (pro["segment_stat"], pro["rest_stat"]) == pytest.approx((3 / 4, 1 / 3))
    assert pro["effect"] == pytest.approx(3 / 4 - 1 / 3)
    # The indicator's SMD puts the category on the numbers' scale: squares 3/16*4 and 2/9*3 over 5 rows.
    indicator_std = np.sqrt((4 * 3 / 16 + 3 * 2 / 9) / 5)
    assert pro["smd"] == pytest.approx((3 / 4 - 1 / 3) / indicator_std)
    assert _driver(drivers, 1, "plan", "basic")["effect"] == pytest.approx(1 / 4 - 2 / 3)
    member = _driver(drivers, 1, "member")  # a 0/1 column: a flag, its effect the SMD, its stats the shares
    assert member["kind"] == "flag"
    assert (member["segment_stat"], member["rest_stat"]) == pytest.approx((3 / 4, 1 / 3))
    assert member["effect"] == pytest.approx(member["smd"])


def test_drivers_sorted_by_size_and_description_names_the_top_ones(table):
    profiles, drivers = segment_profiles(LABELS, table[["spend", "member"]], table[["plan"]])
    assert list(drivers.columns) == list(DRIVER_COLUMNS)
    assert list(profiles.columns) == ["size", "share", "description", "spend", "member", "plan"]
    for _, rows in drivers.groupby("segment"):
        size = list(rows["smd"].abs().round(12))
        assert size == sorted(size, reverse=True)
    assert profiles.loc[1, "description"] == \
        "higher spend (+2.8 sd), mostly member=yes (75% vs 33%), mostly plan=pro (75% vs 33%)"
    # A two-valued category's mirror rows tie: the value the segment has more of is named.
    assert profiles.loc[0, "description"] == \
        "lower spend (-2.8 sd), mostly plan=basic (67% vs 25%), fewer member=yes (33% vs 75%)"
    assert list(profiles["size"]) == [3, 4] and profiles["share"].sum() == pytest.approx(1.0)
    short = segment_profiles(LABELS, table[["spend"]], n_drivers=1, min_effect=5.0)[0]
    assert short.loc[1, "description"].startswith("close to the other rows")


def test_empty_one_row_and_whole_segments_do_not_crash(table):
    labels = np.array([0, 0, 0, 0, 0, 0, 1])  # segment 1: one row; segment 2: none
    profiles, drivers = segment_profiles(labels, table[["spend", "member"]], table[["plan"]], segments=[0, 1, 2])
    assert list(profiles["size"]) == [6, 1, 0]
    assert profiles.loc[2, "description"] == "no rows" and np.isnan(profiles.loc[2, "spend"])
    assert pd.isna(profiles.loc[2, "plan"])
    assert set(drivers["segment"]) == {0, 1} and np.isfinite(drivers["smd"]).all()
    alone, none = segment_profiles(np.zeros(7, dtype=int), table[["spend"]], table[["plan"]])
    assert alone.loc[0, "description"].startswith("every row") and len(none) == 0
    # No spread within either side: the spread of all the values, not a division by zero.
    _, drivers = segment_profiles([0, 0, 1, 1], pd.DataFrame({"x": [1.0, 1.0, 3.0, 3.0]}))
    assert _driver(drivers, 1, "x")["smd"] == pytest.approx(2.0)


def test_missing_values(table):
    frame = table.copy()
    frame.loc[0, "spend"] = np.nan
    frame.loc[[1, 2], "plan"] = None
    profiles, drivers = segment_profiles(LABELS, frame[["spend"]], frame[["plan"]])
    assert _driver(drivers, 0, "spend")["segment_stat"] == 2.5  # the missing spend left out
    assert _driver(drivers, 0, "plan", "(missing)")["segment_stat"] == pytest.approx(2 / 3)
    assert profiles.loc[0, "plan"] == "basic"  # the most frequent non-missing value


def test_autosegmenter_profiles_the_original_columns(tmp_path):
    import sknas
    from sknas import AutoSegmenter

    rng = np.random.RandomState(0)
    segment = rng.randint(3, size=150)
    frame = pd.DataFrame({"spend": rng.gamma(2.0, 50.0, 150) + 300 * segment,
                          "visits": rng.poisson(3, 150).astype(float) + 5 * segment,
                          "region": rng.choice(["north", "south"], 150)})
    seg = AutoSegmenter(n_clusters=3, max_trials=2, max_epochs=2, device="cpu", random_state=0,
                        search_params={"batch_size": 64, "search_space": {"widths": (8,), "max_depth": 1}}).fit(frame)
    drivers = seg.segment_drivers_
    first = seg.labels_ == 0
    spend = _driver(drivers, 0, "spend")
    assert spend["segment_stat"] == pytest.approx(frame["spend"][first].mean())  # raw units, not the embedding
    assert spend["rest_stat"] == pytest.approx(frame["spend"][~first].mean())
    assert _driver(drivers, 0, "region", "north")["segment_stat"] == pytest.approx((frame["region"][first]
                                                                                    == "north").mean())
    assert all(isinstance(d, str) and d for d in seg.segment_profiles_["description"])
    sknas.save(seg, tmp_path / "seg.zip")
    loaded = sknas.load(tmp_path / "seg.zip").segment_drivers_
    pd.testing.assert_frame_equal(loaded.drop(columns="value"), drivers.drop(columns="value"))
    assert list(loaded["value"].where(loaded["value"].notna(), None)) == list(drivers["value"])  # None: NaN
