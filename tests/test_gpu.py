"""The CUDA path; skipped where no GPU is present (CI never has one)."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from sknas import NeuralFeatureMap, RandomFeatureSearch

from .conftest import FAST_SEARCH

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_fit_on_cuda_and_transform(customers):
    X, _ = customers
    est = RandomFeatureSearch(**{**FAST_SEARCH, "device": "cuda"}).fit(X)
    assert est.device_.type == "cuda"
    assert next(est.net_.module_.encoder.parameters()).is_cuda
    Z = est.transform(X)
    assert Z.shape == (len(X), est.n_components_) and np.isfinite(Z).all()


def test_cuda_fitted_estimator_loads_on_cpu_only_process(customers, tmp_path):
    X, _ = customers
    est = NeuralFeatureMap(n_components=3, max_epochs=2, random_state=0, device="cuda").fit(X)
    expected = est.transform(X)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, sys, numpy as np, warnings; warnings.simplefilter('ignore');"
        f"est = pickle.load(open({str(path)!r}, 'rb'));"
        f"np.save({str(tmp_path / 'Z.npy')!r}, est.transform(np.load({str(tmp_path / 'X.npy')!r})))"
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "Z.npy"), expected, rtol=1e-4, atol=1e-5)
