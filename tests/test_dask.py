"""Dask arrays through the generated kernels (issue 14 point 5): lazy, and the in-memory values.

Elementwise ``_fast`` loops are ``map_blocks`` of the same loop (bit for bit the in-memory
result).  Reductions with whole rows per block map the in-memory wrapper (bit for bit too);
with the reduced axis in several chunks each chunk gives a mergeable state (M, hi, lo) per sum
and the states merge in double-double (:mod:`symsmooth.runtime.dask_host`).  References: the
in-memory kernels, and the textbook formulas in Arb ball arithmetic (python-flint).  Laziness:
the input's blocks count how often they are computed (none before ``compute``).
"""

from __future__ import annotations

import threading

import flint
import numpy as np
import pytest
from test_absent_terms import _mp, zlpr_ref
from test_log1p_finish import _ce, _lse

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

da = pytest.importorskip("dask.array")

PREC = 1200


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _ulps(a, b, dtype=np.float64) -> float:
    """max |a - b| in ulps of the larger (0 where equal, both NaN or the same infinity)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    scale = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(dtype)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        d = np.where(same, 0.0, np.abs(a - b) / scale)
    return float(np.nanmax(np.where(np.isnan(d), np.inf, d), initial=0.0))


class _Counter:
    """Counts block computations of a dask array made with :meth:`wrap`."""

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()

    def _block(self, b):
        with self._lock:
            self.calls += 1
        return b

    def wrap(self, x, chunks):
        base = da.from_array(x, chunks=chunks)
        return base.map_blocks(self._block, dtype=x.dtype, meta=np.empty((0,) * x.ndim, x.dtype))


@pytest.fixture(scope="module")
def lse():
    return load_module("logsumexp_max", "generated")


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((24, 300)) * 4
    x[3, 150:] -= 60.0  # a second chunk far below the maximum
    x[4, :100] = -np.inf  # a chunk with no entry
    return x


# --- elementwise ------------------------------------------------------------------------------


def test_elementwise_fast_is_lazy_and_exact():
    sp = load_module("softplus", "generated")
    x = np.random.default_rng(1).standard_normal((60, 40)) * 30
    k = np.linspace(0.5, 3.0, 40)  # broadcast against the dask rows
    counter = _Counter()
    lazy = counter.wrap(x, (16, 40))
    got = sp.softplus_fast(lazy, k)
    assert isinstance(got, da.Array) and counter.calls == 0  # nothing computed yet
    assert got.chunks == lazy.chunks
    assert np.array_equal(got.compute(), sp.softplus_fast(x, k))
    assert counter.calls == 4  # each block once
    x32 = x.astype(np.float32)
    got32 = sp.softplus_fast(da.from_array(x32, chunks=(16, 20)), 2.0)
    assert got32.dtype == np.float32
    assert np.array_equal(got32.compute(), sp.softplus_fast(x32, 2.0))
    with pytest.raises(TypeError, match="out= is not supported for dask"):
        sp.softplus_fast(lazy, 2.0, out=np.empty_like(x))


# --- reductions -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [(8, 300), (8, 64), (5, 1)], ids=["one", "64", "each"])
def test_logsumexp_chunks_match_memory_and_arb(lse, rows, chunks):
    counter = _Counter()
    got = lse.logsumexp_max(counter.wrap(rows, chunks), 1.5)
    assert isinstance(got, da.Array) and counter.calls == 0
    value = got.compute()
    memory = lse.logsumexp_max(rows, 1.5)
    if chunks[1] == 300:
        assert np.array_equal(value, memory)  # whole rows: the in-memory wrapper per block
    assert _ulps(value, memory) <= 2.0  # measured 1
    worst = max(ulp_error(value[r], _mp(_lse(rows[r], 1.5))) for r in (0, 3, 4, 7))
    assert worst <= 4.0


def test_the_tail_survives_the_merge(lse):
    # LSE([0, -40]) = log1p(e^-40) = 4.25e-18 with 0 and -40 in different chunks
    x = np.array([[0.0, -40.0], [-40.0, 0.0], [0.0, -745.0]])
    got = lse.logsumexp_max(da.from_array(x, chunks=(1, 1)), 1.0).compute()
    for r in range(3):
        assert ulp_error(got[r], _mp(_lse(x[r]))) <= 2.0, r
    assert got[0] == pytest.approx(4.248354255291589e-18, rel=1e-15)
    # a naive online (m, s) combine of the same chunks loses it: log(1 + 4.2e-18) = 0
    m = max(0.0, -40.0)
    s = np.exp(0.0 - m) + np.exp(-40.0 - m)
    assert m + np.log(s) == 0.0


def test_edge_entries_across_chunks(lse):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [-inf, -inf, 1.0, 2.0],
            [inf, 1.0, inf, 3.0],
            [nan, 1.0, 2.0, 3.0],
            [-inf, -inf, -inf, -inf],
            [-800.0, -801.0, -inf, -inf],
        ]
    )
    got = lse.logsumexp_max(da.from_array(x, chunks=(2, 2)), 1.0).compute()
    assert _ulps(got, lse.logsumexp_max(x, 1.0)) <= 1.0
    assert np.isnan(got[2]) and got[1] == inf and got[3] == -inf


def test_leading_axes_and_parameter_arrays(lse):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 50)) * 3
    k = rng.uniform(0.5, 4.0, (3, 4))
    got = lse.logsumexp_max(da.from_array(x, chunks=(2, 3, 16)), da.from_array(k, chunks=2))
    assert got.shape == (3, 4)
    assert _ulps(got.compute(), lse.logsumexp_max(x, k)) <= 2.0


def test_float32(lse, rows):
    x = rows.astype(np.float32)
    got = lse.logsumexp_max(da.from_array(x, chunks=(8, 64)), 2.0)
    assert got.dtype == np.float32
    value = got.compute()
    assert value.dtype == np.float32
    assert _ulps(value, lse.logsumexp_max(x, 2.0), np.float32) <= 1.0  # one rounding each


def test_logsumexp_gradient_in_chunks(lse, rows):
    counter = _Counter()
    got = lse.logsumexp_max_grad(counter.wrap(rows, (8, 64)), 1.5)
    assert isinstance(got, da.Array) and counter.calls == 0 and got.shape == rows.shape
    grad = got.compute()
    memory = lse.logsumexp_max_grad(rows, 1.5)
    assert _ulps(grad, memory) <= 4.0
    row = rows[0]
    k = flint.arb(1.5)
    total = sum((k * flint.arb(float(v))).exp() for v in row)
    # the in-memory kernel's own error (about 16 ulp on this row), not worse
    exact = [_mp((k * flint.arb(float(v))).exp() / total) for v in row[::7]]
    own = max(ulp_error(g, e) for g, e in zip(memory[0, ::7], exact, strict=True))
    assert max(ulp_error(g, e) for g, e in zip(grad[0, ::7], exact, strict=True)) <= own + 2


def test_labels_in_chunks():
    ce = load_module("cross_entropy_lse", "generated")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((12, 40)) * 5
    t = rng.integers(1, 41, 12)  # 1-based classes, anywhere in the row's 5 chunks
    for labels in (t, da.from_array(t, chunks=4)):
        got = ce.cross_entropy_lse(da.from_array(x, chunks=(4, 8)), 2.0, labels).compute()
        assert _ulps(got, ce.cross_entropy_lse(x, 2.0, t)) <= 2.0
        for r in range(0, 12, 3):
            assert ulp_error(got[r], _mp(_ce(x[r], 2.0, int(t[r])))) <= 4.0
    # the pivoted gradient (the row's first maximal element, found across the chunks): bit
    # for bit the in-memory one, whole rows per block or not (tests/test_dask_pivot.py)
    grad = ce.cross_entropy_lse_grad(x, 2.0, t)
    for chunks in [(4, 40), (4, 8)]:
        got = ce.cross_entropy_lse_grad(da.from_array(x, chunks=chunks), 2.0, t).compute()
        assert np.array_equal(got, grad)
    with pytest.raises(ValueError, match="not a class index"):
        ce.cross_entropy_lse(da.from_array(x, chunks=(4, 8)), 2.0, t + 40)  # numpy: at once
    bad = ce.cross_entropy_lse(da.from_array(x, chunks=(4, 8)), 2.0, da.from_array(t + 40))
    with pytest.raises(ValueError, match="not a class index"):
        bad.compute()  # dask labels: checked in the blocks


def test_initial_values_and_two_inputs_in_chunks():
    # zlpr = (log(1 + sum (1 - t) e^{ks}) + log(1 + sum t e^{-ks}))/k: the 1s added once
    zl = load_module("zlpr", "generated")
    rng = np.random.default_rng(9)
    s = rng.standard_normal((6, 30)) * 3
    t = (rng.random((6, 30)) < 0.3).astype(float)
    ds, dt = da.from_array(s, chunks=(3, 7)), da.from_array(t, chunks=(3, 7))
    value = zl.zlpr(ds, dt, 1.5).compute()
    gs, gt = (g.compute() for g in zl.zlpr_grad(ds, dt, 1.5))
    assert _ulps(value, zl.zlpr(s, t, 1.5)) <= 2.0
    memory_s, memory_t = zl.zlpr_grad(s, t, 1.5)
    assert _ulps(gs, memory_s) <= 4.0
    for r in range(6):
        ref, ref_s, ref_t = zlpr_ref(s[r], t[r], 1.5)
        assert ulp_error(value[r], _mp(ref)) <= 4.0
        # the s-partial as the in-memory kernel's (its own error: up to 7.2 ulp here)
        own = max(ulp_error(memory_s[r, i], _mp(ref_s[i])) for i in range(30))
        assert max(ulp_error(gs[r, i], _mp(ref_s[i])) for i in range(30)) <= own + 2
        # the t-partial (b - a)/k is a difference: measured in ulps of its larger term, it is
        # the in-memory kernel's own error within 2
        a = np.exp(1.5 * s[r]) / (1 + np.sum((1 - t[r]) * np.exp(1.5 * s[r])))
        b = np.exp(-1.5 * s[r]) / (1 + np.sum(t[r] * np.exp(-1.5 * s[r])))
        unit = np.spacing(np.maximum(a, b) / 1.5)
        exact_t = np.array([float(_mp(q)) for q in ref_t])
        own = np.abs(memory_t[r] - exact_t) / unit
        assert np.all(np.abs(gt[r] - exact_t) / unit <= own + 2)


def test_row_map_in_chunks():
    sm = load_module("softmax_onehot_argmax", "generated")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 50)) * 3
    counter = _Counter()
    got = sm.softmax_onehot_argmax(counter.wrap(x, (3, 16)), 2.0)
    assert isinstance(got, da.Array) and got.shape == x.shape and counter.calls == 0
    value = got.compute()
    assert _ulps(value, sm.softmax_onehot_argmax(x, 2.0)) <= 4.0
    k = flint.arb(2.0)
    total = sum((k * flint.arb(float(v))).exp() for v in x[1])
    for i in range(50):
        assert ulp_error(value[1, i], _mp((k * flint.arb(float(x[1, i]))).exp() / total)) <= 4.0
    # the pivoted VJP: bit for bit the in-memory one, whole rows per block or chunked rows
    g = rng.standard_normal(x.shape)
    whole = sm.softmax_onehot_argmax_grad(da.from_array(x, chunks=(3, 50)), 2.0, cotangent=g)
    assert np.array_equal(whole.compute(), sm.softmax_onehot_argmax_grad(x, 2.0, cotangent=g))
    split = sm.softmax_onehot_argmax_grad(da.from_array(x, chunks=(3, 16)), 2.0, cotangent=g)
    assert np.array_equal(split.compute(), sm.softmax_onehot_argmax_grad(x, 2.0, cotangent=g))


def test_iteration_whole_rows():
    skm = load_module("soft_k_max", "generated")
    x = np.random.default_rng(2).standard_normal((6, 20)) * 2
    g = np.random.default_rng(3).standard_normal(x.shape)
    whole = da.from_array(x, chunks=(2, 20))
    got = skm.soft_k_max(whole, 3.0, top=3)
    assert isinstance(got, da.Array)
    assert np.array_equal(got.compute(), skm.soft_k_max(x, 3.0, top=3))
    vjp = skm.soft_k_max_grad(whole, 3.0, cotangent=da.from_array(g, chunks=(2, 20)), top=3)
    assert np.array_equal(vjp.compute(), skm.soft_k_max_grad(x, 3.0, cotangent=g, top=3))
    # the row in several chunks: tests/test_dask_iteration.py
