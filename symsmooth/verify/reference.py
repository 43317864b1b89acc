"""High-precision references: evaluate an exact SymPy expression with mpmath.

A *point* maps each ``Symbol`` to a number, each ``IndexedBase`` to a sequence of numbers
(1-based: ``x[1]`` is the first entry, as in the articles), and the size symbol ``n`` to an
int.  The size is substituted first, then ``Sum``/``MaxOver``/... are expanded with
``doit()``, then the expression is compiled once with ``sympy.lambdify`` to mpmath and
evaluated at the working precision.

Examples
--------
>>> import sympy as sp
>>> x = sp.IndexedBase("x"); i = sp.Idx("i"); k = sp.Symbol("k", positive=True)
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> lse = sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k
>>> v = evaluate(lse, {n: 2, x: [1000, 1000], k: 1}, dps=30)
>>> print(mpmath.nstr(v, 25))
1000.693147180559945309417
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import mpmath
import sympy as sp

from symsmooth.functions import PRIMITIVES


def _heaviside(z, h0=0.5):
    return mpmath.mpf(1) if z > 0 else (mpmath.mpf(0) if z < 0 else mpmath.mpf(h0))


def _sign(z):
    return mpmath.mpf((z > 0) - (z < 0))


def _argmax(*values):
    best = max(range(len(values)), key=lambda j: (values[j], -j))
    return best + 1


def _mpmath_module() -> dict[str, Any]:
    """Names lambdify may print that mpmath lacks (or names differently)."""
    table: dict[str, Any] = {
        "Heaviside": _heaviside,
        "sign": _sign,
        "Max": lambda *a: max(a),
        "Min": lambda *a: min(a),
        "ArgMax": _argmax,
        "KroneckerDelta": lambda a, b: mpmath.mpf(a == b),
        "floor": mpmath.floor,
        "ceiling": mpmath.ceil,
        "log1p": mpmath.log1p,
        "expm1": mpmath.expm1,
        "erfc": mpmath.erfc,
        "erf": mpmath.erf,
    }
    table.update({name: cls._mpmath for name, cls in PRIMITIVES.items()})
    try:  # optional extra primitives may define their own mpmath evaluation
        from symsmooth import functions

        table.update(getattr(functions, "MPMATH_MODULE", {}))
    except ImportError:  # pragma: no cover
        pass
    return table


def _sizes(point: Mapping) -> dict:
    return {s: v for s, v in point.items() if isinstance(s, sp.Symbol) and s.is_integer}


def instantiate(expr: sp.Expr, point: Mapping) -> sp.Expr:
    """``expr`` with the sizes of ``point`` substituted and every range reduction expanded."""
    sizes = _sizes(point)
    out = expr.subs(sizes) if sizes else expr
    return out.doit()


def _flatten(expr: sp.Expr, point: Mapping) -> tuple[list, list]:
    """Ordered free inputs of ``expr`` (Symbols and Indexed entries) and their values."""
    inputs, values = [], []
    for key, value in point.items():
        if isinstance(key, sp.IndexedBase):
            for j, v in enumerate(value, start=1):
                inputs.append(key[j])
                values.append(v)
        elif isinstance(key, sp.Symbol) and not key.is_integer:
            inputs.append(key)
            values.append(value)
    return inputs, values


@lru_cache(maxsize=512)
def _compile(expr: sp.Expr, inputs: tuple):
    dummies = [sp.Dummy(f"a{j}") for j in range(len(inputs))]
    body = expr.xreplace(dict(zip(inputs, dummies)))
    return sp.lambdify(dummies, body, modules=[_mpmath_module(), "mpmath"])


def _to_mpf(value):
    if isinstance(value, (int, bool)):
        return mpmath.mpf(int(value))
    if isinstance(value, (sp.Basic,)):
        return mpmath.mpf(sp.N(value, mpmath.mp.dps + 5))
    return mpmath.mpf(value)  # float is exact in binary; mpf/str parse at current precision


def evaluate(expr: sp.Expr, point: Mapping, dps: int = 50):
    """The value of ``expr`` at ``point`` computed with mpmath at ``dps`` digits.

    Raises
    ------
    ValueError
        if ``expr`` still has free symbols that ``point`` does not give.
    """
    body = instantiate(sp.sympify(expr), point)
    inputs, values = _flatten(body, point)
    missing = body.free_symbols - set(inputs) - set(_sizes(point))
    missing = {m for m in missing if not isinstance(m, (sp.Idx,))}
    indexed = {a for a in body.atoms(sp.Indexed)} - set(inputs)
    if missing - {s for ind in inputs for s in getattr(ind, "free_symbols", ())} or indexed:
        unknown = sorted(map(str, (missing | indexed) - set(inputs)))
        raise ValueError(f"evaluate: no value given for {', '.join(unknown)}; add them to the point")
    keep = [(a, v) for a, v in zip(inputs, values) if a in body.free_symbols or a in body.atoms(sp.Indexed)]
    args = tuple(a for a, _ in keep)
    fn = _compile(body, args)
    with mpmath.workdps(dps + 10):
        result = fn(*[_to_mpf(v) for _, v in keep])
        result = mpmath.mpmathify(result)
    with mpmath.workdps(dps):
        return +result  # rounded to dps digits; the mpf keeps that precision


def evaluate_many(expr: sp.Expr, points: Sequence[Mapping], dps: int = 50) -> list:
    """:func:`evaluate` at each point (the compiled function is cached across points)."""
    return [evaluate(expr, p, dps=dps) for p in points]


def to_float(value, dtype=float) -> float:
    """Round an mpmath value to the nearest float64 (or ``dtype``) correctly."""
    import numpy as np

    return dtype(np.float64(float(value))) if dtype is not float else float(value)
