"""RLFeatureSearch and BayesFeatureSearch against RandomFeatureSearch with the same number of trials.

For each dataset (digits, breast cancer, wine) and seed, the arms run one after another (interleaved
seed by seed, so machine noise hits all of them): RandomFeatureSearch, RLFeatureSearch,
BayesFeatureSearch, all with ``max_trials`` (default 30) and otherwise default settings, and, for
information, RLFeatureSearch(weight_sharing=True) (ENAS) with the same ``max_trials``. Protocol as in
bench_darts.py / bench_evolution.py: StandardScaler first, the search's embedding, KMeans(k, n_init=10) with
k = number of classes, ARI against the labels. One torch thread. Writes benchmarks/results/rl_bayes.json
and .md.

    python benchmarks/bench_rl_bayes.py [--seeds 0 1 2] [--max-trials 30] [--threads 1]
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
from bench_darts import DATASETS, run
from sklearn.preprocessing import StandardScaler

from sknas import BayesFeatureSearch, RandomFeatureSearch, RLFeatureSearch

RESULTS = Path(__file__).parent / "results"
#: name -> factory(k, seed, max_trials); the first is the baseline the others must beat.
ARMS = {
    "random": lambda k, s, t, **kw: RandomFeatureSearch(n_clusters=k, random_state=s, device="cpu", max_trials=t,
                                                        **kw),
    "rl": lambda k, s, t, **kw: RLFeatureSearch(n_clusters=k, random_state=s, device="cpu", max_trials=t, **kw),
    "bayes": lambda k, s, t, **kw: BayesFeatureSearch(n_clusters=k, random_state=s, device="cpu", max_trials=t,
                                                      **kw),
    "rl (ENAS)": lambda k, s, t, **kw: RLFeatureSearch(n_clusters=k, random_state=s, device="cpu", max_trials=t,
                                                       weight_sharing=True, **kw),
}
#: The arms the acceptance is about.
CONTENDERS = ("rl", "bayes")


def _extras(name, search):
    if name.startswith("rl"):
        return {"reward_first": search.reward_history_[0], "reward_last": search.reward_history_[-1],
                "entropy_first": search.entropy_history_[0], "entropy_last": search.entropy_history_[-1]}
    if name == "bayes":
        return {"surrogate_rank_correlation": search.surrogate_rank_correlation_}
    return {}


def table(rows, datasets, arms):
    lines = ["| dataset | method | mean ARI | std | per seed | mean search (s) | mean best score |",
             "|---|---|---|---|---|---|---|"]
    for name in datasets:
        for arm in arms:
            sel = [r for r in rows if r["dataset"] == name and r["method"] == arm]
            if not sel:
                continue
            aris = [r["ari"] for r in sel]
            lines.append(f"| {name} | {arm} | {np.mean(aris):.3f} | {np.std(aris):.3f} | "
                         f"{', '.join(f'{a:.3f}' for a in aris)} | {np.mean([r['search_s'] for r in sel]):.1f} | "
                         f"{np.mean([r['best_score'] for r in sel]):.3f} |")
    return lines


def verdicts(rows, datasets):
    out = {}
    for arm in CONTENDERS:
        wins = []
        for name in datasets:
            mine = [r["ari"] for r in rows if r["dataset"] == name and r["method"] == arm]
            base = [r["ari"] for r in rows if r["dataset"] == name and r["method"] == "random"]
            if mine and base:
                wins.append({"dataset": name, "mean_ari": float(np.mean(mine)), "random_mean_ari": float(np.mean(base)),
                             "beats_random": bool(np.mean(mine) > np.mean(base))})
        out[arm] = {"per_dataset": wins, "n_wins": sum(w["beats_random"] for w in wins),
                    "met": sum(w["beats_random"] for w in wins) >= 2}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-trials", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    parser.add_argument("--networks-only", action="store_true",
                        help="search_space={'include_identity': False} for every arm: no raw-feature or LDA map, so "
                             "the arms differ only in the networks they propose (writes rl_bayes_networks.*)")
    args = parser.parse_args()
    out = "rl_bayes_networks" if args.networks_only else "rl_bayes"
    space = {"search_space": {"include_identity": False}} if args.networks_only else {}
    torch.set_num_threads(args.threads)
    machine = (f"{platform.node()} {platform.machine()}, CPU, python {platform.python_version()}, "
               f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
               f"torch threads={args.threads}")
    meta = {"machine": machine, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "date": datetime.date.today().isoformat(), "seeds": args.seeds, "max_trials": args.max_trials}
    rows = []
    RESULTS.mkdir(exist_ok=True)
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = len(np.unique(y))
        for seed in args.seeds:
            for arm in args.arms:  # interleaved: every arm of a seed before the next seed
                search = ARMS[arm](k, seed, args.max_trials, **space)
                row = run(search, X, y, k, seed)
                row.update(dataset=name, seed=seed, method=arm, n_trials=search.n_trials_,
                           best_score=search.best_score_, **_extras(arm, search))
                rows.append(row)
                print(f"{name} seed {seed} {arm}: ARI {row['ari']:.3f}, {row['search_s']:.1f}s search, "
                      f"{row['architecture']}", flush=True)
                (RESULTS / f"{out}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    result = verdicts(rows, args.datasets)
    (RESULTS / f"{out}.json").write_text(json.dumps({**meta, "acceptance": result, "rows": rows}, indent=2))
    lines = [f"Machine: {machine}; shared with other workers while it ran, so wall times are noisy. "
             f"Date {meta['date']}. Command: `python benchmarks/{meta['command']}`. Seeds {args.seeds}; "
             f"every arm evaluates max_trials={args.max_trials} candidates; KMeans(k = true classes, n_init=10) "
             "on the transform, ARI against the labels."
             + (" Every arm with search_space={'include_identity': False}: networks only, no raw-feature or LDA "
                "map." if args.networks_only else ""), ""] + table(rows, args.datasets, args.arms) + [""]
    for arm, verdict in result.items():
        detail = ", ".join(f"{w['dataset']} {w['mean_ari']:.3f} vs {w['random_mean_ari']:.3f}"
                           for w in verdict["per_dataset"])
        lines.append(f"- {arm} beats random on {verdict['n_wins']} of {len(verdict['per_dataset'])} datasets "
                     f"({detail}): acceptance {'met' if verdict['met'] else 'NOT met'}.")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
