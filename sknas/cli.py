"""Command line: ``python -m sknas demo`` (or the ``sknas`` console script)."""

from __future__ import annotations

import argparse
import sys
import time


def run_demo(n_samples=2000, max_trials=16, random_state=0, threads=None, out=sys.stdout):
    """Segment the bundled customer table end to end and compare with classical recipes.

    Search a feature map with :class:`~sknas.RandomFeatureSearch`, retrain it,
    segment with KMeans, print a profile of each segment and the agreement of
    each recipe's segments with the known ones (ARI), next to label-free
    silhouettes in the input space.
    """
    import numpy as np
    import torch
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import RandomFeatureSearch
    from .datasets import make_customers
    from .metrics import silhouette_scorer

    if threads:
        torch.set_num_threads(threads)
    data = make_customers(n_samples=n_samples, random_state=random_state)
    X, y, names = data.data, data.target, list(data.feature_names)
    k = len(data.target_names)
    print(f"sknas demo: {X.shape[0]} customers x {X.shape[1]} numeric columns, {k} hidden segments\n", file=out)

    start = time.perf_counter()
    search = RandomFeatureSearch(n_components=8, n_clusters=k, max_trials=max_trials, max_epochs=30,
                                 random_state=random_state, verbose=1)
    pipe = make_pipeline(StandardScaler(), search, KMeans(k, n_init=10, random_state=random_state))
    labels = pipe.fit_predict(X)
    wall = time.perf_counter() - start
    print(f"\nSearched {search.n_trials_} architectures and retrained the best in {wall:.1f} s.", file=out)
    print(f"Chosen feature map: {search.architecture_}  (score {search.best_score_:.3f}, "
          f"{search.efficiency_['params']} params, "
          f"{search.efficiency_['latency_ms_per_1000_rows']:.2f} ms per 1,000 rows on CPU)\n", file=out)

    print("Segment profiles (median of each column):", file=out)
    shown = names[:5]
    header = f"{'segment':>8} {'size':>6} " + " ".join(f"{n:>13}" for n in shown)
    print(header, file=out)
    for seg in range(k):
        rows = X[labels == seg]
        medians = np.median(rows, axis=0) if len(rows) else np.full(X.shape[1], np.nan)
        print(f"{seg:>8} {len(rows):>6} " + " ".join(f"{m:>13.1f}" for m in medians[: len(shown)]), file=out)

    recipes = {
        "KMeans on raw columns": make_pipeline(StandardScaler(), KMeans(k, n_init=10, random_state=random_state)),
        "PCA(8) + KMeans": make_pipeline(StandardScaler(), PCA(min(8, X.shape[1]), random_state=random_state),
                                         KMeans(k, n_init=10, random_state=random_state)),
    }
    print("\nAgreement with the true segments (ARI, 1 = perfect) and label-free silhouette:", file=out)
    print(f"{'recipe':<32} {'ARI':>6} {'silhouette':>11}", file=out)
    for name, recipe in recipes.items():
        recipe_labels = recipe.fit_predict(X)
        print(f"{name:<32} {adjusted_rand_score(y, recipe_labels):>6.3f} {silhouette_scorer(recipe, X):>11.3f}",
              file=out)
    print(f"{'sknas RandomFeatureSearch':<32} {adjusted_rand_score(y, labels):>6.3f} "
          f"{silhouette_scorer(pipe, X):>11.3f}", file=out)
    return pipe


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sknas", description="Neural architecture search for segmentation.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="segment the bundled customer table and compare with classical recipes")
    demo.add_argument("--n-samples", type=int, default=2000)
    demo.add_argument("--max-trials", type=int, default=16)
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.n_samples, args.max_trials, args.random_state, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
