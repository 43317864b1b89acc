"""Benchmark the native PyTorch reductions (``symsmooth gen NAME --target torch``) against
torch's own ops and the torch bridge (the Numba kernels), forward and forward + backward.

Run from the repository root::

    python bench/bench_native_reductions.py             # 2048 x 1024 and 64 x 32, float64
    python bench/bench_native_reductions.py --quick     # fewer rounds
    python bench/bench_native_reductions.py --compile   # + torch.compile (inductor: minutes)

Kernels and torch's own formulation of the same value: log-sum-exp ``LSE(k x)/k``
(``torch.logsumexp(k x, -1)/k``), softmax (``torch.softmax(k x, -1)``) and cross-entropy
``LSE(k x)/k - x_t`` (``F.cross_entropy(k x, t, reduction="none")/k``), ``k = 1.7``.  The
modules are generated into a temporary folder.  One process, interleaved rounds (each round
times every candidate once), the minimum over the rounds; ratios are candidate time / torch's
time (> 1: slower).  Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symsmooth import pipeline  # noqa: E402

K = 1.7
OWN = {
    "logsumexp_max": lambda x, k, t: torch.logsumexp(k * x, -1) / k,
    "softmax_onehot_argmax": lambda x, k, t: torch.softmax(k * x, -1),
    "cross_entropy_lse": lambda x, k, t: F.cross_entropy(k * x, t, reduction="none") / k,
}
"""Kernel -> torch's own formulation (``t``: 0-based class indices)."""


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
    start = time.perf_counter()
    y = fn(x, K, t)
    if backward:
        y.sum().backward() if y.dim() < x.dim() else (y * x.detach()).sum().backward()
    return time.perf_counter() - start


def run(shapes, rounds: int, compiled: bool) -> list[str]:
    out = Path(tempfile.mkdtemp(prefix="bench_native_rows_"))
    pipeline.generate(list(OWN), out=out, targets=("cpu", "torch"))
    table = _candidates(out, compiled)
    gen = torch.Generator().manual_seed(0)
    lines = [
        "| kernel | shape | pass | " + " | ".join(next(iter(table.values()))) + " |",
        "|---|---|---|" + "---|" * len(next(iter(table.values()))),
    ]
    for shape in shapes:
        x0 = torch.randn(*shape, generator=gen, dtype=torch.float64) * 4
        t = torch.randint(0, shape[-1], shape[:-1], generator=gen)
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    parser.add_argument("--compile", action="store_true", help="add torch.compile (inductor)")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, k = {K}")
    for line in run([(2048, 1024), (64, 32)], 3 if args.quick else 9, args.compile):
        print(line)


if __name__ == "__main__":
    main()
