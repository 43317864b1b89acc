"""Known answers for the ZLPR multi-label entries (symsmooth/catalog/multilabel.py).

References (catalog.md section 8): the threshold-class identity (Z1), the Keras reference
implementation re-typed in NumPy (Z2), gradient and Hessian in closed form (Z3/Z4), Newton's
identities against brute-force subset sums (Z5/Z6), the soft-label optimum t = sigmoid(2s)
(Z7), and post 9064's BCE expansion.  Values are computed with direct mpmath sums.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.catalog.multilabel import (
    padded_partition,
    subset_partition,
    uniform_bound,
)
from symsmooth.symbols import S, T, k, n

DPS = 40
TOL = mp.mpf(10) ** -30


def instance(expr: sp.Expr, labels: list, kv, wrt: int | None = None) -> callable:
    """``expr`` at ``n = len(labels)``, labels and ``k`` substituted: an mpmath function of s.

    Labels go in (as a 1-based array) before the reductions are expanded, so that SymPy's
    ``Max``/``Min`` see numbers, not symbolic labels."""
    size = len(labels)
    table = sp.ImmutableDenseNDimArray([0] + [sp.Float(v, DPS + 10) for v in labels])
    with sp.evaluate(False):
        body = expr.subs({n: size, k: sp.Float(kv, DPS + 10)}).xreplace({T: table})
    body = body.doit()
    if wrt is not None:  # the partial derivative d/ds_wrt instead
        body = sp.diff(body, S[wrt])
    fn = sp.lambdify([S[m] for m in range(1, size + 1)], body, "mpmath")
    return lambda s: fn(*[mp.mpf(v) for v in s])


def zlpr_direct(s, t, kv=1):
    """Soft-label ZLPR from its definition (hard labels: t in {0, 1})."""
    kv = mp.mpf(kv)
    pos = mp.fsum(mp.mpf(ti) * mp.exp(-kv * mp.mpf(si)) for si, ti in zip(s, t, strict=True))
    neg = mp.fsum((1 - mp.mpf(ti)) * mp.exp(kv * mp.mpf(si)) for si, ti in zip(s, t, strict=True))
    return (mp.log(1 + pos) + mp.log(1 + neg)) / kv


def hinge(s, t):
    """The k -> oo target: max(0, max over t>0 of -s) + max(0, max over t<1 of s)."""
    pos = [-mp.mpf(si) for si, ti in zip(s, t, strict=True) if ti > 0]
    neg = [mp.mpf(si) for si, ti in zip(s, t, strict=True) if ti < 1]
    return max([0, *pos]) + max([0, *neg])


def cases(soft: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    for size in (1, 2, 3, 5):
        for _ in range(3):
            s = [float(v) for v in rng.normal(0, 3, size)]
            t = rng.random(size) if soft else rng.integers(0, 2, size)
            yield s, [float(v) for v in t]


@pytest.mark.parametrize("name, soft", [("zlpr", False), ("zlpr_soft", True), ("zlpr_soft", False)])
@pytest.mark.parametrize("kv", [1, 7])
def test_entry_matches_definition_and_target(name, soft, kv):
    record = catalog.get(name)
    with mp.workdps(DPS):
        for s, t in cases(soft):
            assert abs(instance(record.expr, t, kv)(s) - zlpr_direct(s, t, kv)) < TOL
            assert abs(instance(record.target, t, kv)(s) - hinge(s, t)) < TOL


def test_z1_threshold_class_identity():
    """log(1 + sum_{neg,pos} e^{s_i - s_j} + sum_neg e^{s_i - s0} + sum_pos e^{s0 - s_j})
    = log(e^{s0} + sum_neg e^{s_i}) + log(e^{-s0} + sum_pos e^{-s_j}); s0 = 0 gives ZLPR."""
    rng = np.random.default_rng(3)
    record = catalog.get("zlpr")
    with mp.workdps(DPS):
        for s0 in (0, 0.7, -1.3):
            s = [mp.mpf(float(v)) for v in rng.normal(0, 2, 5)]
            labels = [1, 0, 0, 1, 0]
            neg = [v for v, y in zip(s, labels, strict=True) if y == 0]
            pos = [v for v, y in zip(s, labels, strict=True) if y == 1]
            lhs = mp.log(
                1
                + mp.fsum(mp.exp(a - b) for a in neg for b in pos)
                + mp.fsum(mp.exp(a - s0) for a in neg)
                + mp.fsum(mp.exp(s0 - b) for b in pos)
            )
            rhs = mp.log(mp.exp(s0) + mp.fsum(map(mp.exp, neg))) + mp.log(
                mp.exp(-s0) + mp.fsum(mp.exp(-b) for b in pos)
            )
            assert abs(lhs - rhs) < TOL
            if s0 == 0:
                assert abs(instance(record.expr, labels, 1)(s) - lhs) < TOL


def keras_zlpr(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Article 8's Keras code, re-typed with NumPy (float64)."""
    from scipy.special import logsumexp

    y_pred = (1 - 2 * y_true) * y_pred
    y_pred_neg = y_pred - y_true * 1e12
    y_pred_pos = y_pred - (1 - y_true) * 1e12
    zeros = np.zeros_like(y_pred[..., :1])
    y_pred_neg = np.concatenate([y_pred_neg, zeros], axis=-1)
    y_pred_pos = np.concatenate([y_pred_pos, zeros], axis=-1)
    return logsumexp(y_pred_neg, axis=-1) + logsumexp(y_pred_pos, axis=-1)


def test_z2_keras_reference():
    record = catalog.get("zlpr")
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 2, (6, 5)).astype(float)
    y_pred = rng.normal(0, 4, (6, 5))
    expected = keras_zlpr(y_true, y_pred)
    for row in range(6):
        got = instance(record.expr, list(y_true[row]), 1)(list(y_pred[row]))
        assert abs(float(got) - expected[row]) <= 1e-12 * max(1.0, abs(expected[row]))


def test_z3_z4_gradient_and_hessian():
    """dL/ds_i = softmax over neg + {0} (neg), -softmax over -pos + {0} (pos); Hessian block
    diagonal with blocks diag(p) - p p^T."""
    record = catalog.get("zlpr")
    labels = [1, 0, 1, 0, 0]
    s_val = [0.4, -1.2, 2.0, 0.9, -0.1]
    size = len(labels)
    body = (
        record.expr.subs({n: size, k: 1}).doit().subs({T[m + 1]: y for m, y in enumerate(labels)})
    )
    args = [S[m] for m in range(1, size + 1)]
    at = {a: sp.Float(v, DPS + 10) for a, v in zip(args, s_val, strict=True)}
    with mp.workdps(DPS):
        neg_total = 1 + mp.fsum(mp.exp(v) for v, y in zip(s_val, labels, strict=True) if y == 0)
        pos_total = 1 + mp.fsum(mp.exp(-v) for v, y in zip(s_val, labels, strict=True) if y == 1)
        prob = [
            mp.exp(v) / neg_total if y == 0 else mp.exp(-v) / pos_total
            for v, y in zip(s_val, labels, strict=True)
        ]
        for a, y, p in zip(args, labels, prob, strict=True):
            grad = mp.mpf(sp.N(sp.diff(body, a).subs(at), DPS))
            assert abs(grad - (p if y == 0 else -p)) < TOL
        for (ia, a), (ib, b) in itertools.product(enumerate(args), repeat=2):
            hess = mp.mpf(sp.N(sp.diff(body, a, b).subs(at), DPS))
            same = labels[ia] == labels[ib]
            expected = (prob[ia] * (ia == ib) - prob[ia] * prob[ib]) if same else 0
            assert abs(hess - expected) < TOL


def brute_partition(s, size):
    return mp.fsum(mp.exp(mp.fsum(c)) for c in itertools.combinations(s, size))


def test_z5_z6_newton_identities_and_padding():
    rng = np.random.default_rng(2)
    sym = sp.symbols("q1:7", real=True)
    s_val = [mp.mpf(float(v)) for v in rng.normal(0, 1, 6)]
    s0 = mp.mpf("0.3")
    with mp.workdps(DPS):
        for size in range(0, 5):
            fn = sp.lambdify(sym, subset_partition(list(sym), size), "mpmath")
            assert abs(fn(*s_val) - brute_partition(s_val, size)) < TOL * brute_partition(
                s_val, size
            )
        for size in range(1, 4):
            fn = sp.lambdify(sym, padded_partition(list(sym), size, sp.Float(s0, DPS)), "mpmath")
            closed = mp.fsum(
                mp.exp(m * s0) * brute_partition(s_val, size - m) for m in range(size + 1)
            )
            assert abs(fn(*s_val) - closed) < TOL * closed


def test_z7_soft_label_optimum_is_sigmoid_of_twice_the_score():
    """Post 9064: for given soft labels t, the loss is minimal at s_i = logit(t_i)/2."""
    record = catalog.get("zlpr_soft")
    t = [0.15, 0.5, 0.8, 0.33]
    with mp.workdps(DPS):
        best = [mp.log(mp.mpf(ti) / (1 - mp.mpf(ti))) / 2 for ti in t]
        f = instance(record.expr, t, 1)
        for m in range(len(t)):
            grad = instance(record.expr, t, 1, wrt=m + 1)
            assert abs(grad(best)) < TOL
        rng = np.random.default_rng(4)
        for _ in range(20):
            step = [mp.mpf(float(v)) * mp.mpf("0.05") for v in rng.normal(size=len(t))]
            assert f([a + b for a, b in zip(best, step, strict=True)]) > f(best)
        assert [1 / (1 + mp.exp(-2 * v)) for v in best] == pytest.approx(t, abs=1e-30)


def test_bce_expansion_of_post_9064():
    """Sum of sigmoid BCEs = log prod(1 + e^{-s_pos}) + log prod(1 + e^{s_neg}) >= ZLPR, with
    equality when each class set has at most one element."""
    with mp.workdps(DPS):
        for s, t in cases(soft=False, seed=9):
            bce = mp.fsum(
                mp.log(1 + mp.exp(-mp.mpf(v))) if y else mp.log(1 + mp.exp(mp.mpf(v)))
                for v, y in zip(s, t, strict=True)
            )
            zlpr = zlpr_direct(s, t)
            assert bce >= zlpr - TOL
            if sum(t) <= 1 and len(t) - sum(t) <= 1:
                assert abs(bce - zlpr) < TOL


# --- bounds ------------------------------------------------------------------------------


def test_hard_bound_is_exact_sup_attained_at_zero_scores():
    record = catalog.get("zlpr")
    with mp.workdps(DPS):
        for labels in ([1, 0, 1, 0], [0, 0, 0], [1], [1, 1, 0, 0, 0, 1]):
            for kv in (1, 5):
                f = instance(record.expr, labels, kv)
                g = instance(record.bound, labels, kv)
                zero = [0] * len(labels)
                assert abs(f(zero) - g(zero)) < TOL  # target is 0 at s = 0
                exact = (mp.log(1 + sum(labels)) + mp.log(1 + len(labels) - sum(labels))) / kv
                assert abs(g(zero) - exact) < TOL
                for s, _ in cases(soft=False, seed=len(labels)):
                    s = (s * len(labels))[: len(labels)]
                    err = f(s) - hinge(s, labels)
                    assert -TOL <= err <= exact + TOL


@pytest.mark.parametrize("size", range(1, 8))
def test_uniform_bound_is_max_over_label_splits(size):
    with mp.workdps(DPS):
        brute = max(
            mp.log(1 + sum(y)) + mp.log(1 + size - sum(y))
            for y in itertools.product([0, 1], repeat=size)
        )
        assert abs(mp.mpf(sp.N(uniform_bound(size), DPS)) - brute) < TOL
        assert brute <= 2 * mp.log(1 + mp.mpf(size) / 2) + TOL


def test_soft_lower_end_is_approached_as_scores_diverge():
    """t = (1e-3, 0.4): sending s_1 -> -oo and s_2 -> +oo drives k (l - target) to
    log(1e-3) + log(0.6), the lower end of the bound; the bound is its magnitude."""
    record = catalog.get("zlpr_soft")
    t = [1e-3, 0.4]
    with mp.workdps(DPS):
        f = instance(record.expr, t, 1)
        gaps = [f([-r, r]) - hinge([-r, r], t) for r in (10, 30, 60)]
        limit = mp.log(mp.mpf(1e-3)) + mp.log(mp.mpf(0.6))
        assert gaps[-1] - limit < mp.mpf(10) ** -20 and all(g > limit for g in gaps)
        bound = instance(record.bound, t, 1)([0, 0])
        assert abs(bound + limit) < TOL


def test_soft_bound_holds_and_is_attained_at_zero_when_upper_end_dominates():
    record = catalog.get("zlpr_soft")
    with mp.workdps(DPS):
        for s, t in cases(soft=True, seed=21):
            f = instance(record.expr, t, 2)
            g = instance(record.bound, t, 2)
            assert abs(f(s) - hinge(s, t)) <= g(s) + TOL
        for point in record.attained:
            t = point[T]
            zero = [0] * len(t)
            assert abs(instance(record.expr, t, 1)(zero) - instance(record.bound, t, 1)(zero)) < TOL


def test_limit_along_a_sequence():
    record = catalog.get("zlpr_soft")
    s, t = [0.5, -2.0, 1.5], [0.2, 1.0, 0.0]
    with mp.workdps(DPS):
        errors = [abs(instance(record.expr, t, kv)(s) - hinge(s, t)) for kv in (1, 10, 1e3, 1e5)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-4
