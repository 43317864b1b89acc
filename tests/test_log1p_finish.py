"""Regression tests of issue 12 item 2: log-sum-exp finishes as ``M + log1p(non-max terms)``.

A reduction's ``log S`` with ``S = e^M s`` is taken from the compensated sum carried as a
double-double ``s + l`` (``_logdd``: ``a + e ln 2 + log1p(f)``), so ``log(1 + r)`` keeps a
non-maximal mass ``r`` below an ulp of 1, ties cancel the shift exactly, and a value
``c (L + log s)`` adds its linear part first: cross-entropy's ``M - k x_t`` is formed from the
same rounded ``k x`` as the maximum, so it is never negative.  References: the textbook
formulas in Arb ball arithmetic (python-flint).
"""

import math

import flint
import numpy as np
import pytest
from test_absent_terms import _mp, zlpr_ref

from symsmooth.codegen.render import load_module
from symsmooth.runtime.scalar import _logdd
from symsmooth.verification.ulp import ulp_error

PREC = 1200


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _lse(x, k=1.0):
    k = flint.arb(k)
    return sum((k * flint.arb(float(v))).exp() for v in x).log() / k


def _rows():
    """Ties (c maxima at an offset M), gaps up to 50, and M = 0 (results near log c)."""
    rng = np.random.default_rng(12)
    rows = [np.array([0.0, -40.0]), np.array([0.0, 0.0, -3.0]), np.array([0.0, 0.0])]
    for m in range(120):
        n = int(rng.integers(2, 7))
        c = int(rng.integers(1, n + 1))
        top = 0.0 if m % 2 else float(rng.uniform(-3, 3))
        rows.append(np.concatenate([np.full(c, top), top - rng.uniform(0.1, 50, n - c)]))
    return rows


def naive_lse(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@pytest.fixture(scope="module")
def lse_max():
    return load_module("logsumexp_max", "generated")


def test_logdd_against_arb():
    rng = np.random.default_rng(5)
    for _ in range(2000):
        # a = 0, or a >= 0 with s >= 1 (no cancellation between a and log s)
        a = 0.0 if rng.random() < 0.5 else float(abs(10 * rng.normal()))
        s = float(2.0 ** rng.uniform(-60 if a == 0 else 0, 60))
        lo = float(rng.uniform(-0.5, 0.5) * math.ulp(s))
        exact = flint.arb(a) + (flint.arb(s) + flint.arb(lo)).log()
        if exact == 0:
            continue
        assert ulp_error(_logdd(a, s, lo), _mp(exact)) <= 2.0, (a, s, lo)  # two roundings
    assert _logdd(0.0, 1.0, 1e-20) == 1e-20  # log(1.0) would be 0
    assert _logdd(1.0, 0.0, 0.0) == -math.inf


def test_logsumexp_finishes_with_log1p(lse_max):
    worst = naive = 0.0
    for x in _rows():
        exact = _mp(_lse(x))
        worst = max(worst, ulp_error(lse_max.logsumexp_max(x[None, :], 1.0)[0], exact))
        naive = max(naive, ulp_error(naive_lse(x), exact))
    assert worst <= 4.0  # the reductions' target; measured 2.6 (a 5-way tie at M = -1.56)
    assert naive > 1e3  # [0, -40]: log(1 + 4.2e-18) = 0


@pytest.mark.parametrize(
    "name, sign", [("logsumexp_min", -1), ("kmeans_smoothed_min", -1), ("logsumexp_max", 1)]
)
def test_lse_family_ties_and_near_zero(name, sign):
    fn = getattr(load_module(name, "generated"), name)
    for x in _rows():
        exact = _mp(sign * _lse(x))  # min(sign x) = -LSE(-sign x)
        assert ulp_error(fn((sign * x)[None, :], 1.0)[0], exact) <= 4.0, x


def test_imle_ties_and_near_zero():
    fn = load_module("imle_nearest_neighbour", "generated").imle_nearest_neighbour
    sigma = 0.5  # -2 sigma^2 log sum exp(-d / (2 sigma^2)) = -LSE(-2 d)/2
    for x in _rows():
        d = -x / 2
        exact = _mp(-_lse(x) / 2)
        assert ulp_error(fn(d[None, :], sigma)[0], exact) <= 4.0, x


def test_zlpr_tiny_loss_of_a_correct_row():
    s, t, k = [8.0, -2.0], [1.0, 0.0], 100.0  # exact 1.38e-89: log(1 + e^{-200})/100
    value = load_module("zlpr", "generated").zlpr([s], [t], k)[0]
    assert ulp_error(value, _mp(zlpr_ref(s, t, k)[0])) <= 2


def _ce(x, k, t):
    return _lse(x, k) - flint.arb(float(x[t - 1]))


def test_cross_entropy_of_a_confident_row():
    ce = load_module("cross_entropy_lse", "generated").cross_entropy_lse
    for x, k, t in [([10.0, -30.0], 1.0, 1), ([3.0, -4.0, 1.0], 7.5, 1), ([0.5, 30.0], 3.0, 2)]:
        exact = _mp(_ce(x, k, t))
        assert ulp_error(ce([x], k, t)[0], exact) <= 2, (x, k, t)


def test_cross_entropy_never_negative():
    ce = load_module("cross_entropy_lse", "generated").cross_entropy_lse
    rng = np.random.default_rng(7)
    x = rng.normal(size=4000) * 10.0 ** rng.uniform(-3, 300, 4000)
    k = rng.choice([0.1, 0.37, 0.9, 3.0, 7.5, 10.0, 100.0], 4000)
    naive = (k * x) * (1 / k) - x  # M/k - x_t of a one-entry row (the old form)
    assert (naive < 0).any()  # e.g. x = -5.27e-5, k = 0.1: -6.8e-21
    for xv, kv in zip(x[:400], k[:400], strict=True):
        assert ce([[xv]], kv, 1)[0] == 0.0  # exact: log(e^{kx}) / k - x = 0
    two = ce(np.stack([x, x - 1.0], axis=1), k, 1)
    assert (two >= 0).all()
