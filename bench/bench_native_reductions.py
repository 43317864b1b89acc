"""Benchmark the native PyTorch reductions (``symsmooth gen NAME --target torch``) against
torch's own ops and the torch bridge (the Numba kernels), forward and forward + backward.

Run from the repository root::

    python bench/bench_native_reductions.py             # 2048 x 1024 and 64 x 32, float64
    python bench/bench_native_reductions.py --quick     # fewer rounds
    python bench/bench_native_reductions.py --compile   # + torch.compile (inductor: minutes)
    python bench/bench_native_reductions.py --accuracy  # torch's own ops through the verifier
    python bench/bench_native_reductions.py --device cuda   # the GPU section (where lent)

Kernels and torch's own formulation of the same value: log-sum-exp ``LSE(k x)/k``
(``torch.logsumexp(k x, -1)/k``), softmax (``torch.softmax(k x, -1)``) and cross-entropy
``LSE(k x)/k - x_t`` (``F.cross_entropy(k x, t, reduction="none")/k``), ``k = 1.7``.  The
modules are generated into a temporary folder.  One process, interleaved rounds (each round
times every candidate once), the minimum over the rounds; ratios are candidate time / torch's
time (> 1: slower).  ``--accuracy`` instead measures torch's own formulations (their values
and autograd's gradients, ``k`` a tensor per row for ``grad_k``) and the native modules with
symsmooth's verifier,
the grid and certified references of ``symsmooth verify NAME --target torch``, and prints max
ulp per part (``k = 1``, long rows of 2000).  ``--device cuda`` times on the GPU (the bridge
then runs the Numba CUDA kernels, generated too; a time includes ``torch.cuda.synchronize``).
Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accuracy_against_own import compare  # noqa: E402
from torch_device import CPU, device_of, sync  # noqa: E402

from symsmooth import pipeline  # noqa: E402

K = 1.7
OWN = {
    "logsumexp_max": lambda x, k, t: torch.logsumexp(k * x, -1) / _per_row(k),
    "softmax_onehot_argmax": lambda x, k, t: torch.softmax(k * x, -1),
    "cross_entropy_lse": lambda x, k, t: F.cross_entropy(k * x, t, reduction="none") / _per_row(k),
}
"""Kernel -> torch's own formulation (``t``: 0-based class indices; ``k`` a number or one value
per row with a length-1 last axis)."""


def _per_row(k):
    """``k`` as it divides a per-row result: a number, or the per-row values without their
    length-1 axis."""
    return k[..., 0] if isinstance(k, torch.Tensor) and k.dim() else k


def _candidates(out: Path, compiled: bool) -> dict:
    import symsmooth.torch as sst

    table = {}
    for name, own in OWN.items():
        native = getattr(pipeline.load_native(name, "torch", out), name)
        bridge = sst.function(name, out)
        labelled = name == "cross_entropy_lse"

        def call(fn, labelled=labelled, integer=False):
            # the symsmooth kernels take 1-based labels (the bridge: integer ones)
            if not labelled:
                return lambda x, k, t: fn(x, k)
            return lambda x, k, t: fn(x, k, (t + 1) if integer else (t + 1).to(x.dtype))

        row = {"torch": own, "native": call(native), "bridge": call(bridge, integer=True)}
        if compiled:
            row["native+compile"] = call(torch.compile(native))
            row["torch+compile"] = torch.compile(own)
        table[name] = row
    return table


def _time(fn, x, t, backward: bool) -> float:
    sync(x.device)
    start = time.perf_counter()
    y = fn(x, K, t)
    if backward:
        y.sum().backward() if y.dim() < x.dim() else (y * x.detach()).sum().backward()
    sync(x.device)
    return time.perf_counter() - start


def run(shapes, rounds: int, compiled: bool, device=CPU) -> list[str]:
    out = Path(tempfile.mkdtemp(prefix="bench_native_rows_"))
    targets = ("cpu", "torch") + (("cuda",) if device.type == "cuda" else ())
    pipeline.generate(list(OWN), out=out, targets=targets)
    table = _candidates(out, compiled)
    gen = torch.Generator().manual_seed(0)
    lines = [
        "| kernel | shape | pass | " + " | ".join(next(iter(table.values()))) + " |",
        "|---|---|---|" + "---|" * len(next(iter(table.values()))),
    ]
    for shape in shapes:
        x0 = (torch.randn(*shape, generator=gen, dtype=torch.float64) * 4).to(device)
        t = torch.randint(0, shape[-1], shape[:-1], generator=gen).to(device)
        for name, row in table.items():
            for backward in (False, True):
                best = dict.fromkeys(row, float("inf"))
                for fn in row.values():  # warm up (and compile) outside the timing
                    _time(fn, x0.clone().requires_grad_(backward), t, backward)
                for _ in range(rounds):
                    for label, fn in row.items():
                        x = x0.clone().requires_grad_(backward)
                        best[label] = min(best[label], _time(fn, x, t, backward))
                base = best["torch"]
                cells = [
                    f"{best[c] * 1e3:.2f} ms"
                    + ("" if c == "torch" else f" ({best[c] / base:.2f}x)")
                    for c in row
                ]
                passes = "fwd+bwd" if backward else "fwd"
                lines.append(
                    f"| {name} | {shape[0]}x{shape[1]} | {passes} | " + " | ".join(cells) + " |"
                )
    return lines


def _own_module(name: str, own) -> SimpleNamespace:
    """torch's own formulation of ``name`` with autograd's gradients, called as the verifier
    calls a kernel module (``x, k[, t]``; ``t`` 1-based; ``cotangent=`` for a row map)."""

    def value(x, k, *labels):
        k = torch.as_tensor(k, dtype=x.dtype)
        t = (
            (torch.as_tensor(labels[0]).long().reshape(-1).expand(x.shape[0]) - 1)
            if labels
            else None
        )
        return own(x, k[..., None] if k.dim() else k, t)

    def grad(x, k, *labels, cotangent=None):
        x = x.detach().clone().requires_grad_()
        y = value(x, k, *labels)
        return torch.autograd.grad(y, x, torch.ones_like(y) if cotangent is None else cotangent)[0]

    def grad_k(x, k, *labels, cotangent=None):
        kt = torch.full(x.shape[:-1], float(k), dtype=x.dtype, requires_grad=True)
        y = value(x, kt, *labels)
        return torch.autograd.grad(y, kt, torch.ones_like(y) if cotangent is None else cotangent)[0]

    return SimpleNamespace(
        __all__=[name, f"{name}_grad", f"{name}_grad_k"],
        **{name: value, f"{name}_grad": grad, f"{name}_grad_k": grad_k},
    )


def accuracy() -> list[str]:
    """The accuracy table of torch's own formulations and the native torch modules
    (:func:`accuracy_against_own.compare`)."""
    owns = {name: _own_module(name, own) for name, own in OWN.items()}
    return compare(owns, "torch", "torch's own")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    parser.add_argument("--compile", action="store_true", help="add torch.compile (inductor)")
    parser.add_argument("--accuracy", action="store_true", help="ulps of torch's own ops")
    parser.add_argument("--device", default="cpu", help="torch device to time on (cpu, cuda)")
    args = parser.parse_args(argv)
    if args.accuracy:
        print("\n".join(accuracy()))
        return
    device = device_of(args.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, k = {K}, "
        f"device {device}"
    )
    rounds = 3 if args.quick else 9
    for line in run([(2048, 1024), (64, 32)], rounds, args.compile, device):
        print(line)


if __name__ == "__main__":
    main()
