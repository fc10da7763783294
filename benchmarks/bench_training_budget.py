"""A search candidate's training budget: 40 epochs with early stopping against ``max_epochs="auto"``.

For a few tables (sklearn's and the held-out ones of heldout_data.py) and a few architectures drawn from
the default space, each architecture is trained and scored exactly as a search evaluates a candidate
(same split, scoring rows and label-free score) under two budgets:

- **before**: 40 epochs, early stopping (patience 5 epochs) on the validation loss, best-validation
  weights restored -- the trainer's behaviour before ``max_epochs="auto"``;
- **auto**: enough epochs for 1,000 optimizer updates (at least 40), the whole budget, last weights.

It reports the candidate's score, the ARI of its KMeans labels of the scoring rows (labels used only to
evaluate), its epochs and seconds, and the LDA map's score and ARI on the same rows: on small tables a
network that trained 40 one-update epochs cannot compete with the LDA map.

    python benchmarks/bench_training_budget.py [--datasets olive penguins wine digits] [--archs 4]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_architecture_signal import _Capture
from bench_darts import DATASETS
from result_files import machine_header, write_results
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import heldout_data
import sknas.search.candidates as _candidates  # its train_candidate is swapped for the "before" arm
from sknas.base import _score_rows, _search_rows
from sknas.search.candidates import evaluate_candidate
from sknas.space import Architecture, SearchSpace
from sknas.config import get_config

_ORIGINAL_TRAIN = _candidates.train_candidate


def _train_before(encoder, objective, train, valid, **kw):
    """The candidate trainer as it was: best-validation weights, patience 5 epochs."""
    kw.update(keep="best", patience=5)
    return _ORIGINAL_TRAIN(encoder, objective, train, valid, **kw)



def measure(name, n_archs, seed):
    X, y = DATASETS[name](return_X_y=True) if name in DATASETS else heldout_data.load(name)
    X, k = StandardScaler().fit_transform(X), len(np.unique(y))
    data, settings, _ = _Capture(n_clusters=k, random_state=seed, device="cpu").fit(X).captured_
    train_idx, valid_idx = _Capture(random_state=seed)._split(len(X), np.random.RandomState(seed))
    y_score = y[_score_rows(*_search_rows(train_idx, valid_idx))]
    rng = np.random.RandomState(seed)
    space = SearchSpace(include_identity=False)
    archs = [space.sample(rng) for _ in range(n_archs)]
    rows = []
    for arch in [Architecture(head="lda")] + archs:
        for arm, epochs, trainer in (("before", 40, _train_before), ("auto", "auto", _ORIGINAL_TRAIN)):
            if arch.head == "lda" and arm == "auto":
                continue  # nothing to train
            _candidates.train_candidate = trainer
            try:
                r = evaluate_candidate(arch, int(rng.randint(2**31 - 1)), data, {**settings, "max_epochs": epochs})
            finally:
                _candidates.train_candidate = _ORIGINAL_TRAIN
            rows.append({"dataset": name, "architecture": str(arch), "arm": "fixed" if arch.head == "lda" else arm,
                         "score": r["score"], "valid": r["valid"], "epochs": r.get("n_epochs"), "time": r["time"],
                         "ari": adjusted_rand_score(y_score, r["labels"]) if r["valid"] else None})
            print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["olive", "penguins", "wine", "digits"])
    parser.add_argument("--archs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [row for name in args.datasets for row in measure(name, args.archs, args.seed)]
    lines = [machine_header(f"python benchmarks/bench_training_budget.py --datasets {' '.join(args.datasets)} "
                            f"--archs {args.archs} --seed {args.seed}",
                            f"(\"auto\" = {get_config()['min_updates']} updates, at least "
                            f"{get_config()['auto_min_epochs']} epochs)"), "",
             "| dataset | LDA score / ARI | before: mean score / ARI / epochs / s "
             "| auto: mean score / ARI / epochs / s | networks above the LDA score (before / auto) |",
             "|---|---|---|---|---|"]
    for name in args.datasets:
        sel = [r for r in rows if r["dataset"] == name]
        lda = next(r for r in sel if r["arm"] == "fixed")
        cells, above = [], []
        for arm in ("before", "auto"):
            arm_rows = [r for r in sel if r["arm"] == arm and r["valid"]]
            means = [np.mean([r[key] for r in arm_rows]) for key in ("score", "ari", "epochs", "time")]
            cells.append("{:.3f} / {:.3f} / {:.0f} / {:.1f}".format(*means))
            above.append(f"{sum(r['score'] > lda['score'] for r in arm_rows)} of {len(arm_rows)}")
        lines.append(f"| {name} | {lda['score']:.3f} / {lda['ari']:.3f} | {cells[0]} | {cells[1]} | "
                     f"{' / '.join(above)} |")
    write_results("training_budget", lines, rows)


if __name__ == "__main__":
    main()
