"""Kernels: normalisation, symmetry, moments (literature values), partial moments, delta limit."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from test_convolve_reference import DPS, close, numeric

from symsmooth.convolution import kernels
from symsmooth.convolution.kernels import OMEGA, U
from symsmooth.errors import KernelError
from symsmooth.symbols import a, b, h, s, sigma, t

W = {
    "gaussian": sp.Rational(7, 10),
    "logistic": sp.Rational(10, 7),
    "cauchy": sp.Rational(7, 10),
    "laplace": sp.Rational(7, 10),
    "uniform": sp.Rational(7, 10),
    "triangular": sp.Rational(7, 10),
    "epanechnikov": sp.Rational(7, 10),
    "student_t2": sp.Rational(49, 100),
}

# Second moments from the literature (Johnson-Kotz-Balakrishnan; Silverman 1986 Table 3.1)
VARIANCE = {
    "gaussian": sigma**2,
    "logistic": sp.pi**2 / (3 * t**2),
    "laplace": 2 * b**2,
    "uniform": h**2 / 3,
    "triangular": h**2 / 6,
    "epanechnikov": h**2 / 5,
}
MAX_MOMENT = {"cauchy": 0, "student_t2": 1}


def _quad(kernel, f, lo=None, hi=None):
    w = W[kernel.name]
    k = numeric(kernel.density.subs(kernel.width, w), U)
    lo_, hi_ = (sp.N(e.subs(kernel.width, w), DPS) for e in kernel.support)
    lo = lo if lo is not None else (-mpmath.inf if lo_ == -sp.oo else mpmath.mpf(str(lo_)))
    hi = hi if hi is not None else (mpmath.inf if hi_ == sp.oo else mpmath.mpf(str(hi_)))
    cuts = sorted(
        {mpmath.mpf(str(sp.N(c.subs(kernel.width, w), DPS))) for c in kernel.kinks}
        | {mpmath.mpf(0)}
    )
    pts = [lo, *[c for c in cuts if lo < c < hi], hi]
    return mpmath.quad(lambda v: f(v) * k(v), pts)


def test_registry_has_the_eight_kernels():
    assert kernels.names()[:8] == [
        "gaussian",
        "logistic",
        "cauchy",
        "laplace",
        "uniform",
        "triangular",
        "epanechnikov",
        "student_t2",
    ]
    assert kernels.get("Normal") is kernels.get("gaussian")
    with pytest.raises(KernelError, match="gaussian"):
        kernels.get("gausian")


@pytest.mark.parametrize("name", list(W))
def test_integrates_to_one_and_is_symmetric(name):
    kernel = kernels.get(name)
    with mpmath.workdps(DPS):
        assert close(_quad(kernel, lambda v: 1), mpmath.mpf(1))
    k = numeric(kernel.density.subs(kernel.width, W[name]), U)
    with mpmath.workdps(DPS):
        for v in ("0.1", "0.55", "1.3", "4.0"):
            assert close(k(mpmath.mpf(v)), k(-mpmath.mpf(v)), mpmath.mpf(10) ** -35)
    assert kernel.symmetric


@pytest.mark.parametrize("name", list(VARIANCE))
def test_second_moment_matches_literature(name):
    kernel = kernels.get(name)
    assert sp.simplify(kernel.moment(2) - VARIANCE[name]) == 0
    with mpmath.workdps(DPS):
        want = mpmath.mpf(str(sp.N(VARIANCE[name].subs(kernel.width, W[name]), DPS)))
        assert close(_quad(kernel, lambda v: v**2), want)


@pytest.mark.parametrize("name", list(MAX_MOMENT))
def test_heavy_tails_lack_the_stated_moment(name):
    kernel = kernels.get(name)
    top = MAX_MOMENT[name]
    assert kernel.has_moment(top) and not kernel.has_moment(top + 1)
    assert kernel.moment_order == top
    with mpmath.workdps(20):  # ∫_0^R u^(top+1) K grows like log R: compare two cut-offs
        k = numeric(kernel.density.subs(kernel.width, 1), U)

        def part(r):
            return mpmath.quad(lambda v: v ** (top + 1) * k(v), [0, 1, r])

        assert part(mpmath.mpf(10) ** 6) - part(mpmath.mpf(10) ** 3) > 0.5


def test_student_t2_mean_absolute_value():
    kernel = kernels.get("student_t2")  # E|U| = 2 A_1(oo) = sqrt(b)
    with mpmath.workdps(DPS):
        got = _quad(kernel, abs)
        assert close(got, mpmath.sqrt(mpmath.mpf(49) / 100))
    assert kernel.tail(1) * 2 == sp.sqrt(b)


@pytest.mark.parametrize("name", list(W))
def test_partial_moments_match_quadrature(name):
    kernel = kernels.get(name)
    w = W[name]
    with mpmath.workdps(DPS):
        for m in range(4):
            if not kernel.has_moment(m) and name not in ("cauchy", "student_t2"):
                continue
            am = numeric(kernel.partial_moment(m).subs(kernel.width, w), U)
            for end in ("-1.3", "-0.2", "0.45", "2.5"):
                end = mpmath.mpf(end)
                lo, hi = (0, end) if end > 0 else (end, 0)
                got = _quad(kernel, lambda v, m=m: v**m, lo, hi) * (1 if end > 0 else -1)
                assert close(am(end), got), (name, m, end)
            if kernel.has_moment(m):
                tail = _quad(kernel, lambda v, m=m: v**m, mpmath.mpf(0), None)
                want = mpmath.mpf(str(sp.N(kernel.tail(m).subs(kernel.width, w), DPS)))
                assert close(tail, want), (name, m)


@pytest.mark.parametrize("name", list(W))
def test_characteristic_function(name):
    kernel = kernels.get(name)
    with mpmath.workdps(25):
        for om in ("0.8", "3.1"):
            if kernel.support[1] == sp.oo and kernel.name not in ("gaussian", "logistic"):
                k = numeric(kernel.density.subs(kernel.width, W[name]), U)
                want = 2 * mpmath.quadosc(
                    lambda v, om=om, k=k: mpmath.cos(mpmath.mpf(om) * v) * k(v),
                    [0, mpmath.inf],
                    omega=mpmath.mpf(om),
                )
            else:
                want = _quad(kernel, lambda v, om=om: mpmath.cos(mpmath.mpf(om) * v))
            got = sp.N(kernel.charfn.subs({OMEGA: sp.Rational(om), kernel.width: W[name]}), 25)
            assert abs(mpmath.mpf(str(got)) - want) < 1e-15


@pytest.mark.parametrize("name", list(W))
def test_tends_to_a_delta(name):
    """∫ g(x-u) K_w(u) du -> g(x) for a smooth g, with error O(w^2) (or O(w) for heavy tails)."""
    kernel = kernels.get(name)

    def smoothed(width, at):
        k = numeric(kernel.density.subs(kernel.width, width), U)
        lo, hi = (e.subs(kernel.width, width) for e in kernel.support)
        lo = -mpmath.inf if lo == -sp.oo else mpmath.mpf(str(sp.N(lo)))
        hi = mpmath.inf if hi == sp.oo else mpmath.mpf(str(sp.N(hi)))
        pts = sorted(
            {lo, hi, mpmath.mpf(0)}
            | {mpmath.mpf(str(sp.N(c.subs(kernel.width, width)))) for c in kernel.kinks}
        )
        return mpmath.quad(lambda v: mpmath.exp(-((at - v) ** 2)) * k(v), pts)

    at = mpmath.mpf("0.3")
    exact = mpmath.exp(-(at**2))
    widths = [sp.Rational(1, 10), sp.Rational(1, 100)]
    if kernel.limit == sp.oo:
        widths = [1 / w for w in widths]
    if name == "student_t2":  # b is a squared scale
        widths = [w**2 for w in widths]
    errors = [abs(smoothed(w, at) - exact) for w in widths]
    assert errors[1] < errors[0] / 8 and errors[1] < 0.02


def test_density_only_kernel_derives_its_moments_and_convolves():
    import symsmooth as ss

    kernel = kernels.from_density("cauchy_squared", 2 * s**3 / (sp.pi * (U**2 + s**2) ** 2), s)
    assert kernel.moment_order == 2 and kernel.moment(2) == s**2
    x = sp.Symbol("x", real=True)
    r = ss.convolve(sp.Max(x, 0), x, kernel)
    from test_convolve_reference import quad_convolution, value

    with mpmath.workdps(DPS):
        for at in ("-3", "0", "0.7", "5"):
            got = value(r.expr, x, kernel, sp.Rational(1, 2), mpmath.mpf(at))
            want = quad_convolution(
                sp.Max(x, 0), x, kernel, sp.Rational(1, 2), mpmath.mpf(at), (0,)
            )
            assert close(got, want)
    with pytest.raises(KernelError, match="integrates to"):
        kernels.from_density("bad", sp.exp(-(U**2)), s)


def test_every_builtin_kernel_cites_a_source():
    for name in W:
        assert kernels.get(name).source
    assert kernels.get("cauchy").tail(1) == sp.oo
    assert kernels.get("cauchy").width == a
