"""Pivoted reduction gradients (symsmooth.codegen.pivot) against mpmath at 800 digits.

The references are the closed forms of the math, independent of the normal form:
soft argmax ``d/dx_l = k p_l (l - sum_i i p_i)``, softmax VJP ``k p_l (G_l - sum_i G_i p_i)``.
Rows with a wide spread make one element dominate (``p_m ~ 1``): there the chain rule through
rounded sums had no correct digit (1e15 ulp) before the pivoted form.  At a non-dominant entry
whose position (or cotangent) is near the row's weighted mean the numerator cancels; with the
weights rounded once (``exp`` to 0.5 ulp) that cost up to 129 ulp, so the pivoted sums now
take ``exp`` with its error term (``_wexp2``) and double-double sums: <= 4 ulp everywhere.
"""

import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module
from symsmooth.verification.grids import row_grid
from symsmooth.verification.ulp import ulp_errors

F64 = np.dtype(np.float64)


def _softmax(row, k, dps=800):
    with mpmath.workdps(dps):
        v = [k * mpmath.mpf(float(a)) for a in row]
        top = max(v)
        e = [mpmath.exp(a - top) for a in v]
        s = mpmath.fsum(e)
        return [a / s for a in e]


def _soft_argmax_grad(row, k, dps=800):
    with mpmath.workdps(dps):
        p = _softmax(row, k, dps)
        mean = mpmath.fsum((i + 1) * q for i, q in enumerate(p))
        return [k * q * ((i + 1) - mean) for i, q in enumerate(p)]


def _softmax_vjp(row, cot, k, dps=800):
    with mpmath.workdps(dps):
        p = _softmax(row, k, dps)
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
            # non-dominant entries: (l - E) cancels when E is close to l (12 ulp before the
            # double-double sums; 1.3 now)
            assert err.max() <= 4.0, (r, err.max())


def test_softmax_vjp_wide_rows(softmax):
    rng = np.random.default_rng(5)
    for x in _rows():
        cot = rng.standard_normal(x.shape)
        for k in (1.0, 0.5):
            vjp = softmax.softmax_onehot_argmax_grad(x, k, cotangent=cot)
            for r in range(x.shape[0]):
                ref = _softmax_vjp(x[r], cot[r], k)
                # the gradient is E_l * k * u / s0^2: four roundings (measured 2.24 at k = 0.5)
                assert ulp_errors(vjp[r], ref, F64).max() <= 4.0


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


def _condition(row, weights, l, k=1.0):
    """``sum_i |w_l - w_i| p_i / |w_l - sum_i w_i p_i|``: how much the rounding of the weights
    ``p_i`` (relative eps each) is amplified in the numerator at entry ``l``."""
    with mpmath.workdps(60):
        p = _softmax(row, k, 60)
        w = [mpmath.mpf(float(a)) for a in weights]
        mean = mpmath.fsum(a * q for a, q in zip(w, p, strict=True))
        spread = mpmath.fsum(abs(w[l] - a) * q for a, q in zip(w, p, strict=True))
        return float(spread / abs(w[l] - mean))


def test_cancelling_entries_within_4_ulp(soft_argmax, softmax):
    """The verification's moderate rows (and cotangents), every entry: at an entry near the
    weighted mean the numerator cancels (condition 605: 129 ulp before _wexp2), yet each
    gradient is within 4 ulp."""
    x = row_grid(1, np.float64, long_n=16)["moderate"][0]
    cot = np.random.default_rng(7).standard_normal(x.shape)
    g = soft_argmax.soft_argmax_grad(x, 1.0)
    v = softmax.softmax_onehot_argmax_grad(x, 1.0, cotangent=cot)
    worst = 0.0
    for r in range(x.shape[0]):
        ea = ulp_errors(g[r], _soft_argmax_grad(x[r], 1, 60), F64)
        ev = ulp_errors(v[r], _softmax_vjp(x[r], cot[r], 1, 60), F64)
        assert ea.max() <= 4.0 and ev.max() <= 4.0, (r, ea.max(), ev.max())
        worst = max(worst, *(_condition(x[r], cot[r], j) for j in range(x.shape[1])))
    assert worst > 100.0  # the grid does reach the cancelling entries


def test_long_row_within_4_ulp(soft_argmax, softmax):
    """One row of 10^5 entries (scale 3, as the verification's long regime), 48 sampled
    entries plus the dominant one and the one nearest the expected index."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(100_000) * 3.0
    cot = rng.standard_normal(x.shape)
    with mpmath.workdps(40):
        p = _softmax(x, 1, 40)
        mean = mpmath.fsum((i + 1) * q for i, q in enumerate(p))
        cmean = mpmath.fsum(mpmath.mpf(float(c)) * q for c, q in zip(cot, p, strict=True))
        idx = sorted(set(rng.choice(x.size, 48, replace=False).tolist())
                     | {int(np.argmax(x)), int(mean) - 1})  # fmt: skip
        ref_a = [p[i] * ((i + 1) - mean) for i in idx]
        ref_v = [p[i] * (mpmath.mpf(float(cot[i])) - cmean) for i in idx]
    g = soft_argmax.soft_argmax_grad(x, 1.0)[idx]
    v = softmax.softmax_onehot_argmax_grad(x, 1.0, cotangent=cot)[idx]
    assert ulp_errors(g, ref_a, F64).max() <= 4.0
    assert ulp_errors(v, ref_v, F64).max() <= 4.0


def test_ties_vjp_within_1_ulp(softmax):
    # all entries equal: p = 1/n exactly, so only the cotangent mean can cancel
    rng = np.random.default_rng(4)
    x = np.full((8, 16), 0.75)
    cot = rng.standard_normal(x.shape)
    v = softmax.softmax_onehot_argmax_grad(x, 1.0, cotangent=cot)
    for r in range(x.shape[0]):
        assert ulp_errors(v[r], _softmax_vjp(x[r], cot[r], 1, 60), F64).max() <= 1.0


def test_wexp2_error_term():
    """_wexp2(h, m) = exp(h - m) as hi + lo to ~2**-64 (the weights of the pivoted sums)."""
    import math

    from symsmooth.runtime.double_double import _wexp2 as wexp2  # the function modules carry

    rng = np.random.default_rng(0)
    pairs = [(float(d), 0.0) for d in rng.uniform(-700.0, 0.0, 400)]
    pairs += [(float(d), 0.0) for d in rng.uniform(-1.0, 1.0, 200)]
    pairs += [(1000.5, 1000.25), (-300.123456789, 299.9), (0.0, 0.0)]
    with mpmath.workdps(50):
        for h, m in pairs:
            hi, lo = wexp2(h, m)
            exact = mpmath.exp(mpmath.mpf(h) - mpmath.mpf(m))
            assert abs(mpmath.mpf(hi) + mpmath.mpf(lo) - exact) <= exact * 2.0**-63, (h, m)
            assert abs(mpmath.mpf(hi) - exact) <= exact * 2.0**-52
    assert wexp2(-math.inf, -math.inf) == (0.0, 0.0) and wexp2(math.inf, math.inf) == (1.0, 0.0)
    assert wexp2(-800.0, 0.0) == (0.0, 0.0) and math.isnan(wexp2(math.nan, 0.0)[0])
