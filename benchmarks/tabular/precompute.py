"""Tabulate a finite set of architectures of the default space on labelled tables (issue 25, step 1 of 2).

Every architecture is trained and scored exactly as a search trains and scores a candidate: the table's
rows go through a ``RandomFeatureSearch``'s own preparation (validation, standardisation, train/validation
split, scoring rows, candidate settings, with ``n_clusters`` = the table's classes), then the package's
candidate evaluation (``sknas.base._evaluate_candidate``) trains and scores each one. Stored per
(architecture, table, seed): the label-free ``score`` the search ranks candidates by, ``separability``,
validity, and the ARI of the candidate's KMeans partition of the scoring rows with the true classes
(labels are used for nothing else). ``replay.py`` then runs every strategy against the table.

    python benchmarks/tabular/precompute.py [--n-archs 500] [--tables ...] [--seeds 0] [--rows 300]
        [--max-epochs 100] [--time-only 20]

The file is ``data/tabular.json.gz``: architectures as JSON (``Architecture.to_json``), and per table
arrays indexed [architecture, seed]. A run appends to what is there (tables done are kept), so an
interrupted run goes on where it stopped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # judge_tables

DATA = HERE / "data" / "tabular.json.gz"
#: Numeric development tables (a table with string columns would add the embedding widths to the space).
TABLES = ("iris", "wine", "breast_cancer", "digits", "olive", "glass", "diabetes", "biopsy", "leaves", "tissues")
SPACE_SEED = 25  # draws the tabulated architectures


def benchmark_space():
    """The default space without the fixed maps (raw features and LDA are not architectures to search)."""
    from sknas.space import SearchSpace

    return SearchSpace(include_identity=False)


def tabulated_architectures(n, seed=SPACE_SEED):
    """``n`` distinct Architectures of :func:`benchmark_space`: the linear map, then uniform draws."""
    from sklearn.utils import check_random_state

    space = benchmark_space()
    rng = check_random_state(seed)
    archs = [space.fallback("linear")]
    seen = set(archs)
    while len(archs) < n:
        arch = space.sample(rng)
        if arch not in seen:
            seen.add(arch)
            archs.append(arch)
    return archs


def evaluate_fn():
    """The package's candidate evaluation (its module moved once; look in both places)."""
    try:
        from sknas.search.candidates import evaluate_candidate
    except ImportError:  # before the package split (issue 24)
        from sknas.base import _evaluate_candidate as evaluate_candidate
    return evaluate_candidate


def prepare(search, X, y):
    """What ``search.fit(X)`` does before it searches: validate, standardise, split, scoring rows.

    Returns ``(context, y_score)``: the context the search loop gets (labels kept out) and the true
    classes of the scoring rows. ``search`` is left as ``fit`` leaves it before searching.
    """
    from sknas.base import _score_rows, _search_rows
    from sknas.training import resolve_device, resolve_objective
    try:
        from sknas.preprocessing.tabular import make_encoder, validate_input
    except ImportError:  # before the package split (issue 24)
        from sknas._preprocessing import make_encoder, validate_input

    search._validate_params()
    Xv = validate_input(search, X, reset=True, ensure_min_samples=search._min_samples)
    search.objective_ = resolve_objective(search.objective, None)
    search.device_ = resolve_device(search.device)
    rng = search._fit_rng()
    search._standardizer = make_encoder(Xv, search).fit(Xv)
    Xs = search._standardizer.transform(Xv)
    train_idx, valid_idx = _search_rows(*search._split(len(Xs), rng))
    score_rows = _score_rows(train_idx, valid_idx)
    context = {"X_train": Xs[train_idx], "X_valid": Xs[valid_idx], "X_score": Xs[score_rows], "X_fixed": Xs,
               "score_rows": score_rows, "y_train": None, "y_valid": None, "rng": rng,
               "start": time.perf_counter(), "X": Xv}
    return context, np.asarray(y)[score_rows]


def search_setup(X, y, seed, max_epochs):
    """The data and settings a default search gives its candidates on ``X`` (labels kept out)."""
    from sknas import RandomFeatureSearch

    k = len(np.unique(y))
    search = RandomFeatureSearch(n_clusters=k, random_state=seed, device="cpu", max_epochs=max_epochs)
    context, y_score = prepare(search, X, y)
    data = {key: context[key] for key in ("X_train", "X_valid", "X_score", "y_train", "y_valid")}
    return data, search._candidate_settings(), y_score, context["rng"]


def load_table(name, rows, seed=0):
    import judge_tables

    X, y = judge_tables.load(name)
    if rows and len(X) > rows:  # a stratified subsample, the same for every architecture
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(X)), train_size=rows, stratify=y, random_state=seed)
        keep = np.sort(keep)
        X, y = X.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]
    return X, np.asarray(y)


def run_table(name, archs, seeds, rows, max_epochs, log):
    from sklearn.metrics import adjusted_rand_score

    evaluate = evaluate_fn()
    X, y = load_table(name, rows)
    shape = (len(archs), len(seeds))
    out = {key: np.full(shape, np.nan) for key in ("score", "separability", "ari", "time")}
    valid = np.zeros(shape, dtype=bool)
    params = np.zeros(len(archs), dtype=np.int64)
    start = time.perf_counter()
    for j, seed in enumerate(seeds):
        data, settings, y_score, rng = search_setup(X, y, seed, max_epochs)
        for i, arch in enumerate(archs):
            # one candidate seed per (architecture, seed), drawn as a search draws them
            record = evaluate(arch, int(rng.randint(2**31 - 1)), data, settings)
            params[i] = record["params"]
            out["time"][i, j] = record["time"]
            if record["status"] == "ok" and record["valid"]:
                valid[i, j] = True
                out["score"][i, j] = record["score"]
                out["separability"][i, j] = record.get("separability", np.nan) or np.nan
                out["ari"][i, j] = adjusted_rand_score(y_score[:len(record["labels"])], record["labels"])
            if (i + 1) % 50 == 0:
                log(f"{name} seed {seed}: {i + 1}/{len(archs)} in {time.perf_counter() - start:.0f} s")
    return {"n_rows": len(X), "n_features": X.shape[1], "k": int(len(np.unique(y))), "seeds": list(seeds),
            "valid": valid.tolist(), "params": params.tolist(),
            **{key: np.round(value, 5).tolist() for key, value in out.items()},
            "wall_s": time.perf_counter() - start}


def load_data(path=DATA):
    with gzip.open(path, "rt") as fh:
        return json.load(fh)


def save_data(data, path=DATA):
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt") as fh:
        json.dump(data, fh, separators=(",", ":"))
    os.replace(tmp, path)


def main():
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-archs", type=int, default=500)
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--max-epochs", default="100")
    parser.add_argument("--time-only", type=int, default=0, help="time this many architectures per table, save nothing")
    args = parser.parse_args()
    max_epochs = args.max_epochs if args.max_epochs == "auto" else int(args.max_epochs)
    archs = tabulated_architectures(args.n_archs)

    def log(msg):
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    if args.time_only:
        for name in args.tables:
            t = run_table(name, archs[:args.time_only], args.seeds, args.rows, max_epochs, lambda m: None)
            times = np.asarray(t["time"])
            log(f"{name}: rows {t['n_rows']} x {t['n_features']}, {times.mean():.2f} s per candidate "
                f"(median {np.median(times):.2f}, max {times.max():.2f}), wall {t['wall_s']:.1f} s")
        return
    data = load_data() if DATA.exists() else {
        "architectures": [a.to_json() for a in archs], "space_seed": SPACE_SEED, "rows": args.rows,
        "max_epochs": max_epochs, "machine": f"{platform.machine()} CPU, 1 torch thread, shared 2-core box",
        "command": " ".join(sys.argv), "tables": {}}
    if data["architectures"] != [a.to_json() for a in archs]:
        raise SystemExit("The stored architectures differ from --n-archs's; use a new file.")
    for name in args.tables:
        if name in data["tables"]:
            log(f"{name}: kept")
            continue
        data["tables"][name] = run_table(name, archs, args.seeds, args.rows, max_epochs, log)
        save_data(data)
        log(f"{name}: done in {data['tables'][name]['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
