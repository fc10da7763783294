"""How much of a candidate's score and ARI is its architecture, and how much its training seed?

A search strategy can only beat random search by exploiting differences *between architectures*. This
bench measures how large those differences are against the noise of one training: for each dataset it
draws ``--archs`` networks from the default space (no fixed maps), trains each with ``--seeds-per-arch``
seeds exactly as a search evaluates a candidate (same split, scoring rows, settings and label-free
score), and reports

- **ICC** (one-way intraclass correlation, ICC(1)) of the score and of the candidate ARI (the ARI of the
  candidate's own KMeans labels of the scoring rows): the share of their variance that is between
  architectures. 1 = the architecture decides everything; 0 = the seed decides everything.
- **tau(arch means)**: Kendall tau between an architecture's mean score and its mean ARI: whether the
  architecture a perfect optimiser of the score would pick is also good for ARI.
- **tau(within arch)**: mean Kendall tau between score and ARI over the seeds of one architecture.
- **oracle gain**: mean ARI of the architecture with the best *mean score* minus the mean ARI of all
  architectures: what a strategy that knew every architecture's expected score could gain in ARI over
  a random architecture, with no noise left.
- the LDA and raw-feature maps' score and ARI on the same rows, for reference.

Labels are used only to evaluate. One torch thread. Writes benchmarks/results/architecture_signal.md/.json.

    python benchmarks/bench_architecture_signal.py [--archs 16] [--seeds-per-arch 4] [--split-seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import heldout_data
from bench_darts import DATASETS
from result_files import machine_header, write_results
from scipy.stats import kendalltau
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from sknas import RandomFeatureSearch
from sknas.base import _score_rows, _search_rows
from sknas.search.candidates import SEARCH_DATA_KEYS, evaluate_candidate
from sknas.space import Architecture, SearchSpace


class _Capture(RandomFeatureSearch):
    """A RandomFeatureSearch that stops after preparing its data: we keep what candidates are scored on."""

    def _select_architecture(self, context):
        self.captured_ = ({k: context[k] for k in SEARCH_DATA_KEYS}, self._candidate_settings(), context["rng"])
        self.search_history_ = []
        return Architecture(head="identity")


def icc1(values):
    """ICC(1) of a (n_groups, n_per_group) table (one-way random effects)."""
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    grand = values.mean()
    msb = k * ((values.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msw = ((values - values.mean(axis=1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    return (msb - msw) / (msb + (k - 1) * msw)


def measure(name, n_archs, n_seeds, split_seed):
    X, y = DATASETS[name](return_X_y=True) if name in DATASETS else heldout_data.load(name)
    X, k = StandardScaler().fit_transform(X), len(np.unique(y))
    search = _Capture(n_clusters=k, random_state=split_seed, device="cpu").fit(X)
    data, settings, _ = search.captured_
    rng = np.random.RandomState(split_seed)
    train_idx, valid_idx = search._split(len(X), np.random.RandomState(split_seed))
    y_score = y[_score_rows(*_search_rows(train_idx, valid_idx))]
    space = SearchSpace(include_identity=False)
    archs = []
    while len(archs) < n_archs:
        arch = space.sample(rng)
        if arch not in archs:
            archs.append(arch)
    scores, aris = np.full((n_archs, n_seeds), np.nan), np.full((n_archs, n_seeds), np.nan)
    for i, arch in enumerate(archs):
        for j in range(n_seeds):
            record = evaluate_candidate(arch, int(rng.randint(2**31 - 1)), data, settings)
            if record["valid"]:
                scores[i, j] = record["score"]
                aris[i, j] = adjusted_rand_score(y_score, record["labels"])
        print(f"{name} {arch}: scores {np.round(scores[i], 3)} ARI {np.round(aris[i], 3)}", flush=True)
    fixed = {}
    for head in ("lda", "identity"):
        record = evaluate_candidate(Architecture(head=head), split_seed, data, settings)
        fixed[head] = (record["score"], adjusted_rand_score(y_score, record["labels"]) if record["valid"] else None)
    ok = ~np.isnan(scores).any(axis=1)  # architectures with a failed or collapsed seed are left out
    S, A = scores[ok], aris[ok]
    within = [kendalltau(s, a).statistic for s, a in zip(S, A)]
    best = int(np.argmax(S.mean(axis=1)))
    return {"dataset": name, "archs": [str(a) for a in archs], "scores": scores.tolist(), "aris": aris.tolist(),
            "n_archs_ok": int(ok.sum()), "icc_score": icc1(S), "icc_ari": icc1(A),
            "tau_arch_means": kendalltau(S.mean(axis=1), A.mean(axis=1)).statistic,
            "tau_within_arch": float(np.nanmean(within)), "oracle_gain": float(A[best].mean() - A.mean()),
            "best_arch": str(np.array(archs, dtype=object)[ok][best]), "mean_ari": float(A.mean()),
            "seed_sd_ari": float(A.std(axis=1, ddof=1).mean()), "arch_sd_ari": float(A.mean(axis=1).std(ddof=1)),
            "lda": fixed["lda"], "identity": fixed["identity"], "max_score": float(S.max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archs", type=int, default=16)
    parser.add_argument("--seeds-per-arch", type=int, default=4)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--out", default="architecture_signal", help="file stem under benchmarks/results/")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        help="digits, breast_cancer, wine, or a held-out table of heldout_data.py")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [measure(name, args.archs, args.seeds_per_arch, args.split_seed) for name in args.datasets]
    lines = [machine_header(f"python benchmarks/bench_architecture_signal.py --archs {args.archs} "
                            f"--seeds-per-arch {args.seeds_per_arch} --split-seed {args.split_seed}"), "",
             "| dataset | archs | ICC score | ICC ARI | tau (arch means) | tau (within arch) | ARI sd between archs "
             "| ARI sd within arch | oracle gain | mean ARI | best network score | LDA score / ARI "
             "| raw score / ARI |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['n_archs_ok']} | {r['icc_score']:.2f} | {r['icc_ari']:.2f} | "
                     f"{r['tau_arch_means']:.2f} | {r['tau_within_arch']:.2f} | {r['arch_sd_ari']:.3f} | "
                     f"{r['seed_sd_ari']:.3f} | {r['oracle_gain']:+.3f} | {r['mean_ari']:.3f} | "
                     f"{r['max_score']:.3f} | {r['lda'][0]:.3f} / {r['lda'][1]:.3f} | "
                     f"{r['identity'][0]:.3f} / {r['identity'][1]:.3f} |")
    write_results(args.out, lines, rows)


if __name__ == "__main__":
    main()
