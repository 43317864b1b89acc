"""Parameter derivatives of the reductions (``<name>_grad_<p>``, issue #14 point 2).

Every value is compared with a certified reference written here in Arb (python-flint) from
the textbook formula of the derivative (the sums of ``e^{k x}`` and ``x e^{k x}``, nothing of
symsmooth's normal form, pivot or helpers), evaluated at the exact double inputs with the
precision raised until the ball is tight to ``2**-60`` relative.  The kernels hold 4 ulp at
``k != 1``; the textbook formula in float64 loses thousands of ulps where its two terms cancel
(a row near 1000, a confident row), which is what the pivot split avoids.
"""

from __future__ import annotations

import flint
import mpmath
import numpy as np
import pytest

import symsmooth as ss
from symsmooth.verification.ulp import ulp_error

GENERATED = "generated"
A = flint.arb
KS = (0.37, 3.0, 1e3)


def _certify(fn):
    """``fn()`` (an arb) at rising precision until its radius is below 2**-60 relative."""
    saved = flint.ctx.prec
    try:
        for prec in (256, 1024, 4096, 16384):
            flint.ctx.prec = prec
            ball = fn()
            if ball.is_finite() and ball.rad() <= abs(ball.mid()) * A(2) ** -60:
                man, exp = ball.mid().man_exp()
                with mpmath.workprec(max(int(man).bit_length(), 53) + 8):
                    return mpmath.mpf((int(man), int(exp)))
    finally:
        flint.ctx.prec = saved
    raise AssertionError("reference not certified")


def _lse_k(x, k):
    """d/dk log(sum e^{k x})/k = sum x e^{k x} / (k S) - log(S)/k**2."""
    xs, k = [A(float(v)) for v in x if v != -np.inf], A(k)
    s = sum((v * k).exp() for v in xs)
    return sum(v * (v * k).exp() for v in xs) / (k * s) - s.log() / k**2


def _log1p_k(weights, x, k, sign):
    """d/dk log(1 + sum w e^{sign k x})/k."""
    k, terms = A(k), [(A(float(w)), A(float(v))) for w, v in zip(weights, x, strict=True)]
    a = 1 + sum(w * (sign * k * v).exp() for w, v in terms)
    da = sum(w * sign * v * (sign * k * v).exp() for w, v in terms)
    return da / (k * a) - a.log() / k**2


def _imle_sigma(d, sigma):
    """d/dsigma of -2 sigma**2 log S, S = sum e^{-d/(2 sigma**2)}: -4 sigma log S - 2 sigma**2
    S'/S, S' = sum d/sigma**3 e^{-d/(2 sigma**2)}."""
    ds, sg = [A(float(v)) for v in d], A(sigma)
    e = [(-v / (2 * sg * sg)).exp() for v in ds]
    s = sum(e)
    tangent = sum(v / sg**3 * w for v, w in zip(ds, e, strict=True))
    return -4 * sg * s.log() - 2 * sg * sg * tangent / s


def _zlpr_labels(n):
    return (np.arange(n) % 3 == 0).astype(float)


REFERENCES = {
    # name: (call(derivative, row, k), reference(row, k))
    "logsumexp_max": (lambda f, x, k: f(x, k), _lse_k),
    # cross-entropy -x_t + LSE(k x)/k (label t = 2): the derivative of the LSE term
    "cross_entropy_lse": (lambda f, x, k: f(x, k, 2), _lse_k),
    "zlpr": (
        lambda f, s, k: f(s, _zlpr_labels(s.shape[-1]), k),
        lambda s, k: (
            _log1p_k(1 - _zlpr_labels(s.size), s, k, 1) + _log1p_k(_zlpr_labels(s.size), s, k, -1)
        ),
    ),
    "imle_nearest_neighbour": (lambda f, d, sigma: f(d, sigma), _imle_sigma),
}


def _softmax_vjp_k(x, k, c):
    """d/dk sum_j c_j p_j, p = softmax(k x): sum_j c_j p_j (x_j - sum_i p_i x_i)."""
    xs, cs, k = [A(float(v)) for v in x], [A(float(v)) for v in c], A(k)
    e = [(v * k).exp() for v in xs]
    s = sum(e)
    mean = sum(v * w for v, w in zip(xs, e, strict=True)) / s
    return sum(cj * ej / s * (v - mean) for cj, ej, v in zip(cs, e, xs, strict=True))


def _rows(rng, name, k):
    """Test rows: moderate, offset (k x rounds: |k x| eps; the textbook terms cancel), wide and
    confident (the result is e^{-gap}-small).  At k = 1e3 the last two are below 1e-10000: only
    the first two (their references would need 10^5 bits)."""
    rows = [rng.standard_normal(12), 1000 + rng.standard_normal(12)]
    if k < 100:
        rows.append(300 * rng.standard_normal(12))
        if name in ("logsumexp_max", "cross_entropy_lse"):
            rows.append(np.array([10.0, -30.0, -29.5, -31.0, -30.2, -28.9]).repeat(2))
    if name == "imle_nearest_neighbour":
        rows = [np.abs(r) for r in rows]  # distances
    return rows


def _ulps(computed, ref) -> float:
    return ulp_error(float(computed), ref)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_parameter_derivative_is_within_4_ulp_of_the_certified_value(name):
    module = ss.load(name, GENERATED)
    (param,) = module.__symsmooth__["param_grads"]
    fn = getattr(module, module.__symsmooth__["param_grads"][param])
    call, reference = REFERENCES[name]
    rng = np.random.default_rng(11)
    worst = 0.0
    for k in KS:
        for row in _rows(rng, name, k):
            got = call(fn, row[None, :], k)
            assert got.shape == (1,)
            worst = max(worst, _ulps(got[0], _certify(lambda row=row, k=k: reference(row, k))))
    assert worst <= 4.0, (name, worst)


def test_softmax_vjp_in_k_is_within_4_ulp():
    module = ss.load("softmax_onehot_argmax", GENERATED)
    rng = np.random.default_rng(12)
    worst = 0.0
    for k in KS:
        for row in _rows(rng, "softmax_onehot_argmax", k):
            c = rng.standard_normal(row.size)
            got = module.softmax_onehot_argmax_grad_k(row[None, :], k, cotangent=c[None, :])
            ref = _certify(lambda row=row, k=k, c=c: _softmax_vjp_k(row, k, c))
            worst = max(worst, _ulps(got[0], ref))
    assert worst <= 4.0, worst


def _naive_lse_k(x, k):
    """The textbook (sum_i p_i x_i - LSE(k x)/k)/k in float64 (max-shifted: no overflow)."""
    z = k * x
    m = z.max()
    e = np.exp(z - m)
    lse = m + np.log(e.sum())
    return ((e * x).sum() / e.sum() - lse / k) / k


def test_the_textbook_formula_cancels_where_the_kernel_holds():
    lse = ss.load("logsumexp_max", GENERATED)
    rng = np.random.default_rng(13)
    offset = 1000 + rng.standard_normal(12)
    confident = np.array([10.0, -30.0, -29.5, -31.0])
    for row, k in ((offset, 3.0), (confident, 0.37)):
        ref = _certify(lambda row=row, k=k: _lse_k(row, k))
        kernel = _ulps(lse.logsumexp_max_grad_k(row, k), ref)
        naive = _ulps(_naive_lse_k(row, k), ref)
        assert kernel <= 4.0 and naive > 1000.0, (kernel, naive)


def test_edge_rows():
    lse = ss.load("logsumexp_max", GENERATED)
    x = np.array([0.3, -1.2, 2.5, 0.7])
    with_inf = np.array([0.3, -np.inf, -1.2, 2.5, -np.inf, 0.7])
    # an entry at -inf has weight 0 and adds nothing: the row without it, to the bit
    assert lse.logsumexp_max_grad_k(with_inf, 3.0) == lse.logsumexp_max_grad_k(x, 3.0)
    # a single entry: LSE(k x)/k = x for every k, so the derivative is 0
    assert lse.logsumexp_max_grad_k(np.array([[4.2], [-7.0]]), 2.5).tolist() == [0.0, 0.0]
    # NaN, a +inf exponent, an empty row: no derivative
    bad = [np.array([0.3, np.nan]), np.array([0.3, np.inf]), np.empty(0)]
    assert all(np.isnan(lse.logsumexp_max_grad_k(r, 3.0)) for r in bad)
    # float32 rows: computed in float64, rounded once; per-row k broadcasts
    x32 = np.stack([x, x[::-1] * 2]).astype(np.float32)
    k = np.array([0.5, 3.0])
    got = lse.logsumexp_max_grad_k(x32, k)
    assert got.dtype == np.float32
    want = lse.logsumexp_max_grad_k(x32.astype(np.float64), k)
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want).astype(np.float32)))


def test_record_names_the_derivative_and_labels_have_none():
    module = ss.load("cross_entropy_lse", GENERATED)
    record = module.__symsmooth__
    assert record["param_grads"] == {"k": "cross_entropy_lse_grad_k"}
    assert "t" in record["labels"] and "cross_entropy_lse_grad_k" in module.__all__
    # an iteration too (tests/test_iteration_param_grads.py)
    assert ss.load("soft_k_max", GENERATED).__symsmooth__["param_grads"] == {
        "k": "soft_k_max_grad_k"
    }


def test_the_verifier_measures_the_parameter_derivative():
    from symsmooth.pipeline import kernel_spec
    from symsmooth.verification.exact import RowReference
    from symsmooth.verification.kernels import _param_parts

    spec = kernel_spec("logsumexp_max")
    module = ss.load("logsumexp_max", GENERATED)
    assert _param_parts(spec, module) == {0: module.logsumexp_max_grad_k}
    stale = type(module)("stale")
    stale.__symsmooth__ = dict(module.__symsmooth__, param_grads={})
    with pytest.raises(AttributeError, match="record lacks"):
        _param_parts(spec, stale)
    # its reference is the chain rule through the exact sums: the formula above, to 2**-60
    row = np.array([1000.3, 999.1, 1001.7, -np.inf])
    (ref,) = RowReference(spec.plan, spec.params, (3.0,)).param_gradient((row,), 0)
    assert abs(ref - _certify(lambda: _lse_k(row, 3.0))) <= abs(ref) * 2**-60


def test_dask_whole_rows_are_the_in_memory_derivative():
    da = pytest.importorskip("dask.array")
    lse = ss.load("logsumexp_max", GENERATED)
    x = np.random.default_rng(14).standard_normal((6, 8))
    lazy = da.from_array(x, chunks=(2, 8))  # rows in several chunks: test_dask_param_grads
    np.testing.assert_array_equal(
        lse.logsumexp_max_grad_k(lazy, 3.0).compute(), lse.logsumexp_max_grad_k(x, 3.0)
    )
