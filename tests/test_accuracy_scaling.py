"""Scaled primitives (symsmooth/functions/scaling.py) and their kernels against mpmath.

The runtime helpers ``_recip1p_sq``, ``_odd_root_sum`` and ``_odd_root_sum_grad``
(symsmooth/runtime/scaling.py, whose source generated modules carry) are compared with mpmath at 300
bits over the whole float64 range (products and powers that overflow or underflow in the textbook
form, the cancellation ``x ~ -y``, subnormal results); then whole kernels through ``ss.verify``.
Before (docs/codegen.md): soft_sign_arctan gradient 1.7e6 ulp (huge), max_pair_odd_power inf ulp
(huge, tiny, breakpoint) and 125/232 ulp at the overflow edge, smooth_abs_logistic value / gradient
1.15 / 7.58 ulp (moderate / large).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from stabilize_helpers import naive_float64

import symsmooth as ss
from symsmooth.functions import logsumexp
from symsmooth.functions.scaling import (
    mp_odd_root_sum,
    mp_odd_root_sum_grad,
    mp_recip1p_sq,
    odd_root_sum,
    recip1p_sq,
)
from symsmooth.runtime import scaling
from symsmooth.stabilization import stabilize

x, y = sp.symbols("x y", real=True)


@pytest.fixture(scope="module")
def helpers():
    """The runtime functions whose source generated modules carry."""
    return vars(scaling)


def _ulps(value: float, ref) -> float:
    """Distance of ``value`` from the exact ``ref`` in ulps of the float64 nearest ``ref``."""
    with mpmath.workprec(300):
        r = float(ref)
        if value == r:
            return 0.0
        if not math.isfinite(value):
            return math.inf
        return float(abs(mpmath.mpf(value) - ref) / np.spacing(abs(r)))


def _pairs(seed: int, count: int) -> list[tuple[float, float]]:
    """Pairs over the whole exponent range, of mixed sizes, and near cancellation x ~ -y."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        scale = 10.0 ** rng.uniform(-300, 300)
        a, b = rng.uniform(-5, 5, 2) * scale * (10.0 ** rng.uniform(-3, 3, 2) if i % 3 else 1)
        if i % 5 == 0:
            b = -a * (1 + rng.uniform(-1e-3, 1e-3))
        pairs.append((float(a), float(b)))
    return pairs


def test_recip1p_sq_helper_within_half_ulp(helpers):
    """1/(1 + (a b)^2) to 0.5 ulp + 2**-60 (square exact, Newton-corrected reciprocal), from
    1 down to the subnormal 1/(a b)^2 and 0 past 2**537."""
    rng = np.random.default_rng(3)
    worst = 0.0
    for e in rng.uniform(-320, 308, 1500):
        a = float(rng.choice([-1.0, 1.0]) * 10.0**e)
        b = float(10.0 ** rng.uniform(-4, 4)) if e < 300 else 1.0
        with mpmath.workprec(300):
            worst = max(worst, _ulps(helpers["_recip1p_sq"](b, a), mp_recip1p_sq(b, a)))
    assert worst <= 0.501
    assert helpers["_recip1p_sq"](1.0, 1e160) == 1e-320
    for a, b in [(1.477039975104568e153, 0.0013723470496889462), (3e135, 1.0), (1e300, 1e-160)]:
        with mpmath.workprec(300):  # across the 2**450 switch and the 2**900 pre-scaling
            assert _ulps(helpers["_recip1p_sq"](a, b), mp_recip1p_sq(a, b)) <= 0.501
    assert helpers["_recip1p_sq"](1e200, 1e200) == 0.0
    assert math.isnan(helpers["_recip1p_sq"](math.nan, 1.0))


def test_odd_root_sum_helpers_within_half_ulp(helpers):
    """Value and d/dx of sign(s)|s|^(1/n), s = x^n + y^n, n = 3..59, over the whole range."""
    rng = np.random.default_rng(11)
    worst_value = worst_grad = 0.0
    for a, b in _pairs(5, 1200):
        n = float(2 * rng.integers(1, 30) + 1)
        with mpmath.workprec(300):
            ref, dref = mp_odd_root_sum(a, b, n), mp_odd_root_sum_grad(a, b, n)
            worst_value = max(worst_value, _ulps(helpers["_odd_root_sum"](a, b, n), ref))
            if mpmath.isfinite(dref) and float(dref) != 0.0:
                worst_grad = max(worst_grad, _ulps(helpers["_odd_root_sum_grad"](a, b, n), dref))
    assert worst_value <= 0.51
    assert worst_grad <= 0.51


@pytest.mark.parametrize(
    "a, b, n, expected",
    [
        (1e300, 2e300, 3.0, lambda: mpmath.cbrt(9) * mpmath.mpf(10) ** 300),
        (-3e-200, 2e-200, 5.0, lambda: -mpmath.root(3**5 - 2**5, 5) * mpmath.mpf(10) ** -200),
        (1.0, -1.0, 7.0, lambda: mpmath.mpf(0)),
    ],
)
def test_odd_root_sum_closed_forms(helpers, a, b, n, expected):
    """cbrt(9) 1e300, -(3^5 - 2^5)^(1/5) 1e-200 (the decimal inputs are inexact: the closed
    form is checked to 1e-15 relative) and the exact 0 of x = -y."""
    with mpmath.workprec(300):
        exact = expected()
        got = helpers["_odd_root_sum"](a, b, n)
        assert abs(got - exact) <= abs(exact) * 1e-15
        assert _ulps(got, mp_odd_root_sum(a, b, n)) <= 0.5


def test_rules_fire_on_the_catalog_forms():
    k = sp.Symbol("k", positive=True)
    assert stabilize(2 * k / (sp.pi * (k**2 * x**2 + 1))).expr == 2 * k * recip1p_sq(k, x) / sp.pi
    n = 2 * sp.Symbol("k", integer=True, positive=True) + 1
    s = x**n + y**n
    assert stabilize(sp.Abs(s) ** (1 / n) * sp.sign(s)).expr == odd_root_sum(x, y, n)
    value = stabilize(sp.log(2 + sp.exp(k * x) + sp.exp(-k * x)) / k).expr
    assert value == 2 * logsumexp(k * x / 2, -k * x / 2) / k
    assert stabilize(sp.diff(value, x)).expr == sp.tanh(k * x / 2)


def test_naive_forms_fail_where_the_scaled_ones_hold(helpers):
    """The textbook forms give 0 / inf where the scaled helpers are exact to 0.5 ulp."""
    naive_recip = 1 / (1 + x**2)
    assert naive_float64(naive_recip, {x: 1e160}) == 0.0
    assert helpers["_recip1p_sq"](1.0, 1e160) == float(mp_recip1p_sq(1.0, 1e160))
    s = x**3 + y**3
    naive_root = sp.Abs(s) ** sp.Rational(1, 3) * sp.sign(s)
    assert not np.isfinite(naive_float64(naive_root, {x: 1e200, y: 3e199}))
    assert naive_float64(naive_root, {x: 3e-120, y: -2e-120}) == 0.0
    with mpmath.workprec(300):
        ref = mp_odd_root_sum(3e-120, -2e-120, 3)
        assert _ulps(helpers["_odd_root_sum"](3e-120, -2e-120, 3.0), ref) <= 0.5


@pytest.mark.parametrize("name", ["soft_sign_arctan", "max_pair_odd_power", "smooth_abs_logistic"])
def test_scaled_kernels_meet_their_targets(name, tmp_path):
    """Every regime (moderate, breakpoint, tiny, large, overflow edge, huge) within 2 ulp in
    float64 (measured: soft_sign_arctan gradient 1.45, max_pair_odd_power 0.5) and 1 in
    float32."""
    report = ss.verify(name, out=tmp_path, per_regime=24)
    assert report.worst(dtype="float64") <= 2.0, report.failures()
    assert report.worst(dtype="float32") <= 1.0
    if name == "max_pair_odd_power":
        assert report.worst(dtype="float64") <= 0.51
    if name == "smooth_abs_logistic":  # value target 1 (exp/log only): 2 logsumexp(kx/2, -kx/2)
        assert report.worst("value", "float64") <= 0.51
