"""Long searches that survive faults: injected candidate faults, checkpoint/resume, Ctrl-C, untrusted files.

Faults are injected where they would arise (the encoder's forward or backward,
the trainer, the network builder), so the containment code runs as it would
on a real fault.  Resume tests interrupt a search by raising KeyboardInterrupt
from a monkeypatched candidate evaluation after a number of trials, then fit
again with the same checkpoint and compare with an uninterrupted run.
"""

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import sknas.search.candidates
from sknas import (
    BayesFeatureSearch,
    EvoFeatureSearch,
    ParetoFeatureSearch,
    ProgressiveFeatureSearch,
    RandomFeatureSearch,
    RLFeatureSearch,
    SearchFailedError,
)
from sknas.io.checkpoint import CheckpointError, read_checkpoint
from sknas.space.architecture import FIXED_HEADS
from sknas.training.net import FeatureNet

from .conftest import FAST_SEARCH

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE = {"widths": (8,), "max_depth": 1}
WIDER = {"widths": (8, 16), "max_depth": 2, "include_identity": False}  # fewer repeated genomes, so the cache does not hide trials


def make_search(cls=RandomFeatureSearch, **params):
    return cls(**{"n_components": 3, "n_clusters": 3, **FAST_SEARCH, **params})


@pytest.fixture
def X(customers):
    return customers[0][:150]


# -- injected faults ------------------------------------------------------------------------------------
class _InfiniteGradient(torch.autograd.Function):
    """Identity forward, infinite backward: a finite loss with an exploding gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * math.inf


FORWARD_FAULTS = {
    "nan_loss": lambda out: out * math.nan,
    "inf_loss": lambda out: out * math.inf,
    "exploding_gradient": _InfiniteGradient.apply,
}


def _break_trainable_candidates(monkeypatch, fault):
    """Every candidate with weights gets ``fault`` on its encoder's output; fixed maps stay healthy."""
    real = sknas.search.candidates.build_network

    def build(architecture, *args, **kwargs):
        encoder = real(architecture, *args, **kwargs)
        if architecture.head not in FIXED_HEADS and any(True for _ in encoder.parameters()):
            encoder.register_forward_hook(lambda module, inputs, out: fault(out) if module.training else out)
        return encoder

    monkeypatch.setattr(sknas.search.candidates, "build_network", build)


@pytest.mark.parametrize("fault, reason", [("nan_loss", "non-finite training loss"),
                                           ("inf_loss", "non-finite training loss"),
                                           ("exploding_gradient", "exploding gradients")])
def test_training_fault_is_recorded_and_the_search_continues(monkeypatch, X, fault, reason):
    _break_trainable_candidates(monkeypatch, FORWARD_FAULTS[fault])
    search = make_search(max_trials=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        search.fit(X[:, :3])
    failed = [r for r in search.search_history_ if r["status"] == "failed"]
    ok = [r for r in search.search_history_ if r["status"] == "ok"]
    assert failed and ok and len(search.search_history_) == 4
    assert all(reason in r["reason"] for r in failed), [r["reason"] for r in failed]
    assert all(r["score"] == -math.inf and not r["valid"] for r in failed)
    assert search.architecture_.head in FIXED_HEADS  # a healthy candidate won


def test_huge_learning_rate_fails_candidates_not_the_search(X):
    """A real explosion: weights blown up by the step size, contained as a non-finite loss."""
    search = make_search(max_trials=4, learning_rate=1e30, max_epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        search.fit(X)
    reasons = {r["reason"] for r in search.search_history_ if r["status"] == "failed"}
    assert reasons and all("non-finite" in r or "exploding" in r for r in reasons), reasons
    assert np.isfinite(search.transform(X)).all()


def _oom_until(monkeypatch, max_batch, error):
    """``train_candidate`` runs out of memory while the batch is larger than ``max_batch``."""
    real = sknas.search.candidates.train_candidate
    calls = []

    def train(encoder, *args, batch_size, **kwargs):
        if any(True for _ in encoder.parameters()):
            calls.append(batch_size)
            if batch_size > max_batch:
                raise error
        return real(encoder, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(sknas.search.candidates, "train_candidate", train)
    return calls


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")],
                         ids=["OutOfMemoryError", "RuntimeError"])
def test_out_of_memory_retries_with_a_smaller_batch(monkeypatch, X, error):
    calls = _oom_until(monkeypatch, 16, error)
    search = make_search(max_trials=3, batch_size=64).fit(X)
    trained = [r for r in search.search_history_ if r["architecture"].head not in FIXED_HEADS]
    assert trained and all(r["status"] == "ok" for r in trained)
    assert all(r["batch_size"] == 16 for r in trained)
    assert calls[:3] == [64, 32, 16]


def test_out_of_memory_at_every_batch_size_skips_the_candidate(monkeypatch, X):
    calls = _oom_until(monkeypatch, 0, torch.cuda.OutOfMemoryError("CUDA out of memory."))
    search = make_search(max_trials=3, batch_size=64).fit(X)
    failed = [r for r in search.search_history_ if r["status"] == "failed"]
    assert failed and all("out of memory" in r["reason"] and "[32, 16]" in r["reason"] for r in failed)
    assert calls[:3] == [64, 32, 16]
    assert search.architecture_.head in FIXED_HEADS


def test_batched_population_out_of_memory_falls_back_to_one_by_one(monkeypatch, X):
    from sknas.search import evolution

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(evolution, "train_population", out_of_memory)
    search = make_search(EvoFeatureSearch, population_size=4, max_trials=8, batch_candidates=True,
                         search_space={**SPACE, "include_identity": False}).fit(X)
    assert len(search.search_history_) == 8
    assert all(r["status"] == "ok" and not r.get("batched") for r in search.search_history_)


@pytest.mark.parametrize("error", [ValueError("width 8 cannot be split into 3 heads"),
                                   TypeError("unsupported operand"), AssertionError("embed_dim must be divisible")])
def test_layer_that_cannot_be_built_is_recorded(monkeypatch, X, error):
    real = sknas.search.candidates.build_network

    def build(architecture, *args, **kwargs):
        if architecture.head not in FIXED_HEADS and architecture.blocks:
            raise error
        return real(architecture, *args, **kwargs)

    monkeypatch.setattr(sknas.search.candidates, "build_network", build)
    search = make_search(max_trials=4).fit(X)
    failed = [r for r in search.search_history_ if r["status"] == "failed"]
    assert failed and all(r["reason"].startswith(type(error).__name__) for r in failed)
    assert any(r["status"] == "ok" for r in search.search_history_)


def test_every_candidate_failing_raises_one_clear_error(monkeypatch, X):
    def build(*args, **kwargs):
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(sknas.search.candidates, "build_network", build)
    with pytest.raises(SearchFailedError, match=r"All 3 candidates failed.*3x RuntimeError: no kernel image"):
        make_search(max_trials=3).fit(X)


def test_ctrl_c_during_final_training_is_not_swallowed_by_skorch(monkeypatch, X, tmp_path):
    real = FeatureNet.train_step
    steps = []

    def train_step(self, batch, **kwargs):
        steps.append(1)
        if len(steps) == 2:
            raise KeyboardInterrupt
        return real(self, batch, **kwargs)

    monkeypatch.setattr(FeatureNet, "train_step", train_step)
    search = make_search(max_trials=2, search_space={**SPACE, "include_identity": False},
                         checkpoint=tmp_path / "search.json")
    with pytest.raises(KeyboardInterrupt, match="final network.*fit again"):
        search.fit(X)
    assert not hasattr(search, "net_")
    assert read_checkpoint(tmp_path / "search.json")["n_trials"] == 2


# -- checkpoint and resume ----------------------------------------------------------------------------------------
STRATEGIES = {
    "random": (RandomFeatureSearch, {"max_trials": 6}),
    "evolution": (EvoFeatureSearch, {"max_trials": 8, "population_size": 3, "search_space": WIDER}),
    "pareto": (ParetoFeatureSearch, {"max_trials": 8, "population_size": 3, "search_space": WIDER}),
    "progressive": (ProgressiveFeatureSearch, {"max_trials": 8, "beam_width": 2,
                                               "search_space": {"widths": (8,), "max_depth": 2}}),
    "rl": (RLFeatureSearch, {"max_trials": 7, "controller_batch_size": 2}),
    "bayes": (BayesFeatureSearch, {"max_trials": 7, "n_initial": 3, "n_candidates": 20}),
}


def _interrupt_after(monkeypatch, n_trials):
    """Ctrl-C arrives while the candidate after the ``n_trials``-th one is training."""
    real = sknas.search.candidates.evaluate_candidate
    count = []

    def evaluate(*args, **kwargs):
        if len(count) == n_trials:
            raise KeyboardInterrupt
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate", evaluate)


def _comparable(history, ignore=()):
    return [{k: v for k, v in r.items() if k not in ("time", "labels", *ignore)} for r in history]


def _assert_same_search(a, b, X, ignore=()):
    assert len(a.search_history_) == len(b.search_history_)
    for ra, rb in zip(_comparable(a.search_history_, ignore), _comparable(b.search_history_, ignore)):
        assert ra.keys() == rb.keys()
        for key in ra:
            va, vb = ra[key], rb[key]
            same = (math.isnan(va) and math.isnan(vb)) if isinstance(va, float) and isinstance(vb, float) \
                and math.isnan(va) else va == vb
            assert same, (key, va, vb)
    assert a.architecture_ == b.architecture_
    assert a.best_score_ == b.best_score_
    assert np.array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_interrupted_then_resumed_equals_uninterrupted(monkeypatch, tmp_path, X, name):
    cls, params = STRATEGIES[name]
    params = {"search_space": SPACE, **params}
    reference = make_search(cls, **params).fit(X)
    path = tmp_path / "search.json"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 4)
        with pytest.raises(KeyboardInterrupt, match="resume"):
            make_search(cls, checkpoint=path, **params).fit(X)
    saved = read_checkpoint(path)
    assert 0 < saved["n_trials"] <= 4  # whole steps only
    resumed = make_search(cls, checkpoint=path, **params).fit(X)
    _assert_same_search(reference, resumed, X)
    assert read_checkpoint(path)["n_trials"] == len(reference.search_history_)


def test_resume_replays_instead_of_retraining(monkeypatch, tmp_path, X):
    path = tmp_path / "search.json"
    first = make_search(max_trials=5, checkpoint=path).fit(X)
    calls = []
    real = sknas.search.candidates.evaluate_candidate
    monkeypatch.setattr(sknas.search.candidates, "evaluate_candidate", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = make_search(max_trials=7, checkpoint=path).fit(X)  # a larger budget continues the search
    assert len(calls) == 2
    # the first five are the saved ones (selection scores differ: they rank the larger pool)
    assert [(r["architecture"], r["seed"], r["score"]) for r in again.search_history_[:5]] == \
        [(r["architecture"], r["seed"], r["score"]) for r in first.search_history_]


def test_resume_without_random_state_uses_the_saved_rng(monkeypatch, tmp_path, X):
    path = tmp_path / "search.json"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 4)
        with pytest.raises(KeyboardInterrupt):
            make_search(max_trials=6, random_state=None, checkpoint=path).fit(X)
    partial = read_checkpoint(path)["history"]
    resumed = make_search(max_trials=6, random_state=None, checkpoint=path).fit(X)
    assert [r["architecture"] for r in resumed.search_history_[:len(partial)]] == \
        [r["architecture"] for r in partial]
    assert [r["score"] for r in resumed.search_history_[:len(partial)]] == [r["score"] for r in partial]


def test_checkpoint_of_another_search_or_data_is_rejected(tmp_path, X):
    path = tmp_path / "search.json"
    make_search(max_trials=3, checkpoint=path).fit(X)
    with pytest.raises(CheckpointError, match="other parameters"):
        make_search(max_trials=3, checkpoint=path, max_epochs=3).fit(X)
    with pytest.raises(CheckpointError, match="EvoFeatureSearch|RandomFeatureSearch"):
        make_search(EvoFeatureSearch, max_trials=3, checkpoint=path).fit(X)
    with pytest.raises(CheckpointError, match="other data"):
        make_search(max_trials=3, checkpoint=path).fit(X[::-1])


def test_checkpoint_parameter_is_a_plain_sklearn_parameter(tmp_path):
    from sklearn.base import clone

    est = make_search(checkpoint=str(tmp_path / "a.json"))
    assert clone(est).get_params()["checkpoint"] == str(tmp_path / "a.json")
    with pytest.raises(ValueError, match="checkpoint"):
        make_search(checkpoint=3).fit(np.random.RandomState(0).rand(30, 3))


def test_fitted_estimator_does_not_carry_the_journal(tmp_path, X):
    est = make_search(checkpoint=tmp_path / "c.json").fit(X)
    assert not hasattr(est, "_journal")
    pickle.loads(pickle.dumps(est))


# -- the checkpoint file is data, never code ----------------------------------------------------------------------
class _RunsCode:
    """Unpickling this would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickle_at_the_checkpoint_path_is_rejected_without_running_it(tmp_path, X):
    marker, path = tmp_path / "pwned", tmp_path / "search.json"
    path.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(CheckpointError, match="not an sknas search checkpoint"):
        make_search(checkpoint=path).fit(X)
    assert not marker.exists()


@pytest.mark.parametrize("edit, match", [
    (lambda s: {**s, "format": "other"}, "not an sknas search checkpoint"),
    (lambda s: {**s, "version": 99}, "version"),
    (lambda s: {k: v for k, v in s.items() if k != "history"}, "damaged"),
    (lambda s: {**s, "history": [{"__architecture__": {"blocks": []}}]}, "unknown tag"),
    (lambda s: {**s, "history": [{"__dataclass__": "Block", "fields": {"op": "os.system", "width": 8}}]}, "damaged"),
    (lambda s: {**s, "history": [{"__dataclass__": "Popen", "fields": {"args": "ls"}}]}, "refuses class 'Popen'"),
    (lambda s: {**s, "history": [{"__ndarray__": None, "values": ["x"], "dtype": "|O", "shape": [1]}]}, "dtype"),
])
def test_tampered_checkpoint_is_rejected(tmp_path, X, edit, match):
    path = tmp_path / "search.json"
    make_search(max_trials=3, checkpoint=path).fit(X)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(CheckpointError, match=match):
        make_search(max_trials=3, checkpoint=path).fit(X)


@pytest.fixture
def saved_model(tmp_path, X):
    persistence = pytest.importorskip("sknas.io.persistence")
    path = tmp_path / "model"
    persistence.save(make_search(max_trials=2, search_space={**SPACE, "include_identity": False}).fit(X), path)
    return persistence, path


def _rewrite_manifest(persistence, path, edit):
    """Edit the manifest and recompute its checksums, as an attacker who read the format would."""
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    manifest["checksum"] = persistence._checksum(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_sknas_load_rejects_a_pickle_that_would_run_code(tmp_path):
    persistence = pytest.importorskip("sknas.io.persistence")
    marker, path = tmp_path / "pwned", tmp_path / "model.zip"
    path.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(ValueError):
        persistence.load(path)
    assert not marker.exists()


def test_sknas_load_rejects_code_in_the_weights_even_with_matching_checksums(saved_model, tmp_path):
    import hashlib

    persistence, path = saved_model
    marker = tmp_path / "pwned"
    torch.save({"weight": _RunsCode(marker)}, path / "weights.pt")  # torch.save pickles the object
    digest = hashlib.sha256((path / "weights.pt").read_bytes()).hexdigest()
    _rewrite_manifest(persistence, path, lambda m: m["weights"].update(sha256=digest))
    with pytest.raises(ValueError, match="other than tensors|refused"):
        persistence.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("cls", ["os.system", "subprocess.Popen", "builtins.eval", "Popen"])
def test_sknas_load_rejects_a_class_outside_its_allowlist(saved_model, cls):
    persistence, path = saved_model
    # the class the loader would build is named by the estimator's "__object__" tag
    _rewrite_manifest(persistence, path, lambda m: m["estimator"].update({"__object__": cls}))
    with pytest.raises(ValueError):
        persistence.load(path)


def test_sknas_load_rejects_an_edited_manifest(saved_model):
    persistence, path = saved_model
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["params"]["max_epochs"] = 99  # checksum left stale
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="modified"):
        persistence.load(path)


# -- Ctrl-C in a real process -----------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import signal, sys, torch
    # A process started in the background (nohup, `cmd &`, some CI runners) inherits SIGINT as
    # ignored, and Python then never raises KeyboardInterrupt: restore what a terminal gives.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(1)
    from sknas import RandomFeatureSearch
    from sknas.datasets import make_customers
    X, _ = make_customers(n_samples=150, random_state=0, return_X_y=True)
    RandomFeatureSearch(n_components=3, n_clusters=3, max_trials=500, max_epochs=2, batch_size=64,
                        search_space={"widths": (8, 16, 32), "max_depth": 3}, random_state=0, device="cpu",
                        checkpoint=sys.argv[1]).fit(X)
""")


def test_sigint_leaves_a_consistent_checkpoint_and_says_how_to_resume(tmp_path):
    path = tmp_path / "search.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not path.exists() or read_checkpoint(path)["n_trials"] < 5):
            assert child.poll() is None, child.stderr.read()
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in stderr and "to resume" in stderr and str(path) in stderr
    assert "Traceback" in stderr and "torch" not in stderr.split("KeyboardInterrupt")[-1]
    saved = read_checkpoint(path)  # whole, parseable, and resumable
    assert saved["n_trials"] >= 5 and [r["trial"] for r in saved["history"]] == list(range(saved["n_trials"]))
    assert not list(tmp_path.glob("*.tmp"))


# -- determinism across n_jobs ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["random", "evolution", "pareto", "progressive", "rl", "bayes"])
def test_n_jobs_does_not_change_strategies_that_propose_fixed_batches(X, name):
    """Every strategy's batch is an algorithm setting, so n_jobs only runs it in parallel."""
    cls, params = STRATEGIES[name]
    params = {"search_space": SPACE, **params}
    one, two = (make_search(cls, n_jobs=n_jobs, **params).fit(X) for n_jobs in (1, 2))
    # random search's step is its batch of n_jobs candidates: the only field that may differ
    _assert_same_search(one, two, X, ignore=("step",) if name == "random" else ())


def test_final_training_that_diverges_raises_instead_of_returning_inf(X):
    """The epoch loss is measured before the last step; the weights are checked after it."""
    from sknas import Architecture, NeuralFeatureMap

    est = NeuralFeatureMap(Architecture(head="linear"), n_components=2, max_epochs=2, batch_size=64,
                           learning_rate=1e30, random_state=0, device="cpu")
    try:
        out = est.fit(X).transform(X)
    except RuntimeError as exc:
        assert "Training the final network" in str(exc) and "learning_rate" in str(exc)
    else:
        assert np.isfinite(out).all()
