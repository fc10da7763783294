"""A small cache of results that are deterministic functions of an array's content.

A search asks for the same expensive, deterministic result more than once: the neighbour graph of its
training rows (once per candidate) and a fixed map's fit (in the search, then for the final network). Both
are remembered here by the array's bytes, not by object identity, since each caller holds its own copy.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np


def content_key(array):
    """``(shape, dtype, digest of the bytes)`` of ``array``: equal for equal contents, whatever object holds them."""
    array = np.ascontiguousarray(array)
    return array.shape, str(array.dtype), hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest()


class ContentCache:
    """The ``size`` most recently used results, by key (least recently used out first).

    Examples
    --------
    >>> cache = ContentCache(size=1)
    >>> cache.put("a", 1); cache.put("b", 2)
    >>> cache.get("a") is None, cache.get("b")
    (True, 2)
    """

    def __init__(self, size):
        self.size = size
        self._items = OrderedDict()

    def get(self, key):
        """The result stored under ``key``, or None."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key, value):
        """Store ``value`` under ``key``; the least recently used result goes when more than ``size`` are held."""
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self):
        """Forget every result."""
        self._items.clear()

    def __len__(self):
        return len(self._items)
