"""Pivoted reduction gradients (symsmooth.codegen.pivot) against mpmath at 800 digits.

The references are the closed forms of the math, independent of the normal form:
soft argmax ``d/dx_l = k p_l (l - sum_i i p_i)``, softmax VJP ``k p_l (G_l - sum_i G_i p_i)``.
Rows with a wide spread make one element dominate (``p_m ~ 1``): there the chain rule through
rounded sums had no correct digit (1e15 ulp) before the pivoted form.
"""

import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module
from symsmooth.verify.ulp import ulp_errors

F64 = np.dtype(np.float64)


def _softmax(row, k):
    with mpmath.workdps(800):
        v = [k * mpmath.mpf(float(a)) for a in row]
        top = max(v)
        e = [mpmath.exp(a - top) for a in v]
        s = mpmath.fsum(e)
        return [a / s for a in e]


def _soft_argmax_grad(row, k):
    with mpmath.workdps(800):
        p = _softmax(row, k)
        mean = mpmath.fsum((i + 1) * q for i, q in enumerate(p))
        return [k * q * ((i + 1) - mean) for i, q in enumerate(p)]


def _softmax_vjp(row, cot, k):
    with mpmath.workdps(800):
        p = _softmax(row, k)
        mean = mpmath.fsum(mpmath.mpf(float(c)) * q for c, q in zip(cot, p, strict=True))
        return [k * q * (mpmath.mpf(float(c)) - mean) for c, q in zip(cot, p, strict=True)]


def _rows(seed=3):
    rng = np.random.default_rng(seed)
    wide = rng.standard_normal((6, 16)) * 300.0  # one entry dominates: p_m = 1 - tiny
    gap = np.array([[0.0, 40.0, 1.0, 3.0, -2.0], [5.0, 5.0 - 1e-9, -700.0, 4.0, 0.0]])
    return [wide, gap]


@pytest.fixture(scope="module")
def soft_argmax():
    return load_module("soft_argmax", "generated")


@pytest.fixture(scope="module")
def softmax():
    return load_module("softmax_onehot_argmax", "generated")


def test_soft_argmax_dominant_entry_keeps_digits(soft_argmax):
    for x in _rows():
        grad = soft_argmax.soft_argmax_grad(x, 1.0)
        for r in range(x.shape[0]):
            ref = _soft_argmax_grad(x[r], 1)
            err = ulp_errors(grad[r], ref, F64)
            m = int(np.argmax(x[r]))
            assert err[m] <= 4.0, (r, m, grad[r][m], ref[m])
            # non-dominant entries: (l - E) may still cancel when E is close to l (measured 12)
            assert err.max() <= 16.0, (r, err.max())


def test_softmax_vjp_wide_rows(softmax):
    rng = np.random.default_rng(5)
    for x in _rows():
        cot = rng.standard_normal(x.shape)
        for k in (1.0, 0.5):
            vjp = softmax.softmax_onehot_argmax_grad(x, k, cotangent=cot)
            for r in range(x.shape[0]):
                ref = _softmax_vjp(x[r], cot[r], k)
                assert ulp_errors(vjp[r], ref, F64).max() <= 2.0


def test_soft_argmax_value_known(soft_argmax):
    # [A2, item 3]: soft argmax of [2, 1, 4, 5, 3] = 3.733640 (k = 1), 3.999955 (k = 10)
    x = np.array([2.0, 1.0, 4.0, 5.0, 3.0])
    assert soft_argmax.soft_argmax(x, 1.0) == pytest.approx(3.733640, abs=1e-6)
    assert soft_argmax.soft_argmax(x, 10.0) == pytest.approx(3.999955, abs=1e-6)


def test_edge_rows_fall_back(soft_argmax, softmax):
    # rows without a finite pivot keep the documented edge semantics (0 gradients, NaN rows)
    x = np.array([[-np.inf] * 4, [np.nan, 1.0, 2.0, 3.0], [np.inf, 0.0, 1.0, 2.0]])
    g = soft_argmax.soft_argmax_grad(x, 1.0)
    assert np.all(g[0] == 0.0)
    assert np.all(np.isnan(g[1]))
    v = softmax.softmax_onehot_argmax_grad(x[1:2], 1.0)
    assert np.all(np.isnan(v))
