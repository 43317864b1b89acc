"""Every stabilization rule is exact (equal to its naive form) and useful (float64 needs it).

Exact: the stable output, rewritten to exp/log/erf, equals the naive input at many points to
60 digits (mpmath at 1200 digits), and ``sympy.simplify`` proves it where it can.
Useful: at the rule's hard inputs, the naive form evaluated in float64 NumPy is inf/nan or off
by more than 1e3 ulp from the mpmath reference, while the stable form (NumPy implementations of
the primitives) is within a few ulps -- plus the input's condition number for erf tails, whose
argument ``x/sqrt 2`` is rounded before ``erfc`` sees it.
"""

from __future__ import annotations

import random
import zlib

import mpmath
import numpy as np
import pytest
import sympy as sp
from stabilize_helpers import (
    as_float,
    condition,
    elementary,
    float64,
    instantiate,
    naive_float64,
    reference,
    ulps,
)

from symsmooth.errors import StabilizeError
from symsmooth.functions import Phi, logsumexp, sigmoid, softplus
from symsmooth.functions.fused import dsigmoid
from symsmooth.functions.special import relu_gauss
from symsmooth.stabilization import (
    Stabilized,
    rule,
    rule_names,
    rule_set,
    rule_set_names,
    stabilize,
)
from symsmooth.stabilization.softmax import LOGISTIC_KERNEL

FEW_ULPS = 4
ALL_RULES = rule_names()

x, y = sp.symbols("x y", real=True)
k, s = sp.symbols("k s", positive=True)


def _sample_points(expr: sp.Expr, rng: random.Random, count: int = 10) -> list[dict]:
    """Random points in [-4, 4] (positive symbols in (0.1, 4]); vectors of length 3."""
    points = []
    idx = [a for a in expr.atoms(sp.Idx, sp.Symbol) if a.is_integer and not a.is_positive]
    sizes = [a for a in expr.free_symbols if a.is_integer and a.is_positive]
    for _ in range(count):
        point: dict = {n: 3 for n in sizes}
        point.update({j: rng.randint(1, 3) for j in idx if j in expr.free_symbols})
        for base in expr.atoms(sp.IndexedBase):
            point[base] = tuple(rng.uniform(-4, 4) for _ in range(3))
        for v in expr.free_symbols:
            if v in point or v.is_integer or isinstance(v, sp.Indexed):
                continue
            point[v] = rng.uniform(0.1, 4) if v.is_positive else rng.uniform(-4, 4)
        points.append(point)
    return points


def _assert_equal_at_points(before: sp.Expr, after: sp.Expr, seed: int) -> int:
    rng = random.Random(seed)
    checked = 0
    for point in _sample_points(before, rng, 12):
        ref = reference(before, point)
        if isinstance(ref, mpmath.mpc) or not mpmath.isfinite(ref):
            continue  # outside the naive form's real domain (e.g. log(1 - exp(z)) at z > 0)
        got = reference(after, point)
        assert abs(got - ref) <= abs(ref) * mpmath.mpf(10) ** -60 + mpmath.mpf(10) ** -300
        checked += 1
    return checked


# --- the rules, one by one ------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_RULES)
def test_rule_fires_on_its_example(name):
    r = rule(name)
    result = stabilize(r.naive)
    assert name in result.applied
    assert result.expr != r.naive


@pytest.mark.parametrize("name", ALL_RULES)
def test_rule_is_exact(name):
    r = rule(name)
    stable = stabilize(r.naive).expr
    checked = _assert_equal_at_points(r.naive, stable, seed=zlib.crc32(name.encode()))
    assert checked >= 5, "too few points in the naive form's domain"


SYMBOLIC = [n for n in ALL_RULES if "indexed" not in n]


@pytest.mark.parametrize("name", SYMBOLIC)
def test_rule_is_exact_symbolically(name):
    """``simplify(naive - stable) == 0`` where SymPy can decide it (Max/erfc forms excepted)."""
    r = rule(name)
    stable = elementary(stabilize(r.naive).expr).rewrite(sp.tanh, sp.exp)
    if stable.has(sp.Max, sp.erfc, sp.erf):
        stable = stable.rewrite(sp.Piecewise).rewrite(sp.erf)
        if stable.has(sp.Piecewise):
            pytest.skip("Max branches: checked numerically in test_rule_is_exact")
    diff = sp.simplify(sp.expand_log(elementary(r.naive) - stable, force=True))
    assert diff == 0


CONDITION_LIMITED = {"one_plus_erf", "softmax_indexed"}
"""Rules whose stable form rounds an intermediate the result is sensitive to: ``x/sqrt 2``
before ``erfc`` (``Phi``), ``LogSumExpOver`` (~1000) before ``exp(x_j - LSE)``.  One relative ulp
there moves the result by the relative condition number ``kappa`` of the function, which no
float64 algorithm fed the rounded intermediate can beat: allowed ``4 + 2 kappa`` ulps."""


@pytest.mark.parametrize("name", ALL_RULES)
def test_rule_is_useful(name):
    r = rule(name)
    stable = stabilize(r.naive).expr
    assert r.hard_inputs, "every rule documents an input where the naive form fails"
    for point in r.hard_inputs:
        ref = as_float(reference(r.naive, point))
        assert np.isfinite(ref)
        bad = ulps(naive_float64(r.naive, point), ref)
        good = ulps(float64(stable, point), ref)
        allowed = FEW_ULPS + (2 * condition(r.naive, point) if name in CONDITION_LIMITED else 0)
        assert bad > 1e3, f"{name}: naive form is fine at {point} ({bad} ulp)"
        assert good <= allowed, f"{name}: stable form off by {good} ulp at {point}"


# --- the catalog-style examples -------------------------------------------------------------


def test_smooth_max_pair_becomes_logsumexp():
    expr = sp.log(sp.exp(k * x) + sp.exp(k * y)) / k
    result = stabilize(expr)
    assert result.expr == logsumexp(k * x, k * y) / k
    assert result.applied == ("logsumexp",)
    point = {x: 1.0, y: 0.5, k: 1500.0}
    ref = as_float(reference(expr, point))
    assert not np.isfinite(naive_float64(expr, point))
    assert ulps(float64(result.expr, point), ref) <= FEW_ULPS


@pytest.mark.parametrize("kx", [800.0, -800.0, 30.0, -1e-3])
def test_article1_eq6_smooth_abs(kx):
    """(1/k) log(2 + e^{kx} + e^{-kx}) = |x| + ... stays accurate at kx = +-800 (post 1, eq 6)."""
    expr = sp.log(2 + sp.exp(k * x) + sp.exp(-k * x)) / k
    result = stabilize(expr)
    assert result.applied == ("logsumexp", "lse_square")
    point = {x: kx / 10.0, k: 10.0}
    ref = as_float(reference(expr, point))
    good = ulps(float64(result.expr, point), ref)
    assert good <= FEW_ULPS
    if abs(kx) == 800.0:
        assert not np.isfinite(naive_float64(expr, point))


RELU_GAUSS = (
    x * sp.erf(x / (sp.sqrt(2) * s)) + x + sp.sqrt(2 / sp.pi) * s * sp.exp(-(x**2) / (2 * s**2))
) / 2


@pytest.mark.parametrize("t", [-8.0, -10.0, -20.0, -37.0, -40.0, 3.0])
def test_relu_gaussian_tail(t):
    """ReLU * Gaussian (post 3, eq 9) = x Phi(x/s) + s phi(x/s): no cancellation to 0."""
    result = stabilize(RELU_GAUSS)
    # erf -> Phi, then the cancelling pair x Phi(t) + s phi(t) -> s relu_gauss(t) (special.py)
    assert result.applied == ("one_plus_erf", "relu_gauss")
    assert result.expr.has(relu_gauss) and not result.expr.has(sp.erf, Phi)
    point = {x: t * 1.5, s: 1.5}
    ref = as_float(reference(RELU_GAUSS, point))
    good = ulps(float64(result.expr, point), ref)
    # x Phi(t) + s phi(t), t = x/s: two terms t^2 times the result, each with a t^2 eps error
    # (conditioning of Phi at t): relative error ~ t^4 eps/2, i.e. about t^4 ulps at most
    assert good <= FEW_ULPS + t**4
    if -38 < t < -6:
        rel_naive = abs(naive_float64(RELU_GAUSS, point) - ref) / ref
        rel_good = abs(float64(result.expr, point) - ref) / ref
        assert rel_naive > 0.5 and rel_good < t**4 * 2.0**-52
    if t == -40.0:  # exact value ~1e-352 is below the subnormals: both forms return 0
        assert ref == 0.0 and float64(result.expr, point) == 0.0


def test_logistic_kernel_becomes_sigmoid_product():
    result = stabilize(LOGISTIC_KERNEL)
    t, u = sorted(LOGISTIC_KERNEL.free_symbols, key=str)
    assert result.expr == t * dsigmoid(t * u)  # sigmoid(tu) sigmoid(-tu), fused (accuracy)
    point = {t: 1.0, u: 400.0}
    ref = as_float(reference(LOGISTIC_KERNEL, point))
    assert naive_float64(LOGISTIC_KERNEL, point) == 0.0 and ref > 1e-175
    assert ulps(float64(result.expr, point), ref) <= FEW_ULPS


def test_softmax_ratio_is_max_shifted_and_exact_at_ties():
    a, b = sp.symbols("a b", real=True)
    result = stabilize(sp.exp(a) / (sp.exp(a) + sp.exp(b)))
    point = {a: 1000.0, b: 1000.0}
    assert float64(result.expr, point) == 0.5
    # the exp(a - logsumexp) form is exact math but rounds logsumexp(1000, 1000) first
    lse_form = sp.exp(a - logsumexp(a, b))
    assert ulps(float64(lse_form, point), 0.5) > 10


def test_zlpr_term_becomes_softplus_of_indexed_logsumexp():
    xs = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True)
    n = sp.Symbol("n", integer=True, positive=True)
    expr = sp.log(1 + sp.Sum(sp.exp(xs[i]), (i, 1, n)))
    result = stabilize(expr)
    assert isinstance(result.expr, softplus)
    assert stabilize(1 / expr.args[0]).expr == sigmoid(-result.expr.args[0])
    point = {xs: (800.0, -3.0, 799.5), n: 3}
    ref = as_float(reference(expr, point))
    assert not np.isfinite(naive_float64(expr, point))
    assert ulps(float64(result.expr, point), ref) <= FEW_ULPS


# --- the engine -------------------------------------------------------------------------------


def test_stabilize_returns_a_frozen_record_and_keeps_the_input():
    expr = sp.log(1 + sp.exp(x)) + 1 - sp.erf(x)
    before = sp.srepr(expr)
    result = stabilize(expr)
    assert isinstance(result, Stabilized)
    assert result.input is expr and sp.srepr(expr) == before
    assert result.expr == softplus(x) + sp.erfc(x)
    assert set(result.applied) == {"softplus", "one_minus_erf"}
    with pytest.raises(AttributeError):
        result.expr = x  # frozen


def test_fixed_point_is_idempotent():
    for name in ALL_RULES:
        once = stabilize(rule(name).naive)
        twice = stabilize(once.expr)
        assert twice.expr == once.expr and not twice.changed


def test_rule_sets_are_registered_and_default_holds_every_set_rule():
    assert set(rule_set_names()) >= {"default", "exp_log", "erf_tails", "softmax"}
    default = {r.name for r in rule_set("default").rules}
    for name in ("exp_log", "erf_tails", "softmax"):
        assert {r.name for r in rule_set(name).rules} <= default
    assert default == set(ALL_RULES)


def test_a_narrow_rule_set_leaves_other_forms_alone():
    expr = sp.log(1 + sp.exp(x)) + 1 - sp.erf(x)
    assert stabilize(expr, "erf_tails").expr == sp.log(1 + sp.exp(x)) + sp.erfc(x)
    assert stabilize(expr, ["softplus"]).expr == softplus(x) + 1 - sp.erf(x)


def test_unknown_names_fail_with_suggestions():
    with pytest.raises(StabilizeError, match="exp_log"):
        stabilize(x, "exp_logg")
    with pytest.raises(StabilizeError, match="softplus"):
        rule("softplsu")


def test_expressions_without_naive_forms_pass_through():
    expr = sp.sin(x) * sp.exp(x) + sp.log(x**2 + 3)
    result = stabilize(expr)
    assert result.expr == expr and result.applied == ()


def test_instantiate_helper_expands_vectors():
    xs = sp.IndexedBase("x")
    i = sp.Symbol("i", integer=True)
    n = sp.Symbol("n", integer=True, positive=True)
    e, dummies, values = instantiate(sp.Sum(xs[i], (i, 1, n)), {xs: (1.0, 2.0, 4.0), n: 3})
    assert sp.lambdify(dummies, e)(*values) == 7.0
