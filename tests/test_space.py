"""Tests of sknas.space: Architecture/Block, the builder, SearchSpace primitives and the SuperNet."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from sknas.space import (
    ACTIVATIONS, NORMS, OPS, Architecture, Block, FeatureNetwork, SearchSpace, SuperNet, build_network,
)
from sknas.space.ops import PRESERVING_OPS, WIDTH_OPS

#: A space that can produce every op, norm, activation, dropout and residual choice; small widths keep it fast.
FULL_SPACE = SearchSpace(ops=OPS, widths=(1, 3, 16), max_depth=4, activations=ACTIVATIONS, norms=NORMS,
                         dropouts=(0.0, 0.25), residual=(False, True), identity_prob=0.1)

#: Spaces with different shapes, to check that the primitives stay inside each of them.
SPACES = {
    "default": SearchSpace(),
    "full": FULL_SPACE,
    "width_ops_only": SearchSpace(ops=WIDTH_OPS, widths=(4,), max_depth=2),
    "no_identity": SearchSpace(widths=(4, 8), max_depth=2, include_identity=False),
    "depth0": SearchSpace(max_depth=0),
    "depth0_no_identity": SearchSpace(max_depth=0, include_identity=False),
    "depth1": SearchSpace(widths=(8,), max_depth=1, identity_prob=0.3),
    "preserving_only": SearchSpace(ops=("feature_gate", "skip", "zero"), max_depth=3),
    "zero_without_residual": SearchSpace(ops=("linear", "zero"), widths=(4,), residual=(False,)),
    "zero_only": SearchSpace(ops=("zero",), residual=(True,), max_depth=2, include_identity=False),
}


def n_trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def random_archs(space, n, seed=0):
    rng = np.random.RandomState(seed)
    return [space.sample(rng) for _ in range(n)]


# -- Block / Architecture as plain data ---------------------------------------
def test_block_and_architecture_are_frozen():
    block = Block("linear", 8)
    arch = Architecture((block,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.width = 16
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.head = "identity"
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.blocks = ()
    assert isinstance(arch.blocks, tuple)


def test_architecture_blocks_list_and_dicts_are_normalised():
    arch = Architecture([{"op": "linear", "width": 8}, Block("gated", 4)])
    assert isinstance(arch.blocks, tuple)
    assert arch.blocks == (Block("linear", 8), Block("gated", 4))
    assert arch == Architecture((Block("linear", 8), Block("gated", 4)))
    with pytest.raises(TypeError):
        Architecture(("linear",))


def test_equality_and_hash_by_value():
    a = Architecture((Block("linear", 8, norm="batchnorm"), Block("feature_gate")))
    b = Architecture((Block("linear", 8, norm="batchnorm"), Block("feature_gate")))
    c = Architecture((Block("linear", 16, norm="batchnorm"), Block("feature_gate")))
    assert a == b and a is not b
    assert hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    cache = {a: 1.0}
    assert cache[b] == 1.0
    assert c not in cache
    # Width is canonicalised for width-preserving ops, so equal maps compare and hash equal.
    assert Block("skip", 7) == Block("skip", 0)
    assert hash(Block("feature_gate", 5)) == hash(Block("feature_gate"))
    assert Block("feature_gate", 5).width == 0
    assert Architecture(head="identity") == Architecture((), "identity")
    assert Architecture(head="identity") != Architecture(())


def test_json_and_dict_round_trip_many_random_architectures():
    archs = random_archs(FULL_SPACE, 300, seed=1) + random_archs(SearchSpace(), 100, seed=2)
    assert any(a.head == "identity" for a in archs)
    assert any(a.depth == FULL_SPACE.max_depth for a in archs)
    for arch in archs:
        text = arch.to_json()
        assert isinstance(json.loads(text), dict)
        back = Architecture.from_json(text)
        assert back == arch
        assert hash(back) == hash(arch)
        assert back.to_json() == text
        assert Architecture.from_dict(arch.to_dict()) == arch
        # The dict is plain data: it survives a generic JSON round trip too.
        assert Architecture.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
        assert str(back) == str(arch)


def test_from_dict_defaults_and_rejects_unknown_keys():
    assert Architecture.from_dict({}) == Architecture(())
    assert Architecture.from_dict({"head": "identity"}) == Architecture(head="identity")
    assert Architecture.from_dict({"blocks": [{"op": "gated", "width": 3}]}) == Architecture((Block("gated", 3),))
    with pytest.raises(ValueError):
        Architecture.from_dict({"blocks": [], "head": "linear", "depth": 2})
    with pytest.raises(ValueError):
        Architecture.from_dict({"blocks": [{"op": "linear", "width": 8, "size": 3}]})
    with pytest.raises(ValueError):
        Architecture.from_dict({"blocks": ["linear"]})
    with pytest.raises(ValueError):
        Architecture.from_dict([("head", "linear")])
    with pytest.raises(ValueError):
        Architecture.from_json('{"blocks": [], "head": "mlp"}')


def test_readable_str():
    arch = Architecture((
        Block("linear", 64, norm="batchnorm"),
        Block("feature_gate", activation="identity", residual=True),
        Block("gated", 16, activation="gelu", norm="layernorm", dropout=0.1),
    ))
    text = str(arch)
    assert text == ("linear(64)-batchnorm-relu | res[feature_gate] | gated(16)-layernorm-gelu-dropout(0.1) "
                    "-> linear")
    assert str(Architecture(())) == "linear"
    assert str(Architecture(head="identity")) == "identity"
    assert str(Block("zero", residual=True, activation="identity")) == "res[zero]"
    for arch in random_archs(FULL_SPACE, 50, seed=3):
        s = str(arch)
        assert isinstance(s, str) and s
        assert "Block(" not in s and "Architecture(" not in s
        for block in arch.blocks:
            assert block.op in s


@pytest.mark.parametrize("kwargs", [
    {"op": "conv"},
    {"op": "linear", "width": 8, "activation": "softmax"},
    {"op": "linear", "width": 8, "norm": "groupnorm"},
    {"op": "linear", "width": 0},
    {"op": "gated"},
    {"op": "attention", "width": 0},
    {"op": "linear", "width": -3},
    {"op": "linear", "width": 2.5},
    {"op": "linear", "width": True},
    {"op": "linear", "width": 8, "dropout": 1.0},
    {"op": "linear", "width": 8, "dropout": -0.1},
    {"op": "linear", "width": 8, "dropout": float("nan")},
    {"op": "zero"},
    {"op": "zero", "residual": False},
    {"op": "skip", "width": -1},
])
def test_invalid_blocks_rejected(kwargs):
    with pytest.raises(ValueError):
        Block(**kwargs)


def test_invalid_architectures_rejected():
    with pytest.raises(ValueError):
        Architecture((Block("linear", 8),), head="identity")
    with pytest.raises(ValueError):
        Architecture((), head="softmax")
    # Valid edge cases.
    assert Block("zero", residual=True).residual
    assert Block("linear", 1, dropout=0.0).width == 1
    assert Block("linear", 8, dropout=0.99).dropout == 0.99


# -- cost model -----------------------------------------------------------------
@pytest.mark.parametrize("n_features", [1, 5, 17])
def test_n_params_matches_built_network(n_features):
    rng = np.random.RandomState(n_features)
    archs = [FULL_SPACE.sample(rng) for _ in range(100)]
    used_ops = {b.op for a in archs for b in a.blocks}
    assert used_ops == set(OPS)  # every op is exercised
    assert any(b.residual and b.op in WIDTH_OPS for a in archs for b in a.blocks)
    for arch in archs:
        for n_components in (1, 3):
            net = build_network(arch, n_features, n_components)
            assert arch.n_params(n_features, n_components) == n_trainable(net), str(arch)


def test_n_params_known_value_and_identity():
    assert Architecture((Block("linear", 64, norm="batchnorm"),)).n_params(10, 2) == 962
    assert Architecture(head="identity").n_params(10, 2) == 0
    assert Architecture(head="lda").n_params(10, 2) == 10 * 2 + 2  # its fitted projection counts
    assert Architecture(()).n_params(10, 2) == 22
    assert n_trainable(build_network(Architecture(head="identity"), 10, 2)) == 0


def test_flops_positive_and_monotone_in_width():
    for arch in random_archs(FULL_SPACE, 100, seed=4):
        if arch.head != "identity":
            assert arch.flops(5, 2) > 0, str(arch)
    assert Architecture(head="identity").flops(5, 2) == 0
    assert Architecture(head="lda").flops(5, 2) == 2 * 5 * 2
    for op in WIDTH_OPS:
        flops = [Architecture((Block(op, w),)).flops(10, 2) for w in (4, 8, 16, 32)]
        assert all(a < b for a, b in zip(flops, flops[1:])), (op, flops)
    # More components, more flops; more input features, more flops.
    arch = Architecture((Block("linear", 16),))
    assert arch.flops(10, 2) < arch.flops(10, 4)
    assert arch.flops(10, 2) < arch.flops(20, 2)
    # A block on top adds cost.
    assert Architecture((Block("linear", 16), Block("linear", 16))).flops(10, 2) > arch.flops(10, 2)


# -- builder --------------------------------------------------------------------
@pytest.mark.parametrize("n_features", [1, 5, 17])
def test_build_network_output_shapes(n_features):
    for arch in random_archs(FULL_SPACE, 25, seed=10 + n_features):
        net = build_network(arch, n_features, 3)
        assert isinstance(net, FeatureNetwork)
        expected = n_features if arch.head == "identity" else 3
        assert net.n_outputs == expected == arch.output_width(n_features, 3)
        net.train()
        out = net(torch.randn(2, n_features))
        assert out.shape == (2, expected)
        net.eval()
        with torch.no_grad():
            out = net(torch.randn(1, n_features))
        assert out.shape == (1, expected)
        assert torch.isfinite(out).all()


def test_identity_network_returns_input():
    net = build_network(Architecture(head="identity"), 4, 2)
    x = torch.randn(3, 4)
    assert torch.equal(net(x), x)


def test_build_network_rejects_non_architecture():
    with pytest.raises(TypeError):
        build_network({"blocks": [], "head": "linear"}, 4, 2)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("norm", NORMS)
def test_every_op_forward_backward(op, norm):
    block = Block(op, 0 if op in PRESERVING_OPS else 6, norm=norm, residual=op == "zero")
    arch = Architecture((block, Block("linear", 4)))
    net = build_network(arch, 5, 2)
    x = torch.randn(8, 5)
    out = net(x)
    assert out.shape == (8, 2)
    out.pow(2).sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    # The op itself receives gradient when it has weights.
    op_params = list(net.blocks[0].op.parameters())
    assert all(p.grad is not None for p in op_params)
    assert (len(op_params) == 0) == (op in ("skip", "zero"))


def test_residual_with_mismatched_widths():
    arch = Architecture((Block("linear", 7, residual=True), Block("gated", 3, residual=True),
                         Block("feature_gate", residual=True)))
    net = build_network(arch, 5, 2)
    assert isinstance(net.blocks[0].shortcut, torch.nn.Linear)
    assert net.blocks[0].shortcut.in_features == 5 and net.blocks[0].shortcut.out_features == 7
    assert isinstance(net.blocks[2].shortcut, torch.nn.Identity)
    out = net(torch.randn(4, 5))
    assert out.shape == (4, 2)
    out.sum().backward()
    assert net.blocks[0].shortcut.weight.grad is not None
    assert arch.n_params(5, 2) == n_trainable(net)


def test_zero_residual_block_is_identity_of_input():
    block = Block("zero", activation="relu", residual=True)
    net = build_network(Architecture((block,)), 4, 4)
    x = torch.randn(6, 4)
    # relu(zero) == 0, so the block passes its input through unchanged.
    assert torch.equal(net.blocks(x), x)


# -- SearchSpace ----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SPACES))
def test_primitives_stay_in_space(name):
    space = SPACES[name]
    rng = np.random.RandomState(0)
    parents = [space.sample(rng) for _ in range(60)]
    for arch in parents:
        assert isinstance(arch, Architecture)
        assert space.contains(arch), (name, str(arch))
    for i, arch in enumerate(parents):
        child = space.mutate(arch, random_state=i)
        assert space.contains(child), (name, str(arch), str(child))
        other = parents[(i * 7 + 3) % len(parents)]
        for kind in ("one_point", "uniform"):
            kid = space.crossover(arch, other, random_state=i, kind=kind)
            assert isinstance(kid, Architecture)
            assert space.contains(kid), (name, kind, str(arch), str(other), str(kid))
    # Chains of mutations stay inside too.
    arch = parents[0]
    for i in range(60):
        arch = space.mutate(arch, random_state=rng)
        assert space.contains(arch), (name, str(arch))


@pytest.mark.parametrize("name", sorted(set(SPACES) - {"depth0_no_identity"}))
def test_mutate_changes_the_architecture(name):
    space = SPACES[name]
    rng = np.random.RandomState(1)
    for _ in range(60):
        arch = space.sample(rng)
        assert space.mutate(arch, random_state=rng) != arch, (name, str(arch))


def test_mutate_in_a_single_member_space_returns_the_member():
    space = SPACES["depth0_no_identity"]
    assert space.sample(0) == Architecture(())
    assert space.mutate(Architecture(()), random_state=0) == Architecture(())


def test_spaces_respect_their_restrictions():
    for arch in random_archs(SPACES["width_ops_only"], 100):
        assert all(b.op in WIDTH_OPS and b.width == 4 for b in arch.blocks)
    for arch in random_archs(SPACES["no_identity"], 200):
        assert arch.head == "linear"
    depth0 = set(random_archs(SPACES["depth0"], 300))
    assert depth0 == {Architecture(()), Architecture(head="identity")}
    depth1 = random_archs(SPACES["depth1"], 100)
    assert max(a.depth for a in depth1) == 1
    assert {a.depth for a in depth1 if a.head == "linear"} == {0, 1}
    for arch in random_archs(SPACES["zero_without_residual"], 100):
        assert all(b.op == "linear" for b in arch.blocks)
    assert not SPACES["no_identity"].contains(Architecture(head="identity"))
    assert not SPACES["depth1"].contains(Architecture((Block("linear", 8),) * 2))
    assert not SPACES["depth1"].contains(Architecture((Block("linear", 16),)))
    assert not SPACES["width_ops_only"].contains(Architecture((Block("feature_gate"),)))
    assert SearchSpace().contains(Architecture((Block("feature_gate"),)))


def test_sample_covers_choices():
    archs = random_archs(FULL_SPACE, 300, seed=5)
    blocks = [b for a in archs for b in a.blocks]
    assert {b.op for b in blocks} == set(OPS)
    assert {b.activation for b in blocks} == set(ACTIVATIONS)
    assert {b.norm for b in blocks} == set(NORMS)
    assert {b.dropout for b in blocks} == {0.0, 0.25}
    assert {b.residual for b in blocks} == {False, True}
    assert {a.depth for a in archs if a.head == "linear"} == set(range(FULL_SPACE.max_depth + 1))


def test_crossover_combines_parents():
    space = SearchSpace(widths=(4, 8), max_depth=4)
    a = Architecture(tuple(Block("linear", 4, activation="relu") for _ in range(3)))
    b = Architecture(tuple(Block("gated", 8, activation="tanh") for _ in range(3)))
    pool_a, pool_b = set(a.blocks), set(b.blocks)
    for kind in ("one_point", "uniform"):
        kids = [space.crossover(a, b, random_state=s, kind=kind) for s in range(40)]
        for kid in kids:
            assert all(blk in pool_a | pool_b for blk in kid.blocks)
            assert kid.depth <= space.max_depth
        # Some child mixes both parents.
        assert any(set(k.blocks) & pool_a and set(k.blocks) & pool_b for k in kids), kind
    # The child is truncated to max_depth.
    short = SearchSpace(widths=(4, 8), max_depth=2)
    for s in range(20):
        assert short.crossover(a, b, random_state=s, kind="uniform").depth <= 2
        assert short.crossover(a, b, random_state=s, kind="one_point").depth <= 2
    ident = Architecture(head="identity")
    assert space.crossover(ident, ident, random_state=0) == ident
    kid = space.crossover(ident, b, random_state=0, kind="uniform")
    assert all(blk in pool_b for blk in kid.blocks)
    with pytest.raises(ValueError):
        space.crossover(a, b, random_state=0, kind="two_point")


def test_determinism_with_same_seed():
    space = FULL_SPACE
    for seed in range(10):
        assert space.sample(seed) == space.sample(seed)
        arch = space.sample(seed)
        assert space.mutate(arch, random_state=seed) == space.mutate(arch, random_state=seed)
        other = space.sample(seed + 100)
        for kind in ("one_point", "uniform"):
            assert (space.crossover(arch, other, random_state=seed, kind=kind)
                    == space.crossover(arch, other, random_state=seed, kind=kind))
    r1, r2 = np.random.RandomState(3), np.random.RandomState(3)
    assert [space.sample(r1) for _ in range(5)] == [space.sample(r2) for _ in range(5)]


def test_different_seeds_differ():
    space = SearchSpace()
    assert len({space.sample(seed) for seed in range(10)}) > 5
    arch = space.sample(0)
    assert len({space.mutate(arch, random_state=seed) for seed in range(10)}) > 2
    # A RandomState instance advances between calls.
    rng = np.random.RandomState(0)
    assert len({space.sample(rng) for _ in range(10)}) > 5


@pytest.mark.parametrize("kwargs", [
    {"ops": ()},
    {"ops": ("conv",)},
    {"ops": ("linear", "pool")},
    {"ops": ("zero",), "residual": (False,)},
    {"widths": ()},
    {"widths": (0,)},
    {"widths": (8, -1)},
    {"widths": (2.5,)},
    {"widths": (True,)},
    {"dropouts": ()},
    {"dropouts": (1.0,)},
    {"dropouts": (-0.1,)},
    {"residual": ()},
    {"activations": ()},
    {"activations": ("softmax",)},
    {"norms": ("groupnorm",)},
    {"max_depth": -1},
    {"max_depth": 17},
    {"max_depth": 1.5},
    {"identity_prob": 1.5},
    {"identity_prob": -0.1},
])
def test_invalid_spaces_raise(kwargs):
    with pytest.raises(ValueError):
        SearchSpace(**kwargs)


def test_space_from_dict():
    space = SearchSpace.from_dict({"widths": [8, 16], "max_depth": 1, "ops": ["linear"]})
    assert space.widths == (8, 16) and space.ops == ("linear",) and space.max_depth == 1
    assert space == SearchSpace(widths=(8, 16), max_depth=1, ops=("linear",))
    hash(space)  # lists were turned into tuples
    assert SearchSpace.from_dict({}) == SearchSpace()
    with pytest.raises(ValueError, match="depth"):
        SearchSpace.from_dict({"depth": 2})
    with pytest.raises(ValueError):
        SearchSpace.from_dict({"widths": (8,), "width": 8})


def test_fallback():
    space = SearchSpace()
    assert space.fallback("identity") == Architecture(head="identity")
    assert space.fallback("linear") == Architecture(())
    assert space.contains(space.fallback("identity")) and space.contains(space.fallback("linear"))
    no_id = SearchSpace(include_identity=False)
    assert no_id.fallback("identity") is None
    assert no_id.fallback("linear") == Architecture(())
    with pytest.raises(ValueError):
        space.fallback("pca")


# -- SuperNet -------------------------------------------------------------------
def make_supernet(seed=0, **kwargs):
    torch.manual_seed(seed)
    params = {"ops": OPS, "n_layers": 3, "width": 8}
    params.update(kwargs)
    return SuperNet(5, 3, **params)


def test_supernet_forward_shape_and_discretize():
    with torch.random.fork_rng():
        net = make_supernet()
    x = torch.randn(4, 5)
    assert net(x).shape == (4, 3)
    arch = net.discretize()
    assert isinstance(arch, Architecture)
    assert arch.depth == 3 and arch.head == "linear"
    # Layer 0 holds only width-changing ops; later layers are residual.
    assert all(b.op in WIDTH_OPS for b in net.layer_candidates[0])
    assert all(b.residual for cands in net.layer_candidates[1:] for b in cands)
    assert len(net.layer_candidates[1]) == len(OPS)
    # Valid Architecture, buildable at the same widths.
    assert build_network(arch, 5, 3)(x).shape == (4, 3)
    with pytest.raises(ValueError):
        SuperNet(5, 3, ops=("skip", "zero"))
    with pytest.raises(ValueError):
        SuperNet(5, 3, n_layers=0)


def test_supernet_discretize_follows_alpha_argmax():
    with torch.random.fork_rng():
        net = make_supernet()
    path = [1, 4, 5]
    with torch.no_grad():
        for alpha, i in zip(net.alphas, path):
            alpha.zero_()
            alpha[i] = 3.0
    arch = net.discretize()
    assert arch == net.discretize(path)
    assert arch.blocks == tuple(c[i] for c, i in zip(net.layer_candidates, path))


def test_supernet_one_hot_alpha_equals_discretized_network():
    with torch.random.fork_rng():
        net = make_supernet(seed=1, norm="layernorm")
        x = torch.randn(16, 5)
        rng = np.random.RandomState(0)
        paths = [[int(rng.randint(len(c))) for c in net.layer_candidates] for _ in range(8)]
        paths.append([len(c) - 1 for c in net.layer_candidates])  # includes "zero" (last op)
    net.eval()
    for path in paths:
        with torch.no_grad():
            for alpha, i in zip(net.alphas, path):
                alpha.fill_(-1000.0)
                alpha[i] = 1000.0
        arch = net.discretize()
        assert arch == net.discretize(path)
        built = build_network(arch, 5, 3)
        for i, idx in enumerate(path):
            built.blocks[i].load_state_dict(net.layers[i].blocks[idx].state_dict())
        built.head.load_state_dict(net.head.state_dict())
        built.eval()
        with torch.no_grad():
            mixed = net(x)
            single = net(x, path=path)
            expected = built(x)
        torch.testing.assert_close(single, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(mixed, expected, rtol=1e-5, atol=1e-6)
        # The parameter count of the chosen path is the Architecture's.
        chosen = sum(n_trainable(net.layers[i].blocks[idx]) for i, idx in enumerate(path)) + n_trainable(net.head)
        assert arch.n_params(5, 3) == chosen


def test_supernet_uniform_alpha_mixes_ops():
    with torch.random.fork_rng():
        net = make_supernet(seed=2)
        x = torch.randn(8, 5)
    net.eval()
    with torch.no_grad():
        mixed = net(x)
        single = net(x, path=[0, 0, 0])
    assert not torch.allclose(mixed, single)


def test_supernet_parameter_split():
    with torch.random.fork_rng():
        net = make_supernet()
    weights, archs = net.weight_parameters(), net.arch_parameters()
    assert len(archs) == 3
    assert [a.shape[0] for a in archs] == [len(c) for c in net.layer_candidates]
    ids_w, ids_a = {id(p) for p in weights}, {id(p) for p in archs}
    assert not ids_w & ids_a
    assert ids_w | ids_a == {id(p) for p in net.parameters()}
    assert len(ids_w) == len(weights) and len(weights) > 0
    # alphas start uniform and receive gradients through the mixed forward pass.
    assert all(torch.equal(a, torch.zeros_like(a)) for a in archs)
    net(torch.randn(4, 5)).pow(2).sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in archs)


def test_mutate_never_raises_on_default_space():
    # Regression: mutating the width of a width op must not take the width of a
    # freshly drawn width-preserving op (0), which Block rejects.
    space = SearchSpace()
    rng = np.random.RandomState(7)
    for _ in range(2000):
        arch = space.sample(rng)
        child = space.mutate(arch, random_state=rng)
        assert space.contains(child)
