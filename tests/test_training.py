"""Tests of sknas.training: devices, seeding, objectives, the candidate trainer and the skorch final net."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from torch import nn

from sknas.space import Architecture, Block, build_network
from sknas.training import (
    OBJECTIVES, CandidateFailure, FeatureNet, LossData, ObjectiveModel, TrainResult, embed, evaluate_loss,
    make_final_net, make_objective, resolve_device, resolve_objective, seeded, train_candidate,
)

N_FEATURES, N_COMPONENTS = 6, 2
ARCH = Architecture((Block("linear", 16),))


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=200, n_features=N_FEATURES, centers=3, cluster_std=2.0, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    rng = np.random.RandomState(0)
    y_cont = (X @ rng.randn(N_FEATURES) + 0.1 * rng.randn(len(X))).astype(np.float64)
    return torch.as_tensor(X), y, y_cont


def split(X, y):
    return (X[:150], None if y is None else y[:150]), (X[150:], None if y is None else y[150:])


def setup(name, X, y=None, arch=ARCH, seed=0):
    """Build encoder, objective and the train/valid LossData under a fixed seed."""
    (X_tr, y_tr), (X_va, y_va) = split(X, y)
    with seeded(seed):
        encoder = build_network(arch, N_FEATURES, N_COMPONENTS)
        objective = make_objective(name, N_FEATURES, encoder.n_outputs, y=y_tr)
    return encoder, objective, objective.prepare(X_tr, y_tr), objective.prepare(X_va, y_va)


def state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class NaNModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(N_FEATURES, N_COMPONENTS)
        self.n_outputs = N_COMPONENTS

    def forward(self, x):
        return self.lin(x) * float("nan")


# -- devices and seeding --------------------------------------------------------
def test_resolve_device_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_resolve_device_cuda_unavailable(device):
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["gpu", "CPU", "", "mps", "cpu:0x"])
def test_resolve_device_bad_string(device):
    with pytest.raises(ValueError):
        resolve_device(device)


@pytest.mark.parametrize("device", [None, 0, 1.0, ["cpu"]])
def test_resolve_device_non_string(device):
    with pytest.raises(TypeError):
        resolve_device(device)


def test_seeded_reproducible_and_restores_global_state():
    with seeded(3):
        a = torch.randn(10)
    with seeded(3):
        b = torch.randn(10)
    with seeded(4):
        c = torch.randn(10)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    with torch.random.fork_rng():
        torch.manual_seed(123)
        before = torch.get_rng_state()
        with seeded(0):
            torch.randn(100)
        assert torch.equal(torch.get_rng_state(), before)
        after_context = torch.randn(5)
        torch.manual_seed(123)
        assert torch.equal(torch.randn(5), after_context)


def test_seeded_restores_state_on_error():
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError):
        with seeded(1):
            torch.randn(10)
            raise RuntimeError("boom")
    assert torch.equal(torch.get_rng_state(), before)


# -- objectives -----------------------------------------------------------------
def test_resolve_objective():
    assert resolve_objective("auto") == "neighbors"
    for name in ("neighbors", "reconstruction", "contrastive"):
        assert resolve_objective(name) == name
    assert resolve_objective("supervised", y=[0, 1]) == "supervised"
    assert set(OBJECTIVES) >= {"auto", "neighbors", "reconstruction", "contrastive", "supervised"}
    with pytest.raises(ValueError, match="needs y"):
        resolve_objective("supervised")
    with pytest.raises(ValueError):
        resolve_objective("pca")
    with pytest.raises(ValueError):
        make_objective("pca", N_FEATURES, N_COMPONENTS)


def test_supervised_prepare_without_y_raises(blobs):
    X, y, _ = blobs
    objective = make_objective("supervised", N_FEATURES, N_COMPONENTS, y=y)
    with pytest.raises(ValueError):
        objective.prepare(X, None)


def test_supervised_task_detection(blobs):
    X, y, y_cont = blobs
    clf = make_objective("supervised", N_FEATURES, N_COMPONENTS, y=y)
    reg = make_objective("supervised", N_FEATURES, N_COMPONENTS, y=y_cont)
    assert clf.task == "classification" and clf.predictor.out_features == 3
    assert reg.task == "regression" and reg.predictor.out_features == 1
    data = clf.prepare(X, y)
    assert data.targets.dtype == torch.long and torch.equal(data.targets, torch.as_tensor(y))
    assert reg.prepare(X, y_cont).targets.shape == (len(X), 1)
    # Unseen labels in a validation split still map to a valid class index.
    unseen = clf.prepare(X[:3], np.array([0, 1, 7]))
    assert int(unseen.targets.max()) < 3


def test_neighbors_prepare_knn(blobs):
    X = blobs[0]
    data = make_objective("neighbors", N_FEATURES, N_COMPONENTS).prepare(X)
    assert isinstance(data, LossData) and len(data) == len(X)
    assert data.knn.shape == (len(X), 15)
    assert not (data.knn == torch.arange(len(X))[:, None]).any()  # a row is not its own neighbour
    small = make_objective("neighbors", N_FEATURES, N_COMPONENTS).prepare(X[:4])
    assert small.knn.shape == (4, 3)
    with pytest.raises(ValueError):
        make_objective("neighbors", N_FEATURES, N_COMPONENTS).prepare(X[:1])


def test_neighbors_full_batch_embeds_each_row_once_with_the_same_loss(blobs):
    """A full batch embeds every row once and picks anchors and positives from it: the loss and its
    gradient are those of embedding the positives separately (a deterministic network), at half the work."""
    encoder, objective, train, _ = setup("neighbors", blobs[0])
    calls = []
    encoder.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    with seeded(3):
        fast = objective.loss(encoder, train, idx)
    assert calls == [len(train)]  # once, on every row (not anchors + positives)
    fast_grad = torch.autograd.grad(fast, list(encoder.parameters()))
    # The same samples drawn in the same order, the positives embedded a second time.
    from sknas.training.objectives import _umap_q
    with seeded(3):
        pos = train.knn[idx, torch.randint(train.knn.shape[1], (len(idx),))]
        z_i, z_j = encoder(train.X[idx]), encoder(train.X[pos])
        perms = torch.stack([torch.randperm(len(idx)) for _ in range(objective.n_negatives)])
    slow = (-torch.log(_umap_q(z_i, z_j) + 1e-8)
            - torch.log(1.0 - _umap_q(z_i.unsqueeze(-3), z_j[perms]) + 1e-8).sum(dim=-2)).mean()
    slow_grad = torch.autograd.grad(slow, list(encoder.parameters()))
    assert float(fast.detach()) == pytest.approx(float(slow.detach()), rel=1e-5)
    for a, b in zip(fast_grad, slow_grad):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # A mini-batch still embeds its anchors and their positives (2 x the batch).
    calls.clear()
    objective.loss(encoder, train, idx[:32])
    assert calls == [64]


@pytest.mark.parametrize("name,target", [
    ("neighbors", None), ("reconstruction", None), ("contrastive", None),
    ("supervised", "classes"), ("supervised", "continuous"),
])
def test_objective_training_lowers_validation_loss(blobs, name, target):
    X, y, y_cont = blobs
    y_used = {"classes": y, "continuous": y_cont, None: None}[target]
    encoder, objective, train, valid = setup(name, X, y_used)
    before = evaluate_loss(encoder, objective, valid)
    # InfoNCE on three blobs learns slowly: more epochs at a gentler rate.
    epochs, lr = (30, 3e-3) if name == "contrastive" else (15, 1e-2)
    with seeded(0):
        result = train_candidate(encoder, objective, train, valid, max_epochs=epochs, batch_size=32,
                                 learning_rate=lr, patience=None)
    after = evaluate_loss(encoder, objective, valid)
    assert math.isfinite(before) and math.isfinite(after)
    assert after < before, (name, target, before, after)
    assert result.n_epochs == epochs and len(result.history) == epochs
    assert all(math.isfinite(h["train_loss"]) and math.isfinite(h["valid_loss"]) for h in result.history)
    assert 1 <= result.best_epoch <= epochs
    assert result.best_valid_loss == pytest.approx(min(h["valid_loss"] for h in result.history))
    assert not encoder.training  # left in eval mode
    # The validation loss is deterministic and the best state was restored.
    assert after == pytest.approx(result.best_valid_loss, rel=1e-5)


@pytest.mark.parametrize("name", ["neighbors", "contrastive"])
def test_evaluate_loss_is_deterministic_and_leaves_global_rng(blobs, name):
    encoder, objective, _, valid = setup(name, blobs[0])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = torch.get_rng_state()
        first = evaluate_loss(encoder, objective, valid)
        assert torch.equal(torch.get_rng_state(), state)
        torch.manual_seed(1)
        assert evaluate_loss(encoder, objective, valid) == first
    assert math.isfinite(first)


def test_evaluate_loss_restores_training_mode(blobs):
    encoder, objective, train, _ = setup("reconstruction", blobs[0])
    encoder.train()
    objective.train()
    loss = evaluate_loss(encoder, objective, train)
    assert math.isfinite(loss)
    assert encoder.training and objective.training
    encoder.eval()
    evaluate_loss(encoder, objective, train)
    assert not encoder.training


# -- train_candidate ------------------------------------------------------------
def test_train_candidate_nan_raises(blobs):
    X = blobs[0]
    objective = make_objective("reconstruction", N_FEATURES, N_COMPONENTS)
    train, valid = objective.prepare(X[:150]), objective.prepare(X[150:])
    with pytest.raises(CandidateFailure, match="non-finite") as info:
        train_candidate(NaNModule(), objective, train, valid, max_epochs=3, batch_size=32)
    assert "non-finite" in info.value.reason
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("patience", [1, 3])
def test_train_candidate_patience_stops_early(blobs, patience):
    encoder, objective, train, valid = setup("reconstruction", blobs[0])
    # A learning rate so small that the validation loss plateaus (below the 1e-4 relative threshold).
    result = train_candidate(encoder, objective, train, valid, max_epochs=20, batch_size=32,
                             learning_rate=1e-10, weight_decay=0.0, patience=patience)
    losses = [h["valid_loss"] for h in result.history]
    assert max(losses) - min(losses) < 1e-4 * abs(losses[0])  # verify the plateau
    assert result.stopped_early
    assert result.n_epochs == patience + 1
    assert result.best_epoch == 1
    assert not result.timed_out


def test_train_candidate_without_patience_runs_all_epochs(blobs):
    encoder, objective, train, valid = setup("reconstruction", blobs[0])
    result = train_candidate(encoder, objective, train, valid, max_epochs=4, batch_size=32,
                             learning_rate=1e-10, weight_decay=0.0, patience=None)
    assert result.n_epochs == 4 and not result.stopped_early


def test_train_candidate_without_valid_uses_train_loss(blobs):
    encoder, objective, train, _ = setup("reconstruction", blobs[0])
    result = train_candidate(encoder, objective, train, None, max_epochs=3, batch_size=32, patience=None)
    assert all(h["valid_loss"] == h["train_loss"] for h in result.history)


def test_train_candidate_identity_has_nothing_to_train(blobs):
    X = blobs[0]
    encoder, objective, train, valid = setup("neighbors", X, arch=Architecture(head="identity"))
    result = train_candidate(encoder, objective, train, valid, max_epochs=5)
    assert isinstance(result, TrainResult)
    assert result.history == [] and result.n_epochs == 0 and result.best_epoch == 0
    assert math.isnan(result.best_valid_loss)
    assert not result.stopped_early and not result.timed_out
    assert torch.equal(embed(encoder, X), X)


def test_train_candidate_deterministic_under_seeded(blobs):
    X = blobs[0]
    arch = Architecture((Block("linear", 16, norm="batchnorm", dropout=0.2), Block("gated", 8)))

    def run():
        with seeded(0):
            encoder, objective, train, valid = setup("neighbors", X, arch=arch)
            result = train_candidate(encoder, objective, train, valid, max_epochs=3, batch_size=32, patience=None)
        return encoder, result

    enc1, res1 = run()
    enc2, res2 = run()
    assert state_equal(enc1, enc2)
    assert [h["valid_loss"] for h in res1.history] == [h["valid_loss"] for h in res2.history]
    # A different seed gives different weights (the check above is not vacuous).
    with seeded(5):
        enc3, _, train, valid = setup("neighbors", X, arch=arch, seed=5)
    assert not state_equal(enc1, enc3)


def test_train_candidate_max_time_zero_stops_after_first_epoch(blobs):
    encoder, objective, train, valid = setup("reconstruction", blobs[0])
    result = train_candidate(encoder, objective, train, valid, max_epochs=10, batch_size=32, max_time=0.0,
                             patience=None)
    assert result.timed_out
    assert result.n_epochs == 1 and len(result.history) == 1
    assert not result.stopped_early


# -- FeatureNet / make_final_net ------------------------------------------------
def make_net(name, X, arch=ARCH, max_epochs=6, seed=0):
    with seeded(seed):
        encoder = build_network(arch, N_FEATURES, N_COMPONENTS)
        objective = make_objective(name, N_FEATURES, encoder.n_outputs)
        net = make_final_net(encoder, objective, max_epochs=max_epochs, batch_size=32, learning_rate=1e-2,
                             weight_decay=1e-5, device="cpu")
        net.initialize()
    return net, objective.prepare(X)


def test_feature_net_builds_no_log_table_when_silent(blobs, capsys):
    # skorch's PrintLog tabulates every epoch even at verbose=0; the silent final network leaves it out, and its
    # history is the same. Asked to be verbose, it prints as skorch does.
    X = blobs[0]
    net, data = make_net("reconstruction", X)
    assert "print_log" not in dict(net.callbacks_)
    with seeded(0):
        net.fit_data(data)
    assert len(net.history) == 6 and capsys.readouterr().out == ""
    encoder, objective, train, _ = setup("reconstruction", X)
    loud = FeatureNet(ObjectiveModel(encoder, objective), max_epochs=2, batch_size=64, verbose=1)
    loud.fit_data(train)
    assert "print_log" in dict(loud.callbacks_) and "train_loss" in capsys.readouterr().out


def test_feature_net_trains_and_pickles(blobs):
    X = blobs[0]
    net, data = make_net("reconstruction", X)
    assert isinstance(net, FeatureNet)
    assert isinstance(net.module_, ObjectiveModel)
    assert net.optimizer_ is not None
    encoder = net.module_.encoder
    with seeded(0):
        net.fit_data(data)
    assert len(net.history) == 6
    losses = net.history[:, "train_loss"]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    assert net.loss_data is None
    assert net.module_.encoder is encoder  # trained in place, not re-created
    with torch.no_grad():
        expected = embed(net.module_.encoder, X)
    restored = pickle.loads(pickle.dumps(net))
    assert restored.loss_data is None
    assert len(restored.history) == 6
    got = embed(restored.module_.encoder, X)
    assert torch.equal(got, expected)
    assert state_equal(restored.module_, net.module_)


def test_feature_net_state_does_not_pickle_rows(blobs):
    X = blobs[0]
    net, data = make_net("reconstruction", X)
    net.loss_data = data  # e.g. pickled in the middle of training
    assert net.__getstate__()["loss_data"] is None
    assert pickle.loads(pickle.dumps(net)).loss_data is None


def test_feature_net_loss_matches_objective(blobs):
    X = blobs[0]
    net, data = make_net("neighbors", X, max_epochs=3)
    with seeded(0):
        net.fit_data(data)
    assert len(net.history) == 3
    assert all(math.isfinite(v) for v in net.history[:, "train_loss"])
    assert net.loss_data is None


def test_feature_net_nan_raises_candidate_failure(blobs):
    X = blobs[0]
    objective = make_objective("reconstruction", N_FEATURES, N_COMPONENTS)
    net = make_final_net(NaNModule(), objective, max_epochs=3, batch_size=32, learning_rate=1e-2,
                         weight_decay=0.0, device="cpu")
    with pytest.raises(CandidateFailure, match="non-finite"):
        net.fit_data(objective.prepare(X))
    assert net.loss_data is None


def test_feature_net_identity_encoder_has_no_optimizer(blobs):
    net, _ = make_net("neighbors", blobs[0], arch=Architecture(head="identity"))
    assert net.initialized_
    assert net.optimizer_ is None
    # With a trainable objective (decoder) there is something to optimise again.
    net2, _ = make_net("reconstruction", blobs[0], arch=Architecture(head="identity"))
    assert net2.optimizer_ is not None


# -- embed ----------------------------------------------------------------------
def test_embed_batched_equals_full_forward(blobs):
    X = blobs[0]
    arch = Architecture((Block("linear", 16, norm="batchnorm", dropout=0.3), Block("attention", 8)))
    with seeded(0):
        encoder = build_network(arch, N_FEATURES, N_COMPONENTS)
    encoder.train()
    encoder(X)  # update BatchNorm running stats so eval differs from train mode
    out = embed(encoder, X, batch_size=37)
    assert not encoder.training
    with torch.no_grad():
        full = encoder(X)
    assert out.shape == (len(X), N_COMPONENTS)
    torch.testing.assert_close(out, full, rtol=1e-5, atol=1e-6)
    assert not out.requires_grad
    # A single-row batch works in eval mode.
    torch.testing.assert_close(embed(encoder, X[:1]), full[:1], rtol=1e-5, atol=1e-6)


def test_embed_empty_input_has_output_width(blobs):
    X = blobs[0]
    encoder = build_network(ARCH, N_FEATURES, N_COMPONENTS)
    assert embed(encoder, X[:0]).shape == (0, N_COMPONENTS)


def test_neighbor_graph_is_built_once_per_input_and_equals_a_fresh_build(monkeypatch):
    import sknas.training.objectives as objectives

    rows = np.random.RandomState(0).normal(size=(120, 5)).astype(np.float32)
    objectives._GRAPH_CACHE.clear()
    fresh = objectives.neighbor_graph(rows, 7)
    calls = []
    real = objectives.NearestNeighbors
    monkeypatch.setattr(objectives, "NearestNeighbors", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = objectives.NeighborsObjective(n_neighbors=7).prepare(torch.as_tensor(rows.copy())).knn
    assert calls == [] and np.array_equal(again.numpy(), fresh)  # same content -> cached, identical
    objectives.neighbor_graph(rows + 1e-3, 7)  # other rows: built anew
    assert calls == [1]
    assert not fresh.flags.writeable  # shared between candidates, so read-only


# -- the neighbour graph of a table with categorical columns -----------------------------------------------
def _mixed_rows(n=120, seed=0):
    """Two measured groups (far apart in two continuous columns), each half one category and half the other:
    a category the encoded rows put one unit apart, farther than most rows of a group are from each other."""
    from sknas.preprocessing.tabular import INDICATOR_VALUE
    from sknas.space.categorical import CategoricalLayout

    rng = np.random.RandomState(seed)
    group = np.repeat([0, 1], n // 2)
    measured = rng.normal(size=(n, 2)) * 0.3 + 4.0 * group[:, None]
    category = np.tile([0, 1], n // 2)
    indicators = np.zeros((n, 2))
    indicators[np.arange(n), category] = INDICATOR_VALUE
    layout = CategoricalLayout(2, (2,))
    return np.hstack([measured, indicators]).astype(np.float32), group, category, layout


def test_neighbors_graph_on_a_mixed_table_takes_a_third_from_the_measurements():
    from sknas.training.objectives import neighbor_graph, numeric_column_kinds

    rows, group, category, layout = _mixed_rows()
    plain = neighbor_graph(rows, 15)
    mixed = NeighborsObjective_prepare(rows, layout)
    k = plain.shape[1]
    # the first two thirds are the encoded rows' graph, unchanged
    assert np.array_equal(mixed[:, :k - k // 3], neighbor_graph(rows, k)[:, :k - k // 3])
    assert numeric_column_kinds(rows, layout)[0] == [0, 1]
    # the last third: each row's nearest other rows in the two measured columns
    from sklearn.neighbors import NearestNeighbors
    nearest = NearestNeighbors(n_neighbors=k // 3 + 1).fit(rows[:, :2]).kneighbors(rows[:, :2], return_distance=False)
    assert all(set(mixed[i, k - k // 3:]) == set(nearest[i]) - {i} for i in range(len(rows)))
    # the category splits the plain graph; the measured third crosses it, and stays within the measured group
    cross = lambda ind: float((category[ind] != category[:, None]).mean())  # noqa: E731
    assert cross(plain) < 0.05 < cross(mixed)
    assert (group[mixed] == group[:, None]).mean() > 0.95


def test_neighbors_graph_without_categorical_columns_is_unchanged():
    rows, *_ = _mixed_rows()
    numeric = rows[:, :2].copy()
    from sknas.space.categorical import CategoricalLayout
    from sknas.training.objectives import neighbor_graph
    assert np.array_equal(NeighborsObjective_prepare(numeric, None), neighbor_graph(numeric, 15))
    # a layout without categorical blocks, or without a continuous column, leaves the graph alone too
    assert np.array_equal(NeighborsObjective_prepare(numeric, CategoricalLayout(2, ())), neighbor_graph(numeric, 15))
    flags_only = rows[:, 2:].copy()
    assert np.array_equal(NeighborsObjective_prepare(flags_only, CategoricalLayout(0, (2,))),
                          neighbor_graph(flags_only, 15))


def test_neighbors_graph_on_a_table_of_flags_takes_a_third_from_the_measurements():
    """A yes/no column given as 0/1 numbers (``AutoSegmenter``'s flags) splits the graph as a category does."""
    from sknas.training.objectives import neighbor_graph, numeric_column_kinds

    rows, group, category, _ = _mixed_rows()
    flag = category[:, None].astype(np.float32)  # the category as one 0/1 column, no layout
    constant = np.zeros((len(rows), 1), dtype=np.float32)  # splits nothing: never a discrete column
    flagged = np.hstack([rows[:, :2], flag, constant])
    assert numeric_column_kinds(flagged, None) == ([0, 1], [2])
    plain, mixed = neighbor_graph(flagged, 15), NeighborsObjective_prepare(flagged, None)
    assert np.array_equal(mixed[:, :10], plain[:, :10]) and not np.array_equal(mixed, plain)
    cross = lambda ind: float((category[ind] != category[:, None]).mean())  # noqa: E731
    assert cross(plain) < 0.05 < cross(mixed)
    # a constant column next to the measurements is not a discrete column: the graph stays the plain one
    measured_and_constant = np.hstack([rows[:, :2], constant])
    assert np.array_equal(NeighborsObjective_prepare(measured_and_constant, None),
                          neighbor_graph(measured_and_constant, 15))


def NeighborsObjective_prepare(rows, layout):
    from sknas.training.objectives import NeighborsObjective

    return NeighborsObjective(layout=layout).prepare(torch.as_tensor(rows)).knn.numpy()


# -- keep="last": the whole budget, the last weights -----------------------------
def test_train_candidate_keep_last_trains_the_whole_budget_and_keeps_the_last_weights(blobs):
    encoder, objective, train, valid = setup("neighbors", blobs[0])
    twin, twin_objective, _, _ = setup("neighbors", blobs[0])
    with seeded(1):
        result = train_candidate(encoder, objective, train, valid, max_epochs=6, batch_size=32, keep="last",
                                 patience=1)  # patience is ignored
    with seeded(1):  # the same run without validation or selection: identical weights at the end
        train_candidate(twin, twin_objective, train, None, max_epochs=6, batch_size=32, patience=None,
                        keep="last")
    assert result.n_epochs == 6 and result.best_epoch == 6 and not result.stopped_early
    assert state_equal(encoder, twin)
    # validated once, after the last epoch
    assert [h["valid_loss"] is None for h in result.history] == [True] * 5 + [False]
    assert result.best_valid_loss == pytest.approx(evaluate_loss(encoder, objective, valid))


def test_train_candidate_keep_best_picks_the_first_epoch_of_a_plateau_and_keep_last_the_last(blobs):
    # A learning rate so small that the validation loss plateaus: "best" keeps epoch 1, "last" epoch 8.
    kwargs = dict(max_epochs=8, batch_size=32, learning_rate=1e-10, weight_decay=0.0, patience=None)
    encoder, objective, train, valid = setup("reconstruction", blobs[0])
    assert train_candidate(encoder, objective, train, valid, keep="best", **kwargs).best_epoch == 1
    encoder, objective, train, valid = setup("reconstruction", blobs[0])
    assert train_candidate(encoder, objective, train, valid, keep="last", **kwargs).best_epoch == 8


def test_train_candidate_rejects_an_unknown_keep(blobs):
    encoder, objective, train, valid = setup("neighbors", blobs[0])
    with pytest.raises(ValueError, match="keep must be 'best' or 'last'"):
        train_candidate(encoder, objective, train, valid, max_epochs=1, keep="first")


# -- one flat parameter buffer (sknas.training.flat) ------------------------------
def _per_tensor_training(encoder, objective, train, epochs, batch_size, grad_clip):
    """train_candidate's loop as it was before the flat buffer: per-tensor AdamW and clipping."""
    from sknas.training.trainer import iterate_batches, make_optimizer

    params = [p for m in (encoder, objective) for p in m.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, 1e-3, 1e-5, train.X.device)
    encoder.train()
    for _ in range(epochs):
        for idx in iterate_batches(len(train), batch_size, train.X.device):
            loss = objective.loss(encoder, train, idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()


@pytest.mark.parametrize("name", ["neighbors", "reconstruction"])
def test_train_candidate_on_one_flat_buffer_trains_the_per_tensor_weights(blobs, name):
    # The same arithmetic as per-tensor AdamW and clip_grad_norm_ (no clipping at this limit), so the same
    # weights up to the rounding of AdamW's vectorised tail (sknas.training.flat); afterwards every parameter
    # owns its storage again and has no gradient.
    arch = Architecture((Block("linear", 16, norm="layernorm"), Block("linear", 16)))
    encoder, objective, train, _ = setup(name, blobs[0], arch=arch)
    twin, twin_objective, _, _ = setup(name, blobs[0], arch=arch)
    with seeded(3):
        train_candidate(encoder, objective, train, None, max_epochs=5, batch_size=64, patience=None,
                        keep="last", grad_clip=1e6)
    with seeded(3):
        _per_tensor_training(twin, twin_objective, train, epochs=5, batch_size=64, grad_clip=1e6)
    for module, reference in ((encoder, twin), (objective, twin_objective)):
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, reference.state_dict()[key], rtol=1e-5, atol=1e-7)
    params = list(encoder.parameters()) + list(objective.parameters())
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)
    assert all(p.grad is None for p in params)


def test_flat_parameters_clip_like_clip_grad_norm():
    from sknas.training.flat import FlatParameters

    with seeded(0):
        nets = [nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)) for _ in range(2)]
        x = torch.randn(16, 4)
    nets[1].load_state_dict(nets[0].state_dict())
    for net in nets:
        (net(x) ** 2).sum().mul(100).backward()
    flat = FlatParameters(list(nets[0].parameters()))
    norm = flat.clip_grad_norm_(0.5)
    expected = torch.nn.utils.clip_grad_norm_(list(nets[1].parameters()), 0.5)
    assert float(norm) == pytest.approx(float(expected), rel=1e-6) and float(norm) > 0.5
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=0)
    assert not FlatParameters.supports([]) and not FlatParameters.supports([nets[0][0].weight] * 2)
    assert not FlatParameters.supports([nets[0][0].weight, nn.Parameter(torch.zeros(2, dtype=torch.float64))])


# -- the training budget ---------------------------------------------------------
def test_auto_epochs_give_small_tables_enough_updates_and_large_ones_the_minimum():
    from sknas.training.budget import AUTO_MIN_EPOCHS, MIN_UPDATES, batches_per_epoch, resolve_epochs, supernet_epochs

    for n_rows in (10, 500, 1437, 12_800, 20_000, 1_000_000):
        epochs = resolve_epochs("auto", n_rows, 512)
        assert epochs >= AUTO_MIN_EPOCHS
        assert epochs * batches_per_epoch(n_rows, 512) >= MIN_UPDATES
        # not more than needed: one epoch fewer would miss one of the two floors
        assert epochs == AUTO_MIN_EPOCHS or (epochs - 1) * batches_per_epoch(n_rows, 512) < MIN_UPDATES
    assert resolve_epochs("auto", 500, 512) == MIN_UPDATES
    assert resolve_epochs("auto", 1_000_000, 512) == AUTO_MIN_EPOCHS
    assert resolve_epochs(7, 500, 512) == 7  # an int is kept as given
    assert supernet_epochs("auto") == AUTO_MIN_EPOCHS and supernet_epochs(3) == 3
    with pytest.raises(ValueError, match="positive int or 'auto'"):
        resolve_epochs("many", 500, 512)


def test_estimators_resolve_auto_epochs_from_their_rows_and_reject_other_strings():
    from sknas import NeuralFeatureMap
    from sknas.cli import _epochs_arg
    from sknas.training.budget import resolve_epochs

    X = np.random.RandomState(0).randn(60, 3)
    fmap = NeuralFeatureMap(Architecture((Block("linear", 4),)), n_components=2, batch_size=16, random_state=0,
                            device="cpu").fit(X)
    assert fmap.max_epochs == "auto"  # the parameter is left as given
    assert fmap.net_.max_epochs == resolve_epochs("auto", 60, 16) == 250  # 4 updates an epoch
    assert len(fmap.net_.history) == 250
    with pytest.raises(ValueError, match="max_epochs"):
        NeuralFeatureMap(max_epochs="many").fit(X)
    assert _epochs_arg("auto") == "auto" and _epochs_arg("7") == 7
