"""A consensus map replayed on saved candidate pools (issue 20's optional item 4, step 2 of 2).

Instead of one winner, the top candidates of a search (by the default score) are put side by side: each
embedding centred and scaled to unit mean squared norm, concatenated, then ``KMeans(k)``. KMeans there looks for
segments every one of those spaces agrees on, a consensus of maps that is itself a feature map (it could sit in a
pipeline, unlike a consensus of partitions). Compared, on the pools of ``judge_pools.py``, with the single
winner the default score picks and with raw KMeans, by ARI on the scoring rows (labels only evaluate).

    python benchmarks/bench_consensus_map.py --pools DIR [--split dev] [--search random] [--out NAME]
"""

from __future__ import annotations

import argparse
import platform
import warnings
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

import judge_tables
from bench_judges import POOLS, _unit_scale, distinct, load_pools, stratified_bootstrap
from result_files import print_or_write

VARIANTS = ("top 2", "top 3", "within 0.05 of the best", "within 0.1 of the best")


def members(records, variant):
    """The records of ``variant``'s consensus, best score first."""
    ranked = sorted(records, key=lambda r: -r["score"])
    if variant.startswith("top"):
        return ranked[:int(variant.split()[1])]
    width = float(variant.split()[1])
    return [r for r in ranked if r["score"] >= ranked[0]["score"] - width]


def replay(pool):
    records = [pool["records"][i] for i in distinct(pool["records"])]
    records = [r for r in records if np.isfinite(r["score"])]
    y, k = pool["y_score"], pool["k"]
    out = {"raw KMeans (all rows)": pool["classical"]["kmeans"]["ari"],
           "single winner": adjusted_rand_score(y, max(records, key=lambda r: r["score"])["labels"])}
    for variant in VARIANTS:
        shared = np.hstack([_unit_scale(r["embedding"]) for r in members(records, variant)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = KMeans(k, n_init=4, random_state=0).fit_predict(shared)
        out[variant] = adjusted_rand_score(y, labels)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=Path, default=POOLS)
    parser.add_argument("--split", choices=tuple(judge_tables.SPLITS), default="dev")
    parser.add_argument("--search", default="random")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    tables = judge_tables.SPLITS[args.split]
    pools = load_pools(args.pools, tables, args.search)
    rows = [{"table": p["table"], "seed": p["seed"], **replay(p)} for p in pools]
    methods = [m for m in rows[0] if m not in ("table", "seed")]
    lines = [f"{len(pools)} pools of {args.search} search ({len({p['table'] for p in pools})} tables, split "
             f"{args.split}); ARI on the scoring rows, means over tables of per-table means "
             "[95% stratified bootstrap interval]", "", "| method | mean ARI |", "|---|---|"]
    summary = {}
    for m in methods:
        by_table = {}
        for r in rows:
            by_table.setdefault(r["table"], []).append(r[m])
        summary[m] = stratified_bootstrap(by_table)
        lines.append(f"| {m} | {summary[m][0]:.3f} [{summary[m][1]:.3f}, {summary[m][2]:.3f}] |")
    lines += ["", "Paired, consensus less single winner:", "", "| method | ARI difference |", "|---|---|"]
    for m in VARIANTS:
        by_table = {}
        for r in rows:
            by_table.setdefault(r["table"], []).append(r[m] - r["single winner"])
        diff = stratified_bootstrap(by_table)
        summary[f"{m} less single winner"] = diff
        lines.append(f"| {m} | {diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}] |")
    lines += ["", "| table | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for table in sorted({r["table"] for r in rows}):
        cells = [np.mean([r[m] for r in rows if r["table"] == table]) for m in methods]
        lines.append(f"| {table} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print_or_write(args.out, lines, {"rows": rows, "summary": summary, "machine": platform.node()})


if __name__ == "__main__":
    main()
