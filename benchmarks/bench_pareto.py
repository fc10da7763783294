"""ParetoFeatureSearch against RandomFeatureSearch at the same search wall time, and knee against best quality.

For each dataset (digits, breast cancer, wine; StandardScaler first, k = number of classes) and seed:

1. ParetoFeatureSearch with default settings (objectives score and params, select="knee").
2. RandomFeatureSearch with ``max_time`` = Pareto's measured ``search_time_`` (max_trials=1000), right after,
   so machine noise hits both arms of a seed alike.
3. Hypervolume of each search's (score, params) front, on one normalisation per dataset and seed: the
   union of both searches' valid candidates gives each objective's range (score, and log10(1 + params)),
   both scaled to [0, 1] on it, reference point 1.1 in each (``sknas.search.pareto.front_hypervolume``).
4. The knee and the best-quality point of Pareto's front, each retrained on all rows as a NeuralFeatureMap
   with the same seed: params and CPU latency (ms per 1,000 rows, median of 7 after 2 warm-up passes) of the
   trained networks, and ARI of KMeans(k, n_init=10) on each transform.

Writes benchmarks/results/pareto.json and .md.

    python benchmarks/bench_pareto.py [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn
import torch
from bench_darts import DATASETS
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from sknas import NeuralFeatureMap, ParetoFeatureSearch, RandomFeatureSearch
from sknas.search.pareto import distinct_valid, front_hypervolume, objective_matrix

RESULTS = Path(__file__).parent / "results"
OBJECTIVES = ("score", "params")


def retrained(architecture, X, y, k, seed, n_components):
    """Train ``architecture`` on all rows; its params, CPU latency and KMeans ARI."""
    net = NeuralFeatureMap(architecture, n_components=n_components, n_clusters=k, random_state=seed,
                           device="cpu").fit(X)
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(net.transform(X))
    return {"architecture": str(architecture), "params": net.efficiency_["params"],
            "latency_ms": net.efficiency_["latency_ms_per_1000_rows"], "ari": adjusted_rand_score(y, labels)}


def compare(name, X, y, seed):
    k = len(np.unique(y))
    pareto = ParetoFeatureSearch(n_clusters=k, random_state=seed, device="cpu").fit(X)
    rnd = RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_trials=1000,
                              max_time=pareto.search_time_).fit(X)
    union = distinct_valid(pareto.search_history_ + rnd.search_history_)
    F = objective_matrix(union, OBJECTIVES)
    lower, upper = F.min(axis=0), F.max(axis=0)
    knee = next(r for r in pareto.pareto_front_ if r["architecture"] == pareto.architecture_)
    best = pareto.pareto_front_[0]
    row = {
        "dataset": name, "seed": seed, "k": k,
        "pareto_hv": front_hypervolume(pareto.search_history_, OBJECTIVES, lower, upper),
        "random_hv": front_hypervolume(rnd.search_history_, OBJECTIVES, lower, upper),
        "pareto_search_s": pareto.search_time_, "random_search_s": rnd.search_time_,
        "pareto_trials": pareto.n_trials_, "random_trials": rnd.n_trials_,
        "pareto_front_size": len(pareto.pareto_front_), "random_front_size": len(rnd.pareto_front_),
        "hypervolume_history": pareto.hypervolume_history_,
        "knee_score": knee["score"], "best_score": best["score"],
        "knee": retrained(knee["architecture"], X, y, k, seed, pareto.n_components),
        "best_quality": retrained(best["architecture"], X, y, k, seed, pareto.n_components),
    }
    return row


def _md(architecture):
    return "`" + architecture.replace("|", "\\|") + "`"  # a block separator must not split the table cell


def _ratio(best, knee):
    if knee == 0:
        return 1.0 if best == 0 else float("inf")
    return best / knee


def _fmt_ratio(value):
    return "inf (0)" if np.isinf(value) else f"{value:.1f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--report-only", action="store_true", help="rewrite pareto.md from pareto.json")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS / "pareto.json").read_text())
        write_markdown(saved["rows"], saved["machine"], saved["command"], saved["date"], saved["seeds"])
        return
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        for seed in args.seeds:
            row = compare(name, X, y, seed)
            rows.append(row)
            print(f"{name} seed {seed}: HV pareto {row['pareto_hv']:.3f} ({row['pareto_trials']} trials, "
                  f"{row['pareto_search_s']:.1f}s) random {row['random_hv']:.3f} ({row['random_trials']} trials, "
                  f"{row['random_search_s']:.1f}s); knee {row['knee']['architecture']} ARI {row['knee']['ari']:.3f} "
                  f"vs best {row['best_quality']['architecture']} ARI {row['best_quality']['ari']:.3f}", flush=True)
    machine = (f"{platform.node()} {platform.machine()}, CPU only, shared with other jobs; torch {torch.__version__}, "
               f"scikit-learn {sklearn.__version__}, Python {platform.python_version()}, threads={args.threads}")
    command = "python " + " ".join(sys.argv)
    date = datetime.date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pareto.json").write_text(json.dumps(
        {"machine": machine, "command": command, "date": date, "seeds": args.seeds, "rows": rows}, indent=2))
    write_markdown(rows, machine, command, date, args.seeds)


def write_markdown(rows, machine, command, date, seeds):
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [f"Machine: {machine}. Date {date}. Command: `{command}`. Seeds {seeds}.", "",
             ("Hypervolume of the (score, params) front, normalised per dataset and seed on the union of both "
             "searches' valid candidates (score and log10(1 + params) scaled to [0, 1], reference 1.1); random "
             "search ran right after Pareto with max_time = Pareto's search time."), "",
             ("| dataset | seed | HV pareto | HV random | pareto wins | search s (pareto / random) "
             "| trials (pareto / random) |"), "|---|---|---|---|---|---|---|"]
    wins = {}
    for r in rows:
        win = r["pareto_hv"] > r["random_hv"]
        wins.setdefault(r["dataset"], []).append(win)
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['pareto_hv']:.3f} | {r['random_hv']:.3f} | "
                     f"{'yes' if win else 'no'} | {r['pareto_search_s']:.1f} / {r['random_search_s']:.1f} | "
                     f"{r['pareto_trials']} / {r['random_trials']} |")
    lines += ["", "| dataset | mean HV pareto | mean HV random | seeds won by pareto |", "|---|---|---|---|"]
    for name in datasets:
        sel = [r for r in rows if r["dataset"] == name]
        lines.append(f"| {name} | {np.mean([r['pareto_hv'] for r in sel]):.3f} | "
                     f"{np.mean([r['random_hv'] for r in sel]):.3f} | {sum(wins[name])}/{len(sel)} |")
    lines += ["", ("Knee (the default choice) against the best-quality point of the same front, both retrained "
              "on all rows (NeuralFeatureMap, same seed); x cheaper = best / knee; ARI of KMeans(k) on each "
              "transform."), "",
              ("| dataset | seed | knee | best quality | params x cheaper | latency x cheaper | ARI knee | ARI best "
              "| ARI loss |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        knee, best = r["knee"], r["best_quality"]
        lines.append(f"| {r['dataset']} | {r['seed']} | {_md(knee['architecture'])} | {_md(best['architecture'])} | "
                     f"{_fmt_ratio(_ratio(best['params'], knee['params']))} | "
                     f"{_fmt_ratio(_ratio(best['latency_ms'], knee['latency_ms']))} | {knee['ari']:.3f} | "
                     f"{best['ari']:.3f} | {best['ari'] - knee['ari']:+.3f} |")
    lines += ["", ("| dataset | median params x cheaper | median latency x cheaper | mean ARI knee | mean ARI best "
              "| mean ARI loss |"), "|---|---|---|---|---|---|"]
    for name in datasets:
        sel = [r for r in rows if r["dataset"] == name]
        params = np.median([_ratio(r["best_quality"]["params"], r["knee"]["params"]) for r in sel])
        latency = np.median([_ratio(r["best_quality"]["latency_ms"], r["knee"]["latency_ms"]) for r in sel])
        ari_knee = np.mean([r["knee"]["ari"] for r in sel])
        ari_best = np.mean([r["best_quality"]["ari"] for r in sel])
        lines.append(f"| {name} | {_fmt_ratio(params)} | {_fmt_ratio(latency)} | {ari_knee:.3f} | {ari_best:.3f} | "
                     f"{ari_best - ari_knee:+.3f} |")
    notes = RESULTS / "pareto_notes.md"  # hand-written reading of the figures, kept across reruns
    text = "\n".join(lines) + "\n" + ("\n" + notes.read_text() if notes.exists() else "")
    (RESULTS / "pareto.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
