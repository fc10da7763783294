"""DARTSFeatureSearch against RandomFeatureSearch given the same search wall time.

For each dataset (digits, breast cancer, wine) and seed, every DARTS configuration is fitted
(StandardScaler first, KMeans(k) on the embedding, k = number of classes); then a
RandomFeatureSearch gets ``max_time`` = the default DARTS configuration's search time.
Reports mean ARI, wall seconds, the search cost as a multiple of one final training
(search_time_ / (fit_time_ - search_time_)), whether the supernet's discretisation was all
skip/zero, and early stops. Writes benchmarks/results/darts.json and .md.

    python benchmarks/bench_darts.py [--seeds 0 1 2] [--threads 2]
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
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from sknas import DARTSFeatureSearch, NeuralFeatureMap, RandomFeatureSearch
from sknas.datasets import make_customers

RESULTS = Path(__file__).parent / "results"
DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
#: DARTS configurations compared; the first is the estimator's default.
CONFIGS = {
    "darts (default)": {},
    "no remedies": {"max_skip": 99, "skip_share_stop": None},
    "cap only": {"skip_share_stop": None},
    "early stop only": {"max_skip": 99},
    "second order": {"order": "second"},
    "gumbel": {"relaxation": "gumbel"},
}


def _all_parameter_free(arch):
    return arch.head != "identity" and all(b.op in ("skip", "zero") for b in arch.blocks) and bool(arch.blocks)


def run(estimator, X, y, k, seed):
    t0 = time.perf_counter()
    Z = estimator.fit_transform(X)
    wall = time.perf_counter() - t0
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(Z)
    final = max(estimator.fit_time_ - estimator.search_time_, 1e-9)
    return {"ari": adjusted_rand_score(y, labels), "wall_s": wall, "search_s": estimator.search_time_,
            "cost_x_final": estimator.search_time_ / final, "architecture": str(estimator.architecture_)}


def search_cost(n_rows, seed=0):
    """Wall time of a default DARTS search against one training of its final architecture, same epochs."""
    X, _ = make_customers(n_samples=n_rows, random_state=seed, return_X_y=True)
    search = DARTSFeatureSearch(n_clusters=5, random_state=seed, device="cpu").fit(X)
    t0 = time.perf_counter()
    NeuralFeatureMap(search.architecture_, n_components=search.n_components, max_epochs=search.max_epochs,
                     random_state=seed, device="cpu").fit(X)
    final = time.perf_counter() - t0
    return {"rows": n_rows, "search_s": search.search_time_, "final_training_s": final,
            "ratio": search.search_time_ / final, "architecture": str(search.architecture_),
            "supernet_s": sum(h["dur"] for h in search.supernet_history_)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--cost-rows", type=int, default=20000, help="rows of the search-cost measurement (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cost = search_cost(args.cost_rows) if args.cost_rows else None
    if cost:
        print(f"search cost on make_customers({cost['rows']}): search {cost['search_s']:.1f}s "
              f"(supernet {cost['supernet_s']:.1f}s), final training alone {cost['final_training_s']:.1f}s, "
              f"ratio {cost['ratio']:.2f}x  {cost['architecture']}", flush=True)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = len(np.unique(y))
        for seed in args.seeds:
            budget = None
            for config in args.configs:
                est = DARTSFeatureSearch(n_clusters=k, random_state=seed, device="cpu", **CONFIGS[config])
                row = run(est, X, y, k, seed)
                row.update(dataset=name, seed=seed, method=config, stopped_early=est.stopped_early_,
                           supernet_all_skip=_all_parameter_free(est.supernet_architecture_),
                           final_all_skip=_all_parameter_free(est.architecture_),
                           supernet_architecture=str(est.supernet_architecture_))
                rows.append(row)
                budget = budget or est.search_time_
                print(f"{name} seed {seed} {config}: ARI {row['ari']:.3f} wall {row['wall_s']:.1f}s "
                      f"cost {row['cost_x_final']:.2f}x final  {row['architecture']}", flush=True)
            est = RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_trials=1000, max_time=budget)
            row = run(est, X, y, k, seed)
            row.update(dataset=name, seed=seed, method="random (same search time)", n_trials=est.n_trials_)
            rows.append(row)
            print(f"{name} seed {seed} random: ARI {row['ari']:.3f} wall {row['wall_s']:.1f}s "
                  f"trials {est.n_trials_}  {row['architecture']}", flush=True)
    machine = f"{platform.node()} {platform.machine()}, CPU, torch {torch.__version__}, threads={args.threads}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "darts.json").write_text(json.dumps({"machine": machine, "search_cost": cost, "rows": rows}, indent=2))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [f"Machine: {machine}. Seeds {args.seeds}; mean over seeds.", "",
             "| dataset | method | mean ARI | mean wall (s) | search cost (x final training) | all-skip final | "
             "early stops |", "|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        for method in methods:
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method]
            if not sel:
                continue
            lines.append(
                f"| {name} | {method} | {np.mean([r['ari'] for r in sel]):.3f} | "
                f"{np.mean([r['wall_s'] for r in sel]):.1f} | {np.mean([r['cost_x_final'] for r in sel]):.2f} | "
                f"{sum(r.get('final_all_skip', False) for r in sel)} | {sum(r.get('stopped_early', False) for r in sel)} |")
    if cost:
        lines += ["", f"Search cost with default settings on make_customers({cost['rows']}) x "
                      f"{9} columns: DARTS search {cost['search_s']:.1f} s (supernet {cost['supernet_s']:.1f} s), "
                      f"one training of the final architecture for the same epochs {cost['final_training_s']:.1f} s: "
                      f"**{cost['ratio']:.2f}x**."]
    text = "\n".join(lines) + "\n"
    (RESULTS / "darts.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
