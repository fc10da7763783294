"""AutoSegmenter on a customer table as a CSV export leaves it (docs/selection.md, "Tables as exports leave them").

A real customer table rarely arrives clean: an id column, dates written as text, a number column that a CSV
reader kept as strings because some rows are blank (Telco's ``TotalCharges``), and a free-text or code column
with a different value on most rows. This script makes such a table from :func:`sknas.datasets.make_customers`
(planted segments, so ARI can be measured), fits ``AutoSegmenter`` on the clean table and on the messy one with
the same settings, and reports the fit time, the roles the columns got, k and the ARI with the planted segments.
Nothing here is tuned: the messy columns are generated, not taken from a named table.

Run it at two commits for a before and after (``PYTHONPATH=<worktree of the old commit>``):

    python benchmarks/bench_table_inputs.py [--seeds 0 1 2] [--rows 3000] [--n-clusters auto] [--out NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).parent))
from result_files import print_or_write  # noqa: E402

from sknas import AutoSegmenter  # noqa: E402
from sknas.datasets import make_customers  # noqa: E402

WORDS = ("late", "payment", "called", "support", "moved", "upgrade", "complaint", "router", "discount", "family",
         "business", "travel", "student", "promo", "billing", "email", "paper", "fiber", "contract", "renewal")


def messy_table(X, seed):
    """``X`` with the columns an export adds: an id, a date as text, a number as text with blanks, free text."""
    rng = np.random.default_rng(seed)
    n = len(X)
    messy = X.copy()
    messy.insert(0, "customerID", [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGH'), 5))}-{i}"
                                   for i in range(n)])
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    messy["signup_date"] = start.strftime("%Y-%m-%d")
    # The number column a CSV reader leaves as text: 1% of rows blank, the rest written with two decimals.
    column = messy.columns[1]
    text = messy[column].map(lambda v: f"{v:.2f}").astype(object)
    text[rng.random(n) < 0.01] = " "
    messy[column] = text
    # Free-text notes: three words from a small vocabulary and a ticket number, most rows different.
    messy["notes"] = [" ".join(rng.choice(WORDS, 3)) + f" #{rng.integers(0, 400)}" for _ in range(n)]
    return messy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--n-clusters", default="auto", help='"auto" or an int (5 planted segments)')
    parser.add_argument("--tables", nargs="+", default=["clean", "messy"], choices=["clean", "messy"])
    parser.add_argument("--out", default=None, help="write benchmarks/results/<out>.{md,json}; else print")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_clusters = args.n_clusters if args.n_clusters == "auto" else int(args.n_clusters)
    rows = []
    lines = ["| table | seed | fit (s) | k | ARI with the planted segments | columns left out | text numbers |",
             "|---|---|---|---|---|---|---|"]
    for seed in args.seeds:
        X, y = make_customers(args.rows, as_frame=True, return_X_y=True, random_state=seed)
        for name in args.tables:
            table = X if name == "clean" else messy_table(X, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model = AutoSegmenter(n_clusters=n_clusters, random_state=seed, device="cpu").fit(table)
                seconds = time.perf_counter() - start
            roles = getattr(model, "column_roles_", {})
            dropped = sorted(c for c, r in roles.items() if r in ("id", "constant", "high_cardinality"))
            written = sorted(getattr(getattr(model, "_table", None), "text_numbers_", []))  # absent before the rule
            row = {"table": name, "seed": seed, "seconds": seconds, "k": int(model.n_clusters_),
                   "ari": float(adjusted_rand_score(y, model.labels_)), "roles": roles, "dropped": dropped,
                   "text_numbers": written}
            rows.append(row)
            lines.append(f"| {name} | {seed} | {seconds:.1f} | {row['k']} | {row['ari']:.3f} | "
                         f"{', '.join(dropped) or '-'} | {', '.join(written) or '-'} |")
    lines += ["", "| table | mean fit (s) | mean ARI |", "|---|---|---|"]
    for name in args.tables:
        mine = [r for r in rows if r["table"] == name]
        lines.append(f"| {name} | {np.mean([r['seconds'] for r in mine]):.1f} | "
                     f"{np.mean([r['ari'] for r in mine]):.3f} |")
    print_or_write(args.out, [f"AutoSegmenter(n_clusters={n_clusters!r}) on clean and export-messy customer "
                              f"tables ({args.rows} rows, `make_customers`, 5 planted segments)", ""] + lines, rows)


if __name__ == "__main__":
    main()
