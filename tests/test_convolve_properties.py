"""Property test: random piecewise-linear targets (sums of Max and Heaviside) vs quadrature."""

from __future__ import annotations

import mpmath
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_convolve_reference import close, quad_convolution, value

import symsmooth as ss
from symsmooth.convolution import kernels

x = sp.Symbol("x", real=True)
WIDTH = {
    "gaussian": sp.Rational(1, 2),
    "logistic": 2,
    "cauchy": sp.Rational(1, 2),
    "laplace": sp.Rational(1, 2),
    "uniform": sp.Rational(3, 4),
    "triangular": sp.Rational(3, 4),
    "epanechnikov": sp.Rational(3, 4),
    "student_t2": sp.Rational(1, 4),
}

small = st.integers(-4, 4).map(lambda n: sp.Rational(n, 2))
coef = st.integers(-3, 3)


@st.composite
def targets(draw):
    kernel = draw(st.sampled_from(sorted(WIDTH)))
    linear = kernels.get(kernel).has_moment(1)
    ramps = draw(st.lists(st.tuples(coef, small), max_size=3)) if linear else []
    steps = draw(st.lists(st.tuples(coef, small), min_size=0 if ramps else 1, max_size=3))
    f = draw(coef) + sum(c * sp.Max(x - k, 0) for c, k in ramps)
    f += sum(c * sp.Heaviside(x - k) for c, k in steps)
    kinks = tuple(k for _, k in ramps + steps)
    return kernel, f, kinks, draw(small)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(targets())
def test_random_piecewise_linear_targets_match_quadrature(case):
    kernel_name, f, kinks, at = case
    kernel = kernels.get(kernel_name)
    width = WIDTH[kernel_name]
    result = ss.convolve(f, x, kernel_name)
    with mpmath.workdps(40):
        for point in (mpmath.mpf(at), mpmath.mpf(at) + mpmath.mpf("0.37"), mpmath.mpf(-3)):
            got = value(result.expr, x, kernel, width, point)
            want = quad_convolution(f, x, kernel, width, point, kinks)
            assert close(got, want), (kernel_name, f, point, got, want)
