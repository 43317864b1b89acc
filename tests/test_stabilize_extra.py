"""The special rules (symsmooth/stabilization/special.py) and their scalar kernels, both ways.

Exact: the stable form equals the naive one at random points to 60 digits (mpmath, through the
naive rewrite of every primitive).  Useful: at the hard inputs, the naive float64 evaluation
is inf/nan or > 1e3 ulp off, the stable one within 4 ulp.  Kernels: the math-only scalar
runtime functions emitted into generated modules (``_logcosh``, ``_relu_gauss``, ``_sigmoid2``)
against mpmath at 60+ digits on dense grids over every regime.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from stabilize_helpers import as_float, float64, naive_float64, reference, ulps

from symsmooth.functions import Phi, logsumexp, sigmoid
from symsmooth.functions.fused import dsigmoid
from symsmooth.functions.special import hypot, logcosh, relu_gauss
from symsmooth.runtime.scalar import _logcosh, _relu_gauss
from symsmooth.stabilization import rule, rule_set, stabilize
from symsmooth.verification.ulp import ulp_error

NEW_RULES = ("log_cosh", "hypot", "relu_gauss", "tanh_complement", "softmax_pair", "exp_difference")
x, y, z = sp.symbols("x y z", real=True)
k, s = sp.symbols("k s", positive=True)


def test_special_set_is_registered_and_in_default():
    names = [r.name for r in rule_set("special").rules]
    assert sorted(names) == sorted(NEW_RULES)
    assert {rule(n).phase for n in names} == {"compound"}
    assert set(names) <= {r.name for r in rule_set("default").rules}


@pytest.mark.parametrize("name", NEW_RULES)
def test_new_rule_both_ways(name):
    r = rule(name)
    stable = stabilize(r.naive).expr
    assert name in stabilize(r.naive).applied
    rng = np.random.default_rng(len(name))
    for _ in range(6):  # exact: equal to 60 digits at random points
        point = {v: float(rng.uniform(0.2, 3.0)) for v in r.naive.free_symbols}
        ref = reference(r.naive, point)
        assert abs(reference(stable, point) - ref) <= abs(ref) * mpmath.mpf(10) ** -60
    for point in r.hard_inputs:  # useful: naive fails in float64, stable holds
        ref = as_float(reference(r.naive, point))
        assert ulps(naive_float64(r.naive, point), ref) > 1e3
        assert ulps(float64(stable, point), ref) <= 4


def test_catalog_forms_are_rewritten():
    assert stabilize(sp.log(sp.cosh(k * x)) / k).expr == logcosh(k * x) / k
    assert stabilize(sp.sqrt(x**2 + s**2)).expr == hypot(s, x)
    assert stabilize(x / sp.sqrt(x**2 + s**2)).expr == x / hypot(s, x)
    gauss = x * Phi(x / s) + s * sp.exp(-(x**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi)
    assert stabilize(gauss).expr == s * relu_gauss(x / s)
    assert stabilize(sp.exp(k * x - logsumexp(k * x, k * y))).expr == sigmoid(k * x - k * y)
    # tanh_complement gives 4 k sigmoid(2x) sigmoid(-2x); sigmoid_product (accuracy) fuses it
    assert stabilize(k - k * sp.tanh(x) ** 2).expr == 4 * k * dsigmoid(2 * x)


def test_exp_difference_takes_the_difference_symbolically():
    lse = logsumexp(-2 * x, 2 * x, -2 * y, 2 * y)
    grad = sp.exp(2 * x - lse) - sp.exp(-2 * x - lse)
    others = [r for r in rule_set("default").rules if r.name != "sinh_ratio"]
    stable = stabilize(grad, others).expr  # default: sinh_ratio (accuracy) takes it first
    assert stable.has(sp.sign) and "expm1(-4*Abs(x))" in str(stable)
    point = {x: 1e-200, y: 0.5}
    ref = as_float(reference(grad, point))
    assert naive_float64(grad, point) == 0.0 and ref > 1e-201
    assert ulps(float64(stable, point), ref) <= 4


def test_relu_gauss_derivative_is_phi_and_relu_limit():
    t = sp.Symbol("t", real=True)
    assert sp.diff(relu_gauss(t), t) == Phi(t)
    naive = relu_gauss(t).rewrite("naive")
    assert sp.simplify(sp.diff(naive, t) - Phi(t).rewrite("naive")) == 0
    # s relu_gauss(x/s) -> max(x, 0) as s -> 0 (here s = 1e-3, x = +-2)
    assert abs(float(relu_gauss(2000).evalf(30)) * 1e-3 - 2.0) < 1e-15
    assert 0 < relu_gauss(-2000).evalf(30) < 1e-300


def _ulp(value: float, exact) -> float:
    return ulp_error(value, exact, np.float64)


def test_logcosh_kernel_within_one_ulp():
    rng = np.random.default_rng(3)
    grid = np.concatenate(
        [rng.uniform(-5, 5, 400), 10 ** rng.uniform(-300, 0, 200), rng.uniform(0.9, 1.1, 100)]
    )
    grid = np.concatenate([grid, rng.uniform(1, 45, 200), [1e300, -710.6, 800.0, 0.0]])
    with mpmath.workdps(80):
        worst = max(
            _ulp(_logcosh(v), mpmath.log(mpmath.cosh(mpmath.mpf(v))))
            if abs(v) > 1e-30
            else _ulp(_logcosh(v), mpmath.mpf(v) ** 2 / 2)
            for v in grid
        )
    assert worst <= 1.1
    assert math.isnan(_logcosh(math.nan)) and _logcosh(math.inf) == math.inf


@pytest.mark.parametrize(
    "lo, hi, bound",
    [(-1.5, 0.0, 2.5), (-3.0, -1.5, 1.5), (-37.0, -3.0, 1.5), (0.0, 8.0, 1.6)],
)
def test_relu_gauss_kernel_against_mpmath(lo, hi, bound):
    ts = np.random.default_rng(int(-lo * 10)).uniform(lo, hi, 250)
    with mpmath.workdps(80):
        errors = [_ulp(_relu_gauss(t), mpmath.mpf(t) * mpmath.ncdf(t) + mpmath.npdf(t)) for t in ts]
    assert max(errors) <= bound


def test_relu_gauss_kernel_edges():
    assert _relu_gauss(-41.0) == 0.0 and _relu_gauss(-math.inf) == 0.0
    assert _relu_gauss(math.inf) == math.inf and math.isnan(_relu_gauss(math.nan))
    with mpmath.workdps(80):  # subnormal result at t = -37.5: within a few subnormal units
        ref = mpmath.mpf(-37.5) * mpmath.ncdf(-37.5) + mpmath.npdf(-37.5)
        assert abs(_relu_gauss(-37.5) - float(ref)) <= 4 * 5e-324


def test_sigmoid2_forms_the_difference_exactly():
    from symsmooth.runtime.double_double import _sigmoid, _sigmoid2

    sig2 = _sigmoid2
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(300):
        p, q = rng.uniform(-800, 800), -rng.uniform(-800, 800)
        with mpmath.workdps(60):
            exact = 1 / (1 + mpmath.exp(-(mpmath.mpf(p) + mpmath.mpf(q))))
        worst = max(worst, _ulp(sig2(p, q), exact))
    with mpmath.workdps(60):
        naive = max(
            _ulp(_sigmoid(p + q), 1 / (1 + mpmath.exp(-(mpmath.mpf(p) + q))))
            for p, q in [(-700.3, 0.1), (-650.7, -3.3)]
        )
    assert worst <= 1.5 and naive > 10
