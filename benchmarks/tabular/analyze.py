"""Regret of every replayed strategy, with intervals, next to random (issue 25): results/strategies.*.

Reads ``data/tabular.json.gz`` and ``data/replay.json.gz``. After ``b`` evaluations a run's pick is the
member with the best label-free score among those it evaluated (what the search would keep). Per run:

- normalised score regret ``(best - found) / (best - mean)`` of the label-free score the strategies
  optimise: 0 is the table's best architecture, 1 the average candidate (below 1: better than average);
- ARI regret ``max ARI - ARI(pick)``: against the architecture of the table with the best ARI;
- ARI gain over the average candidate ``ARI(pick) - mean ARI``.

Intervals are 95% stratified bootstrap intervals (2,000 resamples; seeds resampled within each table, the
tables kept, as rliable's stratified bootstrap). A strategy is better (worse) than random at a budget when
the interval of its mean normalised score regret minus random's lies below (above) zero; else a tie.

    python benchmarks/tabular/analyze.py
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import precompute  # noqa: E402
from replay import REPLAY  # noqa: E402
from result_files import RESULTS, machine_header, write_results  # noqa: E402

BUDGETS = (10, 20, 30, 50, 75, 100, 150, 200)
HEADLINE = 50
N_BOOT = 2000


def table_stats(table):
    valid = np.asarray(table["valid"])[:, 0]
    score = np.where(valid, np.asarray(table["score"], dtype=float)[:, 0], np.nan)
    ari = np.where(valid, np.asarray(table["ari"], dtype=float)[:, 0], np.nan)
    return score, ari


def run_curves(order, score, ari, budgets):
    """Per budget: (normalised score regret, ARI regret, ARI gain over the average) of a run's pick."""
    best_s, mean_s = np.nanmax(score), np.nanmean(score)
    best_a, mean_a = np.nanmax(ari), np.nanmean(ari)
    out = []
    for b in budgets:
        seen = [i for i in order[:b] if not math.isnan(score[i])]
        if not seen:  # nothing valid yet: the worst valid member stands in
            pick_s, pick_a = np.nanmin(score), np.nanmin(ari)
        else:
            pick = max(seen, key=lambda i: score[i])
            pick_s, pick_a = score[pick], ari[pick]
        out.append(((best_s - pick_s) / (best_s - mean_s), best_a - pick_a, pick_a - mean_a))
    return np.array(out)  # (budgets, 3)


def stratified_boot(values_by_table, stat, rng, n=N_BOOT):
    """95% interval of ``stat`` over all runs, seeds resampled within each table."""
    draws = []
    for _ in range(n):
        sample = np.concatenate([v[rng.randint(len(v), size=len(v))] for v in values_by_table])
        draws.append(stat(sample))
    return np.percentile(draws, [2.5, 97.5])


def diff_boot(a_by_table, b_by_table, rng, n=N_BOOT):
    """95% interval of mean(a) - mean(b), each resampled within tables independently."""
    draws = []
    for _ in range(n):
        a = np.concatenate([v[rng.randint(len(v), size=len(v))] for v in a_by_table])
        b = np.concatenate([v[rng.randint(len(v), size=len(v))] for v in b_by_table])
        draws.append(a.mean() - b.mean())
    return np.percentile(draws, [2.5, 97.5])


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replay", type=Path, default=REPLAY)
    parser.add_argument("--stem", default="strategies")
    args = parser.parse_args()
    data = precompute.load_data()
    with gzip.open(args.replay, "rt") as fh:
        replay = json.load(fh)
    tables = [name for name in data["tables"] if any(k.endswith("|" + name) for k in replay["runs"])]
    stats = {name: table_stats(data["tables"][name]) for name in tables}
    strategies = list(dict.fromkeys(key.split("|")[0] for key in replay["runs"]))
    caps = replay.get("budgets", {})
    rng = np.random.RandomState(0)

    # curves[strategy][table] = array (runs, budgets, 3)
    curves, evaluations, distinct50 = {}, {}, {}
    for s in strategies:
        curves[s] = {}
        for name in tables:
            runs = replay["runs"].get(f"{s}|{name}", {})
            orders = [runs[k] for k in sorted(runs, key=int)]
            curves[s][name] = np.array([run_curves(o, *stats[name], BUDGETS) for o in orders])
            evaluations.setdefault(s, []).extend(len(o) for o in orders)
            distinct50.setdefault(s, []).extend(len(set(o[:HEADLINE])) for o in orders)

    def by_table(s, b_index, metric):
        return [curves[s][name][:, b_index, metric] for name in tables if len(curves[s][name])]

    def reaches(s, b):
        return b <= caps.get(s, replay["budget"])

    rows, lines = [], []
    h = BUDGETS.index(HEADLINE)
    for s in strategies:
        row = {"strategy": s, "budget_cap": caps.get(s, replay["budget"]),
               "runs": int(sum(len(curves[s][n]) for n in tables)),
               "evaluations_median": float(np.median(evaluations[s])),
               "distinct_in_first_50_median": float(np.median(distinct50[s])), "budgets": {}}
        for bi, b in enumerate(BUDGETS):
            if not reaches(s, b):
                continue
            entry = {}
            for metric, name in enumerate(("norm_score_regret", "ari_regret", "ari_gain_over_average")):
                v = by_table(s, bi, metric)
                flat = np.concatenate(v)
                lo, hi = stratified_boot(v, np.median, rng)
                entry[name] = {"median": float(np.median(flat)), "ci95": [float(lo), float(hi)],
                               "mean": float(flat.mean())}
            if s != "random":
                for metric, name in ((0, "norm_score_regret"), (1, "ari_regret")):
                    lo, hi = diff_boot(by_table(s, bi, metric), by_table("random", bi, metric), rng)
                    diff = float(np.concatenate(by_table(s, bi, metric)).mean()
                                 - np.concatenate(by_table("random", bi, metric)).mean())
                    entry[f"{name}_minus_random"] = {
                        "mean": diff, "ci95": [float(lo), float(hi)],
                        "verdict": "better" if hi < 0 else "worse" if lo > 0 else "tie"}
            row["budgets"][str(b)] = entry
        rows.append(row)

    described = []
    for name in tables:
        score, ari = stats[name]
        ok = ~np.isnan(score)
        tau = kendalltau(score[ok], ari[ok]).statistic
        t = data["tables"][name]
        described.append({"table": name, "rows": t["n_rows"], "columns": t["n_features"], "k": t["k"],
                          "valid": int(ok.sum()), "best_score": float(np.nanmax(score)),
                          "mean_score": float(np.nanmean(score)), "max_ari": float(np.nanmax(ari)),
                          "mean_ari": float(np.nanmean(ari)), "ari_of_best_score": float(ari[np.nanargmax(score)]),
                          "tau_score_ari": float(tau), "precompute_s": float(t["wall_s"])})

    def fmt(e):
        return f"{e['median']:.3f} [{e['ci95'][0]:.3f}, {e['ci95'][1]:.3f}]"

    def fmt_diff(e):
        return f"{e['mean']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}] {e['verdict']}"

    total_s = sum(d["precompute_s"] for d in described)
    lines += [
        "# Search strategies on the tabulated benchmark (issue 25)",
        "",
        machine_header("python benchmarks/tabular/replay.py && python benchmarks/tabular/analyze.py",
                       f"Table: {len(data['architectures'])} architectures of the default space (fixed maps "
                       f"excluded) x {len(tables)} labelled tables x seed 0, <= {data['rows']} rows a table, "
                       f"max_epochs={data['max_epochs']}, precomputed in {total_s / 60:.0f} min of one core "
                       "(benchmarks/tabular/README.md)"),
        "",
        f"Each strategy is the package's own estimator replayed against the table ({len(tables)} tables x "
        f"{max(len(curves['random'][n]) for n in tables)} seeds; no training). After b evaluations a run keeps "
        "the member with the best label-free score it has seen. **Normalised score regret**: (table's best score "
        "- kept score) / (best - average candidate's): 0 = the table's best architecture, 1 = the average "
        "candidate. **ARI regret**: the table's best ARI - the kept member's ARI (labels used only here). "
        "Medians with 95% stratified bootstrap intervals (seeds resampled within tables); *vs random*: mean "
        "difference to random with its 95% interval, *better*/*worse* when the interval excludes 0, else *tie*.",
        "",
        f"## At {HEADLINE} evaluations",
        "",
        "| strategy | normalised score regret, median [95% CI] | minus random (mean) | ARI regret, median [95% CI] "
        "| minus random (mean) | ARI gain over the average candidate | distinct members in 50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        e = row["budgets"].get(str(HEADLINE))
        if e is None:
            continue
        lines.append(f"| {row['strategy']} | {fmt(e['norm_score_regret'])} | "
                     f"{fmt_diff(e['norm_score_regret_minus_random']) if 'norm_score_regret_minus_random' in e else '-'}"
                     f" | {fmt(e['ari_regret'])} | "
                     f"{fmt_diff(e['ari_regret_minus_random']) if 'ari_regret_minus_random' in e else '-'} | "
                     f"{fmt(e['ari_gain_over_average'])} | {row['distinct_in_first_50_median']:.0f} |")
    lines += ["", "Reading: every strategy's median at 50 evaluations lies within random's interval or next to it; "
              "no strategy's ARI regret differs from random's at 50 (the label-free score agrees only loosely "
              "with ARI across architectures: Kendall tau +0.09 to +0.44 per table, below). Progressive search "
              "stops at its depth limit after 22-35 evaluations, and the table is sparse in its expansions. "
              "Some TPE and CMA-ES runs ended before their budget (fewest evaluations: see the JSON's "
              "`evaluations_median`): the study repeated architectures it had already tried, which the search "
              "loop's cache answers and `max_trials` (4 x the budget) counts; their last pick is carried forward.",
              "", "## Against random at every budget (normalised score regret; ARI regret)", "",
              "| strategy | " + " | ".join(str(b) for b in BUDGETS) + " |",
              "|---|" + "---|" * len(BUDGETS)]
    for row in rows:
        if row["strategy"] == "random":
            continue
        cells = []
        for b in BUDGETS:
            e = row["budgets"].get(str(b))
            cells.append("-" if e is None else f"{e['norm_score_regret_minus_random']['verdict']}; "
                                                f"{e['ari_regret_minus_random']['verdict']}")
        lines.append(f"| {row['strategy']} (to {row['budget_cap']}) | " + " | ".join(cells) + " |")
    lines += ["", "## Median normalised score regret by budget", "",
              "| strategy | " + " | ".join(str(b) for b in BUDGETS) + " |", "|---|" + "---|" * len(BUDGETS)]
    for row in rows:
        lines.append(f"| {row['strategy']} | " + " | ".join(
            f"{row['budgets'][str(b)]['norm_score_regret']['median']:.3f}" if str(b) in row["budgets"] else "-"
            for b in BUDGETS) + " |")
    lines += ["", "## The tables", "",
              "| table | rows x columns | k | valid members | best / mean score | max / mean ARI | "
              "ARI of the best-score member | Kendall tau (score, ARI) | precompute s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for d in described:
        lines.append(f"| {d['table']} | {d['rows']} x {d['columns']} | {d['k']} | {d['valid']} | "
                     f"{d['best_score']:.3f} / {d['mean_score']:.3f} | {d['max_ari']:.3f} / {d['mean_ari']:.3f} | "
                     f"{d['ari_of_best_score']:.3f} | {d['tau_score_ari']:+.2f} | {d['precompute_s']:.0f} |")
    lines += ["", f"![anytime regret]({args.stem}.png)", ""]
    write_results(args.stem, lines, {"strategies": rows, "tables": described, "budgets": list(BUDGETS)})
    plot(strategies, curves, tables, caps, replay["budget"], args.stem)


def plot(strategies, curves, tables, caps, budget, stem):
    import matplotlib

    matplotlib.use("Agg")  # a script, not the library: no display here
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in strategies:
        cap = caps.get(s, budget)
        bs = [b for b in BUDGETS if b <= cap]
        for ax, metric in zip(axes, (0, 1)):
            med = [np.median(np.concatenate([curves[s][n][:, BUDGETS.index(b), metric] for n in tables]))
                   for b in bs]
            ax.plot(bs, med, marker="o", ms=3, lw=2.5 if s == "random" else 1.3,
                    color="black" if s == "random" else None, label=s)
    axes[0].set_ylabel("median normalised score regret (0 best, 1 average)")
    axes[1].set_ylabel("median ARI regret")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(BUDGETS)
        ax.set_xticklabels([str(b) for b in BUDGETS])
        ax.set_xlabel("evaluations")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Strategies replayed on the tabulated benchmark ({len(tables)} tables x {max(len(curves[strategies[0]][n]) for n in tables)} seeds)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=110)


if __name__ == "__main__":
    main()
