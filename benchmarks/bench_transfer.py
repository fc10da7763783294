"""Transfer effectiveness (issue 10): a search warm-started from an earlier search vs a cold one.

For each source -> target pair and seed: a RandomFeatureSearch on the source data (the "earlier
search"), then on the target data a cold search and a search with ``init=<the fitted source
search>``, same settings and seed, run one after the other (interleaved per seed, so the shared
machine's noise hits both). Reported per run:

- ``cold_best``: the cold search's final label-free score (``best_score_``, the default
  ``scoring="auto"`` = silhouette+separability on the target's validation split; both target searches
  draw the same split from the same seed, so their scores compare);
- trials / candidate seconds the cold search needed to reach its own final score, and the warm search
  to reach that same score (``inf``: never reached in its budget);
- the final ARI of KMeans(k) on each embedding against the known labels (k = number of classes).

Acceptance (issue 10): the warm search reaches the cold search's final score in at most half the trials
or wall time on at least two pairs. Judged on the median over seeds of warm/cold trials to reach.

    python benchmarks/bench_transfer.py [--seeds 0 1 2] [--max-trials 12] [--max-epochs 20]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import sknas
from sknas import RandomFeatureSearch
from sknas.datasets import make_customers

RESULTS = Path(__file__).parent / "results"


def _halves(loader, seed):
    """A labelled dataset split at random into two halves (source, target)."""
    X, y = loader(return_X_y=True)
    order = np.random.RandomState(1000 + seed).permutation(len(X))
    a, b = order[: len(X) // 2], order[len(X) // 2:]
    return (X[a], y[a]), (X[b], y[b])


def _customers(seed):
    source = make_customers(n_samples=1500, random_state=100 + seed, return_X_y=True)
    target = make_customers(n_samples=1000, random_state=200 + seed, return_X_y=True)
    return source, target


def _cancer_to_wine(seed):
    return load_breast_cancer(return_X_y=True), load_wine(return_X_y=True)


#: "default": the default space, whose three fallbacks (raw features, linear, LDA) a cold search tries first
#: (a warm one right after its init architectures; fixed maps score the same in both arms: one seed);
#: "neural only": include_identity=False, so only the linear map joins the searched networks: whether
#: transfer speeds up the neural part of the search, which the fallbacks can hide when one of them wins.
SPACES = {"default": None, "neural only": {"include_identity": False}}

PAIRS = {
    "customers 1500 -> customers 1000 (other random_state)": _customers,
    "breast cancer half A -> half B": lambda seed: _halves(load_breast_cancer, seed),
    "digits half A -> half B": lambda seed: _halves(load_digits, seed),
    "breast cancer -> wine": _cancer_to_wine,
}


def trials_to_reach(search, target):
    """1-based trial at which the running best valid score first reaches ``target``, and the candidate
    seconds spent until then (``inf`` when never)."""
    spent = 0.0
    for i, record in enumerate(search.search_history_, start=1):
        spent += record["time"]
        if record["valid"] and record["score"] >= target - 1e-12:
            return i, spent
    return math.inf, math.inf


def fit_target(search, X, y, k, seed):
    t0 = time.perf_counter()
    Z = search.fit_transform(X)
    wall = time.perf_counter() - t0
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(Z)
    return {"ari": float(adjusted_rand_score(y, labels)), "wall_s": wall, "search_s": search.search_time_,
            "best_score": float(search.best_score_), "architecture": str(search.architecture_),
            "n_trials": search.n_trials_}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS))
    parser.add_argument("--spaces", nargs="+", default=list(SPACES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:  # seed-major: the arms of one seed run back to back
        for pair, space in ((p, s) for p in args.pairs for s in args.spaces):
            settings = {"max_trials": args.max_trials, "max_epochs": args.max_epochs, "device": "cpu",
                        "search_space": SPACES[space]}
            (Xs, ys), (Xt, yt) = PAIRS[pair](seed)
            Xs, Xt = StandardScaler().fit_transform(Xs), StandardScaler().fit_transform(Xt)
            ks, kt = len(np.unique(ys)), len(np.unique(yt))
            source = RandomFeatureSearch(n_clusters=ks, random_state=seed, **settings).fit(Xs)
            cold = RandomFeatureSearch(n_clusters=kt, random_state=seed, **settings)
            warm = RandomFeatureSearch(n_clusters=kt, random_state=seed, init=source, **settings)
            cold_row = fit_target(cold, Xt, yt, kt, seed)
            warm_row = fit_target(warm, Xt, yt, kt, seed)
            cold_trials, cold_time = trials_to_reach(cold, cold.best_score_)
            warm_trials, warm_time = trials_to_reach(warm, cold.best_score_)
            row = {"pair": pair, "space": space, "seed": seed, "source_architecture": str(source.architecture_),
                   "cold": cold_row, "warm": warm_row, "cold_trials_to_best": cold_trials,
                   "cold_time_to_best": cold_time, "warm_trials_to_cold_best": warm_trials,
                   "warm_time_to_cold_best": warm_time,
                   "trial_ratio": warm_trials / cold_trials, "time_ratio": warm_time / max(cold_time, 1e-9)}
            rows.append(row)
            print(f"seed {seed} {pair} [{space}]: cold best {cold_row['best_score']:.4f} at trial {cold_trials} "
                  f"({cold_time:.1f}s), warm reaches it at {warm_trials} ({warm_time:.1f}s); "
                  f"ARI cold {cold_row['ari']:.3f} warm {warm_row['ari']:.3f}", flush=True)
        write(rows, args)  # after every seed: a run stopped early still leaves its finished seeds


def _fmt(x):
    return "never" if not np.isfinite(x) else f"{x:.2f}"


def write(rows, args):
    machine = (f"{platform.node()} {platform.machine()}, CPU, 2 cores shared with other workers and "
               f"background benchmarks, torch threads=1")
    meta = {"machine": machine, "python": sys.version.split()[0], "torch": torch.__version__,
            "sklearn": sklearn.__version__, "sknas": sknas.__version__,
            "command": "python " + " ".join(sys.argv), "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "seeds": sorted({r["seed"] for r in rows}), "seeds_asked": args.seeds, "max_trials": args.max_trials, "max_epochs": args.max_epochs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "transfer.json").write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str))
    lines = ["# Transfer: warm-started vs cold RandomFeatureSearch (issue 10)", "",
             f"Machine: {machine} (a shared, noisy machine; arms interleaved seed by seed). "
             f"Command: `{meta['command']}`. Date {meta['date'][:19]}Z. Seeds {meta['seeds']} (of {args.seeds} asked); "
             f"max_trials={args.max_trials}, max_epochs={args.max_epochs}, default space and scoring "
             "(silhouette+separability). Warm = `init=<the source search, fitted>`: its winner and next two "
             "distinct candidates, evaluated first, then the fallbacks. Fixed maps (raw features, LDA) are "
             "evaluated with one seed in every search, so they score the same in both arms.", "",
             "Per run: trials (1-based) the cold search needed to reach its own final score, trials the warm "
             "search needed to reach that same score, and the candidate seconds until then.", "",
             "| pair | space | seed | cold final score | warm final score | cold trials (s) | warm trials (s) to cold final | "
             "trial ratio | time ratio | ARI cold | ARI warm |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['space']} | {r['seed']} | {r['cold']['best_score']:.4f} | {r['warm']['best_score']:.4f} "
                     f"| {r['cold_trials_to_best']} "
                     f"({r['cold_time_to_best']:.1f}) | {r['warm_trials_to_cold_best']} "
                     f"({_fmt(r['warm_time_to_cold_best'])}) | {_fmt(r['trial_ratio'])} | {_fmt(r['time_ratio'])} "
                     f"| {r['cold']['ari']:.3f} | {r['warm']['ari']:.3f} |")
    lines += ["", "Summary per pair and space (median over seeds of the ratios; mean ARI):", "",
              "| pair | space | median trial ratio | median time ratio | at most half (trials or time) | "
              "mean ARI cold | mean ARI warm |", "|---|---|---|---|---|---|---|"]
    met = {}
    for pair, space in dict.fromkeys((r["pair"], r["space"]) for r in rows):
        sel = [r for r in rows if r["pair"] == pair and r["space"] == space]
        tr = float(np.median([r["trial_ratio"] for r in sel]))
        ti = float(np.median([r["time_ratio"] for r in sel]))
        ok = tr <= 0.5 or ti <= 0.5
        met.setdefault(space, 0)
        met[space] += ok
        lines.append(f"| {pair} | {space} | {_fmt(tr)} | {_fmt(ti)} | {'yes' if ok else 'no'} | "
                     f"{np.mean([r['cold']['ari'] for r in sel]):.3f} | {np.mean([r['warm']['ari'] for r in sel]):.3f} |")
    n_pairs = len({r["pair"] for r in rows})
    lines += [""] + [f"Acceptance (at most half on at least two pairs), {space} space: "
                     f"{'met' if n >= 2 else 'not met'} ({n} of {n_pairs} pairs)." for space, n in met.items()] + [""]
    (RESULTS / "transfer.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
