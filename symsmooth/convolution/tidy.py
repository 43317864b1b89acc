"""Readable closed forms: merge kernel branches into one Piecewise, use erfc, group terms.

Only cheap rewrites (no ``simplify``): top-level expansion, ``1 ± erf(z) -> erfc(∓z)`` where
it shortens the expression (erfc keeps the tails accurate: Abramowitz-Stegun 7.1.2), and
collection of the coefficients of each special function.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> tidy(x * (1 + sp.erf(x)) - x)
x*erf(x)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.convolution.pieces import decide
from symsmooth.functions import sigmoid, softplus

MAX_FACTOR_TERMS = 24
"""Coefficients with more expanded terms than this are not factored (see :func:`_coefficient`)."""
MAX_FACTOR_DIGITS = 40
"""Nor are coefficients with numbers beyond ``10^±40``."""
_SPECIAL = (sp.erf, sp.erfc, sp.exp, sigmoid, softplus, sp.atan, sp.log, sp.polylog, sp.asinh)


def _flat(expr: sp.Expr) -> sp.Expr:
    """Distribute products over sums at the top level only (function arguments untouched)."""
    for _ in range(8):
        new = sp.Add(*[sp.expand_mul(term, deep=False) for term in sp.Add.make_args(expr)])
        if new == expr:
            break
        expr = new
    return expr


def _cost(expr: sp.Expr) -> int:
    return len(sp.Add.make_args(expr))


def _erfc_form(expr: sp.Expr) -> sp.Expr:
    best = _flat(expr)
    for atom in sorted(best.atoms(sp.erf), key=sp.default_sort_key):
        (z,) = atom.args
        candidates = [_flat(best.subs(atom, r)) for r in (sp.erfc(-z) - 1, 1 - sp.erfc(z))]
        choice = min(candidates, key=_cost)  # the first (erfc(-z)) wins ties
        if _cost(choice) < _cost(best):
            best = choice
    return best


def tidy(expr: sp.Expr) -> sp.Expr:
    """Expand at the top level, prefer erfc where it shortens, and collect special functions."""
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(tidy(e), c) for e, c in expr.args])
    groups: dict = {}
    for term in sp.Add.make_args(_erfc_form(expr)):
        special = [f for f in sp.Mul.make_args(term) if _is_special(f)]
        key = sp.Mul(*special)
        groups[key] = groups.get(key, 0) + term / key
    out = []
    for key in sorted(groups, key=sp.default_sort_key):
        coeff = _coefficient(groups[key])
        if coeff != 0:
            out.append(coeff * key)
    return sp.Add(*out)


def _coefficient(coeff: sp.Expr) -> sp.Expr:
    """``factor(together(coeff))``, when that is cheap: factoring a big multivariate polynomial
    or one with huge coefficients (Wang's algorithm searches primes past them) can take minutes,
    so larger coefficients keep the equal, unfactored ``together`` form."""
    coeff = sp.together(coeff)
    if len(sp.Add.make_args(sp.expand(coeff))) > MAX_FACTOR_TERMS:
        return coeff
    if any(_magnitude_digits(n) > MAX_FACTOR_DIGITS for n in coeff.atoms(sp.Number)):
        return coeff
    return sp.factor(coeff)


def _magnitude_digits(number: sp.Number) -> float:
    if number.is_Float:
        _, mantissa, exponent, bits = number._mpf_
        return abs(exponent + bits) * 0.30103 if mantissa else 0.0
    if number.is_Rational:
        return max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) * 0.30103
    return 0.0


def _is_special(factor: sp.Expr) -> bool:
    if isinstance(factor, sp.Pow):
        if not factor.exp.is_Integer:
            return True
        factor = factor.base
    return isinstance(factor, _SPECIAL)


def _threshold(cond: sp.Basic, var: sp.Symbol):
    if not isinstance(cond, sp.core.relational.Relational):
        return []
    diff = sp.expand(cond.lhs - cond.rhs)
    poly = sp.Poly(diff, var) if diff.is_polynomial(var) else None
    if poly is None or poly.degree() != 1:
        return []
    return [sp.simplify(-poly.nth(0) / poly.nth(1))]


def _sorted_unique(points: list) -> list | None:
    out: list = []
    try:
        for p in points:
            if any(sp.expand(p - q) == 0 for q in out):
                continue
            pos = next((k for k, q in enumerate(out) if decide(p < q)), len(out))
            out.insert(pos, p)
    except Exception:  # undecidable order: keep the sum of Piecewise terms
        return None
    return out


def _probe(lo, hi):
    if lo is None and hi is None:
        return sp.S.Zero
    if lo is None:
        return hi - 1
    if hi is None:
        return lo + 1
    return (lo + hi) / 2


def _branch(pw: sp.Piecewise, var, point):
    for value, cond in pw.args:
        if decide(cond.subs(var, point)):
            return value
    raise ValueError("no branch")


def merge_piecewise(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """Fold every ``Piecewise`` in ``expr`` into one ``Piecewise`` over ``var``.

    Kept as is when the breakpoints cannot be ordered.
    """
    pieces = [p for p in expr.atoms(sp.Piecewise) if var in p.free_symbols]
    if not pieces:
        return expr
    cuts = [c for p in pieces for _, cond in p.args for c in _threshold(cond, var)]
    order = _sorted_unique(cuts)
    if order is None:
        return expr
    edges = [None, *order, None]
    branches = []
    try:
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            point = _probe(lo, hi)
            chosen = {p: _branch(p, var, point) for p in pieces}
            branches.append(tidy(expr.xreplace(chosen)))
    except Exception:
        return expr
    pairs = []
    for value, hi in zip(branches, order + [None], strict=True):
        if pairs and sp.expand(value - pairs[-1][0]) == 0:
            pairs[-1] = (value, var < hi if hi is not None else True)
            continue
        pairs.append((value, var < hi if hi is not None else True))
    return sp.Piecewise(*pairs)
