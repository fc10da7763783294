"""Provenance of a fitted model: what made it, from which data, with which settings.

Every fitted sknas estimator carries ``provenance_`` (a JSON-safe dict), so a
segmentation rerun next month can be traced to its versions, seed, data and
settings; :func:`sknas.save` keeps it and the HTML report shows it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import numbers
import platform

import numpy as np

from ..config import get_config

#: Rows hashed at most: the fingerprint identifies the data, it need not read all of a huge table.
_HASH_MAX_BYTES = 256 * 1024 * 1024


def data_fingerprint(X):
    """SHA-256 of a table's values, shape and column names (a DataFrame or an array).

    Two tables with the same values in the same order and the same columns get
    the same hash, whatever their memory layout.
    """
    digest = hashlib.sha256()
    columns = getattr(X, "columns", None)
    if columns is not None and hasattr(X, "dtypes"):
        import pandas as pd

        digest.update(json.dumps([str(c) for c in columns]).encode())
        digest.update(json.dumps([str(d) for d in X.dtypes]).encode())
        digest.update(np.ascontiguousarray(pd.util.hash_pandas_object(X, index=False).to_numpy()).tobytes())
        return digest.hexdigest()
    X = np.asarray(X)
    digest.update(f"{X.dtype.str}{X.shape}".encode())
    if X.dtype.kind == "O":
        digest.update(repr(X.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(X).tobytes()[:_HASH_MAX_BYTES])
    return digest.hexdigest()


def jsonable(value):
    """``value`` as plain JSON data: containers kept, anything else by its ``repr``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if np.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict") and hasattr(value, "to_json"):  # an Architecture
        return value.to_dict()
    return repr(value)


def versions():
    """Versions of the libraries a fitted model depends on."""
    import sklearn
    import torch

    from .. import __version__

    return {"sknas": __version__, "torch": torch.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def record_provenance(estimator, X, data=None):
    """The ``provenance_`` dict of ``estimator`` just fitted on ``X``.

    Parameters
    ----------
    estimator : fitted estimator
    X : array-like or DataFrame
        The rows it was fitted on (after validation is fine: the hash is of the values).
    data : array-like or DataFrame, default=None
        The table as the user passed it, when ``X`` is a transformed copy: its
        shape, column names and hash are recorded instead.
    """
    data = X if data is None else data
    columns = getattr(data, "columns", None)
    if columns is None:
        columns = getattr(estimator, "feature_names_in_", None)
    seed = estimator.get_params(deep=False).get("random_state")
    provenance = {
        "estimator": type(estimator).__name__,
        "versions": versions(),
        "seed": seed if seed is None or isinstance(seed, numbers.Integral) else repr(seed),
        "data": {
            "n_samples": int(np.shape(data)[0]),
            "n_features": int(np.shape(data)[1]) if np.ndim(data) > 1 else 1,
            "columns": None if columns is None else [str(c) for c in columns],
            "sha256": data_fingerprint(data),
        },
        "settings": jsonable(estimator.get_params(deep=False)),
        "config": get_config(),  # the sknas.config settings the fit ran under (they change results too)
        "search_time_s": jsonable(getattr(estimator, "search_time_", None)),
        "fit_time_s": jsonable(getattr(estimator, "fit_time_", None)),
        "device": str(getattr(estimator, "device_", "cpu")),
        "fitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if hasattr(estimator, "column_roles_"):  # AutoSegmenter: what each column was used as, or why not
        provenance["data"]["column_roles"] = jsonable(estimator.column_roles_)
        provenance["data"]["dropped_columns"] = jsonable(estimator.dropped_columns_)
    return provenance
