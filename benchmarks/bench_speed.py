"""Wall time of a default sknas fit next to UMAP(10)+KMeans and PCA+KMeans, in one run (issue 22).

For each table (iris, wine, breast cancer, digits and a 6,000-row ``make_customers`` table) and seed, in
one process and interleaved method by method so that the shared machine's noise hits every arm alike:

- ``umap+kmeans``: StandardScaler -> UMAP(n_components=10) -> KMeans(k); UMAP is warmed up first (its numba
  functions compile on the first call, once per process);
- ``pca+kmeans``: StandardScaler -> PCA(min(10, features)) -> KMeans(k);
- ``darts``, ``random``: the default ``DARTSFeatureSearch`` / ``RandomFeatureSearch(n_clusters=k)`` ->
  KMeans(k); sknas is warmed up too (torch imports its compiler stack on the first optimizer);
- ``random+screening``: ``RandomFeatureSearch(screening=0.2)`` (successive halving) -> KMeans(k);
- ``auto``: ``AutoSegmenter`` with every parameter at its default (it also chooses k).

k is the number of classes; ARI against the classes is recorded so a speed-up can be checked for cost in
quality. Each sknas fit is also profiled per phase (``--profile``): the cumulative seconds spent in
candidate training, the DARTS supernet, scoring candidates, the final network, the final-network check
and the k choice, taken from ``cProfile`` (which slows Python-heavy code, so the shares are what to read).

    python benchmarks/bench_speed.py [--seeds 0 1 2] [--tables iris wine ...] [--methods ...] [--profile]
        [--out speed]

Writes ``benchmarks/results/<out>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import platform
import pstats
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknas
from sknas import AutoSegmenter, DARTSFeatureSearch, RandomFeatureSearch
from sknas.config import config_context
from sknas.datasets import make_customers

RESULTS = Path(__file__).parent / "results"
METHODS = ("umap+kmeans", "pca+kmeans", "darts", "random", "random+screening", "auto")
#: A method name with this suffix runs with the race against the fixed maps turned off (sknas.config's
#: race_headroom = inf): the same code as before the race, interleaved with it in one run.
NO_RACE = "-norace"
#: Phase -> the function whose cumulative time it is (matched by name; the largest entry wins, so an
#: override calling ``super()`` is not counted twice).
PHASES = {
    "candidate training": "train_candidate",
    "DARTS supernet": "_train_supernet",
    "candidate scoring": "score_candidate",
    "final network": "_train_final",
    "final-network check": "_check_final",
    "k choice": "choose_k",
}


def load_tables():
    def customers():
        return make_customers(n_samples=6000, random_state=0, return_X_y=True)

    return {"iris": lambda: load_iris(return_X_y=True), "wine": lambda: load_wine(return_X_y=True),
            "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
            "digits": lambda: load_digits(return_X_y=True), "customers_6000": customers}


def make_method(name, k, seed, n_features=10):
    name = name.removesuffix(NO_RACE)
    if name == "umap+kmeans":
        from umap import UMAP

        return make_pipeline(StandardScaler(), UMAP(n_components=10, random_state=seed),
                             KMeans(k, n_init=10, random_state=seed))
    if name == "pca+kmeans":
        return make_pipeline(StandardScaler(), PCA(min(10, n_features), random_state=seed), KMeans(k, n_init=10, random_state=seed))
    if name == "darts":
        return make_pipeline(DARTSFeatureSearch(n_clusters=k, random_state=seed, device="cpu"),
                             KMeans(k, n_init=10, random_state=seed))
    if name == "random":
        return make_pipeline(RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu"),
                             KMeans(k, n_init=10, random_state=seed))
    if name == "random+screening":  # successive halving: networks screened at 20% of the budget
        return make_pipeline(RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", screening=0.2),
                             KMeans(k, n_init=10, random_state=seed))
    if name == "auto":
        return AutoSegmenter(random_state=seed, device="cpu")
    raise ValueError(name)


def warm_up(methods):
    """Pay the once-per-process costs (numba compilation, torch's lazy imports) before timing."""
    X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    for name in methods:
        if name not in ("umap+kmeans", "pca+kmeans"):
            DARTSFeatureSearch(n_clusters=3, max_epochs=2, max_trials=1, random_state=0, device="cpu").fit(X)
        else:
            make_method(name, 3, 0, X.shape[1]).fit(X)
        if name == "umap+kmeans":
            # Above 4,096 rows UMAP finds neighbours with pynndescent, whose numba code compiles on first use
            # (about 35 s here): without this, the first large table's UMAP time is mostly compilation (the
            # one-seed runs `speed_issue22_random.md` and `speed_issue22_random_after.md` show 38-40 s on the
            # 6,000-row table against 7 s warm).
            big, _ = make_customers(n_samples=4500, random_state=0, return_X_y=True)
            make_method(name, 3, 0, big.shape[1]).fit(big)


def phase_seconds(profile):
    stats = pstats.Stats(profile).stats
    out = {}
    for phase, func in PHASES.items():
        times = [ct for (_, _, name), (_, _, _, ct, _) in stats.items() if name == func]
        out[phase] = max(times) if times else 0.0
    return out


def run_one(name, X, y, k, seed, profile):
    warnings.simplefilter("ignore")
    model = make_method(name, k, seed, X.shape[1])
    prof = cProfile.Profile() if profile and name not in ("umap+kmeans", "pca+kmeans") else None
    settings = {"race_headroom": math.inf} if name.endswith(NO_RACE) else {}
    start = time.perf_counter()
    if prof is not None:
        prof.enable()
    with config_context(**settings):
        labels = model.fit_predict(X) if name.startswith("auto") else model.fit(X).predict(X)
    if prof is not None:
        prof.disable()
    seconds = time.perf_counter() - start
    row = {"method": name, "seed": seed, "seconds": seconds, "ari": float(adjusted_rand_score(y, labels))}
    if name.startswith("auto"):
        row["k"] = int(model.n_clusters_)
    if prof is not None:
        row["phases"] = phase_seconds(prof)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tables", nargs="+", default=list(load_tables()))
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--profile", action="store_true", help="profile each sknas fit per phase (cProfile)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    warm_up(args.methods)
    tables, rows = load_tables(), []
    for table in args.tables:
        X, y = tables[table]()
        k = len(np.unique(y))
        for seed in args.seeds:
            for name in args.methods:
                row = {"table": table, "n_rows": len(X), "n_features": X.shape[1],
                       **run_one(name, X, y, k, seed, args.profile)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    machine = (f"{platform.node()}, {platform.machine()}, 2 cores shared with other jobs, device=cpu, "
               f"torch {torch.__version__} ({args.threads} thread), sklearn {sklearn.__version__}, "
               f"sknas {getattr(sknas, '__version__', '?')}")
    summary = {"machine": machine, "command": "python " + " ".join(sys.argv),
               "date": datetime.now(UTC).isoformat(timespec="seconds"), "seeds": args.seeds,
               "wall_s": time.perf_counter() - started, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(summary, indent=2))
    (RESULTS / f"{args.out}.md").write_text(render(summary))
    print(render(summary))


def _median(rows, key="seconds"):
    return statistics.median(r[key] for r in rows)


def render(s):
    rows = s["rows"]
    tables = list(dict.fromkeys(r["table"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["# Speed: a default sknas fit next to UMAP+KMeans and PCA+KMeans (one run)", "",
             f"Machine: {s['machine']}. Command: `{s['command']}`; date {s['date']}; seeds {s['seeds']}; "
             f"wall {s['wall_s']:.0f} s. Methods interleaved per table and seed, after a warm-up of each.", "",
             "Median wall seconds of fit + predict over seeds (ratio to UMAP(10)+KMeans), and mean ARI:", "",
             "| table | rows | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    ratios = {m: [] for m in methods}
    for table in tables:
        cells = []
        per = {m: [r for r in rows if r["table"] == table and r["method"] == m] for m in methods}
        base = _median(per["umap+kmeans"]) if per.get("umap+kmeans") else None
        for m in methods:
            if not per[m]:
                cells.append("-")
                continue
            sec, ari = _median(per[m]), statistics.mean(r["ari"] for r in per[m])
            ratio = f" ({sec / base:.1f}x)" if base else ""
            if base:
                ratios[m].append(sec / base)
            cells.append(f"{sec:.2f} s{ratio}, ARI {ari:.3f}")
        lines.append(f"| {table} | {per[methods[0]][0]['n_rows']} | " + " | ".join(cells) + " |")
    if any(ratios.values()):
        lines += ["", "Ratio to UMAP(10)+KMeans over tables (issue 22 asks: worst <= 5x, median <= 2x):", "",
                  "| method | median ratio | worst ratio |", "|---|---|---|"]
        for m, values in ratios.items():
            if values and m != "umap+kmeans":
                lines.append(f"| {m} | {statistics.median(values):.2f}x | {max(values):.2f}x |")
    profiled = [r for r in rows if "phases" in r]
    if profiled:
        lines += ["", "Where a sknas fit's time goes (median seconds under cProfile, which slows Python-heavy code;",
                  "read the shares; phases nest: the final-network check may retrain, the k choice runs in auto):",
                  "", "| table | method | total | " + " | ".join(PHASES) + " |",
                  "|---|---|---|" + "---|" * len(PHASES)]
        for table in tables:
            for m in methods:
                sel = [r for r in profiled if r["table"] == table and r["method"] == m]
                if not sel:
                    continue
                total = _median(sel)
                cells = [f"{statistics.median(r['phases'][p] for r in sel):.2f}" for p in PHASES]
                lines.append(f"| {table} | {m} | {total:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
