"""Issue 21's check on real customer tables: AutoSegmenter defaults end to end, as a new user runs them.

For each table (``customer_tables.py``; untouched: ids, yes/no strings, missing values and all) and each
``random_state`` it fits ``AutoSegmenter(random_state=seed)`` with every other parameter at its default and
records: the number of segments, the smallest segment's share, the largest normalised mutual information
of the segments with any single input column (every column as given, numbers by their values and, since a
cut of one number is a group-by too, by deciles) and with any two columns' combinations (a group-by
on two columns is no discovery either), the fit's wall time, and the agreement (ARI) between the
segments of consecutive seeds. The acceptance (issue 21): k >= 3, smallest share >= 2%, every NMI < 0.8,
seed ARI >= 0.8, fit < 120 s on this 2-core machine for ~7,000 rows.

In the same run, on the same rows and seeds, the classical recipes get the same measures: KMeans, PCA(8) +
KMeans and a Gaussian mixture on the table as the report's comparison sees it (standardised numbers, 0/1
categories, the same column handling) at the k AutoSegmenter chose, and KMeans with k chosen by the
silhouette on that table (2..10), the classical automatic recipe.

    python benchmarks/bench_customers.py [--tables dev|held|NAME ...] [--seeds 0 1] [--stem customers_dev]
        [--search-params '{"screening": 0.2}'] [--config '{"restatement_columns": 1}']

``--search-params`` (JSON) is passed as ``AutoSegmenter(search_params=...)``, to try a search setting on these
tables before it becomes a default; ``--config`` (JSON) runs the fits under those sknas.config settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).parent))
from customer_tables import DEVELOPMENT, HELD_BACK, describe, load  # noqa: E402
from result_files import machine_header, write_results  # noqa: E402

from sknas import AutoSegmenter  # noqa: E402
from sknas.config import config_context  # noqa: E402


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


def classical_recipes(seg, frame, seed):
    """``{recipe: labels}`` of the classical recipes on the table as the report sees it (same k as ``seg``)."""
    Xe, numeric, _ = seg._encode(frame, reset=False)
    space = seg._selection_space(Xe, numeric.shape[1])
    k = seg.n_clusters_
    rows = np.random.RandomState(seed).choice(len(space), min(len(space), 2000), replace=False)
    by_k = {c: KMeans(c, n_init=10, random_state=seed).fit(space) for c in range(2, 11)}
    silhouette_k = max(by_k, key=lambda c: silhouette_score(space[rows], by_k[c].labels_[rows]))
    same_k = by_k[k] if k in by_k else KMeans(k, n_init=10, random_state=seed).fit(space)
    return {"KMeans (same k)": same_k.labels_,
            "PCA(8) + KMeans (same k)": KMeans(k, n_init=10, random_state=seed).fit_predict(
                PCA(min(8, space.shape[1]), random_state=seed).fit_transform(space)),
            "GMM (same k)": GaussianMixture(k, reg_covar=1e-4, random_state=seed).fit(space).predict(space),
            "KMeans, k by silhouette": by_k[silhouette_k].labels_}


def largest_pair_nmi(frame, labels):
    """``(nmi, "a & b")``: the two input columns (each by value or decile) whose combinations the segments
    agree with most; every pair is tried, not only the ones sknas's own check combines."""
    import itertools

    codings = [(name, how, codes) for name in frame.columns for how, codes in column_codes(frame[name]).items()]
    best = (0.0, None)
    for (a, how_a, codes_a), (b, how_b, codes_b) in itertools.combinations(codings, 2):
        if a == b:
            continue
        nmi = float(normalized_mutual_info_score(codes_a * (codes_b.max() + 1) + codes_b, labels))
        if nmi > best[0]:
            best = (nmi, " & ".join(n if how == "value" else f"{n} (deciles)"
                                    for n, how in ((a, how_a), (b, how_b))))
    return best


def measures(frame, labels):
    nmi, column = largest_column_nmi(frame, labels)
    pair_nmi, pair = largest_pair_nmi(frame, labels)
    return {"k": int(len(np.unique(labels))), "smallest_share": float(np.bincount(labels).min() / len(labels)),
            "max_column_nmi": nmi, "closest_column": column, "max_pair_nmi": pair_nmi, "closest_pair": pair}


def run(tables, seeds, search_params=None, config=None):
    rows = []
    for name in tables:
        frame = load(name)
        previous, previous_classical = None, {}
        for seed in seeds:
            start = time.perf_counter()
            with warnings.catch_warnings(), config_context(**(config or {})):
                warnings.simplefilter("ignore")
                seg = AutoSegmenter(random_state=seed, search_params=search_params).fit(frame)
            wall = time.perf_counter() - start
            labels = seg.labels_
            row = {"table": name, "rows": len(frame), "columns": frame.shape[1], "seed": seed,
                   "recipe": "sknas AutoSegmenter (defaults)" if not search_params else
                   f"sknas AutoSegmenter (search_params={search_params})", **measures(frame, labels), "wall_s": wall,
                   "map": str(seg.search_.architecture_),
                   "seed_ari": float(adjusted_rand_score(previous, labels)) if previous is not None else None}
            previous = labels
            rows.append(row)
            print(row, flush=True)
            for recipe, recipe_labels in classical_recipes(seg, frame, seed).items():
                before = previous_classical.get(recipe)
                rows.append({"table": name, "rows": len(frame), "columns": frame.shape[1], "seed": seed,
                             "recipe": recipe, **measures(frame, recipe_labels), "wall_s": None, "map": "",
                             "seed_ari": float(adjusted_rand_score(before, recipe_labels))
                             if before is not None else None})
                previous_classical[recipe] = recipe_labels
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["dev"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--stem", default=None)
    parser.add_argument("--search-params", type=json.loads, default=None,
                        help="JSON dict passed as AutoSegmenter(search_params=...)")
    parser.add_argument("--config", type=json.loads, default=None,
                        help="JSON dict of sknas.config settings the fits run under")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tables = [t for group in args.tables for t in
              (DEVELOPMENT if group == "dev" else HELD_BACK if group == "held" else [group])]
    rows = run(tables, args.seeds, args.search_params, args.config)
    lines = [f"# AutoSegmenter defaults on real customer tables ({', '.join(tables)})", "",
             machine_header("python benchmarks/bench_customers.py " + " ".join(argv or sys.argv[1:]),
                            f"AutoSegmenter(random_state=seed, search_params={args.search_params}), every other "
                            f"parameter at its default; sknas.config settings {args.config or 'at their defaults'}"),
             "", "| table | rows x columns | seed | recipe | k | smallest share | max NMI with one column | column | "
             "max NMI with two columns | columns | ARI with previous seed | fit (s) | map |", "|" + "---|" * 13]
    for r in rows:
        ari = "" if r["seed_ari"] is None else f"{r['seed_ari']:.3f}"
        wall = "" if r["wall_s"] is None else f"{r['wall_s']:.1f}"
        lines.append(f"| {r['table']} | {r['rows']} x {r['columns']} | {r['seed']} | {r['recipe']} | {r['k']} | "
                     f"{r['smallest_share']:.3f} | {r['max_column_nmi']:.3f} | {r['closest_column']} | "
                     f"{r['max_pair_nmi']:.3f} | {r['closest_pair']} | {ari} | "
                     f"{wall} | {'`' + r['map'] + '`' if r['map'] else ''} |")
    lines += ["", "Tables: " + "; ".join(f"{t}: {describe(t)}" for t in tables)]
    write_results(args.stem or f"customers_{'_'.join(args.tables)}", lines, rows)


if __name__ == "__main__":
    main()
