"""Default DARTS on labelled tables whose only discrete columns are 0/1 flags (issue 20, ``docs/selection.md``).

``AutoSegmenter`` turns yes/no strings into 0/1 numbers, so a customer table of flags and measurements reaches
the search without a categorical column. Its flags split the neighbours objective's graph as categories do
(``sknas.training.objectives.mixed_neighbor_graph``). This script fits default ``DARTSFeatureSearch(n_clusters=k)``
-> ``KMeans(k)`` on the flag-only variants of the development tables (``judge_tables.FLAG_VARIANTS``) and on any
other tables named, and reports the ARI per seed and the map that won. Run it at two commits for a before and
after (``PYTHONPATH=<worktree of the old commit>``).

    python benchmarks/bench_flag_tables.py [--tables penguins_flags crabs_flags leaves] [--seeds 0 1 2 3 4]
        [--out flag_tables_after]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).parent))
import judge_tables  # noqa: E402
from result_files import machine_header, write_results  # noqa: E402

from sknas import DARTSFeatureSearch  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(judge_tables.FLAG_VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default="flag_tables")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    rows, lines = [], ["| table | seed | ARI | map | fit (s) |", "|---|---|---|---|---|"]
    for table in args.tables:
        X, y = judge_tables.load(table)
        k = len(np.unique(y))
        for seed in args.seeds:
            start = time.perf_counter()
            search = DARTSFeatureSearch(n_clusters=k, random_state=seed, device="cpu").fit(X)
            labels = KMeans(k, n_init=10, random_state=seed).fit_predict(search.transform(X))
            row = {"table": table, "seed": seed, "ari": float(adjusted_rand_score(y, labels)),
                   "map": str(search.architecture_), "time": time.perf_counter() - start}
            rows.append(row)
            lines.append(f"| {table} | {seed} | {row['ari']:.3f} | `{row['map']}` | {row['time']:.1f} |")
    lines += ["", "| table | mean ARI |", "|---|---|"]
    lines += [f"| {t} | {np.mean([r['ari'] for r in rows if r['table'] == t]):.3f} |" for t in args.tables]
    command = " ".join(["python benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]])
    write_results(args.out, [f"# Default DARTS on flag-only tables ({', '.join(args.tables)})", "",
                             machine_header(command), ""] + lines, rows)


if __name__ == "__main__":
    main()
