"""How close sknas runs to the raw hardware path, as ratios measured in one run.

  1. shared trainer (train_candidate) vs a minimal raw PyTorch loop, same network/data/objective (rows/s);
  2. the final skorch network (FeatureNet) vs the same raw loop (rows/s);
     (1 and 2 reuse bench_trainer's three loops, interleaved repeat by repeat so noise hits all arms);
  3. a DARTS search vs one training of the architecture it chose (search_time_ vs final-net time of one fit);
  4. batched population training (sknas.training.population) vs the same candidates one after another;
  5. transform throughput (rows/s) of a fitted estimator and the resident memory it adds;
  6. the process's peak resident memory.
Writes benchmarks/results/overhead.json and .md.

    python benchmarks/bench_overhead.py [--rows 20000] [--features 50] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import platform
import resource
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil
import sklearn
import torch
from sklearn.datasets import make_blobs

sys.path.insert(0, str(Path(__file__).parent))
import bench_trainer
from bench_trainer import run_raw, run_skorch, run_trainer

import sknas
from sknas import DARTSFeatureSearch, RandomFeatureSearch
from sknas.space import SearchSpace, build_network
from sknas.training import embed, make_objective, seeded, train_candidate
from sknas.training.population import can_batch, train_population

RESULTS = Path(__file__).parent / "results"
TRAIN = {"max_epochs": 3, "batch_size": 512, "learning_rate": 3e-3, "weight_decay": 1e-5, "patience": None}


def _rss_mb():
    return psutil.Process().memory_info().rss / 2**20


class RssSampler:
    """Highest resident memory seen while the block runs (sampled every 10 ms in a thread)."""

    def __enter__(self):
        # Give freed heap pages back first: otherwise the block could reuse memory an earlier
        # step freed and show no growth at all.
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        self.before = _rss_mb()
        self.peak, self._stop = self.before, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def loop_ratios(X, args):
    # CPU time of this (one-threaded) process, not wall time: on this shared machine wall-clock
    # ratios swung from 0.69x to 1.82x between runs with other jobs competing for the 2 cores.
    bench_trainer.CLOCK = time.process_time
    loops = {"raw": run_raw, "trainer": run_trainer, "skorch": run_skorch}
    out = {}
    for objective_name in ("neighbors", "reconstruction"):
        speeds = {name: [] for name in loops}
        for _ in range(args.repeats):
            for name, fn in loops.items():
                with seeded(0):
                    speeds[name].append(fn(X, objective_name, args.epochs, 1024, torch.device("cpu")))
        med = {n: statistics.median(v) for n, v in speeds.items()}
        out[objective_name] = {n: {"rows_per_s": med[n], "ratio_to_raw": med[n] / med["raw"],
                                   "all_rows_per_s": speeds[n]} for n in loops}
        print(objective_name, {n: round(med[n] / med["raw"], 3) for n in loops}, flush=True)
    return out


def darts_ratio(X, args):
    est = DARTSFeatureSearch(n_components=8, n_clusters=5, max_epochs=args.darts_epochs, device="cpu",
                             # without the fixed maps, so the final architecture is a network to train
                             search_space=SearchSpace(include_identity=False), random_state=0).fit(X)
    final = est.fit_time_ - est.search_time_
    print(f"darts search {est.search_time_:.1f}s, final {final:.1f}s", flush=True)
    return {"search_s": est.search_time_, "final_training_s": final, "ratio": est.search_time_ / final,
            "architecture": str(est.architecture_), "max_epochs": args.darts_epochs}


def population_ratio(X, args):
    n_valid = len(X) // 5
    X_train, X_valid = X[n_valid:], X[:n_valid]
    rng = np.random.RandomState(0)
    archs = [a for a in (SearchSpace().sample(rng) for _ in range(3 * args.population)) if can_batch(a)]
    archs = archs[:args.population]
    seeds = list(range(len(archs)))
    k = 8
    t0 = time.perf_counter()
    objective = make_objective("neighbors", X.shape[1], k)
    train = objective.prepare(torch.as_tensor(X_train))
    valid = objective.prepare(torch.as_tensor(X_valid))
    for a, s in zip(archs, seeds):
        with seeded(s):
            enc = build_network(a, X.shape[1], k)
            train_candidate(enc, objective, train, valid, **TRAIN)
            embed(enc, valid.X)
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_population(archs, "neighbors", X_train, X_valid, n_components=k, seed=seeds, device="cpu", **TRAIN)
    t_pop = time.perf_counter() - t0
    print(f"population of {len(archs)}: sequential {t_seq:.1f}s, batched {t_pop:.1f}s", flush=True)
    return {"n_candidates": len(archs), "sequential_s": t_seq, "batched_s": t_pop, "speedup": t_seq / t_pop,
            **{k_: v for k_, v in TRAIN.items()}}


def transform_throughput(X, args):
    est = RandomFeatureSearch(n_components=8, n_clusters=5, max_trials=2, max_epochs=2, device="cpu",
                              random_state=0).fit(X)
    rng = np.random.RandomState(1)
    X_big = rng.standard_normal((args.transform_rows, X.shape[1]))  # float64, as users pass it
    est.transform(X_big[:1000])  # warm-up
    t0 = time.perf_counter()
    with RssSampler() as rss:
        Z = est.transform(X_big)
    elapsed = time.perf_counter() - t0
    before = rss.before
    out = {"rows": len(X_big), "input_mb": X_big.nbytes / 2**20, "output_mb": Z.nbytes / 2**20,
           "rows_per_s": len(X_big) / elapsed, "seconds": elapsed, "architecture": str(est.architecture_),
           "rss_before_mb": before, "peak_rss_growth_mb": rss.peak - before}
    print(f"transform {out['rows_per_s']:,.0f} rows/s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--darts-epochs", type=int, default=10)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--transform-rows", type=int, default=500000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with seeded(0):
        X_t = torch.randn(args.rows, args.features)
    X_blobs, _ = make_blobs(args.rows, args.features, centers=5, random_state=0)
    X_blobs = X_blobs.astype(np.float32)
    results = {"loops": loop_ratios(X_t, args), "darts": darts_ratio(X_blobs[:5000], args),
               "population": population_ratio((X_blobs[:5000] - X_blobs[:5000].mean(0)) / X_blobs[:5000].std(0),
                                              args),
               "transform": transform_throughput(X_blobs[:5000], args)}
    results["peak_rss_mb"] = _peak_rss_mb()
    machine = (f"{platform.node()}, {platform.machine()}, {psutil.cpu_count()} cores (shared with other jobs), "
               f"device=cpu, torch {torch.__version__}, sklearn {sklearn.__version__}, "
               f"sknas {getattr(sknas, '__version__', '?')}, torch threads={args.threads}")
    summary = {"machine": machine, "command": "python " + " ".join(sys.argv),
               "date": datetime.now(UTC).isoformat(timespec="seconds"), "seeds": [0],
               "rows": args.rows, "features": args.features, "epochs": args.epochs, "repeats": args.repeats,
               "wall_s": time.perf_counter() - started, "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "overhead.json").write_text(json.dumps(summary, indent=2))
    (RESULTS / "overhead.md").write_text(render(summary))


def render(s):
    r = s["results"]
    lines = ["# Speed: sknas against the raw hardware path (one run)", "",
             f"Machine: {s['machine']}. The machine was shared with other workers and benchmarks, so absolute",
             "figures are noisy; the compared arms are interleaved repeat by repeat and only ratios are compared.",
             f"Command: `{s['command']}`; date {s['date']}; seed 0; wall {s['wall_s']:.0f} s.", "",
             f"## Training loops ({s['rows']} x {s['features']} rows, batch 1024, {s['epochs']} epochs, "
             f"median of {s['repeats']}; timed in process CPU time, 1 torch thread)", "",
             "| objective | loop | rows per CPU-second | ratio to raw loop |", "|---|---|---|---|"]
    for obj, per_loop in r["loops"].items():
        for name, v in per_loop.items():
            lines.append(f"| {obj} | {name} | {v['rows_per_s']:,.0f} | {v['ratio_to_raw']:.2f} |")
    d, p, t = r["darts"], r["population"], r["transform"]
    lines += ["", "## Search and inference", "", "| measure | value |", "|---|---|",
              f"| DARTS search / one training of its final architecture (5000 x 50 blobs, max_epochs="
              f"{d['max_epochs']}) | {d['search_s']:.1f} s / {d['final_training_s']:.1f} s = {d['ratio']:.1f}x |",
              f"| population of {p['n_candidates']}: sequential / batched ({p['max_epochs']} epochs, batch "
              f"{p['batch_size']}) | {p['sequential_s']:.1f} s / {p['batched_s']:.1f} s = {p['speedup']:.1f}x |",
              f"| transform throughput ({t['rows']:,} x {s['features']} float64 rows) | {t['rows_per_s']:,.0f} "
              f"rows/s |",
              f"| peak RSS growth during that transform, output included (input {t['input_mb']:.0f} MB, output "
              f"{t['output_mb']:.0f} MB) | {t['peak_rss_growth_mb']:.0f} MB |",
              f"| peak RSS of the whole benchmark process | {r['peak_rss_mb']:.0f} MB |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
