"""Benchmark of a reduction on a dask array bigger than memory: symsmooth vs SciPy-on-Dask.

The input is ``da.random.default_rng(seed).standard_normal((rows, cols), chunks=...)``: never
materialized, each chunk drawn when a task needs it, so the array can be larger than the
machine's memory.  Each variant runs in its own process (so ``ru_maxrss`` is its own peak
resident memory) with dask's threaded scheduler:

* ``symsmooth-chunked``: ``logsumexp_max(x, k)`` with the reduced axis in several chunks (the
  mergeable double-double states of :mod:`symsmooth.runtime.dask_host`);
* ``symsmooth-rows``: the same with whole rows per chunk (the in-memory kernel per block);
* ``scipy``: ``da.map_blocks(scipy.special.logsumexp, axis=-1)`` on whole rows per chunk
  (SciPy-on-Dask: rows must fit a chunk; dask has no logsumexp, dask#3208);
* ``draw-rows``, ``draw-chunked``: only drawing the numbers (a ``map_blocks`` keeping one
  column) in the chunks of the whole-row and the chunked variants: their floor (a smaller
  chunk draws faster here: fewer fresh pages per chunk).

Peak memory is ``ru_maxrss`` of the variant's own process (started before the parent does any
work: a child's ``ru_maxrss`` starts at its parent's peak).

Throughput is the array's bytes over the wall time (GB/s, 1e9 bytes); ``kernel GB/s`` takes the
time of the draw in the same chunks off.  Accuracy: the first rows are recomputed in memory
(float64 NumPy, the in-memory kernel) and the max ulp difference is printed.

Usage::

    python bench/bench_dask.py --gb 16                      # every variant, 16 GB each
    python bench/bench_dask.py --gb 40 --only symsmooth-chunked   # the issue's 40 GB run
    python bench/bench_dask.py --gb 2 --cols 65536 --chunk-rows 128 --chunk-cols 16384
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("draw-rows", "draw-chunked", "symsmooth-chunked", "symsmooth-rows", "scipy")
FLOOR = {"symsmooth-chunked": "draw-chunked", "symsmooth-rows": "draw-rows", "scipy": "draw-rows"}


def _array(args, whole_rows: bool):
    import dask.array as da

    rows = int(args.gb * 1e9 / 8 / args.cols)
    chunks = (args.chunk_rows, args.cols if whole_rows else args.chunk_cols)
    return da.random.default_rng(args.seed).standard_normal((rows, args.cols), chunks=chunks)


def _keep_one(block):
    return block[:, :1].copy()  # a copy: a view would keep the whole block alive


def _scipy_rows(block, k):
    from scipy.special import logsumexp

    return logsumexp(k * block, axis=-1) / k


def _graph(args, variant: str):
    """The lazy result of one variant (one value per row)."""
    import dask.array as da

    from symsmooth.codegen.render import load_module

    if variant.startswith("draw"):
        x = _array(args, whole_rows=variant == "draw-rows")
        return x.map_blocks(_keep_one, chunks=(x.chunks[0], (1,) * len(x.chunks[1])), dtype=x.dtype)
    if variant == "scipy":
        x = _array(args, whole_rows=True)
        return da.map_blocks(_scipy_rows, x, args.k, drop_axis=1, dtype=np.float64)
    lse = load_module("logsumexp_max", str(ROOT / "generated"))
    x = _array(args, whole_rows=variant == "symsmooth-rows")
    return lse.logsumexp_max(x, args.k)


def _accuracy(args) -> dict:
    """Max ulp differences on the first rows (drawn as the benchmark draws them)."""
    from scipy.special import logsumexp

    from symsmooth.codegen.render import load_module

    lse = load_module("logsumexp_max", str(ROOT / "generated"))
    x = _array(args, whole_rows=False)[: args.chunk_rows]
    chunked = lse.logsumexp_max(x, args.k).compute()
    block = x.compute()
    memory = lse.logsumexp_max(block, args.k)
    scipy = logsumexp(args.k * block, axis=-1) / args.k

    def ulps(a, b):
        return float(np.max(np.abs(a - b) / np.spacing(np.abs(b))))

    return {
        "chunked_vs_memory_ulp": ulps(chunked, memory),
        "scipy_vs_memory_ulp": ulps(scipy, memory),
    }


def run_one(args) -> dict:
    """One variant in this process: wall time, peak RSS, throughput."""
    import dask

    result = _graph(args, args.only)
    # warm the kernels' compilation (the Numba cache) on a tiny input outside the timing
    small = argparse.Namespace(**{**vars(args), "gb": args.chunk_rows * args.cols * 8 / 1e9})
    _graph(small, args.only).compute(scheduler="threads", num_workers=args.workers)
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        out = result.compute()
    wall = time.perf_counter() - start
    rows = int(args.gb * 1e9 / 8 / args.cols)
    return {
        "variant": args.only,
        "gb": rows * args.cols * 8 / 1e9,
        "rows": rows,
        "cols": args.cols,
        "wall_s": wall,
        "gb_per_s": rows * args.cols * 8 / 1e9 / wall,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "finite": bool(np.all(np.isfinite(out))),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=16.0, help="array size in GB (1e9 bytes)")
    parser.add_argument("--cols", type=int, default=65536, help="row length (reduced axis)")
    parser.add_argument("--chunk-rows", type=int, default=256)
    parser.add_argument("--chunk-cols", type=int, default=16384, help="chunked variant")
    parser.add_argument("--k", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=VARIANTS, help="run one variant in this process")
    parser.add_argument("--json", action="store_true", help="print one JSON line (--only)")
    args = parser.parse_args(argv)
    if args.only:
        res = run_one(args)
        print(json.dumps(res) if args.json else res)
        return
    results = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__, *(argv or sys.argv[1:]), "--only", variant, "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    head = ("variant", "GB", "wall s", "GB/s", "kernel GB/s", "peak RSS GB")
    print("{:20} {:>6} {:>8} {:>7} {:>12} {:>12}".format(*head))
    for v, r in results.items():
        draw = results[FLOOR[v]]["wall_s"] if v in FLOOR else float("nan")
        kernel = r["gb"] / (r["wall_s"] - draw) if r["wall_s"] > draw else float("nan")
        print(
            f"{v:20} {r['gb']:6.1f} {r['wall_s']:8.1f} {r['gb_per_s']:7.3f} {kernel:12.3f} "
            f"{r['peak_rss_gb']:12.2f}"
        )
    # last: a child's ru_maxrss starts at its parent's peak (kept across fork and exec)
    print(json.dumps(_accuracy(args)))


if __name__ == "__main__":
    main()
