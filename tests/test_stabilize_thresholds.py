"""Regime thresholds: recomputed from their definitions with mpmath, per format; branchy forms.

For a branch ``g`` replacing ``f`` beyond a threshold, the definition is
``|f(z) - g(z)| < ulp(f(z))/2`` (ulp of the format, subnormal floor included).  The tests scan
z on a fine grid (plus the binade tops of ``f``, where the relative ulp is smallest) and check
that the statement holds on the table's side (safe) and fails within 0.6 of the value on the
other side (tight: the derivation is not needlessly conservative).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
import sympy as sp

from symsmooth.errors import StabilizeError
from symsmooth.functions import log1mexp, log_sigmoid, logsumexp, sigmoid, softplus
from symsmooth.stabilization.regimes import expand_regimes
from symsmooth.stabilization.thresholds import FORMATS, THRESHOLDS, threshold

mp = mpmath.mp
DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}


def _ulp(v: mpmath.mpf, dtype: str) -> mpmath.mpf:
    fmt = FORMATS[dtype]
    if v == 0:
        return mpmath.mpf(fmt.tiny)
    _, e = mpmath.frexp(v)  # |v| in [2^(e-1), 2^e)
    return max(mpmath.ldexp(1, int(e) - fmt.p), mpmath.mpf(fmt.tiny))


def _softplus(z):
    return mpmath.log1p(mpmath.exp(z)) if z < 0 else z + mpmath.log1p(mpmath.exp(-z))


def _sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def _log1mexp(z):
    """Exact at any working precision (no cancellation on either side)."""
    return mpmath.log(-mpmath.expm1(z)) if z > -mpmath.log(2) else mpmath.log1p(-mpmath.exp(z))


BRANCHES = {
    "softplus_linear": (_softplus, lambda z: z),
    "softplus_plus_exp": (_softplus, lambda z: z + mpmath.exp(-z)),
    "softplus_exp": (_softplus, mpmath.exp),
    "sigmoid_one": (_sigmoid, lambda z: mpmath.mpf(1)),
    "sigmoid_exp": (_sigmoid, mpmath.exp),
    "log_sigmoid_linear": (lambda z: -_softplus(-z), lambda z: z),
    "log_sigmoid_minus_exp": (lambda z: -_softplus(-z), lambda z: z - mpmath.exp(z)),
    "log_sigmoid_exp": (lambda z: -_softplus(-z), lambda z: -mpmath.exp(-z)),
    "log1mexp_exp": (lambda z: _log1mexp(z), lambda z: -mpmath.exp(z)),
}
"""Threshold name -> (exact f, branch g): the statement is |f - g| < ulp(f)/2."""


def _holds(name: str, dtype: str, z) -> bool:
    f, g = BRANCHES[name]
    with mpmath.workdps(60):
        z = mpmath.mpf(z)
        fz = f(z)
        return abs(fz - g(z)) < _ulp(fz, dtype) / 2


def _grid(value: float, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(points on the safe side, points on the other side within 0.6)."""
    safe_dir = 1 if side == "above" else -1
    safe = value + safe_dir * np.concatenate([np.linspace(1e-9, 1.5, 1501), [3, 10, 30, 100]])
    other = value - safe_dir * np.linspace(1e-9, 0.6, 601)
    return safe, other


def _binade_tops(name: str, dtype: str, value: float, side: str) -> list[float]:
    """z where f(z) lies just below a power of two, on the safe side near the threshold."""
    f, _ = BRANCHES[name]
    lo, hi = (value, value + 2.0) if side == "above" else (value - 2.0, value)
    with mpmath.workdps(60):
        a, b = sorted((abs(f(mpmath.mpf(lo))), abs(f(mpmath.mpf(hi)))))
        tops = []
        for e in range(int(mpmath.floor(mpmath.log(a, 2))), int(mpmath.ceil(mpmath.log(b, 2))) + 1):
            target = mpmath.ldexp(1, e) * (1 - mpmath.mpf(2) ** -40)
            if a < target < b:
                goal = target if f(mpmath.mpf(lo)) > 0 else -target
                root = mpmath.findroot(lambda t, g=goal: f(t) - g, (lo, hi), solver="anderson")
                tops.append(float(root))
    return tops


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_branch_threshold_is_safe_and_tight(name, dtype):
    t = THRESHOLDS[dtype][name]
    safe, other = _grid(t.value, t.side)
    tops = _binade_tops(name, dtype, t.value, t.side)
    for z in [*safe, *tops]:
        assert _holds(name, dtype, z), f"{name}/{dtype}: fails at z = {z!r} (table {t.value})"
    assert not all(_holds(name, dtype, z) for z in other), f"{name}/{dtype}: not tight"


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_overflow_and_underflow_edges(dtype):
    f = NP[dtype]
    over, under = threshold("exp_overflow", dtype), threshold("exp_underflow", dtype)
    with np.errstate(all="ignore"):
        assert np.isinf(np.exp(f(over + 1e-3))) and np.isfinite(np.exp(f(over - 1e-3)))
        assert np.exp(f(under - 1e-3)) == 0 and np.exp(f(under + 1e-3)) > 0
    with mpmath.workdps(40):
        assert mpmath.exp(over) <= FORMATS[dtype].max < mpmath.exp(over + 1e-9)
        half_tiny = mpmath.mpf(FORMATS[dtype].tiny) / 2
        assert mpmath.exp(under) <= half_tiny < mpmath.exp(under + 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_erf_thresholds_are_roots(dtype):
    fmt = FORMATS[dtype]
    one, under = threshold("erf_one", dtype), threshold("erfc_underflow", dtype)
    with mpmath.workdps(40):
        half_ulp_below_one = mpmath.mpf(2) ** -(fmt.p + 1)
        assert mpmath.erfc(one) < half_ulp_below_one < mpmath.erfc(one - 1e-5)
        half_tiny = mpmath.mpf(fmt.tiny) / 2
        assert mpmath.erfc(under) < half_tiny < mpmath.erfc(under - 1e-5)
    # and the float-level consequence: erf saturates (1 - erf = 0) past the first one
    assert NP[dtype](scipy.special.erf(one + 0.01)) == 1.0
    assert NP[dtype](scipy.special.erf(one - 0.3)) < 1.0


def test_log1mexp_split_each_formula_is_accurate_on_its_side_only():
    split = threshold("log1mexp_split")
    assert split == -np.log(2.0) == threshold("log1mexp_split", "float32")
    above = -np.geomspace(1e-300, -split, 60)[:-1]
    below = -np.geomspace(-split, 700, 60)[1:]

    def err(values, formula):
        with mpmath.workdps(60):
            refs = [float(_log1mexp(mpmath.mpf(v))) for v in values]
        with np.errstate(all="ignore"):
            got = formula(values)
        return np.abs(got - refs) / np.spacing(np.abs(refs))

    expm1_form = lambda z: np.log(-np.expm1(z))  # noqa: E731
    log1p_form = lambda z: np.log1p(-np.exp(z))  # noqa: E731
    assert err(above, expm1_form).max() <= 2 and err(below, log1p_form).max() <= 2
    assert err(np.array([-1e-10]), log1p_form)[0] > 1e6  # wrong side: cancellation in 1 - e^z
    assert err(np.array([-40.0]), expm1_form)[0] > 1e6  # wrong side: log(1 - tiny) = 0


def test_unknown_threshold_or_dtype_fails_loudly():
    with pytest.raises(StabilizeError, match="softplus_linear"):
        threshold("softplus_lineer")
    with pytest.raises(StabilizeError, match="float64"):
        threshold("softplus_linear", "float16")


def test_every_threshold_has_derivation_and_reference():
    for dtype, table in THRESHOLDS.items():
        assert set(table) == set(THRESHOLDS["float64"])
        for t in table.values():
            assert t.dtype == dtype and t.side in ("above", "below")
            assert t.derivation and t.reference and t.statement


# --- branchy evaluations ---------------------------------------------------------------------

z = sp.Symbol("z", real=True)
PRIMITIVES = {
    "softplus": (softplus(z), _softplus),
    "sigmoid": (sigmoid(z), _sigmoid),
    "log_sigmoid": (log_sigmoid(z), lambda v: -_softplus(-v)),
    "log1mexp": (log1mexp(z), _log1mexp),
}


def _points(dtype: str, negative_only: bool) -> np.ndarray:
    cuts = [t.value for t in THRESHOLDS[dtype].values()]
    near = [c + d for c in cuts for d in (-1e-3, -1e-9, 0.0, 1e-9, 1e-3)]
    wide = np.concatenate([np.linspace(-120, 120, 2401), -np.geomspace(1e-30, 740, 400)])
    pts = np.concatenate([wide, -wide, near])
    if dtype == "float32":
        pts = pts[np.abs(pts) < 103]
    pts = pts[pts < 0] if negative_only else pts
    return np.unique(pts.astype(dtype))


def _max_ulps(expr, exact, dtype: str, negative_only: bool = False) -> float:
    pts = _points(dtype, negative_only)
    f = sp.lambdify(z, expand_regimes(expr, dtype), modules="numpy")
    with np.errstate(all="ignore"):
        got = np.asarray(f(pts), dtype=dtype)
    with mpmath.workdps(60):
        ref = np.array([float(exact(mpmath.mpf(float(v)))) for v in pts]).astype(dtype)
    finite = np.isfinite(ref)
    assert np.array_equal(np.isfinite(got), finite)
    err = np.abs(got[finite].astype(float) - ref[finite]) / np.spacing(np.abs(ref[finite]))
    return float(err.max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_branchy_forms_are_accurate(name, dtype):
    """Max error <= 2 ulp over [-740, 740] and around every cut (NumPy libm exp/log1p)."""
    expr, exact = PRIMITIVES[name]
    assert _max_ulps(expr, exact, dtype, negative_only=name == "log1mexp") <= 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_branchy_logaddexp_keeps_the_tiny_remainder(dtype):
    a, b, c = sp.symbols("a b c", real=True)
    f = sp.lambdify((a, b), expand_regimes(logsumexp(a, b), dtype), modules="numpy")
    cast = NP[dtype]
    cases = [(0.0, -40.0), (80.0, 79.0), (-80.0, -80.0), (1.0, -3.0), (-1e-3, 2e-3)]
    for args in cases:
        with mpmath.workdps(60):
            ref = cast(float(mpmath.log(mpmath.fsum(mpmath.exp(v) for v in args))))
        got = cast(f(*[cast(v) for v in args]))
        assert abs(got - ref) <= 2 * np.spacing(abs(ref)), (args, got, ref)
    with np.errstate(all="ignore"):
        assert f(-np.inf, -np.inf) == -np.inf and f(np.inf, np.inf) == np.inf
        assert f(np.inf, 0.0) == np.inf and f(-np.inf, 1.0) == 1.0
    assert expand_regimes(logsumexp(a, b, c), dtype) == logsumexp(a, b, c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_branchy_forms_at_the_edges(dtype):
    cast = NP[dtype]
    values = cast(np.array([-np.inf, np.inf, np.nan]))
    expected = {
        "softplus": [0.0, np.inf, np.nan],
        "sigmoid": [0.0, 1.0, np.nan],
        "log_sigmoid": [-np.inf, 0.0, np.nan],
    }
    for name, want in expected.items():
        f = sp.lambdify(z, expand_regimes(PRIMITIVES[name][0], dtype), modules="numpy")
        with np.errstate(all="ignore"):
            got = np.asarray(f(values))
        np.testing.assert_array_equal(got, np.array(want))
