"""A self-contained HTML report of a fitted :class:`~sknas.AutoSegmenter` (plots embedded as PNG).

One file, no external resources, so it can be mailed or archived beside the
model: the segments (sizes, profiles), the search (convergence, the chosen
architecture, quality against cost), a comparison with classical recipes on
the same rows, efficiency figures and the provenance.  Needs matplotlib
(``pip install 'sknas[plot]'``); plots are drawn on :class:`matplotlib.figure.Figure`
objects, so the user's matplotlib backend is left as it is.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import Counter

import numpy as np

from ..config import get_config

#: Rows drawn on the segment map at most (a random subsample).
MAP_ROWS = 3000
#: What each column role of ``AutoSegmenter.column_roles_`` means for the segmentation.
_ROLE_NOTES = {"numeric": "number (a missing value becomes the median)",
               "flag": "yes/no as 0/1 (a missing value becomes the most frequent)",
               "date": "days since the earliest date (a missing value becomes the median)",
               "categorical": "category (a missing value is a category of its own)"}
_TEXT_NUMBER_NOTE = "number read from text (blanks, NA and the like are missing, which becomes the median)"

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #446; padding-bottom: .2em; } h2 { color: #335; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 90%; }
td, th { border: 1px solid #ccd; padding: .25em .6em; text-align: right; } th { background: #eef; }
td.key { text-align: left; font-weight: 600; } img { max-width: 100%; border: 1px solid #eee; margin: .4em 0; }
td.text, th.text { text-align: left; } figure { margin: 0; }
figcaption { color: #555; font-size: 88%; max-width: 40em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; } .grid > div { flex: 1 1 480px; } .note { color: #666; }
"""


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(data, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figure(size):
    """A matplotlib Figure outside pyplot: drawn by its own canvas, no backend chosen or switched."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The HTML report needs matplotlib: pip install 'sknas[plot]'") from exc
    return Figure(figsize=size)


def _cell(value):
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _restating_candidates(search):
    """(architecture, column, NMI) of each distinct search candidate whose segments restate one column or a pair."""
    seen, rows = set(), []
    for r in getattr(search, "search_history_", []):
        if r.get("restates_column") and r["architecture"] not in seen:
            seen.add(r["architecture"])
            rows.append((str(r["architecture"]), r["closest_column"], r["column_nmi"]))
    return rows


def _final_check_note(search):
    """A sentence on the final check (``final_check_``) when it found the final segments restating a column."""
    check = getattr(search, "final_check_", None) or {}
    if check.get("replaced"):
        return (f"<p>The search chose <code>{html.escape(check['replaced'])}</code>, but once retrained on every row "
                f"its segments restated an input column; <code>{html.escape(str(search.architecture_))}</code>, "
                f"the best candidate whose segments did not, took its place (its closest column: "
                f"{html.escape(str(check['closest_column']))}, NMI {check['column_nmi']:.2f}).</p>")
    if check.get("restates_column"):
        return (f"<p class='note'>Retrained on every row, the chosen map's segments restate "
                f"{html.escape(str(check['closest_column']))} (NMI {check['column_nmi']:.2f}) and no other candidate "
                "could take its place: they restated a column too, or no time was left to retrain one. A group-by on "
                "that column gives much the same segments.</p>")
    return ""


def _table(rows, header=None, text=False):
    """Rows of (key, value, ...) as an HTML table; the first column is a key; ``text``: cells aligned left."""
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    td = "<td class='text'>" if text else "<td>"
    if text:
        out[-1] = out[-1].replace("<th>", "<th class='text'>")
    for row in rows:
        out.append(f'<tr><td class="key">{_cell(row[0])}</td>' + "".join(f"{td}{_cell(v)}</td>" for v in row[1:])
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
def _plot_sizes(segmenter):
    profile = segmenter.segment_profiles_
    fig = _figure((5.5, 3))
    ax = fig.subplots()
    from .plotting import segment_colors

    colors = segment_colors(profile.index)
    ax.bar([str(i) for i in profile.index], profile["size"], color=[colors[i] for i in profile.index])
    for i, (size, share) in enumerate(zip(profile["size"], profile["share"])):
        ax.text(i, size, f"{share:.0%}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.15 * max(profile["size"].max(), 1))
    ax.set_xlabel("segment")
    ax.set_ylabel("customers")
    ax.set_title("Segment sizes")
    return _png(fig)


def _plot_profiles(segmenter):
    """Each segment's median of each numeric column, as a z-score against all rows."""
    profile = segmenter.segment_profiles_
    numeric = [c for c in profile.columns if c not in ("size", "share", "description")
               and c not in segmenter.categorical_columns_]
    if not numeric:
        return None
    values = profile[numeric].to_numpy(dtype=float)
    centre, spread = segmenter._input_scaler.mean_ * segmenter._input_scaler.peak_, \
        segmenter._input_scaler.std_ * segmenter._input_scaler.peak_
    z = (values - centre) / spread
    fig = _figure((min(1 + 0.7 * len(numeric), 11), 0.6 * len(profile) + 1.5))
    ax = fig.subplots()
    image = ax.imshow(z, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(len(numeric)), numeric, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(profile)), [f"segment {i}" for i in profile.index], fontsize=8)
    for (r, c), v in np.ndenumerate(z):
        ax.text(c, r, f"{values[r, c]:,.0f}" if abs(values[r, c]) >= 1000 else f"{values[r, c]:.3g}",
                ha="center", va="center", fontsize=7, color="white" if abs(v) > 1.3 else "black")
    fig.colorbar(image, ax=ax, label="median vs all rows (z)")
    ax.set_title("Segment profiles (median per column)")
    return _png(fig)


def _plot_convergence(search):
    history = [r for r in search.search_history_ if r.get("valid") and np.isfinite(r.get("score", np.nan))]
    if not history:
        return None
    trials = [r["trial"] for r in history]
    scores = [r["score"] for r in history]
    fig = _figure((5.5, 3))
    ax = fig.subplots()
    ax.plot(trials, scores, "o", ms=4, alpha=0.6, label="candidate")
    ax.step(trials, np.maximum.accumulate(scores), where="post", color="black", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("label-free score")
    ax.set_title(f"Search convergence ({type(search).__name__})")
    ax.legend(fontsize=8)
    return _png(fig)


def _plot_with(function, *args, size=(5.5, 3), **kwargs):
    """A :mod:`sknas.reporting.plotting` function drawn on a new Figure, as PNG."""
    from . import plotting

    fig = _figure(size)
    getattr(plotting, function)(*args, ax=fig.subplots(), **kwargs)
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

    from ..evaluation import separability

    Xe, numeric, _ = segmenter._encode(X, reset=False)
    space = segmenter._selection_space(Xe, numeric.shape[1])
    k = segmenter.n_clusters_
    rows = np.random.RandomState(0).choice(len(space), min(len(space), 3000), replace=False)
    ours = segmenter.predict(X)
    recipes = {
        f"sknas AutoSegmenter ({type(segmenter.search_).__name__})": ours,  # the fitted map, whatever named it
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


# -- sections -------------------------------------------------------------------------------------------------
def _figure_html(png, alt, caption):
    return f"<figure>{_img(png, alt)}<figcaption>{caption}</figcaption></figure>"


def _segments_section(segmenter, X):
    """What a marketer reads: each segment in one line, the map, the drivers, sizes and column summaries."""
    profile = segmenter.segment_profiles_
    segments = list(profile.index)
    parts = ["<h2>Segments</h2>"]
    if "description" in profile:
        parts.append("<p>Each segment against the other customers: its strongest differences, numbers in standard "
                     "deviations (sd), categories and yes/no columns as the share in the segment vs the rest.</p>")
        rows = [(s, int(r["size"]), f"{r['share']:.1%}", r["description"]) for s, r in profile.iterrows()]
        parts.append(_table(rows, header=["segment", "customers", "share", "what sets it apart"], text=True))
    parts.append("<div class='grid'>")
    rows = np.random.RandomState(0).permutation(len(X))[:MAP_ROWS]
    subset = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
    embedding = segmenter.transform(subset)
    drawn = f"all {len(X):,} rows" if len(rows) == len(X) else f"{len(rows):,} of {len(X):,} rows, drawn at random"
    parts.append("<div>" + _figure_html(
        _plot_with("plot_segment_map", embedding, segmenter.predict(subset), segments=segments, size=(6, 4.6)),
        "segment map",
        f"Each dot is a customer ({drawn}), coloured by segment. The axes "
        f"are the first two principal components of the learned {embedding.shape[1]}-dimensional embedding the "
        "segments were found in (<code>transform(X)</code>); they have no unit. Segments that overlap here may "
        "still be apart in the other dimensions.") + "</div>")
    drivers = getattr(segmenter, "segment_drivers_", None)
    if drivers is not None and len(drivers):
        height = 0.32 * min(3, drivers["column"].nunique()) * len(segments) + 0.2 * len(segments) + 1.2
        parts.append("<div>" + _figure_html(
            _plot_with("plot_segment_drivers", drivers, segments=segments, size=(6.5, height)), "segment drivers",
            "The three columns that set each segment apart most, as the standardised mean difference against the "
            "other customers (segment mean minus the rest's mean, over the pooled standard deviation; for a "
            "category, of its yes/no indicator). |0.2| is a small difference, |0.8| a large one. All drivers: "
            "<code>segment_drivers_</code>.") + "</div>")
    parts.append("</div><div class='grid'>")
    parts.append(f"<div>{_img(_plot_sizes(segmenter), 'segment sizes')}</div>")
    profile_png = _plot_profiles(segmenter)
    if profile_png:
        parts.append(f"<div>{_img(profile_png, 'segment profiles')}</div>")
    parts.append("</div><p>Median of each numeric column and most frequent value of each category, per segment "
                 "(<code>segment_profiles_</code>):</p>")
    parts.append(profile.drop(columns=["description"], errors="ignore")
                 .to_html(float_format=lambda v: f"{v:.4g}", border=0))
    return parts


def _k_section(segmenter):
    """The evidence behind ``n_clusters="auto"``: a chart and a table of every key per k."""
    evidence = getattr(segmenter, "k_evidence_", None) or {}
    if not evidence:
        return []
    stability = any(e.get("stability") is not None for e in evidence.values())
    config = get_config()
    alpha = config["split_dip_alpha"]
    parts = ["<h2>Number of segments</h2>"]
    parts.append(_figure_html(
        _plot_with("plot_k_evidence", evidence, segmenter.n_clusters_, size=(6, 3.4)), "evidence per k",
        f"The learned embedding was segmented at every k tried and k = {segmenter.n_clusters_} chosen label-free "
        "(star), scored by the silhouette in the embedding among the admissible k: the smallest segment holds at "
        f"least {config['min_segment_share'] * 100:g}% of the rows and {config['min_segment_rows']} rows, and the "
        "segments do not restate one input column or two together (a group-by is not a discovery)"
        + ("; and the segments come back when refitted on other halves of the rows with other seeds (stability "
           f"at least {config['min_stability']:g}, measured from the best silhouette down until one k passes, so "
           "only the k tried have a figure)" if stability else "")
        + ". Two segments only when no larger k is admissible"
        + (f" or neither of the two holds groups of its own (split pvalue: a dip test on each, at least {alpha:g}),"
           f" no input column tells them most of the way (column NMI below {config['few_segments_max_nmi']:g})"
           " and they come back when refitted"
           if math.isfinite(alpha) else "")
        + ". Crosses mark the k left out; the table says why."))
    chosen = evidence.get(segmenter.n_clusters_, {})
    if getattr(segmenter, "deskewed_", False):
        parts.append("<p>On the table as given, every k left a segment smaller than allowed (far rows of "
                     "long-tailed columns). The search ran once more with those columns power-transformed "
                     "(<code>deskewed_</code>); the evidence is from that run.</p>")
    if chosen and not chosen.get("admissible", True):
        parts.append(f"<p><b>No k met the rules</b>; k = {segmenter.n_clusters_} has the best silhouette among "
                     f"them ({html.escape(str(chosen.get('reason', '')))}). Treat these segments with care.</p>")
    keys = list(dict.fromkeys(key for e in evidence.values() for key in e))

    def cell(value):
        return "yes" if value is True else "no" if value is False else "" if value is None else value

    parts.append(_table([(k, *(cell(e.get(key)) for key in keys)) for k, e in evidence.items()],
                        header=["k", *(key.replace("_", " ") for key in keys)]))
    return parts


def _columns_section(segmenter):
    """How every input column was used (``column_roles_``), and which were left out and why."""
    roles = getattr(segmenter, "column_roles_", None) or {}
    dropped = getattr(segmenter, "dropped_columns_", None) or {}
    if not roles and not dropped:
        return []
    counts = Counter(roles.values())
    parts = ["<h2>Columns</h2>", f"<p>{len(roles)} input columns: "
             + ", ".join(f"{n} {role}" for role, n in counts.most_common())
             + (f"; <b>{len(dropped)} left out</b>" if dropped else "") + ".</p>"]
    notes = dict(_ROLE_NOTES)
    if getattr(segmenter, "native_categoricals_", False):
        notes["categorical"] += ", embedded by the network"
    written = set(getattr(getattr(segmenter, "_table", None), "text_numbers_", ()))  # numbers kept as text
    rows = [(c, role, dropped.get(c, _TEXT_NUMBER_NOTE if c in written else notes.get(role, "")))
            for c, role in roles.items()]
    rows += [(c, "left out", reason) for c, reason in dropped.items() if c not in roles]
    parts.append(_table(rows, header=["column", "role", "how it is used"], text=True))
    return parts


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
    search = segmenter.search_
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    prov = segmenter.provenance_
    parts.append(f"<p>{len(segmenter.labels_)} rows, {segmenter.n_features_in_} columns, "
                 f"<b>{segmenter.n_clusters_} segments</b>; feature map <code>{html.escape(str(search.architecture_))}"
                 f"</code> found by {type(search).__name__} in {prov.get('search_time_s', math.nan):.1f} s.</p>")
    parts += _segments_section(segmenter, X)
    parts += _k_section(segmenter)
    parts += _columns_section(segmenter)

    parts.append("<h2>Search</h2><div class='grid'>")
    if hasattr(search, "search_history_"):  # NeuralFeatureMap (method="none") searches nothing
        convergence = _plot_convergence(search)
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

    parts.append(_final_check_note(search))
    restating = _restating_candidates(search)
    if restating:
        parts.append("<p>Feature maps kept out of the answer because their segments restate one input column "
                     "or two together (a group-by, not a discovery):</p>")
        parts.append(_table(restating, header=["architecture", "column", "NMI with the column(s)"]))

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
