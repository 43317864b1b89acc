"""Known answers for article 1 and the max family (catalog.md §1: M1-M6, K8, eqs 13-14).

References are written out here with mpmath, independently of the catalog expressions.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.catalog.maxima import k_odd
from symsmooth.symbols import X, k, n, x, y
from symsmooth.verification.reference import evaluate

mp = mpmath.mpf
DPS = 50
XS = [-7.25, -1.0, -0.03125, 0.0, 1e-12, 0.5, 3.0, 40.0]
KS = [0.5, 1.0, 10.0, 1e3]


@pytest.fixture(autouse=True)
def _precision():
    """Do the test's own arithmetic (differences of 50-digit values) at 70 digits."""
    with mpmath.workdps(DPS + 20):
        yield


def close(a, b, tol=1e-40) -> bool:
    with mpmath.workdps(DPS + 10):
        return abs(mp(a) - mp(b)) <= tol * max(1, abs(mp(b)))


def f(name, point, dps=DPS):
    record = catalog.get(name)
    return evaluate(record.expr, point, dps=dps)


@pytest.mark.parametrize("kv", KS)
@pytest.mark.parametrize("xv", XS)
def test_m1_three_forms_of_eq6_agree(xv, kv):
    """M1: (1/k) log(2 + e^{kx} + e^{-kx}) = (2/k) log(2 cosh(kx/2))
    = |x| + (2/k) log(1 + e^{-k|x|})."""
    value = f("smooth_abs_logistic", {x: xv, k: kv})
    with mpmath.workdps(DPS + 10):
        X_, K_ = mp(xv), mp(kv)
        cosh_form = 2 / K_ * mpmath.log(2 * mpmath.cosh(K_ * X_ / 2))
        abs_form = abs(X_) + 2 / K_ * mpmath.log1p(mpmath.exp(-K_ * abs(X_)))
    assert close(value, cosh_form, 1e-45) and close(value, abs_form, 1e-45)
    assert 0 <= value - abs(xv) <= 2 * mpmath.log(2) / kv + mp(10) ** -45


@pytest.mark.parametrize("xv", [-2.0, 0.0, 0.7])
def test_k8_eq6_is_abs_convolved_with_logistic(xv):
    """Eq (6) at k = t equals the integral of |x - u| t e^{tu}/(1 + e^{tu})^2 du."""
    kv = 2.0
    with mpmath.workdps(30):
        density = lambda u: kv * mpmath.exp(-kv * abs(u)) / (1 + mpmath.exp(-kv * abs(u))) ** 2  # noqa: E731
        conv = mpmath.quad(
            lambda u: abs(xv - u) * density(u), [-mpmath.inf, *sorted({0, xv}), mpmath.inf]
        )
        assert abs(conv - f("smooth_abs_logistic", {x: xv, k: kv}, 30)) < 1e-25


@pytest.mark.parametrize("kv", KS)
@pytest.mark.parametrize("xv", XS)
def test_m2_eq7_exact_error(xv, kv):
    value = f("smooth_abs_log2cosh", {x: xv, k: kv})
    with mpmath.workdps(DPS + 10):
        exact = abs(mp(xv)) + mpmath.log1p(mpmath.exp(-2 * mp(kv) * abs(mp(xv)))) / mp(kv)
    assert close(value, exact, 1e-45)
    assert 0 <= value - abs(xv) <= mpmath.log(2) / kv + mp(10) ** -45


def test_m3_eq8_equals_eq9_symbolically_and_numerically():
    a, b = sp.exp(k * (x + y)), sp.exp(k * (x - y))
    product = sp.expand(sp.powsimp(sp.expand((a + 1 / a) * (b + 1 / b))))
    four = sp.exp(2 * k * x) + sp.exp(-2 * k * x) + sp.exp(2 * k * y) + sp.exp(-2 * k * y)
    assert sp.simplify(sp.powsimp(product - four)) == 0
    record = catalog.get("max_abs_pair_logsumexp")
    rng = np.random.default_rng(3)
    for xv, yv, kv in zip(
        rng.normal(0, 3, 10), rng.normal(0, 3, 10), [0.5, 2, 7, 30, 1] * 2, strict=True
    ):
        with mpmath.workdps(DPS + 10):
            X_, Y_, K_ = mp(xv), mp(yv), mp(kv)
            eq8 = (
                mpmath.log(2 * mpmath.cosh(K_ * (X_ + Y_)))
                + mpmath.log(2 * mpmath.cosh(K_ * (X_ - Y_)))
            ) / (2 * K_)
        assert close(evaluate(record.expr, {x: xv, y: yv, k: kv}, DPS), eq8, 1e-45)


def test_eq9_limit_is_max_abs_not_max():
    record = catalog.get("max_abs_pair_logsumexp")
    assert abs(f("max_abs_pair_logsumexp", {x: -3, y: 1, k: 50}) - 3) < 1e-100
    assert evaluate(record.target, {x: -3, y: 1}) == 3  # max(|x|, |y|); max(x, y) would be 1
    tie = f("max_abs_pair_logsumexp", {x: 0, y: 0, k: 4})
    assert close(tie, mpmath.log(2) / 4)


@pytest.mark.parametrize(
    ("xv", "yv"), [(2, 1), (-1, 3.5), (0.25, 0.25), (-1e3, -1e3 + 1e-9), (5, -5)]
)
@pytest.mark.parametrize("kv", [0.5, 3.0, 100.0])
def test_m4_eq11_exact_error(xv, yv, kv):
    value = f("max_pair_logsumexp", {x: xv, y: yv, k: kv})
    with mpmath.workdps(DPS + 10):
        exact = max(mp(xv), mp(yv)) + mpmath.log1p(mpmath.exp(-mp(kv) * abs(mp(xv) - mp(yv)))) / kv
    assert close(value, exact, 1e-45)


def test_m4_eq11_tie_attains_ln2_over_k():
    for point in ({x: 1.5, y: 1.5, k: 3}, {x: -40, y: -40, k: 0.1}):
        err = f("max_pair_logsumexp", point) - max(point[x], point[y])
        assert close(err, mpmath.log(2) / point[k], 1e-45)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_m5_m6_logsumexp_bound(size):
    rng = np.random.default_rng(size)
    for kv in (0.5, 2.0, 50.0):
        values = list(rng.normal(0, 2, size))
        lse = f("logsumexp_max", {n: size, X: values, k: kv})
        with mpmath.workdps(DPS + 10):
            direct = mpmath.log(mpmath.fsum(mpmath.exp(kv * mp(v)) for v in values)) / kv
        assert close(lse, direct, 1e-45)
        assert max(values) <= lse <= max(values) + mpmath.log(size) / kv + mp(10) ** -45
        if size > 1 and kv < 1:  # the excess is resolvable at 50 digits: strictly positive
            assert lse > max(values)
        tie = f("logsumexp_max", {n: size, X: [values[0]] * size, k: kv})
        assert close(tie - values[0], mpmath.log(size) / kv, 1e-40)


def test_logsumexp_known_value_and_softmin_bound():
    with mpmath.workdps(30):
        expected = mpmath.log(sum(mpmath.exp(v) for v in [2, 1, 4, 5, 3]))
    assert close(f("logsumexp_max", {n: 5, X: [2, 1, 4, 5, 3], k: 1}), expected, 1e-28)
    values = [0.5, -2.0, 7.0]
    soft = f("logsumexp_min", {n: 3, X: values, k: 4})
    assert min(values) - mpmath.log(3) / 4 <= soft < min(values)
    with mpmath.workdps(DPS + 10):
        direct = -mpmath.log(sum(mpmath.exp(-4 * mp(v)) for v in values)) / 4
    assert close(soft, direct, 1e-45)


@pytest.mark.parametrize(
    ("xv", "yv", "kv", "err11", "err13"),
    [(2, 1, 3, 1.62e-2, 2.23e-3), (0.5, 0.4, 1, 0.644, 0.074), (10, 9, 3, 0.0162, 0.574)],
)
def test_eq13_precision_is_scale_dependent(xv, yv, kv, err11, err13):
    """catalog.md §1 item 12: neither (11) nor (13) is uniformly more precise."""
    e11 = f("max_pair_logsumexp", {x: xv, y: yv, k: kv}) - max(xv, yv)
    e13 = evaluate(catalog.get("max_pair_odd_power").expr, {x: xv, y: yv, k_odd: kv}) - max(xv, yv)
    with mpmath.workdps(30):
        direct13 = mpmath.root(mp(xv) ** (2 * kv + 1) + mp(yv) ** (2 * kv + 1), 2 * kv + 1)
    assert close(e13 + max(xv, yv), direct13, 1e-25)
    assert float(e11) == pytest.approx(err11, rel=6e-3)
    assert float(e13) == pytest.approx(err13, rel=6e-3)


def test_eq13_limit_on_the_valid_quadrant():
    expr = catalog.get("max_pair_odd_power").expr
    errors = [evaluate(expr, {x: 3, y: 2.9, k_odd: m}) - 3 for m in (1, 10, 100, 1000)]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)) and errors[-1] < 1e-10


def test_eq14_bound_at_tie_and_tiny_error_elsewhere():
    tie = f("max_pair_double_exp", {x: 0, y: 0, k: 5})
    assert close(tie, mpmath.log(1 + mpmath.log(2)) / 5, 1e-45)
    far = f("max_pair_double_exp", {x: 1, y: 0.5, k: 10}) - 1
    with mpmath.workdps(DPS + 10):
        # f - x = (1/k) log(1 + e^{-kx} log(1 + e^{e^{ky} - e^{kx}}))
        exact = (
            mpmath.log1p(mpmath.exp(-10) * mpmath.log1p(mpmath.exp(mpmath.exp(5) - mpmath.exp(10))))
            / 10
        )
    assert 0 < exact < mp(10) ** -9000  # doubly-exponentially small ...
    assert abs(far) < mp(10) ** -45  # ... so zero at 50 digits
