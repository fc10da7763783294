"""A default search on 1,000,000 x 50 rows: wall time, peak resident memory, transform memory.

The fit runs in a child process under ``/usr/bin/time -v`` (its "Maximum resident set size" is the
peak RSS of the whole fit, data generation included); the child also measures the RSS that
``transform`` of all rows adds (sampled every 10 ms). Data: sklearn ``make_blobs`` (8 centres,
50 features, float64), seeded. How sknas scales (see README "Speed and scale"): the search
sees at most ``search_max_rows`` rows (``sknas.config``), the neighbours objective's k-NN graph is
approximate above ``knn_exact_max_rows`` rows, scores use at most ``score_max_rows``, and only the final
network trains on every row. Writes benchmarks/results/scale.json and .md (scale_darts.* for --method darts).

    python benchmarks/bench_scale.py [--rows 1000000] [--features 50] [--method random] [--max-epochs auto]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def child(args):
    import numpy as np
    import torch
    from bench_overhead import RssSampler
    from sklearn.datasets import make_blobs

    from sknas import DARTSFeatureSearch, RandomFeatureSearch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    X, _ = make_blobs(args.rows, args.features, centers=8, random_state=args.seed)
    t_data = time.perf_counter() - t0
    cls = {"random": RandomFeatureSearch, "darts": DARTSFeatureSearch}[args.method]
    est = cls(max_epochs=args.max_epochs, device="cpu", random_state=args.seed)  # otherwise the defaults
    t0 = time.perf_counter()
    est.fit(X)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    with RssSampler() as rss:
        Z = est.transform(X)
    t_transform = time.perf_counter() - t0
    before = rss.before
    out = {"data_s": t_data, "fit_s": t_fit, "search_s": est.search_time_, "final_s": est.fit_time_ - est.search_time_,
           "transform_s": t_transform, "transform_rows_per_s": len(X) / t_transform,
           "input_mb": X.nbytes / 2**20, "rss_before_transform_mb": before,
           "transform_rss_growth_mb": rss.peak - before, "architecture": str(est.architecture_),
           "n_trials": int(getattr(est, "n_trials_", 0)), "final_epochs": len(est.net_.history),
           "candidates_converged": sum(bool(r.get("converged")) for r in est.search_history_),
           "embedding_finite": bool(np.isfinite(Z).all())}
    Path(args.child).write_text(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--method", choices=("random", "darts"), default="random")
    ap.add_argument("--max-epochs", type=lambda v: v if v == "auto" else int(v), default="auto",
                    help="the searches' max_epochs (default: 'auto', their default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    import sklearn
    import torch

    import sknas

    out_child = RESULTS / f"scale_child_{args.method}.json"
    cmd = [sys.executable, __file__, *sys.argv[1:], "--child", str(out_child)]
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    sys.stderr.write(proc.stderr[-3000:])
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode})")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    res = json.loads(out_child.read_text())
    out_child.unlink()
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", proc.stderr).group(1))
              for kind in ("User", "System"))
    res.update(peak_rss_mb=peak_kb / 1024, wall_s=wall, child_cpu_s=cpu)
    machine = (f"{platform.node()}, {platform.machine()}, 2 cores shared with other workers and benchmarks, "
               f"device=cpu, torch {torch.__version__}, sklearn {sklearn.__version__}, sknas {sknas.__version__}, "
               f"torch threads={args.threads}")
    summary = {"machine": machine, "command": "python " + " ".join(sys.argv),
               "date": datetime.now(UTC).isoformat(timespec="seconds"), "seed": args.seed,
               "rows": args.rows, "features": args.features, "method": args.method, "max_epochs": args.max_epochs,
               "search_max_rows": sknas.config.get_config()["search_max_rows"], "results": res}
    RESULTS.mkdir(exist_ok=True)
    name = "scale" if args.method == "random" else f"scale_{args.method}"
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2))
    (RESULTS / f"{name}.md").write_text(render(summary))
    print(render(summary))


def render(summary):
    res, rows, method = summary["results"], summary["rows"], summary["method"]
    machine, seed, max_rows = summary["machine"], summary["seed"], summary["search_max_rows"]
    growth_ok = res["transform_rss_growth_mb"] < 1024
    lines = [f"# Scale: {method} search on {rows:,} x {summary['features']} rows", "",
             f"Machine: {machine}. Command: `{summary['command']}`; date {summary['date']}; seed {seed}.",
             f"Estimator: {method} search, its defaults and max_epochs={summary['max_epochs']!r} ('auto' is the default), "
             f"device='cpu', random_state={seed}; data: make_blobs, 8 centres, float64.",
             f"The child process used {res['child_cpu_s']:.0f} s of CPU in {res['wall_s']:.0f} s of wall time: "
             "other workers' jobs shared the 2 cores.", "",
             "| measure | value | acceptance |", "|---|---|---|",
             f"| fit wall time | {res['fit_s']:.0f} s (search {res['search_s']:.0f} s on at most "
             f"{max_rows:,} rows, {res['n_trials']} trials; final network "
             f"{res['final_s']:.0f} s, {res['final_epochs']} epochs on all rows) | < 900 s: "
             f"{'met' if res['fit_s'] < 900 else 'NOT met'} |",
             f"| peak RSS of the whole child process (data, fit, transform; /usr/bin/time -v) | "
             f"{res['peak_rss_mb']:.0f} MB | < 3072 MB: {'met' if res['peak_rss_mb'] < 3072 else 'NOT met'} |",
             f"| transform: RSS added above the fitted state (input {res['input_mb']:.0f} MB already resident) | "
             f"{res['transform_rss_growth_mb']:.0f} MB | < 1024 MB: {'met' if growth_ok else 'NOT met'} |",
             f"| transform throughput | {res['transform_rows_per_s']:,.0f} rows/s | |",
             f"| chosen architecture | {res['architecture']} | |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
