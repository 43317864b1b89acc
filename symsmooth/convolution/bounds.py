"""The sup error ``sup |f*K - f|`` where it can be proven, with the points where it is reached.

Proven cases (symmetric kernel ``K``, linear pieces; ``E(w) = ((w)_+ * K)(w) - w_+ >= 0``
decreases away from 0 because ``E' = Phi - H``):

* one kink of slope change ``d``: ``sup = |d| E(0)``, attained at the kink (ReLU: article 3
  item 5, ``sigma/sqrt(2 pi)`` for the Gaussian; leaky ReLU, |x|, max(x, y));
* one jump ``J``: ``sup = |J|/2``, approached at the jump (``Phi(0) = 1/2``);
* two opposite kinks (clip, hard tanh), unimodal kernel: ``|d| (E(0) - E(c2 - c1))``, attained
  at both kinks (the error is monotone between and outside them);
* two opposite jumps (box), unimodal kernel: ``|J| (1/2 + Phi(c1 - c2))``, approached from
  inside the box;
* one staircase ``coef*floor(...)`` plus a linear part: ``|coef|/2`` (``frac - frac*K`` is
  monotone between jumps since ``(frac*K)' = 1 - Σ K(x - n) <= 1``).

Anything else returns ``None`` and a domain note with the triangle-inequality bound.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.convolution import kernels
>>> from symsmooth.convolution.pieces import to_pieces
>>> from symsmooth.convolution.engine import convolve_pieces
>>> x = sp.Symbol("x", real=True)
>>> pp = to_pieces(sp.Max(x, 0), x)
>>> k = kernels.get("gaussian")
>>> sup_error(pp, k, convolve_pieces(pp, k).expr).bound
sqrt(2)*sigma/(2*sqrt(pi))
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.convolution.kernels import Kernel, U
from symsmooth.convolution.pieces import PiecewisePolynomial


@dataclass(frozen=True)
class ErrorBound:
    """``bound`` (or None), the points where it is attained, and a note for the domain."""

    bound: sp.Expr | None
    attained: tuple = ()
    note: str = ""


def _jumps_and_kinks(pp: PiecewisePolynomial):
    var, out = pp.var, []
    for j, c in enumerate(pp.breaks, start=1):
        left, right = pp.pieces[j - 1], pp.pieces[j]
        jump = sp.simplify((right - left).subs(var, c))
        kink = sp.simplify(sp.diff(right - left, var).subs(var, c))
        out.append((c, jump, kink))
    return out


def _error_at(pp, expr, c) -> sp.Expr:
    value = pp.pieces[pp.breaks.index(c)].subs(pp.var, c)
    return sp.simplify(expr.subs(pp.var, c) - value)


def sup_error(pp: PiecewisePolynomial, kernel: Kernel, expr: sp.Expr) -> ErrorBound:
    """``sup |expr - pp|`` for the proven cases (see the module docstring)."""
    if not kernel.symmetric or pp.degree() > 1 or not pp.breaks:
        return ErrorBound(None, note=_note(pp))
    var = pp.var
    info = _jumps_and_kinks(pp)
    jumps = [j for _, j, _ in info]
    kinks = [k for _, _, k in info]
    if len(info) == 1:
        ((c, jump, kink),) = info
        if jump == 0:
            return ErrorBound(sp.Abs(_error_at(pp, expr, c)), ({var: c},))
        if kink == 0:
            return ErrorBound(sp.Abs(jump) / 2)
    if len(info) == 2 and kernel.unimodal:
        (c1, _, _), (c2, _, _) = info
        if all(j == 0 for j in jumps) and sp.expand(kinks[0] + kinks[1]) == 0:
            return ErrorBound(sp.Abs(_error_at(pp, expr, c1)), ({var: c1}, {var: c2}))
        if all(k == 0 for k in kinks) and sp.expand(jumps[0] + jumps[1]) == 0:
            leak = kernel.cdf().subs(U, c1 - c2)
            return ErrorBound(sp.Abs(jumps[0]) * (sp.S.Half + leak))
    return ErrorBound(None, note=_note(pp))


def staircase_bound(coef: sp.Expr) -> ErrorBound:
    """``|coef|/2`` for one smoothed staircase (symmetric kernel)."""
    return ErrorBound(sp.Abs(coef) / 2)


def _note(pp: PiecewisePolynomial) -> str:
    if pp.degree() > 1:
        return "sup error not derived (pieces of degree > 1: the error may grow towards the tails)"
    return (
        "sup error not derived in closed form; it is at most the sum over breakpoints of "
        "|kink| E(0) + |jump|/2 (triangle inequality)"
    )
