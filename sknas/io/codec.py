"""The one tagged-JSON codec sknas writes with: plain data, numpy values and known dataclasses.

JSON holds dicts with string keys, lists, strings, finite numbers, booleans and null. Everything else
an sknas file needs is written as a dict with one ``"__tag__"`` key (``{"__tuple__": [...]}``,
``{"__float__": "nan"}``, ``{"__dataclass__": "Architecture", "fields": {...}}``) and read back
only through :class:`Decoder`'s table of tags: a file can name data, never code. A dataclass is
rebuilt only when its name is in the registry the codec was made with.

``sknas.save`` (:mod:`sknas.io.persistence`) extends both classes with what a fitted model holds
(tensors, objects of a fixed list of classes, DataFrames); the search checkpoint
(:mod:`sknas.io.checkpoint`) uses them with the Architecture classes only.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


class Unencodable(TypeError):
    """A value the codec cannot write (``path`` says where it sits in the object graph)."""


def hashable(key):
    """A decoded dict key as Python had it: JSON turns tuples (and tuples of tuples) into lists."""
    return tuple(hashable(k) for k in key) if isinstance(key, list) else key


class Encoder:
    """Turns a value into JSON-ready data, tagging what JSON cannot hold.

    Parameters
    ----------
    classes : dict of str to type, default=None
        Dataclasses it may write (by class name); anything else is :meth:`encode_other`'s.
    """

    def __init__(self, classes=None):
        self.classes = dict(classes or {})

    def encode(self, value, path="$"):
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.ndarray):
            return self.encode_array(value, path)
        if isinstance(value, np.generic):
            return {"__np__": value.dtype.str, "value": self.encode(value.item(), path)}
        if isinstance(value, list):
            return [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, f"{path}.{k}") for k, v in value.items()}
            return {"__items__": [[self.encode(k, f"{path}.k{i}"), self.encode(v, f"{path}.v{i}")]
                                  for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, type) and (issubclass(value, np.generic) or value in (float, int, bool, str)):
            return {"__dtype__": [np.dtype(value).str, value.__name__ if value in (float, int, bool, str) else None]}
        if isinstance(value, np.dtype):
            return {"__dtype__": [value.str, "dtype"]}
        if isinstance(value, slice):
            return {"__slice__": [value.start, value.stop, value.step]}
        name = type(value).__name__
        if dataclasses.is_dataclass(value) and self.classes.get(name) is type(value):
            return {"__dataclass__": name, "fields": {f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                                                      for f in dataclasses.fields(value)}}
        return self.encode_other(value, path)

    def encode_array(self, value, path):
        """An array inline: its dtype, shape and values (object arrays: each value encoded)."""
        if value.dtype.kind in "OUS":
            return {"__ndarray__": None, "dtype": value.dtype.str if value.dtype.kind != "O" else "object",
                    "shape": list(value.shape),
                    "values": [self.encode(v, f"{path}.{i}") for i, v in enumerate(value.ravel().tolist())]}
        if value.dtype.kind not in "biufc" or value.dtype.fields is not None:
            raise Unencodable(f"{path}: an array of dtype {value.dtype}")
        return {"__ndarray__": None, "dtype": value.dtype.str, "shape": list(value.shape),
                "values": [self.encode(v, path) for v in value.ravel().tolist()]}

    def encode_other(self, value, path):
        """A value of no type above: a subclass may write it; here it cannot be."""
        raise Unencodable(f"{path}: {type(value).__module__}.{type(value).__name__} cannot be written")


class Decoder:
    """Reads :class:`Encoder`'s output back; raises ``ValueError`` on anything it did not write.

    Parameters
    ----------
    classes : dict of str to type, default=None
        Dataclasses it may rebuild (by the name in the file).
    """

    #: Tag -> method name. A subclass adds its own tags to a copy.
    TAGS = {f"__{name}__": f"_{name}" for name in (
        "float", "np", "tuple", "items", "slice", "dtype", "ndarray", "dataclass")}

    def __init__(self, classes=None):
        self.classes = dict(classes or {})

    def decode(self, value):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            raise ValueError(f"unexpected {type(value).__name__}")
        tags = [k for k in value if k.startswith("__")]
        if not tags:
            return {k: self.decode(v) for k, v in value.items()}
        tag = tags[0]
        handler = getattr(self, self.TAGS[tag], None) if tag in self.TAGS else None
        if len(tags) != 1 or handler is None:
            raise ValueError(f"unknown tag {tag!r}")
        return handler(value)

    def _float(self, value):
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ValueError(f"bad float {text!r}")
        return float(text)

    def _np(self, value):
        return self._numeric_dtype(value["__np__"]).type(self.decode(value["value"]))

    def _tuple(self, value):
        return tuple(self.decode(v) for v in value["__tuple__"])

    def _items(self, value):
        return {hashable(self.decode(k)): self.decode(v) for k, v in value["__items__"]}

    def _slice(self, value):
        return slice(*value["__slice__"])

    def _dtype(self, value):
        code, kind = value["__dtype__"]
        builtin = {"float": float, "int": int, "bool": bool, "str": str}
        if kind in builtin:
            return builtin[kind]
        dtype = self._numeric_dtype(code, allow="biufcUS")
        return dtype if kind == "dtype" else dtype.type

    def _ndarray(self, value):
        if value["__ndarray__"] is not None:
            return self.stored_array(value)
        dtype, items = value["dtype"], value["values"]
        if dtype == "object":
            out = np.empty(len(items), dtype=object)
            out[:] = [self.decode(v) for v in items]
        else:
            out = np.array([self.decode(v) for v in items], dtype=self._numeric_dtype(dtype, allow="biufcUS"))
        return out.reshape(value["shape"])

    def stored_array(self, value):
        """An array kept outside the JSON (persistence's tensors); here every array is inline."""
        raise ValueError(f"array dtype {value.get('dtype')!r} not stored inline")

    def _dataclass(self, value):
        name = value["__dataclass__"]
        cls = self.classes.get(name)
        if cls is None or not dataclasses.is_dataclass(cls):
            raise ValueError(f"refuses class {name!r}: not one it can rebuild safely")
        return cls(**{k: self.decode(v) for k, v in value["fields"].items()})

    @staticmethod
    def _numeric_dtype(code, allow="biufc"):
        dtype = np.dtype(code)
        if dtype.kind not in allow or dtype.fields is not None:  # never object or structured dtypes
            raise ValueError(f"bad dtype {code!r}")
        return dtype
