"""Independent references for the convolution tests: mpmath quadrature at 40 digits.

The target and the kernel are evaluated by lambdify (mpmath), never through the engine; the
integral ``∫ f(x - u) K(u) du`` is split at every kink of the target (``x - c``) and of the
kernel, and restricted to the kernel's support.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from symsmooth.functions import MPMATH_MODULE

DPS = 40
TOL = mpmath.mpf(10) ** -25


def _heaviside(z, h0=0.5):
    return mpmath.mpf(1) if z > 0 else (mpmath.mpf(0) if z < 0 else mpmath.mpf(h0))


MODULES = [
    {
        "Heaviside": _heaviside,
        "sign": mpmath.sign,
        "Max": max,
        "Min": min,
        "floor": mpmath.floor,
        "ceiling": mpmath.ceil,
        "polylog": mpmath.polylog,
        "dirichlet_eta": lambda s: mpmath.altzeta(s),
        **MPMATH_MODULE,
    },
    "mpmath",
]


_TRUNCATE = {
    "gaussian": 16 * sp.Symbol("sigma", positive=True),  # exp(-128) ~ 1e-56
    "logistic": 90 / sp.Symbol("t", positive=True),  # exp(-90) ~ 1e-39
    "laplace": 90 * sp.Symbol("b", positive=True),
}
"""Where the quadrature may stop for fast-decaying kernels (integrand below 1e-30)."""


def numeric(expr: sp.Expr, *symbols):
    """``expr`` as an mpmath function of ``symbols``."""
    return sp.lambdify(symbols, expr, modules=MODULES)


def quad_convolution(target, x, kernel, width_value, at, target_kinks=()):
    """``∫ f(at - u) K(u) du`` by tanh-sinh quadrature at :data:`DPS` digits."""
    with mpmath.workdps(DPS):
        f = numeric(target, x)
        density = kernel.density.subs(kernel.width, width_value)
        k = numeric(density, sp.Symbol("u", real=True))
        at = mpmath.mpf(at)
        lo, hi = (sp.N(e.subs(kernel.width, width_value), DPS) for e in kernel.support)
        cut = _TRUNCATE.get(kernel.name)
        if cut is not None:  # tails below 1e-30 of the integrand: a finite interval is faster
            span = mpmath.mpf(str(sp.N(cut.subs(kernel.width, width_value), DPS)))
            lo, hi = -span, span
        lo = -mpmath.inf if lo == -sp.oo else mpmath.mpf(str(lo))
        hi = mpmath.inf if hi == sp.oo else mpmath.mpf(str(hi))
        cuts = {at - mpmath.mpf(c) for c in target_kinks}
        cuts |= {
            mpmath.mpf(str(sp.N(c.subs(kernel.width, width_value), DPS))) for c in kernel.kinks
        }
        cuts.add(mpmath.mpf(0))
        inner = sorted(c for c in cuts if lo < c < hi)
        points = [lo, *inner, hi]
        return mpmath.quad(lambda u: f(at - u) * k(u), points, maxdegree=8)


def value(expr, x, kernel, width_value, at):
    """The engine's closed form at ``x = at`` (40 digits)."""
    with mpmath.workdps(DPS):
        g = numeric(expr.subs(kernel.width, width_value).doit(), x)
        return g(mpmath.mpf(at))


def close(a, b, tol=TOL) -> bool:
    return abs(a - b) <= tol * max(1, abs(b))


def sample_points(width_value, extra=()):
    """>= 10 points from -50 to 50 widths, with the kinks."""
    w = mpmath.mpf(str(sp.N(width_value, DPS)))
    grid = [-50, -7, -2, -0.5, 0, 0.3, 1, 2.5, 10, 50]
    return [w * mpmath.mpf(str(g)) for g in grid] + [mpmath.mpf(c) for c in extra]


def test_reference_quadrature_reproduces_a_textbook_integral():
    """∫ max(x-u, 0) N(u; 0, 1) du = x Phi(x) + phi(x) (standard normal), at 40 digits."""
    from symsmooth.convolution import kernels

    x = sp.Symbol("x", real=True)
    with mpmath.workdps(DPS):
        for at in (-3, 0, mpmath.mpf("1.7")):
            got = quad_convolution(sp.Max(x, 0), x, kernels.get("gaussian"), 1, at, (0,))
            want = at * mpmath.ncdf(at) + mpmath.npdf(at)
            assert close(got, want)
