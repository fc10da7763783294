"""Candidate faults: what counts as running out of memory, and the smaller batches to retry with.

A long search must survive one bad candidate.  Out of memory is the one
fault worth a retry, because it depends on the batch rather than on the
architecture: the candidate is trained again with half the batch (twice at
most) before it is recorded as failed.  Every other fault (non-finite loss,
exploding gradients, a layer that cannot be built) is recorded at once.
"""

from __future__ import annotations

import gc
from collections import Counter

import torch

#: Halvings of the batch size tried after an out-of-memory error, before the candidate is skipped.
OOM_RETRIES = 2
#: Below this many rows a batch no longer estimates the loss well; retries stop there.
MIN_RETRY_BATCH = 8


def is_out_of_memory(exc):
    """Whether ``exc`` is a device (or host) out-of-memory error, however torch spelled it.

    ``torch.OutOfMemoryError`` is recent; older builds and some kernels raise
    a plain ``RuntimeError("CUDA out of memory ...")``, and the candidate
    trainer wraps it in a ``CandidateFailure("out of memory: ...")``.
    """
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def retry_batch_sizes(batch_size):
    """The batch sizes to try in turn: the configured one, then halvings down to ``MIN_RETRY_BATCH``."""
    sizes = [batch_size]
    for _ in range(OOM_RETRIES):
        smaller = sizes[-1] // 2
        if smaller < MIN_RETRY_BATCH:
            break
        sizes.append(smaller)
    return sizes


def release_memory():
    """Give cached device memory back before a retry (the failed attempt's tensors are garbage by now)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def failure_reason(exc):
    """One line naming the fault: the trainer's own reason, else the exception type and first line."""
    reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    return (reason.splitlines() or [type(exc).__name__])[0]


def summarize_failures(history):
    """``"3x non-finite training loss at epoch 1; 1x out of memory ..."``, most frequent first."""
    counts = Counter(r.get("reason") or "unknown" for r in history)
    return "; ".join(f"{n}x {reason}" for reason, n in counts.most_common())
