"""Reinforcement-learning search: an LSTM controller trained with REINFORCE (Zoph & Le 2017; ENAS).

The controller emits an Architecture as a sequence of decisions (a
:class:`SpaceGrammar`: the structure -- a fixed map or a depth --, then per
block its op, width, activation, norm, dropout and residual flag), each
decision a softmax over the space's own choices, invalid ones masked out, so
every emitted Architecture is a member of the space.  The reward is the
shared label-free score of the trained candidate (failed or collapsed
candidates get a low finite reward, :func:`~sknas.search._targets.record_targets`).
The policy gradient uses a moving-average baseline, advantages divided by a
moving scale of their size (so the step does not depend on the scoring's
units) and an entropy bonus.

With ``weight_sharing=True`` (ENAS, Pham et al. 2018) the decisions are one
op per layer of the shared :class:`~sknas.space.SuperNet` (a
:class:`PathGrammar`); supernet weight epochs (one controller-sampled path
per batch) alternate with controller steps whose candidates are scored with
the inherited weights, never trained on their own.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ..space import Architecture, Block, SuperNet
from ..space.architecture import FIXED_HEADS
from ..space.ops import PRESERVING_OPS
from ..space.supernet import PARAMETER_FREE_OPS, supernet_norm, without_zero_blocks
from ..training import GRAD_CLIP, SEED_MAX, WEIGHT_DECAY, CandidateFailure, embed, evaluate_loss, make_objective, seeded
from ..training.budget import supernet_epochs
from ..training.trainer import iterate_batches, make_optimizer
from ._targets import record_targets
from .base import BaseFeatureSearch
from .candidates import SEARCH_DATA_KEYS, finish_record, score_candidate

_BLOCK_FIELDS = ("op", "width", "activation", "norm", "dropout", "residual")


# -- what the controller decides ----------------------------------------------------------------------
class SpaceGrammar:
    """The decisions that spell an Architecture of a :class:`~sknas.space.SearchSpace`.

    First ``structure`` (the identity or LDA map when the space includes them,
    else a depth ``0..max_depth``), then, per block, ``op``, ``width`` (width-
    changing ops only), ``activation``, ``norm``, ``dropout`` and ``residual``
    (forced for ``zero``; ``zero`` is masked when the space offers no
    residual blocks).  :meth:`walk` either lets a rollout choose or replays a
    given Architecture, with the same code, so sampling and scoring agree.
    """

    def __init__(self, space):
        self.space = space
        self.structures = (tuple(FIXED_HEADS) if space.include_identity else ()) + tuple(range(space.max_depth + 1))
        self.n_choices = {"structure": len(self.structures)}
        for slot in range(space.max_depth):
            for name, choices in zip(_BLOCK_FIELDS, self._choices()):
                self.n_choices[f"{slot}.{name}"] = len(choices)

    def _choices(self):
        s = self.space
        return s.ops, s.widths, s.activations, s.norms, s.dropouts, s.residual

    def walk(self, rollout, target=None):
        """The Architecture the rollout chooses (or ``target``, replayed)."""
        space = self.space
        wanted = None
        if target is not None:
            wanted = target.head if target.head in FIXED_HEADS else target.depth
        structure = self.structures[rollout.decide("structure", wanted=_index(self.structures, wanted))]
        if structure in FIXED_HEADS:
            return Architecture(head=structure)
        blocks = []
        residual_ok = True in space.residual
        for slot in range(structure):
            old = target.blocks[slot] if target is not None else None

            def choose(name, choices, mask=None, _old=old, _slot=slot):
                want = None if _old is None else _index(choices, getattr(_old, name))
                return choices[rollout.decide(f"{_slot}.{name}", mask=mask, wanted=want)]

            op = choose("op", space.ops, mask=[o != "zero" or residual_ok for o in space.ops])
            width = 0 if op in PRESERVING_OPS else int(choose("width", space.widths))
            activation = choose("activation", space.activations)
            norm = choose("norm", space.norms)
            dropout = float(choose("dropout", space.dropouts))
            residual = bool(choose("residual", space.residual,
                                   mask=[r or op != "zero" for r in space.residual]))
            blocks.append(Block(op, width, activation, norm, dropout, residual))
        return Architecture(tuple(blocks))


class PathGrammar:
    """One op index per layer of a :class:`~sknas.space.SuperNet` (the ENAS decisions)."""

    def __init__(self, layer_candidates):
        self.layer_candidates = [tuple(c) for c in layer_candidates]
        self.n_choices = {f"layer{i}": len(c) for i, c in enumerate(self.layer_candidates)}

    def walk(self, rollout, target=None):
        return tuple(rollout.decide(f"layer{i}", wanted=None if target is None else target[i])
                     for i in range(len(self.layer_candidates)))


def _index(choices, value):
    if value is None:
        return None
    for i, choice in enumerate(choices):
        if choice == value and isinstance(choice, bool) == isinstance(value, bool):
            return i
    raise ValueError(f"{value!r} is not one of the choices {choices!r}.")


# -- the policy -------------------------------------------------------------------------------------------
class Controller(nn.Module):
    """An LSTM that reads its previous decision and emits the next one's logits.

    One embedding table and one output layer per decision key; logits are
    squashed as ``tanh_constant * tanh(logits / temperature)`` (as in ENAS)
    so no choice's probability reaches 0 or 1 after a few large steps.

    Parameters
    ----------
    n_choices : dict of str to int
        Decision keys and their number of choices (a grammar's ``n_choices``).
    hidden_size : int, default=32
    """

    def __init__(self, n_choices, hidden_size=32, tanh_constant=2.5, temperature=5.0):
        super().__init__()
        self.keys = tuple(n_choices)
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.start = nn.Parameter(torch.zeros(1, hidden_size))
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.heads = nn.ModuleDict({_module_key(k): nn.Linear(hidden_size, n) for k, n in n_choices.items()})
        self.embeddings = nn.ModuleDict({_module_key(k): nn.Embedding(n, hidden_size) for k, n in n_choices.items()})

    def rollout(self, generator=None):
        return _Rollout(self, generator)


def _module_key(key):
    return "d_" + key.replace(".", "_")  # ModuleDict keys may not contain dots


class _Rollout:
    """One pass of the controller: samples (or replays) decisions, sums log-probability and entropy."""

    def __init__(self, controller, generator=None):
        self.controller = controller
        self.generator = generator
        self.state = None
        self.input = controller.start
        self.log_prob = torch.zeros(())
        self.entropy = torch.zeros(())

    def decide(self, key, mask=None, wanted=None):
        c = self.controller
        h, cell = c.cell(self.input, self.state)
        self.state = (h, cell)
        logits = c.tanh_constant * torch.tanh(c.heads[_module_key(key)](h)[0] / c.temperature)
        if mask is not None:
            logits = logits.masked_fill(~torch.as_tensor(mask, dtype=torch.bool), -math.inf)
        dist = torch.distributions.Categorical(logits=logits)
        if wanted is None:
            wanted = int(torch.multinomial(dist.probs.detach(), 1, generator=self.generator))
        self.log_prob = self.log_prob + dist.log_prob(torch.tensor(wanted))
        self.entropy = self.entropy + dist.entropy()
        self.input = c.embeddings[_module_key(key)](torch.tensor([wanted]))
        return wanted


class Reinforce:
    """REINFORCE on a controller: sampling, a moving-average baseline, an entropy bonus.

    Parameters
    ----------
    grammar : SpaceGrammar or PathGrammar
    controller : Controller
    seed : int
        Seeds the local ``torch.Generator`` every sample is drawn from (never
        torch's global generator).
    learning_rate : float, default=0.05
    entropy_weight : float, default=0.01
    baseline_decay : float, default=0.8

    Attributes
    ----------
    reward_history, entropy_history, baseline_history : list of float
        Per update: the batch's mean reward, the mean entropy of its decision
        sequences (before the step), and the baseline it was compared with.
    """

    def __init__(self, grammar, controller, seed, learning_rate=0.05, entropy_weight=0.01, baseline_decay=0.8):
        self.grammar = grammar
        self.controller = controller
        self.generator = torch.Generator().manual_seed(int(seed))
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=learning_rate)
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.baseline = None
        self.scale = None
        self.reward_history, self.entropy_history, self.baseline_history = [], [], []

    @torch.no_grad()
    def sample(self, n, avoid=(), tries=10):
        """``n`` decoded samples; a sample in ``avoid`` (or drawn already) is redrawn up to ``tries`` times."""
        seen, out = set(avoid), []
        for _ in range(n):
            for _ in range(tries + 1):
                item = self.grammar.walk(self.controller.rollout(self.generator))
                if item not in seen:
                    break
            seen.add(item)
            out.append(item)
        return out

    def observe(self, rewards):
        """Move the baseline without a policy step (e.g. on the fallbacks' rewards)."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if len(rewards):
            self._move_baseline(rewards)

    def update(self, items, rewards):
        """One policy-gradient step on decoded ``items`` and their ``rewards``; returns the loss."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if not len(items):
            return math.nan
        if self.baseline is None:
            self._move_baseline(rewards)
        deviation = rewards - self.baseline
        # Advantages in units of their own recent size: the step is the same for a silhouette
        # (-1..1) and a Calinski-Harabasz score (hundreds).
        self.scale = float(np.mean(np.abs(deviation))) if self.scale is None else \
            self.baseline_decay * self.scale + (1 - self.baseline_decay) * float(np.mean(np.abs(deviation)))
        advantages = torch.as_tensor(deviation / max(self.scale, 1e-12), dtype=torch.float32)
        self.controller.train()
        log_probs, entropies = [], []
        for item in items:
            rollout = self.controller.rollout()
            self.grammar.walk(rollout, target=item)
            log_probs.append(rollout.log_prob)
            entropies.append(rollout.entropy)
        log_probs, entropies = torch.stack(log_probs), torch.stack(entropies)
        loss = -(advantages * log_probs).mean() - self.entropy_weight * entropies.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.reward_history.append(float(rewards.mean()))
        self.entropy_history.append(float(entropies.detach().mean()))
        self.baseline_history.append(float(self.baseline))
        self._move_baseline(rewards)
        return float(loss.detach())

    def _move_baseline(self, rewards):
        mean = float(np.mean(rewards))
        self.baseline = mean if self.baseline is None else \
            self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean


# -- the estimator -------------------------------------------------------------------------------------------
class RLFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by reinforcement-learning architecture search (REINFORCE; ENAS).

    An LSTM controller emits Architectures decision by decision (structure,
    then each block's op, width, activation, norm, dropout and residual flag)
    from the search space's own choices, so every candidate is a member of the
    space.  After the fallbacks (raw features, a linear map, the label-free
    LDA map; their scores set the initial reward baseline), each step samples
    ``controller_batch_size`` new candidates, the shared loop trains and scores
    them, and the controller takes one REINFORCE step on their rewards: the
    shared label-free score, a low finite value for failed or collapsed
    candidates.  The gradient uses a moving-average baseline, advantages
    scaled by their moving mean size, and an entropy bonus that keeps the
    policy exploring.  A sample already evaluated is redrawn (up to 10 times).

    With ``weight_sharing=True`` (ENAS) the controller instead picks one op
    per layer of the shared supernet (the DARTS supernet: ``max_depth``
    layers of the space's middle width, the space's ops plus ``skip`` and
    ``zero``).  Supernet epochs, each batch on a path sampled from the
    controller, alternate with controller steps whose candidates are scored
    with the inherited supernet weights: no candidate is trained from scratch.
    The fixed maps (raw features, LDA; nothing to train) are scored as usual.
    ``max_epochs`` is then the supernet's epoch budget (``"auto"``: 40), spread
    over the controller steps.  The winner is retrained on all rows, as always.

    On the tabulated benchmark (500 architectures x 8 tables, 20 seeds; ``benchmarks/results/strategies.md``)
    it was not better than random search at any budget from 10 to 100 evaluations.

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, verbose
        As in :class:`RandomFeatureSearch`.
    max_trials : int, default=40
        Candidates evaluated in all (the fallbacks included).
    n_jobs : int or None, default=None
        Candidates of a controller step trained in parallel processes (CPU);
        unused with ``weight_sharing=True``.  It never changes the search: a
        step always proposes ``controller_batch_size`` candidates.
    controller_batch_size : int, default=5
        Candidates per controller step (the REINFORCE batch).
    controller_hidden_size : int, default=32
        Width of the controller's LSTM.
    controller_learning_rate : float, default=0.05
        Adam step size of the controller.
    entropy_weight : float, default=0.01
        Weight of the policy's entropy (summed over decisions) in the
        controller's objective: higher explores longer.
    baseline_decay : float, default=0.8
        Decay of the moving-average reward baseline.
    weight_sharing : bool, default=False
        ENAS: score candidates with weights inherited from a shared supernet.
    checkpoint : str, path-like or None, default=None
        As in :class:`RandomFeatureSearch` (the controller's steps are replayed).

        .. deprecated:: 0.2
            With ``weight_sharing=True`` the supernet search is not checkpointed: a path
            does nothing and warns (``FutureWarning``); that combination raises in 0.3.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: the controller's first batch after the fallbacks: a policy-
        gradient step learns from their rewards.  With ``weight_sharing=True`` they are trained alone
        beside the fixed maps. Stored untouched: the estimator passed is never modified.

    Attributes
    ----------
    controller_ : Controller
        The trained controller (a torch module).
    reward_history_ : list of float
        Mean reward of each controller step's candidates: the learning curve.
    entropy_history_ : list of float
        Mean entropy of the policy's decision sequences at each step (it falls
        as the controller commits).
    baseline_history_ : list of float
        The reward baseline each step was compared with.
    supernet_history_ : list of dict
        With ``weight_sharing=True``: per supernet epoch, ``epoch``,
        ``train_loss``, ``step`` and ``dur``.
    architecture_, net_, search_history_, best_score_, runner_ups_, pareto_front_, search_time_, fit_time_,
    time_budget_, efficiency_, n_trials_, n_components_, objective_, device_, n_features_in_, feature_names_in_
        As in :class:`RandomFeatureSearch`; each record also has ``source``
        (``"fallback"``, ``"controller"`` or ``"enas"``) and, for ENAS
        candidates, ``inherited=True`` and the supernet ``path``.

    See Also
    --------
    RandomFeatureSearch : The baseline strategy.
    BayesFeatureSearch : Bayesian optimisation over the same space.

    References
    ----------
    Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017.
    Pham, Guan, Zoph, Le & Dean, "Efficient Neural Architecture Search via Parameter Sharing", ICML 2018.

    Examples
    --------
    >>> from sknas import RLFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = RLFeatureSearch(n_components=4, n_clusters=5, max_trials=7, max_epochs=2,
    ...                          controller_batch_size=2, random_state=0).fit(X)
    >>> len(search.reward_history_)
    2
    >>> search.transform(X).shape
    (300, 4)
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "controller_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "controller_hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "controller_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "entropy_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "baseline_decay": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_sharing": ["boolean"],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=40, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, controller_batch_size=5, controller_hidden_size=32, controller_learning_rate=0.05,
                 entropy_weight=0.01, baseline_decay=0.8, weight_sharing=False, checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.controller_batch_size = controller_batch_size
        self.controller_hidden_size = controller_hidden_size
        self.controller_learning_rate = controller_learning_rate
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.weight_sharing = weight_sharing

    def _checkpoints(self):
        return not self.weight_sharing  # ENAS trains a shared supernet in its own loop

    def _no_checkpoint_detail(self):
        return " with weight_sharing=True"

    def _out_of_time(self, context):
        """With ``weight_sharing``, after a controller step: also when another step as long would eat into the
        time a ``time_budget`` keeps for the final network."""
        clock = self._deadline
        return super()._out_of_time(context) or (self.weight_sharing and clock is not None and clock.step_over(
            clock.final_reserve() + clock.after_search()))

    def _make_policy(self, grammar, rng):
        seed = int(rng.randint(SEED_MAX))
        with seeded(seed):  # the controller's initial weights; the caller's torch RNG is restored
            controller = Controller(grammar.n_choices, self.controller_hidden_size)
        return Reinforce(grammar, controller, seed, learning_rate=self.controller_learning_rate,
                         entropy_weight=self.entropy_weight, baseline_decay=self.baseline_decay)

    def _search(self, space, context):
        self.supernet_history_ = []
        if self.weight_sharing:
            return self._search_shared(space, context)
        self._policy = self._make_policy(SpaceGrammar(space), context["rng"])
        try:
            history = super()._search(space, context)
            self._learn(history)  # the last step's rewards too, so the curves cover every step
            self._set_curves(self._policy)
        finally:
            del self._policy  # search state, not a fitted attribute
        return history

    def _set_curves(self, policy):
        self.controller_ = policy.controller.eval()
        self.reward_history_ = list(policy.reward_history)
        self.entropy_history_ = list(policy.entropy_history)
        self.baseline_history_ = list(policy.baseline_history)

    def _learn(self, history):
        """Update the controller on the most recent step's candidates (the baseline on the fallbacks')."""
        if not history:
            return
        targets = record_targets(history)
        last = history[-1]["step"]
        batch = [(r, t) for r, t in zip(history, targets) if r["step"] == last]
        # init's architectures are the controller's first batch: it learns from them as from its own samples.
        controller_batch = [(r["architecture"], t) for r, t in batch if r.get("source") in ("controller", "init")]
        if controller_batch:
            archs, rewards = zip(*controller_batch)
            self._policy.update(list(archs), list(rewards))
        else:
            self._policy.observe([t for _, t in batch])

    def _propose(self, space, rng, history, n_remaining):
        if not history:
            return [(arch, {"source": "fallback"}) for arch in space.fallbacks()[:n_remaining]]
        self._learn(history)
        warm = [a for a in self._initial_candidates(space) if a not in space.fallbacks()]
        if warm and history[-1]["step"] == 0:
            return [(arch, {"source": "init"}) for arch in warm[:n_remaining]]
        # The REINFORCE batch is an algorithm setting; n_jobs only runs it in parallel, so the search
        # is the same whatever n_jobs is.
        n = min(self.controller_batch_size, n_remaining)
        archs = self._policy.sample(n, avoid={r["architecture"] for r in history})
        return [(arch, {"source": "controller"}) for arch in archs]

    # -- ENAS ---------------------------------------------------------------------------------------------
    def _search_shared(self, space, context):
        rng = context["rng"]
        data = {k: context[k] for k in SEARCH_DATA_KEYS}
        settings = self._candidate_settings()
        fixed = [a for a in space.fallbacks() if a.head in FIXED_HEADS]
        fixed = (fixed + [a for a in self._warm_start() if a not in fixed])[: self.max_trials]  # init trains alone
        history = self._evaluate_many(fixed, [int(rng.randint(SEED_MAX)) for _ in fixed], data, settings)
        for trial, record in enumerate(history):
            record.update(trial=trial, step=0, cached=False, fidelity=None,
                          source="fallback" if record["architecture"].head in FIXED_HEADS else "init")
        n_paths = self.max_trials - len(history)
        if n_paths <= 0:
            policy = self._make_policy(PathGrammar([()]), rng)
            self._set_curves(policy)
            return history
        seed = int(rng.randint(SEED_MAX))
        n_features = data["X_train"].shape[1]
        widths = sorted(space.widths)
        with seeded(seed, self.device_):
            supernet = SuperNet(n_features, self.n_components, ops=tuple(dict.fromkeys(space.ops + PARAMETER_FREE_OPS)),
                                n_layers=max(1, space.max_depth), width=widths[(len(widths) - 1) // 2],
                                norm=supernet_norm(space)).to(self.device_)
            policy = self._make_policy(PathGrammar(supernet.layer_candidates), rng)
            objective = make_objective(self.objective_, n_features, self.n_components, data["y_train"],
                                       layout=self._standardizer.layout).to(self.device_)
            train = objective.prepare(torch.as_tensor(data["X_train"], dtype=torch.float32, device=self.device_),
                                      data["y_train"])
            valid = objective.prepare(torch.as_tensor(data["X_valid"], dtype=torch.float32, device=self.device_),
                                      data["y_valid"])
            # the rows every path is scored on, moved to the device once
            X_score = torch.as_tensor(data["X_score"], dtype=torch.float32, device=self.device_)
            weights = supernet.weight_parameters() + [p for p in objective.parameters() if p.requires_grad]
            # fused, as every network sknas trains
            optimizer = make_optimizer(weights, self.learning_rate, WEIGHT_DECAY, self.device_)
            n_steps = math.ceil(n_paths / self.controller_batch_size)
            epochs = np.array_split(np.arange(1, supernet_epochs(self.max_epochs) + 1), n_steps)
            failed = None
            for step in range(n_steps):
                for epoch in epochs[step]:
                    if failed is None:
                        failed = self._supernet_epoch(supernet, objective, train, policy, weights, optimizer,
                                                      int(epoch), step + 1)
                n = min(self.controller_batch_size, n_paths - (len(history) - len(fixed)))
                paths = policy.sample(n)
                records = [self._score_path(supernet, path, objective, valid, X_score, data, settings, rng, failed)
                           for path in paths]
                for record in records:
                    record.update(trial=len(history), step=step + 1)
                    history.append(record)
                targets = record_targets(history)[-len(records):]
                policy.update(paths, targets)
                if self._out_of_time(context):
                    break
        self._set_curves(policy)
        return history

    def _supernet_epoch(self, supernet, objective, train, policy, weights, optimizer, epoch, step):
        """One epoch of shared weights, each batch on a controller-sampled path; a failure reason or None."""
        t0 = time.perf_counter()
        supernet.train()
        objective.train()
        running, seen = torch.zeros((), device=train.X.device), 0
        try:
            for idx in iterate_batches(len(train), self.batch_size, train.X.device):
                path = policy.sample(1, tries=0)[0]
                loss = objective.loss(_PathNet(supernet, path), train, idx)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(weights, GRAD_CLIP)
                optimizer.step()
                running += loss.detach() * len(idx)
                seen += len(idx)
        except torch.OutOfMemoryError as exc:
            return f"supernet out of memory: {exc}".splitlines()[0]
        train_loss = float(running) / max(seen, 1)  # one sync per epoch
        self.supernet_history_.append({"epoch": epoch, "train_loss": train_loss, "step": step,
                                       "dur": time.perf_counter() - t0})
        if not math.isfinite(train_loss):
            return f"non-finite supernet loss at epoch {epoch}"
        return None

    def _score_path(self, supernet, path, objective, valid, X_score, data, settings, rng, failed):
        """The shared score of one path with the supernet's current (inherited) weights."""
        start = time.perf_counter()
        architecture = without_zero_blocks(supernet.discretize(path))
        record = {"architecture": architecture, "seed": int(rng.randint(SEED_MAX)), "status": "ok",
                  "reason": None, "source": "enas", "inherited": True, "path": list(path), "cached": False,
                  "fidelity": None}
        net = _PathNet(supernet, path)
        try:
            if failed is not None:
                raise CandidateFailure(failed)
            validation_loss = evaluate_loss(net, objective, valid)
            Z = embed(net, X_score).cpu().numpy().astype(np.float64)
            score_candidate(record, Z, validation_loss, 0, data, settings)
        except (CandidateFailure, RuntimeError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, CandidateFailure) else f"{type(exc).__name__}: {exc}"
            record.update(status="failed", reason=reason.splitlines()[0], score=-math.inf, valid=False)
        return finish_record(record, data["X_train"].shape[1], settings, start)


class _PathNet(nn.Module):
    """The supernet restricted to one path: what an objective trains or a score reads."""

    def __init__(self, supernet, path):
        super().__init__()
        self.supernet = supernet
        self.path = tuple(path)

    def forward(self, x):
        return self.supernet(x, self.path)
