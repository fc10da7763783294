"""DARTSFeatureSearch: the bilevel supernet search, its hypergradient and its collapse remedies."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sknas import DARTSFeatureSearch
from sknas.search.darts import capped_path, darts_hypergradient, first_order_gradient, skip_share
from sknas.space import Architecture, SuperNet
from sknas.training.objectives import ReconstructionObjective

from .conftest import FAST

#: Two supernet layers (so skip/zero are choices), one width, alpha moving from epoch 2.
FAST_DARTS = {**FAST, "max_epochs": 3, "warmup_epochs": 1, "search_space": {"widths": (8,), "max_depth": 2}}


def _fit(X, **params):
    return DARTSFeatureSearch(n_components=3, n_clusters=5, **{**FAST_DARTS, **params}).fit(X)


@pytest.mark.parametrize("order", ["first", "second"])
@pytest.mark.parametrize("relaxation", ["softmax", "gumbel"])
def test_fit_transform_every_variant(customers, order, relaxation):
    X, _ = customers
    search = _fit(X, order=order, relaxation=relaxation)
    Z = search.transform(X)
    assert Z.shape == (len(X), search.n_components_)
    assert np.isfinite(Z).all()
    assert search.architecture_ in {r["architecture"] for r in search.search_history_}
    # alpha moved after warmup (the arch optimizer ran in both relaxations and orders)
    assert not np.allclose(search.alpha_history_[-1][1], search.alpha_history_[0][1])


def test_fitted_attributes(customers):
    X, _ = customers
    search = _fit(X, skip_share_stop=None)
    n_epochs = FAST_DARTS["max_epochs"]
    n_layers = FAST_DARTS["search_space"]["max_depth"]
    assert len(search.alpha_history_) == len(search.edge_entropy_history_) == n_epochs
    assert len(search.skip_share_history_) == len(search.supernet_history_) == n_epochs
    n_ops = [len(("linear", "gated")), len(("linear", "gated", "feature_gate", "skip", "zero"))]
    for epoch in search.alpha_history_:
        assert [len(p) for p in epoch] == n_ops  # layer 0 keeps only width-changing ops
        for p in epoch:
            assert p.dtype == np.float64 and np.isclose(p.sum(), 1.0) and (p > 0).all()
    for entropies, alphas in zip(search.edge_entropy_history_, search.alpha_history_):
        assert entropies.shape == (len(alphas),)
        assert all(0 <= h <= np.log(len(a)) + 1e-9 for h, a in zip(entropies, alphas))
    assert all(s in (0.0, 0.5) for s in search.skip_share_history_)
    assert [h["epoch"] for h in search.supernet_history_] == [1, 2, 3]
    assert [h["alpha_updated"] for h in search.supernet_history_] == [False, True, True]
    assert all(np.isfinite([h["train_loss"], h["valid_loss"]]).all() for h in search.supernet_history_)
    assert search.supernet_architecture_.depth == n_layers
    assert search.stopped_early_ is False
    sources = [r["source"] for r in search.search_history_]
    assert sources == ["darts", "fallback", "fallback"]
    assert search.n_trials_ == 3
    expected = {"architecture", "score", "valid", "status", "reason", "params", "flops", "time", "trial", "step"}
    assert all(expected <= set(r) for r in search.search_history_)
    # the fallbacks are the fixed maps (raw features, label-free LDA); not the linear map (docs/speed.md)
    assert {str(r["architecture"]) for r in search.search_history_[1:]} == {"identity", "lda"}


def test_darts_tries_the_linear_map_when_init_names_it():
    X, _ = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
    search = DARTSFeatureSearch(n_components=2, n_clusters=3, max_epochs=2, warmup_epochs=1, init=Architecture(()),
                                search_space={"widths": (8,), "max_depth": 1}, random_state=0).fit(X)
    assert [str(r["architecture"]) for r in search.search_history_ if r["source"] == "init"] == ["linear"]


# -- the second-order hypergradient ---------------------------------------------------------------------------
def _tiny_problem():
    """A float64 supernet with the (sampling-free) reconstruction objective on fixed rows."""
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = SuperNet(3, 2, ops=("linear", "gated", "skip", "zero"), n_layers=2, width=4).double()
        objective = ReconstructionObjective(3, 2, hidden=16).double()
    with torch.no_grad():
        for a in net.alphas:
            a.copy_(torch.randn(a.shape, generator=gen, dtype=torch.float64))
    train = objective.prepare(torch.randn(12, 3, generator=gen, dtype=torch.float64))
    valid = objective.prepare(torch.randn(10, 3, generator=gen, dtype=torch.float64))
    weights = net.weight_parameters() + list(objective.parameters())
    alphas = net.arch_parameters()

    def train_loss():
        return objective.loss(net, train, torch.arange(12))

    def valid_loss():
        return objective.loss(net, valid, torch.arange(10))

    return weights, alphas, train_loss, valid_loss


def _unrolled_valid_loss(weights, train_loss, valid_loss, xi):
    """L_val(w - xi * grad_w L_train(w, alpha), alpha), weights restored afterwards."""
    backup = [w.detach().clone() for w in weights]
    grads = torch.autograd.grad(train_loss(), weights, allow_unused=True)
    with torch.no_grad():
        for w, g in zip(weights, grads):
            if g is not None:
                w.sub_(xi * g)
        value = float(valid_loss())
        for w, b in zip(weights, backup):
            w.copy_(b)
    return value


def test_second_order_hypergradient_matches_brute_force():
    weights, alphas, train_loss, valid_loss = _tiny_problem()
    xi = 0.1
    w0 = [w.detach().clone() for w in weights]
    hyper = torch.cat(darts_hypergradient(train_loss, valid_loss, weights, alphas, xi)).detach()
    assert all(torch.equal(w, b) for w, b in zip(weights, w0))  # weights restored

    # Brute force: central differences of the unrolled objective in every alpha entry.
    h = 1e-6
    brute = []
    for a in alphas:
        for k in range(len(a)):
            values = []
            for sign in (1, -1):
                with torch.no_grad():
                    a[k] += sign * h
                values.append(_unrolled_valid_loss(weights, train_loss, valid_loss, xi))
                with torch.no_grad():
                    a[k] -= sign * h
            brute.append((values[0] - values[1]) / (2 * h))
    brute = torch.tensor(brute, dtype=torch.float64)
    # Tolerance: in float64 the brute-force central difference is accurate to ~1e-10 absolute (h^2
    # truncation plus 1e-16 * loss / h rounding), i.e. ~1e-6 of this gradient's size (~6e-4).  The DARTS
    # formula is the exact chain rule of the unrolled objective except its Hessian-vector product, a
    # central difference of step 0.01 in weight space whose error is O(eps^2) times xi: measured 5e-6
    # relative here.  1e-4 of the gradient's size leaves a 20x margin and is still >1000x tighter than
    # the gap to the first-order gradient (measured 0.16 relative) asserted below.
    scale = float(brute.abs().max())
    assert torch.allclose(hyper, brute, atol=1e-4 * scale, rtol=0)

    first = torch.cat(first_order_gradient(valid_loss, alphas)).detach()
    assert float((first - brute).abs().max()) > 1e-2 * scale


def test_hypergradient_uses_one_sample_per_step():
    """With a seed, a sampling objective sees the same draw in every evaluation (result reproducible)."""
    weights, alphas, train_loss, valid_loss = _tiny_problem()

    def noisy(loss_fn):
        return lambda: loss_fn() + torch.randn(()) * sum(a.sum() for a in alphas)

    a = darts_hypergradient(noisy(train_loss), noisy(valid_loss), weights, alphas, 0.1, seed=3)
    b = darts_hypergradient(noisy(train_loss), noisy(valid_loss), weights, alphas, 0.1, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


# -- collapse remedies ---------------------------------------------------------------------------------------------
def _skip_heavy_supernet():
    net = SuperNet(4, 2, ops=("linear", "gated", "skip", "zero"), n_layers=4, width=4)
    with torch.no_grad():
        # layers 1-3 favour skip (layer 2 most, then 3, then 1); layer 3 prefers gated among the rest
        net.alphas[1].copy_(torch.tensor([0.0, 0.0, 3.0, 1.0]))
        net.alphas[2].copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))
        net.alphas[3].copy_(torch.tensor([0.0, 1.0, 4.0, 2.0]))
    return net


@pytest.mark.parametrize("max_skip", [0, 1, 2, 3])
def test_skip_cap(max_skip):
    net = _skip_heavy_supernet()
    assert skip_share(net) == 0.75
    arch = net.discretize(capped_path(net, max_skip))
    ops = [b.op for b in arch.blocks]
    assert sum(op in ("skip", "zero") for op in ops) == max_skip
    if max_skip == 1:  # the most confident skip layer keeps it; the others take their best real op
        assert ops == ["linear", "linear", "skip", "gated"]


def _force_skip(self, net, objective, train, valid, idx, v_idx, weights, alphas, a_opt):
    """Stand-in for the alpha step that drives every layer towards skip."""
    with torch.no_grad():
        for a, candidates in zip(alphas, net.supernet.layer_candidates):
            for k, block in enumerate(candidates):
                if block.op == "skip":
                    a[k] += 1.0


def test_skip_share_stop_keeps_alpha_from_before(customers, monkeypatch):
    monkeypatch.setattr(DARTSFeatureSearch, "_arch_step", _force_skip)
    X, _ = customers
    search = _fit(X, max_epochs=8, search_space={"widths": (8,), "max_depth": 3}, skip_share_stop=0.5)
    assert search.stopped_early_ is True
    # warmup epoch, then three skip-heavy epochs in a row (the patience) trigger the stop
    assert len(search.alpha_history_) == 4
    assert search.skip_share_history_ == [0.0, 2 / 3, 2 / 3, 2 / 3]
    # the alpha from before that run (uniform) is what was discretised: no skip anywhere
    assert all(b.op not in ("skip", "zero") for b in search.supernet_architecture_.blocks)


def test_skip_cap_applied_by_the_estimator(customers, monkeypatch):
    monkeypatch.setattr(DARTSFeatureSearch, "_arch_step", _force_skip)
    X, _ = customers
    search = _fit(X, search_space={"widths": (8,), "max_depth": 3}, skip_share_stop=None, max_skip=1)
    assert search.stopped_early_ is False
    assert [b.op for b in search.supernet_architecture_.blocks][1:] == ["skip", "skip"]
    darts = next(r for r in search.search_history_ if r["source"] == "darts")
    assert sum(b.op in ("skip", "zero") for b in darts["architecture"].blocks) == 1


# -- the scikit-learn contract ------------------------------------------------------------------------------------
def test_deterministic_with_random_state(customers):
    X, _ = customers
    a, b = _fit(X, relaxation="gumbel"), _fit(X, relaxation="gumbel")
    for ea, eb in zip(a.alpha_history_, b.alpha_history_):
        assert all(np.array_equal(x, y) for x, y in zip(ea, eb))
    assert a.architecture_ == b.architecture_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_pipeline_and_pickle_round_trip(customers):
    X, _ = customers
    pipe = make_pipeline(DARTSFeatureSearch(n_components=3, n_clusters=5, **FAST_DARTS),
                         KMeans(5, n_init=3, random_state=0)).fit(X)
    labels = pipe.predict(X)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), labels)
    np.testing.assert_array_equal(restored[0].transform(X), pipe[0].transform(X))
    assert restored[0].alpha_history_[0][0].shape == pipe[0].alpha_history_[0][0].shape


def test_global_rngs_untouched(customers):
    X, _ = customers
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    _fit(X, order="second", relaxation="gumbel")
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), np_state) if isinstance(x, np.ndarray))


def test_params_stored_untouched_and_validated(customers):
    X, _ = customers
    params = {"order": "second", "relaxation": "gumbel", "arch_learning_rate": 0.01, "arch_weight_decay": 0.0,
              "warmup_epochs": 0, "max_skip": 0, "skip_share_stop": None}
    search = DARTSFeatureSearch(**params)
    assert {k: search.get_params()[k] for k in params} == params
    assert clone(search).get_params() == search.get_params()
    for bad in ({"order": "third"}, {"relaxation": "hard"}, {"arch_learning_rate": 0.0},
                {"warmup_epochs": -1}, {"max_skip": -1}, {"skip_share_stop": 1.5}):
        with pytest.raises(InvalidParameterError):
            DARTSFeatureSearch(**{**FAST_DARTS, **bad}).fit(X)


def test_supernet_score_is_recorded_next_to_the_retrained_score(customers):
    X, _ = customers
    search = _fit(X)
    darts = [r for r in search.search_history_ if r["source"] == "darts"]
    assert len(darts) == 1
    assert darts[0]["supernet_score"] == search.supernet_score_
    assert np.isfinite(search.supernet_score_) or search.supernet_score_ == -np.inf
    assert [len(ops) for ops in search.supernet_layer_ops_] == [len(a) for a in search.alpha_history_[0]]


def test_grid_search_with_label_free_scorer(customers):
    from sklearn.cluster import KMeans
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sknas.metrics import silhouette_scorer

    X, _ = customers
    pipe = make_pipeline(DARTSFeatureSearch(n_components=2, n_clusters=3, **FAST_DARTS), KMeans(3, n_init=2))
    grid = GridSearchCV(pipe, {"dartsfeaturesearch__order": ["first", "second"]}, scoring=silhouette_scorer,
                        cv=2).fit(X)
    assert np.isfinite(grid.best_score_)
    assert grid.best_params_["dartsfeaturesearch__order"] in ("first", "second")


def test_skip_share_stop_ignores_a_flicker(customers, monkeypatch):
    """Skip-heavy epochs that do not last _SKIP_STOP_PATIENCE epochs in a row never stop the search."""
    import sknas.search.darts as darts

    shares = iter([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    monkeypatch.setattr(darts, "skip_share", lambda supernet: next(shares))
    X, _ = customers
    search = _fit(X, max_epochs=8, skip_share_stop=0.5)
    assert search.stopped_early_ is False
    assert len(search.skip_share_history_) == 8
