"""Parameter gradients ``<name>_grad_<param>`` of the elementwise kernels against Arb.

Each reference is the textbook derivative in the parameter, written in ball arithmetic
(python-flint) independently of symsmooth's expressions and helpers, at the exact double inputs,
raised in precision until the ball is tight (the differences cancel: up to 3200 bits).  The
points are the hard ones: a large scaled argument ``|k x|`` (where ``F(z) - z F'(z)`` cancels),
parameters other than 1, tiny arguments, the Gaussian tails.  Each stabilized form is shown
against the naive difference of the same derivative in float64, which fails there.
"""

from __future__ import annotations

from pathlib import Path

import flint
import mpmath
import numpy as np
import pytest
import sympy as sp

import symsmooth as ss
from symsmooth.codegen.names import check_public
from symsmooth.errors import InvalidNameError
from symsmooth.functions import collapse_gaps, logsumexp, relu_gauss, sigmoid, softplus
from symsmooth.functions.gaps import logsumexp_gap, softplus_gap
from symsmooth.verification.ulp import ulp_error

GENERATED = Path(__file__).resolve().parent.parent / "generated"
A = flint.arb
PREC = 200


@pytest.fixture(autouse=True)
def _arb_precision():
    with flint.ctx.workprec(PREC):
        yield


def _mp(ball) -> mpmath.mpf:
    man, exp = ball.mid().man_exp()
    with mpmath.workprec(max(int(man).bit_length(), 53) + 8):
        return mpmath.mpf((int(man), int(exp)))


def reference(fn, *args: float) -> mpmath.mpf:
    """``fn`` at the exact doubles ``args``, certified to 2**-70 relative."""
    for prec in (200, 400, 800, 1600, 3200):
        with flint.ctx.workprec(prec):
            ball = fn(*[A(a) for a in args])
            if ball.rad() <= abs(ball.mid()) * A(2) ** -70 or ball.rad() < A(2) ** -1300:
                return _mp(ball)
    raise AssertionError(f"reference not tight at {args!r}")


def _sig(z):
    return 1 / (1 + (-z).exp())


def _Phi(t):
    return (-t / A(2).sqrt()).erfc() / 2


def _phi(t):
    return (-(t * t) / 2).exp() / (2 * A.pi()).sqrt()


def _logcosh(z):
    return abs(z) + (-2 * abs(z)).exp().log1p() - A(2).log()


def _lse(*zs):
    m = max(zs, key=lambda z: z.mid())
    return m + sum(((z - m).exp() for z in zs), A(0)).log()


def _abs_pair_dk(x, y, k):
    """d/dk LSE(z)/(2k), z = (+-2kx, +-2ky): (sum_i p_i z_i - LSE)/(2k^2)."""
    zs = (2 * k * x, -2 * k * x, 2 * k * y, -2 * k * y)
    lse = _lse(*zs)
    mean = sum((z * (z - lse).exp() for z in zs), A(0))
    return (mean - lse) / (2 * k**2)


# kernel, parameter -> d value / d parameter at (x, [y,] params), in Arb
DERIVATIVES = {
    ("softplus", "k"): lambda x, k: x * _sig(k * x) / k - (k * x).exp().log1p() / k**2,
    ("abs_logcosh", "k"): lambda x, k: x * (k * x).tanh() / k - _logcosh(k * x) / k**2,
    ("smooth_abs_log2cosh", "k"): lambda x, k: x * (k * x).tanh() / k - _lse(k * x, -k * x) / k**2,
    ("relu_gaussian", "sigma"): lambda x, s: _phi(x / s),
    ("gelu", "sigma"): lambda x, s: -x * x / s**2 * _phi(x / s),
    ("sau", "alpha"): lambda x, s, a: x - s * (x / s * _Phi(x / s) + _phi(x / s)),
    ("sau", "sigma"): lambda x, s, a: (1 - a) * _phi(x / s),
    ("swish", "k"): lambda x, k: x * x * _sig(k * x) * _sig(-k * x),
    ("soft_sign_arctan", "k"): lambda x, k: 2 * x / (A.pi() * (1 + (k * x) ** 2)),
    ("max_pair_logsumexp", "k"): lambda x, y, k: (
        (x * (k * x).exp() + y * (k * y).exp()) / ((k * x).exp() + (k * y).exp()) / k
        - _lse(k * x, k * y) / k**2
    ),
    ("max_abs_pair_logsumexp", "k"): lambda x, y, k: _abs_pair_dk(x, y, k),
}


def _module(name):
    return ss.load(name, GENERATED)


def _ulps(name, param, points):
    """Max ulp error of ``<name>_grad_<param>`` and of its fast twin at ``points`` (tuples of
    inputs then parameters)."""
    module = _module(name)
    fns = [getattr(module, f"{name}_grad_{param}"), getattr(module, f"{name}_grad_{param}_fast")]
    worst = 0.0
    for point in points:
        ref = reference(DERIVATIVES[(name, param)], *point)
        for fn in fns:
            worst = max(worst, ulp_error(float(fn(*point)), ref))
    return worst


SHARP = (0.37, 1.0, 3.0, 7.5)
SOFTPLUS_Z = (-700.0, -300.0, -36.9, -1.0, 1e-8, 0.5, 20.0, 50.0, 300.0, 700.0)


def test_softplus_grad_k_within_an_ulp_at_every_sharpness():
    points = [(z / k, k) for k in SHARP for z in SOFTPLUS_Z]
    assert _ulps("softplus", "k", points) <= 1.0


def test_softplus_grad_k_naive_difference_fails_where_the_gap_holds():
    """x sigmoid(kx)/k - softplus(kx)/k^2 (each term correctly rounded) cancels to 0 at
    kx = 50 (exact -51 e^-50 = -9.8e-21); the entropy form holds it."""
    x, k = 50.0, 1.0
    ref = reference(DERIVATIVES[("softplus", "k")], x, k)
    naive = x / (1 + np.exp(-k * x)) / k - np.logaddexp(0.0, k * x) / k**2
    assert ulp_error(naive, ref) > 1e15
    assert ulp_error(float(_module("softplus").softplus_grad_k(x, k)), ref) <= 1.0


def test_logcosh_grad_k_tiny_and_large_arguments():
    zs = (1e-6, 0.01, 0.0624, 0.0626, 0.5, 1.0, 5.0, 30.0, 400.0, 1e5)
    points = [(z / k, k) for k in SHARP for z in zs]
    assert _ulps("abs_logcosh", "k", points) <= 2.0
    x, k = 1e5, 1.0  # x tanh(kx)/k - logcosh(kx)/k^2 keeps log 2 to 1e5 eps: ~2^8 ulp off
    ref = reference(DERIVATIVES[("abs_logcosh", "k")], x, k)
    naive = x * np.tanh(k * x) / k - (abs(k * x) + np.log1p(np.exp(-2 * abs(k * x))) - np.log(2))
    assert ulp_error(naive, ref) > 100


def test_log2cosh_grad_k_is_the_binary_entropy():
    points = [(z / k, k) for k in SHARP for z in (1e-7, 0.3, 10.0, 200.0, 350.0)]
    assert _ulps("smooth_abs_log2cosh", "k", points) <= 1.0


def test_gaussian_width_grads_in_the_tails():
    """relu_gaussian's d/dsigma is phi(x/sigma) (relu_gauss(t) - t Phi(t) cancels to 0 at
    t = 30 in float64); gelu's -x^2 phi(x/sigma)/sigma^2; sau's sigma and alpha partials."""
    widths = (0.1, 1.0, 3.0)
    ts = (-37.0, -30.0, -5.0, 1e-9, 0.7, 3.0, 30.0, 37.0)
    assert _ulps("relu_gaussian", "sigma", [(t * s, s) for s in widths for t in ts]) <= 1.0
    assert _ulps("gelu", "sigma", [(t * s, s) for s in widths for t in ts]) <= 2.0
    sau = [(t * s, s, a) for s in widths for t in ts for a in (0.0, 0.01, 0.25)]
    assert _ulps("sau", "sigma", sau) <= 2.0
    assert _ulps("sau", "alpha", sau) <= 2.0
    t = 30.0
    ref = reference(DERIVATIVES[("relu_gaussian", "sigma")], t, 1.0)
    from scipy.special import ndtr

    relu = t * ndtr(t) + np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
    assert ulp_error(relu - t * ndtr(t), ref) > 1e15  # 0 instead of 1.5e-196
    ref = reference(DERIVATIVES[("sau", "alpha")], t, 1.0, 0.25)
    assert ulp_error(t - relu, ref) > 1e15


def test_pair_maxima_grad_k_at_ties_and_far_apart():
    pairs = [(1.0, 1.0), (1.0, 1.0 + 2**-52), (3.0, -2.0), (40.0, -5.0), (0.5, 300.0)]
    for k in (0.37, 1.0, 3.0):
        points = [(x / k, y / k, k) for x, y in pairs]
        assert _ulps("max_pair_logsumexp", "k", points) <= 2.0
        assert _ulps("max_abs_pair_logsumexp", "k", points) <= 4.0


def test_arctan_grad_k_where_the_square_overflows():
    """2 x/(pi (1 + (k x)^2)) at |k x| > 4e180: 2/(pi k^2 x), a normal double, where
    x recip1p_sq(k, x) is 0 (the reciprocal of the square underflows first)."""
    points = [(x, k) for k in (1.0, 7.5, 1e4) for x in (-1e300, -2.15e201, 3.0, 1e160)]
    assert _ulps("soft_sign_arctan", "k", points) <= 2.0


def test_abs_pair_grad_k_where_the_weights_are_near_underflow():
    """The entropy's terms e_i d_i with e_i = exp(-d_i) near 2**-1022 (d_i > 700) are formed
    as exp(-d_i/2)^2 d_i, scaled by 2**600 (was 54 ulp at k = 1, x = 10, y = -367.5; 11 ulp at
    k = 10 where the distance's low part is 1e-15 of it)."""
    points = [(10.0, -367.46619407366876, 1.0), (-747.1332191019411, 711.782712893384, 10.0)]
    assert _ulps("max_abs_pair_logsumexp", "k", points) <= 1.0


def test_swish_grad_k_product_form():
    points = [(z / k, k) for k in SHARP for z in (-700.0, -36.9, -1.0, 1e-8, 2.0, 50.0)]
    assert _ulps("swish", "k", points) <= 2.0


def test_collapse_gaps_is_an_identity_and_finds_each_pair():
    k, x, y = sp.symbols("k x y", positive=True)
    s = sp.Symbol("sigma", positive=True)
    a = sp.Symbol("alpha", positive=True)
    cases = [
        (softplus(k * x) / k, k, -softplus_gap(k * x) / k**2),
        (logsumexp(k * x, k * y) / k, k, -softplus_gap(k * x - k * y) / k**2),
        (s * relu_gauss(x / s), s, None),
        (a * x + (1 - a) * s * relu_gauss(x / s), a, None),
    ]
    for expr, p, expected in cases:
        raw = sp.diff(expr, p)
        got = collapse_gaps(raw)
        assert got != raw
        if expected is not None:
            assert sp.simplify(got - expected) == 0
        point = {k: sp.Rational(17, 10), x: sp.Rational(3, 10), y: sp.Rational(-2, 5)}
        point.update({s: sp.Rational(4, 5), a: sp.Rational(3, 10)})
        assert abs(sp.N(got.subs(point), 30) - sp.N(raw.subs(point), 30)) < 1e-25
    assert collapse_gaps(x * sigmoid(k * x)) == x * sigmoid(k * x)
    # two arguments: the binary entropy of their difference (the same function)
    two = {x: sp.Rational(3, 10), y: sp.Rational(-2, 5)}
    assert (
        abs(sp.N(logsumexp_gap(x, y).subs(two), 30) - sp.N(softplus_gap(x - y).subs(two), 30))
        < 1e-25
    )


def test_integer_parameters_and_labels_have_no_gradient():
    record = _module("max_pair_odd_power").__symsmooth__
    assert record["param_grads"] == {}  # k is an integer exponent
    record = _module("cross_entropy_lse").__symsmooth__
    assert "t" not in record["param_grads"]


def test_public_names_refuse_a_parameter_gradient_collision():
    with pytest.raises(InvalidNameError, match="f_grad_x_fast"):
        check_public("f", "elementwise", ["x"], ("cpu",), params=["x_fast"])
    assert "f_grad_k_fast" in check_public("f", "elementwise", ["x"], ("cpu",), params=["k"])
