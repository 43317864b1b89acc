"""Benchmark the native PyTorch target (``symsmooth gen NAME --target torch``) against the torch
bridge (``symsmooth.torch.function``, the Numba kernels) and hand-written torch on the same
formula, forward and forward + backward, on 1e6 float64 elements (CPU).

Run from the repository root::

    python bench/bench_native_targets.py              # the table
    python bench/bench_native_targets.py --compile    # also torch.compile of the native module
    python bench/bench_native_targets.py --quick      # fewer rounds, 1e5 elements
    python bench/bench_native_targets.py --compile --kernels softplus   # inductor: minutes
    python bench/bench_native_targets.py --accuracy   # max ulp: targets vs the frameworks' ops
    python bench/bench_native_targets.py --device cuda   # the GPU section (where lent)

Formulas: softplus ``log(1 + e^(k x))/k`` (hand-written: ``F.softplus(k x)/k``), swish
``x sigmoid(k x)`` (``x * torch.sigmoid(k x)``) and GELU ``x Phi(x/s)`` (``s F.gelu(x/s)``), all
with the parameter a float and with a tensor that requires grad.  The native and bridge modules
are generated into a temporary folder.  Everything runs in one process, interleaved (each round
times every candidate once); a time is the minimum over the rounds.  Ratios are candidate time /
hand-written torch time (> 1: slower).  ``--accuracy`` prints instead the max ulp of the values
of the torch and jax targets and of the frameworks' own ops (``F.softplus(x, beta=k)``,
``jax.nn.softplus``, ``F.gelu``, ``jax.nn.gelu``, ``F.silu``, ``jax.nn.silu``) against the Numba
kernel, over hard inputs (|x| to 800 and 1e300) at k = 2.5 and 0.37, results above 2**(p + 8)
times the smallest normal (XLA flushes subnormals).  ``--device cuda`` times on the GPU (the
bridge then runs the Numba CUDA kernels, generated too).  Nothing here is asserted by the tests.
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

from torch_device import CPU, device_of, sync  # noqa: E402

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
    sync(x.device)
    start = time.perf_counter()
    y = fn(x, k)
    if backward:
        y.sum().backward()
    sync(x.device)
    return time.perf_counter() - start


def run(n: int, rounds: int, compiled: bool, names=tuple(KERNELS), device=CPU) -> list[str]:
    out = Path(tempfile.mkdtemp(prefix="bench_native_"))
    targets = ("cpu", "torch") + (("cuda",) if device.type == "cuda" else ())
    pipeline.generate(list(names), out=out, targets=targets)
    table = _candidates(out, compiled, names)
    gen = torch.Generator().manual_seed(0)
    x = ((torch.rand(n, generator=gen, dtype=torch.float64) - 0.5) * 40).to(device)
    lines = []
    for name, row in table.items():
        tensor = torch.tensor(1.7, dtype=torch.float64, device=device)
        for pname, k in (("k float", 1.7), ("k tensor", tensor)):
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


OWN_TORCH = {
    "softplus": lambda x, k: F.softplus(x, beta=k),
    "gelu": lambda x, s: s * F.gelu(x / s),
    "swish": lambda x, k: F.silu(k * x) / k,
}


def _own_jax(name):
    import jax

    return {
        "softplus": lambda x, k: jax.nn.softplus(k * x) / k,
        "gelu": lambda x, s: s * jax.nn.gelu(x / s, approximate=False),
        "swish": lambda x, k: jax.nn.silu(k * x) / k,
    }[name]


def _grid(k: float):
    import numpy as np

    base = [0.0, 1e-300, 1e-10, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 40.0, 100.0, 400.0, 700.0, 745.0]
    base += [800.0, 1e300, *(v / k for v in (18.0, 33.3, 37.0, 0.7518, 1.2785, 1.5, 3.0))]
    base += list(10 ** np.random.default_rng(0).uniform(-3, 2.9, 200))
    return np.array(sorted({*base, *(-b for b in base)}))


def _ulps(got, ref, dtype):
    import numpy as np

    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    floor = 2.0 ** (-961 if dtype == np.float64 else -94)
    kept = ~(np.abs(ref) < floor)
    got, ref = got[kept], ref[kept]
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    unit = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.where(same, 0.0, np.abs(got - ref) / unit)
    return float(np.where(np.isfinite(err), err, np.inf).max())


def accuracy(names) -> list[str]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    out = Path(tempfile.mkdtemp(prefix="bench_native_"))
    pipeline.generate(list(names), out=out, targets=("cpu", "torch", "jax"))
    lines = ["kernel    dtype    torch target  torch own  jax target  jax own"]
    for name in names:
        numba = getattr(pipeline.load(name, out), name)
        torch_t = getattr(pipeline.load_native(name, "torch", out), name)
        jax_t = jax.jit(getattr(pipeline.load_native(name, "jax", out), name))
        own_j = jax.jit(_own_jax(name))
        for dtype in (np.float64, np.float32):
            worst = dict.fromkeys(("tt", "to", "jt", "jo"), 0.0)
            for k in (2.5, float(np.float32(0.37))):
                with np.errstate(all="ignore"):
                    xs = _grid(k).astype(dtype)
                ref = numba(xs, k)
                tx, jx, jk = torch.from_numpy(xs), jnp.asarray(xs), jnp.asarray(k, dtype=dtype)
                cases = {
                    "tt": torch_t(tx, k).detach().numpy(),
                    "to": OWN_TORCH[name](tx, k).numpy(),
                    "jt": np.asarray(jax_t(jx, jk)),
                    "jo": np.asarray(own_j(jx, jk)),
                }
                for c, got in cases.items():
                    worst[c] = max(worst[c], _ulps(got, ref, dtype))
            cells = "  ".join(f"{worst[c]:10.3g}" for c in ("tt", "to", "jt", "jo"))
            lines.append(f"{name:9s} {np.dtype(dtype).name:8s} {cells}")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 elements, 3 rounds")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--accuracy", action="store_true", help="max ulp instead of timings")
    parser.add_argument("--device", default="cpu", help="torch device to time on (cpu, cuda)")
    args = parser.parse_args(argv)
    if args.accuracy:
        print("\n".join(accuracy(args.kernels)))
        return
    device = device_of(args.device)
    n, rounds = (100_000, 3) if args.quick else (1_000_000, args.rounds)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s), n = {n}, float64, device {device}")
    for line in run(n, rounds, args.compile, args.kernels, device):
        print(line)


if __name__ == "__main__":
    main()
