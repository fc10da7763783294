"""Native categorical columns against one-hot input, on make_customers(as_frame=True).

For each seed (the table's and the estimator's random_state), the arms run one after another on the same
table, so the shared machine's noise hits all of them:

- ``native``: the DataFrame as it is; ``channel`` and ``region`` (category dtype) are embedded
  (``categorical_features="from_dtype"``, the default).
- ``one-hot``: ``OneHotEncoder`` on the two categorical columns + the numeric columns, as one numeric
  array into the same estimator (which standardises every column, indicators included).
- ``numeric only``: the categorical columns dropped (does the categorical information help at all?).

for RandomFeatureSearch and EvoFeatureSearch with default settings, ``n_clusters`` = the true number of
segments; the score is the ARI of ``KMeans(k, n_init=10)`` on the transform. Classical reference:
``StandardScaler`` (numeric) + ``OneHotEncoder`` (categorical) + KMeans. Writes
benchmarks/results/categorical.json and .md.

    python benchmarks/bench_categorical.py [--seeds 0 1 2] [--threads 1] [--n-samples 2000]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sknas
from sknas import EvoFeatureSearch, RandomFeatureSearch
from sknas.datasets import make_customers

RESULTS = Path(__file__).parent / "results"
SEARCHES = {"random": RandomFeatureSearch, "evolution": EvoFeatureSearch}
INPUTS = ("native", "one-hot", "numeric only")


def one_hot(categorical, scale_numeric):
    numeric = StandardScaler() if scale_numeric else "passthrough"
    return ColumnTransformer([("cat", OneHotEncoder(sparse_output=False), categorical)], remainder=numeric)


def kmeans_ari(Z, y, k, seed):
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(Z)
    return float(adjusted_rand_score(y, labels))


def run_search(cls, X, y, k, seed):
    start = time.perf_counter()
    est = cls(n_clusters=k, random_state=seed, device="cpu").fit(X)
    Z = est.transform(X)
    return {"ari": kmeans_ari(Z, y, k, seed), "wall_s": time.perf_counter() - start,
            "architecture": str(est.architecture_), "best_score": float(est.best_score_)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-samples", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds:
        data = make_customers(n_samples=args.n_samples, random_state=seed, as_frame=True)
        X, y, categorical = data.data, data.target.to_numpy(), data.categorical_features
        k = len(np.unique(y))
        inputs = {"native": X,
                  "one-hot": one_hot(categorical, scale_numeric=False).fit_transform(X),
                  "numeric only": X.drop(columns=categorical)}
        start = time.perf_counter()
        Z = one_hot(categorical, scale_numeric=True).fit_transform(X)
        rows.append({"seed": seed, "method": "StandardScaler+OneHot+KMeans", "input": "one-hot",
                     "ari": kmeans_ari(Z, y, k, seed), "wall_s": time.perf_counter() - start})
        for method, cls in SEARCHES.items():
            for name in INPUTS:  # interleaved: every arm of a seed back to back
                row = run_search(cls, inputs[name], y, k, seed)
                row.update(seed=seed, method=method, input=name)
                rows.append(row)
                print(f"seed {seed} {method:9s} {name:12s} ARI {row['ari']:.3f} ({row['wall_s']:.0f}s) "
                      f"{row['architecture']}", flush=True)
    write(rows, args)


def summary(rows, method, name):
    sel = [r for r in rows if r["method"] == method and r["input"] == name]
    return sel, np.mean([r["ari"] for r in sel]), np.mean([r["wall_s"] for r in sel])


def write(rows, args):
    machine = (f"{platform.node()} {platform.machine()} ({platform.processor() or 'cpu'}), CPU only, "
               f"torch threads={args.threads}; the 2-core machine was shared with other jobs")
    meta = {"machine": machine, "python": sys.version.split()[0], "torch": torch.__version__,
            "sklearn": sklearn.__version__, "sknas": getattr(sknas, "__version__", "dev"),
            "command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "seeds": args.seeds, "n_samples": args.n_samples}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "categorical.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    lines = [f"Machine: {machine}. Python {meta['python']}, torch {meta['torch']}, scikit-learn {meta['sklearn']}.",
             f"Command: `{meta['command']}`, {meta['date']}. make_customers(n_samples={args.n_samples}, "
             f"as_frame=True, random_state=seed), k = 5 true segments; seeds {args.seeds}; "
             "ARI of KMeans(k, n_init=10) on the transform.", "",
             "| method | input | ARI per seed | mean ARI | mean wall (s) |", "|---|---|---|---|---|"]
    order = [("StandardScaler+OneHot+KMeans", "one-hot")] + [(m, n) for m in SEARCHES for n in INPUTS]
    for method, name in order:
        sel, ari, wall = summary(rows, method, name)
        per_seed = ", ".join(f"{r['ari']:.3f}" for r in sel)
        lines.append(f"| {method} | {name} | {per_seed} | {ari:.3f} | {wall:.1f} |")
    lines.append("")
    for method in SEARCHES:
        native, one = summary(rows, method, "native")[0], summary(rows, method, "one-hot")[0]
        wins = sum(a["ari"] > b["ari"] for a, b in zip(native, one))
        diff = np.mean([a["ari"] - b["ari"] for a, b in zip(native, one)])
        lines.append(f"- {method}: native beats one-hot on {wins} of {len(native)} seeds "
                     f"(mean ARI difference {diff:+.3f}).")
    text = "\n".join(lines) + "\n"
    (RESULTS / "categorical.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
