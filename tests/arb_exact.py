"""Certified references (ball arithmetic, python-flint) for the exact-argument kernels.

Each kernel ``f(x, p)`` of :data:`KERNELS` has its value and its ``x`` gradient written in Arb
from the textbook formula (independent of symsmooth's expressions and helpers), evaluated at
the exact double inputs with 200 bits, and raised to 400 bits when the ball is not tight to
``2**-70`` relative.  :func:`max_ulps` measures a generated module against them.
"""

from __future__ import annotations

import random

import flint
import mpmath
import numpy as np

from symsmooth.verification.ulp import ulp_error

A = flint.arb


def _sig(z):
    return 1 / (1 + (-z).exp())


def _Phi(t):
    return (-t / A(2).sqrt()).erfc() / 2


def _phi(t):
    return (-(t * t) / 2).exp() / (2 * A.pi()).sqrt()


KERNELS = {
    # name: (value(x, p), grad_x(x, p), range of the scaled argument u = p x or x / p)
    "softplus": (lambda x, k: (k * x).exp().log1p() / k, lambda x, k: _sig(k * x), "exp"),
    "swish": (
        lambda x, k: x * _sig(k * x),
        lambda x, k: _sig(k * x) + k * x * _sig(k * x) * _sig(-k * x),
        "exp",
    ),
    "soft_heaviside": (
        lambda x, k: _sig(k * x),
        lambda x, k: k * _sig(k * x) * _sig(-k * x),
        "exp",
    ),
    "soft_sign_tanh": (lambda x, k: (k * x).tanh(), lambda x, k: k / (k * x).cosh() ** 2, "tanh"),
    "soft_sign_erf": (
        lambda x, k: (k * x).erf(),
        lambda x, k: k * 2 / A.pi().sqrt() * (-((k * x) ** 2)).exp(),
        "erf",
    ),
    "gelu": (lambda x, s: x * _Phi(x / s), lambda x, s: _Phi(x / s) + x / s * _phi(x / s), "gauss"),
    "relu_gaussian": (
        lambda x, s: s * (x / s * _Phi(x / s) + _phi(x / s)),
        lambda x, s: _Phi(x / s),
        "gauss",
    ),
}
"""Kernel -> (value, x gradient, argument regime)."""

SPAN = {"exp": 745.0, "tanh": 20.0, "erf": 6.0, "gauss": 38.0}
"""Half-width of the scaled argument sampled per regime (beyond it results are 0, +-1 or x)."""

PARAMS = (0.1, 0.37, 0.9, 1.0, 3.0, 7.5, 10.0, 100.0, 1e4)
"""The parameter grid of issue #12."""


def _mp(ball) -> mpmath.mpf:
    man, exp = ball.mid().man_exp()
    with mpmath.workprec(max(int(man).bit_length(), 53) + 8):  # the midpoint exactly
        return mpmath.mpf((int(man), int(exp)))


def reference(fn, x: float, p: float) -> mpmath.mpf:
    """``fn`` at the exact doubles ``x``, ``p``, certified to 2**-70 relative (or absolute
    2**-1200 for results near 0)."""
    for prec in (200, 400, 800):
        flint.ctx.prec = prec
        try:
            ball = fn(A(x), A(p))
        finally:
            flint.ctx.prec = 53
        mid = abs(ball.mid())
        if ball.rad() <= max(mid * A(2) ** -70, A(2) ** -1200):
            return _mp(ball)
    raise AssertionError(f"reference not tight at x={x!r}, p={p!r}")


def points(regime: str, p: float, count: int, seed: int = 12) -> list[float]:
    """``count`` doubles ``x`` whose scaled argument ``p x`` (``x/p`` for the Gaussian
    kernels) spreads over the regime's span, half of them within 1/8 of it of 0."""
    rng = random.Random(seed)
    span = SPAN[regime]
    out = []
    for i in range(count):
        u = rng.uniform(-span, span) if i % 2 else rng.uniform(-span / 8, span / 8)
        out.append(u * p if regime == "gauss" else u / p)
    return out


TINY = mpmath.mpf(2) ** -1022
"""The smallest normal double: results below it are measured apart (``subnormal=True``)."""


def max_ulps(module, name: str, p: float, xs, subnormal: bool = False) -> tuple[float, float]:
    """Max ulp error of ``module``'s value and ``x`` gradient at the points ``xs`` whose exact
    result is a normal double (``subnormal=True``: at those whose result is below 2**-1022,
    where a product of a subnormal intermediate and a parameter loses the digits the
    intermediate did not have)."""
    value, grad, _ = KERNELS[name]
    xs = np.asarray(xs, dtype=np.float64)
    got_v = getattr(module, name)(xs, p)
    got_g = getattr(module, f"{name}_grad_x")(xs, p)
    worst = [0.0, 0.0]
    for x, v, g in zip(xs.tolist(), got_v.tolist(), got_g.tolist(), strict=True):
        for at, got, fn in ((0, v, value), (1, g, grad)):
            ref = reference(fn, x, p)
            if (abs(ref) < TINY) == subnormal:
                worst[at] = max(worst[at], ulp_error(got, ref))
    return worst[0], worst[1]


def ulps_at(module, name: str, x: float, p: float) -> tuple[float, float]:
    """The value's and the gradient's ulp errors at one point."""
    return max_ulps(module, name, p, [x])


__all__ = ["KERNELS", "PARAMS", "max_ulps", "points", "reference", "ulps_at"]
