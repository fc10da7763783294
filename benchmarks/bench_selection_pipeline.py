"""End-to-end figures of issue 20: default searches -> KMeans before and after, classical recipes beside them.

Reads two pool directories of ``judge_pools.py`` made with the same tables and seeds (``--before``: an
earlier sknas, e.g. a git worktree of the last commit before the change, on ``PYTHONPATH``; ``--after``:
this one). Per table: mean ARI over seeds of the default ``RandomFeatureSearch`` and ``DARTSFeatureSearch``
pipelines before and after, and of KMeans, GMM, PCA+KMeans and UMAP+KMeans from the *after* run (the same
process as the search); the largest NMI of the chosen segments with one discrete input column (categorical,
yes/no, <= 10 distinct values) and with two such columns together, next to the true classes' own; and the
acceptance checks. Means over tables
come with 95% stratified bootstrap intervals.

    python benchmarks/bench_selection_pipeline.py --before benchmarks/pools_before --after benchmarks/pools \\
        [--tables ...] [--out selection_pipeline]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

import judge_tables
from bench_judges import stratified_bootstrap
from result_files import print_or_write
from sknas.config import get_config
from sknas.evaluation.judge import column_restatement

RECIPES = ("kmeans", "gmm", "pca+kmeans", "umap+kmeans")
PUBLIC = ("iris", "wine", "breast_cancer", "digits")


def discrete_input_columns(X):
    """``{name: codes}`` of the table's string columns and numeric columns with few values."""
    out, max_values = {}, get_config()["max_discrete_values"]
    for c in X.columns:
        strings = X[c].dtype == object or str(X[c].dtype) == "category"
        codes = np.unique((X[c].astype(str) if strings else X[c]).to_numpy(), return_inverse=True)[1]
        if (strings or codes.max() + 1 <= max_values) and codes.max() >= 1:
            out[str(c)] = codes
    return out


def load(directory, table, search, seed):
    path = Path(directory) / f"{table}__{search}__{seed}.pkl"
    if not path.exists():
        return None
    with open(path, "rb") as fh:
        return pickle.load(fh)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--tables", nargs="+", default=list(judge_tables.TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for table in args.tables:
        X = None
        for seed in args.seeds:
            for search in ("random", "darts"):
                before, after = load(args.before, table, search, seed), load(args.after, table, search, seed)
                if before is None or after is None:
                    continue
                if X is None:
                    X, y = judge_tables.load(table)
                    columns = discrete_input_columns(X)
                    truth_nmi = column_restatement(y, columns, combined=1)[0]
                    truth_pair_nmi = column_restatement(y, columns, combined=2)[0]
                # One column alone is the acceptance's measure; two together is a group-by on a pair.
                nmi, column = column_restatement(after["pipeline"]["labels"], columns, combined=1)
                pair_nmi = column_restatement(after["pipeline"]["labels"], columns, combined=2)[0]
                rows.append({"table": table, "seed": seed, "search": search, "k": after["k"],
                             "mixed": judge_tables.is_mixed(X),
                             "held_back": table not in judge_tables.DEVELOPMENT, "public": table in PUBLIC,
                             "before": before["pipeline"]["ari"], "after": after["pipeline"]["ari"],
                             "time_before": before["pipeline"]["time"], "time_after": after["pipeline"]["time"],
                             "after_arch": after["pipeline"]["architecture"], "max_column_nmi": nmi,
                             "closest_column": column, "truth_column_nmi": truth_nmi, "max_pair_nmi": pair_nmi,
                             "truth_pair_nmi": truth_pair_nmi,
                             **{r: after["classical"][r]["ari"] for r in RECIPES if r in after["classical"]}})
    tables = list(dict.fromkeys(r["table"] for r in rows))

    def table_mean(table, key, search=None):
        vals = [r.get(key, np.nan) for r in rows  # a recipe missing from an older pool counts as nan
                if r["table"] == table and (search is None or r["search"] == search)]
        return float(np.nanmean(vals)) if vals else np.nan

    lines = ["Mean ARI over seeds per table (the classical recipes ran in the same process as the 'after' search).",
             "", "| table | k | seeds | random before | random after | DARTS before | DARTS after | "
             + " | ".join(RECIPES) + " | chosen segments' max NMI with a column (DARTS / random) | true classes' "
             "| with two columns together (DARTS / random) | true classes' |", "|---" * (11 + len(RECIPES)) + "|"]
    for t in tables:
        sel = [r for r in rows if r["table"] == t]
        k = sel[0]["k"]
        nmi_d = max((r["max_column_nmi"] for r in sel if r["search"] == "darts"), default=np.nan)
        nmi_r = max((r["max_column_nmi"] for r in sel if r["search"] == "random"), default=np.nan)
        pair_d = max((r["max_pair_nmi"] for r in sel if r["search"] == "darts"), default=np.nan)
        pair_r = max((r["max_pair_nmi"] for r in sel if r["search"] == "random"), default=np.nan)
        cells = [table_mean(t, "before", "random"), table_mean(t, "after", "random"),
                 table_mean(t, "before", "darts"), table_mean(t, "after", "darts")]
        cells += [table_mean(t, r) for r in RECIPES]
        name = t + (" (held back)" if sel[0]["held_back"] else "") + (" (mixed)" if sel[0]["mixed"] else "")
        lines.append(f"| {name} | {k} | {len({r['seed'] for r in sel})} | " + " | ".join(f"{c:.3f}" for c in cells)
                     + f" | {nmi_d:.2f} / {nmi_r:.2f} ({sel[0]['closest_column'] or '-'}) | "
                     f"{sel[0]['truth_column_nmi']:.2f} | {pair_d:.2f} / {pair_r:.2f} | "
                     f"{sel[0]['truth_pair_nmi']:.2f} |")
    lines += ["", "Means over tables of the per-table means [95% stratified bootstrap interval]:", "",
              "| group | tables | random before | random after | DARTS before | DARTS after | "
              + " | ".join(RECIPES) + " |", "|---" * (6 + len(RECIPES)) + "|"]
    checks = []
    for group, pick in (("public four", lambda r: r["public"]), ("development", lambda r: not r["held_back"]),
                        ("held back", lambda r: r["held_back"]), ("mixed-type", lambda r: r["mixed"]),
                        ("all", lambda r: True)):
        sel = [r for r in rows if pick(r)]
        if not sel:
            continue
        cells = {}
        for name, key, search in (("random before", "before", "random"), ("random after", "after", "random"),
                                  ("DARTS before", "before", "darts"), ("DARTS after", "after", "darts"),
                                  *((r, r, "darts") for r in RECIPES)):
            by_table = {}
            for r in sel:
                if r["search"] == search and key in r:
                    by_table.setdefault(r["table"], []).append(r[key])
            cells[name] = stratified_bootstrap(by_table)
        lines.append(f"| {group} | {len({r['table'] for r in sel})} | " + " | ".join(
            f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for v in cells.values()) + " |")
        if group in ("public four", "held back"):
            best = max(RECIPES, key=lambda r: cells[r][0])
            for s in ("random after", "DARTS after"):
                checks.append(f"{group}: {s} {cells[s][0]:.3f} vs best single recipe {best} {cells[best][0]:.3f}: "
                              f"{'above' if cells[s][0] > cells[best][0] else 'NOT above'}")
    for search in ("random", "darts"):
        gaps = {t: table_mean(t, "after", search) - table_mean(t, "kmeans") for t in tables}
        worst = min(gaps, key=gaps.get)
        checks.append(f"{search} after: worst gap to raw KMeans {gaps[worst]:+.3f} on {worst}; tables more than "
                      f"0.05 below: {[t for t, g in gaps.items() if g < -0.05]}")
    mixed_bad = [(r["table"], r["search"], r["seed"], round(r["max_column_nmi"], 2), r["closest_column"])
                 for r in rows if r["mixed"] and r["max_column_nmi"] >= 0.8 and r["truth_column_nmi"] < 0.8]
    checks.append(f"mixed-type runs whose chosen segments have NMI >= 0.8 with one column (classes do not): "
                  f"{mixed_bad or 'none'}")
    lines += ["", "Checks:", ""] + [f"- {c}" for c in checks]
    print_or_write(args.out, lines, {"rows": rows, "checks": checks})


if __name__ == "__main__":
    main()
