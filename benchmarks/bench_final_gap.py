"""How much of a search's final ARI is its choice, and how much the final training's luck?

For each dataset (digits, breast cancer, wine), seed and search (RandomFeatureSearch, RLFeatureSearch,
BayesFeatureSearch; ``max_trials`` each, default 30, otherwise defaults), as in bench_rl_bayes.py:

- **final ARI**: StandardScaler, the search's embedding of all rows, KMeans(k, n_init=10), ARI against the
  labels (what the issue-9 table compares);
- **picked candidate ARI**: ARI of the winning candidate's own KMeans labels of the scoring rows (the
  embedding the search scored), against those rows' labels;
- **retrained ARI**: the chosen Architecture trained again on all rows with ``--retrains`` other seeds
  (``NeuralFeatureMap(architecture_)``), final-ARI protocol; mean and std. Its mean is the expected final
  ARI of the choice without the luck of one final training (a fixed map's seed picks its KMeans starts).

Labels are used only to evaluate. One torch thread. Writes benchmarks/results/final_gap.md and .json.

    python benchmarks/bench_final_gap.py [--seeds 0 1 2] [--max-trials 30] [--retrains 4]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_darts import DATASETS
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler
from result_files import machine_header, write_results
from sklearn.utils import check_random_state

from sknas import BayesFeatureSearch, NeuralFeatureMap, RandomFeatureSearch, RLFeatureSearch
from sknas.base import _score_rows, _search_rows

ARMS = {"random": RandomFeatureSearch, "rl": RLFeatureSearch, "bayes": BayesFeatureSearch}


def scoring_rows(search, n_rows, seed):
    """The rows the search scored its candidates on (its split replayed: the split is its first draw)."""
    train_idx, valid_idx = search._split(n_rows, check_random_state(seed))
    return _score_rows(*_search_rows(train_idx, valid_idx))


def final_ari(Z, y, k, seed):
    return adjusted_rand_score(y, KMeans(k, n_init=10, random_state=seed).fit_predict(Z))


def measure(arm, X, y, k, seed, max_trials, retrains):
    search = ARMS[arm](n_clusters=k, random_state=seed, device="cpu", max_trials=max_trials).fit(X)
    winner = max((r for r in search.search_history_ if r.get("selection_score") is not None),
                 key=lambda r: r["selection_score"])
    rows = scoring_rows(search, len(X), seed)
    retrained = [final_ari(NeuralFeatureMap(search.architecture_, n_clusters=k, random_state=1000 + r,
                                            device="cpu").fit_transform(X), y, k, seed) for r in range(retrains)]
    return {"final_ari": final_ari(search.transform(X), y, k, seed),
            "candidate_ari": adjusted_rand_score(y[rows], winner["labels"]),
            "retrained_ari": retrained, "architecture": str(search.architecture_), "best_score": search.best_score_}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-trials", type=int, default=30)
    parser.add_argument("--retrains", type=int, default=4)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        X, k = StandardScaler().fit_transform(X), len(np.unique(y))
        for seed in args.seeds:
            for arm in ARMS:
                row = {"dataset": name, "method": arm, "seed": seed,
                       **measure(arm, X, y, k, seed, args.max_trials, args.retrains)}
                rows.append(row)
                print(f"{name} seed {seed} {arm}: final {row['final_ari']:.3f} candidate {row['candidate_ari']:.3f} "
                      f"retrained {np.mean(row['retrained_ari']):.3f}  {row['architecture']}", flush=True)
    lines = [machine_header("python benchmarks/bench_final_gap.py",
                            f"(seeds {args.seeds}, max_trials={args.max_trials}, retrains={args.retrains})"), "",
             "| dataset | method | final ARI (mean) | picked candidate ARI (scoring rows) | retrained ARI mean +- std "
             "(choice without final luck) | picks |", "|---|---|---|---|---|---|"]
    for name in args.datasets:
        for arm in ARMS:
            sel = [r for r in rows if r["dataset"] == name and r["method"] == arm]
            retrained = np.concatenate([r["retrained_ari"] for r in sel])
            n_lda = sum(r["architecture"] == "lda" for r in sel)
            lines.append(f"| {name} | {arm} | {np.mean([r['final_ari'] for r in sel]):.3f} | "
                         f"{np.mean([r['candidate_ari'] for r in sel]):.3f} | {retrained.mean():.3f} +- "
                         f"{retrained.std():.3f} | {n_lda} of {len(sel)} LDA |")
    write_results("final_gap", lines, rows)


if __name__ == "__main__":
    main()
