"""Regression tests of issue 12 item 2: reductions on confident rows (one logit far above the rest).

Every reference is the textbook formula in Arb ball arithmetic (python-flint), not the normal
form: a certified value to compare the generated kernels with, in ulp.

Rule tested here: a gradient with a term free of the element's weight (the derivative through a
gathered label entry ``x_t``) is pivoted like the ratios of sums (``symsmooth.codegen.pivot``):
both parts share one numerator ``E_l - [l = t] (P + r)``, which at the pivot ``m = t`` is
``-r``, minus the sum of the non-target weights.  The old form ``p_t - 1`` is 0 on a confident
row (``[10, -30]``, ``t = 1``: exact ``-4.25e-18``).
"""

import flint
import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import pipeline
from symsmooth.codegen.pivot import pivot_form
from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 600  # e^{-1600} (x = [800, -800]) is far from 1 at this precision


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _mp(value: flint.arb) -> mpmath.mpf:
    """The midpoint of a ball certified to 2**-60 relative, as an exact mpmath number."""
    assert value.rad() <= abs(value.mid()) * flint.arb(2) ** -60, f"loose reference {value}"
    man, exp = value.mid().man_exp()
    with mpmath.workprec(PREC):
        return mpmath.mpf(int(man)) * mpmath.mpf(2) ** int(exp)


def _softmax(x, k):
    xs, k = [flint.arb(float(v)) for v in x], flint.arb(float(k))
    total = sum((k * v).exp() for v in xs)
    return [(k * v).exp() / total for v in xs], total, xs, k


def ce_ref(x, t, k):
    """``log(sum e^{k x_i})/k - x_t`` and its gradient ``p_l - [l = t]``; at ``l = t`` the
    gradient is written ``-sum_{i != t} p_i`` (the exact value, not a rounded difference)."""
    p, total, xs, k = _softmax(x, k)
    grad = [pi if i != t - 1 else -sum(p[:i] + p[i + 1 :]) for i, pi in enumerate(p)]
    return total.log() / k - xs[t - 1], grad


def accuracy_ref(x, t, k):
    """``p_t = softmax(k x)_t`` and its gradient ``k p_t ([l = t] - p_l)``."""
    p, _, _, k = _softmax(x, k)
    rest = sum(p[: t - 1] + p[t:])
    grad = [k * p[t - 1] * (rest if i == t - 1 else -pi) for i, pi in enumerate(p)]
    return p[t - 1], grad


@pytest.fixture(scope="module")
def ce():
    return load_module("cross_entropy_lse", "generated")


@pytest.fixture(scope="module")
def accuracy():
    return load_module("smooth_accuracy", "generated")


CONFIDENT = [
    ([10.0, -30.0], 1, 1.0),  # the row: exact gradient at t -4.25e-18
    ([10.0, -30.154566186109125, -29.820995875831905, -30.951018645013274], 1, 1.0),
    ([-3.0, 0.5, 41.0, 7.25, -100.0], 3, 1.0),
    ([800.0, -800.0], 1, 1.0),  # exact -e^{-1600}: underflows to -0.0 / 0.0
    ([10.0, -30.0], 1, 0.37),
    ([1.0, -2.0, 0.25], 1, 30.0),
    ([5.0, 5.0 - 2.0**-40, -60.0], 2, 1.0),  # target just below a tie: no cancellation either
]


def naive_ce_grad(x, t, k):
    """``softmax(k x) - onehot(t)`` from the rounded softmax (the old kernel at the target)."""
    h = k * np.asarray(x, float)
    e = np.exp(h - h.max())
    g = e / e.sum()
    g[t - 1] -= 1.0
    return g


def _close(got, want, ulps):
    exact = _mp(want) if want != 0 else mpmath.mpf(0)
    return ulp_error(float(got), exact) <= ulps


@pytest.mark.parametrize("x, t, k", CONFIDENT)
def test_cross_entropy_gradient_at_the_target(ce, x, t, k):
    _, grad = ce_ref(x, t, k)
    got = ce.cross_entropy_lse_grad(np.array([x]), k, t)[0]
    for g, want in zip(got, grad, strict=True):
        assert _close(g, want, 4), (got, [float(v.mid()) for v in grad])


@pytest.mark.parametrize("x, t, k", CONFIDENT)
def test_smooth_accuracy_gradient_at_the_target(accuracy, x, t, k):
    value, grad = accuracy_ref(x, t, k)
    assert _close(accuracy.smooth_accuracy(np.array([x]), k, t)[0], value, 4)
    got = accuracy.smooth_accuracy_grad(np.array([x]), k, t)[0]
    for g, want in zip(got, grad, strict=True):
        assert _close(g, want, 4), (got, [float(v.mid()) for v in grad])


def test_naive_difference_fails_where_the_pivoted_form_holds(ce):
    x, t, k = CONFIDENT[0]
    _, grad = ce_ref(x, t, k)
    exact = float(grad[0].mid())
    assert exact == pytest.approx(-4.248354255291589e-18, rel=1e-15)
    assert naive_ce_grad(x, t, k)[0] == 0.0  # 1e16 ulp: no correct digit
    assert ce.cross_entropy_lse_grad(np.array([x]), k, t)[0, 0] == exact


@pytest.mark.parametrize("x, t, k", CONFIDENT)
def test_cross_entropy_value_is_exp_of_minus_the_gap(ce, x, t, k):
    value, _ = ce_ref(x, t, k)
    got = ce.cross_entropy_lse(np.array([x]), k, t)[0]
    assert got >= 0.0
    if k == 1.0:  # k x is exact: the value is accurate for the exact inputs
        assert _close(got, value, 4), (got, value)


@pytest.mark.parametrize(
    "x, k", [([-1.6347], 0.1), ([1e300], 0.1), ([1e300], 3.0), ([2.5, 2.5 - 1e-15], 0.37)]
)
def test_cross_entropy_never_negative(ce, x, k):
    # the CE([-1.6347], 0.1, 1) = -2.2e-16 and -1.5e284 near 1e300: M - k x_t is
    # formed as exactly as M, so it is >= 0 (0 for a row of one entry)
    for t in range(1, len(x) + 1):
        assert ce.cross_entropy_lse(np.array([x]), k, t)[0] >= 0.0


def test_float32_gradient_at_the_target(ce, accuracy):
    x32 = np.array([[10.0, -30.0]], dtype=np.float32)
    _, grad = ce_ref([10.0, -30.0], 1, 1.0)
    got = ce.cross_entropy_lse_grad(x32, 1.0, 1)
    assert got.dtype == np.float32
    assert got[0, 0] == np.float32(float(grad[0].mid()))  # was 0: 1.3e7 float32 ulp
    _, grad = accuracy_ref([10.0, -30.0], 1, 1.0)
    assert accuracy.smooth_accuracy_grad(x32, 1.0, 1)[0, 0] == np.float32(float(grad[0].mid()))


def test_pivot_form_puts_the_label_term_over_the_denominator():
    spec = pipeline.kernel_spec(pipeline.catalog_entry("cross_entropy_lse"))
    piv = pivot_form(spec.plan, spec.pieces)
    assert piv is not None and piv.weighted == (False,)
    (rest,), (lead,) = piv.rest, piv.leading
    (r,) = piv.small
    symbols = {s.name: s for s in (rest + lead).free_symbols}
    at_target = {symbols["pos_"]: symbols["t"]}
    # the numerator at the target is E_t - 1 - r: 0 - r at the pivot (E = 1), minus the
    # non-target weights; elsewhere E_l (no r)
    assert sp.simplify((lead + rest).xreplace(at_target)) == symbols["E1"] - 1 - r
    assert sp.simplify(lead + rest - symbols["E1"]).has(sp.Piecewise)
