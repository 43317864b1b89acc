"""Benchmark the native PyTorch target (``symsmooth gen NAME --target torch``) against the torch
bridge (``symsmooth.torch.function``, the Numba kernels) and hand-written torch on the same
formula, forward and forward + backward, on 1e6 float64 elements (CPU).

Run from the repository root::

    python bench/bench_native_targets.py              # the table
    python bench/bench_native_targets.py --compile    # also torch.compile of the native module
    python bench/bench_native_targets.py --quick      # fewer rounds, 1e5 elements
    python bench/bench_native_targets.py --compile --kernels softplus   # inductor: minutes

Formulas: softplus ``log(1 + e^(k x))/k`` (hand-written: ``F.softplus(k x)/k``), swish
``x sigmoid(k x)`` (``x * torch.sigmoid(k x)``) and GELU ``x Phi(x/s)`` (``s F.gelu(x/s)``), all
with the parameter a float and with a tensor that requires grad.  The native and bridge modules
are generated into a temporary folder.  Everything runs in one process, interleaved (each round
times every candidate once); a time is the minimum over the rounds.  Ratios are candidate time /
hand-written torch time (> 1: slower).  Nothing here is asserted by the tests.
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

KERNELS = {
    "softplus": lambda x, k: F.softplus(k * x) / k,
    "swish": lambda x, k: x * torch.sigmoid(k * x),
    "gelu": lambda x, s: s * F.gelu(x / s),
}


def _candidates(out: Path, compiled: bool, names) -> dict:
    import symsmooth.torch as sst

    table = {}
    for name in names:
        hand = KERNELS[name]
        native = pipeline.load_native(name, "torch", out)
        row = {"hand": hand, "native": getattr(native, name), "bridge": sst.function(name, out)}
        if compiled:
            row["native+compile"] = torch.compile(getattr(native, name))
            row["hand+compile"] = torch.compile(hand)
        table[name] = row
    return table


def _time(fn, x, k, backward: bool) -> float:
    start = time.perf_counter()
    y = fn(x, k)
    if backward:
        y.sum().backward()
    return time.perf_counter() - start


def run(n: int, rounds: int, compiled: bool, names=tuple(KERNELS)) -> list[str]:
    out = Path(tempfile.mkdtemp(prefix="bench_native_"))
    pipeline.generate(list(names), out=out, targets=("cpu", "torch"))
    table = _candidates(out, compiled, names)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(n, generator=gen, dtype=torch.float64) - 0.5) * 40
    lines = []
    for name, row in table.items():
        for pname, k in (("k float", 1.7), ("k tensor", torch.tensor(1.7, dtype=torch.float64))):
            for backward in (False, True):
                best = dict.fromkeys(row, float("inf"))
                for r in range(rounds + 1):  # round 0 warms up (compiles)
                    for cand, fn in row.items():
                        xi = x.clone().requires_grad_(backward)
                        ki = k.clone().requires_grad_(backward) if torch.is_tensor(k) else k
                        t = _time(fn, xi, ki, backward)
                        if r:
                            best[cand] = min(best[cand], t)
                base = best["hand"]
                cells = "  ".join(
                    f"{c} {best[c] * 1e3:7.2f} ms ({best[c] / base:4.2f}x)" for c in row
                )
                lines.append(f"{name:9s} {pname:8s} {'fwd+bwd' if backward else 'fwd':7s} {cells}")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 elements, 3 rounds")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    args = parser.parse_args(argv)
    n, rounds = (100_000, 3) if args.quick else (1_000_000, args.rounds)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), n = {n}, float64")
    for line in run(n, rounds, args.compile, args.kernels):
        print(line)


if __name__ == "__main__":
    main()
