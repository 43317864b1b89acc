"""Stable primitives against independent mpmath references of their naive formulas.

The reference for every value is the *naive* textbook formula written here again in mpmath
(not taken from the code under test) and evaluated at a precision raised until two precisions
agree: mpmath's exponent range is unbounded, so ``log(1 + exp(-1e4))`` is right once the working
precision exceeds ~4400 digits.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1

from symsmooth.functions import (
    MATH_MODULE,
    PRIMITIVES,
    LogSumExpOver,
    Phi,
    log1mexp,
    log_sigmoid,
    logsumexp,
    naive,
    phi,
    sigmoid,
    softplus,
)
from symsmooth.functions.numeric import np_log1mexp, np_logsumexp, np_sigmoid, np_softplus

mp = mpmath.mp
z = sp.Symbol("z", real=True)

NAIVE_MP = {
    "softplus": lambda t: mp.log(1 + mp.exp(t)),
    "sigmoid": lambda t: 1 / (1 + mp.exp(-t)),
    "log_sigmoid": lambda t: -mp.log(1 + mp.exp(-t)),
    "log1mexp": lambda t: mp.log(1 - mp.exp(t)),
    "logsumexp": lambda *ts: mp.log(mp.fsum(mp.exp(t) for t in ts)),
    "Phi": lambda t: (1 + mp.erf(t / mp.sqrt(2))) / 2,
    "phi": lambda t: mp.exp(-(t**2) / 2) / mp.sqrt(2 * mp.pi),
}
"""The textbook formulas, independent of symsmooth."""

NAIVE_SYMPY = {
    "softplus": lambda t: sp.log(1 + sp.exp(t)),
    "sigmoid": lambda t: 1 / (1 + sp.exp(-t)),
    "log_sigmoid": lambda t: -sp.log(1 + sp.exp(-t)),
    "log1mexp": lambda t: sp.log(1 - sp.exp(t)),
    "Phi": lambda t: (1 + sp.erf(t / sp.sqrt(2))) / 2,
    "phi": lambda t: sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi),
}

NAIVE_F64 = {
    "softplus": lambda t: np.log(1 + np.exp(t)),
    "sigmoid": lambda t: 1 / (1 + np.exp(-t)),
    "log_sigmoid": lambda t: -np.log(1 + np.exp(-t)),
    "log1mexp": lambda t: np.log(1 - np.exp(t)),
    "logsumexp": lambda *ts: np.log(sum(np.exp(t) for t in ts)),
    "Phi": lambda t: (1 + math.erf(t / math.sqrt(2))) / 2,
}

SCALAR_POINTS = {
    "softplus": ["-3.5", "-0.1", "0.5", "2", "30", "1000", "-40", "-1000", "-1e4", "1e4"],
    "sigmoid": ["-3.5", "-0.1", "0.5", "2", "30", "-800", "800", "-1e4", "40"],
    "log_sigmoid": ["-3.5", "-0.1", "0.5", "2", "-1e4", "1e4", "40", "-745"],
    "log1mexp": ["-3.5", "-0.1", "-0.6931", "-0.6932", "-1e-30", "-1e-300", "-40", "-800"],
    "Phi": ["-3.5", "-0.1", "0.5", "2", "8", "-10", "-40", "-38.5"],
    "phi": ["-3.5", "0.5", "2", "40", "-40", "-1e-20"],
}
LSE_POINTS = [
    ("1", "2"),
    ("-0.5", "0.25", "3"),
    ("1000", "1000"),
    ("-1e4", "-9999"),
    ("0", "-40"),
    ("0", "-1000"),
    ("1e4", "-1e4", "3"),
    ("-2", "-2", "-2", "-7"),
]


def _mpf(text: str) -> mpmath.mpf:
    return mp.mpf(sp.Rational(text).p) / sp.Rational(text).q


def _close(a, b, rel) -> bool:
    return a == b or abs(a - b) <= rel * abs(b)


def converged(func, *, start: int = 60):
    """mpmath value of ``func()`` at a precision where two precisions agree to 60 digits."""
    dps = start
    for _ in range(12):
        with mp.workdps(dps):
            a = func()
        with mp.workdps(dps + 40):
            b = func()
        if b != 0 and mp.isfinite(b) and _close(a, b, mp.mpf(10) ** -60):
            return b
        dps *= 2
    raise AssertionError("reference did not converge")


def digits_needed(name: str, *args: str) -> int:
    """A starting precision for :func:`converged`: exp(|x|) and 1 - exp(-tiny) cancel digits."""
    xs = [abs(float(a)) for a in args]
    values = [float(a) for a in args]
    spread = max(values) - min(values) if len(xs) > 1 else max(xs)
    tiny = max(0.0, -math.log10(min(x for x in xs if x > 0) if any(xs) else 1.0))
    tail = float(args[0]) ** 2 / 4.6 if name == "Phi" and float(args[0]) < 0 else 0.0
    return 60 + int(spread / 2.3 + tiny + tail)


def reference(name: str, *args: str):
    """Naive formula ``name`` at the exact decimal ``args``, converged to 60 digits."""
    start = digits_needed(name, *args)
    return converged(lambda: NAIVE_MP[name](*[_mpf(a) for a in args]), start=start)


def as_mp(value: sp.Expr) -> mpmath.mpf:
    return mp.mpf(sp.Float(value, 60)._mpf_)


def evalf50(expr: sp.Expr) -> mpmath.mpf:
    value = sp.N(expr, 50)
    assert value.is_Float, value
    return as_mp(value)


def assert_rel(got, want, rel: float) -> None:
    with mp.workdps(80):
        err = abs(got - want) / abs(want)
    assert err <= rel, f"got {got}, want {want}, relative error {err}"


@pytest.fixture(autouse=True)
def _mpmath_80_digits():
    """Work at 80 digits (mpf() rounds to the context precision); restore afterwards."""
    with mp.workdps(80):
        yield


SCALAR_CASES = [(n, p) for n, points in SCALAR_POINTS.items() for p in points]


# --- mpmath evaluation at 50 digits -----------------------------------------------------------


@pytest.mark.parametrize(("name", "point"), SCALAR_CASES)
def test_evalf_50_digits_matches_naive_reference(name, point):
    got = evalf50(PRIMITIVES[name](sp.Rational(point)))
    assert_rel(got, reference(name, point), 1e-48)


@pytest.mark.parametrize("point", LSE_POINTS)
def test_logsumexp_evalf_50_digits(point):
    got = evalf50(logsumexp(*[sp.Rational(p) for p in point]))
    assert_rel(got, reference("logsumexp", *point), 1e-48)


def test_evalf_recovers_cancellation_in_symbolic_arguments():
    # log(e^{-ln2} (1 + e^{1e-30})) = log1p(e^{1e-30}) - ln 2 = 5.0e-31 (1 + O(1e-30))
    tiny = sp.Rational(1, 10**30)
    got = evalf50(logsumexp(-sp.log(2) + tiny, -sp.log(2)))
    want = converged(lambda: NAIVE_MP["logsumexp"](-mp.log(2) + mp.mpf(10) ** -30, -mp.log(2)))
    assert_rel(got, want, 1e-48)
    got = evalf50(softplus(sp.pi - sp.Rational(314159265358979, 10**14)))
    want = converged(lambda: NAIVE_MP["softplus"](mp.pi - mp.mpf(314159265358979) / 10**14))
    assert_rel(got, want, 1e-48)


def test_evalf_at_other_precisions():
    for dps in (15, 100, 300):
        got = sp.N(sigmoid(sp.Rational(-700)), dps)
        want = converged(lambda: NAIVE_MP["sigmoid"](mp.mpf(-700)), start=dps + 400)
        with mp.workdps(dps + 10):
            assert abs(mp.mpf(got._mpf_) - want) <= abs(want) * mp.mpf(10) ** (1 - dps)


def test_evalf_of_non_real_argument_stays_symbolic():
    assert softplus(sp.I).evalf(20).has(softplus)


# --- float64: the naive form fails where the stable one does not -------------------------------

F64_FAILURES = [
    ("softplus", ("1000",), np.inf),
    ("softplus", ("-40",), 0.0),
    ("log_sigmoid", ("-1e4",), -np.inf),
    ("log1mexp", ("-1e-30",), -np.inf),
    ("log1mexp", ("-40",), 0.0),
    ("logsumexp", ("1000", "1000"), np.inf),
    ("logsumexp", ("-1e4", "-9999"), -np.inf),
    ("logsumexp", ("0", "-40"), 0.0),
    ("Phi", ("-10",), 0.0),
]


@pytest.mark.parametrize(("name", "args", "naive_value"), F64_FAILURES)
def test_float64_naive_fails_where_stable_forms_are_right(name, args, naive_value):
    floats = [float(a) for a in args]
    with np.errstate(all="ignore"):
        assert NAIVE_F64[name](*floats) == naive_value
    want = reference(name, *args)
    assert naive_value != float(want)
    assert_rel(evalf50(PRIMITIVES[name](*[sp.Rational(a) for a in args])), want, 1e-48)
    symbols = sp.symbols(f"a0:{len(args)}", real=True)
    expr = PRIMITIVES[name](*symbols)
    # Phi's float64 argument t = -z/sqrt(2) is rounded: relative condition 2 t^2 (Cody 1969)
    tol = 4e-16 * (1 + floats[0] ** 2 if name == "Phi" else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for module in ("numpy", "mpmath", [MATH_MODULE, "math"]):
            value = sp.lambdify(symbols, expr, module)(*floats)
            assert_rel(mp.mpf(value), want, tol)


def test_sigmoid_float64_naive_overflows_stable_does_not():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            NAIVE_F64["sigmoid"](np.float64(-800.0))
        got = np_sigmoid(np.array([-745.0, -700.0, 0.0, 700.0]))
    want = [reference("sigmoid", p) for p in ("-745", "-700", "0", "700")]
    assert got[0] == float(want[0])  # subnormal, correctly rounded
    for g, w in zip(got[1:], want[1:], strict=True):
        assert_rel(mp.mpf(g), w, 4e-16)


# --- derivatives --------------------------------------------------------------------------------

FDIFF_FORMS = {
    "softplus": lambda t: sigmoid(t),
    "sigmoid": lambda t: sigmoid(t) * sigmoid(-t),
    "log_sigmoid": lambda t: sigmoid(-t),
    "log1mexp": lambda t: -1 / expm1(-t),
    "Phi": lambda t: phi(t),
    "phi": lambda t: -t * phi(t),
}


@pytest.mark.parametrize("name", sorted(FDIFF_FORMS))
def test_fdiff_is_the_stable_form(name):
    assert sp.diff(PRIMITIVES[name](z), z) == FDIFF_FORMS[name](z)


@pytest.mark.parametrize(("name", "point"), SCALAR_CASES)
def test_fdiff_matches_mpmath_numerical_derivative(name, point):
    derivative = sp.diff(PRIMITIVES[name](z), z).subs(z, sp.Rational(point))
    want = converged(lambda: mp.diff(NAIVE_MP[name], _mpf(point)), start=digits_needed(name, point))
    assert_rel(evalf50(derivative), want, 1e-42)


GRADIENT_POINTS = [p for p in LSE_POINTS if "1e4" not in p] + [("1000", "-1000", "3")]
"""Numerical differentiation of the naive form needs ~(max - min)/2.3 digits: keep it < 1000."""


@pytest.mark.parametrize("point", GRADIENT_POINTS)
def test_logsumexp_gradient_matches_mpmath(point):
    xs = sp.symbols(f"x0:{len(point)}", real=True)
    values = {x: sp.Rational(p) for x, p in zip(xs, point, strict=True)}
    for k, x in enumerate(xs):
        assert sp.diff(logsumexp(*xs), x) == sp.exp(x - logsumexp(*xs))

        def partial(k=k):
            args = [_mpf(p) for p in point]
            return mp.diff(lambda t: NAIVE_MP["logsumexp"](*args[:k], t, *args[k + 1 :]), args[k])

        got = evalf50(sp.diff(logsumexp(*xs), x).subs(values))
        assert_rel(got, converged(partial, start=digits_needed("logsumexp", *point)), 1e-42)


def test_second_derivatives_match_mpmath():
    for name in ("softplus", "log1mexp", "Phi"):
        point = "-0.25" if name == "log1mexp" else "-7"
        second = sp.diff(PRIMITIVES[name](z), z, 2).subs(z, sp.Rational(point))
        want = converged(lambda name=name, point=point: mp.diff(NAIVE_MP[name], _mpf(point), 2))
        assert_rel(evalf50(second), want, 1e-40)


# --- rewrites, exact rules, assumptions --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NAIVE_SYMPY))
def test_naive_rewrite_is_the_textbook_formula(name):
    expr = PRIMITIVES[name](z)
    assert sp.simplify(expr.rewrite("naive") - NAIVE_SYMPY[name](z)) == 0
    assert naive(2 * expr + 1) == 2 * NAIVE_SYMPY[name](z) + 1
    naive_mp = sp.lambdify(z, expr.rewrite("naive"), "mpmath")
    rng = np.random.default_rng(7)
    for t in rng.uniform(-30, -0.01, 5):
        point = repr(float(t))
        want = converged(lambda point=point: naive_mp(_mpf(point)))
        assert_rel(evalf50(expr.subs(z, sp.Rational(point))), want, 1e-48)


def test_rewrite_via_exp_log_and_erf():
    x, y = sp.symbols("x y", real=True)
    assert logsumexp(x, y).rewrite(sp.exp) == sp.log(sp.exp(x) + sp.exp(y))
    assert softplus(z).rewrite(sp.log) == sp.log(1 + sp.exp(z))
    assert Phi(z).rewrite(sp.erf) == (1 + sp.erf(z / sp.sqrt(2))) / 2
    assert phi(z).rewrite(sp.exp) == sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)


@pytest.mark.parametrize(
    ("expr", "textbook"),
    [
        (softplus(0), sp.log(1 + sp.exp(0))),
        (sigmoid(0), 1 / (1 + sp.exp(0))),
        (log_sigmoid(0), -sp.log(1 + sp.exp(0))),
        (log1mexp(-sp.log(2)), sp.log(1 - sp.exp(-sp.log(2)))),
        (Phi(0), (1 + sp.erf(0)) / 2),
        (phi(0), sp.exp(0) / sp.sqrt(2 * sp.pi)),
        (sigmoid(sp.oo), sp.limit(1 / (1 + sp.exp(-z)), z, sp.oo)),
        (softplus(-sp.oo), sp.limit(sp.log(1 + sp.exp(z)), z, -sp.oo)),
        (log_sigmoid(-sp.oo), sp.limit(-sp.log(1 + sp.exp(-z)), z, -sp.oo)),
        (log1mexp(sp.S.Zero), sp.limit(sp.log(1 - sp.exp(z)), z, 0, "-")),
        (Phi(-sp.oo), sp.limit((1 + sp.erf(z / sp.sqrt(2))) / 2, z, -sp.oo)),
    ],
)
def test_exact_values_equal_the_textbook_formula(expr, textbook):
    assert sp.simplify(expr - textbook) == 0 if textbook.is_finite else expr == textbook


def test_logsumexp_exact_rules():
    x, y, w = sp.symbols("x y w", real=True)
    assert logsumexp(x) == x
    assert logsumexp() == -sp.oo
    assert logsumexp(y, x) == logsumexp(x, y)
    assert logsumexp(y, x).args == tuple(sorted((x, y), key=sp.default_sort_key))
    assert logsumexp(x, -sp.oo, y) == logsumexp(x, y)
    assert logsumexp(x, sp.oo) == sp.oo
    assert logsumexp(w, logsumexp(y, x)) == logsumexp(w, x, y)
    assert logsumexp(x, x, x) == x + sp.log(3)
    # each rule is exact: compare with the naive formula at a point
    for expr in (logsumexp(w, logsumexp(y, x)), logsumexp(x, x, x)):
        vals = {x: sp.Rational(1, 3), y: -2, w: 5}
        assert_rel(evalf50(expr.subs(vals)), evalf50(naive(expr).subs(vals)), 1e-48)


def test_assumptions():
    c = sp.Symbol("c")
    neg = sp.Symbol("neg", negative=True)
    assert softplus(z).is_positive and sigmoid(z).is_positive and Phi(z).is_positive
    assert phi(z).is_positive and log_sigmoid(z).is_negative
    assert log1mexp(neg).is_negative and log1mexp(neg).is_real
    assert log1mexp(z).is_real is None
    assert softplus(c).is_positive is None and softplus(c).is_real is None
    assert logsumexp(z, 2 * z).is_real
    assert phi(-z) == phi(z)


# --- printing ------------------------------------------------------------------------------------


def test_printing():
    x, y, z = sp.symbols("x y z")
    expected = {
        softplus(z): (r"\operatorname{softplus}", "softplus"),
        sigmoid(z): (r"\sigma", "σ"),
        log_sigmoid(z): (r"\log\sigma", "log σ"),
        log1mexp(z): (r"\operatorname{log1mexp}", "log1mexp"),
        logsumexp(x, y): (r"\operatorname{LSE}", "LSE"),
        Phi(z): (r"\Phi", "Φ"),
        phi(z): (r"\phi", "φ"),
    }
    for expr, (tex, pretty) in expected.items():
        assert sp.latex(expr).startswith(tex + r"\left(")
        assert pretty in sp.pretty(expr, use_unicode=True)
        assert str(expr) == f"{type(expr).__name__}({', '.join(map(str, expr.args))})"
        assert sp.sympify(str(expr), locals=PRIMITIVES) == expr
    assert sp.latex(sigmoid(z) ** 2) == r"\sigma\left(z\right)^{2}"
    assert sp.pretty(softplus(z), use_unicode=False) == "softplus(z)"


# --- NumPy implementations -----------------------------------------------------------------------


def test_numpy_keeps_float32_and_is_accurate():
    t = np.array([-80.0, -20.0, -1.0, 0.0, 3.0, 90.0], dtype=np.float32)  # normal range
    for name, fn in (("softplus", np_softplus), ("sigmoid", np_sigmoid)):
        out = fn(t)
        assert out.dtype == np.float32
        for g, p in zip(out, t, strict=True):
            want = reference(name, repr(float(p)))
            assert_rel(mp.mpf(float(g)), want, 2 * np.finfo(np.float32).eps)


def test_numpy_limits_without_warnings():
    inf, nan = np.inf, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np_logsumexp(inf, 1.0) == inf and np_logsumexp(-inf, -inf) == -inf
        assert np.isnan(np_logsumexp(nan, 1.0)) and np_logsumexp() == -inf
        assert np_logsumexp(-inf, 2.0) == 2.0
        assert np_log1mexp(0.0) == -inf and np.isnan(np_log1mexp(0.5))
        assert np_sigmoid(inf) == 1.0 and np_sigmoid(-inf) == 0.0 and np.isnan(np_sigmoid(nan))
        assert np_softplus(-inf) == 0.0 and np_softplus(inf) == inf
    with np.errstate(all="ignore"):  # the textbook limits
        assert np.isnan(NAIVE_F64["logsumexp"](inf, inf) - inf)
    rows = np_logsumexp(np.array([[0.0], [1000.0]]), np.array([-40.0, 999.0]))
    assert rows.shape == (2, 2)
    assert_rel(mp.mpf(rows[1, 1]), reference("logsumexp", "1000", "999"), 4e-16)


# --- hypothesis: random points in [-700, 700] --------------------------------------------------

FLOATS = st.floats(-700, 700, allow_nan=False, allow_infinity=False)


def _check(name: str, *floats: float) -> None:
    args = [repr(f) for f in floats]
    got = evalf50(PRIMITIVES[name](*[sp.Rational(a) for a in args]))
    assert_rel(got, reference(name, *args), 1e-40)


@settings(max_examples=40, deadline=None)
@given(t=FLOATS, name=st.sampled_from(["softplus", "sigmoid", "log_sigmoid", "phi"]))
def test_hypothesis_scalar_primitives(t, name):
    _check(name, t)


@settings(max_examples=40, deadline=None)
@given(t=st.floats(-700, -1e-300, allow_nan=False))
def test_hypothesis_log1mexp(t):
    _check("log1mexp", t)


@settings(max_examples=30, deadline=None)
@given(t=st.floats(-100, 700, allow_nan=False))
def test_hypothesis_Phi(t):
    _check("Phi", t)


@settings(max_examples=40, deadline=None)
@given(ts=st.lists(FLOATS, min_size=2, max_size=5))
def test_hypothesis_logsumexp(ts):
    _check("logsumexp", *ts)


# --- LogSumExpOver -----------------------------------------------------------------------------

X = sp.IndexedBase("x")
i, j = sp.symbols("i j", integer=True)
n = sp.Symbol("n", integer=True, positive=True)
VALUES = ["1000", "999.5", "-3", "1000"]


def _at(expr: sp.Expr) -> sp.Expr:
    subs = {X[k + 1]: sp.Rational(v) for k, v in enumerate(VALUES)}
    return expr.subs(n, len(VALUES)).doit().subs(subs)


def test_lse_over_doit_and_evalf():
    lse = LogSumExpOver(X[i], (i, 1, n))
    assert lse.subs(n, 3).doit() == logsumexp(X[1], X[2], X[3])
    assert LogSumExpOver(X[i], (i, 1, 0)).doit() == -sp.oo
    assert lse.doit() == lse
    assert_rel(evalf50(_at(lse)), reference("logsumexp", *VALUES), 1e-48)
    nested = LogSumExpOver(X[i] + X[j], (j, 1, i), (i, 1, 2)).doit()
    assert nested == logsumexp(2 * X[1], X[1] + X[2], 2 * X[2])
    got = evalf50(LogSumExpOver(1000 * i, (i, 1, 3)))
    assert_rel(got, reference("logsumexp", "1000", "2000", "3000"), 1e-48)


def test_lse_over_naive_rewrite():
    lse = LogSumExpOver(X[i], (i, 1, n))
    textbook = sp.log(sp.Sum(sp.exp(X[i]), (i, 1, n)))
    assert lse.rewrite("naive") == textbook
    assert_rel(evalf50(_at(textbook)), evalf50(_at(lse)), 1e-48)


def test_lse_over_gradient_is_softmax():
    lse = LogSumExpOver(X[i], (i, 1, n))
    assert sp.diff(lse, X[j]) == sp.exp(X[j] - lse)
    args = [_mpf(v) for v in VALUES]
    for k in range(len(VALUES)):

        def partial(k=k):
            return mp.diff(lambda t: NAIVE_MP["logsumexp"](*args[:k], t, *args[k + 1 :]), args[k])

        got = evalf50(_at(sp.diff(lse, X[j]).subs(j, k + 1)))
        assert_rel(got, converged(partial), 1e-42)
    hess = _at(sp.diff(lse, X[j], X[j]).subs(j, 2))
    want = converged(
        lambda: mp.diff(lambda t: NAIVE_MP["logsumexp"](args[0], t, *args[2:]), args[1], 2)
    )
    assert_rel(evalf50(hess), want, 1e-40)


def test_lse_over_derivative_in_parameters():
    k, y = sp.symbols("k y", positive=True)
    lse = LogSumExpOver(k * X[i] - y, (i, 1, n))
    assert sp.diff(lse, y) == -1
    assert sp.diff(lse, n) == sp.Derivative(lse, n)
    args = [_mpf(v) / 1000 for v in VALUES]
    dk = sp.diff(lse, k).subs(n, len(VALUES)).doit().subs({k: 3, y: 1})
    dk = dk.subs({X[m + 1]: sp.Rational(v) / 1000 for m, v in enumerate(VALUES)})
    want = converged(
        lambda: mp.diff(lambda s: NAIVE_MP["logsumexp"](*[s * a - 1 for a in args]), 3)
    )
    assert_rel(evalf50(dk), want, 1e-42)


def test_lse_over_printing_and_lambdify():
    lse = LogSumExpOver(X[i], (i, 1, n))
    assert sp.latex(lse) == r"\operatorname{LSE}_{i=1}^{n}\left({x}_{i}\right)"
    assert "LSE" in sp.pretty(lse) and str(lse) == "LogSumExpOver(x[i], (i, 1, n))"
    data = np.array([np.nan, 1000.0, 999.5, -3.0, 1000.0])  # Indexed is 1-based, as in Sum
    want = reference("logsumexp", *VALUES)
    for module in ("numpy", "mpmath"):
        f = sp.lambdify((X, n), lse, module)
        assert_rel(mp.mpf(f(data, 4)), want, 4e-16)
