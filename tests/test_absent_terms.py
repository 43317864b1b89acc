"""Regression tests of issue 12 item 2: broken reduction kernels fixed in the normal form.

Every reference is the textbook formula in Arb ball arithmetic (python-flint, 200 bits), not
the normal form: a certified value to compare the generated kernels with, in ulp.

Rule tested here: *a term whose weight is exactly 0 is absent* from a sum of exponentials
(``symsmooth.codegen.kinds.reduction.absent_terms``): it takes no part in the running maximum
and its ``0 * exp(h - M)`` is never formed, in the value or in the gradient.
"""

import flint
import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 1200  # 1 + e^{-200} must not round to 1 in the reference


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _mp(value: flint.arb) -> mpmath.mpf:
    """The midpoint of a ball certified to 2**-60 relative, as an exact mpmath number."""
    assert value.rad() <= abs(value.mid()) * flint.arb(2) ** -60, f"loose reference {value}"
    man, exp = value.mid().man_exp()
    with mpmath.workprec(400):
        return mpmath.mpf(int(man)) * mpmath.mpf(2) ** int(exp)


def _a(v: float) -> flint.arb:
    return flint.arb(float(v))


def zlpr_ref(s, t, k):
    """(log(1 + sum (1 - t) e^{ks}) + log(1 + sum t e^{-ks}))/k and its partials in s and t."""
    s, t, k = [_a(v) for v in s], [_a(v) for v in t], _a(k)
    neg = 1 + sum((1 - ti) * (k * si).exp() for si, ti in zip(s, t, strict=True))
    pos = 1 + sum(ti * (-k * si).exp() for si, ti in zip(s, t, strict=True))
    value = (neg.log() + pos.log()) / k
    a = [(k * si).exp() / neg for si in s]
    b = [(-k * si).exp() / pos for si in s]
    gs = [(1 - ti) * ai - ti * bi for ti, ai, bi in zip(t, a, b, strict=True)]
    gt = [(bi - ai) / k for ai, bi in zip(a, b, strict=True)]
    return value, gs, gt


def naive_shifted_zlpr(s, t, k):
    """The sum with the max shift taken over every term, weight 0 or not (the old kernel)."""
    s, t = np.asarray(s, float), np.asarray(t, float)
    out = 0.0
    for w, h in (((1 - t), k * s), (t, -k * s)):
        m = max(0.0, float(np.max(h)))
        out += m + np.log(np.exp(-m) + np.sum(w * np.exp(h - m)))
    return out / k


@pytest.fixture(scope="module")
def zlpr():
    return load_module("zlpr", "generated")


@pytest.fixture(scope="module")
def zlpr_soft():
    return load_module("zlpr_soft", "generated")


CASES = [
    ([800.0, 1.0, 2.0], [1.0, 1.0, 1.0], 1.0),  # issue: -inf, exact 0.4076
    ([-800.0, 3.0], [0.0, 0.0], 1.0),
    ([1e3, -1e3, 0.5], [1.0, 0.0, 1.0], 3.0),
]


def _check(value, grads, s, t, k, value_ulp=4.0, grad_ulp=4.0):
    ref, gs, gt = zlpr_ref(s, t, k)
    assert ulp_error(value, _mp(ref)) <= value_ulp, (value, ref)
    for got, want in zip(np.concatenate(grads), gs + gt, strict=True):
        assert ulp_error(got, _mp(want)) <= grad_ulp, (got, want)


@pytest.mark.parametrize("s, t, k", CASES)
def test_zero_weight_terms_are_absent(zlpr, s, t, k):
    grads = [g[0] for g in zlpr.zlpr_grad([s], [t], k)]
    _check(zlpr.zlpr([s], [t], k)[0], grads, s, t, k)


@pytest.mark.parametrize("s, t, k", CASES)
def test_zero_weight_terms_are_absent_soft(zlpr_soft, s, t, k):
    grads = [g[0] for g in zlpr_soft.zlpr_soft_grad([s], [t], k)]
    _check(zlpr_soft.zlpr_soft([s], [t], k)[0], grads, s, t, k)


def test_naive_shift_fails_where_absent_terms_hold(zlpr):
    s, t, k = CASES[0]
    with np.errstate(all="ignore"):
        naive = naive_shifted_zlpr(s, t, k)
    exact = _mp(zlpr_ref(s, t, k)[0])
    assert naive == -np.inf and float(exact) == pytest.approx(0.4076059644443804)
    assert ulp_error(zlpr.zlpr([s], [t], k)[0], exact) <= 4


def test_no_nan_gradient_from_zero_weight_overflow(zlpr):
    # |k s| > 709.8 on the entry whose label weight (1 - t) is 0: 0 * inf before the fix
    s, t, k = [8.0, -2.0], [1.0, 0.0], 100.0
    gs, gt = zlpr.zlpr_grad([s], [t], k)
    assert np.isfinite(gs).all()
    assert gt[0, 0] == -np.inf  # exact -e^{800}/100: overflows
