"""Cost of a candidate network: parameters and inference latency."""

from __future__ import annotations

import statistics
import time

import torch

__all__ = ["count_parameters", "measure_latency_ms", "efficiency_report"]


def count_parameters(module):
    """Number of trainable parameters of a module.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    int

    Examples
    --------
    >>> import torch
    >>> count_parameters(torch.nn.Linear(4, 2))
    10
    """
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def _input_dtype(module):
    # Match the weights' floating dtype so a float64 network does not fail
    # on a float32 probe; float32 otherwise (the usual case).
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _sync(device):
    # CUDA kernels run asynchronously; without a sync the timer would only
    # measure the kernel launches.
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency_ms(module, n_features, *, n_rows=1000, repeats=7, warmup=2,
                       device="cpu"):
    """Median forward-pass time, in milliseconds per 1,000 rows.

    The module runs in eval mode under ``torch.no_grad()`` on a random
    input of shape ``(n_rows, n_features)``; ``warmup`` untimed passes come
    first, then ``repeats`` passes timed with :func:`time.perf_counter`.
    The training mode of every submodule is restored afterwards.

    Parameters
    ----------
    module : torch.nn.Module
        Network already placed on ``device``.
    n_features : int
        Input width.
    n_rows : int, default=1000
        Batch size of the probe.
    repeats : int, default=7
        Timed passes; the median is reported (robust to scheduler hiccups).
    warmup : int, default=2
        Untimed passes (allocator and kernel warm-up).
    device : str or torch.device, default="cpu"
        Where the probe input is created.

    Returns
    -------
    float
        Milliseconds per 1,000 rows.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
    >>> measure_latency_ms(net, 8, repeats=3) > 0
    True
    """
    if n_rows < 1 or repeats < 1 or warmup < 0:
        raise ValueError("need n_rows >= 1, repeats >= 1 and warmup >= 0")
    # A fixed private generator: the probe must not consume the global RNG.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n_rows, n_features, generator=gen, dtype=_input_dtype(module))
    x = x.to(device)
    # Record each submodule's flag: module.train(mode) would overwrite a
    # deliberately mixed setting (e.g. frozen batch-norm layers).
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        times = []
        with torch.no_grad():
            for i in range(warmup + repeats):
                _sync(device)
                start = time.perf_counter()
                module(x)
                _sync(device)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        for m, training in modes:
            m.training = training
    return statistics.median(times) * 1000.0 * (1000.0 / n_rows)


def efficiency_report(module, n_features, flops=None, measure_latency=True, params=None):
    """Cost summary of a candidate network.

    Parameters
    ----------
    module : torch.nn.Module
    n_features : int
        Input width.
    flops : int, default=None
        Forward FLOPs per row, computed by the architecture description and
        passed through unchanged.
    measure_latency : bool, default=True
        If False, ``latency_ms_per_1000_rows`` is ``None`` (saves time).
    params : int, default=None
        Weight count from the architecture description (which includes fitted,
        non-trained projections); ``None`` counts the module's trainable parameters.

    Returns
    -------
    dict
        Keys ``params``, ``flops`` and ``latency_ms_per_1000_rows``.

    Examples
    --------
    >>> import torch
    >>> efficiency_report(torch.nn.Linear(4, 2), 4, flops=16, measure_latency=False)
    {'params': 10, 'flops': 16, 'latency_ms_per_1000_rows': None}
    """
    latency = measure_latency_ms(module, n_features) if measure_latency else None
    return {
        "params": count_parameters(module) if params is None else params,
        "flops": flops,
        "latency_ms_per_1000_rows": latency,
    }
