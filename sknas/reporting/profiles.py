"""What sets each segment apart, in the original columns: sizes, effect sizes and one line of plain words.

A segment is described against *the rest of the customers* (every row not in it), column by column:

- a number (dates as days, yes/no flags as 0/1 included): the standardised mean difference (SMD), the
  segment's mean minus the rest's mean over the pooled standard deviation (Cohen's d);
- a category: for every value, its share in the segment minus its share in the rest, and the SMD of its
  0/1 indicator, so that numbers, flags and categories rank on one scale (in standard deviations).

The description names the strongest 2-3 columns whose effect is at least :data:`MIN_EFFECT` standard
deviations (Cohen's "small"), e.g. ``"higher spend (+1.4 sd), mostly plan=pro (78% vs 9%)"``.
"""

from __future__ import annotations

import numpy as np

#: Effects smaller than this (in standard deviations) are not named in a description (Cohen's "small").
MIN_EFFECT = 0.2
#: The value a missing category counts as.
MISSING = "(missing)"
#: The columns of the drivers table, in order.
DRIVER_COLUMNS = ("segment", "column", "value", "kind", "effect", "segment_stat", "rest_stat", "smd")


def segment_profiles(labels, numeric=None, categorical=None, *, segments=None, flags="auto", n_drivers=3,
                     min_effect=MIN_EFFECT):
    """Profile each segment against the rest of the rows: size, share, drivers with effect sizes, a description.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Segment of every row.
    numeric : DataFrame or array-like of shape (n_samples, n_numeric), default=None
        Number columns in their own units (imputed numbers; missing values are
        left out of each column's statistics).
    categorical : DataFrame or array-like of shape (n_samples, n_categorical), default=None
        Category columns as they are (a missing value counts as the category
        ``"(missing)"`` in the shares).
    segments : array-like, default=None
        The segment ids to profile, in order (an id without rows gets size 0
        and no drivers); default: the sorted distinct ``labels``.
    flags : "auto" or list of column names, default="auto"
        Numeric columns that are 0/1 flags (their statistics are shares,
        their drivers are described as ``column=yes``); ``"auto"``: the
        numeric columns whose values are all 0 or 1.
    n_drivers : int, default=3
        Columns named in each description at most.
    min_effect : float, default=0.2
        Smallest effect (absolute SMD) a description names.

    Returns
    -------
    profiles : pandas.DataFrame
        Indexed by ``segment``: ``size``, ``share``, ``description``, then
        the median of each numeric column and the most frequent value of each
        categorical column in the segment.
    drivers : pandas.DataFrame
        One row per segment and numeric column, and per segment, categorical
        column and category: ``segment``, ``column``, ``value`` (the category,
        None for a number), ``kind`` (``"numeric"``, ``"flag"``,
        ``"category"``), ``effect`` (the SMD for numbers and flags, the share
        difference for a category), ``segment_stat`` and ``rest_stat`` (the
        means, i.e. the shares for flags and categories), and ``smd`` (for a
        category: of its 0/1 indicator).  Sorted by segment, then by |smd|.
        A segment holding every row (nothing to compare with) or none has no
        rows here.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknas.reporting.profiles import segment_profiles
    >>> table = pd.DataFrame({"spend": [10.0, 20.0, 15.0, 30.0, 40.0, 35.0],
    ...                       "plan": ["basic", "basic", "pro", "pro", "pro", "pro"]})
    >>> profiles, drivers = segment_profiles([0, 0, 0, 1, 1, 1], table[["spend"]], table[["plan"]])
    >>> profiles.loc[1, "description"]
    'higher spend (+4.0 sd), mostly plan=pro (100% vs 33%)'
    >>> profiles[["size", "share", "spend", "plan"]]  # doctest: +NORMALIZE_WHITESPACE
             size  share  spend   plan
    segment
    0           3    0.5   15.0  basic
    1           3    0.5   35.0    pro
    >>> drivers.loc[drivers["segment"] == 1, ["column", "value", "effect"]].round(2).to_numpy().tolist()
    [['spend', None, 4.0], ['plan', 'pro', 0.67], ['plan', 'basic', -0.67]]
    """
    import pandas as pd

    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}.")
    numeric = _as_frame(numeric, len(labels), "numeric")
    categorical = _as_frame(categorical, len(labels), "categorical")
    ids = np.unique(labels) if segments is None else np.asarray(segments)
    flag_names = set(_flag_columns(numeric) if isinstance(flags, str) and flags == "auto" else flags)
    numbers = {name: numeric[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in numeric.columns}
    categories = {name: _category_values(categorical[name]) for name in categorical.columns}

    summary, drivers, descriptions = {name: [] for name in [*numeric.columns, *categorical.columns]}, [], []
    for segment in ids:
        inside = labels == segment
        rows = []
        for name, x in numbers.items():
            valid = ~np.isnan(x)
            summary[name].append(float(np.median(x[inside & valid])) if np.any(inside & valid) else np.nan)
            rows += _rows(segment, name, None, "flag" if name in flag_names else "numeric",
                          x[inside & valid], x[~inside & valid])
        for name, values in categories.items():
            mode = categorical[name][inside].astype(object).mode()
            summary[name].append(mode.iloc[0] if len(mode) else None)
            for value in sorted(set(values), key=str):
                indicator = (values == value).astype(np.float64)
                rows += _rows(segment, name, value, "category", indicator[inside], indicator[~inside])
        # Strongest first; on a tie (a two-valued category's mirror rows) the category the segment has more of.
        rows.sort(key=lambda r: (-round(abs(r["smd"]), 12), r["smd"] < 0, str(r["column"]), str(r["value"])))
        drivers += rows
        descriptions.append(_describe(rows, int(inside.sum()), len(labels), n_drivers, min_effect))

    sizes = np.array([np.sum(labels == s) for s in ids], dtype=np.int64)
    profiles = pd.DataFrame({"size": sizes, "share": sizes / max(len(labels), 1), "description": descriptions},
                            index=pd.Index(ids, name="segment"))
    for name, column in summary.items():
        profiles[name] = column
    table = pd.DataFrame({key: [r[key] for r in drivers] for key in DRIVER_COLUMNS}, columns=list(DRIVER_COLUMNS))
    table["value"] = pd.Series([r["value"] for r in drivers], dtype=object)
    return profiles, table


def _as_frame(data, n_rows, what):
    import pandas as pd

    if data is None:
        return pd.DataFrame(index=range(n_rows))
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if len(frame) != n_rows:
        raise ValueError(f"{what} has {len(frame)} rows, labels {n_rows}.")
    return frame.reset_index(drop=True)


def _flag_columns(numeric):
    """Numeric columns whose non-missing values are all 0 or 1."""
    out = []
    for name in numeric.columns:
        x = numeric[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isin(x[~np.isnan(x)], (0.0, 1.0)).all():
            out.append(name)
    return out


def _category_values(column):
    """A category column as an object array, missing values as :data:`MISSING`."""
    values = column.astype(object)
    return values.where(values.notna(), MISSING).to_numpy(dtype=object)


def _smd(inside, rest):
    """Mean of ``inside`` minus mean of ``rest`` over their pooled standard deviation; nan if a side is empty."""
    n_in, n_rest = len(inside), len(rest)
    if n_in == 0 or n_rest == 0:
        return np.nan
    difference = inside.mean() - rest.mean()
    if difference == 0:
        return 0.0
    squares = np.sum((inside - inside.mean()) ** 2) + np.sum((rest - rest.mean()) ** 2)
    if n_in + n_rest > 2 and squares > 0:
        return float(difference / np.sqrt(squares / (n_in + n_rest - 2)))
    # No spread on either side (or two rows in all): the spread of all the values, not zero.
    return float(difference / np.concatenate([inside, rest]).std())


def _rows(segment, column, value, kind, inside, rest):
    """The drivers row of one column (or one category) of one segment; none when a side is empty."""
    smd = _smd(inside, rest)
    if np.isnan(smd):
        return []
    segment_stat, rest_stat = float(inside.mean()), float(rest.mean())
    effect = segment_stat - rest_stat if kind == "category" else smd
    return [{"segment": segment, "column": column, "value": value, "kind": kind, "effect": effect,
             "segment_stat": segment_stat, "rest_stat": rest_stat, "smd": smd}]


def _describe(rows, size, n_rows, n_drivers, min_effect):
    """One line of plain words from the strongest drivers (one per column)."""
    if size == 0:
        return "no rows"
    if size == n_rows:
        return "every row (nothing to compare with)"
    words, seen = [], set()
    for row in rows:
        if len(words) == n_drivers or abs(row["smd"]) < min_effect:
            break
        if row["column"] in seen:
            continue
        seen.add(row["column"])
        if row["kind"] == "numeric":
            words.append(f"{'higher' if row['smd'] > 0 else 'lower'} {row['column']} ({row['smd']:+.1f} sd)")
            continue
        value = "yes" if row["kind"] == "flag" else row["value"]
        share, rest = row["segment_stat"], row["rest_stat"]
        lead = "fewer" if share < rest else "mostly" if share >= 0.5 else "more"
        words.append(f"{lead} {row['column']}={value} ({share:.0%} vs {rest:.0%})")
    return ", ".join(words) if words else f"close to the other rows (no column differs by {min_effect:g} sd or more)"
