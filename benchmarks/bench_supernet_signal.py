"""Does a DARTS supernet's own score say whether its retrained path network can beat the fixed maps? (issue 22)

If the supernet's label-free score (``supernet_score_``, its mixed embedding of the validation rows) were
close to the path network's score after retraining, a search could skip training a path network that
cannot reach the best fixed map's score. This fits the default ``DARTSFeatureSearch`` on the development
tables (``judge_tables.DEVELOPMENT``) and records, per fit, the supernet's score, the path network's score,
the best fixed map's (raw features, LDA; not restating a column) and whether the path network won.

    python benchmarks/bench_supernet_signal.py [--seeds 0 1 2] [--out supernet_signal]

Writes ``benchmarks/results/<out>.jsonl``; the finding is in ``docs/speed.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import judge_tables  # noqa: E402

from sknas import DARTSFeatureSearch  # noqa: E402
from sknas.space.architecture import FIXED_HEADS  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="supernet_signal")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    with open(RESULTS / f"{args.out}.jsonl", "w") as fh:
        for table in judge_tables.DEVELOPMENT:
            X, y = judge_tables.load(table)
            for seed in args.seeds:
                start = time.perf_counter()
                search = DARTSFeatureSearch(n_clusters=len(np.unique(y)), random_state=seed, device="cpu").fit(X)
                path = next(r for r in search.search_history_ if r["source"] == "darts")
                fixed = [r["score"] for r in search.search_history_ if r["architecture"].head in FIXED_HEADS
                         and r["valid"] and not r.get("restates_column")]
                row = {"table": table, "seed": seed, "supernet": search.supernet_score_, "path": path["score"],
                       "path_valid": path["valid"], "path_updates": path.get("n_updates"),
                       "bar": max(fixed, default=None), "won": search.architecture_ == path["architecture"],
                       "sec": round(time.perf_counter() - start, 2)}
                fh.write(json.dumps(row) + "\n")
                print(row, flush=True)


if __name__ == "__main__":
    main()
