"""Pivoted gradients on dask input with the reduced axis in several chunks (issue 14 point 5).

The pivoted gradient (docs/codegen.md, pivoted form) needs the row's pivot -- its first
element at the row maximum -- and the small sums over every other element.  On chunked rows
each chunk records its first element at the maximum, the first chunk's record is the row's
pivot (``dask_states._first_pivot``), the small sums merge as double-double states, and the
last pass runs the in-memory kernel's pivoted formula (``_grad_chunk_<name>``).  References:
the in-memory kernels (bit for bit) and the textbook gradients in Arb ball arithmetic
(python-flint, :mod:`test_confident_rows`).  A confident row shows the plain (unpivoted)
formula failing where the pivoted one holds.
"""

from __future__ import annotations

import flint
import numpy as np
import pytest
from test_confident_rows import _mp, accuracy_ref, ce_ref, naive_ce_grad

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

da = pytest.importorskip("dask.array")

PIVOTED = ("cross_entropy_lse", "smooth_accuracy", "soft_argmax", "softmax_onehot_argmax")


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(600):
        yield


@pytest.fixture(scope="module")
def mods():
    return {n: load_module(n, "generated") for n in PIVOTED}


def _call(mods, name, x, k, t, **kw):
    """The gradient of kernel ``name`` (a row map's VJP with ones), labels ``t`` for the
    kernels that take one."""
    fn = getattr(mods[name], f"{name}_grad")
    return fn(x, k, t, **kw) if name in ("cross_entropy_lse", "smooth_accuracy") else fn(x, k, **kw)


def _rows():
    """Rows of 40 with the hard cases: a confident row, a tie within a chunk and across
    chunks, the maximum in the last chunk, +inf, NaN, a row at -inf, and random rows."""
    rng = np.random.default_rng(24)
    x = rng.standard_normal((12, 40)) * 3
    x[0] = -30.0
    x[0, 7] = 10.0  # confident: the exact gradient at the target is -4.2e-18
    x[1] = 1.0  # every entry tied: the pivot is the first
    x[2, [3, 30]] = 9.0  # tied maxima in different chunks
    x[3, 38] = 12.0  # the maximum in the last chunk
    x[4, 5] = np.inf
    x[5, 12] = np.nan
    x[6] = -np.inf
    t = rng.integers(1, 41, 12)
    t[0], t[2] = 8, 31
    return x, t


@pytest.mark.parametrize("name", PIVOTED)
def test_chunked_pivoted_gradient_is_the_in_memory_one(mods, name):
    x, t = _rows()
    want = _call(mods, name, x, 2.0, t)
    for chunks in [(5, 9), (12, 7), (3, 20)]:
        got = _call(mods, name, da.from_array(x, chunks=chunks), 2.0, t)
        assert isinstance(got, da.Array)
        got = got.compute()
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (chunks, np.argwhere(~same)[:3])


def test_confident_rows_in_chunks_match_arb(mods):
    """At the target of a confident row the exact gradient is tiny: the plain formula on the
    chunks' totals (softmax minus one-hot) rounds it to 0; the pivoted one keeps it."""
    ce, acc = mods["cross_entropy_lse"], mods["smooth_accuracy"]
    x = np.full((1, 30), -30.0)
    x[0, 17] = 10.0
    for k in (1.0, 0.37):
        got = ce.cross_entropy_lse_grad(da.from_array(x, chunks=(1, 7)), k, 18).compute()[0]
        _, ref = ce_ref(list(x[0]), 18, k)
        for j in range(30):
            assert ulp_error(got[j], _mp(ref[j])) <= 4, (k, j)
        if k == 1.0:  # 1 - p_t = 29 e^-40 ~ 1e-16: the plain formula gives 0 or noise
            assert ulp_error(naive_ce_grad(x[0], 18, k)[17], _mp(ref[17])) > 1e10
        got = acc.smooth_accuracy_grad(da.from_array(x, chunks=(1, 7)), k, 18).compute()[0]
        _, ref = accuracy_ref(list(x[0]), 18, k)
        for j in range(30):
            assert ulp_error(got[j], _mp(ref[j])) <= 4, (k, j)


def test_masks_axes_and_cotangents_in_chunks(mods):
    x, _ = _rows()
    rng = np.random.default_rng(5)
    where = rng.random(x.shape) < 0.8
    where[2, [3, 30]] = [False, True]  # the first tied maximum masked: the pivot moves
    sa, so = mods["soft_argmax"], mods["softmax_onehot_argmax"]
    split = da.from_array(x, chunks=(4, 11))
    got = sa.soft_argmax_grad(split, 1.5, where=where).compute()
    assert np.array_equal(got, sa.soft_argmax_grad(x, 1.5, where=where), equal_nan=True)
    g = rng.standard_normal(x.shape)
    got = so.softmax_onehot_argmax_grad(split.T, 1.5, g.T, axis=0).compute()
    want = so.softmax_onehot_argmax_grad(x, 1.5, g).T
    assert np.array_equal(got, want, equal_nan=True)
