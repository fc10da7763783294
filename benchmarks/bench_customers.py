"""Issue 21's check on real customer tables: AutoSegmenter defaults end to end, as a new user runs them.

For each table (``customer_tables.py``; untouched: ids, yes/no strings, missing values and all) and each
``random_state`` it fits ``AutoSegmenter(random_state=seed)`` with every other parameter at its default and
records: the number of segments, the smallest segment's share, the largest normalised mutual information
of the segments with any single input column (every column as given, numbers by their values and, since a
cut of one number is a group-by too, by deciles), the fit's wall time, and the agreement (ARI) between the
segments of consecutive seeds. The acceptance (issue 21): k >= 3, smallest share >= 2%, every NMI < 0.8,
seed ARI >= 0.8, fit < 120 s on this 2-core machine for ~7,000 rows.

    python benchmarks/bench_customers.py [--tables dev|held|NAME ...] [--seeds 0 1] [--stem customers_dev]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).parent))
from customer_tables import DEVELOPMENT, HELD_BACK, TABLES, load  # noqa: E402
from result_files import machine_header, write_results  # noqa: E402

from sknas import AutoSegmenter  # noqa: E402


def column_codes(column):
    """Codes of one input column as given: categories by value; numbers by value and by decile."""
    import pandas as pd

    out = {"value": pd.factorize(column.astype(object).where(column.notna(), "(missing)").astype(str))[0]}
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all() and numbers.nunique() > 10:
        out["decile"] = pd.qcut(numbers.rank(method="first"), 10, labels=False).to_numpy()
    return out


def largest_column_nmi(frame, labels):
    """``(nmi, column)``: the input column (by value or decile) the segments agree with most."""
    best = (0.0, None)
    for name in frame.columns:
        for how, codes in column_codes(frame[name]).items():
            nmi = float(normalized_mutual_info_score(codes, labels))
            if nmi > best[0]:
                best = (nmi, name if how == "value" else f"{name} (deciles)")
    return best


def run(tables, seeds):
    rows = []
    for name in tables:
        frame = load(name)
        previous = None
        for seed in seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seg = AutoSegmenter(random_state=seed).fit(frame)
            wall = time.perf_counter() - start
            labels = seg.labels_
            nmi, column = largest_column_nmi(frame, labels)
            row = {"table": name, "rows": len(frame), "columns": frame.shape[1], "seed": seed,
                   "k": int(seg.n_clusters_), "smallest_share": float(np.bincount(labels).min() / len(labels)),
                   "max_column_nmi": nmi, "closest_column": column, "wall_s": wall,
                   "map": str(seg.search_.architecture_),
                   "seed_ari": float(adjusted_rand_score(previous, labels)) if previous is not None else None}
            previous = labels
            rows.append(row)
            print(row, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["dev"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--stem", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tables = [t for group in args.tables for t in
              (DEVELOPMENT if group == "dev" else HELD_BACK if group == "held" else [group])]
    rows = run(tables, args.seeds)
    lines = [f"# AutoSegmenter defaults on real customer tables ({', '.join(tables)})", "",
             machine_header("python benchmarks/bench_customers.py " + " ".join(argv or sys.argv[1:]),
                            "AutoSegmenter(random_state=seed), every other parameter at its default"), "",
             "| table | rows x columns | seed | k | smallest share | max NMI with one column | column | "
             "ARI with previous seed | fit (s) | map |", "|" + "---|" * 10]
    for r in rows:
        ari = "" if r["seed_ari"] is None else f"{r['seed_ari']:.3f}"
        lines.append(f"| {r['table']} | {r['rows']} x {r['columns']} | {r['seed']} | {r['k']} | "
                     f"{r['smallest_share']:.3f} | {r['max_column_nmi']:.3f} | {r['closest_column']} | {ari} | "
                     f"{r['wall_s']:.1f} | `{r['map']}` |")
    lines += ["", "Tables: " + "; ".join(f"{t}: {TABLES[t][0]}::{TABLES[t][1]}, {TABLES[t][2]}" for t in tables)]
    write_results(args.stem or f"customers_{'_'.join(args.tables)}", lines, rows)


if __name__ == "__main__":
    main()
