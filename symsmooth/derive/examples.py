"""Worked derivations of the seed articles 4 and 5, produced by the engine.

Every formula below comes out of :mod:`~symsmooth.derive.gradients`,
:mod:`~symsmooth.derive.newton` or :mod:`~symsmooth.derive.mm`; the known answers of the
catalog (EM1-EM3, KM1-KM3, C1, C2) appear only on the right of checked steps.  Articles 6-8
are in :mod:`symsmooth.derive.examples_losses`; :data:`ARTICLES` and :data:`EXAMPLES` index
both.

References
----------
Su Jianlin, kexue.fm/archives/4277 (article 4) and /5112 (article 5).

Examples
--------
>>> d = plsa_em()
>>> d.checked, d.update.lhs
(True, A_{n+1}[a, b])
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from symsmooth.budget import budgeted
from symsmooth.derive.checks import CheckContext
from symsmooth.derive.gradients import gradient, raw_derivative, stable_form
from symsmooth.derive.mm import (
    LogSumObjective,
    at_current,
    majorize,
    smoothed_min_objective,
    solve_stationary,
    split_sums,
)
from symsmooth.derive.newton import gradient_descent_step, newton_step
from symsmooth.derive.record import Builder, Derivation
from symsmooth.functions.targets import ArgMaxOver

A4 = "kexue.fm/archives/4277 (article 4)"
A5 = "kexue.fm/archives/5112 (article 5)"
FAST = CheckContext(points=3, sizes=(2, 3))

_i, _j, _e, _a, _b = sp.symbols("i j e a b", integer=True)
_N, _K, _D = sp.symbols("N K D", integer=True, positive=True)


def _absorb(b: Builder, d: Derivation, prefix: str = "") -> None:
    """Append the (already checked) steps of ``d`` to ``b``."""
    for s in d.steps:
        b.steps.append(type(s)(prefix + s.statement, s.equation, s.justification, s.check))


@cache
def newton_generic() -> Derivation:
    """Newton's step for an arbitrary ``f(x)`` (article 4, items 1-2)."""
    x = sp.Symbol("x", real=True)
    return newton_step(sp.Function("f")(x), x)


@cache
def gradient_descent_generic() -> Derivation:
    """Gradient descent for an arbitrary ``f(x)`` (article 4, item 3)."""
    x = sp.Symbol("x", real=True)
    return gradient_descent_step(sp.Function("f")(x), x)


def plsa_symbols():
    """pLSA symbols: ``T[x, y] = p~(x, y)``, ``A[x, z] = p(x|z)``, ``B[z, y] = p(z|y)``."""
    x, y, z = sp.symbols("x y z", integer=True)
    X, Y, Z = sp.symbols("X Y Z", integer=True, positive=True)
    T, A, B, C = (sp.IndexedBase(n, positive=True) for n in "TABC")
    return x, y, z, X, Y, Z, T, A, B, C


@cache
def plsa_em() -> Derivation:
    """pLSA by EM (article 4, items 5-8; catalog EM1-EM3)."""
    x, y, z, X, Y, Z, T, A, B, C = plsa_symbols()
    a, b = _a, _b
    obj = LogSumObjective(
        "plsa",
        T[x, y],
        A[x, z] * B[z, y],
        ((x, 1, X), (y, 1, Y)),
        (z, 1, Z),
        (A, B),
        "posterior",
        A4 + ", items 5-8",
    )
    S = obj.expr()
    bld = Builder(
        "plsa_em",
        "pLSA: gradients, E-step posterior, Jensen majorizer, M-step",
        A4 + ", items 5-8 (EM1-EM3)",
        FAST,
    )
    for elem in (A[a, b], B[a, b]):
        bld.step(
            f"Gradient of S with respect to {elem} (EM1).",
            sp.Derivative(S, elem),
            gradient(S, elem),
            "sp.diff, then the Kronecker-delta sums collapsed",
        )
    _absorb(bld, majorize(obj, FAST), "E-step: ")
    lam, mu = sp.IndexedBase("lambda"), sp.IndexedBase("mu")
    Q = -sp.Sum(T[x, y] * C[x, y, z] * sp.log(A[x, z] * B[z, y]), (z, 1, Z), (y, 1, Y), (x, 1, X))
    QA = split_sums(sp.expand_log(Q, force=True))
    A_new = solve_stationary(QA, A[a, b], lam[b])
    lam_b = sp.solve(split_sums(sp.Sum(A_new.xreplace({a: x}), (x, 1, X))) - 1, lam[b])[0]
    A_new = A_new.xreplace({lam[b]: lam_b})
    B_new = solve_stationary(QA, B[a, b], mu[b])
    mu_b = sp.solve(split_sums(sp.Sum(B_new.xreplace({a: z}), (z, 1, Z))) - 1, mu[b])[0]
    B_new = B_new.xreplace({mu[b]: mu_b})
    for name, elem, new, mult in (
        ("p(x|z)", A[a, b], A_new, lam_b),
        ("p(z|y)", B[a, b], B_new, mu_b),
    ):
        grad = raw_derivative(Q, elem) + mult
        bld.step(
            f"M-step for {name}: sp.solve of the Lagrange stationarity condition (EM3).",
            sp.Subs(grad, elem, new),
            0,
            "d/d theta [Q + multiplier * (sum - 1)] = 0 "
            "with the weights C held fixed; the multiplier comes from the normalisation",
        )
    bld.step(
        "The new p(x|z) is normalised over x.",
        sp.Sum(A_new.xreplace({a: x}), (x, 1, X)),
        1,
        "the Lagrange multiplier was solved from this constraint",
    )
    joint = at_current(A[x, z] * B[z, y], (A, B))
    post = joint / sp.Sum(joint.xreplace({z: _j}), (_j, 1, Z))
    bld.step(
        "With the posterior weights, the p(z|y) denominator is p~(y) = sum_x p~(x, y).",
        split_sums(sp.Sum(T[x, b] * post.xreplace({y: b}), (z, 1, Z), (x, 1, X))),
        sp.Sum(T[x, b], (x, 1, X)),
        "sum_z C_xyz = 1",
    )
    A_next, B_next = sp.IndexedBase("A_{n+1}"), sp.IndexedBase("B_{n+1}")
    return bld.build(
        sp.Eq(A_next[a, b], A_new, evaluate=False),
        {
            "p(x|z)": sp.Eq(A_next[a, b], A_new),
            "p(z|y)": sp.Eq(B_next[a, b], B_new),
            "posterior": sp.Eq(C[x, y, z], post),
        },
    )


def kmeans_symbols():
    """Points ``x[i, e]``, centres ``c[j, e]``, squared distance ``d_ij``, sharpness ``M``."""
    x, c = sp.IndexedBase("x", real=True), sp.IndexedBase("c", real=True)
    M = sp.Symbol("M", positive=True)
    d = sp.Sum((x[_i, _e] - c[_j, _e]) ** 2, (_e, 1, _D))
    return x, c, M, d


@cache
def soft_kmeans() -> Derivation:
    """Soft K-means by MM and its ``M -> oo`` limit, Lloyd (article 4, items 9-13; KM1-KM3)."""
    x, c, M, d = kmeans_symbols()
    C = sp.IndexedBase("C", positive=True)
    obj = smoothed_min_objective(
        "soft_kmeans", d, M, (_i, 1, _N), (_j, 1, _K), (c,), A4 + ", items 9-13"
    )
    L = obj.expr()
    bld = Builder(
        "soft_kmeans",
        "Soft K-means: softmin gradient, majorizer, M-step, Lloyd limit",
        A4 + ", items 9-13 (KM1-KM3)",
        FAST,
    )
    grad = gradient(L, c[_a, _b])
    bld.step(
        "Gradient of the smoothed objective with respect to c[a, b] (KM1).",
        sp.Derivative(L, c[_a, _b]),
        grad,
        "sp.diff, deltas collapsed, stable form",
    )
    l = sp.Symbol("l", integer=True)
    soft = sp.exp(-M * d) / sp.Sum(sp.exp(-M * d.xreplace({_j: l})), (l, 1, _K))
    bld.step(
        "It is the softmin-weighted sum of 2 (c_a - x_i) (KM1, article 4 item 11).",
        grad,
        sp.Sum(2 * soft.xreplace({_j: _a}) * (c[_a, _b] - x[_i, _b]), (_i, 1, _N)),
        "softmin weights C_ia = exp(-M d_ia) / sum_l exp(-M d_il)",
    )
    _absorb(bld, majorize(obj, FAST), "Majorize: ")
    Q = sp.Sum(C[_i, _j] * d, (_i, 1, _N), (_j, 1, _K))
    c_new = solve_stationary(Q, c[_a, _b])
    bld.step(
        "M-step: sp.solve of dQ/dc[a, b] = 0 gives the C-weighted mean (KM2).",
        sp.Subs(raw_derivative(Q, c[_a, _b]), c[_a, _b], c_new),
        0,
        "Q = sum_ij C_ij d_ij with the weights fixed; Q is convex in c",
    )
    hard = sp.KroneckerDelta(_j, ArgMaxOver(-d.xreplace({_j: l}), (l, 1, _K)))
    bld.step(
        "As M -> oo the softmin weights become the nearest-centre indicator (KM3).",
        sp.Limit(soft, M, sp.oo),
        hard,
        "exp(-M (d_ij - min_l d_il)) -> 0 unless j is the nearest centre (distinct distances)",
        context={"points": 3},
    )
    lloyd = split_sums(sp.Sum(hard.xreplace({_j: _a}) * x[_i, _b], (_i, 1, _N))) / split_sums(
        sp.Sum(hard.xreplace({_j: _a}), (_i, 1, _N))
    )
    C_next = sp.IndexedBase("c_{n+1}")
    return bld.build(
        sp.Eq(C_next[_a, _b], c_new, evaluate=False),
        {
            "update": sp.Eq(C_next[_a, _b], c_new),
            "weights": sp.Eq(C[_i, _j], stable_form(soft)),
            "gradient": grad,
            "lloyd": sp.Eq(C_next[_a, _b], lloyd),
        },
    )


@cache
def capsule_routing() -> Derivation:
    """Capsule dynamic routing from K-means with ``d = -<u, v/|v|>`` and squash (article 5)."""
    u, v = sp.IndexedBase("u", real=True), sp.IndexedBase("v", real=True)
    C, K = sp.IndexedBase("c", positive=True), sp.Symbol("K", positive=True)
    norm = sp.sqrt(sp.Sum(v[_j, _e] ** 2, (_e, 1, _D)))
    inner = sp.Sum(u[_i, _e] * v[_j, _e], (_e, 1, _D))
    d = -inner / norm
    bld = Builder(
        "capsule_routing",
        "Capsule routing: inner-product K-means and squash",
        A5 + ", items 2-8 (C1, C2)",
        FAST,
    )
    grad = gradient(inner / norm, v[_j, _b])
    bld.step(
        "Derivative of the normalised inner product (C2).",
        sp.Derivative(inner / norm, v[_j, _b]),
        grad,
        "sp.diff, deltas collapsed",
    )
    bld.step(
        "It is u/|v| - (u.v) v/|v|^3 (C2, article 5 item 7).",
        grad,
        u[_i, _b] / norm - inner * v[_j, _b] / norm**3,
        "article 5, item 7",
    )
    obj = smoothed_min_objective("capsule", d, K, (_i, 1, _N), (_j, 1, _K), (v,), A5)
    _absorb(bld, majorize(obj, FAST), "Majorize: ")
    Q = sp.Sum(C[_i, _j] * d, (_i, 1, _N))
    stationary = raw_derivative(Q, v[_j, _b])
    k = sp.Symbol("k", integer=True)
    choice = {v: sp.Lambda((_a, _e), sp.Sum(C[k, _a] * u[k, _e], (k, 1, _N)))}
    routed = stationary.replace(
        lambda t: isinstance(t, sp.Indexed) and t.base == v, lambda t: choice[v](*t.indices)
    )
    bld.step(
        "v_j = sum_i c_ij u_i makes the surrogate stationary (eq 13): only the direction "
        "of v matters, and it must be that of sum_i c_ij u_i.",
        routed,
        0,
        "d is invariant to the scale of v; |cos| = 1 at the stationary direction, and the "
        "opposite direction (theta = pi) is a maximum",
    )
    r = sp.Symbol("r", positive=True)
    w = sp.IndexedBase("w", real=True)
    wn = sp.sqrt(sp.Sum(w[_e] ** 2, (_e, 1, _D)))
    squash = wn**2 / (1 + wn**2) * w[_e] / wn
    bld.step(
        "The squash of w has norm |w|^2 / (1 + |w|^2) (C1).",
        sp.sqrt(sp.Sum(squash**2, (_e, 1, _D))),
        wn**2 / (1 + wn**2),
        "article 5, item 2",
    )
    bld.step("That norm lies in [0, 1).", r**2 / (1 + r**2), 1, "r^2 < 1 + r^2", relation="<")
    W = sp.IndexedBase("W", real=True)
    f = sp.Symbol("f", integer=True)
    Wu = sp.Sum(W[_j, _e, f] * u[_i, f], (f, 1, _D))
    bld.step(
        "K can be absorbed into W_j: <W_j u_i, K v_j> = <(K W_j) u_i, v_j>.",
        sp.Sum(Wu * K * v[_j, _e], (_e, 1, _D)),
        sp.Sum(sp.Sum(K * W[_j, _e, f] * u[_i, f], (f, 1, _D)) * v[_j, _e], (_e, 1, _D)),
        "bilinearity (article 5, item 8)",
    )
    v_next = sp.IndexedBase("v_{r+1}")
    update = sp.Sum(C[_i, _j] * u[_i, _e], (_i, 1, _N))
    return bld.build(
        sp.Eq(v_next[_j, _e], update, evaluate=False),
        {"update": sp.Eq(v_next[_j, _e], update), "distance_gradient": grad, "squash": squash},
    )


def article4() -> tuple[Derivation, ...]:
    return (newton_generic(), gradient_descent_generic(), plsa_em(), soft_kmeans())


def article5() -> tuple[Derivation, ...]:
    return (soft_kmeans(), capsule_routing())


@budgeted("derive")
def em_example(name: str) -> Derivation:
    """The worked EM/MM derivation ``name`` (see :data:`EM_EXAMPLES`)."""
    from symsmooth.errors import DerivationError

    try:
        return EM_EXAMPLES[name]()
    except KeyError:
        raise DerivationError(
            f"no worked EM/MM example named {name!r}; choose one of {sorted(EM_EXAMPLES)}"
        ) from None


def _imle() -> Derivation:
    from symsmooth.derive.examples_losses import imle

    return imle()


EM_EXAMPLES = {"kmeans": soft_kmeans, "plsa": plsa_em, "capsule": capsule_routing, "imle": _imle}
"""Name -> worked EM/MM derivation (``symsmooth derive em NAME``)."""
