"""Adaptation quality (issue 10): NeuralFeatureMap fine-tuned from a source map, through an input adapter
where the columns differ, with and without an alignment loss (CORAL, MMD), against the same architecture
trained from scratch on the target with the same epochs.

Pairs (DataFrames with the datasets' column names, so the adapter matches columns by name):

- breast cancer, first 20 columns on a random half of the rows -> all 30 columns on the other half
  (adapter 30 -> 20; the 20 shared columns copied);
- breast cancer (30 columns) -> wine (13): no shared column (adapter 13 -> 30, random orthogonal start);
- make_customers 1500 rows, 4 noise columns -> 1000 rows of another draw with 2 (categorical columns
  channel and region kept and passed through to the source's embeddings; adapter 7 -> 9);
- digits, a random half of the rows -> the other half (same columns: no adapter, weights loaded as they are).

Source: NeuralFeatureMap (default architecture, 40 epochs) on the source data. Target arms, run back to
back for each pair and seed (interleaved, in a rotating order): scratch (the source's architecture, fresh
weights), fine-tuned, fine-tuned + CORAL and + MMD (alignment_weight 1 and 10), each for every epoch count,
and the transferred map without training.  Also recorded: the CORAL distance of each transferred arm's
target embedding to the source's reference embedding (whether the alignment aligns). Score: ARI of
KMeans(k, n_init=10) on the target embedding against the target's labels (k = its class count).

    python benchmarks/bench_adaptation.py [--seeds 0 1 2] [--epochs 2 10 40]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from bench_finetune import ari, run_meta

from sknas import NeuralFeatureMap
from sknas.datasets import make_customers
from sknas.training.alignment import coral_loss

RESULTS = Path(__file__).parent / "results"


def _frame(loader):
    bunch = loader()
    return pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names]), np.asarray(bunch.target)


def _row_halves(X, y, seed):
    order = np.random.RandomState(1000 + seed).permutation(len(X))
    a, b = np.sort(order[: len(X) // 2]), np.sort(order[len(X) // 2:])
    return (X.iloc[a].reset_index(drop=True), y[a]), (X.iloc[b].reset_index(drop=True), y[b])


def _cancer_20_to_30(seed):
    X, y = _frame(load_breast_cancer)
    (Xa, ya), (Xb, yb) = _row_halves(X, y, seed)
    return (Xa.iloc[:, :20], ya), (Xb, yb)


def _cancer_to_wine(seed):
    return _frame(load_breast_cancer), _frame(load_wine)


def _customers(seed):
    source = make_customers(n_samples=1500, random_state=100 + seed, as_frame=True)
    target = make_customers(n_samples=1000, n_noise_features=2, random_state=200 + seed, as_frame=True)
    return (source.data, np.asarray(source.target)), (target.data, np.asarray(target.target))


def _digits_halves(seed):
    bunch = load_digits()
    X = pd.DataFrame(bunch.data, columns=[f"pixel_{j}" for j in range(bunch.data.shape[1])])
    return _row_halves(X, bunch.target, seed)


PAIRS = {
    "breast cancer 20 columns -> 30 columns (other rows)": _cancer_20_to_30,
    "breast cancer -> wine (no shared column)": _cancer_to_wine,
    "customers 4 noise columns -> 2 (other draw, categoricals kept)": _customers,
    "digits half A -> half B (same columns)": _digits_halves,
}
#: arm -> (alignment, alignment_weight). Weight 1 is the default; at 1 the alignment losses (about 0.005-0.1 on
#: these pairs) are small beside the neighbours objective (about 1.5-2.5), so weight 10 is measured as well.
ALIGNMENTS = {"fine_tuned": (None, 1.0), "coral": ("coral", 1.0), "coral_w10": ("coral", 10.0),
              "mmd": ("mmd", 1.0), "mmd_w10": ("mmd", 10.0)}


def run_pair(pair, seed, epochs):
    (Xs, ys), (Xt, yt) = PAIRS[pair](seed)
    source = NeuralFeatureMap(n_clusters=len(np.unique(ys)), random_state=seed, device="cpu").fit(Xs)
    row = {"pair": pair, "seed": seed, "source_columns": Xs.shape[1], "target_columns": Xt.shape[1],
           "source_ari_on_source": ari(source, Xs, ys, seed), "seconds": {}}
    arms = [("transferred_no_training", {"init": source, "fine_tune": False}, None)]
    for e in epochs:
        arms.append((f"scratch_{e}", {"architecture": source.architecture_}, e))
        arms += [(f"{name}_{e}", {"init": source, "alignment": alignment, "alignment_weight": weight}, e)
                 for name, (alignment, weight) in ALIGNMENTS.items()]
    shift = seed % len(arms)  # rotate the order from seed to seed: no arm always runs first or last
    for name, params, e in arms[shift:] + arms[:shift]:
        t0 = time.perf_counter()
        fmap = NeuralFeatureMap(random_state=seed, device="cpu", **({"max_epochs": e} if e else {}), **params).fit(Xt)
        row["seconds"][name] = round(time.perf_counter() - t0, 2)
        row[name] = ari(fmap, Xt, yt, seed)
        if "init" in params:  # how far the target embedding's covariance is from the source's (CORAL loss)
            Z = torch.as_tensor(fmap.transform(Xt), dtype=torch.float32)
            row.setdefault("coral_to_source", {})[name] = float(coral_loss(torch.as_tensor(source.reference_embedding_),
                                                                          Z))
        if name == "transferred_no_training":
            row["adapter"] = None if fmap.adapter_ is None else {k: v for k, v in fmap.adapter_.items()
                                                                 if k != "matched"} | {
                "n_matched": len(fmap.adapter_["matched"])}
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 10, 40])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        for pair in args.pairs:
            row = run_pair(pair, seed, args.epochs)
            rows.append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                   if k not in ("seconds", "coral_to_source")}, flush=True)
        write(rows, args)  # after every seed: a run stopped early keeps its finished seeds


def write(rows, args):
    machine = (f"{platform.node()} {platform.machine()}, CPU, 2 cores shared with other workers and background "
               "benchmarks (noisy), torch threads=1")
    meta = run_meta(rows, args, machine)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "adaptation.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    lines = ["# Adaptation: fine-tuned (input adapter, CORAL / MMD alignment) vs from scratch, same epochs "
             "(issue 10)", "",
             f"Machine: {machine}. Date {meta['date'][:19]}Z. Command: `{meta['command']}`. Seeds {meta['seeds']}; "
             "arms run back to back per pair and seed, in a rotating order. Source: NeuralFeatureMap (default "
             "architecture `linear(128)-relu -> linear`, 8 components, 40 epochs) on the source data; every target "
             "arm uses that architecture. ARI of KMeans(k = class count, n_init=10) on the target embedding: mean "
             "(min-max) over seeds; per-seed values and seconds in adaptation.json.", ""]
    for e in args.epochs:
        cols = [f"scratch_{e}"] + [f"{name}_{e}" for name in ALIGNMENTS]
        lines += [f"## {e} epochs on the target", "",
                  "| pair | adapter | transferred, no training | " + " | ".join(c.rsplit("_", 1)[0].replace("_", " ")
                                                                        for c in cols) + " |",
                  "|---|---|---|" + "---|" * len(cols)]
        for pair in dict.fromkeys(r["pair"] for r in rows):
            sel = [r for r in rows if r["pair"] == pair]
            adapter = sel[0]["adapter"]
            adapter_text = "none" if adapter is None else \
                f"{adapter['n_inputs']} -> {adapter['n_outputs']} ({adapter['n_matched']} matched)"
            cells = [_cell([r[c] for r in sel]) for c in ["transferred_no_training"] + cols]
            lines.append(f"| {pair} | {adapter_text} | " + " | ".join(cells) + " |")
        lines.append("")
    e = max(args.epochs)
    cols = ["transferred_no_training"] + [f"{name}_{e}" for name in ALIGNMENTS]
    lines += [f"## CORAL distance of the target embedding to the source's reference embedding ({e} epochs)", "",
              "Mean over seeds (0 = same covariance); whether the alignment loss does what it is asked to.", "",
              "| pair | " + " | ".join(c.removesuffix(f"_{e}").replace("_", " ") for c in cols) + " |",
              "|---|" + "---|" * len(cols)]
    for pair in dict.fromkeys(r["pair"] for r in rows):
        sel = [r for r in rows if r["pair"] == pair]
        lines.append(f"| {pair} | " + " | ".join(f"{np.mean([r['coral_to_source'][c] for r in sel]):.4f}"
                                                  for c in cols) + " |")
    lines.append("")
    (RESULTS / "adaptation.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _cell(values):
    return f"{np.mean(values):.3f} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    main()
