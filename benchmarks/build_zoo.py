"""Rebuild the architecture zoo shipped in ``sknas/warmstart/zoo.json`` (issue 10).

One small RandomFeatureSearch per dataset of a suite of bundled and generated tables (scikit-learn's iris,
wine, breast cancer and digits, make_customers variants with and without categorical columns, make_blobs
and make_classification with varied rows, columns, noise, skew and categorical columns). Each dataset gives
its winner and its best two runners-up that are not fallbacks (the fallbacks are evaluated by every search
anyway), with the search's selection score, the cluster count (the dataset's true class count) and the
dataset's meta-features (sknas.warmstart.metafeatures). ``init="zoo"`` picks the entries nearest to new data.

    python benchmarks/build_zoo.py [--max-trials 24] [--max-epochs 20] [--out sknas/warmstart/zoo.json]

About 3-5 minutes on the 2-core development machine with one torch thread.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_blobs, make_classification
from sklearn.metrics import adjusted_rand_score

import sknas
from sknas import RandomFeatureSearch
from sknas.datasets import make_customers
from sknas.warmstart.metafeatures import metafeatures
from sknas.space import SearchSpace
from sknas.warmstart.zoo import ZOO_FORMAT

OUT = Path(__file__).resolve().parent.parent / "sknas" / "zoo" / "zoo.json"
N_RUNNERS_UP = 2


def _customers(**kwargs):
    bunch = make_customers(**kwargs)
    return bunch.data, np.asarray(bunch.target)


def _classification_with_categoricals():
    X, y = make_classification(800, 8, n_informative=4, n_redundant=2, n_classes=4, n_clusters_per_class=1,
                               random_state=3)
    rng = np.random.RandomState(3)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(8)])
    for j, levels in ((0, ("low", "mid", "high")), (1, ("a", "b", "c", "d")), (2, ("no", "yes"))):
        codes = np.digitize(X[:, j], np.quantile(X[:, j], np.linspace(0, 1, len(levels) + 1)[1:-1]))
        noisy = np.where(rng.uniform(size=len(X)) < 0.2, rng.randint(len(levels), size=len(X)), codes)
        frame[f"c{j}"] = pd.Categorical(np.asarray(levels)[noisy])
    return frame, y


def _skewed_high_dimensional():
    X, y = make_classification(300, 50, n_informative=3, n_redundant=0, n_classes=2, random_state=2)
    X[:, :10] = np.exp(X[:, :10] / 1.5)  # log-normal-like columns
    return X, y


#: name -> () -> (X, y); y gives the cluster count (and the winner's ARI, kept for information).
DATASETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "customers_frame_2000": lambda: _customers(n_samples=2000, as_frame=True, random_state=0),
    "customers_3seg_noisy_1000": lambda: _customers(n_samples=1000, n_segments=3, n_noise_features=12,
                                                    random_state=1),
    "customers_8seg_frame_3000": lambda: _customers(n_samples=3000, n_segments=8, n_noise_features=0,
                                                    n_categorical=1, as_frame=True, random_state=2),
    "blobs_500x5_k4": lambda: make_blobs(500, 5, centers=4, random_state=0),
    "blobs_2000x30_k8_noisy": lambda: make_blobs(2000, 30, centers=8, cluster_std=4.0, random_state=1),
    "classification_1000x20_k3": lambda: make_classification(1000, 20, n_informative=5, n_redundant=5, n_classes=3,
                                                             n_clusters_per_class=1, flip_y=0.05, random_state=0),
    "classification_800x11_categorical_k4": _classification_with_categoricals,
    "classification_300x50_skewed_k2": _skewed_high_dimensional,
}


def zoo_entries(name, X, y, args):
    """The winner and up to two non-fallback runners-up of one search on ``X``."""
    k = len(np.unique(y))
    t0 = time.perf_counter()
    search = RandomFeatureSearch(n_clusters=k, max_trials=args.max_trials, max_epochs=args.max_epochs,
                                 random_state=0, device="cpu").fit(X)
    seconds = time.perf_counter() - t0
    ari = adjusted_rand_score(y, KMeans(k, n_init=10, random_state=0).fit_predict(search.transform(X)))
    features = {key: round(value, 6) for key, value in metafeatures(X).items()}
    fallbacks = SearchSpace().fallbacks()
    ranked = sorted((r for r in search.search_history_ if r["valid"] and "selection_score" in r),
                    key=lambda r: (-r["selection_score"], r["trial"]))
    picked, seen = [(0, search.architecture_, search.best_score_)], {search.architecture_}
    for record in ranked:  # rank: place among the distinct architectures, best first
        if len(picked) > N_RUNNERS_UP:
            break
        if record["architecture"] not in seen:
            seen.add(record["architecture"])
            if record["architecture"] not in fallbacks:
                picked.append((len(seen) - 1, record["architecture"], record["selection_score"]))
    print(f"{name}: {X.shape}, k={k}, {seconds:.1f}s, winner {search.architecture_} (ARI {ari:.3f}), "
          f"{len(picked)} entries", flush=True)
    return [{"dataset": name, "rank": rank, "architecture": arch.to_dict(), "score": round(float(score), 6),
             "n_clusters": k, "metafeatures": features,
             **({"winner_ari": round(float(ari), 4), "search_seconds": round(seconds, 1)} if rank == 0 else {})}
            for rank, arch, score in picked]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-trials", type=int, default=24)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    entries = []
    for name in args.datasets:
        X, y = DATASETS[name]()
        entries.extend(zoo_entries(name, X, y, args))
    built = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"), "sknas": sknas.__version__,
             "torch": torch.__version__, "sklearn": sklearn.__version__, "python": sys.version.split()[0],
             "machine": f"{platform.machine()}, 2 shared CPU cores, torch threads=1",
             "command": "python benchmarks/build_zoo.py " + " ".join(sys.argv[1:]),
             "search": f"RandomFeatureSearch(max_trials={args.max_trials}, max_epochs={args.max_epochs}, "
                       "random_state=0), default space and scoring; n_clusters = the dataset's class count",
             "seconds": round(time.perf_counter() - start, 1)}
    args.out.write_text(json.dumps({"format": ZOO_FORMAT, "built": built, "entries": entries}, indent=1) + "\n")
    print(f"{len(entries)} entries from {len(args.datasets)} datasets in {built['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
