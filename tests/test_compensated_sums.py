"""Regression tests of issue 12 item 2: gradients of reductions without a shift (soft_f1).

Every reference is the textbook formula in Arb ball arithmetic (python-flint), not the normal
form: a certified value to compare the generated kernel with, in ulp.

Rule tested here (``symsmooth.codegen.kinds.compensated``): a weight ``t + p`` or ``t p``
keeps its rounding error in its sum's compensation, and each partial, over one denominator, is
``f * sum_k c_k (s_k + sl_k)`` formed in double-double.  On a row of one entry the label
gradient is exactly ``2 p^2 / (t + p)^2``; the chain rule ``D0 + D1 p`` from the rounded sums
gives 0 or noise there (5.6e15 ulp at ``z = -41.76``).
"""

import flint
import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 2500  # p B - A ~ p^2 ~ 1e-608 at z = -700: the balls must see it


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _mp(value: flint.arb) -> mpmath.mpf:
    """The midpoint of a ball certified to 2**-60 relative, as an exact mpmath number."""
    if value == 0:
        return mpmath.mpf(0)
    assert value.rad() <= abs(value.mid()) * flint.arb(2) ** -60, f"loose reference {value}"
    man, exp = value.mid().man_exp()
    with mpmath.workprec(PREC):
        return mpmath.mpf(int(man)) * mpmath.mpf(2) ** int(exp)


def f1_ref(z, t, k):
    """``2 sum t p / sum (t + p)``, ``p = sigmoid(k z)``, and its partials in z and t."""
    z, t, k = [flint.arb(float(v)) for v in z], [flint.arb(float(v)) for v in t], flint.arb(k)
    p = [1 / (1 + (-k * v).exp()) for v in z]
    a = sum(ti * pi for ti, pi in zip(t, p, strict=True))
    b = sum(t) + sum(p)
    gz = [2 * k * pi * (1 - pi) * (ti * b - a) / b**2 for ti, pi in zip(t, p, strict=True)]
    gt = [2 * (pi * b - a) / b**2 for pi in p]
    return 2 * a / b, gz, gt


def naive_grad_t(z, t, k):
    """The chain rule from the rounded sums: ``-2 A / B^2 + 2 p_l / B`` (the old kernel)."""
    p = 1 / (1 + np.exp(-k * np.asarray(z, float)))
    a, b = float(np.sum(np.asarray(t) * p)), float(np.sum(np.asarray(t) + p))
    return -2 * a / b**2 + 2 * p / b


@pytest.fixture(scope="module")
def f1():
    return load_module("soft_f1", "generated")


LENGTH_1 = [
    (-41.76305621435533, 0.755221576661414, 1.0),  # the verifier's worst row (5.6e15 ulp)
    (-41.76305621435533, 1.0, 1.0),
    (-30.0, 0.25, 1.0),
    (-3.5, 0.5, 10.0),
    (2.0, 1.0, 1.0),
    (-700.0, 1.0, 1.0),  # p = e^-700: the label gradient 2 p^2 underflows to 0
]


@pytest.mark.parametrize("z, t, k", LENGTH_1)
def test_rows_of_one_entry(f1, z, t, k):
    value, gz, gt = f1_ref([z], [t], k)
    zr, tr = np.array([[z]]), np.array([[t]])
    assert ulp_error(f1.soft_f1(zr, tr, k)[0], _mp(value)) <= 4
    got_z, got_t = f1.soft_f1_grad(zr, tr, k)
    assert ulp_error(got_z[0, 0], _mp(gz[0])) <= 4, (got_z, gz)
    assert ulp_error(got_t[0, 0], _mp(gt[0])) <= 4, (got_t, gt)


def test_naive_chain_rule_fails_where_the_compensated_form_holds(f1):
    z, t, k = LENGTH_1[0]
    exact = _mp(f1_ref([z], [t], k)[2][0])
    assert float(exact) == pytest.approx(1.861879175604471e-36, rel=1e-15)
    assert ulp_error(naive_grad_t([z], [t], k)[0], exact) > 1e12
    assert ulp_error(f1.soft_f1_grad([[z]], [[t]], k)[1][0, 0], exact) <= 4


def test_float32_rows_of_one_entry(f1):
    z, t = np.float32(-41.76306), np.float32(0.7552216)
    _, _, gt = f1_ref([float(z)], [float(t)], 1.0)
    got = f1.soft_f1_grad(np.array([[z]]), np.array([[t]]), 1.0)[1]
    assert got.dtype == np.float32
    assert got[0, 0] == np.float32(float(gt[0].mid()))  # was 1.04e7 float32 ulp


@pytest.mark.parametrize("scale", [1e-300, 1e-3, 30.0])
def test_rows_of_tiny_and_tail_scores(f1, scale):
    # tiny scores were 382 ulp in grad_z (the cancellation t_l B - A from rounded sums)
    rng = np.random.default_rng(7)
    z = rng.standard_normal(12) * scale - (35.0 if scale == 30.0 else 0.0)
    t = (rng.random(12) < 0.5).astype(float)
    t[0] = 1.0
    value, gz, gt = f1_ref(z, t, 1.0)
    assert ulp_error(f1.soft_f1([z], [t], 1.0)[0], _mp(value)) <= 4
    got_z, got_t = f1.soft_f1_grad([z], [t], 1.0)
    for got, want in zip(np.concatenate([got_z[0], got_t[0]]), gz + gt, strict=True):
        assert ulp_error(got, _mp(want)) <= 8, (got, want)
