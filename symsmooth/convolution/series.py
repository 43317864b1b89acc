"""Staircases (floor, ceiling, round, frac): countably many jumps, summed as a series.

``floor(y) = Σ_{n>=1} H(y - n) - Σ_{n<=0} H(n - y)``, so with ``Phi`` the kernel's CDF and
jumps at ``c_n = (n - shift)/scale`` (article 3 eq (12)-(15)):

    ``floor * K = Σ_{n>=1} Phi(x - c_n) + Σ_{n<=0} [Phi(x - c_n) - 1]``,

absolutely convergent when the kernel has a first moment.  The article's truncated form keeps
``-M <= n <= N``; its error is the two tails, bounded (``Phi`` is monotone, compare each sum
with an integral) by ``scale * max(R(x - c_N), S(x - c_(-M)))`` with ``R = ReLU * K`` and
``S(w) = E[(U - w)_+]``.  Without a first moment (Cauchy) only the symmetric principal value
exists, ``Σ_{n>=1} [Phi(x - c_n) + Phi(x - c_(1-n)) - 1]``.

Fourier form (symmetric kernels, ``floor(z) = z - 1/2 + Σ_k sin(2 pi k z)/(pi k)``):
``scale x + shift - 1/2 + Σ_k phi(2 pi k scale) sin(2 pi k z)/(pi k)`` with ``phi`` the
characteristic function; for the Cauchy kernel the sum is closed,
``atan(r sin θ / (1 - r cos θ))/pi`` with ``r = exp(-2 pi a scale)`` (catalog F3, F4, F6).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.convolution import kernels
>>> from symsmooth.convolution.pieces import Staircase
>>> x = sp.Symbol("x", real=True)
>>> s = smooth_staircase(Staircase(1, 1, 0), kernels.get("logistic"), x, terms=(1, 2))
>>> s.truncated.doit()
sigmoid(t*x) + sigmoid(t*(x - 2)) + sigmoid(t*(x - 1)) + sigmoid(t*(x + 1)) - 2
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.convolution.engine import convolve_pieces
from symsmooth.convolution.kernels import OMEGA, Kernel, U
from symsmooth.convolution.pieces import Staircase, to_pieces
from symsmooth.errors import DivergenceError

N_INDEX = sp.Symbol("n", integer=True)
K_INDEX = sp.Symbol("k", integer=True, positive=True)
DEFAULT_TERMS = (5, 10)
"""``(M, N)`` of the article's figure (t = 10, M = 5, N = 10)."""


@dataclass(frozen=True)
class SmoothStaircase:
    """Every form of one smoothed staircase (in ``var`` and the kernel's width)."""

    series: sp.Expr
    truncated: sp.Expr
    terms: tuple
    truncation_error: sp.Expr
    truncation_bound: sp.Expr | None
    fourier: sp.Expr | None
    closed: sp.Expr | None
    principal_value: bool


def smooth_staircase(
    stair: Staircase,
    kernel: Kernel,
    var: sp.Symbol,
    *,
    principal_value: bool = False,
    terms: tuple | None = None,
) -> SmoothStaircase:
    """``stair * kernel`` as a series, truncated sum, Fourier form (and closed form if any)."""
    coef, scale, shift = stair.coef, stair.scale, stair.shift
    lo_terms, hi_terms = terms or DEFAULT_TERMS
    phi = kernel.cdf()
    n = N_INDEX

    def step(index):
        return phi.subs(U, var - (index - shift) / scale)

    absolute = kernel.has_moment(1)
    if absolute:
        series = Sum2(step(n), (n, 1, sp.oo), step(n) - 1, (n, -sp.oo, 0))
        truncated = Sum2(step(n) - 1, (n, -lo_terms, 0), step(n), (n, 1, hi_terms))
        tail = Sum2(step(n), (n, hi_terms + 1, sp.oo), step(n) - 1, (n, -sp.oo, -lo_terms - 1))
        bound = _tail_bound(kernel, var, scale, shift, lo_terms, hi_terms)
    elif kernel.symmetric and principal_value:
        pair = step(n) + step(1 - n) - 1
        series = sp.Sum(pair, (n, 1, sp.oo))
        truncated = sp.Sum(pair, (n, 1, hi_terms))
        tail = sp.Sum(pair, (n, hi_terms + 1, sp.oo))
        bound = None
    else:
        raise DivergenceError(
            f"floor-type targets with the {kernel.name} kernel need its 1st moment, which it "
            "lacks: the sum of smoothed steps converges only as a symmetric principal value. "
            "Pass principal_value=True (CLI: --principal-value), or use a kernel with a mean "
            "(gaussian, logistic, laplace, uniform, triangular, epanechnikov, student_t2)"
        )
    fourier, closed = _fourier(kernel, var, scale, shift)
    return SmoothStaircase(
        coef * series,
        coef * truncated,
        (lo_terms, hi_terms),
        coef * tail,
        None if bound is None else sp.Abs(coef) * bound,
        None if fourier is None else coef * fourier,
        None if closed is None else coef * closed,
        not absolute,
    )


def Sum2(f1, lim1, f2, lim2) -> sp.Expr:
    """``Sum(f1, lim1) + Sum(f2, lim2)`` kept unevaluated (readable)."""
    return sp.Add(sp.Sum(f1, lim1), sp.Sum(f2, lim2), evaluate=False)


def _tail_bound(kernel, var, scale, shift, lo_terms, hi_terms) -> sp.Expr:
    ramp = convolve_pieces(to_pieces(sp.Max(var, 0), var), kernel).expr
    upper = convolve_pieces(to_pieces(sp.Max(-var, 0), var), kernel).expr
    right = ramp.subs(var, var - (hi_terms - shift) / scale)
    left = upper.subs(var, var - (-lo_terms - shift) / scale)
    return scale * sp.Max(right, left)


def _fourier(kernel, var, scale, shift):
    if not kernel.symmetric or kernel.charfn is None:
        return None, None
    z = scale * var + shift
    k = K_INDEX
    weight = kernel.charfn.subs(OMEGA, 2 * sp.pi * k * scale)
    periodic = sp.Sum(weight * sp.sin(2 * sp.pi * k * z) / (sp.pi * k), (k, 1, sp.oo))
    fourier = z - sp.S.Half + periodic
    closed = None
    if kernel.name == "cauchy":  # Σ r^k sin(kθ)/k = atan(r sin θ / (1 - r cos θ))
        r = sp.exp(-2 * sp.pi * kernel.width * scale)
        theta = 2 * sp.pi * z
        closed = z - sp.S.Half + sp.atan(r * sp.sin(theta) / (1 - r * sp.cos(theta))) / sp.pi
    return fourier, closed
