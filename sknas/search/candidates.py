"""Candidate evaluation: train one architecture on the search rows and score its embedding.

The public-in-package API every search loop uses (``BaseFeatureSearch._search`` and the strategies
with their own loop: DARTS, ENAS, evolution's batched population): :func:`evaluate_candidate` trains
and scores one candidate into a history record and never raises for the candidate's own fault;
:func:`score_candidate` and :func:`finish_record` fill a record a strategy trained itself.
Module-level functions, so joblib can ship them to worker processes.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from joblib import parallel_config

from .._runtime import one_thread
from ..config import config_context, get_config
from ..evaluation import cluster_labels, score_embedding
from ..training.faults import failure_reason, is_out_of_memory, release_memory, retry_batch_sizes
from ..space import build_network
from ..space.architecture import FIXED_HEADS
from ..training import WEIGHT_DECAY, as_float32_rows, embed, make_objective, resolve_epochs, seeded, train_candidate
from ..training.budget import batches_per_epoch
from ..training.convergence import FixedMapRace, ScorePlateau

#: The data every candidate evaluation gets (a strategy's own search loop passes the same keys). ``X_fixed``:
#: the rows a fixed map (LDA) is fitted on, every row of the table, as the final network's: the map a search
#: judges is then the map it returns, and the final fit is the search's, remembered (LDAHead.fit_map).
SEARCH_DATA_KEYS = ("X_train", "X_valid", "X_score", "X_fixed", "y_train", "y_valid")


#: The seed every fit gives its fixed maps (raw features, the LDA map), whatever its ``random_state``
#: (``BaseFeatureSearch._candidate_settings``, ``docs/selection.md``, "The fixed maps' seed").
FIXED_MAP_SEED = 0


def candidate_seed(architecture, seed, settings):
    """The seed a candidate is evaluated with: its drawn ``seed``, or the fit's fixed-map seed.

    Common random numbers: a fixed map (raw features, fitted LDA) is a function of the data, and
    its seed only picks KMeans starts, which can flip its score between local optima (wine: 0.51
    or 0.57 for the same LDA map). One seed for it, whatever the map's position in the search, makes
    it score the same in every search, so strategies and warm starts compare on equal terms; and one
    seed whatever the ``random_state`` (:data:`FIXED_MAP_SEED`) makes the map a function of the table
    alone, so the segments of a table a fixed map wins do not change with the user's seed. (The drawn
    seed is still drawn: other candidates keep theirs.)
    """
    if architecture.head in FIXED_HEADS and settings.get("fixed_map_seed") is not None:
        return settings["fixed_map_seed"]
    return seed


def evaluate_candidate(architecture, seed, data, settings):
    """Train and score one candidate; never raises for a candidate's own fault.

    Every fault is recorded in the record's ``reason`` (non-finite loss,
    exploding gradients, a layer that cannot be built or run on this data);
    out of memory is retried with smaller batches first (:mod:`sknas.training.faults`).
    A module-level function so joblib can ship it to worker processes.
    """
    seed = candidate_seed(architecture, seed, settings)
    record = {"architecture": architecture, "seed": seed, "status": "ok", "reason": None}
    start = time.perf_counter()
    if settings.get("n_threads"):
        torch.set_num_threads(settings["n_threads"])
    n_features = data["X_train"].shape[1]
    batch_sizes = retry_batch_sizes(settings["batch_size"])
    for attempt, batch_size in enumerate(batch_sizes):
        try:
            # The fit's sknas.config settings travel with the candidate (a worker thread or process has its
            # own): training, scoring and labelling all run under them.
            with config_context(**settings.get("config", {})):
                _train_and_score(record, architecture, seed, data, {**settings, "batch_size": batch_size})
            if attempt:
                record["batch_size"] = batch_size  # what fitted in memory
            break
        # Any exception from one candidate is that candidate's fault: a long search must
        # survive it (KeyboardInterrupt and SystemExit are not Exceptions and still stop it).
        except Exception as exc:  # noqa: BLE001
            if is_out_of_memory(exc) and attempt + 1 < len(batch_sizes):
                release_memory()
                continue
            reason = failure_reason(exc)
            if is_out_of_memory(exc) and len(batch_sizes) > 1:
                reason = f"{reason} (also at batch sizes {batch_sizes[1:]})"
            record.update(status="failed", reason=reason, score=-math.inf, valid=False)
            break
    return finish_record(record, n_features, settings, start)


def _train_and_score(record, architecture, seed, data, settings):
    device = settings["device"]
    n_features = data["X_train"].shape[1]
    # Parallelism is across candidates, never inside one: under a Dask or other joblib
    # backend, scikit-learn's own Parallel calls (k-NN search) would otherwise secede and
    # let a second candidate run in this process at the same time.
    with parallel_config(backend="sequential"), seeded(seed, device):
        encoder = build_network(architecture, n_features, settings["n_components"], settings.get("categorical"))
        encoder.fit_fixed_parts(data.get("X_fixed", data["X_train"]), settings["n_clusters"],
                                random_state=seed % (2**31 - 1))
        objective = make_objective(settings["objective"], n_features, encoder.n_outputs, data["y_train"],
                                   layout=settings.get("categorical"))
        train = objective.prepare(torch.as_tensor(as_float32_rows(data["X_train"]), device=device), data["y_train"])
        valid = objective.prepare(torch.as_tensor(as_float32_rows(data["X_valid"]), device=device), data["y_valid"])
        X_score = torch.as_tensor(as_float32_rows(data.get("X_score", data["X_valid"])), device=device)
        epochs = candidate_epochs(data, settings)
        # Trained like the final network (last weights: keep="last"), so the score judges what the final
        # training will produce; on the default budget until its clusters stop sharpening (the final network
        # then trains for as many updates, see BaseFeatureSearch._final_epochs).
        plateau = convergence_monitor(X_score, epochs * batches_per_epoch(len(train), settings["batch_size"]),
                                      data, settings, seed)
        result = train_candidate(encoder, objective, train, valid, max_epochs=epochs,
                                 batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
                                 weight_decay=WEIGHT_DECAY, max_time=settings["max_time"], keep="last", stop=plateau)
        Z = embed(encoder, X_score).cpu().numpy().astype(np.float64)
    validation_loss = result.best_valid_loss if result.n_epochs else math.nan
    raced = plateau is not None and plateau.raced
    record.update(n_updates=result.n_updates, converged=result.converged and not raced, raced=raced)
    score_candidate(record, Z, validation_loss, result.n_epochs, data, settings)


def convergence_monitor(X_score, budget, data, settings, seed):
    """A :class:`~sknas.training.convergence.ScorePlateau` for a candidate on the ``max_epochs="auto"``
    budget of ``budget`` updates, or None: an explicit ``max_epochs`` is a budget the user chose.

    With ``settings["race_bar"]`` (the score a network must reach to beat the search's best fixed map,
    ``BaseFeatureSearch._race_bar``) it also races the network against that bar (:class:`FixedMapRace`).
    """
    if settings["max_epochs"] != "auto":
        return None
    race = None
    if settings.get("race_bar") is not None and math.isfinite(get_config()["race_headroom"]):
        race = FixedMapRace(lambda encoder: _score_now(encoder, X_score, data, settings, seed), settings["race_bar"])
    return ScorePlateau(X_score, settings["n_clusters"], budget, random_state=seed % (2**31 - 1), race=race)


def _score_now(encoder, X_score, data, settings, seed):
    """A training network's score as :func:`score_candidate` would give it now (the race's figure)."""
    was_training = encoder.training
    Z = embed(encoder, X_score).cpu().numpy().astype(np.float64)
    encoder.train(was_training)
    with one_thread(), parallel_config(backend="sequential"):
        return _score(Z, math.nan, data, settings, seed).score


def _score(Z, validation_loss, data, settings, seed):
    """The search's label-free score of an embedding ``Z`` of the scoring rows (the race's and the record's)."""
    return score_embedding(Z, scoring=settings["scoring"], n_clusters=settings["n_clusters"],
                           X=data.get("X_score", data["X_valid"]), validation_loss=validation_loss,
                           random_state=seed)


def candidate_epochs(data, settings):
    """Epochs a candidate trains on its training rows (``settings["max_epochs"]``, "auto" resolved)."""
    return resolve_epochs(settings["max_epochs"], len(data["X_train"]), settings["batch_size"])


def score_candidate(record, Z, validation_loss, n_epochs, data, settings):
    """Score a trained candidate's embedding ``Z`` of the scoring rows (``data["X_score"]``; see
    sknas.config's ``score_max_rows``) into its ``record``."""
    # One BLAS/OpenMP thread: KMeans' floating-point sums depend on the thread count,
    # and a score must not change with n_jobs or the parallel backend (Dask workers
    # run with one thread). Scoring uses at most a few thousand rows, so this is cheap.
    with one_thread(), parallel_config(backend="sequential"):
        scored = _score(Z, validation_loss, data, settings, record["seed"])
        labels = cluster_labels(Z, settings["n_clusters"]) if scored.valid else None
    # The embedding of the labelled rows stays with the record until the search has picked its winner: the
    # cross-space judge scores every candidate's partition in every other candidate's space (then dropped).
    embedding = np.asarray(Z[:get_config()["max_labelled_rows"]], dtype=np.float32) if scored.valid else None
    record.update(score=scored.score, valid=scored.valid, reason=scored.reason, validation_loss=validation_loss,
                  n_epochs=n_epochs, neighbor_preservation=scored.details.get("neighbor_preservation"),
                  labels=labels, separability=scored.details.get("separability"), embedding=embedding)
    return record


def finish_record(record, n_features, settings, start):
    """Add the cost columns (params, FLOPs, seconds) every history record carries."""
    layout = settings.get("categorical")
    record["params"] = record["architecture"].n_params(n_features, settings["n_components"], layout)
    record["flops"] = record["architecture"].flops(n_features, settings["n_components"], layout)
    record["time"] = time.perf_counter() - start
    return record

