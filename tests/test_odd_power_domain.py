"""Regression tests of issue 12 item 2: max_pair_odd_power's domain and antiparallel pairs.

Decision: ``k`` must be a nonnegative integer (``2k + 1`` odd), as the record's domain says;
the kernel *refuses* any other ``k`` with NaN (value and gradients) instead of truncating it
(``int(2k + 1)`` gave (1, 1, 0.37) = 1.7828, exact (1 + 1)^(1/1.74) = 1.4894, a silently wrong
number).  At ``x = -y(1 + d)`` the root starts from the double-double ``s + se``
(3.7, -3.7000000000000006, k = 1: 1e12 ulp before).  References: Arb (python-flint).
"""

import flint
import numpy as np
import pytest
from test_absent_terms import _mp

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 2000


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


@pytest.fixture(scope="module")
def odd():
    return load_module("max_pair_odd_power", "generated")


def _ref(x, y, k):
    """(f, df/dx, df/dy) with f = real_root(x^n + y^n, n), n = 2k + 1: df/dx = (x/f)^(n-1)."""
    n = 2 * k + 1
    s = flint.arb(x) ** n + flint.arb(y) ** n
    f = abs(s) ** (flint.arb(1) / n) * (1 if s > 0 else -1)
    return f, (flint.arb(x) / f) ** (n - 1), (flint.arb(y) / f) ** (n - 1)


def _antiparallel():
    for y in (1.0, 3.7, 0.3, 123.456, 1e-5):
        for steps in (1, -1, 2, 7, -30):
            x = -y
            for _ in range(abs(steps)):
                x = np.nextafter(x, -np.inf if steps > 0 else 0.0)
            for k in (0, 1, 2, 3, 7):
                yield float(x), y, k


def test_antiparallel_pairs_to_the_last_bit(odd):
    worst = 0.0
    for x, y, k in _antiparallel():
        f, gx, gy = (_mp(v) for v in _ref(x, y, k))
        worst = max(worst, ulp_error(odd.max_pair_odd_power(x, y, float(k)), f))
        for got, want in zip(odd.max_pair_odd_power_grad(x, y, float(k)), (gx, gy), strict=True):
            assert ulp_error(got, want) <= 4, (x, y, k, got, want)
    assert worst <= 1.0, worst


def test_naive_root_fails_at_antiparallel_pair(odd):
    x, y = 3.7, -3.7000000000000006
    exact = _mp(_ref(x, y, 1)[0])
    assert ulp_error(np.cbrt(x**3 + y**3), exact) > 1e6
    assert ulp_error(odd.max_pair_odd_power(x, y, 1.0), exact) <= 1


@pytest.mark.parametrize("k", [0.37, 1.5, -1.0, np.inf, np.nan])
def test_non_integer_k_is_refused(odd, k):
    assert np.isnan(odd.max_pair_odd_power(1.0, 1.0, k))
    assert all(np.isnan(g) for g in odd.max_pair_odd_power_grad(1.0, 1.0, k))
