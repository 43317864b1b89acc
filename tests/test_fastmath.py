"""Accuracy of the vectorizable exp/log/log1p (symsmooth.runtime.fastmath) against mpmath.

Every value is compared with mpmath at 50 digits; the error is in float64 ulps of the exact
value (the spacing of the binade that holds it; 2**-1074 in the subnormal range).  The points
cover the whole float64 range with a stratified log-uniform sample, the reduction interval, the
overflow/underflow edges, subnormals, powers of two and the special values.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from numba import njit

from symsmooth.codegen import fastmath
from symsmooth.runtime.fastmath import _fexp, _flog, _flog1p, _fsexp, _lanes_total

DPS = 50
TINY = 2.0**-1074


def _loop(f):
    """``f`` mapped over an array in a jitted loop (as the generated modules call it)."""

    @njit(error_model="numpy")
    def run(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])

    return run


@pytest.fixture(scope="module")
def fm():
    """The runtime's fast functions (symsmooth.runtime.fastmath, whose source the generated
    modules carry), in array loops."""
    loops = {"exp": _loop(_fexp), "log": _loop(_flog), "log1p": _loop(_flog1p)}

    def run(name, xs):
        xs = np.asarray(xs, dtype=np.float64)
        out = np.empty_like(xs)
        loops[name](xs, out)
        return out

    return run


def _ulp_errors(got, xs, exact):
    errors = []
    with mpmath.workdps(DPS):
        for g, x in zip(got, xs, strict=True):
            ref = exact(mpmath.mpf(float(x)))
            if abs(ref) > mpmath.mpf(np.finfo(np.float64).max):
                errors.append(0.0 if g == math.copysign(math.inf, ref) else math.inf)
                continue
            binade = max(int(mpmath.floor(mpmath.log(abs(ref), 2))), -1022) if ref else -1022
            spacing = mpmath.mpf(2) ** (binade - 52)
            errors.append(float(abs(mpmath.mpf(float(g)) - ref) / spacing))
    return np.array(errors)


def _grid(rng, low, high, count):
    """Log-uniform magnitudes over [low, high] (positive), plus a few exact powers of two."""
    mags = np.exp(rng.uniform(np.log(low), np.log(high), count))
    return np.concatenate([mags, 2.0 ** np.arange(int(np.log2(low)) + 1, int(np.log2(high)))])


def test_exp_within_one_ulp(fm):
    rng = np.random.default_rng(7)
    xs = np.concatenate(
        [
            rng.uniform(-745.13, 709.78, 1500),  # whole range
            rng.uniform(-0.35, 0.35, 300),  # the reduction interval
            rng.uniform(-745.13, -708.39, 300),  # subnormal results
            rng.uniform(700.0, 709.782712893384, 200),  # next to overflow
            _grid(rng, 1e-300, 1e-3, 200),
            -_grid(rng, 1e-300, 1e-3, 200),
            np.array([709.782712893384, -708.3964185322641, -745.1332191019411, 0.5 * math.log(2)]),
        ]
    )
    err = _ulp_errors(fm("exp", xs), xs, mpmath.exp)
    assert err.max() <= 1.0, (err.max(), xs[np.argmax(err)])
    assert np.median(err) < 0.3


def test_log_within_one_ulp(fm):
    rng = np.random.default_rng(8)
    xs = np.concatenate(
        [
            _grid(rng, 5e-324, 1.7e308, 1500),  # whole range incl. subnormals
            rng.uniform(0.7, 1.45, 500),  # around 1: the kernel's normalization
            rng.uniform(0.0, 2.2250738585072014e-308, 200)[1:],  # subnormals
            np.array([1.0, 2.0, 0.5, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0), 1.7e308]),
        ]
    )
    err = _ulp_errors(fm("log", xs), xs, mpmath.log)
    assert err.max() <= 1.0, (err.max(), xs[np.argmax(err)])
    assert np.median(err) < 0.3


def test_log1p_within_one_ulp(fm):
    rng = np.random.default_rng(9)
    xs = np.concatenate(
        [
            _grid(rng, 5e-324, 1.7e308, 800),
            -_grid(rng, 5e-324, 0.999999, 600),  # down to -1
            rng.uniform(-0.3, 0.42, 500),  # u = 1 + x in the kernel's [sqrt(1/2), sqrt(2))
            _grid(rng, 1e-20, 1e-5, 200),  # where 1 + x rounds and c/u matters
            np.array([2.0, -0.5, np.nextafter(-1.0, 0.0), 2.0**-53, -(2.0**-54), 1e-300]),
        ]
    )
    err = _ulp_errors(fm("log1p", xs), xs, mpmath.log1p)
    assert err.max() <= 1.0, (err.max(), xs[np.argmax(err)])
    assert np.median(err) < 0.3


@pytest.mark.parametrize(
    ("name", "x", "expected"),
    [
        ("exp", 0.0, 1.0),
        ("exp", -0.0, 1.0),
        ("exp", math.inf, math.inf),
        ("exp", -math.inf, 0.0),
        ("exp", 709.7827128933841, math.inf),  # first float64 whose exp overflows
        ("exp", -745.2, 0.0),  # below half the smallest subnormal
        ("exp", 5e-324, 1.0),
        ("log", 0.0, -math.inf),
        ("log", -0.0, -math.inf),
        ("log", math.inf, math.inf),
        ("log", 1.0, 0.0),
        ("log", -1.0, math.nan),
        ("log", -math.inf, math.nan),
        ("log1p", -1.0, -math.inf),
        ("log1p", math.inf, math.inf),
        ("log1p", -2.0, math.nan),
        ("log1p", 5e-324, 5e-324),
        ("log1p", -0.0, -0.0),
        ("log1p", 0.0, 0.0),
    ],
)
def test_special_values(fm, name, x, expected):
    (got,) = fm(name, [x])
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)


@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_nan_propagates(fm, name):
    assert np.isnan(fm(name, [math.nan, -math.nan])).all()


@njit(error_model="numpy")
def _vsexp(h, m, out):
    for i in range(h.shape[0]):
        out[i] = _fsexp(h[i], m[i])


@njit(error_model="numpy")
def _vlanes(acc, err, start):
    return _lanes_total(acc, err, start)


@pytest.fixture(scope="module")
def fm2():
    """_fsexp(h, m) and _lanes_total(acc, err, start) of the runtime, in array loops."""
    return SimpleNamespace(vsexp=_vsexp, vlanes=_vlanes)


def _sexp_errors(module, hs, ms):
    hs, ms = np.asarray(hs, dtype=np.float64), np.asarray(ms, dtype=np.float64)
    got = np.empty_like(hs)
    module.vsexp(hs, ms, got)
    errors = []
    with mpmath.workdps(DPS):
        for g, h, m in zip(got, hs, ms, strict=True):
            ref = mpmath.exp(mpmath.mpf(float(h)) - mpmath.mpf(float(m)))  # exact difference
            binade = max(int(mpmath.floor(mpmath.log(ref, 2))), -1022) if ref else -1022
            errors.append(float(abs(mpmath.mpf(float(g)) - ref) / mpmath.mpf(2) ** (binade - 52)))
    return got, np.array(errors)


def test_sum_pass_exp_within_one_ulp_of_the_exact_difference(fm2):
    """_fsexp(h, m) = exp(h - m) for h <= m, with h - m taken exactly: the rounding of h - m
    alone would cost |h - m| * 2**-53 relative (~8 ulp at h - m = -10 with h, m of different
    magnitudes); results down to the subnormal range."""
    rng = np.random.default_rng(11)
    ms = np.concatenate(
        [
            rng.uniform(-5.0, 5.0, 700),
            rng.uniform(-1e6, 1e6, 300),  # large shifts: h - m cancels (Sterbenz) or rounds
            rng.uniform(-800.0, 800.0, 300),
        ]
    )
    ds = np.concatenate(
        [
            -rng.uniform(0.0, 40.0, 700),
            -rng.uniform(0.0, 745.1, 300),
            -rng.uniform(700.0, 745.1, 300),  # subnormal results
        ]
    )
    hs = ms + ds  # rounded: h - m is generally not exactly ds, nor a float64
    hs = np.minimum(hs, ms)
    got, err = _sexp_errors(fm2, hs, ms)
    assert err.max() <= 1.0, (err.max(), hs[np.argmax(err)], ms[np.argmax(err)])
    assert np.median(err) < 0.3
    naive = np.array(
        [float(mpmath.exp(mpmath.mpf(float(h - m)))) for h, m in zip(hs, ms, strict=True)]
    )
    rel = np.abs(naive - got) / np.maximum(got, 1e-300)
    assert rel.max() > 4 * 2.0**-52  # rounding h - m first is visibly worse somewhere


def test_sum_pass_exp_edges(fm2):
    hs = [0.0, 5.0, -math.inf, -math.inf, -745.6, -1e308, 1e308]
    ms = [0.0, 5.0, 0.0, 1e308, 0.0, 1e308, 1e308]
    got, _ = _sexp_errors(fm2, hs[:2], ms[:2])
    assert list(got) == [1.0, 1.0]  # the maximum's own term is exactly 1
    out = np.empty(len(hs))
    fm2.vsexp(np.array(hs), np.array(ms), out)
    assert list(out) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_lanes_total_is_compensated(fm2):
    """start + sum(acc) + sum(err) to double-double accuracy (mpmath.fsum as the reference),
    where a plain left-to-right sum loses everything below the large lanes."""
    rng = np.random.default_rng(12)
    acc = rng.standard_normal(64) * 10.0 ** rng.integers(-20, 20, 64)
    err = acc * 2.0**-60 * rng.standard_normal(64)
    s, c = fm2.vlanes(acc, err, 1e20)
    with mpmath.workdps(DPS):
        exact = mpmath.fsum([mpmath.mpf(float(v)) for v in [*acc, *err, 1e20]])
        assert abs(mpmath.mpf(s) + mpmath.mpf(c) - exact) <= abs(exact) * 2.0**-100 + 2.0**-60
        assert float(exact) == s + c
        naive = sum([1e20, *acc, *err])
        assert abs(mpmath.mpf(naive) - exact) > 1e-3  # plain summation fails here


def test_fast_printer_and_twins_rename_only_calls():
    import sympy as sp

    from symsmooth.codegen.reduction import wexp

    h, m, x = sp.symbols("h M0 x")
    printer = fastmath.FastMathPrinter({"_softplus": "_fast_softplus"})
    # wexp -> _fwexp, exp/log/log1p -> the fast functions; erf stays math.*
    assert printer.doprint(wexp(h, m) + sp.exp(x) + sp.erf(x)) == (
        "_fexp(x) + math.erf(x) + _fwexp(h, M0)"
    )
    names, text = fastmath.twins(
        {
            "_branchy": "def _branchy(z):\n    if z > 0:\n        return math.exp(z)\n"
            "    return z\n",
            "_softplus": "def _softplus(z):\n    return math.log1p(math.exp(z))\n",
            "_user": 'def _user(z):\n    """_softplus(z) stays in text."""\n'
            "    return _softplus(z) + _branchy(z) + mymath.exp(z)\n",
            "_elif": "def _elif(z):\n    return math.exp(z) if z > 0 else z\n",
        }
    )
    assert names == {
        "_branchy": "_branchy",  # an if statement: no twin
        "_softplus": "_fast_softplus",
        "_user": "_fast_user",
        "_elif": "_fast_elif",  # a conditional expression is no branch statement
    }
    assert "return _fast_softplus(z) + _branchy(z) + mymath.exp(z)" in text
    assert '"""_softplus(z) stays in text."""' in text  # calls renamed, never text
    assert "return _fexp(z) if z > 0 else z" in text
    assert "def _fast_softplus(z):" in text  # the hand-written branch-free override


def test_generated_softplus_fast_path_within_one_ulp(tmp_path):
    """softplus_fast / softplus_grad_x_fast of a generated module (the fast twins in a
    multithreaded loop) against mpmath: log(1 + exp(kx))/k and 1/(1 + exp(-kx))."""
    from symsmooth import pipeline
    from symsmooth.codegen.render import load_module

    pipeline.generate(["softplus"], out=tmp_path, targets=("cpu",))
    mod = load_module("softplus", tmp_path)
    rng = np.random.default_rng(10)
    xs = np.concatenate(
        [
            rng.uniform(-40.0, 40.0, 600),
            rng.uniform(-745.0, -36.0, 150),  # exp(x) regime, down to subnormal results
            rng.uniform(17.0, 40.0, 100),  # around the z = 18 switch
            np.array([-1e300, -745.5, -37.0, 0.0, 18.0, 33.3, 1e300, -0.0]),
        ]
    )
    value = mod.softplus_fast(xs, 1.0)
    grad = mod.softplus_grad_x_fast(xs, 1.0)
    err_v = _ulp_errors(value, xs, lambda x: mpmath.log1p(mpmath.exp(x)))
    err_g = _ulp_errors(grad, xs, lambda x: 1 / (1 + mpmath.exp(-x)))
    assert err_v.max() <= 1.0, (err_v.max(), xs[np.argmax(err_v)])
    assert err_g.max() <= 1.0, (err_g.max(), xs[np.argmax(err_g)])
    # ufunc semantics: broadcasting, float32 in -> float32 out, out=, NaN and infinities
    out = np.empty((2, 3), dtype=np.float32)
    got = mod.softplus_fast(np.float32([[1.0], [2.0]]), np.float32([1.0, 2.0, 4.0]), out=out)
    assert got is out
    np.testing.assert_array_equal(
        out, mod.softplus(np.float32([[1.0], [2.0]]), np.float32([1, 2, 4]))
    )
    edge = mod.softplus_fast(np.array([np.nan, np.inf, -np.inf]), 1.0)
    assert np.isnan(edge[0]) and edge[1] == np.inf and edge[2] == 0.0
