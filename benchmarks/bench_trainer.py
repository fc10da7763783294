"""Throughput of sknas's two training loops against a minimal raw PyTorch loop, in one run.

Same network, data, objective, optimiser and batch size for all:
  raw       a bare loop: X[perm[i:i+bs]] slices, loss, backward, clip, step (the same
            computation as sknas's loops, which clip gradient norms at 10, without their bookkeeping)
  raw_noclip  the bare loop without gradient clipping, to show what clipping costs
  trainer   sknas.training.train_candidate (the search's trainer), no validation set
  skorch    sknas.training.FeatureNet (the final network, a skorch NeuralNet)
Reports rows/s (median of interleaved repeats) and each loop's ratio to raw.
Writes benchmarks/results/trainer.json and .md.

    python benchmarks/bench_trainer.py [--rows 20000] [--features 50] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from sknas.space import Architecture, Block, build_network
from sknas.training import make_final_net, make_objective, seeded, train_candidate

RESULTS = Path(__file__).parent / "results"
ARCH = Architecture((Block("linear", 128), Block("linear", 128)))
#: The clock the loops are timed with (bench_overhead.py uses CPU time on a shared machine).
CLOCK = time.perf_counter


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_raw(X, objective_name, epochs, batch_size, device, clip=True):
    encoder = build_network(ARCH, X.shape[1], 8).to(device)
    objective = make_objective(objective_name, X.shape[1], 8).to(device)
    data = objective.prepare(X)
    params = [*encoder.parameters(), *objective.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-5)
    _sync(device)
    t0 = CLOCK()
    for _ in range(epochs):
        perm = torch.randperm(len(X), device=device)
        for i in range(0, len(X), batch_size):
            loss = objective.loss(encoder, data, perm[i:i + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
    _sync(device)
    return epochs * len(X) / (CLOCK() - t0)


def run_trainer(X, objective_name, epochs, batch_size, device):
    encoder = build_network(ARCH, X.shape[1], 8).to(device)
    objective = make_objective(objective_name, X.shape[1], 8).to(device)
    data = objective.prepare(X)
    _sync(device)
    t0 = CLOCK()
    train_candidate(encoder, objective, data, None, max_epochs=epochs, batch_size=batch_size,
                    learning_rate=1e-3, patience=None)
    _sync(device)
    return epochs * len(X) / (CLOCK() - t0)


def run_skorch(X, objective_name, epochs, batch_size, device):
    encoder = build_network(ARCH, X.shape[1], 8)
    objective = make_objective(objective_name, X.shape[1], 8)
    net = make_final_net(encoder, objective, max_epochs=epochs, batch_size=batch_size, learning_rate=1e-3,
                         weight_decay=1e-5, device=device)
    net.initialize()
    data = objective.prepare(X)
    _sync(device)
    t0 = CLOCK()
    net.fit_data(data)
    _sync(device)
    return epochs * len(X) / (CLOCK() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--objectives", nargs="+", default=["reconstruction", "neighbors"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with seeded(0):
        X = torch.randn(args.rows, args.features).to(device)
    loops = {"raw": run_raw, "raw_noclip": lambda *a: run_raw(*a, clip=False), "trainer": run_trainer,
             "skorch": run_skorch}
    results = {}
    for objective_name in args.objectives:
        speeds = {name: [] for name in loops}
        for _ in range(args.repeats):  # interleaved, so machine noise hits every loop alike
            for name, fn in loops.items():
                with seeded(0, device):
                    speeds[name].append(fn(X, objective_name, args.epochs, args.batch_size, device))
        med = {name: statistics.median(v) for name, v in speeds.items()}
        results[objective_name] = {name: {"rows_per_s": med[name], "ratio_to_raw": med[name] / med["raw"]}
                                   for name in loops}
        print(f"{objective_name}: " + ", ".join(f"{n} {med[n]:,.0f} rows/s ({med[n] / med['raw']:.2f}x)"
                                                 for n in loops), flush=True)
    machine = (f"{platform.node()}, {platform.machine()}, device={device}, torch {torch.__version__}, "
               f"threads={args.threads}")
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(device)}"
    summary = {"machine": machine, "rows": args.rows, "features": args.features, "batch_size": args.batch_size,
               "epochs": args.epochs, "repeats": args.repeats, "results": results}
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if device.type == "cpu" else f"_{device.type}"
    (RESULTS / f"trainer{suffix}.json").write_text(json.dumps(summary, indent=2))
    lines = [f"Machine: {machine}; {args.rows} x {args.features} rows, batch {args.batch_size}, "
             f"{args.epochs} epochs, median of {args.repeats} interleaved repeats.", "",
             "| objective | loop | rows/s | ratio to raw loop |", "|---|---|---|---|"]
    for obj, per_loop in results.items():
        for name, r in per_loop.items():
            lines.append(f"| {obj} | {name} | {r['rows_per_s']:,.0f} | {r['ratio_to_raw']:.2f} |")
    (RESULTS / f"trainer{suffix}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
