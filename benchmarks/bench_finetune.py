"""Adaptation quality (issue 10): NeuralFeatureMap(init=<fitted on the source>) fine-tuned on the target
against the same architecture trained from scratch on the target with the same epochs.

Pairs with the same columns (weight transfer needs them): two make_customers variants, breast cancer
halves, digits halves (bench_transfer's pairs). Source: NeuralFeatureMap (default architecture, 40 epochs)
on the source data. Target arms, interleaved per seed: scratch (E epochs), fine-tuned (E epochs from the
source weights), and transferred without training (fine_tune=False). ARI of KMeans(k) on the embedding.

    python benchmarks/bench_finetune.py [--seeds 0 1 2] [--epochs 2 10]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np
import sklearn
import torch
from bench_transfer import PAIRS
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import sknas
from sknas import NeuralFeatureMap

RESULTS = Path(__file__).parent / "results"
SAME_COLUMNS = [p for p in PAIRS if "wine" not in p]


def ari(fmap, X, y, seed):
    k = len(np.unique(y))
    return float(adjusted_rand_score(y, KMeans(k, n_init=10, random_state=seed).fit_predict(fmap.transform(X))))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 10])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        for pair in SAME_COLUMNS:
            (Xs, ys), (Xt, yt) = PAIRS[pair](seed)
            Xs, Xt = StandardScaler().fit_transform(Xs), StandardScaler().fit_transform(Xt)
            source = NeuralFeatureMap(n_clusters=len(np.unique(ys)), random_state=seed, device="cpu").fit(Xs)
            row = {"pair": pair, "seed": seed, "source_ari_on_source": ari(source, Xs, ys, seed),
                   "transferred_no_training": ari(NeuralFeatureMap(init=source, fine_tune=False, random_state=seed,
                                                                   device="cpu").fit(Xt), Xt, yt, seed)}
            for epochs in args.epochs:
                common = {"max_epochs": epochs, "random_state": seed, "device": "cpu"}
                row[f"scratch_{epochs}"] = ari(NeuralFeatureMap(**common).fit(Xt), Xt, yt, seed)
                row[f"fine_tuned_{epochs}"] = ari(NeuralFeatureMap(init=source, **common).fit(Xt), Xt, yt, seed)
            rows.append(row)
            print(row, flush=True)
        write(rows, args)  # after every seed


def run_meta(rows, args, machine):
    """What a results file records about its run: machine, versions, command, date, seeds, epochs."""
    return {"machine": machine, "python": sys.version.split()[0], "torch": torch.__version__,
            "sklearn": sklearn.__version__, "sknas": sknas.__version__, "command": "python " + " ".join(sys.argv),
            "date": datetime.datetime.now(datetime.UTC).isoformat(), "seeds": sorted({r["seed"] for r in rows}),
            "epochs": args.epochs}


def write(rows, args):
    machine = f"{platform.node()} {platform.machine()}, CPU, 2 cores shared with other workers, torch threads=1"
    meta = run_meta(rows, args, machine)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    cols = ["transferred_no_training"] + [f"{arm}_{e}" for e in args.epochs for arm in ("scratch", "fine_tuned")]
    lines = ["# Weight transfer: fine-tuned vs from scratch, same epochs (issue 10)", "",
             f"Machine: {machine} (shared and noisy; arms interleaved per seed). Command: `{meta['command']}`. "
             f"Date {meta['date'][:19]}Z. Seeds {meta['seeds']}. Source: NeuralFeatureMap (default architecture, "
             "40 epochs) fitted on the source data; target arms use the same architecture. KMeans ARI, mean over "
             "seeds (per-seed values in finetune.json).", "",
             "| pair | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for pair in dict.fromkeys(r["pair"] for r in rows):
        sel = [r for r in rows if r["pair"] == pair]
        lines.append(f"| {pair} | " + " | ".join(f"{np.mean([r[c] for r in sel]):.3f}" for c in cols) + " |")
    (RESULTS / "finetune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
