"""What each column of a customer table is, and the column it becomes (the input handling of AutoSegmenter).

A table as a user holds it (a CSV read by pandas, a DataFrame from a database) has columns no segmentation
should use as they are: a customer id is different in every row, a constant column says nothing, ``"Yes"``
and ``"no"`` are a flag, ``"2023-05-01"`` is a date.  :class:`TableColumns` gives every column one role:

- ``"id"``: a non-float column (strings, integers, categories) with a different value in every row, on
  tables of at least 20 rows (a customer id, R's ``rownames``): left out.
- ``"constant"``: at most one distinct value among the non-missing ones, or missing in every row: left out.
- ``"flag"``: booleans and yes/no strings (case-insensitive, stripped: yes/no, y/n, true/false, t/f)
  become 0/1, so they weigh like any 0/1 flag column (see ``Standardizer``'s two-valued rule and
  ``INDICATOR_VALUE`` in :mod:`sknas.preprocessing.tabular`).  Missing values: the most frequent value.
- ``"date"``: datetime columns (time zones included, in UTC) and string columns whose every value parses
  with one date format inferred from the first value, read month first or else day first (and that are
  not numbers written as strings), become days since the earliest date seen at fit, a float.  Missing
  values: the median date.
- ``"numeric"``: numbers (integers with few values included: they stay numbers), durations (``timedelta64``,
  as days), and strings that are all
  numbers once blanks and missing-value markers (``"NA"``, ``"n/a"``, ``"null"``, ``"?"``, ``"-"``) are taken
  as missing, e.g. a ``TotalCharges`` column that a CSV reader left as text because some rows are ``" "``.
  A leading currency sign, a trailing ``%`` and thousands separators are read (``"$1,234.50"``, ``"12%"``).
  Strings with a leading zero (``"02134"``) are codes, not numbers.  Missing values are left as NaN here;
  AutoSegmenter imputes the median.
- ``"high_cardinality"``: a string or category column with more than ``max_categories`` (100) distinct
  values, free text or a code (names, addresses, comments, product codes): left out.  One-hot it would be
  hundreds of columns, most values seen a few times, which no segment can rest on (and which made a
  3,000-row fit take minutes); group it into fewer categories to use it.
- ``"categorical"``: every other column, passed on as it is (missing values become a category there).

A column that cannot be used (lists or dicts as values, numbers mixed with strings, infinity, complex
numbers, durations, bytes) is a ``TypeError`` or ``ValueError`` naming it.
"""

from __future__ import annotations

import numbers
import os
import re
import sys
import warnings

import numpy as np

ROLES = ("numeric", "flag", "categorical", "date", "id", "constant", "high_cardinality")
#: Columns left out of the segmentation.
DROPPED_ROLES = ("id", "constant", "high_cardinality")
#: Rows a table needs before a column with a different value in every row counts as an id.
MIN_ROWS_FOR_ID = 20
#: Distinct values a string column may have and still be a category (more: free text or a code, left out).
MAX_CATEGORIES = 100
#: Strings (stripped, lowercased) that mean "missing" in a column of numbers written as text: empty cells, the
#: usual spellings of "not available", and spreadsheet errors. Only a column whose every other value is a number
#: reads them so; elsewhere ("unknown" among job titles) they stay the categories they are.
MISSING_MARKERS = frozenset({"", "na", "n/a", "n.a.", "nan", "null", "none", "?", "-", "--", "unknown", "missing",
                             "not available", "#n/a", "#value!", "#div/0!", "#ref!", "#num!", "#name?", "#null!"})
#: Currency signs a number written as text may start with (``"$1,234.50"``).
CURRENCY_SIGNS = frozenset("$€£¥")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
#: The value sets a yes/no column may take (lowercased, stripped); the first of each pair is 1.
FLAG_PAIRS = (("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"))
_FLAG_VALUE = {word: float(i == 0) for pair in FLAG_PAIRS for i, word in enumerate(pair)}


class TableColumns:
    """Decide the role of every column of a DataFrame at fit; turn a DataFrame into the used columns.

    ``transform`` returns the kept columns in their order: ``"numeric"``,
    ``"flag"`` and ``"date"`` columns as float64 (numbers keep their NaN),
    ``"categorical"`` columns as they are.  It checks that the columns are
    the ones seen at fit, in the same order, and names the ones that are not.

    Parameters
    ----------
    min_rows_for_id : int, default=20
        Fewer rows than this and no column is an id (five customers may well
        have five different ages).
    max_categories : int, default=100
        A string or category column with more distinct values than this is
        left out as ``"high_cardinality"`` (free text or a code).

    Attributes
    ----------
    columns_ : list
        The column labels seen at fit, in order.
    roles_ : dict
        ``{column: role}``, the role one of :data:`ROLES`.
    dropped_ : dict
        ``{column: reason}`` for the ``"id"``, ``"constant"`` and
        ``"high_cardinality"`` columns.
    text_numbers_ : list
        The ``"numeric"`` columns that hold numbers written as strings.
    fill_ : dict
        ``{column: value}``: what a missing value of a flag (most frequent
        value) or date column (median, in days) becomes.
    date_origin_ : dict
        ``{column: ISO date string}``: the earliest date at fit (UTC, no time
        zone); day 0 of the column.
    date_format_ : dict
        ``{column: format}``: the inferred format of a string date column, or
        None for a datetime column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknas.preprocessing.table_columns import TableColumns
    >>> table = pd.DataFrame({"customer": ["a", "b", "c"], "country": ["FR", "FR", "FR"],
    ...                       "churned": ["Yes", "no", None], "since": ["2023-05-01", "2023-05-03", None],
    ...                       "spend": [10.0, None, 30.0], "plan": ["basic", "pro", None]})
    >>> columns = TableColumns(min_rows_for_id=3)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     used = columns.fit_transform(table)
    >>> print(caught[0].message)
    Left out 2 column(s): 'customer' (id: a different value in every row), 'country' (constant: 'FR' in every row).
    >>> columns.roles_
    {'customer': 'id', 'country': 'constant', 'churned': 'flag', 'since': 'date', 'spend': 'numeric', \
'plan': 'categorical'}
    >>> used
       churned  since  spend   plan
    0      1.0    0.0   10.0  basic
    1      0.0    2.0    NaN    pro
    2      0.0    1.0   30.0    NaN
    """

    def __init__(self, min_rows_for_id=MIN_ROWS_FOR_ID, max_categories=MAX_CATEGORIES):
        self.min_rows_for_id = min_rows_for_id
        self.max_categories = max_categories

    # -- fit -----------------------------------------------------------------------------------------------
    def fit(self, frame):
        """Decide every column's role; warn once (``UserWarning``) naming the columns left out."""
        duplicated = frame.columns[frame.columns.duplicated()]
        if len(duplicated):
            raise ValueError(f"Column names must be unique; {list(duplicated)} appear more than once.")
        self.columns_ = list(frame.columns)
        self.roles_, self.dropped_, self.fill_, self.date_origin_, self.date_format_ = {}, {}, {}, {}, {}
        self.text_numbers_ = []
        for j, name in enumerate(self.columns_):
            self._fit_column(name, frame.iloc[:, j], len(frame))
        if self.dropped_:
            listed = ", ".join(f"{name!r} ({self.roles_[name]}: {why})" for name, why in self.dropped_.items())
            warnings.warn(f"Left out {len(self.dropped_)} column(s): {listed}.", UserWarning,
                          stacklevel=_outside_sknas())
        if len(self.dropped_) == len(self.columns_):
            raise ValueError(f"No column is left to segment on: {self.dropped_}.")
        return self

    def _fit_column(self, name, column, n_rows):
        kind = _kind(column, name)
        values = column[column.notna()]
        distinct = values.astype(object).unique() if kind != "empty" else []
        flags = _flag_values(distinct) if kind in ("bool", "string", "category") else None
        date_format = _date_format(distinct, kind) if flags is None and len(distinct) > 1 \
            and kind in ("string", "date") else False
        # Numbers written as text: whole numbers can be ids as integers are, decimals cannot (as floats cannot).
        written = _written_numbers(distinct) if kind == "string" and flags is None else None
        role, detail = None, None
        if len(distinct) == 0:
            role, detail = "constant", "missing in every row"
        elif len(distinct) == 1 or (flags is not None and len(set(flags.values())) == 1):  # "Yes" and "yes"
            role, detail = "constant", _one_value(distinct[0], len(values) < n_rows)
        elif flags is not None:
            role = "flag"
            ones = values.astype(object).map(flags).to_numpy(dtype=np.float64)
            self.fill_[name] = float(ones.mean() > 0.5)  # the most frequent value (a tie: 0)
        elif date_format is not False:
            role = "date"
            self.date_format_[name] = date_format
            self.fill_[name] = float(np.nanmedian(self._days(name, column, fit=True)))
        elif (written or kind) in ("string", "category", "integer") and n_rows >= self.min_rows_for_id \
                and len(values) == n_rows and len(distinct) == n_rows:
            role, detail = "id", "a different value in every row"
            if kind == "integer":
                detail += "; cast it to float to keep it"
        elif kind in ("integer", "float"):
            role = "numeric"
            _numbers(name, column)  # infinity and values that are not numbers are errors
        elif written is not None:
            role = "numeric"
            self.text_numbers_.append(name)
            _numbers(name, _written_values(column))
        elif len(distinct) > self.max_categories:
            role = "high_cardinality"
            detail = (f"{len(distinct)} different values, free text or a code; group them into at most "
                      f"{self.max_categories} categories to use it")
        else:
            role = "categorical"
        self.roles_[name] = role
        if detail is not None:
            self.dropped_[name] = detail

    # -- transform -----------------------------------------------------------------------------------------
    def transform(self, frame):
        """The used columns of ``frame`` (a DataFrame with the columns seen at fit, in order)."""
        import pandas as pd

        self.check_columns(frame)
        out = {}
        for j, name in enumerate(self.columns_):
            role, column = self.roles_[name], frame.iloc[:, j]
            if role == "numeric":
                written = name in getattr(self, "text_numbers_", ())  # getattr: a table saved before the rule
                out[name] = _numbers(name, _written_values(column) if written else column)
            elif role == "flag":
                out[name] = self._flags(name, column)
            elif role == "date":
                days = self._days(name, column)
                out[name] = np.where(np.isnan(days), self.fill_[name], days)
            elif role == "categorical":
                out[name] = column.array
        return pd.DataFrame(out, index=frame.index, columns=[n for n in self.columns_ if n in out])

    def fit_transform(self, frame):
        """``fit(frame).transform(frame)``."""
        return self.fit(frame).transform(frame)

    def check_columns(self, frame):
        """Raise a ValueError naming the missing, unexpected or reordered columns of ``frame``."""
        given = list(frame.columns)
        if given == self.columns_:
            return
        missing = [c for c in self.columns_ if c not in given]
        extra = [c for c in given if c not in self.columns_]
        message = "The feature names should match those that were passed during fit."
        if missing:
            message += f" Missing column(s): {missing}."
        if extra:
            message += f" Column(s) not seen at fit: {extra}."
        if not missing and not extra:
            moved = [c for c, expected in zip(given, self.columns_) if c != expected]
            message += f" Columns out of order: {moved}; expected the order {self.columns_}."
        raise ValueError(message)

    def _flags(self, name, column):
        values = column.astype(object)
        missing = values.isna().to_numpy()
        flags = _flag_values(values[~missing].unique())
        if flags is None:
            unknown = sorted({repr(v) for v in values[~missing].unique() if _flag_values([v]) is None})
            raise ValueError(f"Column {name!r} is a yes/no flag; it has values {unknown[:10]} that are not "
                             f"yes/no, y/n, true/false or t/f.")
        out = np.full(len(values), self.fill_[name])
        out[~missing] = values[~missing].map(flags).to_numpy(dtype=np.float64)
        return out

    def _days(self, name, column, fit=False):
        """Days since the fitted origin (NaN where missing); at fit, the origin is the earliest date."""
        import pandas as pd

        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            stamps = column.dt.tz_convert("UTC") if column.dt.tz is not None else column
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the check is below
                stamps = pd.to_datetime(column.astype(object), format=self.date_format_.get(name),
                                        errors="coerce", utc=True)
            # a blank or "NA" in a date column is a missing date, as it is a missing number in a number column
            unparsed = stamps.isna().to_numpy() & column.notna().to_numpy() & ~_missing_markers(column)
            if unparsed.any():
                bad = list(dict.fromkeys(column[unparsed].astype(str)))[:5]
                raise ValueError(f"Column {name!r} holds dates; values {bad} do not parse as dates "
                                 f"(format {self.date_format_.get(name)!r}).")
        if stamps.dt.tz is not None:
            stamps = stamps.dt.tz_localize(None)
        if fit:
            self.date_origin_[name] = stamps.min().isoformat()  # a string: sknas.save stores plain data
        days = (stamps - pd.Timestamp(self.date_origin_[name])) / pd.Timedelta(days=1)
        return days.to_numpy(dtype=np.float64, na_value=np.nan)


def _outside_sknas():
    """The ``stacklevel`` of the first caller outside sknas: the warning names the user's line."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # sknas/, above preprocessing/
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


# -- one column ----------------------------------------------------------------------------------------------
def _kind(column, name):
    """What the values of ``column`` are: "empty", "bool", "integer", "float", "string", "category", "date".

    Raises a TypeError naming the column when they are none of these.
    """
    import pandas as pd
    from pandas.api import types

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_datetime64_any_dtype(dtype):
        return "date"
    if types.is_timedelta64_dtype(dtype):
        return "float"  # a duration: numbers of days (_numbers)
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        return "float"
    inferred = types.infer_dtype(column, skipna=True)
    kind = {"empty": "empty", "string": "string", "boolean": "bool", "integer": "integer", "floating": "float",
            "mixed-integer-float": "float", "decimal": "float", "datetime": "date", "datetime64": "date",
            "date": "date"}.get(inferred)
    if kind is not None:
        return kind
    if inferred in ("mixed", "mixed-integer"):
        values = column[column.notna()]
        containers = [v for v in values if isinstance(v, (list, tuple, dict, set, np.ndarray))]
        if containers:
            raise TypeError(f"Column {name!r} holds {type(containers[0]).__name__} values (e.g. "
                            f"{containers[0]!r}); each cell must be one number, string, date or yes/no value.")
        is_number = np.array([isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values])
        if is_number.any() and not is_number.all():
            number, other = values[is_number].iloc[0], values[~is_number].iloc[0]
            raise TypeError(f"Column {name!r} mixes numbers and other values (e.g. {number!r} and {other!r}); "
                            "make it all numbers (pd.to_numeric) or all strings (.astype(str)) to use it as "
                            "a category.")
        return "string"
    raise TypeError(f"Column {name!r} holds {inferred} values, which sknas cannot segment on; convert it to "
                    "numbers, strings or dates, or drop it.")


def _one_value(value, some_missing):
    return f"{value!r} in every row" + (" where it is not missing" if some_missing else "")


def _flag_values(distinct):
    """``{value: 0.0 or 1.0}`` when the distinct non-missing values are booleans or one yes/no pair, else None."""
    words = {}
    for value in distinct:
        if isinstance(value, (bool, np.bool_)):
            word = "true" if value else "false"
        elif isinstance(value, str):
            word = value.strip().lower()
        elif isinstance(value, numbers.Number) and value in (0, 1):  # a flag passed back as 0/1 numbers
            word = "true" if value == 1 else "false"
        else:
            return None
        if word not in _FLAG_VALUE:
            return None  # early: an id column has a million distinct values
        words[value] = word
    used = set(words.values())
    if not any(used <= set(pair) for pair in FLAG_PAIRS):
        return None
    return {value: _FLAG_VALUE[word] for value, word in words.items()}


def _date_format(distinct, kind):
    """The date format of string values (None: datetime values), or False when they are not all dates.

    Strings count as dates when the format inferred from the first one parses every value and they are
    not numbers written as strings ("20230501" is a number); missing-value markers (``MISSING_MARKERS``: a blank,
    "NA") are missing dates.
    """
    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    if kind == "date":
        return None
    strings = pd.Series(distinct, dtype=object)
    strings = strings[~_missing_markers(strings)]  # blanks, "NA": missing dates
    if len(strings) < 2 or pd.to_numeric(strings, errors="coerce").notna().all():
        return False
    # The first value's format read month first, then day first: "01/02/2019" fits both, and only a later
    # "13/02/2019" says which (a signup date written day first was taken for an id).
    formats = []
    for dayfirst in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # pandas' note that the guess ignored dayfirst
                fmt = guess_datetime_format(str(strings.iloc[0]).strip(), dayfirst=dayfirst)
        except (ValueError, TypeError, OverflowError):
            fmt = None
        if fmt is not None and fmt not in formats:
            formats.append(fmt)
    for fmt in formats:
        if pd.to_datetime(strings, format=fmt, errors="coerce", utc=True).notna().all():
            return fmt
    return False


def _missing_markers(values):
    """Which of ``values`` (a Series) are missing-value markers written as text (``MISSING_MARKERS``), as a bool
    array: what :func:`_number_word` reads as missing, one value at a time."""
    return values.astype(str).str.strip().str.lower().isin(MISSING_MARKERS).to_numpy(dtype=bool)


def _written_numbers(distinct):
    """``"integer"`` or ``"float"`` when string values are numbers written as text (every one a number or a
    missing-value marker, at least one a number, none with a leading zero: ``"02134"`` is a code), else None."""
    import pandas as pd

    words = [_number_word(v) for v in distinct]
    written = [w for w in words if w is not None]
    if not written or any(_leading_zero(w) for w in written):
        return None
    values = pd.to_numeric(pd.Series(written, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None
    return "integer" if np.all(values == np.round(values)) else "float"


def _leading_zero(word):
    """Whether ``word`` starts (after its sign) with a zero followed by a digit, as codes do: ``"02134"``."""
    digits = word.lstrip("+-")
    return digits[:1] == "0" and digits[1:2].isdigit()


def _number_word(value):
    """The text of a number as ``pandas.to_numeric`` reads it, or None for a missing-value marker.

    Exports write numbers as people read them: ``"$1,234.50"``, ``"12%"``, ``" 42 "``. A leading currency sign,
    a trailing percent sign and thousands separators (only in groups of three digits, so ``"1,5"`` stays text) are
    dropped; ``"12%"`` becomes 12, in the column's own unit.
    """
    word = str(value).strip()
    if word.lower() in MISSING_MARKERS:
        return None
    sign = word[0] if word[:1] in "+-" and len(word) > 1 else ""
    word = word[len(sign):]
    if word[:1] in CURRENCY_SIGNS:
        word = word[1:].strip()
    if word.endswith("%"):
        word = word[:-1].strip()
    if _THOUSANDS.match(word):
        word = word.replace(",", "")
    return sign + word


def _written_values(column):
    """``column``'s strings as :func:`_number_word` reads them (missing-value markers as None)."""
    values = column.astype(object)
    return values.map(lambda v: _number_word(v) if isinstance(v, str) else v)


def _numbers(name, column):
    """``column`` as float64 (NaN where missing); a ValueError naming it for infinity or non-numbers."""
    import pandas as pd

    if column.dtype.kind == "m":  # a duration (timedelta64): days, as dates become days
        column = column.dt.total_seconds() / 86400.0
    values = column if column.dtype.kind in "biuf" else pd.to_numeric(column.astype(object), errors="coerce")
    out = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(out) & column.notna().to_numpy()
    if bad.any():
        raise ValueError(f"Column {name!r} holds numbers; values {list(column[bad].astype(str)[:5])} are not "
                         "numbers.")
    if np.isinf(out).any():
        raise ValueError(f"Column {name!r} contains infinity; segments need finite numbers (NaN is imputed).")
    return out
