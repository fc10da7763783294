"""Search checkpoints: an interrupted search resumes from the trials it already paid for.

The file is one JSON document, rewritten atomically (temporary file, fsync,
``os.replace``) after every step of the search loop, so a crash or Ctrl-C at
any moment leaves either the previous or the new version, never half of one.
It holds a header (format, version, estimator class, a fingerprint of the
parameters and of the train/validation rows, the RNG state the fit started
from), every history record so far, and the RNG state after the last step.

Reading it back builds only plain JSON values and a few tagged ones
(:mod:`sknas.io.codec`): Architectures and Blocks (validated on construction),
NumPy arrays of numbers, tuples and non-finite floats.  Nothing is unpickled,
so a checkpoint cannot run code.

Resume is by replay.  ``fit`` starts again from the saved RNG state, so the
split is the same; the search loop runs as before, asking the strategy for
each step's proposals, but a candidate whose record is in the checkpoint
(same trial number, architecture, seed and fidelity) is taken from it instead
of being trained.  Every strategy that runs in the shared loop derives its
state (populations, surrogates, the RL controller, progressive's beam) from
the RNG and the history alone, so replay rebuilds that state exactly and the
resumed search goes on as the uninterrupted one would have.  Strategies that
train a supernet outside the loop (DARTS, ENAS) are not checkpointed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings

import numpy as np

from ..config import get_config
from ..space import Architecture, Block, SearchSpace
from .codec import Decoder, Encoder
from .provenance import data_fingerprint

FORMAT = "sknas-search-checkpoint"
#: 2: the package's one codec (Architectures as dataclasses) and data fingerprint.
VERSION = 2
#: Parameters that may change between the interrupted fit and the resuming one: budgets and
#: reporting.  A changed n_jobs or max_trials that alters the proposals is caught by replay itself.
RESUMABLE_CHANGES = frozenset({"checkpoint", "verbose", "n_jobs", "max_trials", "max_time", "time_budget"})
#: Keys the search loop adds to an evaluated record; stripped before a replayed record re-enters it.
_LOOP_KEYS = ("trial", "cached", "step")


#: The only classes a checkpoint may name (validated on construction).
_CLASSES = {"Architecture": Architecture, "Block": Block}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be resumed: not ours, damaged, or from another search."""


# -- tagged JSON: the package's one codec, with the Architecture classes only -------------------------------
def encode(value):
    """A JSON-ready copy of ``value`` (records, RNG states); raises TypeError on anything else."""
    return Encoder(_CLASSES).encode(value)


def decode(value):
    """Inverse of :func:`encode`; builds nothing but plain values, arrays and Architectures (ValueError else)."""
    return Decoder(_CLASSES).decode(value)


# -- fingerprints -------------------------------------------------------------------------------------------
def params_fingerprint(estimator):
    """The parameters that decide what a trial computes, as comparable JSON text."""
    params = estimator.get_params(deep=False)
    out = {}
    for name in sorted(set(params) - RESUMABLE_CHANGES):
        value = params[name]
        if isinstance(value, SearchSpace):
            value = repr(value)
        elif isinstance(value, np.random.RandomState):
            value = "RandomState"  # its state at fit start is what the checkpoint restores
        elif callable(value):
            value = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
        try:
            out[name] = encode(value)
        except TypeError:
            out[name] = repr(value)
    out["sknas.config"] = get_config()  # settings that change what a trial computes, like parameters
    return json.dumps(out, sort_keys=True)


def search_data_fingerprint(context):
    """A hash of the rows and targets the search trains and scores on (one :func:`data_fingerprint` each)."""
    digest = hashlib.sha256()
    for key in ("X_train", "X_valid", "y_train", "y_valid"):
        value = context.get(key)
        digest.update(f"{key}={'none' if value is None else data_fingerprint(value)};".encode())
    return digest.hexdigest()


# -- the file ----------------------------------------------------------------------------------------------
def read_checkpoint(path):
    """The decoded checkpoint at ``path``, or None when there is no file yet."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{os.fspath(path)!r} is not an sknas search checkpoint ({exc}). Remove it or "
                              "pass another checkpoint path.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{os.fspath(path)!r} is not an sknas search checkpoint. Remove it or pass another "
                              "checkpoint path.")
    if raw.get("version") != VERSION:
        raise CheckpointError(f"{os.fspath(path)!r} has checkpoint version {raw.get('version')!r}; this sknas "
                              f"reads version {VERSION}.")
    try:
        state = decode(raw)
        for key in ("estimator", "params", "data", "initial_rng", "history"):
            state[key]  # presence check: a KeyError names the missing part
        return state
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{os.fspath(path)!r} is a damaged sknas checkpoint ({exc}).") from None


def write_atomically(path, text):
    """Replace ``path`` with ``text`` so that a reader sees the old or the new file, never a mix."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C mid-write included: the previous checkpoint stays in place
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rng_from_state(state):
    rng = np.random.RandomState()
    rng.set_state(state)
    return rng


# -- the journal the search loop writes -------------------------------------------------------------------------
class SearchJournal:
    """Replays a checkpoint's records into the search loop and saves the loop's progress.

    Created by the estimator at the start of ``fit`` (``open``), before the
    train/validation split, so that a resumed fit draws the same split.
    """

    def __init__(self, path, estimator, initial_rng, saved=None):
        self.path = path
        self.estimator = type(estimator).__name__
        self.params = params_fingerprint(estimator)
        self.initial_rng = initial_rng
        self.data = None
        self.used = False  # the shared loop ran (strategies with their own loop never touch the journal)
        self.n_saved = 0
        self._saved = saved
        self._replay = {}

    @classmethod
    def open(cls, path, estimator, rng):
        """The journal for ``path``; a saved checkpoint's initial RNG state replaces ``rng``'s.

        Returns ``(journal, rng)``.
        """
        saved = read_checkpoint(path)
        if saved is None:
            return cls(path, estimator, rng.get_state()), rng
        journal = cls(path, estimator, saved["initial_rng"], saved)
        if saved["estimator"] != journal.estimator or saved["params"] != journal.params:
            raise CheckpointError(
                f"Checkpoint {os.fspath(path)!r} was written by a {saved['estimator']} search with other "
                "parameters or sknas.config settings; only checkpoint, verbose, n_jobs, max_trials, max_time and "
                "time_budget may change when resuming. "
                "Remove the file or pass another checkpoint path to start afresh.")
        return journal, rng_from_state(saved["initial_rng"])

    def start(self, context):
        """Check the data against the checkpoint; queue its records for replay."""
        self.used = True
        self.data = search_data_fingerprint(context)
        if self._saved is None:
            return
        if self._saved["data"] != self.data:
            raise CheckpointError(
                f"Checkpoint {os.fspath(self.path)!r} was written for other data; resume with the same X (and y), "
                "or remove the file to start afresh.")
        self._replay = {r["trial"]: r for r in self._saved["history"] if not r.get("cached")}
        self.n_saved = len(self._saved["history"])

    def evaluate(self, evaluate, trials, candidates, seeds, fidelity, *args):
        """``evaluate(candidates, seeds, *args)``, unless the checkpoint already holds these records."""
        if self._replay:
            saved = [self._replay.get(t) for t in trials]
            if all(r is not None and r["architecture"] == a and r["seed"] == s and r["fidelity"] == fidelity
                   for r, a, s in zip(saved, candidates, seeds)):
                return [{k: v for k, v in r.items() if k not in _LOOP_KEYS} for r in saved]
            warnings.warn(f"The search diverged from checkpoint {os.fspath(self.path)!r} at trial {min(trials)} "
                          "(changed n_jobs or max_trials?); training from there.", RuntimeWarning, stacklevel=3)
            self._replay = {}
        return evaluate(candidates, seeds, *args)

    def save(self, history, rng):
        """Write the history so far (after a whole step of the loop) atomically."""
        if self.path is None:
            return
        self._replay = {t: r for t, r in self._replay.items() if t >= len(history)}
        state = {"format": FORMAT, "version": VERSION, "estimator": self.estimator, "params": self.params,
                 "data": self.data, "initial_rng": self.initial_rng, "rng": rng.get_state(),
                 "n_trials": len(history), "history": history}
        write_atomically(self.path, json.dumps(encode(state), allow_nan=False))
        self.n_saved = max(self.n_saved, len(history))

    def interrupted_message(self, n_done):
        if self.path is None:
            return (f"Search interrupted after {n_done} trials. Pass checkpoint='search.json' to make a search "
                    "resumable.")
        return (f"Search interrupted after {n_done} trials; checkpoint {os.fspath(self.path)!r} holds "
                f"{self.n_saved} completed trials. Call fit again with the same data, parameters and "
                "checkpoint to resume from there.")


class NullJournal(SearchJournal):
    """No checkpoint: the loop's calls pass straight through."""

    def __init__(self):
        self.path = None
        self.used = False
        self.n_saved = 0
        self._replay = {}

    def start(self, context):
        self.used = True

    def save(self, history, rng):
        pass
