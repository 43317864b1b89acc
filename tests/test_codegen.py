"""Code generation end to end: spec -> printed math -> rendered module -> import -> values.

Every check compares with an independent reference: mpmath at >= 50 digits (directly, with
``mpmath.diff`` for derivatives, or through :func:`symsmooth.verification.reference.evaluate`) or a
closed form from the literature.  Modules are generated once per session into a temporary
folder (Numba caches the compiled code next to them).
"""

from __future__ import annotations

import ast

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import pipeline
from symsmooth.codegen.render import load_module
from symsmooth.codegen.spec import make_spec
from symsmooth.errors import CodegenError
from symsmooth.verification.ulp import ulp_error

mpmath.mp.dps = 50

x = sp.Symbol("x", real=True)
X = sp.IndexedBase("x", real=True)
i = sp.Symbol("i", integer=True, positive=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", positive=True)
w = sp.Symbol("w", positive=True)

CATALOG_SUBSET = ("softplus", "logsumexp_max", "softmax_onehot_argmax", "zlpr", "relu_gaussian")


def _boltzmann():
    S = lambda f: sp.Sum(f, (i, 1, n))  # noqa: E731
    expr = S(X[i] * sp.exp(k * X[i])) / S(sp.exp(k * X[i]))
    return make_spec("boltzmann", expr, (X,), (k,), index=i, size=n)


def _mellowmax():
    expr = sp.log(sp.Sum(sp.exp(w * X[i]), (i, 1, n)) / n) / w
    return make_spec("mellowmax", expr, (X,), (w,), index=i, size=n)


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    pipeline.generate(list(CATALOG_SUBSET) + [_boltzmann(), _mellowmax()], out=out)
    return lambda name: load_module(name, out)


def _lse(values):
    return mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in values))


# --- printing --------------------------------------------------------------------------------


def _calls(fn):
    for node in (n for stmt in fn.body for n in ast.walk(stmt)):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                yield f"{f.value.id}.{f.attr}"
            else:
                yield f.id


@pytest.mark.parametrize("name", ["softplus", "logsumexp_max", "relu_gaussian"])
def test_scalar_code_calls_math_only(gen, name):
    """Scalar cores and helpers call math.*, other helpers and max/min/abs only (CUDA-able)."""
    tree = ast.parse(open(gen(name).__file__).read())
    scalar = [
        f
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
        and (
            f.name.startswith("_core")
            or f.name in {"_softplus", "_sigmoid", "_Phi", "_phi", "_wexp", "_two_product", "_fin"}
        )
    ]
    assert scalar
    for fn in scalar:
        for call in _calls(fn):
            assert call.startswith(("math.", "_")) or call in {"max", "min", "abs"}, call


def test_unknown_function_is_a_clear_error():
    f = sp.Function("mystery")
    spec = make_spec("bad", f(x), (x,), ())
    with pytest.raises(CodegenError, match="math"):
        pipeline.generate([spec], out="/nonexistent-never-written")


def _nonnormal_record():
    """The catalog's unrolled soft-2-max (explicit entries, Min) without its iteration."""
    import dataclasses

    from symsmooth import catalog

    record = catalog.get("soft_k_max")
    return dataclasses.replace(record, name="soft_k_max_unrolled", iteration=None)


def test_soft_k_max_generates_an_iteration_kernel(tmp_path):
    """The recursion is not in normal form, but one step is: soft_k_max is generated as a
    fixed-count iteration of that row map (tests/test_soft_k_max_kernel.py tests it in full)."""
    from symsmooth import catalog
    from symsmooth.symbols import X as X_VEC
    from symsmooth.symbols import j as J_INDEX
    from symsmooth.symbols import k as K_PARAM
    from symsmooth.symbols import n as N_SIZE
    from symsmooth.verification.claims import value as claim_value

    spec = pipeline.kernel_spec("soft_k_max")
    assert spec.kind == "iteration" and spec.step.plan.rowmap
    pipeline.generate(["soft_k_max"], out=tmp_path)
    mod = load_module("soft_k_max", tmp_path)
    row = [2.0, 1.0, 4.0, 5.0, 3.0]
    record = catalog.get("soft_k_max")
    got = mod.soft_k_max(np.array(row), 1.0)
    for m, g in enumerate(got, start=1):  # the catalog's unrolled recursion for n = 5
        exact = claim_value(record.expr, {N_SIZE: 5, X_VEC: row, K_PARAM: 1.0, J_INDEX: m})
        assert ulp_error(g, exact) <= 16


def test_unregistered_algorithm_is_rejected_with_instruction():
    with pytest.raises(CodegenError, match="normal form"):
        pipeline.kernel_spec(_nonnormal_record())


# --- elementwise -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-800.0, -40.0, -1e-300, 0.0, 3e-8, 1.5, 40.0, 700.0, 1e308])
def test_softplus_within_one_ulp(gen, value):
    mod = gen("softplus")
    exact = mpmath.log1p(mpmath.exp(mpmath.mpf(value)))
    assert ulp_error(mod.softplus(value, 1.0), exact) <= 1.0
    assert ulp_error(mod.softplus_grad(value, 1.0), 1 / (1 + mpmath.exp(-mpmath.mpf(value)))) <= 1.5


def test_softplus_naive_form_fails_where_kernel_holds(gen):
    mod = gen("softplus")
    with np.errstate(over="ignore"):
        naive = np.log(1 + np.exp(np.array([800.0, -40.0])))
    assert np.isinf(naive[0]) and naive[1] == 0.0  # overflow, and log(1 + 4e-18) == 0
    stable = mod.softplus(np.array([800.0, -40.0]), 1.0)
    assert stable[0] == 800.0
    assert ulp_error(stable[1], mpmath.log1p(mpmath.exp(-40))) <= 1.0


def test_ufunc_broadcasting_out_and_float32(gen):
    mod = gen("softplus")
    xs = np.linspace(-3, 3, 6).reshape(2, 3)
    ks = np.array([0.5, 1.0, 4.0])
    out = np.empty_like(xs)
    result = mod.softplus(xs, ks, out=out)
    assert result is out
    for (r, c), v in np.ndenumerate(xs):
        kk = mpmath.mpf(ks[c])
        assert ulp_error(out[r, c], mpmath.log1p(mpmath.exp(kk * mpmath.mpf(v))) / kk) <= 2
    f32 = mod.softplus(xs.astype(np.float32), np.float32(1.0))
    assert f32.dtype == np.float32
    for v, got in zip(xs.astype(np.float32).ravel(), f32.ravel(), strict=False):
        assert ulp_error(got, mpmath.log1p(mpmath.exp(mpmath.mpf(float(v)))), np.float32) <= 1


def test_relu_gaussian_at_minus_40_naive_fails_kernel_holds(gen):
    """ReLU * Gaussian at x = -40 with sigma = 4 (t = -10): the naive form keeps only the
    phi term (100x too large); the generated kernel stays accurate."""
    mod = gen("relu_gaussian")
    xv, sv = -40.0, 4.0
    X_, S_ = mpmath.mpf(xv), mpmath.mpf(sv)
    exact = X_ * mpmath.ncdf(X_ / S_) + S_ * mpmath.npdf(X_ / S_)
    naive = (
        xv * mpmath.erf(xv / (np.sqrt(2) * sv))
        + xv
        + np.sqrt(2 / np.pi) * sv * np.exp(-(xv**2) / (2 * sv**2))
    ) / 2
    naive = (
        float(
            xv * float(mpmath.erf(xv / (np.sqrt(2) * sv)))
            + xv
            + np.sqrt(2 / np.pi) * sv * np.exp(-(xv**2) / (2 * sv**2))
        )
        / 2
    )
    assert abs(naive - exact) / exact > 10
    got = mod.relu_gaussian(xv, sv)
    assert abs(got - exact) / exact < 1e-10


# --- reductions ------------------------------------------------------------------------------


def test_logsumexp_values_and_naive_failure(gen):
    mod = gen("logsumexp_max")
    rows = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1002.0], [0.1, 0.2, 0.3]])
    got = mod.logsumexp_max(rows, 1.0)
    with np.errstate(over="ignore", divide="ignore"):
        naive = np.log(np.exp(rows).sum(axis=-1))
    assert np.isinf(naive[0]) and np.isinf(naive[1])
    for r in range(3):
        assert ulp_error(got[r], _lse(rows[r])) <= 1.0


def test_logsumexp_gradient_is_softmax(gen):
    mod = gen("logsumexp_max")
    row = np.array([0.3, -2.0, 5.0, 5.0, 1e-3])
    grad = mod.logsumexp_max_grad(row, 1.0)
    lse = _lse(row)
    for v, g in zip(row, grad, strict=False):
        assert ulp_error(g, mpmath.exp(mpmath.mpf(v) - lse)) <= 4


def test_edge_semantics(gen):
    mod = gen("logsumexp_max")
    inf = np.inf
    rows = np.array([[0.0, -inf, 1.0], [-inf, -inf, -inf], [0.0, inf, 1.0], [0.0, np.nan, 1.0]])
    val = mod.logsumexp_max(rows, 1.0)
    grad = mod.logsumexp_max_grad(rows, 1.0)
    assert ulp_error(val[0], _lse([0.0, 1.0])) <= 1
    assert grad[0, 1] == 0.0 and not np.isnan(grad[0]).any()  # -inf entry: gradient 0
    assert val[1] == -inf and np.all(grad[1] == 0.0)  # all -inf row
    assert val[2] == inf and grad[2, 1] == 1.0 and grad[2, 0] == 0.0  # +inf takes the mass
    assert np.isnan(val[3])  # NaN propagates
    empty = mod.logsumexp_max(np.empty((2, 0)), 1.0)
    assert empty.shape == (2,) and np.all(empty == -inf)  # log of an empty sum
    tiny = mod.logsumexp_max(np.array([5e-324, 1e-310]), 1.0)  # subnormal inputs
    assert ulp_error(tiny, _lse([5e-324, 1e-310])) <= 1


def test_float32_and_non_contiguous_inputs(gen):
    mod = gen("logsumexp_max")
    base = np.random.default_rng(3).standard_normal((6, 8)) * 4
    strided = base[:, ::2]  # non-contiguous
    got = mod.logsumexp_max(strided, 1.0)
    assert np.array_equal(got, mod.logsumexp_max(np.ascontiguousarray(strided), 1.0))
    f32 = mod.logsumexp_max(strided.astype(np.float32), 1.0)
    assert f32.dtype == np.float32 and f32.shape == (6,)
    for r in range(6):
        row = strided[r].astype(np.float32).astype(np.float64)
        assert ulp_error(f32[r], _lse(row), np.float32) <= 1
    batched = mod.logsumexp_max(base.reshape(2, 3, 8), np.array([[1.0], [2.0]]))
    assert batched.shape == (2, 3)
    k2 = mpmath.mpf(2)
    expect = mpmath.log(mpmath.fsum(mpmath.exp(k2 * mpmath.mpf(v)) for v in base[3])) / k2
    assert ulp_error(batched[1, 0], expect) <= 2  # per-row parameters broadcast


def test_long_row_keeps_accuracy(gen):
    mod = gen("logsumexp_max")
    row = np.random.default_rng(11).standard_normal(100_000) * 3
    assert ulp_error(mod.logsumexp_max(row, 1.0), _lse(row)) <= 4


def test_softmax_row_map_and_vjp(gen):
    mod = gen("softmax_onehot_argmax")
    row = np.array([2.0, 1.0, 4.0, 5.0, 3.0])
    got = mod.softmax_onehot_argmax(row, 1.0)
    expect = [0.031685, 0.011656, 0.234122, 0.636409, 0.086129]  # catalog.md, post 2 item 2
    assert np.allclose(got, expect, atol=5e-7)
    lse = _lse(row)
    p = [mpmath.exp(mpmath.mpf(v) - lse) for v in row]
    for g, e in zip(got, p, strict=False):
        assert ulp_error(g, e) <= 4
    cot = np.array([0.5, -1.0, 2.0, 0.25, 1.0])
    vjp = mod.softmax_onehot_argmax_grad(row, 1.0, cotangent=cot)
    dot = mpmath.fsum(mpmath.mpf(c) * q for c, q in zip(cot, p, strict=False))
    for l_ in range(5):  # J = diag(p) - p p^T
        assert ulp_error(vjp[l_], p[l_] * (mpmath.mpf(cot[l_]) - dot)) <= 8


def test_zlpr_gradient_matches_closed_form(gen):
    """d/ds_i of ZLPR (post 8 item 8; soft labels post 9064):
    -t_i e^{-s_i}/(1 + sum t e^{-s}) + (1 - t_i) e^{s_i}/(1 + sum (1-t) e^{s})."""
    mod = gen("zlpr")
    s = np.array([2.0, -1.0, 0.5, 30.0, -40.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    val = mod.zlpr(s, t, 1.0)
    gs, _ = mod.zlpr_grad(s, t, 1.0)
    S = [mpmath.mpf(v) for v in s]
    T = [mpmath.mpf(v) for v in t]
    pos = 1 + mpmath.fsum(tt * mpmath.exp(-ss_) for tt, ss_ in zip(T, S, strict=False))
    neg = 1 + mpmath.fsum((1 - tt) * mpmath.exp(ss_) for tt, ss_ in zip(T, S, strict=False))
    assert ulp_error(val, mpmath.log(pos) + mpmath.log(neg)) <= 4
    for j in range(5):
        exact = -T[j] * mpmath.exp(-S[j]) / pos + (1 - T[j]) * mpmath.exp(S[j]) / neg
        assert ulp_error(gs[j], exact) <= 4


@pytest.mark.parametrize("name", ["boltzmann", "mellowmax"])
def test_user_reductions_without_new_kernel_code(gen, name):
    """Boltzmann operator and mellowmax go through the same normal form; derivatives are
    checked against mpmath.diff of the exact formula."""
    mod = gen(name)
    row = np.array([1.0, -0.5, 3.0, 2.5, 700.0 - 698.0])
    param = 2.0
    if name == "boltzmann":

        def exact(*v):
            e = [mpmath.exp(param * a) for a in v]
            return mpmath.fsum(a * b for a, b in zip(v, e, strict=False)) / mpmath.fsum(e)
    else:

        def exact(*v):
            return mpmath.log(mpmath.fsum(mpmath.exp(param * a) for a in v) / len(v)) / param

    point = [mpmath.mpf(v) for v in row]
    assert ulp_error(getattr(mod, name)(row, param), exact(*point)) <= 4
    grad = getattr(mod, f"{name}_grad")(row, param)
    for j in range(row.size):
        order = [0] * row.size
        order[j] = 1
        d = mpmath.diff(exact, point, tuple(order))
        assert ulp_error(grad[j], d) <= 8
    with np.errstate(over="ignore", invalid="ignore"):
        big = getattr(mod, name)(row + 1000.0, param)  # exp(2 * 1000) overflows a naive form
    assert np.isfinite(big)
