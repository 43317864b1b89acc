"""Benchmark the PyTorch bridge (``symsmooth.torch.function``) against native torch on the same
formula, forward and forward + backward, on the CPU.

Run from the repository root::

    python bench/bench_torch_bridge.py            # prints the table
    python bench/bench_torch_bridge.py --write    # ... and puts it into docs/benchmarks.md
    python bench/bench_torch_bridge.py --quick    # fewer rounds

Formulas: softplus with a sharpness (``F.softplus(x, beta=k)``), log-sum-exp over the last
axis (``torch.logsumexp(k x)/k``), the ZLPR multi-label loss written in torch ops (the stable
form: ``logsumexp`` over the masked scores with a 0 appended, as in Su's reference code) and
cross-entropy with 1-based labels (``F.cross_entropy``, per row); and, when the softplus
module has ``param_grads``, softplus with ``k`` a tensor that requires grad
(``F.softplus(k x)/k``).  ``--out`` takes the modules from another folder.  Both sides get the same
float64 tensors with ``requires_grad``; "fwd" is one call that builds the graph, "fwd+bwd" is
``f(x).sum().backward()``.  Everything runs in one process, interleaved (each round times every
candidate once) and a time is the minimum over the rounds; torch and Numba use the same thread
count: one table at 2 threads, one at 1 (``--threads``).
The ratio is bridge time / torch time (> 1: the bridge is slower).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import symsmooth.torch as sst  # noqa: E402

BEGIN, END = "<!-- torch bridge: begin -->", "<!-- torch bridge: end -->"
SIZES = {"small": (64, 32), "large": (2048, 1024)}


def _zlpr_torch(s, t, k):
    """ZLPR in torch ops, stable: log(1 + sum_{t=0} e^{k s}) + log(1 + sum_{t=1} e^{-k s})."""
    inf = torch.tensor(float("inf"), dtype=s.dtype)
    zero = torch.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    neg = torch.where(t == 0, k * s, -inf)
    pos = torch.where(t == 1, -k * s, -inf)
    lse = torch.logsumexp(torch.cat([zero, neg], -1), -1) + torch.logsumexp(
        torch.cat([zero, pos], -1), -1
    )
    return lse / k


def _formulas(gen, out):
    """name -> (bridge call, torch call, inputs builder)."""
    softplus, lse = sst.function("softplus", out), sst.function("logsumexp_max", out)
    zlpr, ce = sst.function("zlpr", out), sst.function("cross_entropy_lse", out)

    def x_of(shape):
        return (3 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    def labels(shape):
        return torch.randint(0, shape[-1], shape[:-1], generator=gen)

    def targets(shape):
        return (torch.rand(*shape, generator=gen) < 0.1).to(torch.float64)

    formulas = {
        "softplus (k=2)": (
            lambda d: softplus(d["x"], 2.0),
            lambda d: F.softplus(d["x"], beta=2.0),
            lambda shape: {"x": x_of(shape)},
        ),
        "logsumexp (k=2)": (
            lambda d: lse(d["x"], 2.0),
            lambda d: torch.logsumexp(2.0 * d["x"], -1) / 2.0,
            lambda shape: {"x": x_of(shape)},
        ),
        "zlpr (k=1)": (
            lambda d: zlpr(d["x"], d["t"], 1.0),
            lambda d: _zlpr_torch(d["x"], d["t"], 1.0),
            lambda shape: {"x": x_of(shape), "t": targets(shape)},
        ),
        "cross-entropy": (
            lambda d: ce(d["x"], 1.0, d["y"] + 1),
            lambda d: F.cross_entropy(d["x"], d["y"], reduction="none"),
            lambda shape: {"x": x_of(shape), "y": labels(shape)},
        ),
    }
    if "k" in softplus.interface.param_grads:  # a learnable sharpness (F.softplus takes none)
        formulas["softplus, k a tensor"] = (
            lambda d: softplus(d["x"], d["k"]),
            lambda d: F.softplus(d["k"] * d["x"]) / d["k"],
            lambda shape: {
                "x": x_of(shape),
                "k": torch.tensor(2.0, dtype=torch.float64, requires_grad=True),
            },
        )
    return formulas


def _step(fn, data):
    for v in data.values():
        v.grad = None
    fn(data).sum().backward()


def _cases(out):
    gen = torch.Generator().manual_seed(0)
    cases, data = {}, {}
    for name, (ours, theirs, make) in _formulas(gen, out).items():
        for size, shape in SIZES.items():
            d = make(shape)
            data[(name, size)] = d
            for side, fn in (("bridge", ours), ("torch", theirs)):
                cases[(name, size, side, "fwd")] = lambda fn=fn, d=d: fn(d)
                cases[(name, size, side, "fwd+bwd")] = lambda fn=fn, d=d: _step(fn, d)
            with torch.no_grad():  # the same function (F.softplus is x beyond k x = 20)
                np.testing.assert_allclose(ours(d).numpy(), theirs(d).numpy(), rtol=1e-9)
    return cases


def _interleaved(cases: dict, rounds: int) -> dict:
    times = {k: [] for k in cases}
    for fn in cases.values():  # warm-up (JIT, caches, thread pools)
        fn()
    for _ in range(rounds):
        for key, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: float(np.min(v)) for k, v in times.items()}


def _table(times: dict) -> str:
    rows = [
        "| formula | size | torch fwd (ms) | bridge fwd (ms) | ratio | torch fwd+bwd (ms) "
        "| bridge fwd+bwd (ms) | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size in dict.fromkeys((k[0], k[1]) for k in times):
        cells = []
        for phase in ("fwd", "fwd+bwd"):
            t, b = times[(name, size, "torch", phase)], times[(name, size, "bridge", phase)]
            cells += [f"{t * 1e3:.3f}", f"{b * 1e3:.3f}", f"{b / t:.2f}x"]
        shape = " x ".join(map(str, SIZES[size]))
        rows.append(f"| {name} | {shape} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _run(threads: int, rounds: int, out: str) -> str:
    """The table at ``threads`` torch and Numba threads, with its heading line."""
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    load_before = os.getloadavg()
    times = _interleaved(_cases(out), rounds)
    load_after = os.getloadavg()
    head = (
        f"**{threads} thread{'s' if threads > 1 else ''}** (torch and Numba; interleaved, "
        f"minimum of {rounds} rounds).  Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in load_after)}."
    )
    return f"{head}\n\n{_table(times)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 30")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--threads", default="2,1", help="torch and Numba thread counts, one table each"
    )
    parser.add_argument("--out", default=str(ROOT / "generated"), help="generated modules")
    args = parser.parse_args()
    rounds = 5 if args.quick else 30
    machine = (
        f"`python bench/bench_torch_bridge.py`: {platform.machine()}, {os.cpu_count()} CPU(s) "
        f"shared with other jobs, Python {platform.python_version()}, torch {torch.__version__}, "
        f"Numba {numba.__version__}, float64."
    )
    tables = [_run(int(t), rounds, args.out) for t in args.threads.split(",")]
    body = "\n\n".join([machine, *tables])
    print(body)
    if args.write:
        path = ROOT / "docs" / "benchmarks.md"
        text = path.read_text(encoding="utf-8")
        before, _, rest = text.partition(BEGIN)
        _, _, after = rest.partition(END)
        path.write_text(f"{before}{BEGIN}\n{body}\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()
