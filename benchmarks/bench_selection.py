"""Which label-free criterion picks the best candidate? Kendall tau with true ARI across a search's candidates.

For each dataset and seed, a search guided by the silhouette (RandomFeatureSearch with 12 trials of 30 epochs, or
EvoFeatureSearch with its other defaults) is run once; every valid candidate's KMeans labels of the validation rows (kept in its history
record) are compared with the true labels (ARI). Criteria: the candidate's silhouette (in its embedding),
consensus (mean ARI with the other candidates' labels), separability (held-out linear discriminability of its
partition in the input space, ``sknas.evaluation.separability``), their mean (``scoring="silhouette+separability"``,
the default) and the rank average of silhouette and consensus.
Reports the Kendall tau of each criterion with true ARI across candidates and the true validation ARI of the
candidate each criterion would pick. Labels are used only to evaluate. Writes benchmarks/results/<out>.md/.json.

    python benchmarks/bench_selection.py [--search random|evo] [--seeds 0 1 2] [--datasets ...] [--out selection]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
from bench_quality import DATASETS  # the same five datasets as the quality harness
from scipy.stats import kendalltau
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import check_random_state

from sknas import EvoFeatureSearch, RandomFeatureSearch
from sknas.base import MIN_ROWS_TO_SPLIT
from sknas.evaluation import selection_scores

RESULTS = Path(__file__).parent / "results"
CRITERIA = ("silhouette", "consensus", "separability", "silhouette+consensus", "silhouette+separability")
SEARCHES = {
    "random": lambda k, seed: RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_trials=12,
                                                  max_epochs=30, scoring="silhouette"),
    "evo": lambda k, seed: EvoFeatureSearch(n_clusters=k, random_state=seed, device="cpu", scoring="silhouette"),
}


def criterion_values(records, criterion):
    """One value per record; higher picks."""
    separability = np.array([r["separability"] for r in records], dtype=float)
    if criterion == "separability":
        return separability
    if criterion == "silhouette+separability":  # what scoring="silhouette+separability" computes per candidate
        return (np.array([r["score"] for r in records]) + separability) / 2.0
    return selection_scores(records, criterion)


def validation_labels(y, seed, fraction=0.2):
    """The true labels of the rows the search used for validation (its split, replayed)."""
    order = check_random_state(seed).permutation(len(y))
    n_valid = int(round(fraction * len(y)))
    return y[order] if len(y) < MIN_ROWS_TO_SPLIT else y[order[:n_valid]]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--search", choices=list(SEARCHES), default="random",
                        help="whose candidate pool to judge (default: random, 12 trials of 30 epochs)")
    parser.add_argument("--out", default="selection", help="file stem under benchmarks/results/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        X, y = DATASETS[name]()
        k = len(np.unique(y))
        for seed in args.seeds:
            search = SEARCHES[args.search](k, seed).fit(X)
            y_valid = validation_labels(y, seed)
            # cached repeats are the same candidate again: count each evaluation once
            valid = [r for r in search.search_history_ if r["valid"] and not r.get("cached")]
            true = np.array([adjusted_rand_score(y_valid[:len(r["labels"])], r["labels"]) for r in valid])
            row = {"dataset": name, "seed": seed, "n_candidates": len(valid), "best_possible": float(true.max())}
            for criterion in CRITERIA:
                values = criterion_values(valid, criterion)
                row[f"tau_{criterion}"] = float(kendalltau(values, true)[0])
                row[f"pick_{criterion}"] = float(true[int(np.argmax(values))])
            rows.append(row)
            print(name, seed, {k_: round(v, 3) if isinstance(v, float) else v for k_, v in row.items()}, flush=True)
    machine = f"{platform.node()} {platform.machine()}, CPU, torch {torch.__version__}, threads={args.threads}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    pool = {"random": "RandomFeatureSearch(max_trials=12, max_epochs=30, scoring='silhouette')",
            "evo": "EvoFeatureSearch(scoring='silhouette')"}
    lines = [f"Machine: {machine}. Candidates of {pool[args.search]}, seeds {args.seeds}; "
             "means over seeds. tau: Kendall tau of the criterion with true ARI across the valid candidates; "
             "pick: true validation ARI of the candidate the criterion picks.", "",
             "| dataset | " + " | ".join(f"tau {c}" for c in CRITERIA) + " | " +
             " | ".join(f"pick {c}" for c in CRITERIA) + " | best possible |",
             "|---" * (2 * len(CRITERIA) + 2) + "|"]
    for name in [*args.datasets, "mean"]:
        sel = rows if name == "mean" else [r for r in rows if r["dataset"] == name]
        cells = [f"{np.nanmean([r[f'tau_{c}'] for r in sel]):+.2f}" for c in CRITERIA]
        cells += [f"{np.mean([r[f'pick_{c}'] for r in sel]):.3f}" for c in CRITERIA]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean([r['best_possible'] for r in sel]):.3f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
