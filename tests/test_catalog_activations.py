"""Known answers for the elementwise catalog entries (symsmooth/catalog/activations.py).

References are independent of the code under test: convolution integrals by mpmath
quadrature (article 3's K1-K4, K10), textbook definitions (GELU = x Phi(x), Swish, SMU's
max(a, b) = (a + b + |a - b|)/2), and sup errors found by maximising the error curve with
mpmath (root of its derivative + a dense scan), not from the stored constants.
"""

from __future__ import annotations

import mpmath as mp
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.catalog import activations
from symsmooth.symbols import alpha, k, mu, sigma, x

DPS = 40
NAMES = [
    "abs_sqrt", "abs_xtanh", "abs_xerf", "abs_logcosh", "softplus", "relu_gaussian", "swish",
    "gelu", "smu", "smu1", "sau", "soft_sign_tanh", "soft_sign_erf", "soft_sign_arctan",
    "soft_heaviside",
]  # fmt: skip
XS = [-3.7, -1.0, -0.25, 0.0, 0.3, 1.0, 2.5]
TARGETS = {
    "abs": abs,
    "relu": lambda v: max(v, 0),
    "leaky": lambda v, a: max(v, a * v),
    "sign": mp.sign,
}


def surrogate(name: str, values: dict):
    """The record's expr as an mpmath function of x (other symbols fixed to ``values``)."""
    record = catalog.get(name)
    subs = {sym: sp.Float(v, DPS + 10) for sym, v in values.items()}
    return sp.lambdify(x, record.expr.subs(subs), "mpmath")


def bound_value(name: str, values: dict):
    record = catalog.get(name)
    subs = {sym: sp.Float(v, DPS + 10) for sym, v in values.items()}
    return mp.mpf(sp.N(record.bound.subs(subs), DPS + 10))


def close(a, b, rel=None):
    rel = mp.mpf(10) ** -25 if rel is None else rel
    return abs(a - b) <= rel * max(1, abs(b))


def gaussian(s):
    return lambda u: mp.exp(-(u**2) / (2 * s**2)) / (mp.sqrt(2 * mp.pi) * s)


def logistic(t):
    return lambda u: t * mp.exp(-t * abs(u)) / (1 + mp.exp(-t * abs(u))) ** 2


def cauchy(a):
    return lambda u: a / (mp.pi * (u**2 + a**2))


def convolve(f, kernel, xv):
    """``(f * kernel)(x) = int f(x - u) kernel(u) du``, split at the kink ``u = x`` and at
    a few scales so that heavy (Cauchy) tails are resolved."""
    cuts = sorted({mp.mpf(xv), *(mp.mpf(c) for c in (-10, -1, 0, 1, 10))})
    return mp.quad(lambda u: f(xv - u) * kernel(u), [-mp.inf, *cuts, mp.inf])


def test_all_entries_registered():
    assert set(NAMES) <= set(catalog.names())
    for name in NAMES:
        record = catalog.get(name)
        assert record.kind == "elementwise" and record.variables == (x,)
        assert record.source and record.description


# --- convolution known answers (article 3) ------------------------------------------------


@pytest.mark.parametrize("kv", [1, 4.5])
def test_softplus_is_relu_convolved_with_logistic(kv):  # K1
    with mp.workdps(DPS):
        f = surrogate("softplus", {k: kv})
        for xv in XS:
            ref = convolve(lambda z: max(z, 0), logistic(mp.mpf(kv)), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), ref)


@pytest.mark.parametrize("sv", [1, 0.3])
def test_relu_gaussian_is_relu_convolved_with_gaussian(sv):  # K2
    with mp.workdps(DPS):
        f = surrogate("relu_gaussian", {sigma: sv})
        for xv in XS:
            ref = convolve(lambda z: max(z, 0), gaussian(mp.mpf(sv)), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), ref)
            # the literature form x Phi(x/s) + s phi(x/s)
            u = mp.mpf(xv) / sv
            assert close(f(mp.mpf(xv)), xv * mp.ncdf(u) + sv * mp.npdf(u))


@pytest.mark.parametrize("sv", [1, 0.4])
def test_gelu_is_x_times_smoothed_step(sv):  # K3; Hendrycks & Gimpel: GELU(x) = x Phi(x)
    with mp.workdps(DPS):
        f = surrogate("gelu", {sigma: sv})
        for xv in XS:
            step = convolve(lambda z: mp.mpf(z > 0), gaussian(mp.mpf(sv)), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), xv * step)
            assert close(f(mp.mpf(xv)), xv * mp.ncdf(mp.mpf(xv) / sv))


@pytest.mark.parametrize("kv", [1, 2.5])
def test_swish_is_x_times_logistic_step(kv):  # K4; Ramachandran et al.: x sigmoid(x)
    with mp.workdps(DPS):
        f = surrogate("swish", {k: kv})
        for xv in XS:
            step = convolve(lambda z: mp.mpf(z > 0), logistic(mp.mpf(kv)), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), xv * step)


@pytest.mark.parametrize("av, sv", [(0.25, 1), (0.1, 0.5), (0, 2)])
def test_sau_is_leaky_relu_convolved_with_gaussian(av, sv):  # K10
    with mp.workdps(DPS):
        f = surrogate("sau", {alpha: av, sigma: sv})
        for xv in XS:
            ref = convolve(lambda z: max(z, av * z), gaussian(mp.mpf(sv)), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), ref)


@pytest.mark.parametrize(
    "name, kernel",
    [
        ("soft_sign_erf", lambda kv: gaussian(1 / (mp.sqrt(2) * kv))),
        ("soft_sign_arctan", lambda kv: cauchy(1 / mp.mpf(kv))),
        ("soft_sign_tanh", lambda kv: logistic(2 * mp.mpf(kv))),
    ],
)
def test_soft_signs_are_sign_convolved_with_a_kernel(name, kernel):
    with mp.workdps(DPS):
        for kv in (1, 3):
            f = surrogate(name, {k: kv})
            for xv in XS:
                assert close(f(mp.mpf(xv)), convolve(mp.sign, kernel(kv), mp.mpf(xv)))


def test_soft_heaviside_is_step_convolved_with_logistic():
    with mp.workdps(DPS):
        f = surrogate("soft_heaviside", {k: 2})
        for xv in XS:
            ref = convolve(lambda z: mp.mpf(z > 0) + mp.mpf(z == 0) / 2, logistic(2), mp.mpf(xv))
            assert close(f(mp.mpf(xv)), ref)


def test_smu_follows_the_max_identity():
    """SMU paper: max(a, b) = (a + b + |a - b|)/2 with |z| ~ z erf(mu z) (SMU) and
    sqrt(z^2 + mu^2) (SMU-1), at a = x, b = alpha x."""
    a, b = x, alpha * x
    smu = (a + b + (a - b) * sp.erf(mu * (a - b))) / 2
    smu1 = (a + b + sp.sqrt((a - b) ** 2 + mu**2)) / 2
    assert sp.simplify(catalog.get("smu").expr - smu) == 0
    assert sp.simplify(catalog.get("smu1").expr - smu1) == 0


# --- sup errors --------------------------------------------------------------------------


def maximise(err, guess, scale=1):
    """Root of err' near ``guess`` and the value there; err is a positive error curve whose
    features have width ``scale`` (the root is found in the rescaled variable)."""
    at = mp.findroot(lambda u: mp.diff(lambda w: err(w * scale), u), mp.mpf(guess))
    return at * scale, err(at * scale)


# name, other symbols, param symbol, target, guess for the maximiser at param 1
SUP_CASES = [
    ("abs_xtanh", {}, k, abs, 0.6),
    ("abs_xerf", {}, k, abs, 0.5),
    ("swish", {}, k, TARGETS["relu"], 1.2),
    ("gelu", {}, sigma, TARGETS["relu"], 0.7),
    ("smu", {alpha: 0.25}, mu, lambda v: max(v, v / 4), 0.7),
]


@pytest.mark.parametrize("name, fixed, param, target, guess", SUP_CASES)
@pytest.mark.parametrize("scale", [1, 8])
def test_sup_error_found_by_maximisation_equals_bound(name, fixed, param, target, guess, scale):
    """The interior maximum of |expr - target| (by root-finding on the derivative, on both
    sides of 0) equals the bound, at the recorded attained points; a dense scan finds
    nothing larger."""
    pv = mp.mpf(scale) if param is not sigma else 1 / mp.mpf(scale)
    x_scale = 1 / pv if param is not sigma else pv
    with mp.workdps(DPS):
        f = surrogate(name, {**fixed, param: pv})
        bound = bound_value(name, {**fixed, param: pv})
        for side in (1, -1):
            err = lambda v, side=side: abs(f(side * v) - target(side * v))  # noqa: E731
            at, top = maximise(err, guess, x_scale)
            assert close(top, bound, mp.mpf(10) ** -28)
            scan = max(err(x_scale * mp.mpf(j) / 200) for j in range(1, 2000))
            assert scan <= bound * (1 + mp.mpf(10) ** -30)
            assert scan >= bound * (1 - mp.mpf(10) ** -3)
    record = catalog.get(name)
    places = {abs(float(p[x])) for p in record.attained if float(p[param]) == 1}
    if scale == 1:
        assert any(abs(float(at) - q) < 1e-12 for q in places)


def test_stored_erf_constants_solve_the_stationarity_equation():
    with mp.workdps(70):
        v = mp.mpf(sp.N(activations.V_ERF, 70))
        c = mp.mpf(sp.N(activations.C_ERF, 70))
        assert abs(mp.erfc(v) - 2 * v * mp.exp(-(v**2)) / mp.sqrt(mp.pi)) < mp.mpf(10) ** -55
        assert abs(v * mp.erfc(v) - c) < mp.mpf(10) ** -55


def test_lambert_constant_is_max_of_u_over_one_plus_exp():
    with mp.workdps(DPS):
        at, top = maximise(lambda u: u / (1 + mp.exp(u)), 1.3)
        assert close(top, mp.mpf(sp.N(activations.W_E, DPS + 5)), mp.mpf(10) ** -30)
        assert close(at, 1 + top, mp.mpf(10) ** -30)  # attained at u = 1 + W(1/e)


# name, other symbols, param, target, where the sup sits (x at param 1), sign of error
AT_ZERO = [
    ("abs_sqrt", {}, mu, abs, 0, 1),
    ("softplus", {}, k, TARGETS["relu"], 0, 1),
    ("relu_gaussian", {}, sigma, TARGETS["relu"], 0, 1),
    ("smu1", {alpha: 0.25}, mu, lambda v: max(v, v / 4), 0, 1),
    ("sau", {alpha: 0.25}, sigma, lambda v: max(v, v / 4), 0, 1),
]


@pytest.mark.parametrize("name, fixed, param, target, at, sign", AT_ZERO)
def test_bound_attained_at_zero_and_error_has_one_sign(name, fixed, param, target, at, sign):
    with mp.workdps(DPS):
        for pv in (1, 0.125):
            f = surrogate(name, {**fixed, param: pv})
            bound = bound_value(name, {**fixed, param: pv})
            assert close(f(mp.mpf(at)) - target(at), bound, mp.mpf(10) ** -30)
            for j in range(-400, 401):
                v = mp.mpf(j) * pv / 40
                e = sign * (f(v) - target(v))
                assert 0 <= e <= bound * (1 + mp.mpf(10) ** -30)


def test_logcosh_sup_is_approached_not_attained():
    with mp.workdps(DPS):
        f = surrogate("abs_logcosh", {k: 2})
        bound = bound_value("abs_logcosh", {k: 2})
        errors = [abs(f(mp.mpf(v)) - abs(v)) for v in (0, 0.1, 1, 5, 20)]
        assert errors == sorted(errors) and errors[0] == 0
        assert all(e < bound for e in errors)
        assert bound - errors[-1] < mp.mpf(10) ** -15  # e^{-2 k |x|} / k = e^{-80}/2


@pytest.mark.parametrize(
    "name, sup",
    [("soft_sign_tanh", 1), ("soft_sign_erf", 1), ("soft_sign_arctan", 1), ("soft_heaviside", 0.5)],
)
def test_steps_have_no_uniform_bound(name, sup):
    """Near 0 the error approaches 1 (sign) or 1/2 (step) for every k: bound None is right;
    at 0 the surrogate equals the target, and far from 0 it converges."""
    record = catalog.get(name)
    assert record.bound is None
    target = mp.sign if name.startswith("soft_sign") else lambda v: mp.mpf(v > 0) + (v == 0) / 2
    with mp.workdps(DPS):
        for kv in (1, 100, 1e6):
            f = surrogate(name, {k: kv})
            assert f(mp.mpf(0)) == target(0)
            assert abs(f(mp.mpf(1e-9) / kv) - target(1)) > sup - 1e-6
            assert abs(f(mp.mpf(-1e-9) / kv) - target(-1)) > sup - 1e-6
        far = surrogate(name, {k: 1e6})
        assert abs(far(mp.mpf(0.1)) - 1) < 1e-4


def test_a_smaller_bound_is_violated_at_attained_points():
    """Test the test: 0.999 times each bound fails at the record's attained points."""
    for name in ("abs_xtanh", "abs_xerf", "swish", "gelu", "softplus", "relu_gaussian", "smu"):
        record = catalog.get(name)
        for point in record.attained:
            values = {s: sp.Float(v, DPS + 10) if not isinstance(v, sp.Basic) else v
                      for s, v in point.items()}  # fmt: skip
            err = sp.N(sp.Abs(record.expr - record.target).subs(values), DPS)
            assert err > sp.N(record.bound.subs(values), DPS) * sp.Float("0.999")
