"""Gradients/Hessians in closed vector form against mpmath and finite differences."""

from __future__ import annotations

import random

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth.derive.calculus import gradient_derivation
from symsmooth.derive.checks import CheckContext, check_relation
from symsmooth.derive.gradients import collapse_deltas, gradient, hessian, stable_form
from symsmooth.derive.record import Builder
from symsmooth.errors import DerivationError
from symsmooth.functions import sigmoid, softplus

x = sp.IndexedBase("x", real=True)
i, j, l = sp.symbols("i j l", integer=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", positive=True)
LSE_K = sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k


def _at(expr, values, kval, jval=None, lval=None):
    """Evaluate a closed form at a concrete point with mpmath (50 digits)."""
    subs = {n: len(values), k: kval}
    if jval is not None:
        subs[j] = jval
    if lval is not None:
        subs[l] = lval
    e = expr.subs(subs).doit()
    e = e.xreplace({x[m + 1]: sp.Float(v, 50) for m, v in enumerate(values)})
    return mpmath.mpf(sp.N(e, 50))


def _lse(values, kval):
    return mpmath.log(mpmath.fsum(mpmath.exp(kval * v) for v in values)) / kval


@pytest.mark.parametrize("seed", [0, 1])
def test_lse_gradient_and_hessian_match_mpmath_derivatives(seed):
    rng = random.Random(seed)
    values = [mpmath.mpf(rng.uniform(-3, 3)) for _ in range(4)]
    kval = mpmath.mpf("1.7")
    g, H = gradient(LSE_K, x, (j,)), hessian(LSE_K, x, (j, l))
    mpmath.mp.dps = 40
    for a in range(4):

        def f(t, a=a):
            return _lse([t if m == a else v for m, v in enumerate(values)], kval)

        assert abs(_at(g, values, kval, a + 1) - mpmath.diff(f, values[a])) < 1e-30
        for b in range(4):

            def fab(s, t, a=a, b=b):
                pt = list(values)
                pt[a] = s
                pt[b] = t if a != b else pt[b]
                return (
                    _lse(pt, kval)
                    if a != b
                    else _lse([s if m == a else v for m, v in enumerate(values)], kval)
                )

            want = (
                mpmath.diff(lambda s: fab(s, 0), values[a], 2)
                if a == b
                else mpmath.diff(fab, (values[a], values[b]), (1, 1))
            )
            assert abs(_at(H, values, kval, a + 1, b + 1) - want) < 1e-25


def test_lse_gradient_is_softmax_and_overflow_free():
    g = gradient(LSE_K, x, (j,))
    assert not g.has(sp.Sum)  # stable: written with LogSumExpOver, no ratio of sums
    value = _at(g, [1000, 1001, 999], 1, 2)
    want = mpmath.exp(1) / (mpmath.exp(-1) + 1 + mpmath.exp(1))
    assert abs(value - want) < 1e-40


def test_zlpr_gradient_finite_differences_and_psd_hessian():
    a, b = sp.IndexedBase("a", real=True), sp.IndexedBase("b", real=True)
    p, q = sp.symbols("p q", integer=True, positive=True)
    kk = sp.Symbol("kk", integer=True)
    L = sp.log(1 + sp.Sum(sp.exp(a[i]), (i, 1, p))) + sp.log(1 + sp.Sum(sp.exp(-b[kk]), (kk, 1, q)))
    ga, gb = gradient(L, (a, b), (j,))
    H = hessian(L, (a, b), (j, l))
    assert H[0, 1] == 0 and H[1, 0] == 0  # block diagonal
    rng = np.random.default_rng(3)
    av, bv = rng.normal(size=3), rng.normal(size=2)

    def loss(u, v):
        return np.log1p(np.exp(u).sum()) + np.log1p(np.exp(-v).sum())

    def ev(expr, jj=None, ll=None):
        e = expr.subs({p: 3, q: 2, **({j: jj} if jj else {}), **({l: ll} if ll else {})}).doit()
        e = e.xreplace(
            {**{a[m + 1]: av[m] for m in range(3)}, **{b[m + 1]: bv[m] for m in range(2)}}
        )
        return float(sp.N(e, 30))

    h = 1e-6
    for m in range(3):
        d = np.zeros(3)
        d[m] = h
        fd = (loss(av + d, bv) - loss(av - d, bv)) / (2 * h)
        assert abs(ev(ga, m + 1) - fd) < 1e-8
    for m in range(2):
        d = np.zeros(2)
        d[m] = h
        fd = (loss(av, bv + d) - loss(av, bv - d)) / (2 * h)
        assert abs(ev(gb, m + 1) - fd) < 1e-8
    block = np.array([[ev(H[0, 0], r + 1, c + 1) for c in range(3)] for r in range(3)])
    assert np.linalg.eigvalsh(block).min() > 0  # diag(p) - p p^T with sum p < 1


def test_collapse_rule_and_scalar_stable_forms():
    y = sp.Symbol("y", real=True)
    s = sp.Sum(sp.KroneckerDelta(i, j) * x[i] ** 3 + x[i], (i, 1, n))
    assert collapse_deltas(s) == x[j] ** 3 + sp.Sum(x[i], (i, 1, n))
    assert gradient(sp.log(1 + sp.exp(y)), y) == sigmoid(y)
    assert stable_form(sp.log(1 + sp.exp(y))) == softplus(y)
    assert gradient(softplus(y) ** 2, [y]) == sp.Matrix([2 * softplus(y) * sigmoid(y)])


def test_index_clash_is_refused():
    with pytest.raises(DerivationError, match="summation index"):
        gradient(LSE_K, x[i])


def test_failing_step_raises_or_is_recorded():
    y = sp.Symbol("y", real=True)
    wrong = sp.Eq(sp.diff(softplus(y), y), sigmoid(-y))
    assert not check_relation(wrong, CheckContext(points=3)).passed
    with pytest.raises(DerivationError, match="does not check"):
        Builder("w", "wrong").step("wrong", wrong.lhs, wrong.rhs, "none")
    b = Builder("w", "wrong", record_failures=True)
    b.step("wrong", wrong.lhs, wrong.rhs, "none")
    d = b.build(wrong.rhs)
    assert not d.checked and d.steps[0].check.max_abs_diff > 0.01


def test_gradient_derivation_renders():
    d = gradient_derivation(LSE_K, x, j)
    assert d.checked and len(d.steps) == 3
    md, txt = d.to_markdown(), d.to_text()
    assert md.count("$$") == 2 * (len(d.steps) + 1) and "LSE" in md
    assert "check: numeric, passed" in txt
