"""The final network as a skorch ``NeuralNet``.

Users get skorch's ``history`` and callbacks on the network the search chose.
Stock skorch iterates a per-sample ``DataLoader`` (measured at 0.33x of a raw
loop here), so :class:`FeatureNet` replaces the iterator with index slices of
one pre-built tensor on the device and its train step with the objective's
loss; what is left of skorch per batch is its bookkeeping.
"""

from __future__ import annotations

import functools
import math
import time

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, GradientNormClipping
from torch import nn

from .trainer import GRAD_CLIP, CandidateFailure, fused_adamw, iterate_batches


class ObjectiveModel(nn.Module):
    """The feature network (``encoder``) with the objective's trainable extras."""

    def __init__(self, encoder, objective):
        super().__init__()
        self.encoder = encoder
        self.objective = objective

    def forward(self, x):
        return self.encoder(x)


class IndexBatches:
    """A re-iterable epoch of index tensors (what skorch's loop calls an iterator)."""

    def __init__(self, n_rows, batch_size, device):
        self.n_rows, self.batch_size, self.device = n_rows, batch_size, device

    def __iter__(self):
        return iterate_batches(self.n_rows, self.batch_size, self.device)


class NonFiniteLossGuard(Callback):
    """Stop training with a clear error when the epoch's training loss is NaN or inf."""

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise CandidateFailure(f"non-finite training loss at epoch {len(net.history)}")
        # The epoch's loss is measured before its last step: a step that blew the weights up
        # would otherwise leave a net whose transform is all inf/NaN.
        if not all(bool(torch.isfinite(p).all()) for p in net.module_.parameters()):
            raise CandidateFailure(f"non-finite weights after epoch {len(net.history)}")


class TimeUp(Exception):
    """Raised by :class:`TimeLimit` at the end of the epoch that crossed its limit."""


class TimeLimit(Callback):
    """End training after the epoch that crosses ``seconds`` (counted from the start of training).

    skorch's own stops (``EarlyStopping``) raise ``KeyboardInterrupt``, which :meth:`FeatureNet.fit_data`
    re-raises as the user's Ctrl-C; this one raises :class:`TimeUp`, which ``FeatureNet.fit_loop`` ends
    the training on, as after its last epoch. Listed last, so every other callback saw the epoch.
    """

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.start_ > self.seconds:
            raise TimeUp


class FeatureNet(NeuralNet):
    """skorch ``NeuralNet`` training an :class:`ObjectiveModel` on pre-built tensors.

    Call :meth:`fit_data` with the objective's ``LossData`` instead of ``fit``.
    ``module_.encoder`` is the trained feature map.
    """

    def __init__(self, module, *, loss_data=None, **kwargs):
        kwargs.setdefault("criterion", nn.Identity)  # the objective computes the loss
        kwargs.setdefault("train_split", None)
        kwargs.setdefault("verbose", 0)
        if not kwargs["verbose"]:
            # skorch's PrintLog builds its table every epoch even when it prints nothing: 0.2-0.5 ms an epoch,
            # and on a small table an epoch is one or two updates (docs/speed.md). history is unaffected.
            kwargs.setdefault("callbacks__print_log", None)
        super().__init__(module, **kwargs)
        self.loss_data = loss_data

    def fit_data(self, loss_data, epochs=None, time_limit=None):
        """Train on ``loss_data`` (rows already on ``self.device``); with ``time_limit`` (seconds), stop after
        the epoch that crosses it (at least one epoch)."""
        self.loss_data = loss_data
        self._interrupted = False
        if not self.initialized_:
            self.initialize()
        limit = None if time_limit is None else ("time_limit", TimeLimit(time_limit))
        if limit is not None:
            self.callbacks_.append(limit)  # for this training only, after every other callback
        try:
            # skorch only needs X to know the number of rows; batches are index slices.
            # partial_fit keeps the module as initialised (seeded) by the caller.
            self.partial_fit(torch.arange(len(loss_data)), None, epochs=epochs)
            if self._interrupted:  # skorch swallowed Ctrl-C after its epoch; the caller must still stop
                raise KeyboardInterrupt("training of the final network was interrupted")
            return self
        finally:
            del self._interrupted
            self.loss_data = None  # never keep (or pickle) the training rows
            if limit is not None:
                self.callbacks_.remove(limit)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except TimeUp:  # the time limit of fit_data: training ends as after its last epoch
            return self
        except KeyboardInterrupt:
            self._interrupted = True  # skorch's partial_fit catches it; fit_data re-raises
            raise

    def initialize_optimizer(self, *args, **kwargs):
        # A map without weights (the identity fallback) has nothing to optimise.
        if not any(True for _ in self.get_all_learnable_params()):
            self.optimizer_ = None
            return self
        return super().initialize_optimizer(*args, **kwargs)

    def get_iterator(self, dataset, training=False):
        return IndexBatches(len(dataset), self.batch_size, self.loss_data.X.device)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        loss = self.module_.objective.loss(self.module_.encoder, self.loss_data, batch)
        loss.backward()
        return {"loss": loss, "y_pred": None}

    def train_step(self, batch, **fit_params):
        # skorch's step without the optimizer closure and step accumulator (both
        # for L-BFGS-style optimizers); callbacks still see on_grad_computed (gradient clipping among them).
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self.notify("on_grad_computed", named_parameters=self.get_all_learnable_params(), batch=batch,
                    training=True)
        self.optimizer_.step()
        return step

    def __getstate__(self):
        state = super().__getstate__()
        state["loss_data"] = None
        return state


def make_final_net(encoder, objective, *, max_epochs, batch_size, learning_rate, weight_decay, device,
                   grad_clip=GRAD_CLIP):
    """The skorch net that retrains the chosen architecture (same optimiser and clipping as the search)."""
    callbacks = [("finite", NonFiniteLossGuard())]
    if grad_clip:  # skorch clips the learnable parameters' gradient norm when they are computed
        callbacks.insert(0, ("grad_clip", GradientNormClipping(gradient_clip_value=grad_clip)))
    return FeatureNet(
        ObjectiveModel(encoder, objective),
        # A partial, not optimizer__weight_decay: skorch only registers the
        # "optimizer__" prefix once an optimizer exists, and the identity map has none.
        optimizer=functools.partial(torch.optim.AdamW, weight_decay=weight_decay, fused=fused_adamw(device)),
        lr=learning_rate,
        max_epochs=max_epochs,
        batch_size=batch_size,
        device=str(device),
        callbacks=callbacks,
    )
