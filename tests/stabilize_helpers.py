"""Numeric helpers for the stabilization tests: instantiate, evaluate (float64 and mpmath), ulps.

References are the *naive* (textbook) expressions evaluated with mpmath at 1200 digits and
checked against 1500 digits, enough to resolve cancellations down to 1e-700 (every float64 is
above 4.9e-324), then rounded to float64.
"""

from __future__ import annotations

from collections.abc import Mapping

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from symsmooth.functions import naive

DPS = (1200, 1500)


def instantiate(expr: sp.Expr, point: Mapping) -> tuple[sp.Expr, list, list]:
    """``(expr', dummies, values)``: sizes/indices (ints) substituted, vectors expanded."""
    ints = {k: v for k, v in point.items() if isinstance(v, int)}
    expr = expr.subs(ints).doit() if ints else expr
    values: dict = {}
    for k, v in point.items():
        if isinstance(k, sp.IndexedBase):
            values.update({k[idx]: val for idx, val in enumerate(v, 1)})
        elif not isinstance(v, int):
            values[k] = v
    dummies = [sp.Dummy() for _ in values]
    expr = expr.xreplace(dict(zip(values, dummies, strict=True)))
    return expr, dummies, list(values.values())


def elementary(expr: sp.Expr) -> sp.Expr:
    """Primitives, log1p and expm1 written with exp/log/erf only (for the exact reference)."""
    expr = naive(expr)
    return expr.replace(log1p, lambda u: sp.log(1 + u)).replace(expm1, lambda u: sp.exp(u) - 1)


def reference(expr: sp.Expr, point: Mapping) -> mpmath.mpf:
    """The exact value of ``expr`` (stable or naive) at ``point``, from its elementary form."""
    e, dummies, values = instantiate(elementary(expr), point)
    f = sp.lambdify(dummies, e, modules="mpmath")
    results = []
    for dps in DPS:
        with mpmath.workdps(dps):
            results.append(f(*[mpmath.mpf(v) for v in values]))
    low, high = results
    assert abs(low - high) <= abs(high) * mpmath.mpf(10) ** -60, (expr, point)
    return high


def as_float(value: mpmath.mpf) -> float:
    """Round a real mpmath value to the nearest float64 (inf past the range)."""
    if isinstance(value, mpmath.mpc):
        assert abs(value.imag) <= abs(value.real) * mpmath.mpf(10) ** -100
        value = value.real
    return float(value)


def float64(expr: sp.Expr, point: Mapping) -> float:
    """``expr`` evaluated in float64 NumPy (stable primitives through their NumPy hooks)."""
    e, dummies, values = instantiate(expr, point)
    f = sp.lambdify(dummies, e, modules=["scipy", "numpy"])
    with np.errstate(all="ignore"):
        return float(f(*[np.float64(v) for v in values]))


def naive_float64(expr: sp.Expr, point: Mapping) -> float:
    """The textbook form of ``expr`` (primitives rewritten) evaluated in float64."""
    return float64(naive(expr), point)


def ulps(value: float, ref: float) -> float:
    """``|value - ref| / spacing(|ref|)``; inf when ``value`` is not finite or ``ref`` is."""
    if not np.isfinite(value):
        return 0.0 if value == ref else np.inf
    if not np.isfinite(ref):
        return np.inf
    return abs(value - ref) / np.spacing(abs(ref))


def _bumped(point: Mapping, key, position: int | None, factor) -> dict:
    with mpmath.workdps(DPS[1]):
        return _bump(point, key, position, factor)


def _bump(point: Mapping, key, position: int | None, factor) -> dict:
    if position is None:
        return {**point, key: mpmath.mpf(point[key]) * factor}
    values = list(point[key])
    values[position] = mpmath.mpf(values[position]) * factor
    return {**point, key: tuple(values)}


def condition(expr: sp.Expr, point: Mapping) -> float:
    """Relative condition number ``max_v |v f_v / f|`` over the real inputs (mpmath).

    An input perturbed by one relative ulp (as when a kernel rounds ``x/sqrt(2)``) moves the
    result by about this many relative ulps; no float64 evaluation fed that rounded value can
    do better.  Vector inputs are perturbed entry by entry.
    """
    f0 = reference(expr, point)
    worst = 0.0
    with mpmath.workdps(DPS[1]):
        step = mpmath.mpf(10) ** -40
        factor = 1 + step
    for key, value in point.items():
        if isinstance(value, int):
            continue
        positions = range(len(value)) if isinstance(key, sp.IndexedBase) else [None]
        for position in positions:
            f1 = reference(expr, _bumped(point, key, position, factor))
            with mpmath.workdps(DPS[1]):
                worst = max(worst, float(abs((f1 - f0) / (f0 * step))))
    return worst
