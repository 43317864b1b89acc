"""Benchmark of the convolution engine against plain ``sympy.integrate``.

For every (target, kernel) pair of the tests: the cold time (all caches cleared), the cached
time, and optionally ``sympy.integrate(f(x - u) K(u), (u, -oo, oo))`` in a subprocess with a
per-pair timeout.

Usage::

    python bench/bench_convolve.py                 # engine only (seconds)
    python bench/bench_convolve.py --integrate     # also sympy.integrate (slow)
    python bench/bench_convolve.py --integrate --timeout 60 --write docs/convolution_bench.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import sympy as sp

from symsmooth.convolution import convolve, kernels
from symsmooth.convolution.api import clear_caches
from symsmooth.errors import DivergenceError

x = sp.Symbol("x", real=True)
TARGETS = {
    "relu": sp.Max(x, 0),
    "abs": sp.Abs(x),
    "sign": sp.sign(x),
    "heaviside": sp.Heaviside(x),
    "clip": sp.Min(sp.Max(x, -1), 1),
    "box": sp.Piecewise((1, (x > -1) & (x < 2)), (0, True)),
    "leaky_relu": sp.Piecewise((x, x >= 0), (x / 10, True)),
    "x2_half_line": x**2 * sp.Heaviside(x),
    "floor": sp.floor(x),
}

_INTEGRATE = """
import time
import sympy as sp
from sympy import *
from sympy.functions.elementary.piecewise import ExprCondPair
u = Symbol('u', real=True)
f = {target}
k = {density}
x = Symbol('x', real=True)
start = time.perf_counter()
r = sp.integrate(f.subs(x, x - u) * k, (u, -oo, oo))
verdict = 'unevaluated' if r.has(Integral) else ('oo' if r.has(oo) else 'ok')
print(f"{{time.perf_counter() - start:.2f}} s ({{verdict}})")
"""


def pairs(only_kernels=None, only_targets=None):
    for kname in kernels.names():
        if only_kernels and kname not in only_kernels:
            continue
        for tname, target in TARGETS.items():
            if not only_targets or tname in only_targets:
                yield tname, target, kname


def time_engine(target, kname):
    clear_caches()
    start = time.perf_counter()
    try:
        convolve(target, x, kname)
        status = "ok"
    except DivergenceError:
        status = "diverges"
    cold = time.perf_counter() - start
    start = time.perf_counter()
    try:
        convolve(target, x, kname)
    except DivergenceError:
        pass
    return status, cold, time.perf_counter() - start


def time_integrate(target, kname, timeout):
    density = kernels.get(kname).density
    code = _INTEGRATE.format(target=sp.srepr(target), density=sp.srepr(density))
    try:  # the timeout includes the subprocess start (about 1 s); the time printed excludes it
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"> {timeout:g} s"
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else "error: " + (out.stderr.strip().splitlines() or ["?"])[-1]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrate", action="store_true", help="also time sympy.integrate")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-pair integrate limit")
    parser.add_argument("--write", type=Path, help="write the markdown table to this file")
    parser.add_argument("--kernels", nargs="*", help="only these kernels")
    parser.add_argument("--targets", nargs="*", help="only these targets")
    args = parser.parse_args(argv)
    head = "| target | kernel | engine | cold (ms) | cached (µs) |"
    rule = "|---|---|---|---:|---:|"
    if args.integrate:
        head += " sympy.integrate |"
        rule += "---|"
    lines, total = [head, rule], 0.0
    for tname, target, kname in pairs(args.kernels, args.targets):
        status, cold, warm = time_engine(target, kname)
        total += cold
        row = f"| {tname} | {kname} | {status} | {1e3 * cold:.0f} | {1e6 * warm:.0f} |"
        if args.integrate:
            row += f" {time_integrate(target, kname, args.timeout)} |"
        lines.append(row)
        print(row, flush=True)
    summary = f"\nWhole table, cold: {total:.2f} s over {len(lines) - 2} pairs."
    print(summary)
    text = "\n".join(lines) + "\n" + summary + "\n"
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
