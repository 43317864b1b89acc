"""The device a torch benchmark times on (``--device``), and the wait for its queued work.

Shared by ``bench_native_targets.py`` and ``bench_native_reductions.py`` (run as scripts, so
this folder is on ``sys.path``)."""

from __future__ import annotations

import torch

CPU = torch.device("cpu")
"""The default device of the benchmarks."""


def device_of(name: str) -> torch.device:
    """The torch device ``name``, or :class:`SystemExit` with a one-line reason when this
    machine has none (the CPU build of torch has no CUDA).

    >>> device_of("cpu")
    device(type='cpu')
    """
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: torch {torch.__version__} sees no CUDA device here")
    return device


def sync(device: torch.device) -> None:
    """Wait for the work queued on ``device``: a GPU runs its kernels asynchronously, so a
    time taken without it measures the launch only."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
