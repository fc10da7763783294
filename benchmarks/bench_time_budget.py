"""How well every estimator keeps ``time_budget=`` (issue 22): measured fit seconds / budget.

For each table (a 2,000-row ``make_customers`` table and digits), budget and estimator (every search class at its
defaults, ``NeuralFeatureMap`` and ``AutoSegmenter``), one ``fit(X)`` with ``time_budget=budget`` is timed
from outside; the row records that ratio, what ``time_budget_`` says (search seconds, whether the budget stopped
the search, candidates cut, the final network's epochs trained / planned) and whether it warned
(``TimeBudgetWarning``: the budget was below the minimal work). Defaults would take longer than the budgets
(10-40 trials; digits' candidates take 2-9 s each). sknas is warmed up first (torch's first optimizer step
imports its compiler stack), torch runs with one thread.

    python benchmarks/bench_time_budget.py [--budgets 2 5 15] [--tables customers digits] [--out time_budget]

Writes ``benchmarks/results/<out>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch
from sklearn.datasets import load_digits

import sknas
from sknas.datasets import make_customers
from sknas.training.deadline import TimeBudgetWarning

from result_files import machine_header, write_results

ESTIMATORS = {
    "random": sknas.RandomFeatureSearch, "darts": sknas.DARTSFeatureSearch, "evo": sknas.EvoFeatureSearch,
    "pareto": sknas.ParetoFeatureSearch, "progressive": sknas.ProgressiveFeatureSearch, "rl": sknas.RLFeatureSearch,
    "bayes": sknas.BayesFeatureSearch, "optuna": sknas.OptunaFeatureSearch, "map": sknas.NeuralFeatureMap,
    "auto": sknas.AutoSegmenter,
}


def tables(names):
    out = {}
    if "customers" in names:
        out["customers"] = make_customers(n_samples=2000, random_state=0, return_X_y=True)[0]
    if "digits" in names:
        out["digits"] = load_digits().data
    return out


def run_one(name, X, budget, seed):
    params = {"random_state": seed, "device": "cpu", "time_budget": budget}
    if name != "auto":
        params["n_clusters"] = 10 if len(X) == 1797 else 8
    estimator = ESTIMATORS[name](**params)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X)
    seconds = time.perf_counter() - start
    summary = estimator.time_budget_
    search = getattr(estimator, "search_", estimator)
    inner = search.time_budget_
    return {
        "estimator": name, "budget": budget, "seconds": seconds, "ratio": seconds / budget,
        "within_1.1": seconds <= 1.1 * budget, "warned": any(w.category is TimeBudgetWarning for w in caught),
        "search_seconds": inner.get("search_seconds"), "stopped_by_budget": inner.get("search_stopped_by_budget"),
        "n_candidates": len(getattr(search, "search_history_", [])), "n_time_limited": inner.get("n_time_limited"),
        "final_epochs": inner["final_epochs"], "final_epochs_planned": inner["final_epochs_planned"],
        "k_choice_seconds": summary.get("k_choice_seconds"), "k_choice_estimate": summary.get("k_choice_estimate"),
        "architecture": str(search.architecture_),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[2.0, 5.0, 15.0])
    parser.add_argument("--tables", nargs="+", default=["customers", "digits"])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=list(ESTIMATORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="time_budget")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = tables(args.tables)
    sknas.RandomFeatureSearch(max_trials=3, max_epochs=2, random_state=0, device="cpu").fit(data[args.tables[0]][:300])
    rows = []
    for table, X in data.items():
        for budget in args.budgets:
            for name in args.estimators:
                row = {"table": table, **run_one(name, X, budget, args.seed)}
                rows.append(row)
                print(f"{table:10s} {name:12s} budget {budget:5.1f} s: {row['seconds']:6.2f} s "
                      f"(ratio {row['ratio']:.2f}){' warned' if row['warned'] else ''}", flush=True)
    command = "python benchmarks/bench_time_budget.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# time_budget: measured fit seconds / budget", "",
        machine_header(command.strip(), "Two cores shared with another engineer's benchmarks running at the same "
                       "time, so single figures are noisy"), "",
        "One fit per row, timed from outside `fit`, every estimator at its defaults but `time_budget` (and "
        "`n_clusters`: 8 on customers, 10 on digits). `warned`: a `TimeBudgetWarning`, the budget was below the "
        "minimal work. `final`: the final network's epochs trained / planned (0/0: a fixed map won).", "",
        "| table | budget (s) | estimator | fit (s) | ratio | <= 1.1 | warned | search (s) | stopped | candidates "
        "| cut | final | chosen |",
        "|---|---:|---|---:|---:|---|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        search = "" if r["search_seconds"] is None else f"{r['search_seconds']:.2f}"
        lines.append(f"| {r['table']} | {r['budget']:g} | {r['estimator']} | {r['seconds']:.2f} | {r['ratio']:.2f} "
                     f"| {'yes' if r['within_1.1'] else 'no'} | {'yes' if r['warned'] else ''} | {search} "
                     f"| {r['stopped_by_budget'] or ''} | {r['n_candidates']} | {r['n_time_limited'] or 0} "
                     f"| {r['final_epochs']}/{r['final_epochs_planned']} | `{r['architecture'][:40]}` |")
    lines += ["", "## Summary", "", "| budget (s) | fits | within 1.1 x | warned | median ratio | max ratio |",
              "|---:|---:|---:|---:|---:|---:|"]
    for budget in args.budgets:
        these = [r for r in rows if r["budget"] == budget]
        ratios = [r["ratio"] for r in these]
        lines.append(f"| {budget:g} | {len(these)} | {sum(r['within_1.1'] for r in these)} | "
                     f"{sum(r['warned'] for r in these)} | {statistics.median(ratios):.2f} | {max(ratios):.2f} |")
    unwarned = [r["ratio"] for r in rows if not r["warned"]]
    if unwarned:
        lines += ["", f"Fits that did not warn (the budget covered the minimal work): {len(unwarned)}, max ratio "
                  f"{max(unwarned):.2f}, within 1.1 x: {sum(x <= 1.1 for x in unwarned)}."]
    write_results(args.out, lines, rows)


if __name__ == "__main__":
    main()
