"""The pair forms of the exact-arguments stage (issue #12 item 1, the pair logsumexp):
``sigmoid(a b + c d)`` and ``logsumexp(a b, a c)/a`` at the exact products.  Each helper is
checked against Arb balls where rounding ``k x`` and ``k y`` separately (the old form) misses."""

from __future__ import annotations

import flint
import pytest
from flint import arb

from symsmooth.runtime.double_double import _logsumexp2, _sigmoid2
from symsmooth.runtime.exact import _logsumexp_xd2, _sigmoid_pp
from symsmooth.verification.balls import to_mpf
from symsmooth.verification.ulp import ulp_error


@pytest.fixture(autouse=True)
def _precision():
    with flint.ctx.workprec(512):
        yield


def _sig(z: arb) -> arb:
    return 1 / (1 + (-z).exp())


# (x, y, k): the worst points of the verifier's grid for max_pair_logsumexp and its gradient
PAIRS = [
    (-711.78, -743.13, 10.0),
    (-3.757167235004361, -4.664144246945357, 10.0),
    (1000.0 + 2**-40, 1000.0, 1e4),
    (-20.5, 20.25, 0.37),
    (3.0, -2.0, 0.1),
    (-737.9984062588499, -713.5276469920075, 10.0),  # rounded products: 7976 ulp
]


@pytest.mark.parametrize("x, y, k", PAIRS)
def test_sigmoid_pair_is_exact_where_rounded_products_are_not(x, y, k):
    exact = to_mpf(_sig(arb(k) * arb(x) - arb(k) * arb(y)))
    assert ulp_error(_sigmoid_pp(x, k, -y, k), exact) <= 0.5 + 1e-3


def test_rounded_products_miss_the_sigmoid_pair():
    x, y, k = PAIRS[-1]
    exact = to_mpf(_sig(arb(k) * arb(x) - arb(k) * arb(y)))
    assert ulp_error(_sigmoid2(k * x, -k * y), exact) > 100  # 3.3e3 ulp measured


@pytest.mark.parametrize("x, y, k", PAIRS)
def test_scaled_logsumexp_pair_is_exact(x, y, k):
    a, b, c = arb(k), arb(x), arb(y)
    exact = to_mpf(((a * b).exp() + (a * c).exp()).log() / a)
    assert ulp_error(_logsumexp_xd2(k, x, y), exact) <= 0.5 + 1e-3


def test_rounded_products_and_division_miss_the_scaled_pair():
    worst = 0.0
    for x, y, k in PAIRS:
        a, b, c = arb(k), arb(x), arb(y)
        exact = to_mpf(((a * b).exp() + (a * c).exp()).log() / a)
        worst = max(worst, ulp_error(_logsumexp2(k * x, k * y) / k, exact))
    assert worst > 1.0


def test_pair_forms_at_the_edges():
    inf = float("inf")
    assert _logsumexp_xd2(2.0, -inf, 3.0) == 3.0 and _logsumexp_xd2(2.0, inf, 3.0) == inf
    assert _sigmoid_pp(1.0, inf, -1.0, 0.0) == 1.0 and _sigmoid_pp(1.0, -inf, 1.0, 0.0) == 0.0
    assert _logsumexp_xd2(1.0, -inf, -inf) == -inf
