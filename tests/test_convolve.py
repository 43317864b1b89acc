"""The convolution engine against quadrature (40 digits, 1e-25) and the catalog's known answers."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from test_convolve_reference import (
    DPS,
    close,
    numeric,
    quad_convolution,
    sample_points,
    value,
)

import symsmooth as ss
from symsmooth.convolution import kernels
from symsmooth.errors import ConvolutionError, DivergenceError
from symsmooth.symbols import a, alpha, b, h, sigma, t

x = sp.Symbol("x", real=True)

WIDTH = {
    "gaussian": sp.Rational(7, 10),
    "logistic": sp.Rational(10, 7),
    "cauchy": sp.Rational(7, 10),
    "laplace": sp.Rational(7, 10),
    "uniform": sp.Rational(7, 10),
    "triangular": sp.Rational(7, 10),
    "epanechnikov": sp.Rational(7, 10),
    "student_t2": sp.Rational(49, 100),
}
SCALE = {"logistic": sp.Rational(7, 10), "student_t2": sp.Rational(7, 10)}

# (target, kinks, highest moment needed at a tail)
TARGETS = {
    "relu": (sp.Max(x, 0), (0,), 1),
    "abs": (sp.Abs(x), (0,), 1),
    "sign": (sp.sign(x), (0,), 0),
    "heaviside": (sp.Heaviside(x), (0,), 0),
    "clip": (sp.Min(sp.Max(x, -1), 1), (-1, 1), 0),
    "hard_tanh_shifted": (sp.Min(sp.Max(2 * x - 1, -1), 1), (0, 1), 0),
    "box": (sp.Piecewise((1, (x > -1) & (x < 2)), (0, True)), (-1, 2), 0),
    "leaky_relu": (sp.Piecewise((x, x >= 0), (x / 10, True)), (0,), 1),
    "square_half_line": (x**2 * sp.Heaviside(x), (0,), 2),
    "max3": (sp.Max(x, 0, -x - 1), (-1, 0), 1),
}


def _needs(kernel, order):
    return kernels.get(kernel).has_moment(order)


CASES = [
    (k, name)
    for k in kernels.names()
    for name, (_, _, order) in TARGETS.items()
    if _needs(k, order) or (k == "cauchy" and name == "clip")
]


@pytest.mark.parametrize("kernel_name,target_name", CASES)
def test_matches_quadrature(kernel_name, target_name):
    target, kinks, _ = TARGETS[target_name]
    kernel = kernels.get(kernel_name)
    result = ss.convolve(target, x, kernel_name)
    width = WIDTH[kernel_name]
    scale = SCALE.get(kernel_name, width)
    points = sample_points(scale, kinks)
    if kernel_name in ("cauchy", "student_t2"):
        points = points[1:-1]  # heavy tails: quadrature is slow far out; 7 widths still covered
    for at in points:
        got = value(result.expr, x, kernel, width, at)
        want = quad_convolution(target, x, kernel, width, at, kinks)
        assert close(got, want), (kernel_name, target_name, at, got, want)


@pytest.mark.parametrize("kernel_name", ["cauchy", "student_t2"])
def test_heavy_tails_far_out(kernel_name):
    """Heavy-tailed kernels at 50 widths (sign and clip need only the 0th moment)."""
    kernel = kernels.get(kernel_name)
    width = WIDTH[kernel_name]
    for target in (sp.sign(x), sp.Min(sp.Max(x, -1), 1)):
        result = ss.convolve(target, x, kernel_name)
        for at in (-35, 35):
            got = value(result.expr, x, kernel, width, at)
            want = quad_convolution(target, x, kernel, width, at, (-1, 0, 1))
            assert close(got, want)


def _agree(expr, reference, subs, points=(-3.5, -0.4, 0, 0.25, 1.3, 6)):
    with mpmath.workdps(DPS):
        f, g = numeric(expr.subs(subs), x), numeric(reference.subs(subs), x)
        for p in points:
            assert close(f(mpmath.mpf(p)), g(mpmath.mpf(p)), mpmath.mpf(10) ** -35)


def test_k1_relu_logistic_is_softplus():
    r = ss.convolve(sp.Max(x, 0), x, "logistic")
    assert r.expr == ss.functions.softplus(t * x) / t
    _agree(r.expr, sp.log(1 + sp.exp(t * x)) / t, {t: sp.Rational(3, 2)})
    assert r.bound == sp.log(2) / t  # catalog: 0 < g - ReLU <= ln2/t


def test_k2_relu_gaussian_and_bound():
    r = ss.convolve("Max(x, 0)", "x", "gaussian")
    k2 = (
        x * sp.erf(x / (sp.sqrt(2) * sigma))
        + x
        + sp.sqrt(2 / sp.pi) * sigma * sp.exp(-(x**2) / (2 * sigma**2))
    ) / 2
    assert sp.simplify(r.expr - k2) == 0
    assert sp.simplify(r.bound - sigma / sp.sqrt(2 * sp.pi)) == 0
    assert r.attained == ({x: 0},)
    assert r.method.startswith("convolution (partial moments)")


def test_k3_k4_step_route_gives_gelu_and_swish():
    gelu = ss.convolve(sp.Max(x, 0), x, "gaussian", route="step")
    assert sp.simplify(gelu.expr - (x + x * sp.erf(x / (sp.sqrt(2) * sigma))) / 2) == 0
    swish = ss.convolve(sp.Max(x, 0), x, "logistic", route="step")
    assert swish.expr == x * ss.functions.sigmoid(t * x)
    assert swish.method.startswith("step route")


def test_route_difference_is_sigma_phi():
    from symsmooth.convolution import compare_routes

    d = compare_routes(sp.Max(x, 0), x, "gaussian").difference
    assert sp.simplify(d - sigma * sp.exp(-(x**2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi)) == 0


def test_smu_from_abs_via_step_route():
    r = ss.convolve(sp.Abs(x), x, "gaussian", route="step")
    assert sp.simplify(r.expr - x * sp.erf(x / (sp.sqrt(2) * sigma))) == 0


def test_k10_leaky_relu_gaussian_sau():
    r = ss.convolve(sp.Piecewise((x, x >= 0), (alpha * x, True)), x, "gaussian")
    k10 = (
        (1 + alpha) / 2 * x
        + (1 - alpha) / 2 * x * sp.erf(x / (sp.sqrt(2) * sigma))
        + (1 - alpha) * sigma / sp.sqrt(2 * sp.pi) * sp.exp(-(x**2) / (2 * sigma**2))
    )
    _agree(r.expr, k10, {alpha: sp.Rational(1, 10), sigma: sp.Rational(3, 4)})


def test_heaviside_smoothings():
    _agree(ss.convolve(sp.Heaviside(x), x, "logistic").expr, 1 / (1 + sp.exp(-t * x)), {t: 2})
    gauss = ss.convolve(sp.Heaviside(x), x, "gaussian").expr
    _agree(gauss, (1 + sp.erf(x / (sp.sqrt(2) * sigma))) / 2, {sigma: sp.Rational(1, 3)})


def test_abs_logistic_is_article1_eq6():
    r = ss.convolve(sp.Abs(x), x, "logistic")
    _agree(r.expr, sp.log(2 + sp.exp(t * x) + sp.exp(-t * x)) / t, {t: sp.Rational(5, 2)})


def test_sign_cauchy_is_arctan():
    assert ss.convolve(sp.sign(x), x, "cauchy").expr == 2 * sp.atan(x / a) / sp.pi


def test_k24_relu_cauchy_diverges_and_says_why():
    with pytest.raises(DivergenceError, match="1st moment.*gaussian"):
        ss.convolve(sp.Max(x, 0), x, "cauchy")
    # the truncated integral really grows like (a/pi) ln R (catalog K24)
    with mpmath.workdps(20):

        def trunc(r):
            return mpmath.quad(lambda u: max(-u, 0) / (mpmath.pi * (u**2 + 1)), [-r, 0])

        growth = trunc(mpmath.mpf(10) ** 6) - trunc(mpmath.mpf(10) ** 3)
        assert abs(growth - mpmath.log(1000) / mpmath.pi) < 1e-3


def test_abs_cauchy_diverges_even_as_principal_value():
    """|x - u| K(u) ~ a/(pi |u|) on both sides: the symmetric integral grows like (2a/pi) ln R."""
    with pytest.raises(DivergenceError, match="not even a symmetric principal value"):
        ss.convolve(sp.Abs(x), x, "cauchy", principal_value=True)
    with mpmath.workdps(20):

        def sym(r):
            return mpmath.quad(lambda u: abs(1 - u) / (mpmath.pi * (u**2 + 1)), [-r, 0, 1, r])

        growth = sym(mpmath.mpf(10) ** 6) - sym(mpmath.mpf(10) ** 3)
        assert abs(growth - 2 * mpmath.log(1000) / mpmath.pi) < 1e-3


def test_principal_value_only_case_is_refused_then_accepted():
    with pytest.raises(DivergenceError, match="principal value"):
        ss.convolve(x + sp.sign(x), x, "cauchy")
    r = ss.convolve(x + sp.sign(x), x, "cauchy", principal_value=True)
    assert sp.simplify(r.expr - (x + 2 * sp.atan(x / a) / sp.pi)) == 0
    assert "principal value" in r.method
    with mpmath.workdps(30):  # symmetric truncation converges to the closed form
        f = lambda u: ((1.3 - u) + mpmath.sign(1.3 - u)) / (mpmath.pi * (u**2 + 1))  # noqa: E731
        r_ = mpmath.mpf(10) ** 8
        pv = mpmath.quad(f, [-r_, -1e3, 0, 1.3, 1e3, r_])
        assert abs(pv - (1.3 + 2 * mpmath.atan(1.3) / mpmath.pi)) < 1e-6


def test_max_of_two_variables():
    y = sp.Symbol("y", real=True)
    r = ss.convolve(sp.Max(x, y), (x, y), "logistic")
    ref = (x + y + sp.log(2 + sp.exp(t * (x - y)) + sp.exp(-t * (x - y))) / t) / 2
    with mpmath.workdps(DPS):
        f = numeric(r.expr.subs(t, 3), x, y)
        g = numeric(ref.subs(t, 3), x, y)
        for p, q in (("0.3", -1), (2, 2), (-4, "1.5")):
            p, q = mpmath.mpf(p), mpmath.mpf(q)
            assert close(f(p, q), g(p, q), mpmath.mpf(10) ** -35)
    assert r.variables == (x, y)
    # with y as a constant, the one-variable route agrees
    one = ss.convolve(sp.Max(x, y), x, "logistic")
    _agree(one.expr.subs(y, sp.Rational(1, 3)), r.expr.subs(y, sp.Rational(1, 3)), {t: 3})


@pytest.mark.parametrize(
    "kernel_name", ["gaussian", "logistic", "laplace", "uniform", "epanechnikov"]
)
def test_relu_bound_is_the_sup_error(kernel_name):
    """The bound equals the error at the kink, and no grid point has a larger error."""
    width = WIDTH[kernel_name]
    r = ss.convolve(sp.Max(x, 0), x, kernel_name)
    kernel = kernels.get(kernel_name)
    g = numeric(r.expr.subs(kernel.width, width), x)
    with mpmath.workdps(DPS):
        bound = mpmath.mpf(str(sp.N(r.bound.subs(kernel.width, width), DPS)))
        grid = [mpmath.mpf(p) / 10 for p in range(-60, 61)]
        errors = [abs(g(p) - max(p, 0)) for p in grid]
        assert max(errors) <= bound * (1 + mpmath.mpf(10) ** -30)
        assert close(g(0), bound)


def test_clip_and_box_bounds_against_a_grid():
    for target, kinks in (
        (sp.Min(sp.Max(x, -1), 1), (-1, 1)),
        (sp.Piecewise((1, (x > -1) & (x < 1)), (0, True)), (-1, 1)),
    ):
        r = ss.convolve(target, x, "gaussian", sp.Rational(1, 2))
        mpmath.mp.dps = 30
        g, f = numeric(r.expr, x), numeric(target, x)
        grid = [mpmath.mpf(p) / 200 for p in range(-600, 601)]
        grid += [c + s * mpmath.mpf(10) ** -12 for c in kinks for s in (-1, 1)]
        worst = max(abs(g(p) - f(p)) for p in grid)
        assert abs(worst - mpmath.mpf(str(sp.N(r.bound, 30)))) < 1e-9
        mpmath.mp.dps = 15


def test_symbolic_width_and_numeric_width():
    r = ss.convolve(sp.Max(x, 0), x, "logistic", width=2)
    assert r.expr == ss.functions.softplus(2 * x) / 2
    s = sp.Symbol("s", positive=True)
    assert (
        ss.convolve(sp.Max(x, 0), x, "logistic", width=s).expr == ss.functions.softplus(s * x) / s
    )


def test_unsupported_targets_say_what_to_do():
    with pytest.raises(ConvolutionError, match="piecewise-polynomial"):
        ss.convolve(sp.exp(x) * sp.Heaviside(x), x, "gaussian")
    with pytest.raises(ConvolutionError, match="route"):
        ss.convolve(sp.Max(x, 0), x, "gaussian", route="sideways")
    with pytest.raises(ConvolutionError, match="positive"):
        ss.convolve(sp.Max(x, 0), x, "gaussian", width=-1)


def test_undecidable_order_is_an_error_not_a_guess():
    lo, hi = sp.symbols("lo hi", real=True)
    with pytest.raises(ConvolutionError, match="cannot decide"):
        ss.convolve(sp.Min(sp.Max(x, lo), hi), x, "gaussian")


def test_cached_result_is_the_same_object():
    first = ss.convolve(sp.Abs(x - 1), x, "laplace")
    assert ss.convolve(sp.Abs(x - 1), x, "laplace") is first


def test_parse_error_for_bad_text():
    from symsmooth.errors import ParseError

    with pytest.raises(ParseError):
        ss.convolve("Max(x,, 0)", "x", "gaussian")


def test_widths_of_other_kernels_in_records():
    for name, sym in (("cauchy", a), ("laplace", b), ("uniform", h)):
        assert ss.convolve(sp.sign(x), x, name).param == sym
