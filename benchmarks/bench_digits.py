"""Digits (k=10): RandomFeatureSearch with default settings against StandardScaler + KMeans.

Prints and writes (benchmarks/results/digits.json, .md) the ARI of KMeans on each
feature map over several seeds, the chosen architectures and the wall time.

    python benchmarks/bench_digits.py [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas import RandomFeatureSearch

RESULTS = Path(__file__).parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-trials", type=int, default=None, help="override the default budget")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    k = len(np.unique(y))
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        baseline = make_pipeline(StandardScaler(), KMeans(k, n_init=10, random_state=seed)).fit_predict(X)
        t_base = time.perf_counter() - t0
        params = {"n_clusters": k, "random_state": seed, "device": "cpu"}
        if args.max_trials:
            params["max_trials"] = args.max_trials
        search = RandomFeatureSearch(**params)
        t0 = time.perf_counter()
        labels = make_pipeline(StandardScaler(), search, KMeans(k, n_init=10, random_state=seed)).fit_predict(X)
        wall = time.perf_counter() - t0
        rows.append({
            "seed": seed, "ari_kmeans": adjusted_rand_score(y, baseline), "ari_search": adjusted_rand_score(y, labels),
            "architecture": str(search.architecture_), "best_score": search.best_score_,
            "wall_s": wall, "baseline_wall_s": t_base,
            "n_failed": sum(r["status"] != "ok" for r in search.search_history_),
        })
        print(f"seed {seed}: KMeans ARI {rows[-1]['ari_kmeans']:.3f}  search ARI {rows[-1]['ari_search']:.3f}  "
              f"wall {wall:.1f}s  arch {rows[-1]['architecture']}", flush=True)
    summary = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, torch threads={args.threads}",
        "mean_ari_kmeans": float(np.mean([r["ari_kmeans"] for r in rows])),
        "mean_ari_search": float(np.mean([r["ari_search"] for r in rows])),
        "total_wall_s": float(sum(r["wall_s"] for r in rows)),
        "rows": rows,
    }
    print(f"mean ARI: KMeans {summary['mean_ari_kmeans']:.3f}, RandomFeatureSearch {summary['mean_ari_search']:.3f}; "
          f"search wall time {summary['total_wall_s']:.1f}s over {len(rows)} seeds")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "digits.json").write_text(json.dumps(summary, indent=2))
    lines = ["| seed | KMeans ARI | RandomFeatureSearch ARI | wall (s) | architecture |", "|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['ari_kmeans']:.3f} | {r['ari_search']:.3f} | {r['wall_s']:.1f} | "
              f"`{r['architecture']}` |" for r in rows]
    lines.append(f"| mean | {summary['mean_ari_kmeans']:.3f} | {summary['mean_ari_search']:.3f} | "
                 f"{summary['total_wall_s']:.1f} | |")
    (RESULTS / "digits.md").write_text(f"Machine: {summary['machine']}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
