"""Closed-form partial moments ``A_m(u) = ∫_0^u s^m K(s) ds`` of the built-in kernels.

Each ``*_moment(m)`` returns ``A_m`` in the kernel variable ``u``; each ``*_tail(m)`` returns
``A_m(+oo)``.  All are pure algebra (recurrences), no ``integrate``; only kernels given by a
density alone go through :func:`derive_partial_moment` (SymPy ``integrate``, cached).

References
----------
Gaussian: integration by parts, ``A_m = -s^2 u^(m-1) K(u) + (m-1) s^2 A_(m-2)``
(Abramowitz-Stegun 7.1, 26.2).  Logistic: ``sigmoid(t s) = -Li_0(-e^(t s))`` and
``d/ds Li_n(-e^(t s)) = t Li_(n-1)(-e^(t s))`` (DLMF 25.12); tails ``m! eta(m) / t^m``
(DLMF 25.2.1).  Cauchy and Student t: reduction formulas of ``s^m / (s^2 + c)^p``
(Gradshteyn-Ryzhik 2.271, 2.263).  Laplace: lower incomplete gamma of integer order
(DLMF 8.4.7).  Compact kernels: exact polynomial integration.

Examples
--------
>>> from symsmooth.symbols import u, a
>>> cauchy_moment(1)
a*log(1 + u**2/a**2)/(2*pi)
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from symsmooth.functions import sigmoid, softplus
from symsmooth.symbols import a, b, h, sigma, t, u

# --- Gaussian ---------------------------------------------------------------------------------


def _gauss_density(v: sp.Expr) -> sp.Expr:
    return sp.exp(-(v**2) / (2 * sigma**2)) / (sp.sqrt(2 * sp.pi) * sigma)


@cache
def gaussian_moment(m: int) -> sp.Expr:
    """``A_m`` of the Gaussian kernel (recurrence by parts)."""
    if m == 0:
        return sp.erf(u / (sp.sqrt(2) * sigma)) / 2
    if m == 1:
        return sigma / sp.sqrt(2 * sp.pi) * (1 - sp.exp(-(u**2) / (2 * sigma**2)))
    return -(sigma**2) * u ** (m - 1) * _gauss_density(u) + (m - 1) * sigma**2 * gaussian_moment(
        m - 2
    )


@cache
def gaussian_tail(m: int) -> sp.Expr:
    """``A_m(oo)`` of the Gaussian: ``1/2``, ``s/sqrt(2 pi)``, then ``(m-1) s^2 A_(m-2)(oo)``."""
    if m == 0:
        return sp.S.Half
    if m == 1:
        return sigma / sp.sqrt(2 * sp.pi)
    return (m - 1) * sigma**2 * gaussian_tail(m - 2)


# --- logistic ---------------------------------------------------------------------------------


def _li(n: int, z: sp.Expr) -> sp.Expr:
    """``Li_n(-exp(z))`` with the low orders in closed form."""
    if n == 0:
        return -sigmoid(z)
    if n == 1:
        return -softplus(z)
    return sp.polylog(n, -sp.exp(z))


def _li_at_minus_one(n: int) -> sp.Expr:
    """``Li_n(-1) = -eta(n)``."""
    return -sp.log(2) if n == 1 else -sp.dirichlet_eta(n)


@cache
def logistic_moment(m: int) -> sp.Expr:
    """``A_m`` of ``K = t e^(tu)/(1+e^(tu))^2`` through polylogarithms.

    ``A_m = u^m sigmoid(tu) - [m=0]/2 - m B_(m-1)`` with ``B_k = ∫_0^u s^k sigmoid(ts) ds``.
    """
    if m == 0:
        return sigmoid(t * u) - sp.S.Half
    k = m - 1
    # ∫ s^k Li_0(-e^{ts}) ds = sum_j (-1)^j k!/(k-j)! s^(k-j) Li_(1+j)(-e^{ts}) / t^(j+1)
    antider = sum(
        (-1) ** j
        * sp.factorial(k)
        / sp.factorial(k - j)
        * u ** (k - j)
        * _li(1 + j, t * u)
        / t ** (j + 1)
        for j in range(k + 1)
    )
    at_zero = (-1) ** k * sp.factorial(k) * _li_at_minus_one(k + 1) / t ** (k + 1)
    b_k = -(antider - at_zero)
    return u**m * sigmoid(t * u) - m * b_k


def logistic_tail(m: int) -> sp.Expr:
    """``A_m(oo) = m! eta(m) / t^m`` (``1/2`` for m = 0)."""
    if m == 0:
        return sp.S.Half
    eta = sp.log(2) if m == 1 else sp.dirichlet_eta(m)
    return sp.factorial(m) * eta / t**m


# --- Cauchy -----------------------------------------------------------------------------------


@cache
def cauchy_moment(m: int) -> sp.Expr:
    """``A_m`` of ``a/(pi (u^2+a^2))`` (finite for every finite u; tails diverge for m >= 1)."""
    if m == 0:
        return sp.atan(u / a) / sp.pi
    if m == 1:
        return a * sp.log(1 + u**2 / a**2) / (2 * sp.pi)
    return a * u ** (m - 1) / (sp.pi * (m - 1)) - a**2 * cauchy_moment(m - 2)


def cauchy_tail(m: int) -> sp.Expr:
    """``A_0(oo) = 1/2``; higher tails diverge."""
    return sp.S.Half if m == 0 else sp.oo


# --- Student t with 2 degrees of freedom ------------------------------------------------------


@cache
def _t2_j(k: int) -> sp.Expr:
    """``J_k = ∫_0^u s^k / sqrt(s^2 + b) ds``."""
    root = sp.sqrt(u**2 + b)
    if k == 0:
        return sp.asinh(u / sp.sqrt(b))
    if k == 1:
        return root - sp.sqrt(b)
    return u ** (k - 1) * root / k - sp.Rational(k - 1, k) * b * _t2_j(k - 2)


@cache
def student_t2_moment(m: int) -> sp.Expr:
    """``A_m`` of ``b / (2 (u^2+b)^(3/2))``."""
    if m == 0:
        return u / (2 * sp.sqrt(u**2 + b))
    if m == 1:
        return (sp.sqrt(b) - b / sp.sqrt(u**2 + b)) / 2
    return b * _t2_j(m - 2) / 2 - b * student_t2_moment(m - 2)


def student_t2_tail(m: int) -> sp.Expr:
    """``A_0(oo) = 1/2``, ``A_1(oo) = sqrt(b)/2``; the variance diverges."""
    return {0: sp.S.Half, 1: sp.sqrt(b) / 2}.get(m, sp.oo)


# --- Laplace ----------------------------------------------------------------------------------


@cache
def laplace_moment(m: int) -> sp.Expr:
    """``A_m`` of ``exp(-|u|/b)/(2b)``: ``(b^m m!/2)(1 - e^(-u/b) sum_k (u/b)^k/k!)`` for u >= 0."""

    def right(v):
        series = sum((v / b) ** k / sp.factorial(k) for k in range(m + 1))
        return b**m * sp.factorial(m) / 2 * (1 - sp.exp(-v / b) * series)

    return sp.Piecewise((right(u), u >= 0), ((-1) ** (m + 1) * right(-u), True))


def laplace_tail(m: int) -> sp.Expr:
    """``A_m(oo) = b^m m! / 2``."""
    return b**m * sp.factorial(m) / 2


# --- compact polynomial kernels ---------------------------------------------------------------

COMPACT_PIECES = {
    "uniform": ((-h, h, 1 / (2 * h)),),
    "triangular": ((-h, sp.S.Zero, (1 + u / h) / h), (sp.S.Zero, h, (1 - u / h) / h)),
    "epanechnikov": ((-h, h, 3 * (1 - u**2 / h**2) / (4 * h)),),
}
"""Polynomial pieces ``(lo, hi, K)`` of the compactly supported kernels (support [-h, h])."""


def _compact_lower(name: str, m: int) -> list[tuple[sp.Expr, sp.Expr]]:
    """``[(hi_i, G_i(u))]``: ``G(u) = ∫_{-h}^u s^m K`` on each piece, by polynomial algebra."""
    out, base = [], sp.S.Zero
    for lo, hi, poly in COMPACT_PIECES[name]:
        anti = sp.Poly(u**m * poly, u).integrate().as_expr()
        piece = sp.expand(base + anti - anti.subs(u, lo))
        out.append((hi, piece))
        base = piece.subs(u, hi)
    return out


def compact_moment(name: str):
    """``m -> A_m`` for the compact kernel ``name`` (Piecewise in u, anchored at 0)."""

    @cache
    def rule(m: int) -> sp.Expr:
        lower = _compact_lower(name, m)
        g0 = _value_at(lower, sp.S.Zero)
        branches = [(-g0, u < -h)]
        branches += [(sp.expand(g - g0), u < hi) for hi, g in lower[:-1]]
        branches.append((sp.expand(lower[-1][1] - g0), u < h))
        branches.append((sp.expand(lower[-1][1].subs(u, h) - g0), True))
        return sp.Piecewise(*branches)

    return rule


def compact_tail(name: str):
    """``m -> A_m(oo)`` for the compact kernel ``name``."""

    def rule(m: int) -> sp.Expr:
        lower = _compact_lower(name, m)
        return sp.expand(lower[-1][1].subs(u, h) - _value_at(lower, sp.S.Zero))

    return rule


def _value_at(lower, point) -> sp.Expr:
    for hi, g in lower:
        if sp.S(point) <= hi.subs(h, 1):  # every compact piece boundary is a multiple of h
            return g.subs(u, point)
    return lower[-1][1].subs(u, point)


# --- density-only kernels ---------------------------------------------------------------------


@cache
def derive_partial_moment(density: sp.Expr, var: sp.Symbol, m: int) -> sp.Expr:
    """``∫_0^u s^m K(s) ds`` by SymPy (one-off, cached)."""
    s = sp.Dummy("s", real=True)
    result = sp.integrate(s**m * density.subs(var, s), (s, 0, var), conds="none")
    return sp.simplify(result)


@cache
def derive_tail(density: sp.Expr, var: sp.Symbol, m: int, side: int) -> sp.Expr:
    """``A_m(±oo)`` by SymPy; ``oo`` when the integral diverges or cannot be evaluated."""
    s = sp.Dummy("s", real=True)
    bound = sp.oo if side > 0 else -sp.oo
    result = sp.integrate(s**m * density.subs(var, s), (s, 0, bound), conds="none")
    if result.has(sp.Integral) or not result.is_finite:
        return sp.oo
    return sp.simplify(result)
