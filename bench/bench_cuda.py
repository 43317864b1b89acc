"""GPU check and benchmark of the generated CUDA kernels: ``python bench/bench_cuda.py``.

1. runs ``pytest -m gpu tests/test_cuda.py`` (every catalog kernel on the GPU against mpmath
   and its CPU twin), unless ``--no-tests``;
2. times, interleaved, on a 2048 x 4096 matrix and a 2**23-element vector (float32 and float64):
   ``logsumexp_max_cuda`` vs ``torch.logsumexp`` / ``cupyx.scipy.special.logsumexp``,
   ``softmax_onehot_argmax_cuda`` vs ``torch.softmax`` / ``cupyx.scipy.special.softmax``,
   ``softplus_cuda`` vs ``torch.nn.functional.softplus`` / ``cupy.logaddexp(0, x)``,
   and a device-to-device copy of the same bytes (the memory bound).  Times are CUDA-event
   medians of interleaved rounds; "kernel" is the bare launch (prepared arguments), "call" the
   public launcher (argument handling included).  GB/s = bytes read + written / kernel time.

Without a GPU (or with NUMBA_ENABLE_CUDASIM=1) it says so and exits 0.  ``--markdown PATH``
appends the table to PATH (e.g. docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def gpu_available() -> bool:
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda
    except ImportError:
        return False
    return cuda.is_available()


def _timer(cuda, fn, rounds: int) -> list[float]:
    """Milliseconds per call (CUDA events around ``rounds`` calls after one warm-up)."""
    fn()
    start, stop = cuda.event(), cuda.event()
    start.record()
    for _ in range(rounds):
        fn()
    stop.record()
    stop.synchronize()
    return [cuda.event_elapsed_time(start, stop) / rounds]


def _modules(folder: Path):
    sys.path.insert(0, str(ROOT))
    from symsmooth import pipeline
    from symsmooth.codegen.render import load_module

    names = ["logsumexp_max", "softmax_onehot_argmax", "softplus"]
    pipeline.generate(names, out=folder)
    return {n: load_module(n, folder) for n in names}


def _competitors(kind: str):
    """name -> callable(x) for torch and CuPy, where installed."""
    out = {}
    try:
        import torch
        import torch.nn.functional as F

        ops = {
            "reduce": lambda x: torch.logsumexp(x, dim=-1),
            "rowmap": lambda x: torch.softmax(x, dim=-1),
            "elementwise": lambda x: F.softplus(x),
        }
        out["torch"] = ("torch", ops[kind])
    except ImportError:
        pass
    try:
        import cupy
        import cupyx.scipy.special as cs

        ops = {
            "reduce": lambda x: cs.logsumexp(x, axis=-1),
            "rowmap": lambda x: cs.softmax(x, axis=-1),
            "elementwise": lambda x: cupy.logaddexp(0.0, x),
        }
        out["cupy"] = ("cupy", ops[kind])
    except ImportError:
        pass
    return out


def _bind(op, arg):
    return lambda: op(arg)


def _as(lib: str, dev):
    if lib == "torch":
        import torch

        return torch.as_tensor(dev, device="cuda")
    import cupy

    return cupy.asarray(dev)


def bench(rounds: int, repeats: int) -> list[dict]:
    from numba import cuda

    mods = _modules(Path(tempfile.mkdtemp(prefix="symsmooth_bench_")))
    rng = np.random.default_rng(0)
    cases = [
        ("logsumexp_max", "reduce", (2048, 4096)),
        ("softmax_onehot_argmax", "rowmap", (2048, 4096)),
        ("softplus", "elementwise", (1 << 23,)),
    ]
    rows = []
    for name, kind, shape in cases:
        for dtype in (np.float32, np.float64):
            host = (rng.standard_normal(shape) * 3).astype(dtype)
            x = cuda.to_device(host)
            launcher = getattr(mods[name], f"{name}_cuda")
            out_bytes = host.nbytes // shape[-1] if kind == "reduce" else host.nbytes
            moved = host.nbytes + out_bytes
            copy_dst = cuda.device_array_like(x)
            fns = {
                "copy": lambda x=x, d=copy_dst: d.copy_to_device(x),
                "call": lambda x=x, f=launcher: f(x, 1.0),
            }
            for lib, (_, op) in _competitors(kind).items():
                fns[lib] = _bind(op, _as(lib, x))
            times = {k: [] for k in fns}
            for _ in range(repeats):  # interleaved rounds
                for k, fn in fns.items():
                    times[k] += _timer(cuda, fn, rounds)
            med = {k: statistics.median(v) for k, v in times.items()}
            copy_gbs = 2 * host.nbytes / med["copy"] / 1e6
            row = dict(
                kernel=f"{name}_cuda",
                dtype=np.dtype(dtype).name,
                shape=shape,
                ms=med["call"],
                gbs=moved / med["call"] / 1e6,
                copy_gbs=copy_gbs,
            )
            for lib in ("torch", "cupy"):
                if lib in med:
                    row[f"{lib}_ms"] = med[lib]
                    row[f"vs_{lib}"] = med[lib] / med["call"]
            rows.append(row)
    return rows


def table(rows: list[dict], device: str) -> str:
    lines = [
        f"GPU: {device}.  ms: median per call (CUDA events); xN: competitor time / ours.",
        "",
        "| kernel | dtype | shape | ours ms | GB/s | % of copy | torch ms | x torch | "
        "cupy ms | x cupy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pct = 100 * r["gbs"] / r["copy_gbs"]
        cells = [
            r["kernel"],
            r["dtype"],
            "x".join(map(str, r["shape"])),
            f"{r['ms']:.3f}",
            f"{r['gbs']:.0f}",
            f"{pct:.0f}%",
        ]
        for lib in ("torch", "cupy"):
            cells += (
                [f"{r[lib + '_ms']:.3f}", f"{r['vs_' + lib]:.2f}"]
                if lib + "_ms" in r
                else ["-", "-"]
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tests", action="store_true", help="skip pytest -m gpu")
    parser.add_argument("--rounds", type=int, default=20, help="calls per timing")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timings")
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    args = parser.parse_args(argv)
    if not gpu_available():
        print("no CUDA GPU found (or NUMBA_ENABLE_CUDASIM=1): GPU tests and benchmark skipped")
        return 0
    status = 0
    if not args.no_tests:
        cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", str(ROOT / "tests/test_cuda.py")]
        status = subprocess.call(cmd, cwd=ROOT)
    from numba import cuda

    device = cuda.get_current_device().name
    device = device.decode() if isinstance(device, bytes) else device
    text = table(bench(args.rounds, args.repeats), device)
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as fh:
            fh.write("\n## CUDA kernels\n\n" + text)
    return status


if __name__ == "__main__":
    sys.exit(main())
