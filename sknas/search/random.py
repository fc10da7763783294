"""Random search: the baseline every other strategy must beat, and the template a new one copies."""

from __future__ import annotations

import math
import numbers

from sklearn.utils._param_validation import Interval

from ..space.architecture import FIXED_HEADS
from ..training import SEED_MAX
from .base import BaseFeatureSearch

#: Successive halving's reduction factor: after screening, the best third of the networks train fully
#: (eta = 3, the usual choice of Jamieson & Talwalkar 2016 and Hyperband).
SCREEN_KEEP_ONE_IN = 3


class RandomFeatureSearch(BaseFeatureSearch):
    """Learn a feature map by random architecture search.

    Draws ``max_trials`` Architectures from the search space, trains each on
    the training split with the chosen self-supervised objective, scores its
    embedding of the scoring rows label-free (the validation split, topped up
    with training rows to 2,000 when smaller), and retrains the best one
    on all rows.  The first candidates are the fallbacks: the raw
    standardised features and the label-free discriminant map (when the space
    includes them: ``include_identity``) and a linear map, so the search never
    does worse than those by its own score.

    Parameters
    ----------
    n_components : int, default=8
        Width of the learned embedding.
    n_clusters : int, default=8
        Number of clusters the label-free score assumes.
    objective : {"auto", "neighbors", "reconstruction", "contrastive", "supervised"}, default="auto"
        Self-supervised training objective.  ``"auto"`` is ``"neighbors"``
        (k-NN graph preserving, parametric-UMAP style): it was the only
        objective at UMAP's level for KMeans on the embedding in our
        measurements (see ``sknas.training.objectives``).
    scoring : str or callable, default="auto"
        Label-free score of a candidate on the scoring rows, one of
        ``"silhouette+separability"``, ``"discriminability+separability"``,
        ``"silhouette"``, ``"calinski_harabasz"``, ``"davies_bouldin"``, ``"stability"``, ``"validation_loss"``, or
        ``callable(Z) -> float`` (higher is better).  ``"auto"`` is
        ``"silhouette+separability"``: the mean of the KMeans partition's
        silhouette in the candidate's embedding and its held-out separability
        in the input space (:func:`sknas.evaluation.separability`).  The first
        favours maps that squeeze clusters tight, whatever made them; the second
        judges every candidate's partition in the same space, so maps compare.
        Measured (``benchmarks/results/selection_random.md``, ``selection_evo.md``
        and ``quality_default.md``): Kendall tau with true ARI across candidates
        +0.41 / +0.47 (random / evolution pools) against +0.30 / +0.34 for the
        silhouette alone, and a higher or equal mean ARI of the final pipeline for
        every search.  ``"discriminability+separability"`` replaces the
        silhouette with the same held-out separability measured in the
        candidate's embedding, so no map is rewarded for the scale of its
        directions (``docs/selection.md``).  Collapsed embeddings are rejected whatever
        the scoring.  Two scorings rank the whole pool after the search:
        ``"consensus"`` (mean ARI of a candidate's clustering with the other
        candidates') and ``"silhouette+consensus"`` (the rank average of both);
        see :mod:`sknas.evaluation.selection` for the measured evidence.
    search_space : SearchSpace, dict or None, default=None
        The choices to search; ``None`` is ``SearchSpace()``.
    max_trials : int, default=10
        Candidates to evaluate.
    max_epochs : int or "auto", default="auto"
        Epochs each candidate and the final network train (candidates keep their last weights, as
        the final network does). ``"auto"``: at most enough epochs for 1,000 optimizer updates and
        at least 40 (on 500 rows at batch 512: 1,000 epochs; above 12,800 rows: 40), because an
        epoch of a small table is one or two updates (see :mod:`sknas.training.budget`); a candidate
        stops earlier once its clusters stop sharpening, and the final network then trains as many
        updates as the winner did (:mod:`sknas.training.convergence`; about half the budget on small
        tables). An int is trained in full.
    max_time : float or None, default=None
        Stop proposing candidates after this many seconds.
    screening : float in (0, 1) or None, default=None
        Successive halving. ``None``: every candidate trains its whole budget. A share such as ``0.2``:
        every network first trains for that share of the budget's epochs, then the best third of them
        by score (at least one) train fully, and only fully trained networks may win. Of the
        ``max_trials`` records, the fixed maps take theirs, and the rest are split between screened
        networks and their promotions (e.g. 10 trials: 3 fixed maps, 5 screened, 2 promoted). A
        network's rank by score at 20% of its training kept the fully trained winner in its top two on
        every table measured (``benchmarks/results/candidate_budget.md``; ``docs/speed.md``).
        :class:`~sknas.AutoSegmenter` searches with ``0.2`` by default.
    batch_size : int, default=512
    learning_rate : float, default=3e-3
    validation_fraction : float, default=0.2
        Share of rows held out to score candidates.  Below 20 rows, all rows
        are used for both training and scoring.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
    random_state : int, RandomState instance or None, default=None
    n_jobs : int or None, default=None
        Candidates trained in parallel processes (CPU only).
    verbose : int, default=0
        Show a progress bar with the best score so far.
    checkpoint : str, path-like or None, default=None
        A JSON file the search state is saved to after every step (atomically).
        ``fit`` with an existing checkpoint resumes: the trials it holds are
        replayed, not retrained, and the result equals an uninterrupted search.
        Only ``checkpoint``, ``verbose``, ``n_jobs``, ``max_trials``, ``max_time``
        and ``time_budget`` may change between the two fits (see :mod:`sknas.io.checkpoint`;
        with a ``time_budget``, what the replayed trials took is not the resumed fit's).
    categorical_features : {"from_dtype"}, array-like of int or str, bool mask or None, default="from_dtype"
        Columns to embed as categories. ``"from_dtype"``: a DataFrame's
        ``category``, ``object`` and ``string`` columns (a NumPy array has
        none); or column indices, column names, or a boolean mask; ``None``:
        every column must be numeric.  Each categorical column is
        ordinal-coded with the categories seen at fit and looked up in a
        learned embedding whose width is a searched choice
        (``SearchSpace.embedding_dims``).  Missing values (None, NaN) form a
        category of their own.  The fixed maps, the scores and the
        ``neighbors`` objective's k-NN graph read 0/1 indicators instead.
    handle_unknown : {"error", "ignore"}, default="error"
        A category not seen at fit, at transform: ``"error"`` raises a
        ValueError naming the column and the values; ``"ignore"`` maps it to
        a reserved "unknown" embedding (zeros, never trained).
    init : Architecture, list of Architecture, fitted sknas estimator or None, default=None
        Warm start from what an earlier search found (:mod:`sknas.warmstart.transfer`): the given Architectures,
        or a fitted estimator's ``architecture_`` and its next best distinct candidates (an estimator
        may be wrapped in ``sklearn.frozen.FrozenEstimator``; ``clone`` keeps a fitted one as is).
        Given Architectures must be members of the search space; an estimator's that are not are
        skipped.  Used here as follows: evaluated first, before the fallbacks and any random draw.
        Stored untouched: the estimator passed is never modified.
    time_budget : float or None, default=None
        Seconds ``fit`` may take in all: the search, the final network and its check (``max_time`` only
        stops proposing). The search stops proposing when the next candidate would not fit in the time
        left, keeping time for the final network (estimated from the seconds the candidates took, and the
        likeliest winner's scaled to every row); each network trains at most its share of the time left,
        and the final network what is left at the end, each stopping after the epoch that crosses its
        limit. ``fit`` then ends within 1.1 times the budget whenever the budget covers the minimal work
        (the fixed maps, one epoch of each network); below that it still returns a usable model and warns
        once (``TimeBudgetWarning``). ``time_budget_`` and each record of ``search_history_`` say what the
        budget did. None: no budget (``max_trials`` and ``max_epochs`` decide).

    Attributes
    ----------
    architecture_ : Architecture
        The chosen architecture.
    net_ : sknas.training.FeatureNet
        The trained skorch network; ``net_.module_.encoder`` is the feature map
        and ``net_.history`` its training history.
    search_history_ : list of dict
        One record per candidate: ``architecture``, ``score``, ``valid``,
        ``status``, ``reason``, ``params``, ``flops``, ``time``, ``trial``, ``step``,
        ``labels`` (KMeans labels of the up to 2,000 scoring rows),
        ``selection_score``, and ``closest_column``, ``column_nmi`` and
        ``restates_column`` (the discrete input column its segments agree with
        most, their NMI, and whether that makes them a restatement, which
        never wins while another candidate's segments are not one), ``time_limited``
        (a ``time_budget`` cut its training short) and ``budget_left`` (seconds of
        the budget left when it started; None without one).
    best_score_ : float
        The winner's selection score (its ``score``, or the pool-level score);
        when the final check replaced the winner (``final_check_``), the score
        of the map that took its place.
    runner_ups_ : list of dict
        The next best distinct candidates with ``agreement_with_winner`` (ARI
        between their clusterings of the scoring rows and the winner's):
        how different the runner-up segmentations are.
    final_check_ : dict
        The final network's segments judged as the candidates' were:
        ``column_nmi``, ``closest_column``, ``restates_column``, and
        ``replaced`` (the chosen architecture, as text, when its final network
        restated a column and another candidate that did not took its place,
        the best of those whose own partitions did not restate one, ranked
        among ``runner_ups_`` or below them; None otherwise).
    pareto_front_ : list of dict
        Valid candidates not dominated in (score, params).
    search_time_, fit_time_ : float
        Seconds spent searching, and in the whole fit.
    time_budget_ : dict
        What the ``time_budget`` allowed and what was used: ``budget`` (None without one), ``used``
        (seconds of the whole fit), ``ratio`` (used / budget), ``within_tolerance`` (used at most 1.1 x
        budget), ``search_seconds``, ``search_stopped_by_budget`` (it stopped or shortened the search),
        ``n_time_limited`` (candidates whose training it cut), ``final_epochs`` (the final network's,
        trained), ``final_epochs_planned``, ``final_time_limited`` and ``final_check_skipped`` (no time
        was left to retrain a runner-up, see ``final_check_``).
    efficiency_ : dict
        ``params``, ``flops`` and ``latency_ms_per_1000_rows`` of the final network (CPU).
    n_trials_ : int
    n_components_ : int
        Output width (the input width for the identity map).
    objective_ : str
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.
    is_categorical_ : ndarray of bool or None
        Which input columns are embedded as categories (None: none).

    See Also
    --------
    NeuralFeatureMap : Train one given Architecture, no search.

    Examples
    --------
    >>> from sklearn.cluster import KMeans
    >>> from sklearn.pipeline import make_pipeline
    >>> from sknas import RandomFeatureSearch
    >>> from sknas.datasets import make_customers
    >>> X, y = make_customers(n_samples=300, random_state=0, return_X_y=True)
    >>> search = RandomFeatureSearch(n_components=4, n_clusters=5, max_trials=2, max_epochs=2,
    ...                              random_state=0)
    >>> pipe = make_pipeline(search, KMeans(5, n_init=3, random_state=0)).fit(X)
    >>> pipe.predict(X[:3]).shape
    (3,)
    >>> len(search.search_history_)
    2
    """

    _parameter_constraints: dict = {
        **BaseFeatureSearch._parameter_constraints,
        "screening": [None, Interval(numbers.Real, 0, 1, closed="neither")],
    }

    def __init__(self, n_components=8, n_clusters=8, *, objective="auto", scoring="auto",
                 search_space=None, max_trials=10, max_epochs="auto", max_time=None, screening=None,
                 batch_size=512, learning_rate=3e-3, validation_fraction=0.2, device="auto", random_state=None,
                 n_jobs=None, verbose=0, checkpoint=None, categorical_features="from_dtype",
                 handle_unknown="error", init=None, time_budget=None):
        super().__init__(n_components=n_components, n_clusters=n_clusters, objective=objective, scoring=scoring,
                         search_space=search_space, max_trials=max_trials, max_epochs=max_epochs,
                         max_time=max_time, batch_size=batch_size, learning_rate=learning_rate,
                         validation_fraction=validation_fraction, device=device, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, checkpoint=checkpoint,
                         categorical_features=categorical_features, handle_unknown=handle_unknown,
                         init=init, time_budget=time_budget)
        self.screening = screening

    def _propose(self, space, rng, history, n_remaining):
        if self.screening is not None:
            return self._propose_halving(space, rng, history, n_remaining)
        # Each candidate's seed is drawn right after the candidate itself, so the stream of draws,
        # and hence the search, is the same whatever the batch size (n_jobs).
        proposals = []
        if not history:  # the fallbacks first (raw features, a linear map, the label-free LDA map), then init's
            proposals = [(arch, {"seed": int(rng.randint(SEED_MAX))})
                         for arch in self._initial_candidates(space)[:n_remaining]]
        seen = {r["architecture"] for r in history} | {arch for arch, _ in proposals}
        batch = max(1, self.n_jobs or 1)
        while len(proposals) < min(batch, n_remaining):
            arch = space.sample_distinct(seen, rng)  # a repeat teaches nothing
            seen.add(arch)
            proposals.append((arch, {"seed": int(rng.randint(SEED_MAX))}))
        return proposals

    # -- successive halving (screening=...) ---------------------------------------------------------------
    def _propose_halving(self, space, rng, history, n_remaining):
        """Step 0: the fallbacks (full) and every screened network (low fidelity); step 1: the best third of
        the screened networks, trained fully; then stop."""
        if not history:
            proposals = [(arch, {"seed": int(rng.randint(SEED_MAX))})
                         for arch in self._initial_candidates(space)[:n_remaining]]
            n_fixed = sum(arch.head in FIXED_HEADS for arch, _ in proposals)
            n_screen = self._n_screened(n_remaining - n_fixed) - (len(proposals) - n_fixed)
            seen = {arch for arch, _ in proposals}
            for _ in range(max(0, n_screen)):
                arch = space.sample_distinct(seen, rng)
                seen.add(arch)
                proposals.append((arch, {"seed": int(rng.randint(SEED_MAX))}))
            return proposals
        if any(r["step"] > 0 for r in history):
            return []
        screened = sorted((r for r in history if r["fidelity"] is not None and r["valid"]),
                          key=lambda r: r["score"], reverse=True)
        n_promote = min(n_remaining, math.ceil(len(screened) / SCREEN_KEEP_ONE_IN))
        return [(r["architecture"], {"seed": r["seed"], "screened_score": r["score"]})
                for r in screened[:n_promote]]

    @staticmethod
    def _n_screened(n_networks):
        """Screened networks when ``n_networks`` records are left for screening and promotion together."""
        n = n_networks
        while n > 1 and n + math.ceil(n / SCREEN_KEEP_ONE_IN) > n_networks:
            n -= 1
        return max(n, 1) if n_networks > 0 else 0

    def _fidelity(self, step, data, settings, rng):
        if self.screening is None or step > 0:
            return data, settings, None
        epochs = max(1, math.ceil(self.screening * self._epochs(len(data["X_train"]))))
        return data, {**settings, "max_epochs": epochs}, ("screen", epochs)

    def _selectable(self, record):
        return record["fidelity"] is None  # a screening score is only a reason to train fully
