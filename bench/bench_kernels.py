"""Benchmark generated kernels against SciPy, NumPy, sympy.lambdify and torch (CPU).

Run from the repository root::

    python bench/bench_kernels.py            # writes docs/benchmarks.md
    python bench/bench_kernels.py --quick    # smaller arrays, print only

Everything runs in one process, interleaved: each round calls every candidate once, in order,
and a candidate's time is the minimum over the rounds (min-of-N: the least disturbed run; the
machine may be shared, so the load average before and after is printed with the table).  Data:
a 2048 x 4096 float64 matrix (row reductions over the last axis) and an 8M-element float64
vector (elementwise).  GB/s counts the bytes an ideal kernel must move (read the input once,
write the output once); ``np.copyto`` of the same array in the same rounds gives the memory
bandwidth the machine delivers.  torch is optional (``pip install torch``; 2 threads); the
generated kernels use Numba's default thread count (``NUMBA_NUM_THREADS``).  The table replaces
the top of ``docs/benchmarks.md``; everything below the ``<!-- notes -->`` marker is kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import scipy.special as sps
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symsmooth import pipeline  # noqa: E402
from symsmooth.codegen.render import load_module  # noqa: E402
from symsmooth.codegen.spec import make_spec  # noqa: E402


def _log_softmax_spec():
    x = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    expr = x[j] - sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n)))
    return make_spec("log_softmax_bench", expr, (x,), (), index=i, size=n)


def _lambdify_logsumexp():
    """sympy.lambdify of log(Sum(exp(x[i]), (i, 0, n - 1))): the NumPy printer turns the Sum
    into a Python loop over i; it is called with the matrix's columns (x[i] = column i), so
    each step is one NumPy operation over all rows."""
    x = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True)
    n = sp.Symbol("n", integer=True)
    fn = sp.lambdify((x, n), sp.log(sp.Sum(sp.exp(x[i]), (i, 0, n - 1))), "numpy")
    return lambda A: fn(A.T, A.shape[1])


def _lambdify_elementwise(name):
    rec = pipeline.kernel_spec(name)
    return sp.lambdify(list(rec.inputs) + list(rec.params), rec.expr, "numpy")


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


def _one_thread(fn, *args):
    """``fn(*args)`` on one Numba thread (the per-core rate, next to NumPy's single thread)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        numba.set_num_threads(threads)


def _interleaved(cases: dict, rounds: int) -> dict:
    times = {k: [] for k in cases}
    for fn in cases.values():  # warm-up (JIT compile, caches, thread pools)
        fn()
    for _ in range(rounds):
        for key, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: float(np.min(v)) for k, v in times.items()}


def _cases(mods, A, v, torch):
    lse, smx, lsm, spl = mods
    dst_a, dst_v = np.empty_like(A), np.empty_like(v)
    naive_sp = _lambdify_elementwise("softplus")
    cases = {
        "copy matrix (np.copyto)": lambda: np.copyto(dst_a, A),
        "logsumexp: symsmooth logsumexp_max": lambda: lse.logsumexp_max(A, 1.0),
        "logsumexp: symsmooth logsumexp_max, 1 thread": lambda: _one_thread(
            lse.logsumexp_max, A, 1.0
        ),
        "logsumexp: scipy.special.logsumexp": lambda: sps.logsumexp(A, axis=-1),
        "logsumexp: naive numpy log(exp(x).sum())": lambda: np.log(np.exp(A).sum(axis=-1)),
        "logsumexp gradient: symsmooth logsumexp_max_grad": lambda: lse.logsumexp_max_grad(A, 1.0),
        "softmax: symsmooth softmax_onehot_argmax": lambda: smx.softmax_onehot_argmax(A, 1.0),
        "softmax: scipy.special.softmax": lambda: sps.softmax(A, axis=-1),
        "log_softmax: symsmooth (user expression)": lambda: lsm.log_softmax_bench(A),
        "log_softmax: scipy.special.log_softmax": lambda: sps.log_softmax(A, axis=-1),
        "copy vector (np.copyto)": lambda: np.copyto(dst_v, v),
        "softplus: symsmooth softplus_fast": lambda: spl.softplus_fast(v, 1.0, out=dst_v),
        "softplus: symsmooth softplus (public name)": lambda: spl.softplus(v, 1.0, out=dst_v),
        "softplus: symsmooth softplus_ufunc (libm)": lambda: spl.softplus_ufunc(v, 1.0, out=dst_v),
        "softplus: np.logaddexp(0, x)": lambda: np.logaddexp(0.0, v, out=dst_v),
        "softplus: sympy.lambdify log(1 + exp(x))": lambda: naive_sp(v, 1.0),
        "sigmoid: symsmooth softplus_grad_x_fast": lambda: spl.softplus_grad_x_fast(
            v, 1.0, out=dst_v
        ),
        "sigmoid: scipy.special.expit": lambda: sps.expit(v, out=dst_v),
    }
    lam = _lambdify_logsumexp()
    cases["logsumexp: sympy.lambdify log(Sum(exp))"] = lambda: lam(A)
    if torch is not None:
        tA, tv = torch.from_numpy(A), torch.from_numpy(v)
        cases["logsumexp: torch.logsumexp"] = lambda: torch.logsumexp(tA, dim=-1)
        cases["softmax: torch.softmax"] = lambda: torch.softmax(tA, dim=-1)
        cases["log_softmax: torch.log_softmax"] = lambda: torch.log_softmax(tA, dim=-1)
        cases["softplus: torch.nn.functional.softplus"] = lambda: torch.nn.functional.softplus(tv)
        cases["sigmoid: torch.sigmoid"] = lambda: torch.sigmoid(tv)
    return cases


def _bytes(key, A, v):
    family = key.split(":")[0]
    if family.startswith("copy matrix") or family in ("softmax", "log_softmax"):
        return 2 * A.nbytes
    if family == "logsumexp gradient":
        return 2 * A.nbytes
    if family == "logsumexp":
        return A.nbytes + A.shape[0] * 8
    return 2 * v.nbytes


def _ours(family, t):
    for key, seconds in t.items():
        if key.startswith(f"{family}: symsmooth"):
            return seconds
    return None


def run(quick: bool = False, rounds: int | None = None) -> str:
    load_before = os.getloadavg()
    out = Path(tempfile.mkdtemp(prefix="symsmooth-bench-"))
    pipeline.generate(
        ["logsumexp_max", "softmax_onehot_argmax", "softplus", _log_softmax_spec()],
        out=out,
        targets=("cpu",),
    )
    mods = [
        load_module(name, out)
        for name in ("logsumexp_max", "softmax_onehot_argmax", "log_softmax_bench", "softplus")
    ]
    rows, cols = (256, 4096) if quick else (2048, 4096)
    count = 1 << (20 if quick else 23)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((rows, cols)) * 3
    v = rng.standard_normal(count) * 5
    torch = _torch()
    rounds = rounds or (5 if quick else 15)
    with np.errstate(all="ignore"):
        t = _interleaved(_cases(mods, A, v, torch), rounds)
    load_after = os.getloadavg()
    copy_bw = {
        "matrix": 2 * A.nbytes / t["copy matrix (np.copyto)"],
        "vector": 2 * v.nbytes / t["copy vector (np.copyto)"],
    }
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python bench/bench_kernels.py` (one process, interleaved rounds, minimum "
        f"of {rounds}); machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__} "
        f"({numba.config.NUMBA_NUM_THREADS} threads)"
        + (
            f", torch {torch.__version__} (2 threads)"
            if torch is not None
            else ", torch not installed"
        )
        + f".  Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}.",
        "",
        f"Matrix {rows} x {cols} float64 (reductions over the last axis); vector {count:,} "
        'float64 (elementwise).  GB/s = (bytes read + bytes written) / time; "of copy" = that '
        "rate over the rate of `np.copyto` on the same data in the same rounds (100% = memory "
        'bound).  "vs symsmooth" = time / time of the symsmooth kernel of the same family '
        "(> 1: symsmooth is faster).",
        "",
        "| case | time (ms) | vs symsmooth | GB/s | of copy |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, seconds in t.items():
        family = key.split(":")[0]
        ours = _ours(family, t)
        moved = _bytes(key, A, v)
        vector = family in ("softplus", "sigmoid") or family.startswith("copy vector")
        bw = copy_bw["vector" if vector else "matrix"]
        ratio = f"{seconds / ours:.2f}x" if ours else ""
        lines.append(
            f"| {key} | {seconds * 1e3:.2f} | {ratio} | {moved / seconds / 1e9:.1f} | "
            f"{100 * moved / seconds / bw:.0f}% |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small arrays; print only")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 15; quick 5)")
    args = parser.parse_args()
    table = run(quick=args.quick, rounds=args.rounds)
    print(table)
    if not args.quick:
        path = ROOT / "docs" / "benchmarks.md"
        notes = path.read_text().split("<!-- notes -->", 1)
        tail = "\n<!-- notes -->" + notes[1] if len(notes) == 2 else ""
        path.write_text(table + tail)


if __name__ == "__main__":
    main()
