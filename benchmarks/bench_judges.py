"""Label-free judges replayed on saved candidate pools (issue 20's protocol, step 2 of 2).

Reads the pools of ``judge_pools.py`` (every valid candidate of a default search: its embedding and KMeans
labels of the labelled scoring rows, its own-space scores, the true classes of those rows) and asks each
judge which candidate it would pick. Per judge: Kendall tau of its scores with the candidates' true ARI,
regret = ARI(best candidate of the pool) - ARI(picked candidate), how often it picks a partition that
restates one discrete input column or two together (NMI >= sknas.config's ``restatement_nmi``), and the share
of tables it picks the pool's best on.
Means come with 95% bootstrap intervals over (table, seed) pools (``rliable``-style stratified bootstrap:
tables resampled, then seeds within them). Labels are used only to evaluate.

    python benchmarks/bench_judges.py [--pools benchmarks/pools] [--split dev|held|all] [--out judges_dev]
        [--config '{"restatement_columns": 1}']
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, rankdata
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

import judge_tables
from result_files import print_or_write
from sknas.config import get_config, set_config
from sknas.evaluation.judge import DIP_ALPHA, column_restatement, cross_space_scores, dip_pvalue, discrete_columns
from sknas.evaluation.k_choice import split_stability
from sknas.evaluation.scores import separability
from sknas.evaluation.selection import consensus_scores
from sknas.space.architecture import FIXED_HEADS
from sknas.space.categorical import CategoricalLayout

POOLS = Path(__file__).parent / "pools"


def load_pools(directory, tables, search):
    pools = []
    for path in sorted(directory.glob(f"*__{search}__*.pkl")):
        with open(path, "rb") as fh:
            pool = pickle.load(fh)
        if pool["table"] in tables:
            pools.append(pool)
    return pools


def distinct(records):
    """One record per evaluated (architecture, seed): a cached repeat is the same candidate again."""
    seen, out = set(), []
    for i, r in enumerate(records):
        key = (r["architecture"], r["seed"])
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


def restatements(pool):
    layout = None if pool["layout"] is None else CategoricalLayout(pool["layout"][0], pool["layout"][1])
    columns = discrete_columns(pool["X_score"], layout)
    return np.array([column_restatement(r["labels"], columns)[0] for r in pool["records"]])


def judge_scores(pool, judge):
    """Scores (higher picks) of the pool's records under ``judge``."""
    records = pool["records"]
    own = np.array([r["score"] for r in records])                     # the default: (sil + sep) / 2
    separability = np.array([r["separability"] for r in records])
    if judge == "default (own silhouette + separability)":
        return own
    if judge == "own silhouette":
        return 2 * own - separability
    if judge == "separability":
        return separability
    if judge == "consensus":
        return consensus_scores([r["labels"] for r in records])
    labels = [r["labels"] for r in records]
    spaces = [r["embedding"] for r in records]
    if judge == "cross-space ACE":
        return cross_space_scores(labels, spaces + [pool["X_score"]])
    if judge == "cross-space ACE, embeddings only":
        return cross_space_scores(labels, spaces)
    if judge == "cross-space ACE + separability":
        ace = cross_space_scores(labels, spaces + [pool["X_score"]])
        return (rankdata(ace) + rankdata(separability)) / 2
    if judge == "split stability":
        return stability(pool)
    if judge == "default + split stability / 4":
        return own + stability(pool) / 4
    if judge == "kNN consistency in the input":
        return knn_consistency(pool)
    if judge == "(own silhouette + separability + kNN consistency) / 3":
        return (2 * own + knn_consistency(pool)) / 3
    if judge == "held-out discriminability in the embedding + separability":
        return (own_separability(pool) + separability) / 2
    if judge == "pooled common space":
        return pooled_silhouette(pool)
    if judge == "(own silhouette + separability + pooled) / 3":
        return (2 * own + pooled_silhouette(pool)) / 3
    if judge == "(own silhouette + separability + kNN consistency + pooled) / 4":
        return (2 * own + knn_consistency(pool) + pooled_silhouette(pool)) / 4
    if judge == "k support":
        return k_support(pool)
    if judge == "default + k support / 2":
        return own + k_support(pool) / 2
    if judge == "(own silhouette less its Gaussian null + separability) / 2":
        return own - gaussian_null_silhouette(pool) / 2
    if judge == "raw features when the input looks like one blob (dip test), else the default":
        if dip_pvalue(pool["X_score"]) < DIP_ALPHA:
            return own
        return np.array([1.0 if r["architecture"] == "identity" else 0.0 for r in records])
    if judge == "(silhouette in the input + separability) / 2":
        X = np.asarray(pool["X_score"], dtype=np.float64)
        return np.array([(silhouette_score(X, r["labels"]) if 1 < len(np.unique(r["labels"])) < len(X) else -1.0)
                         / 2 + sep / 2 for r, sep in zip(records, separability)])
    if judge == "default less its fitting procedure's null":
        return own - procedure_null(pool)
    if judge == "default, LDA map's silhouette cross-fitted":
        X = np.asarray(pool["X_score"], dtype=np.float64)
        return np.array([(crossfit_lda_silhouette(X, pool["k"], r["embedding"].shape[1]) + sep) / 2
                         if r["architecture"] == "lda" else score
                         for r, score, sep in zip(records, own, separability)])
    raise ValueError(judge)


def crossfit_lda_silhouette(X, k, n_components, seed=0):
    """The LDA map's silhouette out of sample: the map fitted on one random half of the scoring rows, its KMeans
    segments of the other half judged there, both ways, averaged. The search scores the map on rows it was
    fitted to, and it is fitted to separate exactly the clusters it is then judged on."""
    from sknas.space.builder import LDAHead

    order = np.random.RandomState(seed).permutation(len(X))
    halves = order[:len(X) // 2], order[len(X) // 2:]
    values = []
    for fit_rows, judge_rows in (halves, halves[::-1]):
        head = LDAHead(X.shape[1], n_components).fit_map(X[fit_rows], k, random_state=seed)
        weight = head.weight.numpy().astype(np.float64)
        Z = X[judge_rows] @ weight[np.abs(weight).sum(1) > 0].T
        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(Z)
        values.append(silhouette_score(Z, labels) if 1 < len(np.unique(labels)) < len(Z) else -1.0)
    return float(np.mean(values))


def own_separability(pool):
    """Each candidate's partition judged as separability judges it in the input, but in the candidate's own
    embedding: a shrinkage LDA of its segments fitted on one fold of its scoring rows, the silhouette of the
    other fold's projection. Every candidate is then whitened by its own clusters' scatter (what the LDA map's
    own-space silhouette gets by construction) and judged on rows the projection was not fitted to."""
    return np.array([separability(np.asarray(r["embedding"], dtype=np.float64), r["labels"])
                     for r in pool["records"]])


def knn_consistency(pool, k=15):
    """Each candidate's partition against the input's neighbourhoods: the share of each scoring row's ``k``
    nearest input rows in its segment, less the share chance gives (the sum of the squared segment shares).
    It judges in the space every candidate shares, like separability, but with no linear model: a partition
    that cuts through dense regions loses, however linear it is."""
    from sklearn.neighbors import NearestNeighbors

    n = len(pool["records"][0]["labels"])
    X = np.asarray(pool["X_score"][:n], dtype=np.float64)
    nearest = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    values = []
    for r in pool["records"]:
        labels = np.unique(r["labels"], return_inverse=True)[1]
        chance = float(((np.bincount(labels) / n) ** 2).sum())
        values.append(float((labels[nearest] == labels[:, None]).mean()) - chance)
    return np.array(values)


def _unit_scale(Z):
    Z = np.asarray(Z, dtype=np.float64)
    Z = Z - Z.mean(axis=0)
    return Z / (np.sqrt((Z ** 2).sum(axis=1).mean()) + 1e-12)


def pooled_silhouette(pool):
    """Each candidate's partition judged in one space shared by all: every candidate's embedding and the input,
    each centred and scaled to unit mean squared norm, side by side (the "pooled/common space" of the deep
    clustering model-selection literature issue 20 cites). Unlike ACE it takes no vote between spaces."""
    n = len(pool["records"][0]["labels"])
    shared = np.hstack([_unit_scale(r["embedding"]) for r in pool["records"]] + [_unit_scale(pool["X_score"][:n])])
    return np.array([silhouette_score(shared, r["labels"]) if len(np.unique(r["labels"])) > 1 else -1.0
                     for r in pool["records"]])


def _kmeans_segments(Z, k, seed=0):
    """KMeans(k)'s labels of ``Z`` and their silhouette (-1 when it is not defined)."""
    labels = KMeans(k, n_init=3, random_state=seed).fit_predict(Z)
    return labels, float(silhouette_score(Z, labels)) if 1 < len(np.unique(labels)) < len(Z) else -1.0


def _kmeans_silhouette(Z, k, seed=0):
    return _kmeans_segments(Z, k, seed)[1]


def _gaussian_like(A, seed=0, rows=1000):
    """At most ``rows`` draws of a Gaussian with the mean and covariance of ``A``'s rows: the same table with no
    groups (the gap statistic's reference)."""
    A = np.asarray(A, dtype=np.float64)
    cov = np.cov(A, rowvar=False) + 1e-9 * np.eye(A.shape[1])
    return np.random.RandomState(seed).multivariate_normal(A.mean(axis=0), cov, size=min(rows, len(A)))


def k_support(pool):
    """How much better the requested k fits a candidate's embedding than its neighbours k - 1 and k + 1: the
    silhouette of its own segments less the best silhouette of KMeans at k +- 1 there. A space whose natural
    number of groups is the one the user asked for is preferred (the nested-groups failure: a space with three
    clear groups scores well at any k that splits them)."""
    k, out = pool["k"], []
    for r in pool["records"]:
        Z = np.asarray(r["embedding"], dtype=np.float64)
        own = silhouette_score(Z, r["labels"]) if len(np.unique(r["labels"])) > 1 else -1.0
        out.append(own - max(_kmeans_silhouette(Z, m) for m in (k - 1, k + 1) if m >= 2))
    return np.array(out)


def gaussian_null_silhouette(pool, seed=0, rows=1000):
    """The silhouette KMeans reaches in each candidate's embedding when it has no groups at all: a Gaussian with
    the embedding's mean and covariance (the reference distribution of the gap statistic). A low-dimensional or
    elongated space scores well on a single blob; this is the part of a silhouette owed to the shape."""
    return np.array([_kmeans_silhouette(_gaussian_like(r["embedding"], seed, rows), pool["k"], seed)
                     for r in pool["records"]])


def procedure_null(pool, seed=0, rows=1000):
    """The default score each candidate's *fitting procedure* reaches on a table with no groups: a Gaussian with the
    input's mean and covariance. The raw features' null is KMeans on it; the LDA map's is the map fitted to it
    and KMeans in that map (the map is fitted to separate the very clusters it is then judged on, so even one
    blob scores well); a network cannot be retrained per pool, so its null silhouette is KMeans' on a Gaussian with
    its embedding's mean and covariance, with the raw features' separability. Each null is (silhouette +
    separability in the Gaussian input) / 2, the default's shape."""
    from sknas.space.builder import LDAHead

    def kmeans(Z):
        return _kmeans_segments(Z, pool["k"], seed)

    X = np.asarray(pool["X_score"], dtype=np.float64)
    null_input = _gaussian_like(X, seed, rows)
    labels, silhouette = kmeans(null_input)
    raw_separability = separability(null_input, labels)
    raw_null = (silhouette + raw_separability) / 2
    out = []
    for r in pool["records"]:
        if r["architecture"] == "identity":
            out.append(raw_null)
        elif r["architecture"] == "lda":
            head = LDAHead(X.shape[1], r["embedding"].shape[1]).fit_map(null_input, pool["k"], random_state=seed)
            weight = head.weight.numpy().astype(np.float64)
            labels, silhouette = kmeans(null_input @ weight[np.abs(weight).sum(1) > 0].T)
            out.append((silhouette + separability(null_input, labels)) / 2)
        else:  # its partition of the null input is not known: the raw features' separability stands in
            out.append((kmeans(_gaussian_like(r["embedding"], seed, rows))[1] + raw_separability) / 2)
    return np.array(out)


def stability(pool):
    """Each candidate's KMeans stability in its own embedding: the ARI between KMeans fitted on two random
    halves of its scoring rows (``k_choice.split_stability``, 6 half-splits), the resampling criterion of
    Ben-Hur et al. and Lange et al. for clustering model selection."""
    def fit(rows, k, seed):
        return KMeans(k, n_init=3, random_state=seed).fit(rows)

    return np.array([split_stability(np.asarray(r["embedding"], dtype=np.float64), pool["k"], fit)
                     for r in pool["records"]])


JUDGES = ("default (own silhouette + separability)", "own silhouette", "separability", "consensus",
          "cross-space ACE", "cross-space ACE, embeddings only", "cross-space ACE + separability",
          "split stability", "default + split stability / 4", "default, LDA map's silhouette cross-fitted",
          "kNN consistency in the input", "(own silhouette + separability + kNN consistency) / 3",
          "held-out discriminability in the embedding + separability", "pooled common space",
          "(own silhouette + separability + pooled) / 3",
          "(own silhouette + separability + kNN consistency + pooled) / 4", "k support", "default + k support / 2",
          "(own silhouette less its Gaussian null + separability) / 2", "default less its fitting procedure's null",
          "raw features when the input looks like one blob (dip test), else the default",
          "(silhouette in the input + separability) / 2")


def evaluate(pool, judge, restated, drop_restating, margin=0.0):
    """Tau, regret and the pick of ``judge`` on ``pool``. With ``margin`` > 0 a network must beat the best
    pickable fixed map (raw features, LDA) by that much to be picked, as the search asks of its own scorings
    (``sknas.search.base._prefer_fixed_map``); the ranking, and so tau, is the judge's own either way."""
    idx = distinct(pool["records"])
    records = [pool["records"][i] for i in idx]
    y = pool["y_score"]
    ari = np.array([adjusted_rand_score(y[:len(r["labels"])], r["labels"]) for r in records])
    scores = np.asarray(judge_scores({**pool, "records": records}, judge), dtype=float)
    trivial = restated[idx] >= get_config()["restatement_nmi"]
    pickable = ~trivial if drop_restating and (~trivial).any() else np.ones(len(records), dtype=bool)
    pick = int(np.flatnonzero(pickable)[np.argmax(scores[pickable])])
    fixed = np.array([r["architecture"] in FIXED_HEADS for r in records]) & pickable
    if margin > 0 and not fixed[pick] and fixed.any() and scores[pick] < scores[fixed].max() + margin:
        pick = int(np.flatnonzero(fixed)[np.argmax(scores[fixed])])
    if drop_restating:  # the judge's ranking: restating partitions after every other one
        scores = np.where(pickable, scores, scores.min() - 1.0 - (scores.max() - scores))
    tau = kendalltau(scores, ari).statistic if len(records) > 2 and np.ptp(ari) > 0 else np.nan
    return {"tau": float(tau) if np.isfinite(tau) else np.nan, "regret": float(ari.max() - ari[pick]),
            "picked_ari": float(ari[pick]), "best_ari": float(ari.max()), "restates": bool(trivial[pick]),
            "n_candidates": len(records)}


def target_noise_tau(pool, seeds=(101, 202)):
    """Kendall tau between the candidates' ARIs under two other KMeans draws of their own embeddings: how well
    the target itself reproduces, the ceiling no label-free judge can beat by more than chance."""
    records = [pool["records"][i] for i in distinct(pool["records"])]
    if len(records) < 3:
        return np.nan
    y, k = pool["y_score"], pool["k"]
    aris = [[adjusted_rand_score(y[:len(r["labels"])], KMeans(k, n_init=3, random_state=seed).fit_predict(
        np.asarray(r["embedding"], dtype=np.float64))) for r in records] for seed in seeds]
    return float(kendalltau(*aris).statistic) if np.ptp(aris[0]) > 0 and np.ptp(aris[1]) > 0 else np.nan


def stratified_bootstrap(values_by_table, n_boot=2000, seed=0):
    """95% interval of the mean over tables of the per-table mean (tables, then seeds, resampled)."""
    rng = np.random.default_rng(seed)
    tables = [np.asarray(v, dtype=float)[np.isfinite(v)] for v in values_by_table.values()]
    tables = [t for t in tables if len(t)]
    if not tables:
        return np.nan, np.nan, np.nan
    point = np.mean([t.mean() for t in tables])
    boots = []
    for _ in range(n_boot):
        chosen = rng.integers(0, len(tables), len(tables))
        boots.append(np.mean([rng.choice(tables[c], len(tables[c])).mean() for c in chosen]))
    return float(point), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=Path, default=POOLS)
    parser.add_argument("--split", choices=tuple(judge_tables.SPLITS), default="dev")
    parser.add_argument("--search", default="random")
    parser.add_argument("--judges", nargs="+", default=list(JUDGES))
    parser.add_argument("--out", default=None)
    parser.add_argument("--fixed-map-margin", type=float, default=0.0,
                        help="a network must beat the best fixed map by this much to be picked (the search's "
                             "fixed_map_margin is 0.02); 0 picks the judge's best")
    parser.add_argument("--config", type=json.loads, default=None,
                        help='JSON dict of sknas.config settings for the replay, e.g. \'{"restatement_columns": 1}\'')
    parser.add_argument("--ceiling", action="store_true",
                        help="also report the target's own reproducibility (target_noise_tau)")
    args = parser.parse_args()
    set_config(**(args.config or {}))
    tables = judge_tables.SPLITS[args.split]
    pools = load_pools(args.pools, tables, args.search)
    rows = []
    for pool in pools:
        restated = restatements(pool)
        for judge in args.judges:
            for drop in (False, True):
                rows.append({"table": pool["table"], "seed": pool["seed"], "judge": judge, "drop_restating": drop,
                             **evaluate(pool, judge, restated, drop, args.fixed_map_margin)})
    summary = []
    lines = [f"{len(pools)} pools of {args.search} search ({len({p['table'] for p in pools})} tables, split "
             f"{args.split}); means over tables of per-table means, [95% stratified bootstrap interval]; "
             f"fixed-map margin of the pick {args.fixed_map_margin:g}", "",
             "| judge | restating dropped | Kendall tau | regret | picked ARI | picks restating |",
             "|---|---|---|---|---|---|"]
    for judge in args.judges:
        for drop in (False, True):
            sel = [r for r in rows if r["judge"] == judge and r["drop_restating"] == drop]
            cells = {}
            for key in ("tau", "regret", "picked_ari", "restates"):
                by_table = {}
                for r in sel:
                    by_table.setdefault(r["table"], []).append(float(r[key]))
                cells[key] = stratified_bootstrap(by_table)
            summary.append({"judge": judge, "drop_restating": drop, **{k: v for k, v in cells.items()}})
            fmt = lambda c: f"{c[0]:.3f} [{c[1]:.3f}, {c[2]:.3f}]"  # noqa: E731
            lines.append(f"| {judge} | {'yes' if drop else 'no'} | {fmt(cells['tau'])} | {fmt(cells['regret'])} | "
                         f"{fmt(cells['picked_ari'])} | {cells['restates'][0]:.2f} |")
    if args.ceiling:
        by_table = {}
        for pool in pools:
            by_table.setdefault(pool["table"], []).append(target_noise_tau(pool))
        ceiling = stratified_bootstrap(by_table)
        summary.append({"judge": "target noise ceiling", "tau": ceiling})
        lines += ["", f"Ceiling: Kendall tau between the candidates' ARIs under two other KMeans draws of their "
                  f"embeddings, {ceiling[0]:.3f} [{ceiling[1]:.3f}, {ceiling[2]:.3f}] (the target's own noise)."]
    lines += ["", "Per table (judge: mean regret over seeds, restating dropped):", "",
              "| table | " + " | ".join(args.judges) + " |", "|---" * (len(args.judges) + 1) + "|"]
    for table in sorted({r["table"] for r in rows}):
        cells = []
        for judge in args.judges:
            sel = [r["regret"] for r in rows if r["table"] == table and r["judge"] == judge and r["drop_restating"]]
            cells.append(f"{np.mean(sel):.3f}")
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    print_or_write(args.out, lines, {"rows": rows, "summary": summary, "machine": platform.node()})


if __name__ == "__main__":
    main()
