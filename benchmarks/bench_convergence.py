"""How a candidate's loss, label-free score and ARI evolve during ONE training run (issue 22 evidence).

For each table, a few random architectures of the default space and the linear fallback train for the
default candidate budget (1,000 optimizer updates on small tables) with the search's settings (neighbours
objective, batch 512, lr 3e-3, AdamW), and every ``--every`` updates the run records: the mean training
loss of those updates, the search's label-free score (``silhouette+separability``) of the embedding of
the scoring rows (at most 2,000 validation rows), a cheap silhouette on at most 500 of them, and the
ARI of KMeans(k) on all rows against the classes. Read it to design a stop on convergence
(``docs/speed.md``): the score at a candidate's stop must rank candidates as the score at 1,000 updates does.

    python benchmarks/bench_convergence.py [--tables iris wine ...] [--archs 3] [--every 50] [--out convergence]
    python benchmarks/bench_convergence.py --analyze [--out convergence]

Writes one JSON line per checkpoint to ``benchmarks/results/<out>.jsonl``; ``--analyze`` replays stop rules
on those trajectories (the rule of :class:`sknas.training.convergence.ScorePlateau` and its neighbours) and
writes ``benchmarks/results/<out>.md``: per rule the share of the budget trained, the change in ARI at the
stop, and the ARI of the candidate each table's stop-time scores pick against the one the full-budget scores
pick (the selection regret the stop causes).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from judge_tables import DEVELOPMENT  # noqa: E402

from sknas.evaluation import score_embedding  # noqa: E402
from sknas.space import Architecture, SearchSpace, build_network  # noqa: E402
from sknas.training import embed, make_objective, seeded  # noqa: E402
from sknas.training.trainer import GRAD_CLIP, WEIGHT_DECAY, iterate_batches  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def checkpoints(encoder, objective, train, X_score, X_all, y, k, every, total, batch_size):
    params = [p for m in (encoder, objective) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=WEIGHT_DECAY)
    updates, losses, t0 = 0, [], time.perf_counter()
    encoder.train()
    objective.train()
    while updates < total:
        for idx in iterate_batches(len(train), batch_size, train.X.device):
            loss = objective.loss(encoder, train, idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            opt.step()
            losses.append(float(loss))
            updates += 1
        if updates % every < len(range(0, len(train), batch_size)) or updates >= total:
            train_sec = time.perf_counter() - t0
            Zs = embed(encoder, X_score).numpy().astype(np.float64)
            t1 = time.perf_counter()
            full = score_embedding(Zs, scoring="silhouette+separability", n_clusters=k, X=X_score.numpy(),
                                   random_state=0)
            t2 = time.perf_counter()
            cheap = score_embedding(Zs[:500], scoring="silhouette", n_clusters=k, random_state=0)
            t3 = time.perf_counter()
            Za = embed(encoder, X_all).numpy().astype(np.float64)
            ari = adjusted_rand_score(y, KMeans(k, n_init=10, random_state=0).fit_predict(Za))
            encoder.train()
            yield dict(updates=updates, loss=float(np.mean(losses[-every:])), score=float(full.score),
                       silhouette500=float(cheap.score), ari=float(ari), train_sec=round(train_sec, 3),
                       score_sec=round(t2 - t1, 3), cheap_sec=round(t3 - t2, 3))
            t0 = time.perf_counter()


def stop_point(trajectory, key, every, tol, min_share, window, total, lookback):
    """The checkpoint a plateau rule stops at (ScorePlateau's rule, replayed on recorded figures).

    ``lookback`` None: stop when the smoothed figure is not more than ``tol`` above its best so far (the
    best moving in steps of tol); a number of updates: not more than ``tol`` above its best that long ago.
    """
    figures, smoothed, best = [], [], -np.inf
    back = None if lookback is None else lookback // every
    for row in trajectory:
        if row["updates"] % every and row is not trajectory[-1]:
            continue
        figures.append(row[key])
        smoothed.append(float(np.mean(figures[-window:])))
        if back is None:
            rising = smoothed[-1] > best + tol
            best = smoothed[-1] if rising else best
        else:
            rising = len(smoothed) <= back or smoothed[-1] - max(smoothed[:-back]) > tol
        if not rising and row["updates"] >= min_share * total:
            return row
    return trajectory[-1]


def replay(runs, key, every, tol, min_share, window, total, lookback):
    per_table = {}
    for table in sorted({t for t, _ in runs}):
        trajectories = [runs[(t, a)] for t, a in sorted(runs) if t == table]
        stops = [stop_point(tr, key, every, tol, min_share, window, total, lookback) for tr in trajectories]
        full = [tr[-1] for tr in trajectories]
        pick_stop = max(range(len(stops)), key=lambda i: stops[i]["score"])
        pick_full = max(range(len(full)), key=lambda i: full[i]["score"])
        per_table[table] = dict(
            share=float(np.mean([s["updates"] / f["updates"] for s, f in zip(stops, full)])),
            d_ari=float(np.mean([s["ari"] - f["ari"] for s, f in zip(stops, full)])),
            d_score=float(np.mean([s["score"] - f["score"] for s, f in zip(stops, full)])),
            picked_stop=stops[pick_stop]["ari"], picked_full=full[pick_full]["ari"],
            stops=[s["updates"] for s in stops])
    return per_table


def analyze(path, total):
    runs = collections.defaultdict(list)
    for line in open(path):
        row = json.loads(line)
        runs[(row["table"], row["arch"])].append(row)
    lines = [f"# A candidate's stop on convergence, replayed on recorded trajectories (`{path.name}`)", "",
             f"{len(runs)} training runs ({len({t for t, _ in runs})} development tables, the linear map and random "
             "architectures each), figures every 50 updates up to the 1,000-update budget. A rule checks every "
             "`every` updates, smooths the figure over `window` checks, and stops at the first check after "
             "`min share` of the budget where the smoothed figure is not more than `tol` above its best `lookback` "
             "updates before (`best`: its best so far, moving in steps of tol). "
             "`share`: mean share of the budget trained; `dARI`: mean ARI change of a candidate at its stop "
             "against the full budget (worst table in brackets); `dscore`: the same for the label-free score (a "
             "negative one handicaps networks against the fixed maps, which train nothing); `regret`: mean over "
             "tables of the ARI of the candidate the full-budget scores pick minus that of the candidate the "
             "stop-time scores pick.", "",
             "| figure | every | window | lookback | tol | min share | share | dARI (worst table) | dscore | regret |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rules = [(key, every, window, lookback, tol, 0.3) for key in ("silhouette500", "score") for every in (50, 100)
             for window in (1, 2) for lookback in (None, 200, 300) for tol in (0.005, 0.01)]
    chosen = ("silhouette500", 100, 2, 200, 0.01, 0.3)
    for key, every, window, lookback, tol, min_share in rules:
        res = replay(runs, key, every, tol, min_share, window, total, lookback)
        share = np.mean([r["share"] for r in res.values()])
        d_ari = [r["d_ari"] for r in res.values()]
        d_score = np.mean([r["d_score"] for r in res.values()])
        regret = np.mean([r["picked_full"] - r["picked_stop"] for r in res.values()])
        mark = " **(ScorePlateau)**" if (key, every, window, lookback, tol, min_share) == chosen else ""
        lines.append(f"| {key}{mark} | {every} | {window} | {lookback or 'best'} | {tol} | {min_share} | {share:.2f} | "
                     f"{np.mean(d_ari):+.3f} ({min(d_ari):+.3f}) | {d_score:+.4f} | {regret:+.3f} |")
    lines += ["", "Per table, the ScorePlateau rule:", "",
              "| table | share | dARI | picked at stop / at full budget (ARI) | stops (updates) |", "|---|---|---|---|---|"]
    key, every, window, lookback, tol, min_share = chosen
    for table, r in replay(runs, key, every, tol, min_share, window, total, lookback).items():
        lines.append(f"| {table} | {r['share']:.2f} | {r['d_ari']:+.3f} | {r['picked_stop']:.3f} / "
                     f"{r['picked_full']:.3f} | {r['stops']} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--analyze", action="store_true", help="replay stop rules on the recorded trajectories")
    ap.add_argument("--tables", nargs="+", default=list(DEVELOPMENT))
    ap.add_argument("--archs", type=int, default=3)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--total", type=int, default=1000)
    ap.add_argument("--out", default="convergence")
    args = ap.parse_args()
    if args.analyze:
        text = analyze(RESULTS / f"{args.out}.jsonl", args.total)
        (RESULTS / f"{args.out}.md").write_text(text)
        print(text)
        return
    torch.set_num_threads(1)
    out = open(RESULTS / f"{args.out}.jsonl", "w")
    for table in args.tables:
        X, y = DEVELOPMENT[table]()
        X = X.select_dtypes("number").to_numpy(np.float64)
        Xs = StandardScaler().fit_transform(X).astype(np.float32)
        k = len(np.unique(y))
        rng = np.random.RandomState(0)
        order = rng.permutation(len(Xs))
        n_valid = int(round(0.2 * len(Xs)))
        train_rows, valid_rows = order[n_valid:], order[:n_valid][:2000]
        archs = [Architecture(head="linear")]
        space = SearchSpace()
        while len(archs) < args.archs + 1:
            a = space.sample(rng)
            if a.blocks and a not in archs:
                archs.append(a)
        for i, arch in enumerate(archs):
            with seeded(i):
                encoder = build_network(arch, Xs.shape[1], 8)
                encoder.fit_fixed_parts(Xs[train_rows], k, random_state=i)
                objective = make_objective("neighbors", Xs.shape[1], encoder.n_outputs)
                train = objective.prepare(torch.as_tensor(Xs[train_rows]))
                for row in checkpoints(encoder, objective, train, torch.as_tensor(Xs[valid_rows]),
                                       torch.as_tensor(Xs), y, k, args.every, args.total, 512):
                    row = dict(table=table, rows=len(Xs), arch=i, architecture=str(arch), **row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
            print(table, i, row["updates"], round(row["score"], 3), round(row["ari"], 3), flush=True)


if __name__ == "__main__":
    main()
