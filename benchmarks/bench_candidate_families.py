"""Would another kind of candidate lift the default pipeline? Each kind of map's mean ARI on the labelled splits.

Issue 20's judges have reached a plateau (``docs/selection.md``, "Better candidates?"): a judge can add at most
the gap between the pick and the pool's best. This asks the other question, how good each *kind* of feature map
is when it is always the one used, with no judge at all:

- classical maps, refitted here on all rows (k = the number of classes, KMeans ``n_init=10``, seed 0): the
  standardised numbers + one-hot categories (scaled as sknas scales them), the same after a Yeo-Johnson transform of
  the numbers (what ``deskew_skewness`` does), after PCA whitening (90% of the variance), and a full-covariance GMM;
- the classical maps' partitions judged in one shared space, the encoded input: the one with the best (silhouette
  in the input + held-out separability in the input) / 2 (the search's default score, with the silhouette taken in
  the input rather than in each map's own space) is "judged in the input";
- the candidates the default searches saw, from the saved pools (``judge_pools.py``; where a split has them): the
  raw features, the LDA map, the mean network, the judge's pick and the pool's best (an oracle), on the scoring rows.

    python benchmarks/bench_candidate_families.py [--splits dev held ...] [--out candidate_families]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import PowerTransformer, StandardScaler

import judge_tables
from bench_judges import POOLS, load_pools
from result_files import print_or_write
from sknas.evaluation.scores import separability
from sknas.preprocessing.tabular import INDICATOR_VALUE

CLASSICAL = ("KMeans", "Yeo-Johnson + KMeans", "PCA whitened (90%) + KMeans", "GMM")
SELECTED = "judged in the input"
#: Rows each partition is judged on (the search scores on at most 2,000).
JUDGE_ROWS = 1500
POOLED = ("raw features", "LDA map", "networks (mean)", "judge's pick", "pool's best")


def encode(X, deskew=False):
    """Standardised numbers (Yeo-Johnson first with ``deskew``) and one-hot categories at sknas's indicator scale."""
    strings = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numbers = X.drop(columns=strings).to_numpy(dtype=np.float64)
    parts = []
    if numbers.shape[1]:
        if deskew:
            numbers = PowerTransformer().fit_transform(numbers)
        parts.append(StandardScaler().fit_transform(numbers))
    if strings:
        parts.append(pd.get_dummies(X[strings].astype(str)).to_numpy(dtype=np.float64) * INDICATOR_VALUE)
    return np.hstack(parts)


def classical(X, y, seed=0):
    """``{map: ARI}`` of the four classical maps, and the map judged best in the input (``SELECTED``)."""
    k = len(np.unique(y))

    def kmeans(Z):
        return KMeans(k, n_init=10, random_state=seed).fit_predict(Z)

    raw = encode(X)
    labels = {"KMeans": kmeans(raw), "Yeo-Johnson + KMeans": kmeans(encode(X, deskew=True)),
              "PCA whitened (90%) + KMeans": kmeans(PCA(0.9, whiten=True, random_state=seed).fit_transform(raw))}
    try:
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, n_init=2, random_state=seed).fit(raw)
        labels["GMM"] = gmm.predict(raw)
    except ValueError:  # a degenerate covariance: recorded as missing, the run goes on
        pass
    out = {name: adjusted_rand_score(y, lab) for name, lab in labels.items()}
    rows = np.random.RandomState(seed).permutation(len(raw))[:JUDGE_ROWS]
    judged = {name: (silhouette_score(raw[rows], lab[rows]) + separability(raw[rows], lab[rows])) / 2
              for name, lab in labels.items() if len(np.unique(lab[rows])) > 1}
    if judged:
        out["judged best"] = max(judged, key=judged.get)
        out[SELECTED] = out[out["judged best"]]
    return out


def pooled(split):
    """``{table: {family: mean ARI over the pools' seeds}}`` from the saved pools of both default searches."""
    from bench_judges import distinct

    out = {}
    for search in ("darts", "random"):
        for pool in load_pools(POOLS / split, judge_tables.SPLITS[split], search):
            y = pool["y_score"]
            records = [pool["records"][i] for i in distinct(pool["records"])]
            ari = {i: adjusted_rand_score(y, r["labels"]) for i, r in enumerate(records)}
            kinds = {"raw features": [a for i, a in ari.items() if records[i]["architecture"] == "identity"],
                     "LDA map": [a for i, a in ari.items() if records[i]["architecture"] == "lda"],
                     "networks (mean)": [a for i, a in ari.items()
                                         if records[i]["architecture"] not in ("identity", "lda")]}
            picked = adjusted_rand_score(y, pool["records"][pool["default_pick"]]["labels"])
            row = out.setdefault(pool["table"], {})
            for name, values in {**kinds, "judge's pick": [picked], "pool's best": [max(ari.values())]}.items():
                if values:
                    row.setdefault(name, []).append(float(np.mean(values)))
    return {t: {name: float(np.mean(v)) for name, v in row.items()} for t, row in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["dev", "held", "held2", "held3", "held4", "held5", "held6",
                                                         "held7"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for split in args.splits:
        from_pools = pooled(split) if (POOLS / split).is_dir() else {}
        for table in judge_tables.SPLITS[split]:
            X, y = judge_tables.load(table)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows.append({"split": split, "table": table, **classical(X, y), **from_pools.get(table, {})})
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    columns = [c for c in CLASSICAL + (SELECTED,) + POOLED if c in frame]
    lines = ["Mean ARI over each split's tables (k = the number of classes); classical maps refitted on all rows, seed "
             "0; pooled families on the pools' scoring rows, both default searches, 5 seeds (blank: no pools saved "
             "for the split).", "", "| split | tables | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for split, group in frame.groupby("split", sort=False):
        cells = [f"{group[c].mean():.3f}" if group[c].notna().any() else "" for c in columns]
        lines.append(f"| {split} | {len(group)} | " + " | ".join(cells) + " |")
    cells = [f"{frame[c].mean():.3f}" for c in CLASSICAL + (SELECTED,)]
    lines.append(f"| **all** | {len(frame)} | " + " | ".join(cells) + " |"
                 + " |" * (len(columns) - len(CLASSICAL) - 1))
    best = frame[list(CLASSICAL)].idxmax(axis=1).value_counts()
    lines += ["", "Tables on which each classical map is the best of the four: "
              + ", ".join(f"{name} {best.get(name, 0)}" for name in CLASSICAL) + "; the best of the four on every "
              f"table (an oracle) would average {frame[list(CLASSICAL)].max(axis=1).mean():.3f}.", "",
              f"'{SELECTED}' minus each classical map, paired per table [95% bootstrap interval over tables]; "
              "better / within 0.02 / worse:", ""]
    for name in CLASSICAL:
        diff = (frame[SELECTED] - frame[name]).dropna().to_numpy()
        draws = np.random.RandomState(0).choice(diff, (2000, len(diff))).mean(axis=1)
        low, high = np.percentile(draws, [2.5, 97.5])
        lines.append(f"- {name}: {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}]; {(diff > 0.02).sum()} / "
                     f"{(np.abs(diff) <= 0.02).sum()} / {(diff < -0.02).sum()}")
    picked = frame["judged best"].value_counts()
    lines += ["", "Which map the input judged best: " + ", ".join(f"{n} {picked.get(n, 0)}" for n in CLASSICAL) + "."]
    print_or_write(args.out, lines, rows)


if __name__ == "__main__":
    main()
