"""Size budgets of a convolution target, checked before the engine touches it.

The engine's cost grows with the target's polynomial degree (partial moments up to that
order, expanded powers), with the number of breakpoints (every pair of pieces is compared
and every kernel branch merged) and with the size of its constants (SymPy compares and
factors them exactly: ``Max(x - exp(10000), 0)`` with the uniform kernel never finishes,
``erfc(1e10)`` is a Float of about ``10^(-4*10^19)`` that cannot even be printed).  A target
past one of these budgets is refused at once with a
:class:`~symsmooth.errors.BudgetError` that says which budget and what to do, instead of
running into the stage's deadline.

All three measures are read from the expression tree without evaluating it (the constants by
:mod:`symsmooth.magnitudes`, shared with the other symbolic stages).

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> degree_bound(sp.Max(x, 0) ** 3 + x, x), breaks_bound(sp.Max(x, 0) + sp.Abs(x - 1), x)
(3, 2)
>>> check_target(sp.Max(x - sp.exp(10000), 0), (x,))
Traceback (most recent call last):
...
symsmooth.errors.BudgetError: convolve: the constant exp(10000) is about 10^4343, ...
"""

from __future__ import annotations

import sympy as sp

from symsmooth.errors import BudgetError
from symsmooth.magnitudes import MAX_DIGITS, check_constants, constant_digits  # noqa: F401

MAX_DEGREE = 32
"""Highest polynomial degree of a target (``Max(x, 0)**32`` takes about 1.5 s; the cost grows
faster than the cube of the degree)."""
MAX_BREAKS = 64
"""Most breakpoints a target may spell (a 40-piece ``Piecewise`` takes about 3 s)."""
_KINKED = (sp.Abs, sp.sign, sp.Heaviside)


def degree_bound(expr: sp.Expr, var: sp.Symbol) -> int:
    """An upper bound on the polynomial degree in ``var`` of ``expr``'s pieces."""
    if var not in expr.free_symbols:
        return 0
    if expr == var:
        return 1
    if isinstance(expr, sp.Mul):
        return sum(degree_bound(a, var) for a in expr.args)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp >= 0:
        return int(expr.exp) * degree_bound(expr.base, var)
    if isinstance(expr, sp.Piecewise):
        return max(degree_bound(value, var) for value, _ in expr.args)
    if isinstance(expr, (sp.sign, sp.Heaviside)):
        return 0
    return max((degree_bound(a, var) for a in expr.args if isinstance(a, sp.Expr)), default=0)


def breaks_bound(expr: sp.Basic, var: sp.Symbol) -> int:
    """How many breakpoints ``expr`` spells: ``Piecewise`` conditions, ``Max``/``Min``
    arguments and ``Abs``/``sign``/``Heaviside`` nodes (times the degree of their argument)."""
    if var not in expr.free_symbols:
        return 0
    own = 0
    if isinstance(expr, sp.Piecewise):
        own = len(expr.args) - 1
    elif isinstance(expr, (sp.Max, sp.Min)):
        own = (len(expr.args) - 1) * max(1, max(degree_bound(a, var) for a in expr.args))
    elif isinstance(expr, _KINKED):
        own = max(1, degree_bound(expr.args[0], var))
    return own + sum(breaks_bound(a, var) for a in expr.args)


def check_target(f: sp.Expr, variables: tuple) -> None:
    """Refuse a target past one of the size budgets (see the module docstring).

    Raises
    ------
    BudgetError
        Naming the stage (``convolve``), the budget, the part of the target and what to do.
    """
    check_constants(f, "convolve")
    for var in variables:
        degree = degree_bound(f, var)
        if degree > MAX_DEGREE:
            raise BudgetError(
                "convolve",
                f"the target has polynomial pieces of degree up to {degree} in {var}, beyond "
                f"the budget of {MAX_DEGREE}; lower the powers (e.g. Max(x, 0)**3), or convolve "
                "a lower-degree surrogate",
            )
        count = breaks_bound(f, var)
        if count > MAX_BREAKS:
            raise BudgetError(
                "convolve",
                f"the target spells about {count} breakpoints in {var}, beyond the budget of "
                f"{MAX_BREAKS}; split it into smaller targets and add their convolutions (the "
                "convolution is linear)",
            )
