"""DARTS: differentiable architecture search over the shared :class:`~sknas.space.SuperNet`.

The strategy trains one weight-sharing supernet whose layers mix every
candidate op with the softmax of learned architecture logits ``alpha``
(Liu et al. 2019), or, with ``relaxation="gumbel"``, run one op per layer
sampled by a straight-through Gumbel-softmax (GDAS, Dong & Yang 2019).
Weights and ``alpha`` are optimised alternately, per batch, on the
training and validation splits (the bilevel problem); ``order="second"``
uses DARTS' finite-difference approximation of the unrolled hypergradient
(:func:`darts_hypergradient`).  The argmax op of each layer gives the
discretised Architecture, which is then retrained from scratch and scored
label-free exactly like any other candidate, next to the fixed maps (raw
features and the label-free LDA map), so the choice among them is made by the
shared score.

Two remedies against the known collapse of DARTS onto parameter-free ops
(skip connections, Zela et al. 2020; Chen et al. 2019): a cap on the number
of skip/zero layers at discretisation (``max_skip``, P-DARTS style), and
early stopping when the share of layers whose argmax is skip/zero exceeds
``skip_share_stop`` (keeping the alpha from before that epoch).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..evaluation import score_embedding
from ..space import SuperNet
from ..space.supernet import PARAMETER_FREE_OPS, supernet_norm, without_zero_blocks
from ..training import GRAD_CLIP, SEED_MAX, WEIGHT_DECAY, CandidateFailure, embed, evaluate_loss, make_objective, seeded
from ..training.budget import supernet_epochs
from ..training.trainer import iterate_batches, make_optimizer
from .base import BaseFeatureSearch
from .candidates import SEARCH_DATA_KEYS

#: Consecutive epochs above ``skip_share_stop`` that stop the supernet.
_SKIP_STOP_PATIENCE = 3
#: Gumbel temperature annealed linearly from the first to the second value (GDAS).
_TAU = (10.0, 0.1)
#: Share of a ``time_budget`` the supernet may train for; the candidates it proposes and the final network
#: share the rest.
SUPERNET_BUDGET_SHARE = 1 / 3


# -- the pieces of the strategy, standalone so they can be tested ------------------------------------
def darts_hypergradient(train_loss, valid_loss, weights, alphas, xi, *, seed=None, device=None, eps_scale=0.01):
    """Second-order DARTS gradient of the validation loss with respect to ``alpha``.

    Implements Liu et al. (2019), eq. 7-8: with ``w' = w - xi * grad_w L_train(w, alpha)``,

    ``grad_alpha L_val(w', alpha) - xi * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps)``

    where ``w± = w ± eps * grad_w' L_val(w', alpha)`` and
    ``eps = eps_scale / ||grad_w' L_val(w', alpha)||``.  This is the gradient of
    the one-step-unrolled objective ``L_val(w - xi grad_w L_train(w, alpha), alpha)``
    up to the finite-difference error of the Hessian-vector product.

    Parameters
    ----------
    train_loss, valid_loss : callable
        Zero-argument closures returning the scalar loss at the *current*
        values of ``weights`` and ``alphas``.
    weights, alphas : list of torch.nn.Parameter
        The inner (network) and outer (architecture) variables.  ``weights`` are
        modified in place during the computation and restored on return.
    xi : float
        Step size of the virtual (unrolled) weight step.
    seed : int or None
        When given, every loss evaluation runs with torch's RNG seeded to it
        (and restored afterwards), so objectives that sample draw the same
        sample in all five evaluations of one step.
    device : torch.device or None
        Device whose RNG to fork along with the CPU's.
    eps_scale : float, default=0.01

    Returns
    -------
    list of torch.Tensor
        One gradient per tensor in ``alphas``.
    """

    def evaluate(fn):
        if seed is None:
            return fn()
        with seeded(seed, device):
            return fn()

    backup = [w.detach().clone() for w in weights]
    try:
        g_train = _gradients(evaluate(train_loss), weights)
        with torch.no_grad():
            for w, g in zip(weights, g_train):
                w.sub_(xi * g)
        g_valid = _gradients(evaluate(valid_loss), list(alphas) + list(weights))
        d_alpha, d_w = g_valid[: len(alphas)], g_valid[len(alphas):]
        norm = torch.sqrt(sum((g * g).sum() for g in d_w))
        if float(norm) == 0.0:
            return d_alpha
        eps = eps_scale / norm
        with torch.no_grad():
            for w, b, g in zip(weights, backup, d_w):
                w.copy_(b + eps * g)
        g_plus = _gradients(evaluate(train_loss), alphas)
        with torch.no_grad():
            for w, b, g in zip(weights, backup, d_w):
                w.copy_(b - eps * g)
        g_minus = _gradients(evaluate(train_loss), alphas)
        return [da - xi * (gp - gm) / (2 * eps) for da, gp, gm in zip(d_alpha, g_plus, g_minus)]
    finally:
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)


def first_order_gradient(valid_loss, alphas):
    """First-order DARTS: ``grad_alpha L_val(w, alpha)`` at the current weights."""
    return _gradients(valid_loss(), alphas)


def _gradients(loss, params):
    """``d loss / d params``, zeros for parameters the loss does not reach (e.g. an unsampled op)."""
    out = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(out, params)]


def is_parameter_free(block):
    return block.op in PARAMETER_FREE_OPS


def skip_share(supernet):
    """Share of the supernet's layers whose strongest op is skip or zero."""
    path = [int(torch.argmax(a)) for a in supernet.alphas]
    flags = [is_parameter_free(c[i]) for c, i in zip(supernet.layer_candidates, path)]
    return sum(flags) / len(flags)


def edge_entropy(supernet):
    """Entropy (nats) of each layer's op distribution softmax(alpha); ``log(n_ops)`` is undecided."""
    values = []
    for a in supernet.alphas:
        p = torch.softmax(a.detach().double(), dim=0)
        values.append(float(-(p * torch.log(p.clamp_min(1e-30))).sum()))
    return np.array(values)


def capped_path(supernet, max_skip):
    """Argmax op per layer, with at most ``max_skip`` layers on skip/zero (P-DARTS).

    The skip/zero layers with the strongest such op keep it; the excess ones
    take their best op that is neither skip nor zero.
    """
    path = [int(torch.argmax(a)) for a in supernet.alphas]
    probs = [torch.softmax(a.detach(), dim=0) for a in supernet.alphas]
    free = [i for i, (c, k) in enumerate(zip(supernet.layer_candidates, path)) if is_parameter_free(c[k])]
    if len(free) <= max_skip:
        return path
    free.sort(key=lambda i: (-float(probs[i][path[i]]), i))
    for i in free[max_skip:]:
        candidates = supernet.layer_candidates[i]
        options = [k for k, b in enumerate(candidates) if not is_parameter_free(b)]
        path[i] = max(options, key=lambda k: (float(probs[i][k]), -k))
    return path


class _RelaxedNet(nn.Module):
    """The supernet seen by an objective: softmax-mixed, or one straight-through op per layer."""

    def __init__(self, supernet):
        super().__init__()
        self.supernet = supernet
        self.noise = None  # per-layer Gumbel noise (gumbel relaxation), or None
        self.tau = 1.0

    def hard_weights(self):
        out = []
        for a, g in zip(self.supernet.alphas, self.noise):
            soft = torch.softmax((a + g) / self.tau, dim=0)
            index = int(torch.argmax(soft))
            hard = torch.zeros_like(soft)
            hard[index] = 1.0
            out.append((index, hard - soft.detach() + soft))
        return out

    def forward(self, x):
        if self.noise is None:
            return self.supernet(x)
        for layer, (index, weights) in zip(self.supernet.layers, self.hard_weights()):
            x = weights[index] * layer(x, index=index)  # only the sampled op runs
        return self.supernet.head(x)


def _gumbel_noise(supernet):
    """Standard Gumbel noise per layer, from torch's (seeded) global generator."""
    return [-torch.log(-torch.log(torch.rand_like(a).clamp(1e-10, 1 - 1e-10))) for a in supernet.alphas]


# -- the estimator --------------------------------------------------------------------------------------------
class DARTSFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by differentiable architecture search (DARTS / GDAS).

    Trains one weight-sharing :class:`~sknas.space.SuperNet` of
    ``max(1, search_space.max_depth)`` mixed layers of one width (the lower
    median of ``search_space.widths``) over the space's ops plus ``"skip"``
    and ``"zero"`` (which let it choose a shallower network).  Network weights
    are trained on the training split and the architecture logits ``alpha``
    on the validation split, alternating per batch.  The strongest op of each
    layer gives the discretised Architecture; it is retrained from scratch and
    scored label-free like any candidate, next to the fixed maps (raw
    features and the label-free LDA map), and the best of these by the
    shared score is retrained on all rows.

    Parameters
    ----------
    n_components : int, default=8
        Width of the learned embedding.
    n_clusters : int, default=8
        Number of clusters the label-free score assumes.
    objective : {"auto", "neighbors", "reconstruction", "contrastive", "supervised"}, default="auto"
        Self-supervised training objective, of the supernet and of every
        candidate.  ``"auto"`` is ``"neighbors"``.
    scoring : str or callable, default="auto"
        Label-free score of a candidate on the validation split (see
        :class:`RandomFeatureSearch`).
    search_space : SearchSpace, dict or None, default=None
        Its ``ops``, ``widths`` and ``max_depth`` shape the supernet; blocks use
        ReLU, LayerNorm (when the space's ``norms`` offer it) and no dropout (the
        supernet's shared choices), and layers after the first are residual.  ``None`` is ``SearchSpace()``.
    max_trials : int, default=10
        Candidates trained and scored at most after the supernet: the discretised
        architecture first, then ``init``'s architectures and the fixed maps (identity
        and label-free LDA), in that order, as many as fit. The linear map other
        searches try is left out (it rarely won a default DARTS search; ``init`` may name it)
        unless the space excludes the fixed maps (``include_identity=False``).
    max_epochs : int or "auto", default="auto"
        Epoch budget of the supernet, of each retrained candidate and of the final network.
        ``"auto"``: 40 epochs for the supernet; for the candidates and the final network at most
        enough epochs for 1,000 optimizer updates and at least 40, stopping once a candidate's
        clusters stop sharpening (see :class:`RandomFeatureSearch`).
    max_time : float or None, default=None
        Stop training the supernet after the epoch that crosses this many seconds.
    batch_size : int, default=512
        Batch size of both the weight and the alpha steps.
    learning_rate : float, default=3e-3
        AdamW learning rate of the weights; also the virtual step ``xi`` of the
        second-order approximation.
    validation_fraction : float, default=0.2
        Share of rows held out to train alpha and score candidates.  Below 20
        rows, all rows are used for both.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
    random_state : int, RandomState instance or None, default=None
    n_jobs : int or None, default=None
        Candidates retrained in parallel processes (CPU only).
    verbose : int, default=0
        Print one line per supernet epoch.
    checkpoint : None, default=None
        The supernet search is not checkpointed: an interrupted DARTS fit starts again.

        .. deprecated:: 0.2
            Passing a path does nothing and warns (``FutureWarning``); the parameter
            is removed in 0.3.
    order : {"first", "second"}, default="first"
        ``"first"`` follows ``grad_alpha L_val(w, alpha)``; ``"second"`` the
        finite-difference approximation of the unrolled hypergradient
        (:func:`darts_hypergradient`: four forward-backward passes per alpha step instead of one).
    relaxation : {"softmax", "gumbel"}, default="softmax"
        ``"softmax"`` mixes all ops (DARTS); ``"gumbel"`` samples one op per
        layer and step with a straight-through Gumbel-softmax whose temperature
        anneals from 10 to 0.1, and trains only the sampled path (GDAS):
        cheaper per step, noisier.
    arch_learning_rate : float, default=3e-3
        Adam learning rate of alpha (betas 0.5, 0.999, as in DARTS).
    arch_weight_decay : float, default=1e-3
        Weight decay of alpha.
    warmup_epochs : int, default=5
        Epochs that train weights only, before alpha moves.  When it is not
        below ``max_epochs``, alpha never moves and each layer takes its first op.
    max_skip : int, default=1
        At most this many layers may pick skip or zero at discretisation; the
        excess layers take their best other op (P-DARTS style cap).
    skip_share_stop : float or None, default=0.5
        After warmup, stop the supernet when the share of layers whose
        strongest op is skip or zero exceeds this, and discretise the alpha
        from before that epoch.  ``None`` disables it.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: evaluated beside the discretised path and the fallbacks (the
        architecture weights alpha are not seeded from them), so the shared score can pick one. Stored
        untouched: the estimator passed is never modified.
    time_budget : float or None, default=None
        Seconds ``fit`` may take in all (see :class:`RandomFeatureSearch`): the supernet trains for at most
        a third of them (it stops when another epoch would cross that), the candidates it proposes and the
        final network share the rest. None: no budget.

    Attributes
    ----------
    architecture_ : Architecture
        The chosen architecture (the discretised one, or a fallback).
    supernet_architecture_ : Architecture
        The supernet's argmax discretisation, before the skip cap.
    supernet_layer_ops_ : list of tuple of str
        The candidate ops of each supernet layer, in the order of ``alpha_history_``.
    supernet_score_ : float
        The label-free score of the trained supernet's own embedding of the
        validation split; also in the ``"darts"`` record of ``search_history_``
        as ``supernet_score``, next to the retrained candidate's ``score``.
    net_ : sknas.training.FeatureNet
        The trained skorch network of ``architecture_``.
    search_history_ : list of dict
        One record per retrained candidate (see :class:`RandomFeatureSearch`),
        with ``source`` set to ``"darts"`` or ``"fallback"``.
    alpha_history_ : list of list of ndarray
        Per supernet epoch, ``softmax(alpha)`` of every layer (after the epoch).
    edge_entropy_history_ : list of ndarray
        Per epoch, the entropy of each layer's (edge's) op distribution; it
        starts at ``log(n_ops)`` and falls as the layer decides.
    skip_share_history_ : list of float
        Per epoch, the share of layers whose strongest op is skip or zero.
    supernet_history_ : list of dict
        Per epoch: ``epoch``, ``train_loss`` (mean over the epoch's weight
        steps), ``valid_loss`` (mixed or argmax-path network, eval mode),
        ``alpha_updated`` and ``dur``.
    stopped_early_ : bool
        Whether ``skip_share_stop`` ended the supernet training; the last
        recorded epoch is the one that triggered it, and its alpha was discarded.
    best_score_ : float
    pareto_front_ : list of dict
    search_time_, fit_time_ : float
    time_budget_ : dict
        As in :class:`RandomFeatureSearch`.
    efficiency_ : dict
    n_trials_ : int
    n_components_ : int
    objective_ : str
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    RandomFeatureSearch : The baseline strategy.

    References
    ----------
    Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.
    Dong & Yang, "Searching for a Robust Neural Architecture in Four GPU Hours", CVPR 2019.
    Chen, Xie, Wu & Tian, "Progressive DARTS", ICCV 2019.

    Examples
    --------
    >>> from sklearn.cluster import KMeans
    >>> from sklearn.pipeline import make_pipeline
    >>> from sknas import DARTSFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, y = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = DARTSFeatureSearch(n_components=4, n_clusters=5, max_epochs=3, warmup_epochs=1,
    ...                             search_space={"widths": (16,), "max_depth": 2}, random_state=0)
    >>> pipe = make_pipeline(search, KMeans(5, n_init=3, random_state=0)).fit(X)
    >>> pipe.predict(X[:3]).shape
    (3,)
    >>> len(search.alpha_history_)
    3
    >>> sorted({r["source"] for r in search.search_history_})
    ['darts', 'fallback']
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "order": [StrOptions({"first", "second"})],
        "relaxation": [StrOptions({"softmax", "gumbel"})],
        "arch_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "arch_weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_skip": [Interval(numbers.Integral, 0, None, closed="left")],
        "skip_share_stop": [None, Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=10, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, order="first", relaxation="softmax", arch_learning_rate=3e-3, arch_weight_decay=1e-3,
                 warmup_epochs=5, max_skip=1, skip_share_stop=0.5, checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.order = order
        self.relaxation = relaxation
        self.arch_learning_rate = arch_learning_rate
        self.arch_weight_decay = arch_weight_decay
        self.warmup_epochs = warmup_epochs
        self.max_skip = max_skip
        self.skip_share_stop = skip_share_stop

    def _checkpoints(self):
        return False  # its own loop: a supernet, then one batch of candidates

    def _propose(self, space, rng, history, n_remaining):  # pragma: no cover - _search is overridden
        return []

    # -- the search ----------------------------------------------------------------------------------------
    def _search(self, space, context):
        rng = context["rng"]
        seed = int(rng.randint(SEED_MAX))
        path = self._train_supernet(space, context, seed)
        candidates = [without_zero_blocks(path)]
        sources = ["darts"]
        # init, then the fallbacks, as every search orders them (_initial_candidates); init is evaluated
        # beside the discretised path (alpha is not seeded from it). Not the linear map where the fixed maps
        # are tried: it rarely won a default DARTS search, with near-zero ARI when it did, and it trained longer
        # than the path network (docs/speed.md, "Less work around the one network DARTS trains"); the fixed
        # maps (the LDA map is a linear map too, fitted to the clusters) are the classical safety net.
        # Without them it stays.
        warm = self._warm_start()
        linear = space.fallback("linear") if space.include_identity else None
        for arch in self._initial_candidates(space):
            if arch not in candidates and (arch in warm or arch != linear):
                candidates.append(arch)
                sources.append("init" if arch in warm else "fallback")
        candidates, sources = candidates[:self.max_trials], sources[:self.max_trials]  # the discretised path first
        seeds = [int(rng.randint(SEED_MAX)) for _ in candidates]
        if linear is not None and linear not in candidates and len(candidates) < self.max_trials:
            # the draw the linear map had: the final network's seed, drawn next, stays what it was with it, so a
            # search the linear map did not win gives the fit it gave before (the fixed maps' seed is the fit's)
            rng.randint(SEED_MAX)
        data = {k: context[k] for k in SEARCH_DATA_KEYS}
        # The fixed maps first: the discretised path races them (_evaluate_raced).
        records = self._evaluate_raced([], context, candidates, seeds, data, self._candidate_settings())
        for trial, (record, source) in enumerate(zip(records, sources)):
            record.update(trial=trial, step=0, source=source)
            if source == "darts":
                record["supernet_score"] = self.supernet_score_
        return records

    def _out_of_time(self, context):
        """After a supernet epoch: ``max_time`` is spent, or another epoch would cross its share of the budget."""
        clock = self._deadline
        return super()._out_of_time(context) or (clock is not None and clock.step_over(
            (1 - SUPERNET_BUDGET_SHARE) * clock.seconds, step=self.supernet_history_[-1]["dur"]))

    def _supernet_ops(self, space):
        return tuple(dict.fromkeys(tuple(space.ops) + PARAMETER_FREE_OPS))

    def _train_supernet(self, space, context, seed):
        """Train the supernet, set the supernet attributes, return the capped discretisation."""
        device = self.device_
        X_train, X_valid = context["X_train"], context["X_valid"]
        n_features = X_train.shape[1]
        widths = sorted(space.widths)
        width = widths[(len(widths) - 1) // 2]
        self.alpha_history_, self.edge_entropy_history_ = [], []
        self.skip_share_history_, self.supernet_history_ = [], []
        self.stopped_early_ = False
        with seeded(seed, device):
            supernet = SuperNet(n_features, self.n_components, ops=self._supernet_ops(space),
                                n_layers=max(1, space.max_depth), width=width,
                                norm=supernet_norm(space)).to(device)
            objective = make_objective(self.objective_, n_features, self.n_components, context["y_train"],
                                       layout=self._standardizer.layout).to(device)
            train = objective.prepare(torch.as_tensor(X_train, device=device), context["y_train"])
            valid = objective.prepare(torch.as_tensor(X_valid, device=device), context["y_valid"])
            net = _RelaxedNet(supernet)
            weights = supernet.weight_parameters() + [p for p in objective.parameters() if p.requires_grad]
            alphas = supernet.arch_parameters()
            w_opt = make_optimizer(weights, self.learning_rate, WEIGHT_DECAY, device)  # fused, as every network
            a_opt = torch.optim.Adam(alphas, lr=self.arch_learning_rate, betas=(0.5, 0.999),
                                     weight_decay=self.arch_weight_decay)
            try:
                self._run_epochs(net, objective, train, valid, weights, alphas, w_opt, a_opt, context)
            except (CandidateFailure, torch.OutOfMemoryError) as exc:
                warnings.warn(f"DARTS supernet training stopped: {exc}; discretising the last finite alpha.",
                              RuntimeWarning, stacklevel=4)
            self.supernet_architecture_ = supernet.discretize()
            self.supernet_layer_ops_ = [tuple(b.op for b in c) for c in supernet.layer_candidates]
            self.supernet_score_ = self._score_supernet(net, valid, seed)
            return supernet.discretize(capped_path(supernet, self.max_skip))

    def _score_supernet(self, net, valid, seed):
        """The shared label-free score of the supernet's own (mixed) embedding of the validation split.

        Compared with the retrained discretised candidate's score, it tells how
        much discretisation and retraining changed the map (the DARTS gap).
        """
        net.noise = None
        try:
            Z = embed(net, valid.X).cpu().numpy().astype(np.float64)
            scoring = "silhouette" if self._pool_scoring() else self._scoring()
            scored = score_embedding(Z, scoring=scoring, n_clusters=self.n_clusters, X=valid.X.cpu().numpy(),
                                     validation_loss=(self.supernet_history_ or [{}])[-1].get("valid_loss", math.nan),
                                     random_state=seed)
        except (RuntimeError, ValueError) as exc:
            warnings.warn(f"Could not score the supernet: {exc}", RuntimeWarning, stacklevel=5)
            return -math.inf
        return scored.score

    def _run_epochs(self, net, objective, train, valid, weights, alphas, w_opt, a_opt, context):
        supernet = net.supernet
        device = train.X.device
        gumbel = self.relaxation == "gumbel"
        valid_batches = iter(())
        before_skip_run, skip_run = None, 0  # alpha before the current run of skip-heavy epochs
        max_epochs = supernet_epochs(self.max_epochs)
        for epoch in range(1, max_epochs + 1):
            t0 = time.perf_counter()
            update_alpha = epoch > self.warmup_epochs
            if gumbel:
                progress = (epoch - 1) / max(max_epochs - 1, 1)
                net.tau = _TAU[0] + (_TAU[1] - _TAU[0]) * progress
            snapshot = [a.detach().clone() for a in alphas]
            net.train()
            objective.train()
            running, seen = torch.zeros((), device=device), 0
            for idx in iterate_batches(len(train), self.batch_size, device):
                if update_alpha:
                    v_idx = next(valid_batches, None)
                    if v_idx is None:
                        valid_batches = iterate_batches(len(valid), self.batch_size, device)
                        v_idx = next(valid_batches, None)
                    if v_idx is not None:
                        net.noise = _gumbel_noise(supernet) if gumbel else None
                        self._arch_step(net, objective, train, valid, idx, v_idx, weights, alphas, a_opt)
                net.noise = _gumbel_noise(supernet) if gumbel else None
                loss = objective.loss(net, train, idx)
                grads = torch.autograd.grad(loss, weights, allow_unused=True)
                for p, g in zip(weights, grads):
                    p.grad = g
                torch.nn.utils.clip_grad_norm_(weights, GRAD_CLIP)
                w_opt.step()
                running += loss.detach() * len(idx)
                seen += len(idx)
            train_loss = float(running) / max(seen, 1)
            if gumbel:  # validate the current argmax path
                net.noise = [torch.zeros_like(a) for a in alphas]
            else:
                net.noise = None
            valid_loss = evaluate_loss(net, objective, valid)
            net.noise = None
            if not (math.isfinite(train_loss) and math.isfinite(valid_loss)) or \
                    not all(bool(torch.isfinite(a).all()) for a in alphas):
                with torch.no_grad():
                    for a, s in zip(alphas, snapshot):
                        a.copy_(s)
                raise CandidateFailure(f"non-finite loss at epoch {epoch}")
            share = skip_share(supernet)
            self.alpha_history_.append([torch.softmax(a.detach(), 0).cpu().numpy().astype(np.float64)
                                        for a in alphas])
            self.edge_entropy_history_.append(edge_entropy(supernet))
            self.skip_share_history_.append(share)
            self.supernet_history_.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                                           "alpha_updated": update_alpha, "dur": time.perf_counter() - t0})
            if self.verbose:
                print(f"[DARTS] epoch {epoch}: train {train_loss:.4f} valid {valid_loss:.4f} "
                      f"mean entropy {self.edge_entropy_history_[-1].mean():.3f} skip share {share:.2f}")
            if update_alpha and self.skip_share_stop is not None and share > self.skip_share_stop:
                # A single skip-heavy epoch is often the argmax flickering while alpha is
                # still near uniform; stop only when it persists, and go back to the alpha
                # from before the run began.
                skip_run += 1
                before_skip_run = snapshot if skip_run == 1 else before_skip_run
                if skip_run >= _SKIP_STOP_PATIENCE:
                    with torch.no_grad():
                        for a, s in zip(alphas, before_skip_run):
                            a.copy_(s)
                    self.stopped_early_ = True
                    break
            else:
                skip_run = 0
            if self._out_of_time(context):
                break

    def _arch_step(self, net, objective, train, valid, idx, v_idx, weights, alphas, a_opt):
        """One Adam step of alpha on the validation batch ``v_idx``."""
        def valid_loss():
            return objective.loss(net, valid, v_idx)

        if self.order == "first":
            grads = first_order_gradient(valid_loss, alphas)
        else:
            step_seed = int(torch.randint(SEED_MAX, ()))

            def train_loss():
                return objective.loss(net, train, idx)

            grads = darts_hypergradient(train_loss, valid_loss, weights, alphas, self.learning_rate,
                                        seed=step_seed, device=train.X.device)
        for a, g in zip(alphas, grads):
            a.grad = g
        a_opt.step()
