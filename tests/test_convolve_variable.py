"""The convolution variable as the user names it: any name, over every real, never the width.

``t`` and ``s`` parse as positive sharpness names; as a convolution variable they must range
over every real (``Max(t, 0)`` must not be read as ``t``).  A variable named like the kernel's
width would be confused with it in the result, so it is refused; errors about the target show
the user's name, not the engine's internal symbol.
"""

import mpmath
import pytest
import sympy as sp

import symsmooth as ss
from symsmooth.errors import ConvolutionError


def _relu_gauss_quadrature(x: float, sigma: float) -> mpmath.mpf:
    """(max(., 0) * N(0, sigma^2))(x) by quadrature: int_{-oo}^{x} (x - u) phi_sigma(u) du."""

    def phi(u):
        return mpmath.exp(-(u**2) / (2 * sigma**2)) / (sigma * mpmath.sqrt(2 * mpmath.pi))

    with mpmath.workdps(30):
        return mpmath.quad(lambda u: (x - u) * phi(u), [-mpmath.inf, x])


@pytest.mark.parametrize("name", ["t", "s", "x", "i", "k"])
def test_any_variable_name_ranges_over_every_real(name):
    """Before: ``convolve("Max(t, 0)", "t")`` returned ``t`` (t parsed as positive)."""
    record = ss.convolve(f"Max({name}, 0)", name, kernel="gaussian")
    (var,) = [s for s in record.expr.free_symbols if s.name == name]
    sigma = [s for s in record.expr.free_symbols if s.name == "sigma"][0]
    for x in (-1.5, 0.25, 2.0):
        got = record.expr.subs({var: sp.Float(x, 30), sigma: 1}).evalf(30)
        assert abs(float(got) - float(_relu_gauss_quadrature(x, 1.0))) < 1e-14


@pytest.mark.parametrize(("kernel", "name"), [("gaussian", "sigma"), ("logistic", "t")])
def test_variable_named_like_the_width_is_refused(kernel, name):
    """Before: ``convolve("Abs(sigma)", "sigma")`` returned ``sigma*erf(sqrt(2)/2) + ...``."""
    with pytest.raises(ConvolutionError, match="width"):
        ss.convolve(f"Abs({name})", name, kernel=kernel)


def test_width_given_as_another_symbol_frees_the_name():
    record = ss.convolve("Abs(sigma)", "sigma", kernel="gaussian", width="w")
    assert {s.name for s in record.expr.free_symbols} == {"sigma", "w"}


def test_signed_sympy_variable_is_refused():
    with pytest.raises(ConvolutionError, match="real=True"):
        ss.convolve(sp.Max(sp.Symbol("x", positive=True), -1), sp.Symbol("x", positive=True))


@pytest.mark.parametrize("target", ["sin(y)", "y**y"])
def test_errors_show_the_users_variable(target):
    with pytest.raises(ConvolutionError) as info:
        ss.convolve(target, "y", kernel="gaussian")
    message = str(info.value)
    assert f"cannot convolve {target}" in message
    assert "_y" not in message
