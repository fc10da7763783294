"""Optuna's samplers as a search strategy: the ecosystem's TPE, CMA-ES and NSGA-II over the sknas space.

Each step asks an Optuna study (ask/tell interface) for candidates, turns each trial's parameters into
an Architecture of the search space, and tells the study the label-free score the shared search loop
measured (and, with several objectives, the candidate's cost). The study lives only while ``fit`` runs:
the fitted estimator keeps plain records (``search_history_``), so it pickles like every other search.

The space is encoded with a fixed set of parameters, one per decision of every block slot (``depth``,
then ``op_i``, ``width_i``, ``activation_i``, ``norm_i``, ``dropout_i``, ``residual_i`` for each slot
``i < max_depth``, and ``embedding`` on categorical data): the slots past ``depth`` are drawn but unused,
so every trial has the same parameters and model-based samplers see one fixed-dimensional space.
Choices are categorical parameters, or the index of the choice as an integer for CMA-ES (which samples
categorical parameters at random).
"""

from __future__ import annotations

from sklearn.utils._param_validation import HasMethods, StrOptions

from ..space import Architecture, Block
from ..space.ops import PRESERVING_OPS
from ..training import SEED_MAX
from ._targets import record_targets
from .base import BaseFeatureSearch
from .pareto import check_objectives, pareto_records

#: The ``sampler`` names and what they are.
SAMPLERS = ("auto", "tpe", "cmaes", "nsga2", "random")
_FIELDS = (("op", "ops"), ("width", "widths"), ("activation", "activations"), ("norm", "norms"),
           ("dropout", "dropouts"), ("residual", "residual"))


def _import_optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("OptunaFeatureSearch needs optuna: pip install 'sknas[optuna]'.") from None
    return optuna


def make_sampler(sampler, seed, n_objectives):
    """The Optuna sampler for ``sampler`` (a name, or a sampler instance used as given), seeded with ``seed``."""
    optuna = _import_optuna()
    if not isinstance(sampler, str):
        return sampler
    name = ("tpe" if n_objectives == 1 else "nsga2") if sampler == "auto" else sampler
    if name == "cmaes" and n_objectives > 1:
        raise ValueError("sampler='cmaes' optimises one objective; use 'nsga2' or 'tpe' with several objectives.")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "cmaes":
        # Its first trials, and any parameter it cannot model, come from an independent TPE sampler.
        return optuna.samplers.CmaEsSampler(seed=seed, independent_sampler=optuna.samplers.TPESampler(seed=seed),
                                            warn_independent_sampling=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def trial_architecture(trial, space, numeric=False):
    """The Architecture of ``space`` an Optuna ``trial`` (or a ``FixedTrial``) spells.

    Every trial suggests the same parameters (see the module docstring); ``numeric`` suggests the
    index of each choice as an integer instead of a categorical choice.
    """
    def choose(name, choices):
        choices = tuple(choices)
        if numeric:
            return choices[trial.suggest_int(name, 0, len(choices) - 1)]
        return trial.suggest_categorical(name, choices)

    depth = trial.suggest_int("depth", 0, space.max_depth)
    blocks = []
    for slot in range(space.max_depth):
        values = {field: choose(f"{field}_{slot}", getattr(space, attr)) for field, attr in _FIELDS}
        if slot >= depth:
            continue
        op = values["op"]
        residual = bool(values["residual"])
        if op == "zero":
            residual = True
        blocks.append(Block(op=op, width=0 if op in PRESERVING_OPS else int(values["width"]),
                            activation=values["activation"], norm=values["norm"],
                            dropout=float(values["dropout"]), residual=residual))
    embedding = choose("embedding", space.embedding_dims) if space.categorical else "auto"
    return Architecture(tuple(blocks), embedding_dim=embedding)


def architecture_params(arch, space, numeric=False):
    """The trial parameters that spell ``arch`` (unused slots at their first choice), or None for a fixed map
    or an Architecture the space's choices cannot spell."""
    if arch.head != "linear" or arch.depth > space.max_depth:
        return None
    params = {"depth": arch.depth}
    for slot in range(space.max_depth):
        block = arch.blocks[slot] if slot < arch.depth else None
        for field, attr in _FIELDS:
            choices = tuple(getattr(space, attr))
            value = getattr(block, field) if block is not None else choices[0]
            if field == "width" and block is not None and block.op in PRESERVING_OPS:
                value = choices[0]
            if value not in choices:
                return None
            params[f"{field}_{slot}"] = choices.index(value) if numeric else value
    if space.categorical:
        dims = tuple(space.embedding_dims)
        if arch.embedding_dim not in dims:
            return None
        params["embedding"] = dims.index(arch.embedding_dim) if numeric else arch.embedding_dim
    return params


def _distributions(space, numeric):
    optuna = _import_optuna()
    dist = optuna.distributions

    def one(choices):
        choices = tuple(choices)
        return dist.IntDistribution(0, len(choices) - 1) if numeric else dist.CategoricalDistribution(choices)

    out = {"depth": dist.IntDistribution(0, space.max_depth)}
    for slot in range(space.max_depth):
        for field, attr in _FIELDS:
            out[f"{field}_{slot}"] = one(getattr(space, attr))
    if space.categorical:
        out["embedding"] = one(space.embedding_dims)
    return out


class OptunaFeatureSearch(BaseFeatureSearch):
    """Learn a feature map with an Optuna sampler (TPE, CMA-ES, NSGA-II or random) over architectures.

    The fallbacks come first (raw features, a linear map, the label-free
    LDA map, after ``init``'s architectures), as in every search; the linear
    map and the warm-start networks are told to the study as completed
    trials, so the sampler learns from them.  Then each step asks the study
    for candidates (one, or ``n_jobs`` to keep the workers busy), trains and
    scores them in the shared search loop, and tells the study what they
    scored: the label-free score (failed or collapsed candidates get a low
    finite value), and with several ``objectives`` the candidate's cost too.
    The sampler is seeded from ``random_state``; the study exists only during
    ``fit`` (the fitted estimator pickles without it).

    Parameters
    ----------
    n_components, n_clusters, objective, scoring, search_space, max_epochs, max_time, time_budget, batch_size,
    learning_rate, validation_fraction, device, random_state, n_jobs, verbose, checkpoint,
    categorical_features, handle_unknown
        As in :class:`RandomFeatureSearch`.
    max_trials : int, default=40
        Candidates evaluated in all (the fallbacks and cached repeats included).
    sampler : {"auto", "tpe", "cmaes", "nsga2", "random"} or optuna sampler, default="auto"
        ``"auto"``: TPE (``optuna.samplers.TPESampler``) for one objective,
        NSGA-II for several.  ``"cmaes"``: CMA-ES over the choices' indices
        (one objective only).  An ``optuna.samplers.BaseSampler`` instance is
        used as given (a copy of it: the one passed is never modified), its
        own seed in force.
    objectives : tuple of str, default=("score",)
        What the study optimises: ``("score",)``, or ``"score"`` and one or
        more costs, ``"params"`` and ``"flops"`` (minimised, on a log10 scale
        as in :class:`ParetoFeatureSearch`).  The winner is the best score
        either way; ``pareto_front_`` holds the candidates not dominated in
        these objectives.
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates.  Used here as
        follows: evaluated first and told to the study as completed trials. Stored untouched.

    Attributes
    ----------
    sampler_ : str
        The class name of the sampler that ran.
    pareto_front_ : list of dict
        Valid candidates not dominated in ``objectives`` (with one objective:
        in score and params, as in every search), best score first.
    architecture_, net_, search_history_, best_score_, runner_ups_, final_check_, search_time_, fit_time_, time_budget_,
    efficiency_, n_trials_, n_components_, objective_, device_, n_features_in_, feature_names_in_,
    is_categorical_
        As in :class:`RandomFeatureSearch`; each record also has ``source``
        (``"fallback"``, ``"init"`` or ``"optuna"``) and ``optuna_trial`` (the
        study's trial number, when the study knows it).

    See Also
    --------
    BayesFeatureSearch : A hand-written Gaussian-process or ensemble surrogate.
    ParetoFeatureSearch : The hand-written NSGA-II, with latency and the knee choice.

    Notes
    -----
    Needs the ``optuna`` extra (``pip install 'sknas[optuna]'``).  On the tabulated
    benchmark (500 architectures x 8 tables, 20 seeds; ``benchmarks/results/strategies.md``)
    neither TPE nor CMA-ES was better than random search at any budget from 10 to 200
    evaluations.

    Examples
    --------
    >>> from sknas import OptunaFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = OptunaFeatureSearch(n_components=4, n_clusters=5, max_trials=5, max_epochs=2,
    ...                              random_state=0).fit(X)
    >>> search.sampler_
    'TPESampler'
    >>> [r["source"] for r in search.search_history_]
    ['fallback', 'fallback', 'fallback', 'optuna', 'optuna']
    >>> search.transform(X).shape
    (300, 4)
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "sampler": [StrOptions(set(SAMPLERS)), HasMethods(["sample_independent", "infer_relative_search_space"])],
        "objectives": [tuple, list],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=40, max_epochs="auto", max_time=None, batch_size=512,
                 learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None, n_jobs=None,
                 verbose=0, sampler="auto", objectives=("score",), checkpoint=None,
                 categorical_features="from_dtype", handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.sampler = sampler
        self.objectives = objectives

    def _check_objectives(self):
        objectives = tuple(self.objectives) if isinstance(self.objectives, (tuple, list)) else self.objectives
        if objectives == ("score",):
            return objectives
        objectives = check_objectives(objectives)
        if "latency" in objectives:
            raise ValueError("OptunaFeatureSearch optimises 'params' and 'flops'; ParetoFeatureSearch "
                             "measures latency.")
        return objectives

    # -- the study, alive only while the search runs ---------------------------------------------------
    def _search(self, space, context):
        import copy

        optuna = _import_optuna()
        objectives = self._check_objectives()
        seed = int(context["rng"].randint(SEED_MAX))
        sampler = make_sampler(copy.deepcopy(self.sampler), seed, len(objectives))
        numeric = isinstance(sampler, optuna.samplers.CmaEsSampler)
        directions = ["maximize"] + ["minimize"] * (len(objectives) - 1)
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one log line per trial is not news here
        try:
            study = optuna.create_study(sampler=sampler, directions=directions)
            self._study = {"study": study, "numeric": numeric, "objectives": objectives, "pending": {},
                           "told": 0, "distributions": _distributions(space, numeric)}
            history = super()._search(space, context)
            self._tell(history)
            self.sampler_ = type(sampler).__name__
            self._objectives = objectives
        finally:
            optuna.logging.set_verbosity(verbosity)
            self.__dict__.pop("_study", None)  # search state, never pickled with the fitted estimator
        return history

    def _values(self, records):
        """What the study is told for ``records``: the finite score target, then each cost (log10)."""
        import math

        targets = record_targets(records)
        out = []
        for record, target in zip(records, targets):
            costs = [math.log10(1.0 + max(float(record[name]), 0.0)) for name in self._study["objectives"][1:]]
            out.append([float(target)] + costs)
        return out

    def _tell(self, history):
        """Tell the study every record measured since the last call (targets are recomputed on the whole history,
        so a failed candidate's low value is on the scale of the scores seen so far)."""
        state = self._study
        new = history[state["told"]:]
        if not new:
            return
        values = self._values(history)[state["told"]:]
        optuna = _import_optuna()
        for record, value in zip(new, values):
            number = record.get("optuna_trial")
            value = value if len(value) > 1 else value[0]
            if number is not None and number in state["pending"]:
                state["study"].tell(state["pending"].pop(number), value)
            elif record.get("source") in ("fallback", "init"):
                params = architecture_params(record["architecture"], state["space"], state["numeric"])
                if params is not None:  # a network the encoding spells: the sampler learns from it
                    state["study"].add_trial(optuna.trial.create_trial(
                        params=params, distributions=state["distributions"], values=value
                        if isinstance(value, list) else [value]))
        state["told"] = len(history)

    def _propose(self, space, rng, history, n_remaining):
        state = self._study
        state["space"] = space
        if not history:
            fallbacks = space.fallbacks()
            return [(a, {"source": "fallback" if a in fallbacks else "init"})
                    for a in self._initial_candidates(space)[:n_remaining]]
        self._tell(history)
        proposals = []
        for _ in range(min(max(1, self.n_jobs or 1), n_remaining)):
            trial = state["study"].ask()
            arch = trial_architecture(trial, space, state["numeric"])
            state["pending"][trial.number] = trial
            proposals.append((arch, {"source": "optuna", "optuna_trial": trial.number}))
        return proposals

    def _select_architecture(self, context):
        architecture = super()._select_architecture(context)
        objectives = self.__dict__.pop("_objectives", ("score",))
        if len(objectives) > 1:
            self.pareto_front_ = pareto_records(self.search_history_, objectives)
        return architecture

