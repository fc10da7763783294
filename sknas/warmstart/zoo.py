"""The architecture zoo: feature maps earlier sknas searches found, with the meta-features of their data.

``init="zoo"`` on any search estimator starts the search from the zoo
entries nearest to the data being fit (:func:`zoo_architectures`), in the
spirit of auto-sklearn's meta-learning warm start.  The zoo ships with the
package as ``sknas/warmstart/zoo.json`` and loads offline (:func:`load_zoo`); every
entry holds an :class:`~sknas.space.Architecture` (its JSON form), the search
score it reached, the number of clusters the search used and the dataset's
meta-features (:mod:`sknas.warmstart.metafeatures`).  ``benchmarks/build_zoo.py``
rebuilds it: one small RandomFeatureSearch per dataset of a suite of bundled
and generated tables, keeping the winner and the runners-up.

Nearness is the Euclidean distance between meta-feature vectors (the
:data:`~sknas.warmstart.metafeatures.METAFEATURES` and ``log2`` of the cluster count),
each standardised by its mean and standard deviation over the zoo's
entries.  Ties (the entries of one dataset share its meta-features) keep
the file's order: a dataset's winner, then its runners-up.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..space import Architecture, reencode
from .metafeatures import METAFEATURES, metafeatures

#: The file inside this package.
ZOO_FILE = "zoo.json"
#: The format ``load_zoo`` reads (written in the file as ``"format"``).
ZOO_FORMAT = 1
#: Architectures ``init="zoo"`` adds to a search at most: like a fitted ``init``, a small share of the budget.
N_FROM_ZOO = 3
#: The distance's coordinates: the table's meta-features, then the cluster count.
DISTANCE_FEATURES = METAFEATURES + ("log2_clusters",)


@dataclass(frozen=True)
class ZooEntry:
    """One architecture of the zoo and where it came from.

    Attributes
    ----------
    dataset : str
        The dataset the search ran on (as ``benchmarks/build_zoo.py`` names it).
    rank : int
        0 for the search's winner, 1, 2, ... for its runners-up.
    architecture : Architecture
    score : float
        The search's selection score of this architecture (comparable within
        one dataset's entries only).
    n_clusters : int
        The search's ``n_clusters``.
    metafeatures : dict
        The dataset's meta-features (:func:`sknas.warmstart.metafeatures.metafeatures`).
    """

    dataset: str
    rank: int
    architecture: Architecture
    score: float
    n_clusters: int
    metafeatures: dict

    def vector(self):
        """The entry's coordinates in :data:`DISTANCE_FEATURES` order."""
        return feature_vector(self.metafeatures, self.n_clusters)


def feature_vector(features, n_clusters):
    """``features`` (a :func:`~sknas.warmstart.metafeatures.metafeatures` dict) and ``log2(n_clusters)`` as one vector."""
    return np.array([features[name] for name in METAFEATURES] + [math.log2(max(int(n_clusters), 1))])


@functools.lru_cache(maxsize=1)
def load_zoo():
    """The zoo's entries, in file order, read from the installed package (no network).

    Returns
    -------
    tuple of ZooEntry

    Examples
    --------
    >>> from sknas.warmstart.zoo import load_zoo
    >>> entries = load_zoo()
    >>> len(entries) > 10, entries[0].rank
    (True, 0)
    """
    text = resources.files(__package__).joinpath(ZOO_FILE).read_text(encoding="utf-8")
    return parse_zoo(json.loads(text))


def parse_zoo(data):
    """Entries of a decoded zoo file; ValueError naming what is wrong with it."""
    if not isinstance(data, dict) or data.get("format") != ZOO_FORMAT or not isinstance(data.get("entries"), list):
        raise ValueError(f"Not a format-{ZOO_FORMAT} sknas zoo (a dict with 'format' and 'entries').")
    entries = []
    for i, raw in enumerate(data["entries"]):
        try:
            features = {name: float(raw["metafeatures"][name]) for name in METAFEATURES}
            entries.append(ZooEntry(str(raw["dataset"]), int(raw["rank"]),
                                    Architecture.from_dict(raw["architecture"]), float(raw["score"]),
                                    int(raw["n_clusters"]), features))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"Zoo entry {i} is malformed: {exc!r}.") from None
    if not entries:
        raise ValueError("The zoo has no entries.")
    return tuple(entries)


def rank_entries(features, n_clusters, entries=None):
    """Zoo entries nearest first, with their distances.

    Parameters
    ----------
    features : dict
        Meta-features of the new data (:func:`~sknas.warmstart.metafeatures.metafeatures`).
    n_clusters : int
        The new search's cluster count.
    entries : sequence of ZooEntry or None, default=None
        None: :func:`load_zoo`.

    Returns
    -------
    list of (float, ZooEntry)
        Sorted by distance; equal distances keep the entries' order.
    """
    entries = load_zoo() if entries is None else tuple(entries)
    table = np.array([e.vector() for e in entries])
    mean, std = table.mean(axis=0), table.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    query = (feature_vector(features, n_clusters) - mean) / std
    distances = np.sqrt((((table - mean) / std - query) ** 2).sum(axis=1))
    order = np.argsort(np.round(distances, 9), kind="stable")  # rounding: last-bit noise must not reorder ties
    return [(float(distances[i]), entries[i]) for i in order]


def zoo_architectures(X, space=None, n_clusters=8, n=N_FROM_ZOO, entries=None):
    """The architectures of the zoo entries nearest to ``X`` that ``space`` can use.

    Parameters
    ----------
    X : array-like, DataFrame or validated rows of shape (n_samples, n_features)
        The data being fit (categorical columns as the estimators see them).
    space : SearchSpace or None, default=None
        Entries whose architecture (re-encoded for the space, see
        :func:`sknas.space.reencode`) the space does not contain are
        skipped, and so are its fallbacks (every search evaluates those
        anyway).  None: no filter.
    n_clusters : int, default=8
    n : int, default=3
        Most architectures returned.
    entries : sequence of ZooEntry or None, default=None
        None: the shipped zoo.

    Returns
    -------
    list of Architecture
        Distinct, nearest first; empty when the space contains none.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sknas.space import SearchSpace
    >>> from sknas.warmstart.zoo import zoo_architectures
    >>> archs = zoo_architectures(load_wine().data, SearchSpace(), n_clusters=3)
    >>> 1 <= len(archs) <= 3
    True
    >>> archs == zoo_architectures(load_wine().data, SearchSpace(), n_clusters=3)  # deterministic
    True
    """
    ranked = rank_entries(metafeatures(X), n_clusters, entries)
    skip = space.fallbacks() if space is not None else []
    out = []
    for _, entry in ranked:
        arch = entry.architecture if space is None else reencode(entry.architecture, space)
        if arch in skip or arch in out or (space is not None and not space.contains(arch)):
            continue
        out.append(arch)
        if len(out) == n:
            break
    return out
