"""A customer table as a user holds it, given to AutoSegmenter untouched (issue 21, point 1).

Ids and constant columns are left out with one warning, yes/no strings and booleans become 0/1 flags,
dates become days, missing values are imputed, and a table that cannot be used is an error naming the column.
"""

import io
import warnings

import numpy as np
import pandas as pd
import pytest

import sknas
from sknas import AutoSegmenter
from sknas.preprocessing.table_columns import TableColumns

#: A fast AutoSegmenter (about a second on a few hundred rows).
FAST = {"max_trials": 2, "max_epochs": 2, "device": "cpu", "n_clusters": 3, "random_state": 0}
DROPPED = {"customer_id", "rownames", "country", "notes"}


def customer_table(n=300, seed=0):
    """Ids, rownames, yes/no strings, a boolean, a constant, an all-missing column, dates, a plan, numbers."""
    rng = np.random.RandomState(seed)
    segment = rng.randint(3, size=n)
    churn = rng.choice(["Yes", "no", "YES", " No ", "yes"], n).astype(object)
    churn[rng.rand(n) < 0.1] = None
    plan = rng.choice(["basic", "pro", "family"], n).astype(object)
    plan[rng.rand(n) < 0.1] = None
    signup = (pd.Timestamp("2023-05-01") + pd.to_timedelta(rng.randint(0, 400, n), unit="D")).strftime("%Y-%m-%d")
    signup = np.asarray(signup, dtype=object)
    signup[rng.rand(n) < 0.05] = None
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
        "rownames": np.arange(1, n + 1),
        "churn": churn,
        "has_app": rng.rand(n) < 0.4,
        "country": "FR",
        "notes": [None] * n,
        "signup": signup,
        "last_visit": pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.randint(0, 90, n) + 30 * segment, unit="D"),
        "plan": plan,
        "spend": rng.gamma(2.0, 50.0, n) + 200 * segment,
        "visits": rng.poisson(3, n) + 4.0 * segment,
        "children": rng.randint(0, 4, n),
    })
    frame.loc[rng.rand(n) < 0.05, "spend"] = np.nan
    frame.loc[rng.rand(n) < 0.05, "visits"] = np.nan
    return frame


@pytest.fixture(scope="module")
def table():
    return customer_table()


@pytest.fixture(scope="module")
def fitted(table):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = AutoSegmenter(**FAST).fit(table)
    return seg, [w for w in caught if issubclass(w.category, UserWarning) and "Left out" in str(w.message)]


def test_roles_dropped_columns_and_one_warning(table, fitted):
    seg, left_out = fitted
    assert seg.column_roles_ == {
        "customer_id": "id", "rownames": "id", "churn": "flag", "has_app": "flag", "country": "constant",
        "notes": "constant", "signup": "date", "last_visit": "date", "plan": "categorical", "spend": "numeric",
        "visits": "numeric", "children": "numeric"}
    assert set(seg.dropped_columns_) == DROPPED
    assert seg.dropped_columns_["customer_id"] == "a different value in every row"
    assert "cast it to float" in seg.dropped_columns_["rownames"]
    assert seg.dropped_columns_["country"] == "'FR' in every row"
    assert seg.dropped_columns_["notes"] == "missing in every row"
    assert len(left_out) == 1  # one warning per fit, naming every column left out and why, at the user's line
    assert left_out[0].filename == __file__
    message = str(left_out[0].message)
    for name in DROPPED:
        assert repr(name) in message
    assert "(id: a different value in every row)" in message and "(constant: missing in every row)" in message
    # scikit-learn's convention: the columns the user passed, dropped ones included
    assert seg.n_features_in_ == table.shape[1]
    assert list(seg.feature_names_in_) == list(table.columns)
    assert seg.categorical_columns_ == ["plan"]
    assert seg.provenance_["data"]["column_roles"] == seg.column_roles_
    assert set(seg.provenance_["data"]["dropped_columns"]) == DROPPED
    assert seg.labels_.shape == (len(table),)


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d"])
def test_dates_written_day_or_month_first_are_dates(fmt):
    # The first value, 01/01/2019, reads either way; 13/01/2019 later says day first. Such a column was once
    # taken for an id (a different value in every row) and dropped.
    stamps = pd.date_range("2019-01-01", periods=40, freq="5D")
    table = pd.DataFrame({"signup": stamps.strftime(fmt), "spend": np.arange(40.0) % 7})
    columns = TableColumns().fit(table)
    assert columns.roles_["signup"] == "date" and columns.date_format_["signup"] == fmt
    np.testing.assert_array_equal(columns.transform(table)["signup"], (stamps - stamps[0]).days)


@pytest.mark.parametrize("blank", ["", " ", "NA", "n/a"])
def test_blanks_in_a_date_column_are_missing_dates(blank):
    # An export writes a missing date as a blank or "NA"; the column was once taken for a category of 52 values.
    stamps = pd.date_range("2019-01-01", periods=60, freq="5D")
    written = np.array(stamps.strftime("%d/%m/%Y"), dtype=object)
    written[::7] = blank
    table = pd.DataFrame({"signup": written, "spend": np.arange(60.0) % 7})
    columns = TableColumns().fit(table)
    assert columns.roles_["signup"] == "date"
    days = columns.transform(table)["signup"].to_numpy()
    known = np.arange(60) % 7 != 0
    np.testing.assert_array_equal(days[known], (stamps[known] - stamps[1]).days)
    assert (days[~known] == np.median(days[known])).all()  # missing dates: the median


def test_flags_are_zero_one_and_dates_are_days(table, fitted):
    seg, _ = fitted
    used = seg._table.transform(table)
    assert list(used.columns) == [c for c in table.columns if c not in DROPPED]
    for flag in ("churn", "has_app"):
        assert used[flag].dtype == np.float64 and set(np.unique(used[flag])) == {0.0, 1.0}
    said_yes = table["churn"].str.strip().str.lower() == "yes"
    np.testing.assert_array_equal(used["churn"][table["churn"].notna()], said_yes[table["churn"].notna()])
    most_frequent = float(said_yes[table["churn"].notna()].mean() > 0.5)
    assert (used["churn"][table["churn"].isna()] == most_frequent).all()  # missing flags: the most frequent
    np.testing.assert_array_equal(used["has_app"], table["has_app"].astype(float))
    for date in ("signup", "last_visit"):
        assert used[date].dtype == np.float64 and used[date].notna().all() and used[date].min() == 0.0
    known = table["signup"].notna()
    days = (pd.to_datetime(table["signup"][known]) - pd.Timestamp(seg._table.date_origin_["signup"])).dt.days
    np.testing.assert_array_equal(used["signup"][known], days)
    assert (used["signup"][~known] == np.median(days)).all()  # missing dates: the median
    assert used["children"].dtype == np.float64  # a count with few values stays a number
    assert used["plan"].isna().sum() == table["plan"].isna().sum()  # categories: "(missing)" is added later
    np.testing.assert_array_equal(seg.predict(table), seg.labels_)


def test_predict_new_customers(table, fitted, tmp_path):
    seg, _ = fitted
    new = customer_table(n=6, seed=1)
    new["customer_id"] = ["N1", "N2", "N3", "N4", "N5", "N6"]  # unseen ids: the column is not used
    new["signup"] = ["2025-01-01", "2022-12-31", None, "2023-05-01", "2024-02-29", "2023-06-01"]
    new["last_visit"] = pd.Timestamp("2025-03-01")
    new["plan"] = ["enterprise", None, "basic", "pro", "family", "basic"]  # an unseen category
    new["churn"] = ["yes", "NO", None, "Yes", "no", "no"]
    new["country"] = "DE"  # a dropped column's values do not matter
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # predict does not warn again
        labels = seg.predict(new)
    assert labels.shape == (6,) and set(labels) <= set(seg.segment_ids_)
    assert seg.transform(new).shape == (6, seg.search_.n_components_)
    used = seg._table.transform(new)
    origin = pd.Timestamp(seg._table.date_origin_["signup"])
    assert used["signup"].iloc[0] == (pd.Timestamp("2025-01-01") - origin).days
    assert used["signup"].iloc[1] < 0  # before every fitted date: still a number
    sknas.save(seg, tmp_path / "seg.zip")
    loaded = sknas.load(tmp_path / "seg.zip")
    assert loaded.column_roles_ == seg.column_roles_ and loaded.dropped_columns_ == seg.dropped_columns_
    np.testing.assert_array_equal(loaded.predict(new), labels)


def test_bad_tables_name_the_column(table, fitted):
    seg, _ = fitted
    small = table.head(40).copy()
    with pytest.raises(TypeError, match="'tags'.*list"):
        AutoSegmenter(**FAST).fit(small.assign(tags=[["a", "b"]] * len(small)))
    with pytest.raises(TypeError, match="'prefs'.*dict"):
        AutoSegmenter(**FAST).fit(small.assign(prefs=[{"email": True}, None] * (len(small) // 2)))
    with pytest.raises(TypeError, match="'age'.*mixes numbers"):
        AutoSegmenter(**FAST).fit(small.assign(age=pd.Series([30, "unknown"] * (len(small) // 2), dtype=object)))
    with pytest.raises(ValueError, match="'spend'.*infinity"):
        AutoSegmenter(**FAST).fit(small.assign(spend=np.r_[np.inf, small["spend"].to_numpy()[1:]]))
    with pytest.raises(ValueError, match="'spend'.*infinity"):
        seg.predict(small.assign(spend=-np.inf))
    with pytest.raises(ValueError, match=r"Missing column\(s\): \['visits'\]"):
        seg.predict(small.drop(columns="visits"))
    with pytest.raises(ValueError, match=r"not seen at fit: \['extra'\]"):
        seg.predict(small.assign(extra=1.0))
    with pytest.raises(ValueError, match=r"out of order: \['spend', 'plan'\]"):
        seg.predict(small[[*table.columns[:8], "spend", "plan", *table.columns[10:]]])
    with pytest.raises(ValueError, match="'signup'.*do not parse as dates"):
        seg.predict(small.assign(signup="next tuesday"))
    with pytest.raises(ValueError, match="'churn'.*not yes/no"):
        seg.predict(small.assign(churn="maybe"))
    with pytest.raises(ValueError, match="No column is left"), pytest.warns(UserWarning, match="Left out 3"):
        AutoSegmenter(**FAST).fit(small[["customer_id", "country", "notes"]])


def test_column_rules_at_the_edges():
    n = 30
    frame = pd.DataFrame({
        "visit": pd.date_range("2024-03-30 22:00", periods=n, freq="h", tz="Europe/Paris"),  # time zones: UTC
        "code": [str(20230501 + i) for i in range(n)],  # numbers written as strings: not dates, an id
        "month": ["March", "April", "May"] * 10,  # no inferable date format: a category
        "same": ["Yes", "yes", " YES"] * 10,  # one value once lowercased and stripped
        "tf": pd.array([True, False, None] * 10, dtype="boolean"),
        "t": ["t", "F"] * 15,
        "score": np.linspace(0, 1, n),  # floats with a value per row are not ids
    })
    with pytest.warns(UserWarning, match="'same' \\(constant"):
        columns = TableColumns().fit(frame)
    assert columns.roles_ == {"visit": "date", "code": "id", "month": "categorical", "same": "constant",
                              "tf": "flag", "t": "flag", "score": "numeric"}
    used = columns.transform(frame)
    np.testing.assert_allclose(used["visit"], np.arange(n) / 24)
    assert list(used["t"]) == [1.0, 0.0] * 15
    # Below 20 rows, a column with a different value in every row is not taken for an id: numbers written as
    # strings are numbers then.
    assert TableColumns().fit(frame.head(10)[["code", "score"]]).roles_["code"] == "numeric"


def test_numbers_written_as_text_and_free_text():
    """A CSV's numbers kept as text because some rows are blank (the telco ``TotalCharges``) are numbers; text with
    more distinct values than ``max_categories`` (comments, codes) is left out, not one-hot into hundreds of
    columns; text with a leading zero is a code."""
    rng = np.random.RandomState(0)
    n = 400
    total = np.round(rng.gamma(2.0, 500.0, n), 2).astype(str).astype(object)
    total[:5] = [" ", "", "NA", "n/a", "?"]
    words = np.array(["late", "ok", "called", "refund", "upgrade", "moved", "paid", "closed"])
    frame = pd.DataFrame({
        "total": total,
        "comment": [" ".join(rng.choice(words, 3)) for _ in range(n)],           # 8**3 = 512 possible values
        "zip": rng.choice([f"0{z}" for z in range(2100, 2130)], n),            # 30 codes with a leading zero
        "store": [f"s{i % 100}" for i in range(n)],                          # exactly max_categories values
        "spend": rng.normal(size=n),
    })
    with pytest.warns(UserWarning, match=r"'comment' \(high_cardinality: \d+ different values, free text or a code"):
        columns = TableColumns().fit(frame)
    assert columns.roles_ == {"total": "numeric", "comment": "high_cardinality", "zip": "categorical",
                              "store": "categorical", "spend": "numeric"}
    assert columns.text_numbers_ == ["total"]
    used = columns.transform(frame)
    assert list(used.columns) == ["total", "zip", "store", "spend"]
    assert used["total"].dtype == np.float64 and used["total"][:5].isna().all()
    np.testing.assert_allclose(used["total"][5:], frame["total"][5:].astype(float))
    with pytest.raises(ValueError, match=r"'total' holds numbers; values \['lots'\]"):
        columns.transform(frame.assign(total=["lots"] + list(frame["total"][1:])))
    with pytest.warns(UserWarning, match="'store' \\(high_cardinality: 100 different values"):
        assert TableColumns(max_categories=99).fit(frame[["store", "spend"]]).roles_["store"] == "high_cardinality"
    # End to end: the comment column costs nothing and the numbers weigh as numbers.
    with pytest.warns(UserWarning, match="'comment'"):
        seg = AutoSegmenter(**FAST).fit(frame)
    assert seg.column_roles_["total"] == "numeric" and "comment" in seg.dropped_columns_
    assert "total" not in seg.categorical_columns_
    from sknas.reporting.report import _columns_section

    columns_html = "".join(_columns_section(seg))
    assert "number read from text" in columns_html and "free text or a code" in columns_html
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)


@pytest.mark.parametrize("written, expected", [
    (["$1,234.50", "$20.00", " -$3 ", "N/A"], [1234.5, 20.0, -3.0, np.nan]),
    (["3", "Unknown", "#DIV/0!", "4.5"], [3.0, np.nan, np.nan, 4.5]),
    (["12%", "7.5 %", "100%", ""], [12.0, 7.5, 100.0, np.nan]),
    (["1,000", "25", "+4", "1,234,567"], [1000.0, 25.0, 4.0, 1234567.0]),
])
def test_numbers_written_as_exports_write_them(written, expected):
    """Currency signs, percent signs and thousands separators are read as numbers, in the column's own unit."""
    frame = pd.DataFrame({"amount": written * 5, "spend": np.arange(20.0)})
    columns = TableColumns().fit(frame)
    assert columns.roles_["amount"] == "numeric" and columns.text_numbers_ == ["amount"]
    np.testing.assert_allclose(columns.transform(frame)["amount"], expected * 5)


@pytest.mark.parametrize("written", [["1,5", "2,25", "3"], ["1,2345", "10"], ["12-15", "3"], ["$", "4"],
                                     ["12", "04"], ["admin", "unknown", "technician"]])
def test_text_that_only_looks_like_numbers_stays_a_category(written):
    """A decimal comma, a separator outside groups of three, a range, a bare sign or a leading zero: not numbers."""
    frame = pd.DataFrame({"value": written * 6, "spend": np.arange(6.0 * len(written))})
    assert TableColumns().fit(frame).roles_["value"] == "categorical"


def test_durations_are_days():
    frame = pd.DataFrame({"since_last_order": pd.to_timedelta([1, 2.5, None, 40] * 5, unit="D"),
                          "spend": np.arange(20.0)})
    columns = TableColumns().fit(frame)
    assert columns.roles_["since_last_order"] == "numeric"
    np.testing.assert_allclose(columns.transform(frame)["since_last_order"], [1, 2.5, np.nan, 40] * 5)


def test_arrays_stay_numeric_and_dataframe_fit_predicts_arrays():
    X = np.random.RandomState(0).normal(size=(60, 3))
    seg = AutoSegmenter(**FAST).fit(X)
    assert seg.column_roles_ == {"x0": "numeric", "x1": "numeric", "x2": "numeric"} and seg.dropped_columns_ == {}
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    from_frame = AutoSegmenter(**FAST).fit(frame)
    np.testing.assert_array_equal(from_frame.labels_, seg.labels_)  # the same numbers, the same segments
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(from_frame.predict(X), seg.labels_)


def test_sknas_search_on_the_csv_keys_segments_by_the_id(table, tmp_path):
    from sknas.cli import run_search

    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="Left out 4 column"):
        seg = run_search(path, tmp_path / "out", clusters="3", max_trials=2, max_epochs=2, device="cpu",
                         out=io.StringIO())
    assert seg.column_roles_["signup"] == seg.column_roles_["last_visit"] == "date"  # strings in the CSV
    assert seg.column_roles_["churn"] == "flag" and seg.dropped_columns_.keys() == DROPPED
    segments = pd.read_csv(tmp_path / "out" / "segments.csv")
    assert list(segments.columns) == ["customer_id", "segment"]  # the id found, without --id-column
    assert list(segments["customer_id"]) == list(table["customer_id"])
