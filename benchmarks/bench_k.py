"""Choosing the number of segments label-free, replayed on saved candidate pools (issue 20, point 3).

For each pool of ``judge_pools.py`` (a default search's candidates on one table and seed), every rule below
picks k in ``--range`` from the pool's spaces (the encoded input rows and the candidates' embeddings of the
labelled scoring rows), then the picked candidate's embedding is segmented with KMeans at that k. Reported
per rule: how often k is within +-1 of the true number of classes, and the mean ARI of the resulting
segments against the classes (labels are used only to evaluate).

    python benchmarks/bench_k.py [--split dev|held|all] [--range 2 10] [--out k_choice_dev]
        [--config '{"restatement_columns": 1}']
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

import judge_tables
from bench_judges import POOLS, load_pools, stratified_bootstrap
from result_files import print_or_write
from sknas.autosegment import AutoSegmenter
from sknas.config import set_config
from sknas.evaluation.judge import discrete_columns
from sknas.evaluation.k_choice import PREDICTION_STRENGTH_THRESHOLD, choose_k, prediction_strength
from sknas.space.categorical import CategoricalLayout

ROWS = 1000


def _kmeans(Z, k, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(k, n_init=4, random_state=seed).fit_predict(Z)


def silhouette_k(Z, ks):
    return {k: float(silhouette_score(Z, _kmeans(Z, k))) for k in ks}


def rules(pool, ks):
    """``{rule: chosen k}`` for one pool."""
    rows = np.random.RandomState(0).permutation(len(pool["y_score"]))[:ROWS]
    X = pool["X_score"][rows].astype(np.float64)
    pick = pool["records"][pool["default_pick"]]["embedding"][rows].astype(np.float64)
    out = {}
    s = silhouette_k(X, ks)
    out["silhouette-KMeans (input)"] = max(s, key=s.get)
    s = {k: float(silhouette_score(X, _kmeans(pick, k))) for k in ks}   # AutoSegmenter until now
    out["silhouette in input of embedding's KMeans (before)"] = max(s, key=s.get)
    labelings = {k: _kmeans(pick, k) for k in ks}
    s = {k: float(silhouette_score(pick, labelings[k])) for k in ks}
    out["silhouette in embedding"] = max(s, key=s.get)
    layout = None if pool["layout"] is None else CategoricalLayout(*pool["layout"])
    columns = discrete_columns(X, layout)
    chosen, evidence = choose_k(pick, ks, labelings, columns)
    out["silhouette in embedding, admissible k (AutoSegmenter 2026-12-04)"] = chosen

    # The product's own rule, called as AutoSegmenter calls it (its clusterer, rows, seed and stability check) on
    # the picked embedding of every scoring row.
    embedding = pool["records"][pool["default_pick"]]["embedding"].astype(np.float64)
    all_columns = discrete_columns(pool["X_score"].astype(np.float64), layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["+ stable segments, two only on their own evidence (AutoSegmenter now)"] = AutoSegmenter()._choose_k(
            embedding, all_columns, ks, 0)[0]
    strength = {k: prediction_strength(pick, k) for k in ks}
    passing = [k for k in ks if strength[k] >= PREDICTION_STRENGTH_THRESHOLD]
    out["prediction strength"] = max(passing) if passing else ks[0]
    admissible = [k for k in ks if evidence[k]["admissible"]] or ks
    passing = [k for k in admissible if strength[k] >= PREDICTION_STRENGTH_THRESHOLD]
    out["prediction strength, admissible k"] = max(passing) if passing else max(admissible, key=strength.get)
    rank_s = rankdata([evidence[k]["silhouette"] for k in admissible])
    rank_p = rankdata([strength[k] for k in admissible])
    out["silhouette + prediction strength ranks, admissible k"] = admissible[int(np.argmax(rank_s + rank_p))]
    return out, pick


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=Path, default=POOLS)
    parser.add_argument("--split", choices=tuple(judge_tables.SPLITS), default="dev")
    parser.add_argument("--search", default="random")
    parser.add_argument("--range", type=int, nargs=2, default=(2, 10))
    parser.add_argument("--config", type=json.loads, default=None,
                        help='JSON dict of sknas.config settings for the replay, e.g. \'{"restatement_columns": 1}\'')
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    set_config(**(args.config or {}))
    tables = judge_tables.SPLITS[args.split]
    ks = list(range(args.range[0], args.range[1] + 1))
    results = []
    for pool in load_pools(args.pools, tables, args.search):
        chosen, pick = rules(pool, ks)
        y = pool["y_score"][np.random.RandomState(0).permutation(len(pool["y_score"]))[:ROWS]]
        for rule, k in chosen.items():
            results.append({"table": pool["table"], "seed": pool["seed"], "rule": rule, "k": int(k),
                            "true_k": pool["k"], "within_1": abs(int(k) - pool["k"]) <= 1,
                            "ari": float(adjusted_rand_score(y, _kmeans(pick, int(k))))})
    rule_names = list(dict.fromkeys(r["rule"] for r in results))
    lines = [f"k chosen in {ks[0]}..{ks[-1]} on {len({(r['table'], r['seed']) for r in results})} pools "
             f"({args.search} search, split {args.split}); means over tables, [95% stratified bootstrap]", "",
             "| rule | tables with k within +-1 (mean over seeds) | ARI at the chosen k |", "|---|---|---|"]
    for rule in rule_names:
        cells = []
        for key in ("within_1", "ari"):
            by_table = {}
            for r in results:
                if r["rule"] == rule:
                    by_table.setdefault(r["table"], []).append(float(r[key]))
            cells.append(stratified_bootstrap(by_table))
        n_tables = len(by_table)
        lines.append(f"| {rule} | {cells[0][0] * n_tables:.1f} of {n_tables} [{cells[0][1] * n_tables:.1f}, "
                     f"{cells[0][2] * n_tables:.1f}] | {cells[1][0]:.3f} [{cells[1][1]:.3f}, {cells[1][2]:.3f}] |")
    lines += ["", "Chosen k per table (seeds in order) and the true k:", "",
              "| table | true k | " + " | ".join(rule_names) + " |", "|---" * (len(rule_names) + 2) + "|"]
    for table in dict.fromkeys(r["table"] for r in results):
        sel = [r for r in results if r["table"] == table]
        lines.append(f"| {table} | {sel[0]['true_k']} | " + " | ".join(
            ",".join(str(r["k"]) for r in sel if r["rule"] == rule) for rule in rule_names) + " |")
    print_or_write(args.out, lines, {"rows": results})


if __name__ == "__main__":
    main()
