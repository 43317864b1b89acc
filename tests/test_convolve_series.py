"""Staircase targets (floor, ceiling, frac): series, truncation, Fourier forms (catalog F1-F6)."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from test_convolve_reference import DPS, close, numeric, quad_convolution

import symsmooth as ss
from symsmooth.convolution import kernels
from symsmooth.errors import DivergenceError
from symsmooth.symbols import a, sigma, t

x = sp.Symbol("x", real=True)
T10, S03 = 10, sp.Rational(3, 10)


def _eval(expr, subs, at):
    with mpmath.workdps(DPS):
        return numeric(expr.subs(subs).doit(), x)(mpmath.mpf(at))


def _quad_floor(kernel, width, at, target=None, reach=10):
    """Quadrature split at every jump within ``reach`` of ``at`` (the kernel's support)."""
    target = sp.floor(x) if target is None else target
    kinks = range(int(mpmath.floor(at)) - reach, int(mpmath.floor(at)) + reach + 2)
    return quad_convolution(target, x, kernel, width, at, kinks)


def test_f1_article_finite_sum_formula():
    r = ss.convolve(sp.floor(x), x, "logistic", terms=(5, 10))
    phi = lambda z: 1 / (1 + sp.exp(-t * z))  # noqa: E731
    article = sum(phi(x - n) - 1 for n in range(-5, 1)) + sum(phi(x - n) for n in range(1, 11))
    for at in ("-4.3", "0", "0.5", "2.25", "7.9"):
        assert close(
            _eval(r.expr, {t: T10}, at), _eval(article, {t: T10}, at), mpmath.mpf(10) ** -35
        )
    assert r.method.startswith("series of smoothed steps")
    assert r.terms == (5, 10)


@pytest.mark.parametrize("name,width", [("logistic", T10), ("gaussian", S03)])
def test_floor_series_matches_quadrature(name, width):
    kernel = kernels.get(name)
    r = ss.convolve(sp.floor(x), x, name, terms=(60, 60))
    for at in ("-9.7", "-3", "-1.5", "-0.4", "0", "0.05", "0.5", "1", "2.99", "10.2"):
        at = mpmath.mpf(at)
        bound = _eval(r.truncation_bound, {kernel.width: width}, at)
        assert bound < mpmath.mpf(10) ** -25
        assert close(_eval(r.expr, {kernel.width: width}, at), _quad_floor(kernel, width, at))


def test_truncation_bound_holds_for_short_sums():
    kernel = kernels.get("logistic")
    r = ss.convolve(sp.floor(x), x, "logistic", terms=(2, 3))
    for at in ("-2.5", "0.3", "3.4"):
        err = abs(_eval(r.expr, {t: 2}, at) - _quad_floor(kernel, 2, mpmath.mpf(at), reach=46))
        bound = _eval(r.truncation_bound, {t: 2}, at)
        assert err <= bound and err > bound / 100  # valid and not wildly loose


@pytest.mark.parametrize("name,width", [("logistic", T10), ("gaussian", S03), ("laplace", S03)])
def test_f2_half_integers_and_integers(name, width):
    r = ss.convolve(sp.floor(x), x, name, terms=(40, 40))
    w = {kernels.get(name).width: width}
    for n in (-2, 0, 1, 3):
        assert close(_eval(r.expr, w, n + sp.Rational(1, 2)), mpmath.mpf(n))
        assert close(_eval(r.expr, w, n), mpmath.mpf(n) - mpmath.mpf(1) / 2)
    assert r.bound == sp.Rational(1, 2)


@pytest.mark.parametrize(
    "name,width,ref",
    [
        (
            "logistic",
            T10,
            lambda k: (2 * sp.pi / t) / sp.sinh(2 * sp.pi**2 * k / t) * sp.sin(2 * sp.pi * k * x),
        ),
        (
            "gaussian",
            S03,
            lambda k: (
                sp.exp(-2 * sp.pi**2 * k**2 * sigma**2) * sp.sin(2 * sp.pi * k * x) / (sp.pi * k)
            ),
        ),
    ],
)
def test_f3_f6_fourier_forms(name, width, ref):
    r = ss.convolve(sp.floor(x), x, name, terms=(50, 50))
    wsym = kernels.get(name).width
    catalog = x - sp.S.Half + sum(ref(k) for k in range(1, 40))
    mine = r.fourier.replace(
        lambda e: isinstance(e, sp.Sum), lambda e: sp.Sum(e.function, (e.limits[0][0], 1, 39))
    )
    for at in ("-1.3", "0.2", "0.77", "4.5"):
        want = _eval(catalog, {wsym: width}, at)
        assert close(_eval(mine, {wsym: width}, at), want)
        assert close(_eval(r.expr, {wsym: width}, at), want)


def test_f4_floor_cauchy_needs_principal_value():
    with pytest.raises(DivergenceError, match="principal value"):
        ss.convolve(sp.floor(x), x, "cauchy")
    r = ss.convolve(sp.floor(x), x, "cauchy", principal_value=True)
    rr = sp.exp(-2 * sp.pi * a)
    f4 = (
        x
        - sp.S.Half
        + sp.atan(rr * sp.sin(2 * sp.pi * x) / (1 - rr * sp.cos(2 * sp.pi * x))) / sp.pi
    )
    _same(r.expr, f4, {a: sp.Rational(3, 10)})
    assert "principal value" in r.method
    # the symmetric pair series (built here from the Cauchy CDF) converges to the same value
    with mpmath.workdps(30):
        cdf = lambda z: mpmath.mpf(1) / 2 + mpmath.atan(z / mpmath.mpf("0.3")) / mpmath.pi  # noqa: E731
        at = mpmath.mpf("0.35")
        pairs = mpmath.nsum(lambda n: cdf(at - n) + cdf(at + n - 1) - 1, [1, mpmath.inf])
        assert abs(pairs - _eval(f4, {a: sp.Rational(3, 10)}, at)) < 1e-15


def test_sawtooth_with_cauchy_is_absolutely_convergent():
    r = ss.convolve(x - sp.floor(x), x, "cauchy")  # bounded target: no principal value needed
    rr = sp.exp(-2 * sp.pi * a)
    want = (
        sp.S.Half - sp.atan(rr * sp.sin(2 * sp.pi * x) / (1 - rr * sp.cos(2 * sp.pi * x))) / sp.pi
    )
    _same(r.expr, want, {a: sp.Rational(1, 5)})
    assert "principal value" not in r.method


def test_ceiling_and_frac_with_logistic():
    fl = ss.convolve(sp.floor(x), x, "logistic", terms=(40, 40))
    ce = ss.convolve(sp.ceiling(x), x, "logistic", terms=(40, 40))
    fr = ss.convolve(sp.frac(x), x, "logistic", terms=(40, 40))
    kernel = kernels.get("logistic")
    with mpmath.workdps(DPS):
        for at in ("-1.25", "0.4", "2.6"):
            g = _eval(fl.expr, {t: 4}, at)
            assert close(_eval(ce.expr, {t: 4}, at), g + 1)
            assert close(_eval(fr.expr, {t: 4}, at), mpmath.mpf(at) - g)
            want = _quad_floor(kernel, 4, mpmath.mpf(at), sp.ceiling(x), reach=24)
            assert close(_eval(ce.expr, {t: 4}, at), want)


def _same(expr, ref, subs):
    for at in ("-0.8", "0.1", "0.5", "1.73"):
        assert close(_eval(expr, subs, at), _eval(ref, subs, at), mpmath.mpf(10) ** -30)
