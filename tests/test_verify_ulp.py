"""ulp distance, reference evaluation and reports, against hand-checkable cases."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import pipeline
from symsmooth.codegen.render import load_module
from symsmooth.codegen.spec import make_spec
from symsmooth.functions import softplus
from symsmooth.verification.exact import ElementwiseReference, RowReference
from symsmooth.verification.grids import elementwise_grid, row_grid
from symsmooth.verification.kernels import measure
from symsmooth.verification.ulp import ulp, ulp_error


def test_ulp_definition():
    assert ulp(1, np.float64) == mpmath.mpf(2) ** -52
    with mpmath.workprec(200):
        below_two = mpmath.mpf(2) - mpmath.mpf(2) ** -60
    assert ulp(below_two, np.float64) == mpmath.mpf(2) ** -52
    assert ulp(0, np.float64) == mpmath.mpf(2) ** -1074  # smallest subnormal
    assert ulp(1e-320, np.float64) == mpmath.mpf(2) ** -1074
    assert ulp(1, np.float32) == mpmath.mpf(2) ** -23


def test_ulp_error_cases():
    one = mpmath.mpf(1)
    assert ulp_error(np.nextafter(1.0, 2.0), one) == 1.0
    with mpmath.workprec(200):
        half_up = one + mpmath.mpf(2) ** -53
    assert ulp_error(1.0, half_up) == 0.5
    assert ulp_error(np.inf, mpmath.inf) == 0.0
    assert ulp_error(np.inf, mpmath.mpf(10) ** 400) == 0.0  # correct overflow
    assert ulp_error(np.inf, mpmath.mpf(1)) == np.inf
    assert ulp_error(np.nan, one) == np.inf
    assert ulp_error(1.0, mpmath.nan) == 0.0  # undefined reference: not counted


def test_adaptive_reference_survives_cancellation():
    x = sp.Symbol("x", real=True)
    ref = ElementwiseReference(sp.log(1 + sp.exp(x)), (x,), ())
    with mpmath.workdps(60):
        # certified: relative error below 2**-64 (balls.CERTIFY_BITS)
        assert abs(ref.value([-272.13]) / mpmath.exp(mpmath.mpf(-272.13)) - 1) < 2.0**-64
        exact = mpmath.log1p(mpmath.exp(-40))
        assert abs(ref.value([-40.0]) - exact) < exact * 2.0**-64


def test_row_reference_matches_direct_mpmath():
    """The normal-form reference equals the exact formula evaluated term by term."""
    X = sp.IndexedBase("x", real=True)
    T = sp.IndexedBase("t", real=True)
    i = sp.Symbol("i", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    k = sp.Symbol("k", positive=True)
    S = lambda f: sp.Sum(f, (i, 1, n))  # noqa: E731
    expr = sp.log(1 + S((1 - T[i]) * sp.exp(k * X[i]))) + S(T[i] * X[i]) / S(sp.exp(k * X[i]))
    spec = make_spec("mix", expr, (X, T), (k,), index=i, size=n)
    ref = RowReference(spec.plan, spec.params, (1.5,))
    row = ([0.3, -1.2, 2.0], [0.25, 1.0, 0.0])
    got = ref.value(row)[0]

    def f(x2):
        xs = [mpmath.mpf(0.3), x2, mpmath.mpf(2.0)]
        ts = [mpmath.mpf(v) for v in row[1]]
        kk = mpmath.mpf(1.5)
        e = [mpmath.exp(kk * v) for v in xs]
        return mpmath.log(
            1 + mpmath.fsum((1 - t) * q for t, q in zip(ts, e, strict=False))
        ) + mpmath.fsum(t * v for t, v in zip(ts, xs, strict=False)) / mpmath.fsum(e)

    with mpmath.workdps(50):
        expect = f(mpmath.mpf(-1.2))
        d = mpmath.diff(f, mpmath.mpf(-1.2))
        assert abs(got - expect) < abs(expect) * 2.0**-64
    assert abs(ref.gradient(row, 0)[1] - d) < abs(d) * 2.0**-60  # d: numerical derivative


def test_grids_cover_hard_regions():
    g = elementwise_grid(np.float64)
    assert np.any(np.abs(g["overflow_edge"] - 709.78) < 0.5)
    assert np.any((g["tiny"] != 0) & (np.abs(g["tiny"]) < np.finfo(np.float64).tiny * 1e10))
    rows = row_grid(2, np.float64, long_n=1000)
    assert np.isneginf(rows["with_neg_inf"][0]).any()
    assert np.all(rows["ties"][0] == rows["ties"][0][0, 0])
    assert np.all((rows["moderate"][1] >= 0) & (rows["moderate"][1] <= 1))


@pytest.fixture(scope="module")
def naive_and_stable(tmp_path_factory):
    out = tmp_path_factory.mktemp("naive")
    x = sp.Symbol("x", real=True)
    naive = make_spec("naive_softplus", sp.log(1 + sp.exp(x)), (x,), ())
    stable = make_spec(
        "stable_softplus",
        softplus(x),
        (x,),
        (),
    )
    # the exact reference of the stable spec is its own (naive-rewritten) expression
    pipeline.generate([naive, stable], out=out)
    return naive, stable, out


def test_report_flags_naive_kernel(naive_and_stable):
    naive, stable, out = naive_and_stable
    bad = measure(naive, load_module("naive_softplus", out), per_regime=8, dtypes=(np.float64,))
    assert not bad.ok
    assert {r.regime for r in bad.failures() if r.part == "value"} >= {"large"}
    good = measure(
        stable, load_module("stable_softplus", out), per_regime=8, dtypes=(np.float64, np.float32)
    )
    assert good.worst("value", "float64") <= 1.0
    assert good.worst("value", "float32") <= 1.0
    assert {r.regime for r in good.rows} >= {"huge", "overflow_edge", "tiny", "breakpoint"}


def test_ss_verify_on_catalog_reduction(tmp_path):
    report = pipeline.verify("logsumexp_max", out=tmp_path, per_regime=8, long_n=3000)
    assert report.name == "logsumexp_max" and report.kind == "reduction"
    assert report.worst("value", "float64") <= 4
    assert report.worst("value", "float32") <= 1
    assert {r.regime for r in report.rows} >= {"long", "shifted_up", "with_neg_inf", "ties"}


def test_row_reference_rowmap_vjp_matches_direct_mpmath():
    """Softmax VJP from the cached row sums (formed once at 100 digits) equals the textbook
    formula ``p_j (g_j - sum_i g_i p_i)`` evaluated directly, at a dominant entry too."""
    from symsmooth import catalog

    spec = pipeline.kernel_spec(catalog.get("softmax_onehot_argmax"))
    ref = RowReference(spec.plan, spec.params, (1.0,))
    row = ([40.0, -3.0, 0.5, 2.25],)
    cot = [0.5, -1.25, 2.0, 0.75]
    with mpmath.workdps(80):
        e = [mpmath.exp(mpmath.mpf(v)) for v in row[0]]
        p = [v / mpmath.fsum(e) for v in e]
        mean = mpmath.fsum(mpmath.mpf(g) * q for g, q in zip(cot, p, strict=True))
        expect = [q * (mpmath.mpf(g) - mean) for g, q in zip(cot, p, strict=True)]
        got = ref.gradient(row, 0, cot)
        for a, b in zip(got, expect, strict=True):
            assert abs(a - b) <= abs(b) * 2.0**-64


def test_reference_cache_round_trip(tmp_path, naive_and_stable, monkeypatch):
    """A second measurement reads every reference from the cache folder (no mpmath work) and
    reports exactly the same rows; another parameter value is another key."""
    from symsmooth.verification import points
    from symsmooth.verification.cache import ReferenceCache

    _, stable, out = naive_and_stable
    module = load_module("stable_softplus", out)
    store = ReferenceCache(tmp_path / "refs")
    first = measure(stable, module, per_regime=6, cache=store)
    assert len(list((tmp_path / "refs").rglob("*.json"))) == 2 * 6 * 2  # dtype x regime x part

    class Refuse:
        def __init__(self, *args, **kwargs):
            raise AssertionError("reference recomputed despite the cache")

    monkeypatch.setattr(points, "ElementwiseReference", Refuse)
    again = measure(stable, module, per_regime=6, cache=store)
    assert again.rows == first.rows
    assert store.key("x", np.ones(2)) != store.key("x", np.ones(3))
    assert store.key("x", 1.0) != store.key("x", 2.0)


def test_adaptive_reference_stops_beyond_every_format():
    """``d/dx log(log(e^{e^x} + e^{e^y}))`` at x = 10, y = 1e4: the naive form needs the
    14,000-bit exponent of ``e^{e^y}`` to get digits right (20 s an evaluation past 200 digits);
    the exact value ``e^x sigma(e^x - e^y) / log(...)`` is below 2**-1100, and so is the
    reference, which now stops there: the kernel's 0 is within 1e-6 ulp of either."""
    from symsmooth import catalog

    spec = pipeline.kernel_spec(catalog.get("max_pair_double_exp"))
    ref = ElementwiseReference(spec.expr, spec.inputs, spec.params, spec.gradients)
    got = ref.gradient([10.0, 1e4, 1.0], 0)
    with mpmath.workdps(50):
        ex, ey = mpmath.exp(10), mpmath.exp(mpmath.mpf(1e4))
        log_sum = ey + mpmath.log1p(mpmath.exp(ex - ey))  # log(e^{e^x} + e^{e^y})
        exact = mpmath.exp(10) / (1 + mpmath.exp(ey - ex)) / log_sum
    assert 0 < exact < mpmath.mpf(2) ** -1100 and 0 < got < mpmath.mpf(2) ** -1100
    assert ulp_error(0.0, got) < 1e-6 and ulp_error(0.0, exact) < 1e-6


def test_reference_refuses_exponents_of_a_million_bits():
    """``exp(exp(7.4e6))`` (float32 *huge* regime of max_pair_double_exp) would first need
    ``log 2`` to 10^7 bits; the kernel reference refuses it and ``measure`` labels the point
    as skipped, while ``exp(exp(1e4))`` (a 14,000-bit exponent) is still evaluated exactly."""
    from symsmooth.verification.reference import ReferenceRangeError

    x = sp.Symbol("x", real=True)
    ref = ElementwiseReference(sp.log(1 + sp.exp(sp.exp(x))), (x,), ())
    with pytest.raises(ReferenceRangeError, match="EXP_MAG_LIMIT"):
        ref.value([7.4e6])
    with mpmath.workdps(40):
        assert abs(ref.value([1e4]) / mpmath.exp(mpmath.mpf(1e4)) - 1) < mpmath.mpf(10) ** -30


def test_reference_sees_a_sum_that_cancels_below_every_precision_tried():
    """``1/2 + erf(z/sqrt 2)/2 + z phi(z)`` (the GELU gradient) at ``z = -33``: ``erf`` rounds
    to -1 at 50, 100 and 200 digits, so those results agree with each other and are all
    ``z phi(z)``, 0.1% off.  The reference must see the cancelled sum and go on."""
    import mpmath
    import sympy as sp

    from symsmooth.verification.exact import ElementwiseReference

    z = sp.Symbol("z", real=True)
    expr = (
        sp.erf(z / sp.sqrt(2)) / 2
        + sp.Rational(1, 2)
        + z * sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    )
    ref = ElementwiseReference(expr, (z,), ())
    for point in (-33.24597932270942, -24.620924014946254, -0.75):
        with mpmath.workdps(80):
            t = mpmath.mpf(point)
            exact = t * mpmath.npdf(t) + mpmath.ncdf(t)  # no cancellation: ncdf is erfc-based
            got = ref.value([point])
            assert abs(got - exact) <= abs(exact) * mpmath.mpf(10) ** -30
    with mpmath.workdps(200):  # the trap itself: at 200 digits the naive sum is z phi(z)
        t = mpmath.mpf(-33.24597932270942)
        trap = mpmath.erf(t / mpmath.sqrt(2)) / 2 + mpmath.mpf(1) / 2 + t * mpmath.npdf(t)
        assert abs(trap - t * mpmath.npdf(t)) < abs(trap) * mpmath.mpf(10) ** -150
        assert abs(trap - (t * mpmath.npdf(t) + mpmath.ncdf(t))) > abs(trap) * 1e-4
