"""Safe persistence: ``sknas.save(estimator, path)`` / ``sknas.load(path)``.

Pickle runs code when it loads, so a pickled model is only as safe as its
source.  ``save`` writes instead

- ``manifest.json``: the format and its version, the class name, the
  parameters, the fitted attributes as tagged JSON data, the chosen
  architecture, the provenance, the SHA-256 of the weights file and a checksum
  of the manifest itself;
- ``weights.pt``: a flat ``{name: tensor}`` dict (the networks' state dicts and
  every numeric array of the fitted state), written by ``torch.save`` and read
  back with ``torch.load(weights_only=True)``, which refuses anything but
  tensors and plain containers.

``load`` never imports a class named by the file: it rebuilds only classes
from a fixed list (:data:`SAFE_CLASSES`), without calling their code (the
instance dictionary is filled in, as pickle would for these classes), and the
networks from their architecture.  A file that is not such a model, or whose
weights or manifest were changed after saving, is rejected with a
``ValueError``.  Weights are always loaded onto the CPU.

What is not saved: search-strategy internals that only served the search (the
RL controller, a surrogate model) and the optimiser state, so a loaded model
transforms and predicts exactly as the saved one but cannot resume a search.
The manifest lists what was left out under ``"dropped"``.

Examples
--------
>>> import tempfile, os
>>> import numpy as np
>>> import sknas
>>> from sknas import NeuralFeatureMap
>>> X = np.random.RandomState(0).normal(size=(50, 4))
>>> fmap = NeuralFeatureMap(n_components=2, max_epochs=2, random_state=0, device="cpu").fit(X)
>>> path = os.path.join(tempfile.mkdtemp(), "model.zip")
>>> sknas.save(fmap, path)
>>> np.array_equal(sknas.load(path).transform(X), fmap.transform(X))
True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import torch

from .codec import Decoder, Encoder, Unencodable

FORMAT = "sknas-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"
#: Numeric dtypes stored as tensors (exact bits); other arrays (strings, objects) go to the JSON.
_TENSOR_DTYPES = {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"}


def _safe_classes():
    """Classes ``load`` may rebuild, by the name written in the manifest (nothing else is ever imported)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

    import sknas

    from .. import __all__ as public
    from ..preprocessing import table_columns, tabular
    from ..space import Architecture, Block, SearchSpace
    from ..space.categorical import CategoricalLayout

    classes = {name: getattr(sknas, name) for name in public if isinstance(getattr(sknas, name), type)}
    for cls in (KMeans, MiniBatchKMeans, GaussianMixture, PCA, StandardScaler, MinMaxScaler, RobustScaler,
                OneHotEncoder, OrdinalEncoder, SimpleImputer, Pipeline, ColumnTransformer, Architecture, Block,
                SearchSpace, CategoricalLayout, tabular.Standardizer, tabular.TabularEncoder,
                table_columns.TableColumns):
        classes[cls.__name__] = cls
    return classes


#: Filled on first use (importing sklearn's estimators at import time would slow ``import sknas``).
SAFE_CLASSES: dict = {}


def _classes():
    if not SAFE_CLASSES:
        SAFE_CLASSES.update(_safe_classes())
    return SAFE_CLASSES


# -- writing ------------------------------------------------------------------------------------
class _Writer(Encoder):
    """The codec's tagged JSON, with arrays and network weights moved to ``tensors`` and the objects of
    :data:`SAFE_CLASSES` written by their state."""

    def __init__(self):
        super().__init__(_classes())
        self.tensors = {}
        self.dropped = []

    def _tensor(self, path, tensor):
        self.tensors[path] = tensor.detach().to("cpu").contiguous().clone()
        return path

    def encode_other(self, value, path):
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self._tensor(path, value)}
        if isinstance(value, np.random.RandomState):
            return {"__randomstate__": self.encode(value.get_state(), path)}
        if _is_dataframe(value):
            return self._dataframe(value, path)
        name = type(value).__name__
        if _classes().get(name) is not type(value):
            raise Unencodable(f"{path}: {type(value).__module__}.{name} is not a class sknas.save can store")
        return {"__object__": name, "state": self._state(value, path)}

    def _state(self, obj, path):
        from ..training import FeatureNet

        state = {}
        params = set(obj.get_params(deep=False)) if hasattr(obj, "get_params") else set()
        for key, value in vars(obj).items():
            where = f"{path}.{key}"
            if key == "net_" and isinstance(value, FeatureNet):  # a fitted estimator's skorch net
                state[key] = self._feature_net(obj, value, where)
                continue
            try:
                state[key] = self.encode(value, where)
            except Unencodable as exc:
                if key in params or not key.endswith("_") or key.startswith("_"):
                    raise ValueError(f"Cannot save: {exc}.") from None
                # A search-strategy internal (RL controller, surrogate): not needed to transform or predict.
                self.dropped.append(where)
        return state

    def encode_array(self, value, path):
        if value.dtype.name in _TENSOR_DTYPES:  # exact bits, outside the JSON
            native = value.astype(value.dtype.newbyteorder("="), copy=False)
            return {"__ndarray__": self._tensor(path, torch.from_numpy(np.array(native, order="C", copy=True)))}
        return super().encode_array(value, path)

    def _dataframe(self, frame, path):
        columns = list(frame.columns)
        return {"__dataframe__": {
            "columns": self.encode(columns, f"{path}.columns"),
            "index": self.encode(frame.index.to_numpy(), f"{path}.index"),
            "index_name": self.encode(frame.index.name, f"{path}.index_name"),
            "dtypes": [str(d) for d in frame.dtypes],
            "data": [self.encode(frame.iloc[:, i].to_numpy(dtype=object if str(frame.dtypes.iloc[i]) == "category"
                                                           else None), f"{path}.c{i}")
                     for i in range(len(columns))],
        }}

    def _feature_net(self, owner, net, path):
        """A trained skorch net by what rebuilds it: architecture, widths, objective, weights, history."""
        objective = net.module_.objective
        classes = getattr(objective, "classes", None)
        predictor = getattr(objective, "predictor", None)
        return {"__featurenet__": {
            "architecture": self.encode(owner.architecture_, f"{path}.architecture"),
            "n_features": int(net.module_.encoder.n_features),
            # Where the categorical indicator blocks sit (None: numeric only); the network embeds them.
            "layout": self.encode(getattr(owner._standardizer, "layout", None), f"{path}.layout"),
            "n_components": int(owner.n_components),
            "objective": owner.objective_,
            "task": getattr(objective, "task", None),
            "classes": self.encode(classes, f"{path}.classes"),
            "n_targets": None if predictor is None else int(predictor.out_features),
            "max_epochs": int(net.max_epochs), "batch_size": int(net.batch_size), "lr": float(net.lr),
            "history": self.encode(_plain_history(net.history), f"{path}.history"),
            "weights": {k: self._tensor(f"{path}.module_.{k}", v) for k, v in net.module_.state_dict().items()},
        }}


def _plain_history(history):
    return [dict(epoch) for epoch in history]


def _is_dataframe(value):
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _checksum(manifest):
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return _sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode())


def save(estimator, path):
    """Write a fitted (or unfitted) estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : estimator
        Any public sknas estimator, :class:`~sknas.AutoSegmenter`, or a
        scikit-learn ``Pipeline`` of them with ``StandardScaler``, ``PCA``,
        ``KMeans``, ``GaussianMixture`` and the other classes in
        :data:`SAFE_CLASSES`.
    path : str or path-like
        A ``.zip`` file, or a directory (created; an existing one must be
        empty or hold an earlier sknas model).

    Raises
    ------
    ValueError
        When the estimator holds something that cannot be stored safely (a
        class outside :data:`SAFE_CLASSES` or a callable parameter).
    """
    path = os.fspath(path)
    writer = _Writer()
    try:
        encoded = writer.encode(estimator, "model")
    except Unencodable as exc:
        raise ValueError(f"Cannot save: {exc}.") from None
    buffer = io.BytesIO()
    torch.save(writer.tensors, buffer)
    weights = buffer.getvalue()
    from .provenance import jsonable, versions

    architecture = getattr(estimator, "architecture_", None)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "saved_with": versions(),
        "params": jsonable(estimator.get_params(deep=False)),
        "architecture": None if architecture is None else architecture.to_dict(),
        # jsonable: a setting may be infinite (sknas.config's "off"), which JSON cannot hold as a number
        "provenance": jsonable(getattr(estimator, "provenance_", None)),
        "dropped": writer.dropped,
        "estimator": encoded,
        "weights": {"file": WEIGHTS, "sha256": _sha256(weights), "n_tensors": len(writer.tensors)},
    }
    manifest["checksum"] = _checksum(manifest)
    text = json.dumps(manifest, indent=1, allow_nan=False).encode()
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, text)
            archive.writestr(WEIGHTS, weights)
        return
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(os.path.join(path, MANIFEST)):
        raise ValueError(f"{path!r} is a non-empty directory that does not hold an sknas model; "
                         "choose a new or empty directory, or a .zip path.")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, WEIGHTS), "wb") as f:
        f.write(weights)
    with open(os.path.join(path, MANIFEST), "wb") as f:
        f.write(text)


# -- reading ------------------------------------------------------------------------------------
def _read(path):
    if os.path.isdir(path):
        files = {}
        for name in (MANIFEST, WEIGHTS):
            full = os.path.join(path, name)
            if not os.path.isfile(full):
                raise ValueError(f"{path!r} is not an sknas model directory: {name} is missing.")
            with open(full, "rb") as f:
                files[name] = f.read()
        return files
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No sknas model at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not an sknas model (expected a directory or .zip written by sknas.save).")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if names != {MANIFEST, WEIGHTS}:
            raise ValueError(f"{path!r} is not an sknas model: it holds {sorted(names)[:5]}, "
                             f"expected {MANIFEST} and {WEIGHTS}.")
        return {name: archive.read(name) for name in (MANIFEST, WEIGHTS)}


def load(path):
    """Read a model written by :func:`save`; never executes code from the file.

    Parameters
    ----------
    path : str or path-like
        The ``.zip`` file or directory given to :func:`save`.

    Returns
    -------
    estimator
        The estimator, on the CPU, giving the same ``transform``/``predict``
        output as the saved one.

    Raises
    ------
    ValueError
        When ``path`` is not an sknas model, or its manifest or weights were
        changed after saving.
    """
    path = os.fspath(path)
    files = _read(path)
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r} is not an sknas model: its manifest is not JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not an sknas model (manifest format is not {FORMAT!r}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path!r} was written in format version {version!r}; this sknas reads up to "
                         f"{FORMAT_VERSION}. Upgrade sknas.")
    if manifest.get("checksum") != _checksum(manifest):
        raise ValueError(f"{path!r} was modified after saving: its manifest checksum does not match.")
    if _sha256(files[WEIGHTS]) != manifest.get("weights", {}).get("sha256"):
        raise ValueError(f"{path!r} was modified after saving: the SHA-256 of {WEIGHTS} does not match "
                         "the one recorded in the manifest.")
    try:
        tensors = torch.load(io.BytesIO(files[WEIGHTS]), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"{path!r}: {WEIGHTS} holds something other than tensors; refused "
                         f"({type(exc).__name__}).") from None
    if not isinstance(tensors, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in tensors.items()):
        raise ValueError(f"{path!r}: {WEIGHTS} is not a flat dict of named tensors.")
    saved = manifest.get("saved_with", {})
    import sklearn

    if saved.get("scikit-learn") not in (None, sklearn.__version__):
        warnings.warn(f"Model saved with scikit-learn {saved.get('scikit-learn')}, loaded with "
                      f"{sklearn.__version__}; results may differ.", UserWarning, stacklevel=2)
    try:
        return _Reader(tensors).decode(manifest["estimator"])
    except ValueError as exc:  # the codec's refusals: a tag, class, dtype or tensor it did not write
        raise ValueError(f"{path!r}: malformed sknas model: {exc}.") from None
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"{path!r}: malformed sknas model ({type(exc).__name__}: {exc}).") from None


class _Reader(Decoder):
    """The codec's reader, with tensors from the weights file and the objects of :data:`SAFE_CLASSES`."""

    #: Every tag the writer emits and the reader method that rebuilds it; any other tag is refused.
    TAGS = {**Decoder.TAGS, **{f"__{name}__": f"_{name}" for name in (
        "device", "tensor", "randomstate", "dataframe", "object", "featurenet")}}

    def __init__(self, tensors):
        super().__init__(_classes())
        self.tensors = tensors

    def _stored(self, key):
        if not isinstance(key, str) or key not in self.tensors:
            raise ValueError(f"tensor {key!r} is missing")
        return self.tensors[key]

    def stored_array(self, value):
        return self._stored(value["__ndarray__"]).numpy().copy()

    def _device(self, value):
        return torch.device("cpu")  # weights are always loaded onto the CPU

    def _tensor(self, value):
        return self._stored(value["__tensor__"]).clone()

    def _randomstate(self, value):
        rs = np.random.RandomState()
        rs.set_state(self.decode(value["__randomstate__"]))
        return rs

    def _dataframe(self, value):
        import pandas as pd

        spec = value["__dataframe__"]
        columns = self.decode(spec["columns"])
        data = {i: self.decode(c) for i, c in enumerate(spec["data"])}
        frame = pd.DataFrame(data, index=pd.Index(self.decode(spec["index"]), name=self.decode(spec["index_name"])))
        frame.columns = columns
        for i, dtype in enumerate(spec["dtypes"]):
            if str(frame.dtypes.iloc[i]) != dtype:
                frame.isetitem(i, frame.iloc[:, i].astype(dtype))
        return frame

    def _object(self, value):
        name = value["__object__"]
        cls = self.classes.get(name)
        if cls is None:
            raise ValueError(f"refuses class {name!r}: not one it can rebuild safely")
        obj = cls.__new__(cls)  # no __init__/__setstate__ code: the fitted state is filled in, as pickle would
        obj.__dict__.update(self.decode(value["state"]))
        return obj

    def _featurenet(self, value):
        from skorch.history import History

        from ..training import WEIGHT_DECAY
        from ..space import build_network
        from ..training import make_final_net, make_objective, seeded

        spec = value["__featurenet__"]
        architecture = self.decode(spec["architecture"])
        n_features, n_components = spec["n_features"], spec["n_components"]
        with seeded(0):  # construction draws initial weights; never from the caller's torch RNG
            layout = self.decode(spec.get("layout"))
            encoder = build_network(architecture, n_features, n_components, layout)
            objective = make_objective(spec["objective"], n_features, encoder.n_outputs, _fake_targets(spec, self),
                                       layout=layout)
            net = make_final_net(encoder, objective, max_epochs=spec["max_epochs"], batch_size=spec["batch_size"],
                                 learning_rate=spec["lr"], weight_decay=WEIGHT_DECAY, device="cpu")
            net.initialize()
        state = {k: self._stored(key) for k, key in spec["weights"].items()}
        try:
            net.module_.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"weights do not fit the architecture ({str(exc).splitlines()[0]})") from None
        net.module_.eval()
        net.history = History(self.decode(spec["history"]))
        return net


def _fake_targets(spec, reader):
    """Targets that rebuild a supervised objective of the saved shape (its weights are then loaded)."""
    if spec["objective"] != "supervised":
        return None
    if spec["task"] == "classification":
        return reader.decode(spec["classes"])
    n = spec["n_targets"]
    y = np.array([0.5, 1.5])
    return y if n == 1 else np.tile(y[:, None], (1, n))
