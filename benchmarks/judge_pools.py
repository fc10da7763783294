"""Candidate pools for judging the label-free selection offline (issue 20's protocol, step 1 of 2).

For each table (``judge_tables.py``), seed and search (default ``RandomFeatureSearch`` or
``DARTSFeatureSearch`` with ``n_clusters`` = the number of classes), fits the search as a user would and
saves what its judge saw: every valid candidate's embedding and KMeans labels of the labelled scoring
rows, its own-space scores, the encoded input rows, and the true classes of those rows (never shown to
the search). Beside it, in the same process and run, the default pipeline (search -> ``KMeans(k)``) and
the classical recipes (standardised numbers + one-hot categories -> KMeans, GMM, PCA+KMeans,
UMAP(10)+KMeans) are scored by ARI on all rows. ``bench_judges.py`` then replays any judge on the pools.

    python benchmarks/judge_pools.py [--tables ...] [--seeds 0 1 2 3 4] [--searches random darts] \\
        [--jobs 2] [--out benchmarks/pools] [--config '{"deskew_skewness": 1}']

``--config`` (JSON) fits every search under those sknas.config settings (a candidate default measured before it
becomes one); the pool records the settings it was made under (``config``).

A pool is a pickle under ``--out`` (large; not committed): ``<table>__<search>__<seed>.pkl``; an existing
file is kept (delete it to redo). The judge that picked the saved default is whatever sknas's default is
when the pool is made: ``default_pick`` records its choice and ``scoring`` its name.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import time
import traceback
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np

POOLS = Path(__file__).parent / "pools"


def encode_classical(X):
    """Standardised numeric columns and 0/1 one-hot categories: the classical recipes' input."""
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    strings = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = X.drop(columns=strings).to_numpy(dtype=np.float64)
    parts = [StandardScaler().fit_transform(numeric)] if numeric.shape[1] else []
    if strings:
        parts.append(pd.get_dummies(X[strings].astype(str)).to_numpy(dtype=np.float64))
    return np.hstack(parts)


def classical_recipes(X, y, k, seed):
    """ARI of the classical recipes on all rows (one fit each, this seed)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    Xc = encode_classical(X)
    out = {}
    recipes = {
        "kmeans": lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(Xc),
        "gmm": lambda: GaussianMixture(k, covariance_type="full", reg_covar=1e-4, n_init=2,
                                       random_state=seed).fit(Xc).predict(Xc),
        "pca+kmeans": lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(
            PCA(min(8, Xc.shape[1]), random_state=seed).fit_transform(Xc)),
    }
    import umap

    recipes["umap+kmeans"] = lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(
        umap.UMAP(n_components=10, random_state=seed, n_jobs=1).fit_transform(Xc))
    for name, run in recipes.items():
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = {"ari": float(adjusted_rand_score(y, run())), "time": time.perf_counter() - start}
        except Exception as exc:  # a recipe that fails on a table is recorded, the run goes on
            out[name] = {"ari": float("nan"), "error": repr(exc)}
    return out


def final_check_summary(search):
    """The search's ``final_check_`` and which fallbacks it had: among the three runner-ups only (the rule before
    the fallbacks reached below them) and the best three candidates that do not restate a column (the rule now).
    Where the two lists agree on every fallback the check tried, both rules end on the same map."""
    check = dict(getattr(search, "final_check_", None) or {})
    chosen = check.get("replaced") or str(search.architecture_)
    valid = [r for r in search.search_history_ if r["valid"]]
    check["fallbacks_runner_ups"] = [str(r["architecture"]) for r in search.runner_ups_
                                     if not r.get("restates_column", False)]
    try:
        from sknas.search.base import _final_fallbacks
    except ImportError:  # an sknas from before the change
        return check
    by_name = {str(r["architecture"]): r["architecture"] for r in valid}
    check["fallbacks"] = [str(a) for a in _final_fallbacks(by_name[chosen], valid)] if chosen in by_name else []
    return check


def make_pool(table, search_name, seed, out_dir):
    import torch
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    import judge_tables
    from sknas import DARTSFeatureSearch, RandomFeatureSearch
    from sknas.search.base import BaseFeatureSearch

    torch.set_num_threads(1)
    path = out_dir / f"{table}__{search_name}__{seed}.pkl"
    if path.exists():
        return path, "kept"
    X, y = judge_tables.load(table)
    k = len(np.unique(y))
    captured = {}
    original = getattr(BaseFeatureSearch, "_selection_scores", None)

    def capture(self, valid, context):  # what the judge sees, saved before it judges
        captured["valid"] = [dict(r) for r in valid]
        captured["context"] = context
        return original(self, valid, context)

    # An sknas without the hook (an older commit, for "before" figures) gives the pipeline and the
    # classical recipes only: the pool of candidates then stays empty.
    hooked = original is not None
    if hooked:
        BaseFeatureSearch._selection_scores = capture
    try:
        search = {"random": RandomFeatureSearch, "darts": DARTSFeatureSearch}[search_name](
            n_clusters=k, random_state=seed, device="cpu")
        start = time.perf_counter()
        search.fit(X)
        Z = search.transform(X)
        labels = KMeans(k, n_init=10, random_state=seed).fit_predict(Z)
        total = time.perf_counter() - start
    finally:
        if hooked:
            BaseFeatureSearch._selection_scores = original
    if not hooked:
        captured = {"valid": [], "context": {"score_rows": [], "X_score": np.empty((0, 0))}}
    context = captured["context"]
    rows = np.asarray(context["score_rows"])[:len(captured["valid"][0]["labels"])] if captured["valid"] else []
    layout = search._standardizer.layout
    pool = {
        "table": table, "search": search_name, "seed": seed, "k": k, "n_rows": len(X),
        "columns": list(X.columns), "mixed": judge_tables.is_mixed(X),
        "layout": None if layout is None else (layout.n_numeric, tuple(layout.cardinalities)),
        "X_score": np.asarray(context["X_score"][:len(rows)], dtype=np.float32),
        "y_score": np.asarray(y)[rows],
        "records": [{key: r.get(key) for key in ("architecture", "seed", "score", "separability", "labels",
                                               "embedding", "selection_score")} for r in captured["valid"]],
        "scoring": search._scoring(),
        "default_pick": next((i for i, r in enumerate(captured["valid"])
                              if r["architecture"] == search.architecture_), None),
        "pipeline": {"ari": float(adjusted_rand_score(y, labels)), "time": total,
                     "labels": labels.astype(np.int16), "architecture": str(search.architecture_)},
        "classical": classical_recipes(X, np.asarray(y), k, seed),
        "final_check": final_check_summary(search),
        "y": np.asarray(y),
        "config": _current_config(),
    }
    for record in pool["records"]:
        record["architecture"] = str(record["architecture"])
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(pool, fh)
    os.replace(tmp, path)
    return path, f"{total:.1f} s, pipeline ARI {pool['pipeline']['ari']:.3f}"


def _current_config():
    try:
        from sknas.config import get_config
    except ImportError:  # an sknas from before sknas.config (a "before" worktree)
        return None
    return dict(get_config())


def _job(args):
    table, search, seed, out_dir, config = args
    try:
        settings = nullcontext()
        if config:  # each spawned worker starts from the defaults: the settings travel with the job
            from sknas.config import config_context

            settings = config_context(**config)
        with settings:
            return table, search, seed, make_pool(table, search, seed, out_dir)[1]
    except Exception:
        return table, search, seed, "FAILED " + traceback.format_exc(limit=3)


def main():
    import judge_tables

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(judge_tables.TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--searches", nargs="+", default=["random", "darts"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=POOLS)
    parser.add_argument("--config", type=json.loads, default=None,
                        help='JSON dict of sknas.config settings for every fit, e.g. \'{"deskew_skewness": 1}\'')
    args = parser.parse_args()
    # The protocol puts UMAP+KMeans beside the search: a run without it would drop a recipe silently.
    if importlib.util.find_spec("umap") is None:
        raise SystemExit("judge_pools.py needs umap-learn for the UMAP+KMeans recipe: pip install -e '.[bench]'")
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(t, s, seed, args.out, args.config) for seed in args.seeds for t in args.tables for s in args.searches]
    from multiprocessing import get_context

    with get_context("spawn").Pool(args.jobs) as workers:
        for table, search, seed, note in workers.imap_unordered(_job, jobs):
            print(f"{table:16s} {search:7s} seed {seed}: {note}", flush=True)


if __name__ == "__main__":
    main()
