"""Every held-back split at once: the default pipelines against the classical recipes on all held-back tables.

Each held-back split of ``judge_tables.py`` was read once, at the code of its day (``docs/selection.md``), by
``bench_selection_pipeline.py``; its result file holds, per table, seed and search, the default pipeline's ARI
(search -> ``KMeans(k)``, k = classes, column ``after``) and, from the same process, the classical recipes'. This
script pools those files: one figure per table (the mean over seeds; the recipes' over both searches' runs), then,
over all held-back tables,

- the mean ARI of each recipe with a 95% bootstrap interval (tables resampled),
- the paired difference of each default search against each recipe, with its interval, and how many tables it
  wins, ties (within ``--tie`` ARI) or loses,
- ``autorank``'s ranking of the six (Friedman test and Nemenyi's critical difference when the per-table figures
  are not normal, which ARI near 0 on many tables makes the usual case): populations whose mean ranks differ by
  less than the critical difference are a tie.

Nothing is rerun: the figures are those read once per split, at different code (the split's commit is listed).

With ``--recoverable ARI`` only the tables where at least one of the six methods reaches that ARI are kept: most
held-back tables have classes no method recovers (every figure near 0), where any two methods tie by construction;
the kept ones show how the methods compare where there is something to find. Choosing tables by the best of all six
favours none of them.

    python benchmarks/bench_held_back_summary.py [--tie 0.02] [--recoverable 0.2] [--out held_back_summary]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import numpy as np

from bench_judges import stratified_bootstrap
from result_files import RESULTS, print_or_write

#: The result file each held-back split was read with (``docs/selection.md``, "Where issue 20 stands") and the
#: commit whose search code made it. Held 1 has two files; "held_final" is the one the acceptance table quotes.
SPLIT_FILES = {
    "held 1": ("selection_pipeline_held_final", "09a1988"),
    "held 2": ("selection_pipeline_held2", "af08a1f"),
    "held 3": ("selection_pipeline_held3", "c8679d9"),
    "held 4": ("selection_pipeline_held4", "90f309f"),
    "held 5": ("selection_pipeline_held5", "c349708"),
    "held 6": ("selection_pipeline_held6", "48bdc26"),
    "held 7": ("selection_pipeline_held7", "1bca6d7"),
    "held 8": ("selection_pipeline_held8", "375896b"),
}
SEARCHES = {"DARTS -> KMeans": "darts", "random search -> KMeans": "random"}
RECIPES = {"KMeans": "kmeans", "GMM": "gmm", "PCA + KMeans": "pca+kmeans", "UMAP + KMeans": "umap+kmeans"}


def per_table(split_files=SPLIT_FILES):
    """``[{split, table, mixed, <method>: mean ARI over seeds}]`` over every held-back table of every split."""
    out = []
    for split, (stem, _) in split_files.items():
        rows = [r for r in json.loads((RESULTS / f"{stem}.json").read_text())["rows"] if r["held_back"]]
        for table in dict.fromkeys(r["table"] for r in rows):
            sel = [r for r in rows if r["table"] == table]
            entry = {"split": split, "table": table, "mixed": bool(sel[0]["mixed"])}
            for name, search in SEARCHES.items():
                entry[name] = float(np.mean([r["after"] for r in sel if r["search"] == search]))
            for name, key in RECIPES.items():
                entry[name] = float(np.nanmean([r.get(key, np.nan) for r in sel]))
            out.append(entry)
    return out


def bootstrap_mean(values):
    """Mean and 95% bootstrap interval over tables, one figure each (``bench_judges.stratified_bootstrap``)."""
    return stratified_bootstrap({i: [v] for i, v in enumerate(values)})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tie", type=float, default=0.02,
                        help="a table is a tie when the two figures are within this ARI (default 0.02, about one "
                             "training seed's scatter of a score)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--recoverable", type=float, default=None,
                        help="keep only the tables where the best of the six methods reaches this ARI")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    methods = [*SEARCHES, *RECIPES]
    tables = per_table()
    kept = "" if args.recoverable is None else \
        f" where the best of the six reaches ARI {args.recoverable} ({len(tables)} in all)"
    if args.recoverable is not None:
        tables = [t for t in tables if max(t[m] for m in methods) >= args.recoverable]
    fmt = "{:.3f} [{:.3f}, {:.3f}]".format
    lines = [f"{len(tables)} held-back tables of {len(SPLIT_FILES)} splits{kept}, each read once "
             "(mean ARI over 5 seeds per table; k = the number of classes):", "",
             "| split (code) | tables | mixed-type | " + " | ".join(methods) + " |", "|---" * (3 + len(methods)) + "|"]
    for split, (_, code) in SPLIT_FILES.items():
        sel = [t for t in tables if t["split"] == split]
        if not sel:
            continue
        lines.append(f"| {split} ({code}) | {len(sel)} | {sum(t['mixed'] for t in sel)} | "
                     + " | ".join(f"{np.mean([t[m] for t in sel]):.3f}" for m in methods) + " |")
    lines.append(f"| **all** | {len(tables)} | {sum(t['mixed'] for t in tables)} | "
                 + " | ".join(fmt(*bootstrap_mean([t[m] for t in tables])) for m in methods) + " |")

    lines += ["", f"Paired per table, default search minus recipe [95% bootstrap interval over tables]; "
              f"better / tie (within {args.tie}) / worse:", "",
              "| search | " + " | ".join(RECIPES) + " |", "|---" * (1 + len(RECIPES)) + "|"]
    paired = {}
    for search in SEARCHES:
        cells = []
        for recipe in RECIPES:
            diff = np.array([t[search] - t[recipe] for t in tables])
            point, low, high = bootstrap_mean(diff)
            counts = (int((diff > args.tie).sum()), int((np.abs(diff) <= args.tie).sum()), int((diff < -args.tie).sum()))
            paired[f"{search} - {recipe}"] = {"mean": point, "low": low, "high": high, "better_tie_worse": counts}
            cells.append(f"{point:+.3f} [{low:+.3f}, {high:+.3f}]; {counts[0]} / {counts[1]} / {counts[2]}")
        lines.append(f"| {search} | " + " | ".join(cells) + " |")

    ranking = None
    try:
        import pandas as pd
        from autorank import autorank
    except ImportError:
        lines += ["", "(autorank is not installed: pip install -e '.[bench]' for the rank test.)"]
    else:
        frame = pd.DataFrame({m: [t[m] for t in tables] for m in methods})
        with contextlib.redirect_stdout(io.StringIO()):  # autorank prints its rank table as it goes
            result = autorank(frame, alpha=args.alpha, verbose=False, order="descending")
        # order="descending": higher ARI is better and ranks 1 = best; rankdf lists the worst first.
        ranks = result.rankdf.sort_values("meanrank")
        centre = "median" if "median" in ranks.columns else "mean"  # the normal (ANOVA) path reports means
        lines += ["", f"autorank over the {len(tables)} tables: omnibus test {result.omnibus} (p = {result.pvalue:.3g}), "
                  f"post-hoc {result.posthoc}" + (f", critical difference of mean ranks {result.cd:.2f}"
                                                  if result.cd is not None else "") + ":", "",
                  f"| method | mean rank (1 = best) | {centre} ARI | tied with (not significantly different) |",
                  "|---|---|---|---|"]
        for method, row in ranks.iterrows():
            if result.cd is not None:
                tied = ", ".join(m for m in ranks.index if m != method
                                 and abs(ranks.loc[m, "meanrank"] - row["meanrank"]) < result.cd) or "none"
            else:
                tied = "-"
            lines.append(f"| {method} | {row['meanrank']:.2f} | {row[centre]:.3f} | {tied} |")
        ranking = {"omnibus": result.omnibus, "pvalue": float(result.pvalue), "posthoc": result.posthoc,
                   "cd": None if result.cd is None else float(result.cd),
                   "mean_rank": {m: float(ranks.loc[m, "meanrank"]) for m in ranks.index}}
    print_or_write(args.out, lines, {"tables": tables, "paired": paired, "ranking": ranking,
                                     "split_files": SPLIT_FILES})


if __name__ == "__main__":
    main()
