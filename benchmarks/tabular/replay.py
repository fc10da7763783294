"""Replay every search strategy against the tabulated benchmark (issue 25, step 2 of 2).

Each strategy is the package's own estimator, driven through its own search loop (``_search``, hence its
``_propose``, its population, surrogate, controller or Optuna study): only the candidate evaluation is
replaced by a lookup in ``data/tabular.json.gz`` (``precompute.py``), so a run costs no training. The
benchmark space is the finite tabulated set (:class:`TabularSpace`): ``sample`` draws a member uniformly,
``mutate`` and ``crossover`` apply the default space's own operators and return the nearest member (by
the one-hot encoding's distance, :mod:`sknas.space.encoding`) other than the parent, and any architecture
a strategy builds itself (the RL controller, a progressive expansion, an Optuna trial) is looked up as its
nearest member. The record a strategy sees is the member's, so it learns from real table entries.

The budget is counted in evaluations, as a real fit pays for them: every architecture the strategy has
trained is one evaluation (an exact repeat is answered from the search loop's cache, as in a real fit, and
costs nothing). Two different proposals may have the same nearest member: both are paid for, and the
second brings nothing new (a real fit would have trained a different network, whose score the table
estimates by its nearest member's). A run stops after ``--budget`` evaluations (fewer for the strategies
in ``BUDGET``, whose own per-step cost is high) or when the strategy stops. What a search would pick after
``b`` evaluations is the member with the best label-free score among its first ``b``.

    python benchmarks/tabular/replay.py [--budget 200] [--seeds 20] [--strategies ...] [--tables ...]

Writes ``data/replay.json.gz`` (each run's member order); ``analyze.py`` turns it into results.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import precompute  # noqa: E402

REPLAY = HERE / "data" / "replay.json.gz"


def strategies():
    """Name -> (estimator class, parameters besides the shared ones): each strategy at its defaults."""
    from sknas import (BayesFeatureSearch, EvoFeatureSearch, OptunaFeatureSearch, ParetoFeatureSearch,
                       ProgressiveFeatureSearch, RandomFeatureSearch, RLFeatureSearch)

    return {
        "random": (RandomFeatureSearch, {}),
        "evolution": (EvoFeatureSearch, {}),
        "pareto (NSGA-II)": (ParetoFeatureSearch, {}),
        "progressive": (ProgressiveFeatureSearch, {}),
        "reinforce": (RLFeatureSearch, {}),
        "bayes (GP, EI)": (BayesFeatureSearch, {}),
        "optuna TPE": (OptunaFeatureSearch, {}),
        "optuna CMA-ES": (OptunaFeatureSearch, {"sampler": "cmaes"}),
    }


#: Strategies replayed to fewer evaluations: their own per-step work (a Gaussian process refitted on every
#: step and a 200-architecture pool scored; a torch controller sampled and updated) cost 3.6 s per run of 50
#: evaluations (Bayes) and 1.6 s (RL) on the shared 2-core machine, growing faster than linearly with the
#: budget, and the whole replay (8 strategies x 8 tables x 20 seeds) had to fit in about half an hour.
BUDGET = {"bayes (GP, EI)": 50, "reinforce": 100}


class ReplayDone(Exception):
    """The run has evaluated its budget of distinct members."""


def tabular_space(members):
    """The finite benchmark space: the default space's choices, ``members`` its only architectures."""
    from sknas.space import SearchSpace
    from sknas.space.encoding import encode_many
    from sklearn.utils import check_random_state

    class TabularSpace(SearchSpace):
        def sample(self, random_state=None):
            rng = check_random_state(random_state)
            return self._members[rng.randint(len(self._members))]

        def mutate(self, arch, random_state=None):
            return self.nearest(super().mutate(arch, random_state), avoid=arch)

        def crossover(self, a, b, random_state=None, kind="one_point"):
            return self.nearest(super().crossover(a, b, random_state, kind=kind))

        def nearest(self, arch, avoid=None):
            """``arch`` when it is a member, else the nearest member (the first of equals) other than ``avoid``."""
            if arch in self._index and arch != avoid:
                return arch
            if (arch, avoid) in self._nearest:
                return self._nearest[arch, avoid]
            distance = ((self._codes - self._code(arch)) ** 2).sum(axis=1)
            if avoid is not None and avoid in self._index:
                distance[self._index[avoid]] = np.inf
            self._nearest[arch, avoid] = self._members[int(np.argmin(distance))]
            return self._nearest[arch, avoid]

        def _code(self, arch):
            """``encode(arch, self)``, assembled from memoised per-block codes (the harness's hot path)."""
            from dataclasses import replace

            from sknas.space import Architecture
            from sknas.space.architecture import HEADS

            memo = self._block_codes
            lead = len(HEADS) + self.max_depth + 1
            key = (arch.head, arch.depth)
            if key not in memo:
                memo[key] = encode_many([arch], self)[0][:lead]
            parts = [memo[key]]
            for block in arch.blocks:
                if block not in memo:
                    one = replace(self, max_depth=1)
                    memo[block] = encode_many([Architecture((block,))], one)[0][len(HEADS) + 2:]
                parts.append(memo[block])
            width = (len(self._codes[0]) - lead) // self.max_depth
            parts += [np.zeros(width)] * (self.max_depth - arch.depth)
            return np.concatenate(parts)

    base = precompute.benchmark_space()
    space = TabularSpace(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    object.__setattr__(space, "_members", tuple(members))
    object.__setattr__(space, "_index", {a: i for i, a in enumerate(members)})
    object.__setattr__(space, "_codes", encode_many(list(members), space))
    object.__setattr__(space, "_block_codes", {})
    object.__setattr__(space, "_nearest", {})  # (architecture, avoid) -> member, memoised
    return space


def replay_class(cls):
    """``cls`` whose candidate evaluation is a lookup in the table (see :func:`run`)."""

    class Replay(cls):
        def _evaluate_contained(self, candidates, seeds, data, settings):
            return [self._lookup(arch, seed) for arch, seed in zip(candidates, seeds)]

        def _lookup(self, arch, seed):
            table, space, trace = self._table
            if len(trace["order"]) >= trace["budget"]:
                raise ReplayDone
            member = space.nearest(arch)
            i = space._index[member]
            trace["order"].append(i)
            valid = bool(table["valid"][i][0])
            score = table["score"][i][0] if valid else -math.inf
            return {"architecture": member, "seed": seed, "status": "ok", "reason": None if valid else "collapsed",
                    "score": score, "valid": valid, "separability": table["separability"][i][0],
                    "validation_loss": math.nan, "n_epochs": 1, "neighbor_preservation": None,
                    "labels": None, "embedding": None, "params": table["params"][i], "flops": 0,
                    "time": 0.0}

    Replay.__name__ = Replay.__qualname__ = cls.__name__
    return Replay


def run(strategy, table_name, table, space, seed, budget, rows):
    """The members one strategy evaluates, in order, on one table (its first ``rows`` rows) with one seed."""
    cls, params = strategies()[strategy]
    X, y = precompute.load_table(table_name, rows)
    search = replay_class(cls)(n_clusters=table["k"], random_state=seed, device="cpu",
                               max_trials=4 * budget, search_space=space, **params)
    context, _ = precompute.prepare(search, X, y)
    trace = {"order": [], "budget": budget}
    search._table = (table, space, trace)
    search._init_archs, search._fixed_map_seed = [], 0
    from sknas.io.checkpoint import NullJournal

    search._journal = NullJournal()
    if strategy.startswith("pareto"):  # what its _select_architecture sets before searching
        from sknas.search.pareto import check_objectives

        search._objectives, search._latency_cache = check_objectives(search.objectives), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            search._search(space, context)
        except ReplayDone:
            pass
    return trace["order"]


def main():
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--strategies", nargs="+", default=list(strategies()))
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=REPLAY)
    args = parser.parse_args()
    data = precompute.load_data()
    from sknas.space import Architecture

    members = [Architecture.from_json(text) for text in data["architectures"]]
    space = tabular_space(members)
    runs = {}
    if args.out.exists():
        with gzip.open(args.out, "rt") as fh:
            runs = json.load(fh)["runs"]
    for strategy in args.strategies:
        budget = min(args.budget, BUDGET.get(strategy, args.budget))
        start = time.perf_counter()
        for seed in range(args.seeds):  # seeds outermost: an interrupted strategy still covers every table
            for name in args.tables or list(data["tables"]):
                done = runs.setdefault(f"{strategy}|{name}", {})
                if str(seed) not in done:
                    done[str(seed)] = run(strategy, name, data["tables"][name], space, seed, budget, data["rows"])
            tmp = args.out.with_suffix(".tmp")
            with gzip.open(tmp, "wt") as fh:
                json.dump({"budget": args.budget, "budgets": {s: min(args.budget, BUDGET.get(s, args.budget))
                                                              for s in strategies()}, "runs": runs},
                          fh, separators=(",", ":"))
            os.replace(tmp, args.out)
        lengths = [len(v) for k, runs_ in runs.items() if k.startswith(strategy + "|") for v in runs_.values()]
        print(f"{strategy:18s} {time.perf_counter() - start:7.1f} s, evaluations per run min {min(lengths)} "
              f"max {max(lengths)}", flush=True)


if __name__ == "__main__":
    main()
