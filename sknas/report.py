"""A self-contained HTML report of a fitted :class:`~sknas.AutoSegmenter` (plots embedded as PNG).

One file, no external resources, so it can be mailed or archived beside the
model: the segments (sizes, profiles), the search (convergence, the chosen
architecture, quality against cost), a comparison with classical recipes on
the same rows, efficiency figures and the provenance.  Needs matplotlib
(``pip install 'sknas[plot]'``); plots are drawn with the Agg backend.
"""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #446; padding-bottom: .2em; } h2 { color: #335; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 90%; }
td, th { border: 1px solid #ccd; padding: .25em .6em; text-align: right; } th { background: #eef; }
td.key { text-align: left; font-weight: 600; } img { max-width: 100%; border: 1px solid #eee; margin: .4em 0; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid > div { flex: 1 1 480px; } .note { color: #666; }
"""


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(data, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The HTML report needs matplotlib: pip install 'sknas[plot]'") from exc
    matplotlib.use("Agg", force=False)  # no display needed; a no-op if another backend is already in use
    import matplotlib.pyplot as plt

    return plt


def _cell(value):
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _restating_candidates(search):
    """(architecture, column, NMI) of each distinct search candidate whose segments restate one column."""
    seen, rows = set(), []
    for r in getattr(search, "search_history_", []):
        if r.get("restates_column") and r["architecture"] not in seen:
            seen.add(r["architecture"])
            rows.append((str(r["architecture"]), r["closest_column"], r["column_nmi"]))
    return rows


def _table(rows, header=None):
    """Rows of (key, value, ...) as an HTML table; the first column is a key."""
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append(f'<tr><td class="key">{_cell(row[0])}</td>' + "".join(f"<td>{_cell(v)}</td>" for v in row[1:])
                   + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _flatten(value, prefix=""):
    """Nested dicts as (dotted key, value) rows."""
    if isinstance(value, dict):
        rows = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    if isinstance(value, list) and len(value) > 12:
        value = value[:12] + ["..."]
    return [(prefix, value)]


# -- plots ---------------------------------------------------------------------------------------------------
def _plot_sizes(segmenter, plt):
    profile = segmenter.segment_profiles_
    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.bar([str(i) for i in profile.index], profile["size"], color="#5b7bb5")
    for i, (size, share) in enumerate(zip(profile["size"], profile["share"])):
        ax.text(i, size, f"{share:.0%}", ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("segment")
    ax.set_ylabel("customers")
    ax.set_title("Segment sizes")
    return _png(fig)


def _plot_profiles(segmenter, plt):
    """Each segment's median of each numeric column, as a z-score against all rows."""
    profile = segmenter.segment_profiles_
    numeric = [c for c in profile.columns[2:] if c not in segmenter.categorical_columns_]
    if not numeric:
        return None
    values = profile[numeric].to_numpy(dtype=float)
    centre, spread = segmenter._input_scaler.mean_ * segmenter._input_scaler.peak_, \
        segmenter._input_scaler.std_ * segmenter._input_scaler.peak_
    z = (values - centre) / spread
    fig, ax = plt.subplots(figsize=(min(1 + 0.7 * len(numeric), 11), 0.6 * len(profile) + 1.5))
    image = ax.imshow(z, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(len(numeric)), numeric, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(profile)), [f"segment {i}" for i in profile.index], fontsize=8)
    for (r, c), v in np.ndenumerate(z):
        ax.text(c, r, f"{values[r, c]:.3g}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="median vs all rows (z)")
    ax.set_title("Segment profiles (median per column)")
    return _png(fig)


def _plot_convergence(search, plt):
    history = [r for r in search.search_history_ if r.get("valid") and np.isfinite(r.get("score", np.nan))]
    if not history:
        return None
    trials = [r["trial"] for r in history]
    scores = [r["score"] for r in history]
    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.plot(trials, scores, "o", ms=4, alpha=0.6, label="candidate")
    ax.step(trials, np.maximum.accumulate(scores), where="post", color="black", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("label-free score")
    ax.set_title(f"Search convergence ({type(search).__name__})")
    ax.legend(fontsize=8)
    return _png(fig)


def _plot_with(function, *args, size=(5.5, 3)):
    from . import plotting

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
    getattr(plotting, function)(*args, ax=ax)
    return _png(fig)


# -- comparison ----------------------------------------------------------------------------------------------
def compare_with_classical(segmenter, X, random_state=0):
    """Label-free scores of sknas's segments and of classical recipes on the same rows.

    Every partition is judged in the same space (standardised numbers, 0/1
    categories; see :mod:`sknas.metrics`), with the same k.

    Returns
    -------
    list of dict
        ``recipe``, ``silhouette``, ``separability``, ``agreement`` (ARI with
        sknas's segments).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    from .evaluation import separability

    Xe, numeric, _ = segmenter._encode(X, reset=False)
    space = segmenter._selection_space(Xe, numeric.shape[1])
    k = segmenter.n_clusters_
    rows = np.random.RandomState(0).choice(len(space), min(len(space), 3000), replace=False)
    ours = segmenter.predict(X)
    recipes = {
        f"sknas AutoSegmenter ({segmenter.method if isinstance(segmenter.method, str) else 'custom'})": ours,
        "KMeans on the raw columns": KMeans(k, n_init=10, random_state=random_state).fit_predict(space),
        "PCA + KMeans": KMeans(k, n_init=10, random_state=random_state).fit_predict(
            PCA(min(8, space.shape[1]), random_state=random_state).fit_transform(space)),
        "Gaussian mixture": GaussianMixture(k, reg_covar=1e-4, random_state=random_state).fit(space).predict(space),
    }
    out = []
    for name, labels in recipes.items():
        ok = 1 < len(np.unique(labels[rows])) < len(rows)
        out.append({"recipe": name,
                    "silhouette": float(silhouette_score(space[rows], labels[rows])) if ok else math.nan,
                    "separability": float(separability(space[rows], labels[rows])) if ok else math.nan,
                    "agreement": float(adjusted_rand_score(ours, labels))})
    return out


# -- the report ----------------------------------------------------------------------------------------------
def build_report(segmenter, X, title="sknas segmentation report"):
    """The report of a fitted AutoSegmenter on the rows ``X`` it segmented, as an HTML string.

    Parameters
    ----------
    segmenter : AutoSegmenter
        Fitted.
    X : array-like or DataFrame
        The rows (for the comparison with classical recipes).
    title : str

    Returns
    -------
    str
        A self-contained HTML document (plots embedded as base64 PNG).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(segmenter, "segment_profiles_")
    plt = _pyplot()
    search = segmenter.search_
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    prov = segmenter.provenance_
    parts.append(f"<p>{len(segmenter.labels_)} rows, {segmenter.n_features_in_} columns, "
                 f"<b>{segmenter.n_clusters_} segments</b>; feature map <code>{html.escape(str(search.architecture_))}"
                 f"</code> found by {type(search).__name__} in {prov.get('search_time_s', math.nan):.1f} s.</p>")

    parts.append("<h2>Segments</h2><div class='grid'>")
    parts.append(f"<div>{_img(_plot_sizes(segmenter, plt), 'segment sizes')}</div>")
    profile_png = _plot_profiles(segmenter, plt)
    if profile_png:
        parts.append(f"<div>{_img(profile_png, 'segment profiles')}</div>")
    parts.append("</div>")
    parts.append(segmenter.segment_profiles_.to_html(float_format=lambda v: f"{v:.4g}", border=0))
    evidence = getattr(segmenter, "k_evidence_", None) or {}
    if evidence:
        parts.append("<p class='note'>Number of segments chosen label-free: the best silhouette in the learned "
                     "embedding among the admissible k (smallest segment at least 2% of rows, segments that do not "
                     "restate one input column).</p>")
        parts.append(_table([(k, e["silhouette"], e["smallest_share"], e["column_nmi"], e["closest_column"] or "",
                              "yes" if e["admissible"] else "no") for k, e in evidence.items()],
                            header=["k", "silhouette", "smallest share", "NMI with closest column", "column",
                                    "admissible"]))

    parts.append("<h2>Search</h2><div class='grid'>")
    if hasattr(search, "search_history_"):  # NeuralFeatureMap (method="none") searches nothing
        convergence = _plot_convergence(search, plt)
        if convergence:
            parts.append(f"<div>{_img(convergence, 'search convergence')}</div>")
        parts.append(f"<div>{_img(_plot_with('plot_pareto_front', search), 'Pareto front of quality against cost')}"
                     "</div>")
    parts.append("</div>")
    n_in = search.net_.module_.encoder.n_features
    parts.append(_img(_plot_with("plot_architecture", search.architecture_, n_in, search.n_components_,
                                 size=(2.2 * (len(search.architecture_.blocks) + 2), 1.6)), "chosen architecture"))
    runner_ups = getattr(search, "runner_ups_", [])
    if runner_ups:
        parts.append("<p>Runner-up feature maps and how much their segments agree with the winner's (ARI):</p>")
        parts.append(_table([(str(r["architecture"]), r["selection_score"], r["agreement_with_winner"])
                             for r in runner_ups], header=["architecture", "score", "agreement"]))

    restating = _restating_candidates(search)
    if restating:
        parts.append("<p>Feature maps kept out of the answer because their segments restate one input column "
                     "(a group-by, not a discovery):</p>")
        parts.append(_table(restating, header=["architecture", "column", "NMI with the column"]))

    parts.append("<h2>Against classical recipes (same rows, same k, label-free)</h2>")
    comparison = compare_with_classical(segmenter, X)
    parts.append(_table([(r["recipe"], r["silhouette"], r["separability"], r["agreement"]) for r in comparison],
                        header=["recipe", "silhouette", "separability", "agreement with sknas (ARI)"]))
    parts.append("<p class='note'>Scores judge each partition in the standardised input space (higher is better); "
                 "without labels they cannot say which segmentation is <i>right</i>, only which is better "
                 "separated there.</p>")

    eff = search.efficiency_
    parts.append("<h2>Efficiency</h2>")
    parts.append(_table([("parameters", eff["params"]), ("FLOPs per row", eff["flops"]),
                         ("CPU latency per 1,000 rows (ms)", eff["latency_ms_per_1000_rows"]),
                         ("search time (s)", search.search_time_), ("whole fit of the search (s)", search.fit_time_),
                         ("candidates evaluated", len(getattr(search, "search_history_", [])))]))

    parts.append("<h2>Provenance</h2>")
    parts.append(_table(_flatten(prov)))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(segmenter, X, path, title="sknas segmentation report"):
    """Write :func:`build_report` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(build_report(segmenter, X, title=title))
    return path
