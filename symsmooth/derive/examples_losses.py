"""Worked derivations of the seed articles 6 (IMLE), 7 (cross-entropy) and 8 (ZLPR).

Produced by the engine (:func:`~symsmooth.derive.gradients.gradient`,
:func:`~symsmooth.derive.gradients.hessian`, :func:`~symsmooth.derive.gradients.stable_form`,
``sp.solve``); catalog answers (P3, G1, Z1, Z3, Z4, Z7) appear only on the right of checked
steps.

References
----------
Su Jianlin, kexue.fm/archives/6394 (article 6), /7259 (article 7), /7359 (article 8),
/9064 (soft-label ZLPR).

Examples
--------
>>> d = soft_label_optimum()
>>> d.update
Eq(t, sigmoid(2*s))
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from symsmooth.derive.checks import CheckContext
from symsmooth.derive.gradients import gradient, hessian, stable_form
from symsmooth.derive.record import Builder, Derivation
from symsmooth.functions import LogSumExpOver, sigmoid
from symsmooth.functions.targets import MaxOver, MinOver

A6 = "kexue.fm/archives/6394 (article 6)"
A7 = "kexue.fm/archives/7259 (article 7)"
A8 = "kexue.fm/archives/7359 (article 8)"
FAST = CheckContext(points=4, sizes=(2, 3, 4))

_i, _j, _k, _l, _e, _r, _t = sp.symbols("i j k l e r t", integer=True)
_n, _p, _q, _N, _D = sp.symbols("n p q N D", integer=True, positive=True)


@cache
def logsumexp_derivatives() -> Derivation:
    """Gradient softmax(kx) and Hessian k(diag p - p p^T) of (1/k) LSE(k x) (catalog P3)."""
    x, k = sp.IndexedBase("x", real=True), sp.Symbol("k", positive=True)
    f = sp.log(sp.Sum(sp.exp(k * x[_i]), (_i, 1, _n))) / k
    bld = Builder(
        "logsumexp_derivatives",
        "Gradient and Hessian of the smooth max (1/k) LSE(kx)",
        "catalog P3; kexue.fm/archives/6620 (article 2), item 1",
        FAST,
    )
    g = gradient(f, x, (_j,))
    H = hessian(f, x, (_j, _l))
    p = sp.exp(k * x[_j] - LogSumExpOver(k * x[_i], (_i, 1, _n)))
    bld.step(
        "Gradient, in stable form.",
        sp.Derivative(f, x[_j]),
        g,
        "sp.diff, the sum over KroneckerDelta(i, j) collapsed, Sum(exp) -> exp(LSE)",
    )
    bld.step(
        "The gradient is softmax(kx)_j.",
        g,
        sp.exp(k * x[_j]) / sp.Sum(sp.exp(k * x[_i]), (_i, 1, _n)),
        "catalog P3",
    )
    bld.step(
        "Hessian, in stable form.",
        sp.Derivative(f, x[_j], x[_l]),
        H,
        "second derivative, deltas collapsed",
    )
    bld.step(
        "The Hessian is k (diag p - p p^T).",
        H,
        k * (sp.KroneckerDelta(_j, _l) * p - p * p.xreplace({_j: _l})),
        "catalog P3",
    )
    return bld.build(
        sp.Eq(sp.Derivative(f, x[_j]), g, evaluate=False),
        {"gradient": g, "hessian": H, "softmax": p},
    )


@cache
def cross_entropy() -> Derivation:
    """CE = LSE - x_t, its bounds and its gradient softmax - onehot (article 7, item 2)."""
    x = sp.IndexedBase("x", real=True)
    naive_ce = -sp.log(sp.exp(x[_t]) / sp.Sum(sp.exp(x[_i]), (_i, 1, _n)))
    bld = Builder("cross_entropy", "Cross-entropy as a smooth max margin", A7 + ", item 2", FAST)
    ce = stable_form(sp.expand_log(naive_ce, force=True))
    bld.step(
        "CE = -log softmax_t = LSE(x) - x_t (stable form).",
        naive_ce,
        ce,
        "log(exp(x_t) / S) = x_t - log S",
    )
    mx = MaxOver(x[_i], (_i, 1, _n))
    bld.step(
        "Lower bound: the max minus the target logit is strictly below CE.",
        mx - x[_t],
        ce,
        "LSE > max when n >= 2 (every exp term is positive)",
        relation="<",
    )
    bld.step(
        "Upper bound: CE <= max - x_t + log n.",
        ce,
        mx - x[_t] + sp.log(_n),
        "each of the n terms exp(x_i) <= exp(max)",
        relation="<=",
    )
    g = gradient(ce, x, (_j,))
    bld.step("Gradient of CE.", sp.Derivative(naive_ce, x[_j]), g, "sp.diff, deltas collapsed")
    bld.step(
        "The gradient is softmax(x) - onehot(t).",
        g,
        sp.exp(x[_j]) / sp.Sum(sp.exp(x[_i]), (_i, 1, _n)) - sp.KroneckerDelta(_j, _t),
        "article 7, item 2",
    )
    return bld.build(sp.Eq(sp.Symbol("CE"), ce, evaluate=False), {"loss": ce, "gradient": g})


@cache
def imle() -> Derivation:
    """IMLE: the Gaussian-smoothed likelihood as a smoothed min, bounds G1 and sigma -> 0."""
    x, G = sp.IndexedBase("x", real=True), sp.IndexedBase("G", real=True)
    s, y = sp.Symbol("sigma", positive=True), sp.Symbol("y", real=True)
    d = sp.Sum((x[_e] - G[_j, _e]) ** 2, (_e, 1, _D))
    bld = Builder(
        "imle",
        "IMLE: nearest-neighbour loss from a Gaussian-smoothed likelihood",
        A6 + ", items 2-6 (G1)",
        FAST,
    )
    delta = sp.exp(-(y**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    bld.step(
        "The Gaussian approximate delta has unit mass (d = 1).",
        sp.Integral(delta, (y, -sp.oo, sp.oo)),
        1,
        "Gaussian integral",
    )
    loss = -2 * s**2 * sp.log(sp.Sum(sp.exp(-d / (2 * s**2)), (_j, 1, _N)))
    stable = stable_form(loss)
    bld.step(
        "The scaled Monte-Carlo loss of one real sample is a smoothed min with "
        "M = 1/(2 sigma^2), in stable form.",
        loss,
        stable,
        "log Sum exp -> LSE",
    )
    mn = MinOver(d, (_j, 1, _N))
    bld.step(
        "Upper bound (G1).",
        stable,
        mn,
        "one term of the sum is exp(-min d / 2 sigma^2)",
        relation="<=",
    )
    bld.step(
        "Lower bound (G1).",
        mn - 2 * s**2 * sp.log(_N),
        stable,
        "each of the N terms is at most exp(-min d / 2 sigma^2)",
        relation="<=",
    )
    bld.step(
        "As sigma -> 0 the loss is the nearest-neighbour distance (IMLE).",
        sp.Limit(stable, s, 0),
        mn,
        "squeezed by the G1 bounds, gap 2 sigma^2 ln N",
    )
    g = gradient(stable, G[_l, _r])
    bld.step(
        "Its gradient pulls each fake G_l toward x with the softmin weight of l.",
        sp.Derivative(loss, G[_l, _r]),
        g,
        "sp.diff, deltas collapsed, stable form",
    )
    return bld.build(
        sp.Eq(sp.Limit(stable, s, 0), mn, evaluate=False),
        {"loss": stable, "gradient": g, "min": mn},
    )


def _zlpr_symbols():
    a, b = sp.IndexedBase("a", real=True), sp.IndexedBase("b", real=True)
    return a, b


@cache
def zlpr() -> Derivation:
    """ZLPR from the smooth max of pairwise differences with a threshold class (article 8)."""
    a, b = _zlpr_symbols()  # a: scores of the negative classes, b: of the positive ones
    s0, y = sp.Symbol("s_0", real=True), sp.IndexedBase("s", real=True)
    bld = Builder(
        "zlpr",
        "ZLPR: multi-label softmax cross-entropy with a threshold class",
        A8 + ", items 5-8 (Z1, Z3, Z4)",
        FAST,
    )
    ce = sp.log(sp.Sum(sp.exp(y[_i] - y[_t]), (_i, 1, _n)))
    bld.step(
        "Single-label CE is a smooth max of the differences s_i - s_t and 0.",
        ce,
        sp.log(1 + sp.Sum((1 - sp.KroneckerDelta(_i, _t)) * sp.exp(y[_i] - y[_t]), (_i, 1, _n))),
        "the i = t term is exp(0) = 1",
    )
    pairs = sp.Sum(sp.exp(a[_i] - b[_k]), (_i, 1, _p), (_k, 1, _q))
    neg, pos = sp.Sum(sp.exp(a[_i]), (_i, 1, _p)), sp.Sum(sp.exp(-b[_k]), (_k, 1, _q))
    bld.step(
        "All (negative, positive) pairs: the double sum factorises.",
        sp.log(1 + pairs),
        sp.log(1 + neg * pos),
        "exp(a_i - b_j) = exp(a_i) exp(-b_j)",
    )
    lhs = sp.log(
        1
        + pairs
        + sp.Sum(sp.exp(a[_i] - s0), (_i, 1, _p))
        + sp.Sum(sp.exp(s0 - b[_k]), (_k, 1, _q))
    )
    rhs = sp.log(sp.exp(s0) + neg) + sp.log(sp.exp(-s0) + pos)
    bld.step("Threshold class s_0 (Z1).", lhs, rhs, "expand the product of the two sums")
    L = rhs.subs(s0, 0)
    Ls = stable_form(L)
    bld.step(
        "With s_0 = 0: the ZLPR loss, in stable form.", L, Ls, "log(1 + Sum exp) = softplus(LSE)"
    )
    ga, gb = gradient(Ls, (a, b), (_j,))
    bld.step(
        "Gradient in a negative score: the softmax over negatives and 0 (Z3).",
        sp.Derivative(L, a[_j]),
        ga,
        "sp.diff, deltas collapsed, stable form",
    )
    bld.step(
        "Gradient in a positive score: minus the softmax over -positives and 0 (Z3).",
        sp.Derivative(L, b[_j]),
        gb,
        "sp.diff, deltas collapsed, stable form",
    )
    H = hessian(Ls, (a, b), (_j, _l))
    for (r, c), name in {(0, 0): "negative", (1, 1): "positive", (0, 1): "cross"}.items():
        u, v = (a, b)[r], (a, b)[c]
        bld.step(
            f"Hessian, {name} block (Z4).",
            sp.Derivative(L, u[_j], v[_l]),
            H[r, c],
            "second derivative, deltas collapsed; the cross block vanishes",
        )
    pj = sp.exp(a[_j]) / (1 + neg)
    bld.step(
        "The negative block is diag(p) - p p^T with p_j = e^{a_j} / (1 + sum e^a) (Z4).",
        H[0, 0],
        sp.KroneckerDelta(_j, _l) * pj - pj * pj.xreplace({_j: _l}),
        "Z4",
    )
    w = sp.IndexedBase("w", real=True)
    quad = sp.Sum(w[_j] * w[_l] * H[0, 0], (_j, 1, _p), (_l, 1, _p))
    pw = sp.Sum(pj * w[_j], (_j, 1, _p))
    bld.step(
        "Its quadratic form is sum p w^2 - (sum p w)^2.",
        quad,
        sp.Sum(pj * w[_j] ** 2, (_j, 1, _p)) - pw**2,
        "the delta collapses one sum",
    )
    bld.step(
        "It is non-negative (Cauchy-Schwarz with sum p < 1): L is convex.",
        0,
        sp.Sum(pj * w[_j] ** 2, (_j, 1, _p)) - pw**2,
        "(sum p w)^2 <= (sum p)(sum p w^2)",
        relation="<=",
    )
    return bld.build(
        sp.Eq(sp.Symbol("L"), Ls, evaluate=False),
        {"loss": Ls, "gradient_neg": ga, "gradient_pos": gb, "hessian": H},
    )


@cache
def soft_label_optimum() -> Derivation:
    """Soft-label ZLPR: the optimal score satisfies t = sigmoid(2 s) (catalog Z7, post 9064)."""
    s, t = sp.Symbol("s", real=True), sp.Symbol("t", positive=True)
    loss = sp.log(1 + t * sp.exp(-s)) + sp.log(1 + (1 - t) * sp.exp(s))
    bld = Builder(
        "soft_label_optimum",
        "Soft-label ZLPR: the calibrated probability",
        "kexue.fm/archives/9064 (soft-label ZLPR), Z7",
        FAST,
    )
    dl = sp.diff(loss, s)
    (sol,) = sp.solve(sp.Eq(dl, 0), t)
    bld.step(
        "sp.solve(dl/ds = 0, t) for one class.",
        sp.Subs(dl, t, sol),
        0,
        "stationarity of the single-class soft-label loss",
    )
    bld.step(
        "The solution is t = sigmoid(2 s) (Z7).", sol, sigmoid(2 * s), "exp(2s) / (1 + exp(2s))"
    )
    bld.note("The calibrated probability of a ZLPR score s is sigmoid(2s), not sigmoid(s).")
    return bld.build(sp.Eq(t, sigmoid(2 * s)), {"solution": sol, "gradient": dl})


def article6() -> tuple[Derivation, ...]:
    return (imle(),)


def article7() -> tuple[Derivation, ...]:
    return (cross_entropy(), logsumexp_derivatives())


def article8() -> tuple[Derivation, ...]:
    return (zlpr(), soft_label_optimum())
