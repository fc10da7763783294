"""EvoFeatureSearch against RandomFeatureSearch given the same search wall time.

For each dataset (digits, breast cancer, wine) and seed: EvoFeatureSearch with default settings, then
RandomFeatureSearch with ``max_time`` = Evo's measured search time (StandardScaler first, KMeans(k) on the
embedding, k = number of classes). Writes benchmarks/results/evolution.json and .md.

    python benchmarks/bench_evolution.py [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
from bench_darts import DATASETS, run
from sklearn.preprocessing import StandardScaler

from sknas import EvoFeatureSearch, RandomFeatureSearch

RESULTS = Path(__file__).parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = len(np.unique(y))
        for seed in args.seeds:
            evo = EvoFeatureSearch(n_clusters=k, random_state=seed, device="cpu")
            row = run(evo, X, y, k, seed)
            row.update(dataset=name, seed=seed, method="evolution (default)", n_trials=evo.n_trials_,
                       n_cached=sum(r["cached"] for r in evo.search_history_))
            rows.append(row)
            rnd = RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_trials=1000,
                                      max_time=evo.search_time_)
            row = run(rnd, X, y, k, seed)
            row.update(dataset=name, seed=seed, method="random (same search time)", n_trials=rnd.n_trials_)
            rows.append(row)
            print(f"{name} seed {seed}: evo ARI {rows[-2]['ari']:.3f} ({rows[-2]['n_trials']} trials, "
                  f"{rows[-2]['wall_s']:.1f}s)  random ARI {row['ari']:.3f} ({row['n_trials']} trials, "
                  f"{row['wall_s']:.1f}s)", flush=True)
    machine = f"{platform.node()} {platform.machine()}, CPU, torch {torch.__version__}, threads={args.threads}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "evolution.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    lines = [f"Machine: {machine}. Seeds {args.seeds}; mean over seeds.", "",
             "| dataset | method | mean ARI | mean wall (s) | mean trials |", "|---|---|---|---|---|"]
    for name in args.datasets:
        for method in ("evolution (default)", "random (same search time)"):
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method]
            lines.append(f"| {name} | {method} | {np.mean([r['ari'] for r in sel]):.3f} | "
                         f"{np.mean([r['wall_s'] for r in sel]):.1f} | {np.mean([r['n_trials'] for r in sel]):.1f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "evolution.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
