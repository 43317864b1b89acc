"""Run one task per catalog entry, in this process or in a pool of worker processes.

``symsmooth build`` and ``symsmooth verify`` spend their time in per-entry work that shares
nothing (Numba compilation of a generated module, mpmath references): ``--jobs N`` spreads the
entries over ``N`` worker processes, longest first, and yields each result as it finishes so the
progress bar keeps moving.  Workers are *spawned* (not forked: Numba's thread pool and LLVM do
not survive a fork), and each gets ``NUMBA_NUM_THREADS = cpus // N`` so the workers' parallel
kernels do not oversubscribe the machine.  ``--jobs 1`` runs everything in this process.

Examples
--------
>>> [(item, result) for item, result in each(abs, [-2, 3], jobs=1)]
[(-2, 2), (3, 3)]
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one).

    Examples
    --------
    >>> available_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_jobs() -> int:
    """One worker per available CPU, at most 4 (each worker holds its own Numba and mpmath
    caches, a few hundred MB on long rows)."""
    return max(1, min(available_cpus(), 4))


def _limit_threads(threads: int) -> None:
    """Worker initializer: runs before the worker imports Numba.  The worker shows
    symsmooth's warnings (a recomputed cache entry) on one line, as the main process does."""
    import warnings

    from symsmooth.cli.app import one_line_warning

    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    warnings.showwarning = one_line_warning


def each(
    fn: Callable, items: Iterable, jobs: int = 1, weight: Callable | None = None
) -> Iterator[tuple]:
    """``(item, fn(item))`` for every item, in completion order.

    ``fn`` must be a module-level function (it is pickled by name) that returns picklable
    results; ``weight(item)`` orders the submissions, heaviest first.  With ``jobs <= 1`` the
    items run here, in their given order.
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            yield item, fn(item)
        return
    if weight is not None:
        items = sorted(items, key=weight, reverse=True)
    workers = min(jobs, len(items))
    threads = max(1, available_cpus() // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for future in as_completed(futures):
            yield futures[future], future.result()
