"""Device resolution, seeded execution and tensor hand-over, shared by the trainer and the estimators."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import torch

# torch's global generator is one per process; two seeded blocks running at once in
# threads of one process (thread backends, Dask workers) would interleave their draws.
_GLOBAL_RNG_LOCK = threading.RLock()

DEVICES = ("auto", "cpu", "cuda")
#: Exclusive upper bound of every seed drawn from a fit's generator (``rng.randint(SEED_MAX)``).
SEED_MAX = 2**31 - 1


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``.

    ``"auto"`` picks CUDA when available, else the CPU.  Asking for CUDA on a
    machine without it is a clear ``ValueError`` rather than a torch error deep
    inside training.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {type(device).__name__}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine; "
                             "use device='auto' or 'cpu'.")
        return torch.device(device)
    if device == "cpu":
        return torch.device("cpu")
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}.")


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run torch code with its global RNG seeded, then restore the caller's RNG state.

    Weight initialisation and dropout draw from torch's global generator; forking
    it keeps runs reproducible without ever changing the user's random state.
    Seeded blocks of one process run one at a time (a re-entrant lock), so
    concurrent threads cannot interleave their draws.
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device).index or 0]
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices, enabled=True):
        torch.manual_seed(int(seed))
        yield


def encoder_device(encoder):
    """The device an encoder's weights live on (the identity map has none: CPU)."""
    first_weight = next(encoder.parameters(), None)
    return first_weight.device if first_weight is not None else torch.device("cpu")


def as_float32_rows(X):
    """A writable C-ordered float32 copy when needed: rows arriving through joblib or Dask may be
    read-only or in another layout, and torch's kernels round differently on other layouts."""
    return np.array(X, dtype=np.float32, order="C", copy=not (X.flags.c_contiguous and X.flags.writeable))
