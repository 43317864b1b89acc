"""Regression tests of issue 12 item 2: sau, smu and smu1 at alpha = 0 and small alpha.

The leaky activations are written ``alpha x + (1 - alpha) g(x)`` (the same functions), so the
stabilizer sees the ReLU part ``g`` alone and gives it the erfc/log-space forms of
relu_gaussian and GELU (``relu_gauss``, ``x Phi``); SMU-1's ``_lin_hypot`` takes its
cancellation-free form at ``alpha = 0`` too.  Before, ``(1 + alpha) x / 2 + (1 - alpha) x
erf(.)/2`` cancelled to 0 (or to 1e16 ulp) for x << 0 at alpha = 0.

References: the catalog's textbook formulas in Arb (python-flint); derivatives from Arb power
series (``arb_series``: the certified Taylor coefficient).
"""

import math

import flint
import numpy as np
import pytest
from test_absent_terms import _mp

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 3000


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


A = flint.arb


def sau(x, s, a):
    s, a = A(s), A(a)
    g = (x / (A(2).sqrt() * s)).erf()
    return (
        (1 + a) / 2 * x
        + (1 - a) / 2 * x * g
        + (1 - a) * s / (2 * A.pi()).sqrt() * (-(x * x) / (2 * s * s)).exp()
    )


def smu(x, m, a):
    m, a = A(m), A(a)
    return ((1 + a) * x + (1 - a) * x * (m * (1 - a) * x).erf()) / 2


def smu1(x, m, a):
    m, a = A(m), A(a)
    return ((1 + a) * x + (((1 - a) * x) ** 2 + m * m).sqrt()) / 2


REFS = {"sau": sau, "smu": smu, "smu1": smu1}
XS = np.concatenate([-np.geomspace(1e-3, 20, 50), np.geomspace(1e-3, 20, 10)])


def _value_and_slope(ref, x, p, a):
    """The value and derivative at x, or None where the value is below 1e-290 (the far
    tail, which would need thousands of bits to certify and underflows anyway)."""
    t = ref(flint.arb_series([A(float(x)), 1], prec=2), p, a)
    if abs(t[0]).upper() < A(10) ** -290:
        return None
    return _mp(t[0]), _mp(t[1])


def naive_sau(x, s, a):  # the old expression, term by term
    return (
        (1 + a) / 2 * x
        + (1 - a) / 2 * x * math.erf(x / (math.sqrt(2) * s))
        + (1 - a) * s / math.sqrt(2 * math.pi) * math.exp(-(x * x) / (2 * s * s))
    )


# (name, width, alpha, value ulp, gradient ulp or None: not fixed here); measured worst over
# XS after / before this change in the comments
CASES = [
    ("sau", 1.0, 0.0, 2, 2),  # value 1.7 / 9e15, gradient 1.4 / 7.9e15
    ("sau", 1.0, 0.01, 2, 2),  # 1.6 / 76, 1.2 / 7.6
    ("sau", 1.0, 0.25, 6, 2),  # 4.9 / 43 (alpha x + (1 - alpha) g cancels near the root)
    ("smu", 1.0, 0.01, 4, None),  # 2.8 / 76; gradient 59 / 357
    ("smu", 1.0, 0.25, 2, 2),  # 1.1 / 2.9, 1.7 / 2.7
    ("smu1", 1.0, 0.0, 2, None),  # 1.1 / 507; gradient 637 (unchanged)
    ("smu1", 3.0, 0.0, 2, None),  # 0.8 / 15
    ("smu1", 1.0, 0.25, 2, 2),
]


@pytest.mark.parametrize("name, p, a, vmax, gmax", CASES)
def test_leaky_alpha_edges(name, p, a, vmax, gmax):
    mod = load_module(name, "generated")
    f, grad = getattr(mod, name), getattr(mod, f"{name}_grad")
    for x in XS:
        if (pair := _value_and_slope(REFS[name], x, p, a)) is None:
            continue
        value, slope = pair
        if value != 0:
            assert ulp_error(f(x, p, a), value) <= vmax, (x, f(x, p, a), value)
        if gmax is not None:
            assert ulp_error(grad(x, p, a), slope) <= gmax, (x, grad(x, p, a), slope)


def test_smu_alpha_zero_no_cancellation():
    # the tail x Phi(sqrt2 x): within the erf argument's rounding (item 1), not 8.5e15
    f = load_module("smu", "generated").smu
    for x in XS:
        value = _mp(smu(A(float(x)), 1.0, 0.0))
        if value != 0:
            assert ulp_error(f(x, 1.0, 0.0), value) <= 2 * x * x + 4, (
                x
            )  # u^2 eps, u = sqrt2 x rounded


def test_naive_sau_fails_where_stable_holds():
    f = load_module("sau", "generated").sau
    x = -17.76114751965796
    exact = _mp(sau(A(x), 1.0, 0.0))
    assert ulp_error(naive_sau(x, 1.0, 0.0), exact) > 1e10
    assert ulp_error(f(x, 1.0, 0.0), exact) <= 2
