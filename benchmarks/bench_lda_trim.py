"""Is the LDA map led by a few extreme rows? The map fitted on all rows against the map fitted without them.

On Davis's heights and weights (held 8, ``docs/selection.md``) the default searches keep the LDA map and its
segments get ARI 0.505 against raw KMeans' 0.713; two rows of 181 (a weight and a height entered swapped) set its
direction. This measures, on every read labelled table, whether fitting the map without the most extreme rows
helps in general: the rows whose largest |z| over the numeric columns exceeds ``T`` are left out of the fit, at
most ``cap`` of the rows (the most extreme first); every row is then projected and segmented by KMeans(k),
k = classes. Mean ARI over seeds 0 and 1 of ``LDAHead`` (the search's own map) on standardised numbers and one-hot
categories at sknas's indicator scale (``bench_candidate_families.encode``); tables over 6,000 rows subsampled to 6,000.

    python benchmarks/bench_lda_trim.py [--splits dev held ...] [--out lda_trim]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

import judge_tables
from bench_candidate_families import encode
from result_files import print_or_write
from sknas.space.builder import LDAHead

VARIANTS = {"all rows": None, "z beyond 5, at most 1%": (5, 0.01), "z beyond 5, at most 2%": (5, 0.02),
            "z beyond 4, at most 2%": (4, 0.02)}
READ_SPLITS = ("dev", "held", "held2", "held3", "held4", "held5", "held6", "held7", "held8")


def fit_rows(E, n_numeric, variant):
    """The rows the map is fitted on under ``variant``."""
    keep = np.ones(len(E), dtype=bool)
    if variant is None or not n_numeric:
        return keep
    threshold, cap = variant
    zmax = np.abs(E[:, :n_numeric]).max(axis=1)
    extreme = np.flatnonzero(zmax > threshold)
    keep[extreme[np.argsort(-zmax[extreme])][:int(cap * len(E))]] = False
    return keep


def lda_ari(E, y, k, rows, seed):
    head = LDAHead(E.shape[1], 8).fit_map(E[rows], k, random_state=seed)
    Z = (torch.as_tensor(E, dtype=torch.float32) @ head.weight.T + head.bias).numpy()[:, :k - 1]
    return adjusted_rand_score(y, KMeans(k, n_init=10, random_state=seed).fit_predict(Z))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=list(READ_SPLITS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    for split in args.splits:
        for name in judge_tables.SPLITS[split]:
            X, y = judge_tables.load(name)
            if len(X) > 6000:
                pick = np.random.RandomState(0).choice(len(X), 6000, replace=False)
                X, y = X.iloc[pick].reset_index(drop=True), y[pick]
            E = encode(X)  # the numeric columns first, then the categories' indicators
            n_numeric = sum(pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
            k = len(np.unique(y))
            row = {"split": split, "table": name}
            for label, variant in VARIANTS.items():
                keep = fit_rows(E, n_numeric, variant)
                row[label] = float(np.mean([lda_ari(E, y, k, keep, seed) for seed in (0, 1)]))
                row[label + " (rows left out)"] = int((~keep).sum())
            rows.append(row)
            print(split, name, {v: round(row[v], 3) for v in VARIANTS}, flush=True)
    trims = [v for v in VARIANTS if VARIANTS[v] is not None]
    lines = ["LDA map's ARI (mean of seeds 0, 1) fitted on all rows and without the most extreme rows; change "
             "against all rows, and tables better / within 0.02 / worse:", "",
             "| tables | n | all rows | " + " | ".join(trims) + " |", "|---" * (3 + len(trims)) + "|"]
    for group, chosen in (("development", [r for r in rows if r["split"] == "dev"]),
                          ("held back 1-8 (read)", [r for r in rows if r["split"] != "dev"])):
        if not chosen:
            continue
        cells = []
        for v in trims:
            diff = np.array([r[v] - r["all rows"] for r in chosen])
            cells.append(f"{diff.mean():+.3f}; {(diff > 0.02).sum()} / {(np.abs(diff) <= 0.02).sum()} / "
                         f"{(diff < -0.02).sum()}")
        lines.append(f"| {group} | {len(chosen)} | {np.mean([r['all rows'] for r in chosen]):.3f} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Tables where a variant moves the ARI by more than 0.02:", "",
              "| split | table | all rows | " + " | ".join(trims) + " |", "|---" * (3 + len(trims)) + "|"]
    for r in rows:
        if any(abs(r[v] - r["all rows"]) > 0.02 for v in trims):
            lines.append(f"| {r['split']} | {r['table']} | {r['all rows']:.3f} | "
                         + " | ".join(f"{r[v]:.3f} ({r[v + ' (rows left out)']} rows)" for v in trims) + " |")
    print_or_write(args.out, lines, rows)


if __name__ == "__main__":
    main()
