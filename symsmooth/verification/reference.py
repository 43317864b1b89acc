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

import keyword
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from symsmooth.functions import MPMATH_MODULE


class ReferenceRangeError(ArithmeticError):
    """The exact value needs a number beyond what mpmath can hold (``exp(exp(1e300))``).

    Raised instead of letting mpmath exhaust memory; verifiers skip such points and say so.
    """


_EXP_MAG_LIMIT = 1 << 24
"""``exp(z)`` is refused when ``|z| > 2**(2**24)``: the result's binary exponent would then be
an integer of more than 16 million bits.  ``exp(exp(1e6))`` (eq (14) at large sharpness) is
still computed; ``exp(exp(1e300))`` (its result would need an exponent of about 10**300 bits)
is refused."""


def guarded_exp(z):
    """``mpmath.exp`` that raises :class:`ReferenceRangeError` on astronomically large input.

    Examples
    --------
    >>> float(guarded_exp(mpmath.mpf(1e300)) > 0)
    1.0
    >>> guarded_exp(guarded_exp(mpmath.mpf(1e300)))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ReferenceRangeError: exp of a number of magnitude 2**(...) is beyond mpmath's range
    """
    if mpmath.isfinite(z) and mpmath.mag(z) > _EXP_MAG_LIMIT:
        raise ReferenceRangeError(
            f"exp of a number of magnitude 2**{int(mpmath.mag(z))} is beyond mpmath's range"
        )
    return mpmath.exp(z)


def _heaviside(z, h0=0.5):
    return mpmath.mpf(1) if z > 0 else (mpmath.mpf(0) if z < 0 else mpmath.mpf(h0))


def _sign(z):
    return mpmath.mpf((z > 0) - (z < 0))


def _argmax(*values):
    best = max(range(len(values)), key=lambda j: (values[j], -j))
    return best + 1


def mpmath_module() -> dict[str, Any]:
    """Names lambdify may print that mpmath lacks (or names differently): the one table every
    mpmath reference in symsmooth compiles with."""
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
        "exp": guarded_exp,
    }
    table.update(MPMATH_MODULE)  # the stable primitives' own overflow-free mpmath formulas
    return table


def _printable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def safe_lambdify(args: Sequence, expr: sp.Expr, modules) -> Callable:
    """``sympy.lambdify(args, expr, modules)`` that never prints a name it was handed.

    lambdify prints symbol and function names verbatim into Python source that it executes, so
    a symbol named ``"x; import os"`` (built directly with SymPy, or read from a file) would be
    code.  The arguments (symbols or ``Indexed`` entries) become the local names
    ``_ref_arg0, _ref_arg1, ...`` (plain Symbols, not Dummy: lambdify re-creates Dummy
    arguments one by one, slowly); any other symbol or undefined function left in ``expr``
    must have a name that is an identifier, not a keyword and not one of those local names.

    Raises
    ------
    ValueError
        naming the first symbol or function whose name cannot be printed safely.

    Examples
    --------
    >>> x = sp.Symbol("x; import os")
    >>> float(safe_lambdify([x], 2 * x, "mpmath")(3))
    6.0
    >>> safe_lambdify([], sp.Symbol("y; import os") + 1, "mpmath")
    Traceback (most recent call last):
    ValueError: cannot evaluate a symbol named 'y; import os': names must be identifiers
    """
    args = list(args)
    local = [sp.Symbol(f"_ref_arg{j}") for j in range(len(args))]
    expr = sp.sympify(expr, strict=True)
    taken = {str(s) for s in local}
    others = expr.atoms(sp.Symbol) - set(args)  # a symbol equal to a local name would merge
    body = expr.xreplace(dict(zip(args, local, strict=True)))
    for atom in sorted(others | (body.atoms(sp.Symbol) - set(local)), key=str):
        if not _printable(atom.name) or (atom.name in taken and atom in others):
            raise ValueError(
                f"cannot evaluate a symbol named {atom.name!r}: names must be identifiers"
            )
    for call in sorted(body.atoms(AppliedUndef), key=str):
        name = type(call).__name__
        if not _printable(name):
            raise ValueError(
                f"cannot evaluate a function named {name!r}: names must be identifiers"
            )
    return sp.lambdify(local, body, modules=modules)


def _sizes(point: Mapping) -> dict:
    return {s: v for s, v in point.items() if isinstance(s, sp.Symbol) and s.is_integer}


def instantiate(expr: sp.Expr, point: Mapping) -> sp.Expr:
    """``expr`` with the integer symbols of ``point`` (sizes, class indices) substituted and
    every range reduction (``Sum``, ``MaxOver``, ``LogSumExpOver``, ...) expanded."""
    sizes = _sizes(point)
    out = expr.subs(sizes) if sizes else expr
    return out.doit()


def _signature(point: Mapping) -> tuple:
    """What fixes the compiled form: integer values, vector lengths, scalar names."""
    sig = []
    for key, value in point.items():
        if isinstance(key, sp.IndexedBase):
            sig.append((key, len(value)))
        elif isinstance(key, sp.Symbol) and key.is_integer:
            sig.append((key, int(value)))
        elif isinstance(key, sp.Symbol):
            sig.append((key, None))
    return tuple(sig)


def _inputs(signature: tuple) -> list:
    inputs = []
    for key, size in signature:
        if isinstance(key, sp.IndexedBase):
            inputs.extend(key[j] for j in range(1, size + 1))
        elif size is None:
            inputs.append(key)
    return inputs


def _values(point: Mapping) -> list:
    values = []
    for key, value in point.items():
        if isinstance(key, sp.IndexedBase):
            values.extend(value)
        elif isinstance(key, sp.Symbol) and not key.is_integer:
            values.append(value)
    return values


@lru_cache(maxsize=1024)
def _prepare(expr: sp.Expr, signature: tuple):
    """Instantiate, check and compile ``expr`` once per point signature.

    Returns the lambdified function and the positions (in the point's flattened values) of the
    inputs it takes.
    """
    sizes = {key: size for key, size in signature if isinstance(key, sp.Symbol) and key.is_integer}
    body = (expr.subs(sizes) if sizes else expr).doit()
    inputs = _inputs(signature)
    given = set(inputs) | set(sizes)
    missing = {s for s in body.free_symbols if not isinstance(s, sp.Idx)} - given
    missing -= {s for ind in inputs for s in ind.free_symbols}
    missing |= body.atoms(sp.Indexed) - set(inputs)
    if missing:
        unknown = ", ".join(sorted(map(str, missing)))
        raise ValueError(f"evaluate: no value given for {unknown}; add them to the point")
    used = body.free_symbols | body.atoms(sp.Indexed)
    positions = tuple(j for j, a in enumerate(inputs) if a in used)
    fn = safe_lambdify([inputs[j] for j in positions], body, [mpmath_module(), "mpmath"])
    return fn, positions


def _to_mpf(value):
    if isinstance(value, (int, bool)):
        return mpmath.mpf(int(value))
    if isinstance(value, sp.Basic):
        return mpmath.mpf(sp.N(value, mpmath.mp.dps + 5))
    return mpmath.mpf(value)  # float is exact in binary; mpf/str parse at current precision


def evaluate(expr: sp.Expr, point: Mapping, dps: int = 50):
    """The value of ``expr`` at ``point`` computed with mpmath at ``dps`` digits.

    The expanded and compiled form is cached per expression and point *signature* (integer
    values and vector lengths), so evaluating many points of one shape is cheap.

    Raises
    ------
    ValueError
        if ``expr`` still has free symbols that ``point`` does not give.
    """
    fn, positions = _prepare(sp.sympify(expr), _signature(point))
    values = _values(point)
    with mpmath.workdps(dps + 10):
        result = mpmath.mpmathify(fn(*[_to_mpf(values[j]) for j in positions]))
    with mpmath.workdps(dps):
        return +result  # rounded to dps digits; the mpf keeps that precision


def evaluate_many(expr: sp.Expr, points: Sequence[Mapping], dps: int = 50) -> list:
    """:func:`evaluate` at each point (the compiled form is cached across points)."""
    return [evaluate(expr, p, dps=dps) for p in points]


def to_float(value, dtype=float) -> float:
    """Round an mpmath value to the nearest float64 (or ``dtype``) correctly."""
    import numpy as np

    return dtype(np.float64(float(value))) if dtype is not float else float(value)
