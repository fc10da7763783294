"""ProgressiveFeatureSearch against RandomFeatureSearch given the same search wall time.

For each dataset (digits, breast cancer, wine) and seed, interleaved so the shared machine's noise hits
both arms: ProgressiveFeatureSearch with default settings (``prescreen`` off), with ``prescreen=True``,
then RandomFeatureSearch with ``max_time`` = the default progressive search's measured search time
(StandardScaler first, KMeans(k) on the embedding, k = number of classes).  Also reports the
computational savings against exhaustive expansion to the same depth, the surrogate's Kendall tau with
the measured scores, and the zero-cost (NASWOT) score's Kendall tau with the fully trained score.
Writes benchmarks/results/progressive.json and .md.

    python benchmarks/bench_progressive.py [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn
import torch
from bench_darts import DATASETS, run
from sklearn.preprocessing import StandardScaler

from sknas import ProgressiveFeatureSearch, RandomFeatureSearch

RESULTS = Path(__file__).parent / "results"
ARMS = ("progressive (default)", "progressive (prescreen)", "random (same search time)")


def _progressive_row(search, X, y, k, seed, method):
    row = run(search, X, y, k, seed)
    savings = search.computational_savings_
    steps = search.step_history_
    row.update(method=method, n_trials=search.n_trials_, n_steps=len(steps), stop=search.stop_reason_,
               full_training_ratio=savings["full_training_ratio"], row_epoch_ratio=savings["row_epoch_ratio"],
               n_full_trainings=savings["n_full_trainings"], n_expansions=savings["n_expansions"],
               prescreen_tau=search.prescreen_tau_,
               surrogate_tau=_nanmean([s["surrogate_tau"] for s in steps[1:]]),
               surrogate_tau_full=_nanmean([s["surrogate_tau_full"] for s in steps[1:]]),
               steps=[{k: v for k, v in s.items()} for s in steps])
    return row


def _nanmean(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _fmt(value):
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--networks-only", action="store_true",
                        help="search_space={'include_identity': False} for every arm: no raw-feature or LDA map, so "
                             "the arms differ only in the networks they propose (writes progressive_networks.*)")
    args = parser.parse_args()
    out = "progressive_networks" if args.networks_only else "progressive"
    space = {"search_space": {"include_identity": False}} if args.networks_only else {}
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = len(np.unique(y))
        for seed in args.seeds:
            prog = ProgressiveFeatureSearch(n_clusters=k, random_state=seed, device="cpu", **space)
            rows.append({"dataset": name, "seed": seed, **_progressive_row(prog, X, y, k, seed, ARMS[0])})
            screened = ProgressiveFeatureSearch(n_clusters=k, random_state=seed, device="cpu", prescreen=True,
                                                **space)
            rows.append({"dataset": name, "seed": seed, **_progressive_row(screened, X, y, k, seed, ARMS[1])})
            rnd = RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_trials=1000,
                                      max_time=prog.search_time_, **space)
            row = run(rnd, X, y, k, seed)
            row.update(dataset=name, seed=seed, method=ARMS[2], n_trials=rnd.n_trials_)
            rows.append(row)
            p, s, r = rows[-3:]
            print(f"{name} seed {seed}: progressive ARI {p['ari']:.3f} ({p['n_trials']} evals, {p['search_s']:.1f}s "
                  f"search, {p['n_full_trainings']} full, ratio {p['full_training_ratio']:.0f}x, tau prescreen "
                  f"{_fmt(p['prescreen_tau'])})  prescreen ARI {s['ari']:.3f}  random ARI {r['ari']:.3f} "
                  f"({r['n_trials']} trials, {r['search_s']:.1f}s)", flush=True)
    machine = (f"{platform.node()} {platform.machine()}, CPU only, torch {torch.__version__}, "
               f"scikit-learn {sklearn.__version__}, Python {platform.python_version()}, threads={args.threads}; "
               "shared with three other workers (noisy)")
    meta = {"machine": machine, "command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "seeds": args.seeds}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str))
    lines = [f"Machine: {machine}.", f"Command: `{meta['command']}`; date {meta['date']}; seeds {args.seeds}; "
             "mean over seeds; arms interleaved seed by seed."
             + (" Every arm with search_space={'include_identity': False}: networks only, no raw-feature or LDA "
                "map." if args.networks_only else ""), "",
             "| dataset | method | mean ARI | mean search (s) | mean evaluations | full trainings | "
             "exhaustive / full trainings | exhaustive / row-epochs | surrogate tau (rung 0) | "
             "surrogate tau (full) | prescreen tau (full) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        for method in ARMS:
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method]
            cells = [f"{np.mean([r['ari'] for r in sel]):.3f}", f"{np.mean([r['search_s'] for r in sel]):.1f}",
                     f"{np.mean([r['n_trials'] for r in sel]):.1f}"]
            if method.startswith("progressive"):
                cells += [f"{np.mean([r['n_full_trainings'] for r in sel]):.1f}",
                          f"{np.mean([r['full_training_ratio'] for r in sel]):.0f}x",
                          f"{np.mean([r['row_epoch_ratio'] for r in sel]):.0f}x",
                          _fmt(_nanmean([r["surrogate_tau"] for r in sel])),
                          _fmt(_nanmean([r["surrogate_tau_full"] for r in sel])),
                          _fmt(_nanmean([r["prescreen_tau"] for r in sel]))]
            else:
                cells += ["-"] * 6
            lines.append(f"| {name} | {method} | " + " | ".join(cells) + " |")
    taus = [r["prescreen_tau"] for r in rows if r["method"] == ARMS[0]]
    lines += ["", f"Zero-cost (NASWOT) Kendall tau with the fully trained score, all datasets and seeds of the "
              f"default arm: mean {_fmt(_nanmean(taus))} (per run: {', '.join(_fmt(t) for t in taus)})."]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
