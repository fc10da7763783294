"""Issue 20's figures from two runs of its protocol, side by side (before -> after a change to sknas).

Reads the result files (``benchmarks/results/<stem>.json``) that ``bench_judges.py`` and ``bench_k.py`` wrote
for each run, and the end-to-end figures: ``--pipeline-before``, a ``bench_selection_pipeline.py`` result
(its ``after`` column and the classical recipes beside it), and ``--pools``, the new run's pool directory of
``judge_pools.py`` (each pool holds the default pipeline's ARI and the classical recipes', same process).
Both runs should cover the same tables and seeds (``--seeds`` keeps a subset of both): every figure is also
given as a paired difference (after - before per (table, seed), then means over tables) with its 95%
stratified bootstrap interval, so "moved beyond the interval" means that interval excludes 0.

    python benchmarks/compare_judge_runs.py --pools /tmp/pools_convergence \\
        --judges random=judges_dev_after:judges_dev_convergence \\
                 darts=judges_dev_darts_after:judges_dev_darts_convergence \\
        --k k_choice_dev:k_choice_dev_convergence --pipeline-before selection_pipeline_dev \\
        --out issue20_convergence_dev_paired
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np

import judge_tables
from bench_judges import stratified_bootstrap
from bench_selection_pipeline import PUBLIC, RECIPES
from result_files import RESULTS, print_or_write

GROUPS = (("public four", lambda t: t in PUBLIC), ("development", lambda t: t in judge_tables.DEVELOPMENT),
          ("mixed-type", None))


SEEDS = None  # --seeds: the seeds both runs are compared on (all when None)


def rows_of(stem):
    rows = json.loads((RESULTS / f"{stem}.json").read_text())["rows"]
    return [r for r in rows if SEEDS is None or r["seed"] in SEEDS]


def fmt(cell):
    return f"{cell[0]:.3f} [{cell[1]:.3f}, {cell[2]:.3f}]"


def compare(before, after, key, select):
    """(before, after, paired after - before) stratified-bootstrap cells of ``key`` over the rows ``select`` keeps,
    rows keyed by (table, seed)."""
    b = {(r["table"], r["seed"]): float(r[key]) for r in before if select(r)}
    a = {(r["table"], r["seed"]): float(r[key]) for r in after if select(r)}
    cells = []
    for values in (b, a):
        by_table = {}
        for (table, _), v in values.items():
            by_table.setdefault(table, []).append(v)
        cells.append(stratified_bootstrap(by_table))
    diff = {}
    for pair in sorted(set(a) & set(b)):
        if np.isfinite(a[pair]) and np.isfinite(b[pair]):
            diff.setdefault(pair[0], []).append(a[pair] - b[pair])
    cells.append(stratified_bootstrap(diff))
    unpaired = sorted(set(a) ^ set(b))
    return cells, unpaired


def moved(diff):
    return "yes" if diff[1] > 0 or diff[2] < 0 else "no"


def pool_rows(directory):
    """The new run's end-to-end rows: one per pool, with the pipeline's and the classical recipes' ARI."""
    out = []
    for path in sorted(Path(directory).glob("*.pkl")):
        with open(path, "rb") as fh:
            pool = pickle.load(fh)
        if pool["table"] not in judge_tables.DEVELOPMENT or (SEEDS is not None and pool["seed"] not in SEEDS):
            continue
        out.append({"table": pool["table"], "seed": pool["seed"], "search": pool["search"], "mixed": pool["mixed"],
                    "ari": pool["pipeline"]["ari"], "time": pool["pipeline"]["time"],
                    "architecture": pool["pipeline"]["architecture"], "scoring": pool["scoring"],
                    **{r: pool["classical"][r]["ari"] for r in RECIPES if r in pool["classical"]}})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judges", nargs="+", required=True, help="search=before_stem:after_stem")
    parser.add_argument("--k", required=True, help="before_stem:after_stem (bench_k.py results)")
    parser.add_argument("--pipeline-before", required=True, help="a bench_selection_pipeline.py result stem")
    parser.add_argument("--pools", type=Path, required=True, help="the new run's judge_pools.py directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="compare these seeds only")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    global SEEDS
    SEEDS = args.seeds
    lines, record = [], {"judges": [], "k": [], "pipeline": []}

    lines += ["Judges on the candidate pools (bench_judges.py): mean over tables of per-table means [95% stratified "
              "bootstrap]; 'after - before' pairs the same (table, seed); 'moved' = its interval excludes 0.", "",
              "| search | judge | restating dropped | figure | before | after | after - before | moved |",
              "|---|---|---|---|---|---|---|---|"]
    for spec in args.judges:
        search, stems = spec.split("=")
        before, after = (rows_of(s) for s in stems.split(":"))
        for judge in dict.fromkeys(r["judge"] for r in after):
            for drop in (False, True):
                for key, name in (("tau", "Kendall tau"), ("regret", "regret"), ("restates", "picks restating")):
                    (b, a, d), unpaired = compare(before, after, key,
                                                  lambda r: r["judge"] == judge and r["drop_restating"] == drop)
                    record["judges"].append({"search": search, "judge": judge, "drop_restating": drop, "figure": key,
                                             "before": b, "after": a, "diff": d, "unpaired": unpaired})
                    lines.append(f"| {search} | {judge} | {'yes' if drop else 'no'} | {name} | {fmt(b)} | {fmt(a)} "
                                 f"| {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] | {moved(d)} |")

    before, after = (rows_of(s) for s in args.k.split(":"))
    n_tables = len({r["table"] for r in after})
    lines += ["", f"k rules (bench_k.py, k in 2..10, the default pick's embedding): tables of {n_tables} with k "
              "within +-1 (mean over seeds) and ARI at the chosen k.", "",
              "| rule | figure | before | after | after - before | moved |", "|---|---|---|---|---|---|"]
    for rule in dict.fromkeys(r["rule"] for r in after):
        for key, scale in (("within_1", n_tables), ("ari", 1)):
            (b, a, d), unpaired = compare(before, after, key, lambda r: r["rule"] == rule)
            record["k"].append({"rule": rule, "figure": key, "before": b, "after": a, "diff": d, "unpaired": unpaired})
            b, a, d = (tuple(v * scale for v in c) for c in (b, a, d))
            form = "{:.1f}" if scale != 1 else "{:.3f}"
            cell = lambda c: f"{form.format(c[0])} [{form.format(c[1])}, {form.format(c[2])}]"  # noqa: E731
            lines.append(f"| {rule} | {'k within +-1' if scale != 1 else 'ARI'} | {cell(b)} | {cell(a)} | "
                         f"{d[0]:+.2f} [{d[1]:+.2f}, {d[2]:+.2f}] | {moved(d)} |")

    old = [{**r, "ari": r["after"], "time": r["time_after"]} for r in rows_of(args.pipeline_before)
           if r["table"] in judge_tables.DEVELOPMENT]
    new = pool_rows(args.pools)
    mixed = {r["table"] for r in new if r["mixed"]}
    lines += ["", "End to end, ARI on all rows (search -> KMeans(k); classical recipes from the same process as each "
              "run's search). Before: the 'after' column of the pipeline result; after: the new pools.", "",
              "| tables | pipeline | before | after | after - before | moved |", "|---|---|---|---|---|---|"]
    for group, keep in GROUPS:
        keep = keep or (lambda t: t in mixed)
        n = len({r["table"] for r in new if keep(r["table"])})
        for search, label in (("random", "default RandomFeatureSearch"), ("darts", "default DARTSFeatureSearch"),
                              *(("darts", r) for r in RECIPES), ("random", "search seconds (random)"),
                              ("darts", "search seconds (DARTS)")):
            key = "time" if "seconds" in label else ("ari" if label.startswith("default") else label)
            (b, a, d), unpaired = compare(old, new, key, lambda r: r["search"] == search and keep(r["table"]))
            record["pipeline"].append({"group": group, "pipeline": label, "before": b, "after": a, "diff": d,
                                       "unpaired": unpaired})
            prec = ".1f" if key == "time" else ".3f"
            cell = lambda c: f"{c[0]:{prec}} [{c[1]:{prec}}, {c[2]:{prec}}]"  # noqa: E731
            lines.append(f"| {group} ({n}) | {label} | {cell(b)} | {cell(a)} | {d[0]:+{prec}} [{d[1]:+{prec}}, "
                         f"{d[2]:+{prec}}] | {moved(d)} |")
    scorings = sorted({str(r["scoring"]) for r in new})
    unpaired = sorted({tuple(u) for part in record.values() for row in part for u in row["unpaired"]})
    lines += ["", f"Default judge in the new pools: {', '.join(scorings)}. (table, seed) pairs in one run only: "
              f"{unpaired or 'none'}."]
    print_or_write(args.out, lines, {**record, "new_pool_rows": new})


if __name__ == "__main__":
    main()
