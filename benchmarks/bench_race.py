"""How far below the best fixed map a network's score may be and still win (issue 22 evidence for the race).

A fixed map (raw features, LDA) trains nothing; a network must beat the best one by sknas.config's
``fixed_map_margin`` to win the search. ``FixedMapRace`` (``sknas.training.convergence``) stops a
network whose score, plus a ``race_headroom``, is below that bar at one of its convergence checks (from 30%
of its budget on). This benchmark records what the headroom must cover: it fits the default searches on
the development tables (``judge_tables.DEVELOPMENT``, never the held-back ones) with the race asked at every
check but never stopping (``race_headroom`` = 1e9), and logs each network's score at each check, its score
at its stop (the plateau's), and the bar. ``--analyze`` then replays headrooms on those traces: how many
networks each would stop and at which share of their updates, and whether any network it stops ended above
the bar (a network that could have won: a "false stop").

    python benchmarks/bench_race.py [--tables ...] [--seeds 0 1] [--searches darts random] [--out race]
    python benchmarks/bench_race.py --analyze [--out race]

Writes ``benchmarks/results/<out>.jsonl`` (one line per network) and, with ``--analyze``,
``benchmarks/results/<out>.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import judge_tables  # noqa: E402

from sknas import DARTSFeatureSearch, RandomFeatureSearch  # noqa: E402
from sknas.config import config_context  # noqa: E402
from sknas.search import candidates  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HEADROOMS = (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15)


def record_traces(tables, seeds, searches, out):
    """Fit each search with a race that never stops; write each raced network's trace."""
    train_and_score, monitor = candidates._train_and_score, candidates.convergence_monitor
    made = []

    def remembered(*args, **kwargs):  # the plateau (and its race) each candidate trains under
        made.append(monitor(*args, **kwargs))
        return made[-1]

    def traced(record, *args, **kwargs):
        made.clear()
        train_and_score(record, *args, **kwargs)
        race = made[-1].race if made and made[-1] is not None else None
        if race is not None:
            record.update(race_bar=race.bar, race_trace=list(race.trace))

    candidates._train_and_score, candidates.convergence_monitor = traced, remembered
    try:
        with open(out, "w") as fh:
            for table in tables:
                X, y = judge_tables.load(table)
                k = len(np.unique(y))
                for name in searches:
                    for seed in seeds:
                        cls = {"darts": DARTSFeatureSearch, "random": RandomFeatureSearch}[name]
                        start = time.perf_counter()
                        with config_context(race_headroom=1e9), warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            search = cls(n_clusters=k, random_state=seed, device="cpu").fit(X)
                        seconds = time.perf_counter() - start
                        raced = [r for r in search.search_history_ if r.get("race_trace") and not r.get("cached")]
                        for r in raced:
                            fh.write(json.dumps({
                                "table": table, "search": name, "seed": seed, "bar": r["race_bar"],
                                "trace": r["race_trace"], "final_score": r["score"], "n_updates": r["n_updates"],
                                "architecture": str(r["architecture"]),
                                "won": r["architecture"] == search.architecture_,
                                "fit_seconds": round(seconds, 2)}) + "\n")
                        print(table, name, seed, f"{seconds:.1f} s", len(raced), "networks with a trace", flush=True)
    finally:
        candidates._train_and_score, candidates.convergence_monitor = train_and_score, monitor


def raced_checks(row):
    """The checks the race scores: up to the first one at which the network reaches the bar (a contender is
    not scored again, ``FixedMapRace.lagging``)."""
    checks = []
    for updates, score in row["trace"]:
        checks.append((updates, score))
        if score >= row["bar"]:
            break
    return checks


def analyze(path, out_md, command):
    rows = [json.loads(line) for line in open(path)]
    rows = [r for r in rows if r["final_score"] is not None]
    budget = sum(r["n_updates"] for r in rows)
    lines = [
        "# The race against the best fixed map: how much headroom a network needs (issue 22)", "",
        f"Machine: {platform.node()}, {platform.machine()}, 2 cores shared with other jobs, torch "
        f"{torch.__version__} (1 thread). Command: `{command}`; date "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}. Traces: `{path.name}`, {len(rows)} networks "
        f"of {len({(r['table'], r['search'], r['seed']) for r in rows})} searches on the development tables.", "",
        "Each network's score (the search's own) was taken at every convergence check from 30% of its budget on; "
        "`bar` is the best fixed map's score plus the fixed-map margin. A headroom stops a network at the first "
        "check where score + headroom < bar, unless it has reached the bar at an earlier check (a contender is not "
        "scored again). `above bar` counts the networks whose score at their plateau stop "
        "reached the bar (those that could win against the fixed maps); a false stop is one of them stopped.", "",
        "| headroom | networks stopped | false stops | updates saved (share of all networks' updates) |",
        "|---|---|---|---|",
    ]
    above = [r for r in rows if r["final_score"] >= r["bar"]]
    needed = max((r["bar"] - min(s for _, s in raced_checks(r)) for r in above), default=float("nan"))
    for headroom in HEADROOMS:
        stopped = false = saved = 0
        for r in rows:
            hit = next((u for u, s in raced_checks(r) if s + headroom < r["bar"]), None)
            if hit is None:
                continue
            stopped += 1
            saved += r["n_updates"] - hit
            false += r["final_score"] >= r["bar"]
        lines.append(f"| {headroom:.2f} | {stopped} / {len(rows)} | {false} | {saved} ({saved / budget:.0%}) |")
    lines += ["", f"Networks whose plateau-stop score reached the bar: {len(above)} of {len(rows)}; the largest gap "
              f"below the bar any of them had at a check: {needed:.3f} (the headroom that stops none of them).", "",
              "Per network (table, search, seed: lowest score at a check, score at the stop, bar):", ""]
    for r in sorted(rows, key=lambda r: (r["table"], r["search"], r["seed"])):
        lowest = min(s for _, s in r["trace"])
        lines.append(f"- {r['table']} {r['search']} {r['seed']}: {lowest:.3f} -> {r['final_score']:.3f} "
                     f"(bar {r['bar']:.3f}{', won' if r['won'] else ''})")
    out_md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:20]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(judge_tables.DEVELOPMENT))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--searches", nargs="+", default=["darts", "random"])
    parser.add_argument("--analyze", action="store_true")
    parser.add_argument("--out", default="race")
    args = parser.parse_args()
    unknown = set(args.tables) - set(judge_tables.DEVELOPMENT)
    if unknown:
        parser.error(f"development tables only (the held-back split is looked at once, at the end): {sorted(unknown)}")
    torch.set_num_threads(1)
    path = RESULTS / f"{args.out}.jsonl"
    if not args.analyze:
        record_traces(args.tables, args.seeds, args.searches, path)
    analyze(path, RESULTS / f"{args.out}.md", "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]))


if __name__ == "__main__":
    main()
