"""The measurement behind the stabilization search: sample points and errors in bits.

:func:`symsmooth.stabilization.search.search` compares candidate forms of one function; this
module gives it (through :mod:`symsmooth.pipeline`, since stages never import each other)
the sample points and a ``measure``: each candidate evaluated in float64 node by node
(:func:`symsmooth.stabilization.float_eval.evaluate` -- passed in as ``evaluate``) against a
certified Arb reference of the *input* expression (all candidates are equal as functions, so
one reference per point serves them all; references are cached per point).

The error of a candidate at a point is ``log2(1 + ulp)`` bits (Herbie's measure: an ulp error
of 1e16 counts 53 bits, not 1e16 times an ulp of 1), capped at 64; points whose reference is
undefined or not certified count 0 for every candidate.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> pts = sample_points((x,), ())
>>> sorted(pts) == [x] and pts[x].size > 100
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mpmath
import numpy as np
import sympy as sp

from symsmooth.verification.balls import certified, compile_ball
from symsmooth.verification.grids import elementwise_grid
from symsmooth.verification.ulp import ulp_error

PARAM_VALUES = (1.0, 0.1, 10.0)
"""Values of a positive parameter (sharpness, width) in the sample (others: 1 only)."""

MAX_BITS = 64.0
"""Error of a wrong, NaN or infinite result, in bits."""


def sample_points(inputs: Sequence[sp.Symbol], params: Sequence[sp.Symbol], per_regime: int = 24):
    """Symbol -> float64 array: the elementwise grid's regimes for each input (shuffled
    against each other for several inputs), at each parameter value of :data:`PARAM_VALUES`
    (one parameter varied at a time)."""
    if not inputs:  # nothing varies with the inputs: nothing to sample
        return {}
    grid = elementwise_grid(np.float64, per_regime=per_regime)
    base = np.concatenate([grid[r] for r in sorted(grid)])
    rng = np.random.default_rng(11)
    columns = [base] + [rng.permutation(base) for _ in inputs[1:]]
    settings = [dict.fromkeys(params, 1.0)]
    for p in params:
        if p.is_positive:
            settings += [{**settings[0], p: v} for v in PARAM_VALUES[1:]]
    out = {s: [] for s in (*inputs, *params)}
    for setting in settings:
        for s, col in zip(inputs, columns, strict=True):
            out[s].append(col)
        for p in params:
            out[p].append(np.full(base.size, setting[p]))
    return {s: np.concatenate(v) for s, v in out.items()}


def bits_measure(expr: sp.Expr, evaluate: Callable) -> Callable:
    """``measure(candidates, points)`` for :func:`~symsmooth.stabilization.search.search`,
    with certified references of ``expr`` (module docstring)."""
    symbols = sorted(expr.free_symbols, key=str)
    ball = compile_ball(expr, symbols)
    cache: dict[tuple, object] = {}

    def reference(values: tuple):
        if values not in cache:
            cache[values] = certified(ball, values)
        return cache[values]

    def measure(candidates: Sequence[sp.Expr], points: dict) -> np.ndarray:
        cols = [np.asarray(points[s], dtype=np.float64) for s in symbols]
        refs = [reference(v) for v in zip(*[c.tolist() for c in cols], strict=True)]
        usable = np.array([type(r) is mpmath.mpf and not mpmath.isnan(r) for r in refs])
        out = np.zeros((len(candidates), len(refs)))
        for i, cand in enumerate(candidates):
            computed = evaluate(cand, symbols, cols)
            for j, (c, r) in enumerate(zip(computed.tolist(), refs, strict=True)):
                if usable[j]:
                    u = ulp_error(c, r)
                    out[i, j] = MAX_BITS if not np.isfinite(u) else min(np.log2(1 + u), MAX_BITS)
        return out

    return measure
