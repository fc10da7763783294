"""The one fast trainer every search strategy uses for its candidates.

Speed rules (``docs/architecture.md``): the rows live in one tensor on the target device
and batches are index slices of it (``X[perm[i:i + bs]]``), never a per-sample
``DataLoader``; the random permutation is drawn on the device.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch

from .device import seeded
from .flat import FlatParameters

#: The seed of every validation loss: objectives that sample (negatives, corruptions) draw the same samples.
VALIDATION_SEED = 12345
#: AdamW's weight decay for every network sknas trains (candidates, supernets, the final network).
WEIGHT_DECAY = 1e-5
#: Gradient-norm clipping of every network sknas trains (candidates, supernets, the final network).
GRAD_CLIP = 10.0


class CandidateFailure(RuntimeError):
    """A candidate could not be trained (non-finite loss, out of memory, ...).

    The search records ``reason`` in its history and moves on.
    """

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass
class TrainResult:
    """What training one candidate produced."""

    history: list = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0
    best_valid_loss: float = math.nan
    n_epochs: int = 0
    stopped_early: bool = False
    timed_out: bool = False
    n_updates: int = 0
    converged: bool = False  # stopped by ``stop`` (a converged label-free figure) before max_epochs


def iterate_batches(n_rows, batch_size, device, shuffle=True, drop_singleton=True):
    """Index tensors of one epoch; a trailing 1-row batch is dropped (BatchNorm cannot use it)."""
    order = torch.randperm(n_rows, device=device) if shuffle else torch.arange(n_rows, device=device)
    for start in range(0, n_rows, batch_size):
        idx = order[start:start + batch_size]
        if drop_singleton and len(idx) < 2:
            continue
        yield idx


@torch.no_grad()
def evaluate_loss(encoder, objective, data, batch_size=4096):
    """Mean objective on ``data`` in eval mode (dropout off, BatchNorm frozen).

    Objectives that sample (neighbours, negatives, corruptions) draw the same
    samples at every call, so that epochs compare on the same loss and early
    stopping reacts to the model, not to sampling noise.
    """
    was_training = encoder.training, objective.training
    encoder.eval()
    objective.eval()
    total, count = 0.0, 0
    try:
        with seeded(VALIDATION_SEED, data.X.device):
            for idx in iterate_batches(len(data), batch_size, data.X.device, shuffle=False):
                total += float(objective.loss(encoder, data, idx)) * len(idx)
                count += len(idx)
    finally:
        encoder.train(was_training[0])
        objective.train(was_training[1])
    return total / count if count else math.nan


def train_candidate(encoder, objective, train_data, valid_data=None, *, max_epochs=30, batch_size=256,
                    learning_rate=1e-3, weight_decay=WEIGHT_DECAY, patience=5, max_time=None, grad_clip=GRAD_CLIP,
                    amp_dtype=None, keep="best", stop=None):
    """Train ``encoder`` (and the objective's extras) in place; keep the best validation state or the last.

    Parameters
    ----------
    encoder : torch.nn.Module
        The feature network.
    objective : sknas.training.objectives.Objective
    train_data, valid_data : LossData
        Rows prepared by ``objective.prepare`` on the training device.
    max_epochs : int
        Epoch budget; an epoch visits every training row once as an anchor.
    patience : int or None
        Stop when the validation loss has not improved for this many epochs.
    max_time : float or None
        Seconds; training stops after the epoch that crosses it.
    amp_dtype : torch.dtype or None
        Autocast dtype (e.g. ``torch.bfloat16``) on CUDA; ``None`` trains in float32.
    keep : {"best", "last"}
        ``"best"``: evaluate the validation loss every epoch, stop early on ``patience`` and restore
        the best epoch's weights. ``"last"``: train the whole budget or until ``stop`` says so
        (``patience`` is ignored) and keep the last weights, as the final network trains; the
        validation loss is evaluated once, at the end. Search candidates use ``"last"``: the neighbours objective's validation loss (on the
        validation rows' own, sparser neighbour graph) bottoms out long before the clusters form
        (olive oil: restored at its minimum, ARI 0.50; trained on, 1.00).

    Returns
    -------
    TrainResult

    Raises
    ------
    CandidateFailure
        On a non-finite loss or when the device runs out of memory.
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}.")
    if stop is not None and keep != "last":
        raise ValueError("stop needs keep='last' (keep='best' stops on the validation loss).")
    result = TrainResult()
    params = [p for m in (encoder, objective) for p in m.parameters() if p.requires_grad]
    if not params:
        return result
    device = train_data.X.device
    # One buffer for every parameter where possible: zeroing, clipping and AdamW are then one op each, not one
    # per tensor (a small table's update is mostly such overhead; sknas.training.flat).
    flat = FlatParameters(params) if FlatParameters.supports(params) else None
    optimizer = make_optimizer([flat.parameter] if flat else params, learning_rate, weight_decay, device)
    best_state, best_loss, bad_epochs = None, math.inf, 0
    start = time.perf_counter()
    encoder.train()
    objective.train()
    try:
        for epoch in range(1, max_epochs + 1):
            t0 = time.perf_counter()
            running, seen = torch.zeros((), device=device), 0
            grads_finite = torch.ones((), dtype=torch.bool, device=device)
            for idx in iterate_batches(len(train_data), batch_size, device):
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    loss = objective.loss(encoder, train_data, idx)
                if flat is not None:
                    flat.zero_grad()
                    loss.backward()
                    norm = flat.clip_grad_norm_(grad_clip)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
                # Checked once per epoch (no sync per batch). Only where the loss itself was finite:
                # a NaN loss is reported as such, not as the NaN gradient it also produces.
                grads_finite &= torch.isfinite(norm) | ~torch.isfinite(loss.detach())
                optimizer.step()
                running += loss.detach() * len(idx)
                seen += len(idx)
                result.n_updates += 1
            train_loss = float(running) / max(seen, 1)  # one sync per epoch, not per batch
            if not bool(grads_finite):  # a finite loss whose gradient overflowed: clipping cannot rescue it
                raise CandidateFailure(f"exploding gradients: non-finite gradient norm at epoch {epoch}")
            if not math.isfinite(train_loss):
                raise CandidateFailure(f"non-finite training loss at epoch {epoch}")
            last = epoch == max_epochs or (max_time is not None and time.perf_counter() - start > max_time)
            if stop is not None and not last and stop.should_stop(encoder, result.n_updates):
                last = result.converged = True
            if keep == "last" and not last:  # no selection between epochs: validate once, at the end
                result.history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": None,
                                       "dur": time.perf_counter() - t0})
                result.n_epochs = epoch
                continue
            valid_loss = evaluate_loss(encoder, objective, valid_data) if valid_data is not None else train_loss
            if not math.isfinite(valid_loss):
                raise CandidateFailure(f"non-finite validation loss at epoch {epoch}")
            result.history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                                   "dur": time.perf_counter() - t0})
            result.n_epochs = epoch
            if keep == "last":
                best_loss, result.best_epoch = valid_loss, epoch
                result.timed_out = epoch < max_epochs and not result.converged
                break
            if best_state is None or valid_loss < best_loss - 1e-4 * abs(best_loss):
                best_loss, bad_epochs, result.best_epoch = valid_loss, 0, epoch
                best_state = (copy.deepcopy(encoder.state_dict()), copy.deepcopy(objective.state_dict()))
            else:
                bad_epochs += 1
                if patience is not None and bad_epochs >= patience:
                    result.stopped_early = True
                    break
            if max_time is not None and time.perf_counter() - start > max_time:
                result.timed_out = True
                break
    except torch.OutOfMemoryError as exc:
        raise CandidateFailure(f"out of memory: {exc}".splitlines()[0]) from None
    finally:
        if flat is not None:
            flat.release()
    if best_state is not None:  # keep="best"
        encoder.load_state_dict(best_state[0])
        objective.load_state_dict(best_state[1])
    result.best_valid_loss = best_loss
    encoder.eval()
    return result


def fused_adamw(device):
    """AdamW's ``fused`` argument for ``device``: the fused kernel where torch has one (CPU, CUDA), else its
    default. The networks sknas trains use it (candidates here, the final network in ``net.py``, the DARTS
    and ENAS supernets).

    On a small table a training step is per-operation overhead, and the fused update is one op for all
    parameters instead of several per parameter tensor: a step on a 142-row table 1.70 -> 1.47 ms (CPU,
    one thread, ``docs/speed.md``).
    """
    return True if torch.device(device).type in ("cpu", "cuda") else None


def make_optimizer(params, learning_rate, weight_decay, device):
    """AdamW as every network sknas trains uses it (:func:`fused_adamw`)."""
    return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, fused=fused_adamw(device))


@torch.no_grad()
def embed(encoder, X, batch_size=8192):
    """Forward ``X`` (tensor on the encoder's device) in eval mode, batch by batch."""
    encoder.eval()
    if not len(X):
        return encoder(X)
    return torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
