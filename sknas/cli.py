"""Command line: ``sknas demo`` and ``sknas search customers.csv --out DIR`` (or ``python -m sknas ...``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings


def _map_name(architecture, long=False):
    """A feature map in plain words."""
    if architecture.head == "identity":
        return "the raw columns (standardised, no learned map)" if long else "the raw columns"
    if architecture.head == "lda":
        return ("the LDA map, a linear projection fitted (not trained) to separate the clusters KMeans finds"
                if long else "the LDA map")
    depth = len(architecture.blocks)
    name = "a one-layer linear network" if not depth else f"a {depth + 1}-layer network"
    return f"{name}, {architecture}" if long and depth else name


def explain_choice(search):
    """Plain sentences on which feature map a fitted search chose, why, and what that means.

    A fixed map (the raw columns or the LDA map) is kept unless a trained
    network beats it by sknas.config's ``fixed_map_margin`` (see ``sknas.search.base.fixed_map_margin``).

    Examples
    --------
    >>> from sknas import RandomFeatureSearch
    >>> from sknas.cli import explain_choice
    >>> from sknas.datasets import make_customers
    >>> X, _ = make_customers(n_samples=200, random_state=0, return_X_y=True)
    >>> search = RandomFeatureSearch(n_clusters=5, max_trials=4, max_epochs=2, random_state=0, device="cpu").fit(X)
    >>> print(explain_choice(search)[0])
    The search scored 4 feature maps without labels ...
    """
    from .search.base import fixed_map_margin
    from .space.architecture import FIXED_HEADS

    scoring = search._scoring()
    # the margin the search ran with (recorded in provenance_), else the one in force
    margin = fixed_map_margin(scoring, getattr(search, "provenance_", {}).get("config"))
    scored = [r for r in search.search_history_ if r.get("selection_score") is not None]
    chosen, won = search.architecture_, search.best_score_
    fixed = [r for r in scored if r["architecture"].head in FIXED_HEADS]
    networks = [r for r in scored if r["architecture"].head not in FIXED_HEADS]
    kinds = sorted({_map_name(r["architecture"]) for r in fixed}, key=lambda name: "lda" in name.lower())
    n_networks = len({r["architecture"] for r in networks})
    lines = [f"The search scored {len({r['architecture'] for r in scored})} feature maps without labels (how "
             f"clearly the rows fall into {search.n_clusters} groups; higher is better): "
             + ", ".join(kinds) + (" and " if kinds else "") + f"{n_networks} trained network"
             + "s" * (n_networks != 1) + "."]
    best_net = max(networks, key=lambda r: r["selection_score"], default=None)
    best_fixed = max(fixed, key=lambda r: r["selection_score"], default=None)
    replaced = (getattr(search, "final_check_", None) or {}).get("replaced")
    rule = (f"A network must beat the best fixed map by {margin:g} to replace it, since one network's score moves "
            "about that much with its training seed alone") if margin else ""
    if replaced:  # the final check put another map in place of the search's winner: the scores did not decide
        column = search.final_check_.get("closest_column")
        lines.append(f"It kept {_map_name(chosen, long=True)} (score {won:.3f}). Its first choice, {replaced}, scored "
                     f"higher, but once retrained on every row its segments restated an input column, so the best "
                     f"map whose segments did not took its place (closest column now: {column}).")
        lines.append("What this means for you: the segments below are KMeans on that map "
                     f"({search.efficiency_['params']} parameters); the first choice's would have been a group-by.")
    elif chosen.head in FIXED_HEADS:
        if best_net is None:
            lines.append(f"It kept {_map_name(chosen, long=True)} (score {won:.3f}); no network was scored.")
        else:
            gap = best_net["selection_score"] - won
            lines.append(f"It kept {_map_name(chosen, long=True)}: score {won:.3f}, against "
                         f"{best_net['selection_score']:.3f} for the best trained one, "
                         f"{_map_name(best_net['architecture'])}.")
            if rule:
                lines.append(f"{rule}; the best network was " + (f"ahead by only {gap:.3f}" if gap > 0 else
                                                                 f"{-gap:.3f} below it")
                             + f", so {_map_name(chosen)} stays.")
        what = "a linear view of your columns" if chosen.head == "lda" else "your standardised columns as they are"
        lines.append(f"What this means for you: on this table {what} separates the segments as well as any network "
                     f"the search tried, so the segments below are KMeans on that map: small "
                     f"({search.efficiency_['params']} parameters), fast, and the same for the same seed. A longer "
                     "search (more trials) or more rows can still let a network through.")
    else:
        lines.append(f"It chose {_map_name(chosen, long=True)}: score {won:.3f}"
                     + (f", against {best_fixed['selection_score']:.3f} for {_map_name(best_fixed['architecture'])}"
                        if best_fixed is not None else "") + ".")
        if rule and best_fixed is not None:
            lines.append(f"{rule}; this one was ahead by {won - best_fixed['selection_score']:.3f}.")
        lines.append("What this means for you: the network found group structure that the raw columns and a "
                     f"linear view of them miss; transform runs it ({search.efficiency_['params']} parameters).")
    restating = {str(r["closest_column"]) for r in scored if r.get("restates_column")}
    if restating and not all(r.get("restates_column") for r in scored):
        lines.append(f"Maps whose segments only restate input columns ({', '.join(sorted(restating))}) were set "
                     "aside: a group-by on those columns gives those.")
    if search.runner_ups_:
        ups = search.runner_ups_
        lines.append("Runner-ups: " + ", ".join(f"{_map_name(r['architecture'])} ({r['selection_score']:.3f})"
                                                for r in ups)
                     + "; their segments agree with the chosen ones at ARI "
                     + ", ".join(f"{r['agreement_with_winner']:.2f}" for r in ups) + " (1 = the same segments).")
    return lines


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
    import textwrap

    print("Why this feature map:", file=out)
    for sentence in explain_choice(search):
        print(textwrap.fill(sentence, width=100, initial_indent="- ", subsequent_indent="  "), file=out)
    print(file=out)

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


#: Delimiters a CSV file is sniffed for: spreadsheets in locales with a decimal comma write ";".
CSV_DELIMITERS = ",;\t|"
#: Encodings a CSV file is tried in, in order: UTF-8, Windows' Western European code page (which many
#: spreadsheet exports still use), then Latin-1, which decodes any byte (so the last try always reads).
CSV_ENCODINGS = ("utf-8", "cp1252", "latin-1")
#: Files read with another pandas reader, and the package it needs.
OTHER_FORMATS = {".xlsx": ("read_excel", "openpyxl"), ".xlsm": ("read_excel", "openpyxl"),
                 ".xls": ("read_excel", "xlrd"), ".parquet": ("read_parquet", "pyarrow")}


def read_table(csv, sep=None, decimal=None):
    """The table in file ``csv`` as a DataFrame: a CSV, or an Excel or Parquet file by its suffix.

    A CSV's delimiter is sniffed from its first lines when ``sep`` is None, and its encoding is UTF-8 or else
    Windows-1252 (a spreadsheet's export). A file written with ``;`` (a spreadsheet's export where the decimal
    mark is a comma) is read with ``decimal=","`` unless ``decimal`` says otherwise; numbers written with a
    point there stay text, which :class:`~sknas.preprocessing.table_columns.TableColumns` still reads as numbers.
    """
    import csv as csv_module
    import importlib.util
    import os

    import pandas as pd

    if not os.path.isfile(csv):
        raise SystemExit(f"sknas search: no file {csv}.")
    suffix = os.path.splitext(str(csv))[1].lower()
    if suffix in OTHER_FORMATS:
        reader, package = OTHER_FORMATS[suffix]
        if importlib.util.find_spec(package) is None:
            raise SystemExit(f"sknas search: reading {suffix} files needs {package} (pip install {package}); "
                             "or save the table as CSV.")
        return getattr(pd, reader)(csv)
    for encoding in CSV_ENCODINGS:
        try:
            with open(csv, newline="", encoding=encoding) as handle:
                head = handle.read(64 * 1024)
            delimiter = sep
            if delimiter is None:
                try:
                    delimiter = csv_module.Sniffer().sniff(head, delimiters=CSV_DELIMITERS).delimiter
                except csv_module.Error:  # one column, or no delimiter stands out: pandas' own default
                    delimiter = ","
            mark = decimal if decimal is not None else ("," if delimiter == ";" else ".")
            return pd.read_csv(csv, sep=delimiter, decimal=mark, encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def run_search(csv, out_dir, *, method="random", clusters="auto", clusterer="kmeans", cluster_range=(2, 10),
               n_components=8, max_trials=10, max_epochs="auto", drop=(), id_column=None, random_state=0,
               threads=None, device="auto", out=None, sep=None, decimal=None):
    """Segment the rows of a CSV file; write segments.csv, model.zip (sknas.save) and report.html to ``out_dir``.

    Columns are used as AutoSegmenter sees a DataFrame (``column_roles_``: ids
    and constant columns left out, yes/no as 0/1, dates as days, numbers,
    other columns as categories); ``drop`` names columns to ignore,
    ``id_column`` one to copy into segments.csv (and ignore; by default the
    first id-like column found, else the row number).  ``sep`` and
    ``decimal`` are sniffed when None (:func:`read_table`).  Returns the
    fitted AutoSegmenter.
    """
    import os

    import pandas as pd
    import torch

    from . import AutoSegmenter, save
    from .reporting.report import write_report

    out = sys.stdout if out is None else out
    if threads:
        torch.set_num_threads(threads)
    table = read_table(csv, sep=sep, decimal=decimal)
    ignored = [*drop, *([id_column] if id_column else [])]
    missing = [c for c in ignored if c not in table.columns]
    if missing:
        raise SystemExit(f"sknas search: no column(s) {missing} in {csv}; columns are {list(table.columns)}.")
    X = table.drop(columns=ignored)
    n_clusters = clusters if clusters == "auto" else int(clusters)
    print(f"sknas search: {len(X)} rows x {X.shape[1]} columns from {csv}; method={method}, clusters={clusters}",
          file=out)
    start = time.perf_counter()
    segmenter = AutoSegmenter(feature_map=method, clusterer=clusterer, n_clusters=n_clusters,
                              cluster_range=tuple(cluster_range), n_components=n_components, max_trials=max_trials,
                              max_epochs=max_epochs, device=device, random_state=random_state).fit(X)
    os.makedirs(out_dir, exist_ok=True)
    segments = pd.DataFrame({"segment": segmenter.labels_})
    key = id_column or next((c for c, role in segmenter.column_roles_.items() if role == "id"), None)
    segments.insert(0, key or "row", table[key].to_numpy() if key else range(len(table)))
    segments.to_csv(os.path.join(out_dir, "segments.csv"), index=False)
    save(segmenter, os.path.join(out_dir, "model.zip"))
    write_report(segmenter, X, os.path.join(out_dir, "report.html"), title=f"sknas segmentation of {csv}")
    print(f"{segmenter.n_clusters_} segments in {time.perf_counter() - start:.1f} s; feature map "
          f"{segmenter.search_.architecture_}", file=out)
    if getattr(segmenter, "deskewed_", False):
        print("  (every number of segments left a tiny segment of far rows, so long-tailed columns were "
              "power-transformed and the search ran again)", file=out)
    for segment, row in segmenter.segment_profiles_.iterrows():  # what a marketer reads first: size and drivers
        print(f"  segment {segment}: {row['size']} rows ({row['share']:.1%}): {row['description']}", file=out)
    print(f"Wrote {out_dir}/segments.csv, {out_dir}/model.zip (sknas.load) and {out_dir}/report.html", file=out)
    return segmenter


def _epochs_arg(text):
    """``--max-epochs``: a positive int or "auto"."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int or 'auto', got {text!r}")
    return value


@contextlib.contextmanager
def _plain_warnings():
    """Warnings as a command-line user reads them: ``warning: <text>`` on stderr, without the file and source line
    that raised them (``<frozen runpy>:88: UserWarning: ...`` under ``python -m sknas``)."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr if file is None else file)

    with warnings.catch_warnings():  # puts the usual display back afterwards
        warnings.showwarning = show
        yield


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sknas", description="Neural architecture search for segmentation.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="segment the bundled customer table and compare with classical recipes")
    demo.add_argument("--n-samples", type=int, default=2000)
    demo.add_argument("--max-trials", type=int, default=16)
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    from .autosegment import METHODS

    search = sub.add_parser("search", help="segment the rows of a CSV: segments.csv, model.zip, report.html")
    search.add_argument("csv", help="a table with a header row: CSV (or .xlsx/.parquet with openpyxl/pyarrow); "
                        "ids and constant columns are left out")
    search.add_argument("--out", required=True, help="output directory")
    search.add_argument("--method", choices=METHODS, default="random", help="search method (default: random)")
    search.add_argument("--clusters", default="auto", help="number of segments, or 'auto' (default)")
    search.add_argument("--cluster-range", type=int, nargs=2, default=(2, 10), metavar=("LOW", "HIGH"),
                        help="k tried by --clusters auto (default: 2 10)")
    search.add_argument("--clusterer", choices=("kmeans", "gmm"), default="kmeans")
    search.add_argument("--n-components", type=int, default=8, help="embedding width (default: 8)")
    search.add_argument("--max-trials", type=int, default=10, help="candidates searched (default: 10)")
    search.add_argument("--max-epochs", type=_epochs_arg, default="auto",
                        help="epochs per candidate: an int or 'auto' (default: enough for 1,000 updates, at least 40)")
    search.add_argument("--drop", nargs="*", default=(), help="columns to ignore")
    search.add_argument("--id-column", default=None, help="a column copied to segments.csv, not used to segment")
    search.add_argument("--sep", default=None, help="the CSV's delimiter (default: sniffed among , ; tab |)")
    search.add_argument("--decimal", default=None, help="the decimal mark (default: ',' in a ';' file, else '.')")
    search.add_argument("--device", default="auto", help="auto, cpu or cuda")
    search.add_argument("--random-state", type=int, default=0)
    search.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    with _plain_warnings():
        return _run(parser, args)


def _run(parser, args):
    if args.command == "demo":
        run_demo(args.n_samples, args.max_trials, args.random_state, args.threads)
    elif args.command == "search":
        if args.clusters != "auto" and not args.clusters.isdigit():
            parser.error(f"--clusters must be a positive integer or 'auto', got {args.clusters!r}")
        run_search(args.csv, args.out, method=args.method, clusters=args.clusters, clusterer=args.clusterer,
                   cluster_range=args.cluster_range, n_components=args.n_components, max_trials=args.max_trials,
                   max_epochs=args.max_epochs, drop=args.drop, id_column=args.id_column,
                   random_state=args.random_state, threads=args.threads, device=args.device, sep=args.sep,
                   decimal=args.decimal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
