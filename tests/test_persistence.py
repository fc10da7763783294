"""sknas.save / sknas.load: identical output for every estimator, provenance kept, tampering refused."""

import io
import json
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknas
from sknas import NeuralFeatureMap, RandomFeatureSearch
from sknas.io.persistence import MANIFEST, WEIGHTS, _checksum, _sha256

from .conftest import FAST, FAST_SEARCH
from ._instances import PUBLIC, VARIANTS


def _fit(estimator, X, y=None):
    return clone(estimator).fit(X, y)


@pytest.mark.parametrize("estimator", PUBLIC + VARIANTS, ids=lambda e: type(e).__name__)
def test_round_trip_identical_transform(estimator, customers, tmp_path):
    X, _ = customers
    fitted = _fit(estimator, X)
    path = tmp_path / "model.zip"
    sknas.save(fitted, path)
    loaded = sknas.load(path)
    assert type(loaded) is type(fitted)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.get_params() == fitted.get_params()
    assert getattr(loaded, "architecture_", None) == getattr(fitted, "architecture_", None)
    assert loaded.provenance_ == fitted.provenance_
    assert getattr(loaded, "device_", torch.device("cpu")) == torch.device("cpu")


def test_round_trip_with_categorical_columns(tmp_path):
    from sknas.datasets import make_customers

    frame = make_customers(n_samples=200, random_state=0, as_frame=True).data
    search = RandomFeatureSearch(n_components=3, n_clusters=4, **FAST_SEARCH).fit(frame)
    sknas.save(search, tmp_path / "cat.zip")
    loaded = sknas.load(tmp_path / "cat.zip")
    np.testing.assert_array_equal(loaded.transform(frame), search.transform(frame))


def test_directory_format_and_manifest(customers, tmp_path):
    X, _ = customers
    search = RandomFeatureSearch(n_components=3, n_clusters=4, **FAST_SEARCH).fit(X)
    sknas.save(search, tmp_path / "model")
    assert sorted(os.listdir(tmp_path / "model")) == [MANIFEST, WEIGHTS]
    manifest = json.loads((tmp_path / "model" / MANIFEST).read_text())
    assert manifest["class"] == "RandomFeatureSearch"
    assert manifest["params"]["n_components"] == 3
    assert manifest["architecture"] == search.architecture_.to_dict()
    assert manifest["provenance"]["data"]["sha256"] == search.provenance_["data"]["sha256"]
    loaded = sknas.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.transform(X), search.transform(X))
    assert [r["architecture"] for r in loaded.search_history_] == [r["architecture"] for r in search.search_history_]
    assert len(loaded.net_.history) == len(search.net_.history)  # empty when a fixed map (nothing trained) won
    if len(search.net_.history):
        assert loaded.net_.history[-1, "train_loss"] == search.net_.history[-1, "train_loss"]
    sknas.save(search, tmp_path / "model")  # an earlier model's directory may be overwritten
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="non-empty directory"):
        sknas.save(search, tmp_path / "other")


def test_provenance(customers):
    import pandas as pd

    X, _ = customers
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    fmap = NeuralFeatureMap(n_components=2, **FAST).fit(frame)
    prov = fmap.provenance_
    assert prov["versions"]["torch"] == torch.__version__
    assert prov["seed"] == 0
    assert prov["data"]["n_samples"] == len(X) and prov["data"]["columns"] == list(frame.columns)
    assert prov["settings"]["max_epochs"] == FAST["max_epochs"]
    assert prov["search_time_s"] >= 0
    same = NeuralFeatureMap(n_components=2, **FAST).fit(frame.copy())
    assert same.provenance_["data"]["sha256"] == prov["data"]["sha256"]
    other = NeuralFeatureMap(n_components=2, **FAST).fit(frame.iloc[::-1])
    assert other.provenance_["data"]["sha256"] != prov["data"]["sha256"]
    json.dumps(prov)  # plain JSON


@pytest.mark.parametrize("objective", ["reconstruction", "contrastive", "supervised"])
def test_objectives_with_trainable_extras(objective, customers, tmp_path):
    X, y = customers
    fmap = NeuralFeatureMap(n_components=2, objective=objective, **FAST).fit(X, y)
    sknas.save(fmap, tmp_path / "m.zip")
    loaded = sknas.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.transform(X), fmap.transform(X))
    for a, b in zip(loaded.net_.module_.state_dict().values(), fmap.net_.module_.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("clusterer", [KMeans(3, n_init=2, random_state=0),
                                       GaussianMixture(3, random_state=0)], ids=["kmeans", "gmm"])
def test_pipeline_round_trip(clusterer, customers, tmp_path):
    X, _ = customers
    pipe = make_pipeline(StandardScaler(), RandomFeatureSearch(n_components=2, n_clusters=3, **FAST_SEARCH),
                         clusterer).fit(X)
    sknas.save(pipe, tmp_path / "pipe.zip")
    loaded = sknas.load(tmp_path / "pipe.zip")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_random_state_instance_and_unfitted(tmp_path):
    est = RandomFeatureSearch(random_state=np.random.RandomState(3))
    sknas.save(est, tmp_path / "u.zip")
    loaded = sknas.load(tmp_path / "u.zip")
    assert loaded.random_state.randint(1000) == np.random.RandomState(3).randint(1000)


def test_unsupported_content_is_refused_at_save(tmp_path):
    with pytest.raises(ValueError, match="Cannot save"):
        sknas.save(RandomFeatureSearch(scoring=lambda Z: 0.0), tmp_path / "x.zip")


def test_drops_strategy_internals(customers, tmp_path):
    from sknas import RLFeatureSearch

    X, _ = customers
    rl = RLFeatureSearch(n_components=2, n_clusters=3, controller_batch_size=2, **{**FAST_SEARCH, "max_trials": 3})
    rl.fit(X)
    sknas.save(rl, tmp_path / "rl.zip")
    with zipfile.ZipFile(tmp_path / "rl.zip") as archive:
        manifest = json.loads(archive.read(MANIFEST))
    assert "model.controller_" in manifest["dropped"]
    np.testing.assert_array_equal(sknas.load(tmp_path / "rl.zip").transform(X), rl.transform(X))


# -- tampering ------------------------------------------------------------------------------------
@pytest.fixture
def saved(customers, tmp_path):
    X, _ = customers
    fmap = NeuralFeatureMap(n_components=2, **FAST).fit(X)
    sknas.save(fmap, tmp_path / "good.zip")
    with zipfile.ZipFile(tmp_path / "good.zip") as archive:
        return {name: archive.read(name) for name in (MANIFEST, WEIGHTS)}


def _write(path, manifest, weights, reseal=True):
    """Write a model zip; ``reseal`` recomputes the hashes as an attacker could."""
    if isinstance(manifest, dict):
        if reseal:
            manifest["weights"]["sha256"] = _sha256(weights)
            manifest["checksum"] = _checksum(manifest)
        manifest = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST, manifest)
        archive.writestr(WEIGHTS, weights)
    return path


def test_tampered_weights_rejected(saved, tmp_path):
    weights = bytearray(saved[WEIGHTS])
    weights[-200] ^= 0xFF
    path = _write(tmp_path / "bad.zip", saved[MANIFEST], bytes(weights))
    with pytest.raises(ValueError, match="SHA-256"):
        sknas.load(path)


def test_tampered_manifest_rejected(saved, tmp_path):
    manifest = json.loads(saved[MANIFEST])
    manifest["estimator"]["state"]["n_components"] = 5
    path = _write(tmp_path / "bad.zip", json.dumps(manifest).encode(), saved[WEIGHTS])
    with pytest.raises(ValueError, match="checksum"):
        sknas.load(path)


class _Payload:
    """Pickles to a call that creates a file: what a malicious model would do on load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_code_executing_weights_refused_even_when_resealed(saved, tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"x": _Payload(str(marker))}, buffer)
    path = _write(tmp_path / "evil.zip", json.loads(saved[MANIFEST]), buffer.getvalue())
    with pytest.raises(ValueError, match="other than tensors"):
        sknas.load(path)
    assert not marker.exists()


def test_foreign_class_refused_even_when_resealed(saved, tmp_path):
    manifest = json.loads(saved[MANIFEST])
    manifest["estimator"]["__object__"] = "Popen"
    path = _write(tmp_path / "evil.zip", manifest, saved[WEIGHTS])
    with pytest.raises(ValueError, match="refuses class 'Popen'"):
        sknas.load(path)


def test_pickle_and_foreign_files_rejected(tmp_path, saved):
    marker = tmp_path / "pwned"
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="not an sknas model"):
        sknas.load(pickled)
    assert not marker.exists()
    weights_only = tmp_path / "weights.zip"  # a torch.save file is a zip too
    weights_only.write_bytes(saved[WEIGHTS])
    with pytest.raises(ValueError, match="not an sknas model"):
        sknas.load(weights_only)
    other = _write(tmp_path / "other.zip", b'{"format": "something-else"}', b"")
    with pytest.raises(ValueError, match="not an sknas model"):
        sknas.load(other)
    with pytest.raises(FileNotFoundError):
        sknas.load(tmp_path / "missing.zip")
