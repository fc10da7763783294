"""Train a whole generation of candidate Architectures as one batched model.

:class:`PopulationNetwork` stacks ``P`` feature networks into one module whose
forward maps ``(B, d)`` (or ``(P, B, d)``) to ``(P, B, n_components)``.  The
candidates differ in depth, widths and per-block choices, so every candidate is
padded to the generation's depth and, per layer, to the widest candidate:

- a padding layer (beyond a candidate's depth) is an exact pass-through
  (``torch.where``, not arithmetic);
- padded weight entries start at zero and receive exactly zero gradient (padded
  inputs are zero and padded outputs never reach the loss; tested), so they stay
  zero and hidden padded columns are exactly zero;
- op, activation, norm, dropout and residual are selected per candidate by
  masks; LayerNorm statistics use each candidate's real width only, BatchNorm
  statistics are per column (padded columns are zero and masked out);
- gated ops and projection shortcuts run only on the candidates that have them
  (index subsets), the rest of each layer is one ``matmul`` over the population.

Padding wastes work when a generation mixes narrow and wide candidates, so
:func:`train_population` splits a generation into a few groups of similar
shape (:func:`plan_groups`) and trains each group as one PopulationNetwork.

Member ``i`` computes exactly what ``build_network(architectures[i], ...)``
computes with the same weights (see :meth:`PopulationNetwork.load_member` and
:meth:`PopulationNetwork.extract_member`); dropout draws different masks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..space.architecture import Architecture
from ..space.builder import build_network
from .device import seeded
from .objectives import make_objective
from .trainer import GRAD_CLIP, VALIDATION_SEED, iterate_batches

#: Ops a PopulationNetwork can batch.
BATCHABLE_OPS = ("linear", "gated", "feature_gate", "skip")
#: Objectives whose loss supports a population (no trainable extras).
BATCHABLE_OBJECTIVES = ("neighbors", "auto")

_ACTS = {"relu": torch.relu, "gelu": F.gelu, "silu": F.silu, "tanh": torch.tanh}
_BN_EPS = 1e-5
_LN_EPS = 1e-5
_BN_MOMENTUM = 0.1


def can_batch(architecture, objective_name="neighbors"):
    """Whether ``architecture`` (trained with ``objective_name``) can join a PopulationNetwork.

    Attention blocks, ``zero`` ops and the identity head are trained one at a
    time (``train_candidate``); so are objectives with trainable extras
    (reconstruction's decoder, contrastive's projection, supervised's head).
    """
    if objective_name not in BATCHABLE_OBJECTIVES:
        return False
    if not isinstance(architecture, Architecture) or architecture.head != "linear":
        return False
    return all(b.op in BATCHABLE_OPS for b in architecture.blocks)


def _pad(x, width):
    """Zero-pad or trim the last dim of ``x`` to ``width``."""
    have = x.shape[-1]
    if have == width:
        return x
    if have > width:
        return x[..., :width]
    return F.pad(x, (0, width - have))


class PopulationNetwork(nn.Module):
    """``P`` feature networks as one module: ``(B, d)`` or ``(P, B, d)`` -> ``(P, B, n_components)``.

    Parameters
    ----------
    architectures : sequence of Architecture
        Each must satisfy :func:`can_batch` (ops linear, gated, feature_gate,
        skip; a linear head).
    n_features, n_components : int

    Notes
    -----
    Weights are initialised to zero; fill them with :meth:`load_member` (e.g.
    from ``build_network`` under a seed), as :func:`train_population` does.
    """

    def __init__(self, architectures, n_features, n_components):
        super().__init__()
        architectures = list(architectures)
        if not architectures:
            raise ValueError("A PopulationNetwork needs at least one architecture.")
        for a in architectures:
            if not can_batch(a):
                raise ValueError(f"Architecture {a} cannot be batched (attention/zero ops or an identity head); "
                                 "train it sequentially with train_candidate.")
        self.architectures = architectures
        self.n_features = int(n_features)
        self.n_components = int(n_components)
        self.n_outputs = self.n_components
        P = self.P = len(architectures)
        D = self.depth = max(a.depth for a in architectures)
        # widths[i][l]: input width of slot l (depth-padding slots keep the width).
        widths = []
        for a in architectures:
            w = a.widths(self.n_features)
            widths.append(w + [w[-1]] * (D - a.depth))
        self.widths = widths
        self.slots = []
        for l in range(D):
            win = [widths[i][l] for i in range(P)]
            wout = [widths[i][l + 1] for i in range(P)]
            self.slots.append(self._make_slot(l, architectures, win, wout))
        h_last = max(w[-1] for w in widths)
        self.head_weight = nn.Parameter(torch.zeros(P, h_last, self.n_components))
        self.head_bias = nn.Parameter(torch.zeros(P, 1, self.n_components))

    # -- construction -------------------------------------------------------
    def _make_slot(self, l, architectures, win, wout):
        P = self.P
        Hin, Hout = max(win), max(wout)
        blocks = [a.blocks[l] if l < a.depth else None for a in architectures]
        kinds = ["pass" if b is None else b.op for b in blocks]
        kinds = ["pass" if k == "skip" and not blocks[i].residual and blocks[i].norm == "none"
                 and blocks[i].activation == "identity" else k for i, k in enumerate(kinds)]
        mm = [i for i, k in enumerate(kinds) if k in ("linear", "gated")]
        gated = [i for i, k in enumerate(kinds) if k == "gated"]
        fg = [i for i, k in enumerate(kinds) if k == "feature_gate"]
        skip = [i for i, k in enumerate(kinds) if k == "skip"]
        proj = [i for i, b in enumerate(blocks) if b is not None and b.residual and win[i] != wout[i]]
        res_id = [i for i, b in enumerate(blocks) if b is not None and b.residual and win[i] == wout[i]]
        slot = {"Hin": Hin, "Hout": Hout, "kinds": kinds, "mm": mm, "gated": gated, "fg": fg, "proj": proj}
        p = f"s{l}_"

        def buf(name, value, persistent=False):
            self.register_buffer(p + name, value, persistent=persistent)

        def param(name, shape, fill=0.0):
            self.register_parameter(p + name, nn.Parameter(torch.full(shape, fill)))

        out_mask = torch.zeros(P, 1, Hout)
        for i in range(P):
            out_mask[i, 0, :wout[i]] = 1.0
        # Linear and gated members only (index subset): the weights of other members would
        # otherwise receive gradient through the shared output.
        if mm:
            param("weight", (len(mm), Hin, Hout))
            param("bias", (len(mm), 1, Hout))
            buf("mm_idx", torch.tensor(mm, dtype=torch.long))
        if gated:
            G = len(gated)
            param("gate_weight", (G, Hin, Hout))
            param("gate_bias", (G, 1, Hout))
            buf("gated_idx", torch.tensor(gated, dtype=torch.long))
            buf("gated_pos", torch.tensor([mm.index(i) for i in gated], dtype=torch.long))
        keep = fg + skip
        if keep:
            # Width-preserving ops: out = x * (sigmoid(logits) for feature_gate, 1 for skip).
            km = torch.zeros(P, 1, Hin)
            for i in keep:
                km[i, 0, :win[i]] = 1.0
            buf("keep_mask", km)
            if fg:
                param("gate_logits", (P, 1, Hin), 0.0)
                fm = torch.zeros(P, 1, Hin)
                for i in fg:
                    fm[i, 0, :win[i]] = 1.0
                buf("fg_mask", fm)
                sk = torch.zeros(P, 1, Hin)
                for i in skip:
                    sk[i, 0, :win[i]] = 1.0
                buf("skip_mask", sk)
        norms = [b.norm if b is not None else "none" for b in blocks]
        for norm in ("batchnorm", "layernorm"):
            members = [i for i in range(P) if norms[i] == norm and kinds[i] != "pass"]
            if not members:
                continue
            tag = "bn" if norm == "batchnorm" else "ln"
            slot[tag] = members
            slot[tag + "_all"] = len(members) == P  # no selection needed
            m = torch.zeros(P, 1, Hout)
            for i in members:
                m[i, 0, :wout[i]] = 1.0
            buf(f"{tag}_mask", m)
            buf(f"{tag}_flag", torch.tensor([norms[i] == norm for i in range(P)]).view(P, 1, 1))
            param(f"{tag}_weight", (P, 1, Hout), 0.0)
            with torch.no_grad():
                getattr(self, p + f"{tag}_weight").copy_(m)
            param(f"{tag}_bias", (P, 1, Hout), 0.0)
            if tag == "bn":
                buf("bn_running_mean", torch.zeros(P, 1, Hout), persistent=True)
                buf("bn_running_var", torch.ones(P, 1, Hout), persistent=True)
            else:
                buf("ln_count", torch.tensor([float(wout[i]) for i in range(P)]).view(P, 1, 1))
        acts = [b.activation if b is not None else "identity" for b in blocks]
        slot["acts"] = []
        for name in _ACTS:
            members = [i for i in range(P) if acts[i] == name and kinds[i] != "pass"]
            if members:
                buf(f"act_{name}", torch.tensor([acts[i] == name for i in range(P)]).view(P, 1, 1))
                slot["acts"].append(name)
                slot["act_all"] = name if len(members) == P else None
        drops = [b.dropout if b is not None and kinds[i] != "pass" else 0.0 for i, b in enumerate(blocks)]
        slot["dropout"] = any(drops)
        if slot["dropout"]:
            buf("drop_p", torch.tensor(drops, dtype=torch.float32).view(P, 1, 1))
            buf("drop_idx", torch.tensor([i for i in range(P) if drops[i]], dtype=torch.long))
        if proj:
            R = len(proj)
            param("proj_weight", (R, Hin, Hout))
            param("proj_bias", (R, 1, Hout))
            buf("proj_idx", torch.tensor(proj, dtype=torch.long))
        slot["res_id"] = bool(res_id)
        if res_id:
            buf("res_id_flag", torch.tensor([i in res_id for i in range(P)], dtype=torch.float32).view(P, 1, 1))
        slot["pass"] = any(k == "pass" for k in kinds)
        if slot["pass"]:
            buf("pass_flag", torch.tensor([k == "pass" for k in kinds]).view(P, 1, 1))
        return slot

    def _get(self, l, name):
        return getattr(self, f"s{l}_{name}")

    # -- forward --------------------------------------------------------------
    def _block(self, l, x):
        s = self.slots[l]
        g = lambda name: self._get(l, name)  # noqa: E731
        P, Hout = self.P, s["Hout"]
        B = x.shape[-2]
        a = None
        if s["mm"]:
            a = torch.matmul(x if x.dim() == 2 else x[g("mm_idx")], g("weight")) + g("bias")
        if s["gated"]:
            pos = g("gated_pos")
            gate = torch.matmul(x if x.dim() == 2 else x[g("gated_idx")], g("gate_weight")) + g("gate_bias")
            a = a.index_copy(0, pos, a[pos] * torch.sigmoid(gate))
        out = None
        if s["fg"] or hasattr(self, f"s{l}_keep_mask"):
            if s["fg"]:
                keep = g("fg_mask") * torch.sigmoid(g("gate_logits")) + g("skip_mask")
            else:
                keep = g("keep_mask")
            kept = _pad(x * keep, Hout)
            out = kept if out is None else out + kept
        if a is not None and len(s["mm"]) == P:
            out = a
        elif a is not None:
            base = out if out is not None else x.new_zeros(P, B, Hout)
            if base.dim() == 2:
                base = base.expand(P, *base.shape)
            out = base.index_copy(0, g("mm_idx"), a)
        if out is None:  # only depth-padding candidates in this slot
            out = _pad(x, Hout).expand(P, B, Hout)
        if out.dim() == 2:
            out = out.expand(P, *out.shape)
        if "bn" in s:
            out = self._batchnorm(l, out) if s["bn_all"] else torch.where(g("bn_flag"), self._batchnorm(l, out), out)
        if "ln" in s:
            out = self._layernorm(l, out) if s["ln_all"] else torch.where(g("ln_flag"), self._layernorm(l, out), out)
        if s["acts"] and s.get("act_all"):
            out = _ACTS[s["act_all"]](out)
        elif s["acts"]:
            h = out
            for name in s["acts"]:
                out = torch.where(g(f"act_{name}"), _ACTS[name](h), out)
        if s["dropout"] and self.training:
            p = g("drop_p")
            idx = g("drop_idx")
            sub = out[idx]
            keep = (torch.rand_like(sub) >= p[idx]).to(out.dtype) / (1.0 - p[idx])
            out = out.index_copy(0, idx, sub * keep)
        if s["proj"]:
            idx = g("proj_idx")
            xr = x if x.dim() == 2 else x[idx]
            sc = torch.matmul(xr, g("proj_weight")) + g("proj_bias")
            out = out.index_add(0, idx, sc)
        if s["res_id"]:
            out = out + _pad(x, Hout) * g("res_id_flag")
        if s["pass"]:
            out = torch.where(g("pass_flag"), _pad(x, Hout), out)
        return out

    def _batchnorm(self, l, h):
        g = lambda name: self._get(l, name)  # noqa: E731
        if self.training:
            var, mean = torch.var_mean(h, dim=1, unbiased=False, keepdim=True)
            with torch.no_grad():
                n = h.shape[1]
                rm, rv = g("bn_running_mean"), g("bn_running_var")
                flag = g("bn_flag")
                new_rm = (1 - _BN_MOMENTUM) * rm + _BN_MOMENTUM * mean
                new_rv = (1 - _BN_MOMENTUM) * rv + _BN_MOMENTUM * var * (n / max(n - 1, 1))
                rm.copy_(torch.where(flag, new_rm, rm))
                rv.copy_(torch.where(flag, new_rv, rv))
        else:
            mean, var = g("bn_running_mean"), g("bn_running_var")
        return (h - mean) * torch.rsqrt(var + _BN_EPS) * g("bn_weight") + g("bn_bias")

    def _layernorm(self, l, h):
        g = lambda name: self._get(l, name)  # noqa: E731
        mask, count = g("ln_mask"), g("ln_count")
        mean = (h * mask).sum(dim=-1, keepdim=True) / count
        d = (h - mean) * mask
        var = (d * d).sum(dim=-1, keepdim=True) / count
        return d * torch.rsqrt(var + _LN_EPS) * g("ln_weight") + g("ln_bias")

    def forward(self, x):
        if x.dim() not in (2, 3) or x.shape[-1] != self.n_features or (x.dim() == 3 and x.shape[0] != self.P):
            raise ValueError(f"Expected input (B, {self.n_features}) or ({self.P}, B, {self.n_features}), "
                             f"got {tuple(x.shape)}.")
        h = x
        for l in range(self.depth):
            h = self._block(l, h)
        out = torch.matmul(h, self.head_weight) + self.head_bias
        if out.dim() == 2:
            out = out.expand(self.P, *out.shape)
        return out

    # -- members ------------------------------------------------------------
    def _member_pairs(self, i, module):
        """(population tensor view of member i, the FeatureNetwork tensor) pairs, weights pre-transposed."""
        arch = self.architectures[i]
        if module.n_outputs != self.n_components or len(module.blocks) != arch.depth:
            raise ValueError("The module does not match architecture %d." % i)
        pairs = []
        w = self.widths[i]
        for l, (block, bm) in enumerate(zip(arch.blocks, module.blocks)):
            s = self.slots[l]
            g = lambda name: self._get(l, name)  # noqa: E731
            din, dout = w[l], w[l + 1]
            if block.op == "linear":
                m = s["mm"].index(i)
                pairs += [(g("weight")[m, :din, :dout], bm.op.weight.T), (g("bias")[m, 0, :dout], bm.op.bias)]
            elif block.op == "gated":
                gi, m = s["gated"].index(i), s["mm"].index(i)
                pw, pb = bm.op.proj.weight, bm.op.proj.bias
                pairs += [(g("weight")[m, :din, :dout], pw[:dout].T), (g("bias")[m, 0, :dout], pb[:dout]),
                          (g("gate_weight")[gi, :din, :dout], pw[dout:].T), (g("gate_bias")[gi, 0, :dout], pb[dout:])]
            elif block.op == "feature_gate":
                pairs.append((g("gate_logits")[i, 0, :din], bm.op.logits))
            if block.norm != "none" and s["kinds"][i] != "pass":
                tag = "bn" if block.norm == "batchnorm" else "ln"
                pairs += [(g(f"{tag}_weight")[i, 0, :dout], bm.norm.weight),
                          (g(f"{tag}_bias")[i, 0, :dout], bm.norm.bias)]
                if tag == "bn":
                    pairs += [(g("bn_running_mean")[i, 0, :dout], bm.norm.running_mean),
                              (g("bn_running_var")[i, 0, :dout], bm.norm.running_var)]
            if i in s["proj"]:
                r = s["proj"].index(i)
                pairs += [(g("proj_weight")[r, :din, :dout], bm.shortcut.weight.T),
                          (g("proj_bias")[r, 0, :dout], bm.shortcut.bias)]
        pairs += [(self.head_weight[i, :w[-1], :], module.head.weight.T), (self.head_bias[i, 0], module.head.bias)]
        return pairs

    @torch.no_grad()
    def load_member(self, i, module):
        """Copy the weights (and BatchNorm statistics) of a built FeatureNetwork into slot ``i``."""
        for mine, theirs in self._member_pairs(i, module):
            mine.copy_(theirs.detach().to(mine.device, mine.dtype))
        return self

    @torch.no_grad()
    def extract_member(self, i):
        """A FeatureNetwork (``build_network(architectures[i])``) holding member ``i``'s weights, in eval mode."""
        module = build_network(self.architectures[i], self.n_features, self.n_components)
        module = module.to(self.head_weight.device)
        for mine, theirs in self._member_pairs(i, module):
            theirs.copy_(mine.detach())
        return module.eval()

    def member_index(self):
        """For every parameter: a LongTensor mapping its leading dim to member indices."""
        out = {}
        for name, p in self.named_parameters():
            if name.endswith(("gate_weight", "gate_bias")) and not name.endswith("_logits"):
                l = int(name[1:name.index("_")])
                out[name] = self._get(l, "gated_idx")
            elif name.startswith("s") and name.split("_", 1)[1] in ("weight", "bias"):
                l = int(name[1:name.index("_")])
                out[name] = self._get(l, "mm_idx")
            elif name.endswith(("proj_weight", "proj_bias")):
                l = int(name[1:name.index("_")])
                out[name] = self._get(l, "proj_idx")
            else:
                out[name] = torch.arange(self.P, device=p.device)
        return out


# -- grouping ------------------------------------------------------------------
def _shape_cost(archs, n_features, n_components):
    """Per-row padded multiply-adds and elementwise work of a group (cheap, no modules)."""
    D = max(a.depth for a in archs)
    widths = []
    for a in archs:
        w = a.widths(n_features)
        widths.append(w + [w[-1]] * (D - a.depth))
    n = len(archs)
    mac, elem = 0, 0
    for l in range(D):
        hin = max(w[l] for w in widths)
        hout = max(w[l + 1] for w in widths)
        n_gated = sum(1 for a in archs if l < a.depth and a.blocks[l].op == "gated")
        n_proj = sum(1 for a, w in zip(archs, widths) if l < a.depth and a.blocks[l].residual and w[l] != w[l + 1])
        mac += (n + n_gated + n_proj) * hin * hout
        elem += n * hout
    mac += n * max(w[-1] for w in widths) * n_components
    return D, mac, elem


def plan_groups(architectures, n_features, n_components, *, overhead=None, max_group_size=8):
    """Split candidate indices into groups of similar shape, each trained as one PopulationNetwork.

    A dynamic programme over the candidates sorted by (depth, widest layer)
    minimises ``sum(overhead * depth_g + padded work_g)``: one group when the
    candidates are alike, a few when padding would waste more than the extra
    per-group overhead costs.  ``overhead`` is in multiply-adds per row per
    layer.  Groups hold at most ``max_group_size`` candidates: on a CPU the
    padded activations of a large group fall out of cache and elementwise ops
    become memory-bound (measured: one group of 49 ran 2x slower than groups).
    """
    if overhead is None:
        overhead = 100_000
    order = sorted(range(len(architectures)),
                   key=lambda i: (architectures[i].depth, max(architectures[i].widths(n_features))))
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - max_group_size), j):
            group = [architectures[k] for k in order[i:j]]
            D, mac, elem = _shape_cost(group, n_features, n_components)
            cost = best[i] + overhead * (D + 1) + mac + 20 * elem
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], n
    while j > 0:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups[::-1]


# -- training ------------------------------------------------------------------
@dataclass
class PopulationResult:
    """What training one member of a population produced (mirrors TrainResult)."""

    architecture: Architecture
    status: str = "ok"  # "ok" or "failed"
    reason: str | None = None
    best_valid_loss: float = math.nan
    best_epoch: int = 0
    n_epochs: int = 0
    stopped_early: bool = False
    embedding: np.ndarray | None = None  # X_embed (default X_valid) embedded at the best state, float64
    history: list = field(default_factory=list)


@torch.no_grad()
def evaluate_population_loss(net, objective, data, batch_size=4096):
    """Per-candidate mean objective on ``data`` in eval mode, shape ``(P,)``; same samples at every call."""
    was_training = net.training
    net.eval()
    total = torch.zeros(net.P, device=data.X.device)
    count = 0
    try:
        with seeded(VALIDATION_SEED, data.X.device):
            for idx in iterate_batches(len(data), batch_size, data.X.device, shuffle=False):
                total += objective.loss(net, data, idx, reduction="none") * len(idx)
                count += len(idx)
    finally:
        net.train(was_training)
    return total / count if count else torch.full((net.P,), math.nan)


def _train_group(net, objective, train, valid, *, max_epochs, batch_size, learning_rate, weight_decay, patience,
                 grad_clip, max_time, start, keep="best"):
    P = net.P
    device = train.X.device
    params = dict(net.named_parameters())
    index = net.member_index()
    full = {name: len(ix) == P and bool((ix == torch.arange(P, device=ix.device)).all()) for name, ix in index.items()}
    optimizer = torch.optim.AdamW(list(params.values()), lr=learning_rate, weight_decay=weight_decay)
    alive = torch.ones(P, dtype=torch.bool, device=device)
    failed_at = [None] * P
    best_loss = torch.full((P,), math.inf, device=device)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best_epoch = [0] * P
    bad = [0] * P
    stop_epoch = [None] * P
    histories = [[] for _ in range(P)]
    state_index = dict(index)
    for l in range(net.depth):
        for name in ("bn_running_mean", "bn_running_var"):
            if hasattr(net, f"s{l}_{name}"):
                state_index[f"s{l}_{name}"] = torch.arange(P, device=device)
    net.train()
    epochs_run = 0
    for epoch in range(1, max_epochs + 1):
        running = torch.zeros(P, device=device)
        seen = 0
        for idx in iterate_batches(len(train), batch_size, device):
            losses = objective.loss(net, train, idx, reduction="none")
            alive = alive & torch.isfinite(losses)
            loss = torch.where(alive, losses, torch.zeros_like(losses)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # Per-candidate gradient norm (as clip_grad_norm_ computes it for one network),
            # clipping, and freezing of failed members (zero gradient).
            grads = [(name, p.grad) for name, p in params.items() if p.grad is not None]
            sq = torch.zeros(P, device=device)
            for name, grad in grads:
                part = grad.flatten(1).pow(2).sum(dim=1)
                if full[name]:
                    sq += part
                else:
                    sq.index_add_(0, index[name], part)
            norm = sq.sqrt()
            coef = (grad_clip / (norm + 1e-6)).clamp(max=1.0)
            coef = torch.where(alive & torch.isfinite(norm), coef, torch.zeros_like(coef))
            some_dead = not bool(alive.all())
            for name, grad in grads:
                c = coef if full[name] else coef[index[name]]
                grad.mul_(c.view(-1, *([1] * (grad.dim() - 1))))
                if some_dead:
                    torch.nan_to_num_(grad, nan=0.0, posinf=0.0, neginf=0.0)
            optimizer.step()
            running += torch.where(alive, losses.detach(), torch.zeros_like(losses)) * len(idx)
            seen += len(idx)
        epochs_run = epoch
        train_loss = (running / max(seen, 1)).tolist()
        last = epoch == max_epochs or (max_time is not None and time.perf_counter() - start > max_time)
        # keep="last" (see train_candidate): the validation loss only once, after the last epoch.
        between = keep == "last" and not last
        valid_loss = running / max(seen, 1) if valid is None or between \
            else evaluate_population_loss(net, objective, valid)
        alive = alive & torch.isfinite(valid_loss)
        alive_list = alive.tolist()
        vl = valid_loss.tolist()
        improved = torch.zeros(P, dtype=torch.bool)
        for i in range(P):
            if failed_at[i] is not None or stop_epoch[i] is not None:
                continue
            if not alive_list[i]:
                what = "validation" if math.isfinite(train_loss[i]) and not math.isfinite(vl[i]) else "training"
                failed_at[i] = f"non-finite {what} loss at epoch {epoch}"
                continue
            histories[i].append({"epoch": epoch, "train_loss": train_loss[i], "valid_loss": None if between else vl[i]})
            if keep == "last":
                if not between:
                    best_loss[i], best_epoch[i] = vl[i], epoch
                continue
            b = float(best_loss[i])
            if best_epoch[i] == 0 or vl[i] < b - 1e-4 * abs(b):
                improved[i] = True
                best_loss[i] = vl[i]
                best_epoch[i] = epoch
                bad[i] = 0
            else:
                bad[i] += 1
                if patience is not None and bad[i] >= patience:
                    stop_epoch[i] = epoch
        if improved.any():
            mask = improved.to(device)
            state = net.state_dict()
            for k, v in state.items():
                if k in state_index:
                    m = mask[state_index[k]].view(-1, *([1] * (v.dim() - 1)))
                    best_state[k] = torch.where(m, v.detach(), best_state[k])
        active = [i for i in range(P) if failed_at[i] is None and stop_epoch[i] is None]
        if not active:
            break
        if max_time is not None and time.perf_counter() - start > max_time:
            break
    if keep == "best":
        net.load_state_dict(best_state)
    net.eval()
    return dict(failed_at=failed_at, best_loss=best_loss.tolist(), best_epoch=best_epoch, stop_epoch=stop_epoch,
                histories=histories, epochs_run=epochs_run)


def _on_device(X, device):
    """Rows as a tensor on ``device``: a tensor as it is, anything else as float32."""
    return torch.as_tensor(X if torch.is_tensor(X) else np.asarray(X, dtype=np.float32), device=device)


def train_population(architectures, objective_name, X_train, X_valid, *, n_components, max_epochs=30,
                     batch_size=256, learning_rate=1e-3, weight_decay=1e-5, patience=5, seed=0, device="cpu",
                     grad_clip=GRAD_CLIP, max_time=None, groups="auto", X_embed=None, keep="best"):
    """Train a generation of candidates together; one :class:`PopulationResult` per architecture.

    Parameters
    ----------
    architectures : sequence of Architecture
        All must satisfy :func:`can_batch`.
    objective_name : str
        ``"neighbors"`` (or ``"auto"``); objectives with trainable extras raise ValueError.
    X_train, X_valid : array-like or tensor (n_rows, n_features)
        Standardised rows.
    X_embed : array-like or tensor (n_rows, n_features), default=None
        The rows each result's ``embedding`` holds (a search's scoring rows); None: ``X_valid``.
    seed : int or sequence of int
        An int: the members are built (``build_network``) one after another
        and trained under ``seeded(seed, device)``, so a population of one
        consumes the torch RNG exactly as ``seeded(seed): build_network;
        train_candidate`` does.  A sequence: member ``i`` is built under its
        own ``seeds[i]`` and training runs under ``seeds[0]``.
    keep : {"best", "last"}
        As in :func:`sknas.training.train_candidate`: each member's best-validation weights (early
        stopping on ``patience``), or its last weights after the whole budget.
    groups : "auto", "one" or list of lists of indices
        ``"auto"``: :func:`plan_groups` (a few shape-alike groups); ``"one"``:
        the whole generation as one padded network.

    Notes
    -----
    One AdamW over the stacked parameters (Adam is elementwise, so it equals
    one optimiser per candidate); gradient norms are clipped per candidate; a
    member whose loss goes non-finite gets zero gradient from then on and is
    reported failed.  Early stopping (``keep="best"``): each member keeps its best-validation
    state; its ``n_epochs`` is where it would have stopped alone; the group
    stops when no member improved for ``patience`` epochs.
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}.")
    if objective_name not in BATCHABLE_OBJECTIVES:
        raise ValueError(f"objective {objective_name!r} has trainable extras; only {BATCHABLE_OBJECTIVES} can be "
                         "trained as a population. Train these candidates with train_candidate.")
    architectures = list(architectures)
    for a in architectures:
        if not can_batch(a, objective_name):
            raise ValueError(f"Architecture {a} cannot be batched; check can_batch() and train it sequentially.")
    device = torch.device(device)
    X_train, X_valid = _on_device(X_train, device), _on_device(X_valid, device)
    n_features = X_train.shape[1]
    seeds = [int(seed)] * len(architectures) if np.ndim(seed) == 0 else [int(s) for s in seed]
    if len(seeds) != len(architectures):
        raise ValueError("seed must be an int or one int per architecture.")
    if groups == "auto":
        groups = plan_groups(architectures, n_features, n_components)
    elif groups == "one":
        groups = [list(range(len(architectures)))]
    results = [PopulationResult(a) for a in architectures]
    start = time.perf_counter()
    objective = make_objective("neighbors", n_features, n_components)
    train = objective.prepare(X_train)
    valid = objective.prepare(X_valid)
    X_embed = valid.X if X_embed is None else _on_device(X_embed, device)
    with seeded(seeds[0], device):
        for group in groups:
            if not group:
                continue
            archs = [architectures[i] for i in group]
            net = PopulationNetwork(archs, n_features, n_components)
            for j, i in enumerate(group):
                if np.ndim(seed) == 0:
                    net.load_member(j, build_network(archs[j], n_features, n_components))
                else:
                    with seeded(seeds[i], device):
                        net.load_member(j, build_network(archs[j], n_features, n_components))
            net = net.to(device)
            out = _train_group(net, objective, train, valid, max_epochs=max_epochs, batch_size=batch_size,
                               learning_rate=learning_rate, weight_decay=weight_decay, patience=patience,
                               grad_clip=grad_clip, max_time=max_time, start=start, keep=keep)
            with torch.no_grad():
                Z = torch.cat([net(X_embed[k:k + 8192]) for k in range(0, len(X_embed), 8192)], dim=1)
            Z = Z.cpu().numpy().astype(np.float64)
            for j, i in enumerate(group):
                r = results[i]
                r.history = out["histories"][j]
                r.best_epoch = out["best_epoch"][j]
                r.n_epochs = out["stop_epoch"][j] or (out["epochs_run"] if out["failed_at"][j] is None
                                                     else len(r.history))
                r.stopped_early = out["stop_epoch"][j] is not None
                if out["failed_at"][j] is not None:
                    r.status, r.reason = "failed", out["failed_at"][j]
                else:
                    r.best_valid_loss = out["best_loss"][j]
                    r.embedding = Z[j]
    return results
