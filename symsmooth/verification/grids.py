"""Input grids with the hard regions, by regime, for elementwise kernels and row reductions.

Every grid is deterministic (fixed seed) so reports are reproducible.

Elementwise regimes: ``moderate`` (|x| <= 5), ``breakpoint`` (within a few ulps of 0 and of
+-1e-8), ``tiny`` (|x| from 1e-300 to 1e-3, both signs, subnormals included), ``large``
(|x| from 10 to 1e4, both signs), ``overflow_edge`` (around log(max float) and log(min float):
+-709.78, -745.13 for float64; +-88.72, -103.97 for float32), ``huge`` (|x| up to 1e300).

Row regimes: ``moderate`` (normal entries), ``shifted_up`` (1000 + normal: exp overflows),
``shifted_down`` (-1000 + normal: exp underflows), ``wide`` (scale 300), ``ties`` (all equal),
``with_neg_inf`` (a quarter of the entries at -inf), ``tiny`` (scale 1e-300), and ``long``
(one row of ``long_n`` entries, 10^5 by default).

Examples
--------
>>> g = elementwise_grid(np.float64)
>>> sorted(g)[:3]
['breakpoint', 'huge', 'large']
>>> bool(np.all(np.isfinite(g["overflow_edge"])))
True
>>> r = row_grid(1, np.float64, long_n=1000)
>>> r["long"][0].shape
(1, 1000)
"""

from __future__ import annotations

import numpy as np

EDGES = {
    np.dtype(np.float64): (709.782712893384, -745.1332191019411),
    np.dtype(np.float32): (88.72283935546875, -103.97207641601562),
}


def _both_signs(values: np.ndarray) -> np.ndarray:
    return np.concatenate([-values[::-1], values])


def elementwise_grid(dtype=np.float64, per_regime: int = 48, seed: int = 0) -> dict:
    """``regime -> 1-D array`` of inputs representable in ``dtype``."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    big = 300 if dtype == np.float64 else 37
    lo = -300 if dtype == np.float64 else -37
    top, bottom = EDGES[dtype]
    half = per_regime // 2
    eps = np.finfo(dtype).eps
    grid = {
        "moderate": np.concatenate([np.linspace(-5, 5, half), rng.uniform(-5, 5, half)]),
        "breakpoint": np.concatenate(
            [np.arange(-4, 5) * np.finfo(dtype).tiny, np.arange(-4, 5) * eps, [-1e-8, 1e-8, 0.0]]
        ),
        "tiny": _both_signs(np.logspace(lo, -3, half)),
        "large": _both_signs(np.logspace(1, 4, half)),
        "overflow_edge": np.concatenate(
            [
                top + np.linspace(-2, 2, half // 2),
                -top + np.linspace(-2, 2, half // 2),
                bottom + np.linspace(-2, 2, half // 2),
            ]
        ),
        "huge": _both_signs(np.logspace(4, big, half)),
    }
    return {k: np.asarray(v, dtype=dtype) for k, v in sorted(grid.items())}


def row_grid(
    vectors: int,
    dtype=np.float64,
    n: int = 16,
    rows: int = 4,
    long_n: int = 100_000,
    seed: int = 0,
    labels=None,
) -> dict:
    """``regime -> tuple of 2-D arrays`` (one per input vector; the first is the score row,
    the others are labels in [0, 1] unless ``labels`` (a callable ``rng, shape -> array``) is
    given)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    labels = labels or (lambda r, shape: r.uniform(0.0, 1.0, shape))
    normal = lambda shape, scale=1.0: rng.standard_normal(shape) * scale  # noqa: E731
    with_inf = normal((rows, n))
    with_inf[:, ::4] = -np.inf
    first = {
        "moderate": normal((rows, n), 2.0),
        "shifted_up": 1000.0 + normal((rows, n)),
        "shifted_down": -1000.0 + normal((rows, n)),
        "wide": normal((rows, n), 300.0),
        "ties": np.full((rows, n), 0.75),
        "with_neg_inf": with_inf,
        "tiny": normal((rows, n), 1e-300),
        "long": normal((1, long_n), 3.0),
    }
    if dtype == np.float32:
        first["shifted_up"] = 60.0 + normal((rows, n))
        first["shifted_down"] = -60.0 + normal((rows, n))
        first["wide"] = normal((rows, n), 30.0)
        first["tiny"] = normal((rows, n), 1e-30)
    out = {}
    for name, x in sorted(first.items()):
        extra = tuple(labels(rng, x.shape).astype(dtype) for _ in range(vectors - 1))
        out[name] = (x.astype(dtype),) + extra
    return out
