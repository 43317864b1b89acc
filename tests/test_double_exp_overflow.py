"""Regression test of issue 12 item 2: max_pair_double_exp past k max(x, y) = 709.78.

The rule ``double_exp`` turns ``log(logsumexp(exp(kx), exp(ky)))`` into ``loglse_exp`` (log
space), so the value stays finite (about max) and the gradient is no NaN where ``exp(kx)``
overflows; the rule's own two-way test (naive inf, stable within a few ulp) is
``tests/test_stabilize.py::test_rule_is_useful[double_exp]``.  References: the textbook formula
``log(log(e^(e^(kx)) + e^(e^(ky))))/k`` and its partials in Arb (python-flint).
"""

import flint
import numpy as np
import pytest
from test_absent_terms import _mp

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 2000  # e^(kx) ~ 2**1154 at kx = 800: A - B keeps 800 bits


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


FAR = 10**5  # e^-FAR is far below the smallest double: such a term is 0 to any precision


def _log1pexp(t):
    return flint.arb(0) if t < -FAR else (1 + t.exp()).log()


def _sigmoid(t):
    if t < -FAR:
        return flint.arb(0)
    return flint.arb(1) if t > FAR else 1 / (1 + (-t).exp())


def _ref(x, y, k):
    """f = log(L)/k, L = log(e^A + e^B) = A + log(1 + e^(B - A)), A = e^(kx), B = e^(ky) (Arb
    cannot hold e^(e^800) itself), and df/dx = e^(kx) sigmoid(A - B) / L; a term below e^-FAR
    is taken as 0 (it changes no double)."""
    x, y, k = flint.arb(x), flint.arb(y), flint.arb(k)
    a, b = (k * x).exp(), (k * y).exp()
    big, small = (a, b) if a > b else (b, a)
    lse = big + _log1pexp(small - big)
    return lse.log() / k, a * _sigmoid(a - b) / lse, b * _sigmoid(b - a) / lse


POINTS = [
    (800.0, 700.0, 1.0),  # value inf, gradient NaN before
    (710.0, 710.0, 1.0),
    (8.0, 7.9, 100.0),
    (1.0, -3.0, 1000.0),
    (0.5, 0.25, 3.0),
    (2.0, 1.999, 1.0),
    (0.3, 0.1, 0.37),
]


@pytest.mark.parametrize("x, y, k", POINTS)
def test_double_exp_value_and_gradient(x, y, k):
    mod = load_module("max_pair_double_exp", "generated")
    f, gx, gy = (_mp(v) for v in _ref(x, y, k))
    assert ulp_error(mod.max_pair_double_exp(x, y, k), f) <= 2
    got = mod.max_pair_double_exp_grad(x, y, k)
    assert np.isfinite(got).all()
    for g, want in zip(got, (gx, gy), strict=True):
        # the weights are exp(kx - F k): the rounding of k x and k F costs ~|kx| eps (item 1)
        assert ulp_error(g, want) <= 4 + abs(k * x) / 2, (x, y, k, g, want)
