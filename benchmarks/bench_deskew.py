"""Skewed columns power-transformed or not, end to end (docs/selection.md, "Skewed columns").

For each table (``judge_tables.py``) and seed, fits the default search (``DARTSFeatureSearch`` or
``RandomFeatureSearch`` with ``n_clusters`` = the number of classes) -> ``KMeans(k)`` twice in the same process:
with sknas.config's ``deskew_skewness`` at ``--skewness`` and with it off (``math.inf``, the default), and
reports the ARI of each on all rows, the map that won, and the classical recipe the issue compares with
(standardised numbers + one-hot -> KMeans) next to the same recipe with the same columns power-transformed.

    python benchmarks/bench_deskew.py [--split dev] [--tables ...] [--seeds 0 1 2 3 4] [--search darts]
        [--skewness 1.0] [--jobs 2] [--out NAME]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import judge_tables  # noqa: E402
from result_files import print_or_write  # noqa: E402


def run_one(table, seed, search, skewness):
    """ARIs of one table and seed: the search with and without deskewing, and KMeans on both inputs."""
    import pandas as pd
    import torch
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from judge_pools import encode_classical
    from sknas import DARTSFeatureSearch, RandomFeatureSearch
    from sknas.config import config_context
    from sknas.preprocessing.tabular import Standardizer

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    X, y = judge_tables.load(table)
    k = len(np.unique(y))
    kind = {"darts": DARTSFeatureSearch, "random": RandomFeatureSearch}[search]
    row = {"table": table, "seed": seed, "k": k}
    for name, threshold in (("off", math.inf), ("on", skewness)):
        with config_context(deskew_skewness=threshold):
            start = time.perf_counter()
            model = kind(n_clusters=k, random_state=seed, device="cpu").fit(X)
            labels = KMeans(k, n_init=10, random_state=seed).fit_predict(model.transform(X))
            row[f"search_{name}"] = float(adjusted_rand_score(y, labels))
            row[f"map_{name}"] = model.architecture_.head if not model.architecture_.blocks else "network"
            row[f"seconds_{name}"] = time.perf_counter() - start
    plain = encode_classical(X)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]  # encode_classical's order
    deskewed = plain.copy()
    scaler = Standardizer(deskew_skewness=skewness).fit(X[numeric].to_numpy(np.float64)) if numeric else None
    if numeric:
        deskewed[:, :len(numeric)] = scaler.transform(X[numeric].to_numpy(np.float64))
    row["deskewed_columns"] = len(scaler.power_) if numeric else 0
    for name, Xc in (("kmeans", plain), ("kmeans_deskewed", deskewed)):
        row[name] = float(adjusted_rand_score(y, KMeans(k, n_init=10, random_state=seed).fit_predict(Xc)))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=tuple(judge_tables.SPLITS))
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--search", default="darts", choices=["darts", "random"])
    parser.add_argument("--skewness", type=float, default=1.0, help="deskew_skewness when on")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    tables = args.tables or list(judge_tables.SPLITS[args.split])
    jobs = [(t, s, args.search, args.skewness) for t in tables for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run_one, *zip(*jobs)))
    columns = ["search_off", "search_on", "kmeans", "kmeans_deskewed"]
    lines = [f"Default {args.search} search -> KMeans(k) with columns of |skewness| > {args.skewness} "
             f"power-transformed (on) or not (off), "
             f"and KMeans on the standardised (+ one-hot) table with and without; ARI on all rows, mean over "
             f"seeds {args.seeds}.", "",
             "| table | k | deskewed columns | search off | search on | on - off | maps off / on | KMeans | "
             "KMeans deskewed | on - KMeans |", "|---|---|---|---|---|---|---|---|---|---|"]
    for table in tables:
        mine = [r for r in rows if r["table"] == table]
        m = {c: np.mean([r[c] for r in mine]) for c in columns}
        maps = "/".join(sorted({r["map_off"] for r in mine})) + " / " + "/".join(sorted({r["map_on"] for r in mine}))
        lines.append(f"| {table} | {mine[0]['k']} | {mine[0]['deskewed_columns']} | {m['search_off']:.3f} | "
                     f"{m['search_on']:.3f} | {m['search_on'] - m['search_off']:+.3f} | {maps} | {m['kmeans']:.3f} | "
                     f"{m['kmeans_deskewed']:.3f} | {m['search_on'] - m['kmeans']:+.3f} |")
    per_table = {c: [np.mean([r[c] for r in rows if r["table"] == t]) for t in tables] for c in columns}
    diff = np.array(per_table["search_on"]) - np.array(per_table["search_off"])
    rng = np.random.default_rng(0)
    boot = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)]
    lines += ["", "| mean over tables | search off | search on | KMeans | KMeans deskewed |", "|---|---|---|---|---|",
              "| | " + " | ".join(f"{np.mean(per_table[c]):.3f}" for c in columns) + " |", "",
              f"Paired on - off over tables: {diff.mean():+.3f} [95% bootstrap {np.percentile(boot, 2.5):+.3f}, "
              f"{np.percentile(boot, 97.5):+.3f}]; tables better / worse by more than 0.01: "
              f"{int((diff > 0.01).sum())} / {int((diff < -0.01).sum())} of {len(diff)}. Fit seconds (mean): "
              f"off {np.mean([r['seconds_off'] for r in rows]):.1f}, "
              f"on {np.mean([r['seconds_on'] for r in rows]):.1f}."]
    print_or_write(args.out, lines, rows)


if __name__ == "__main__":
    main()
