"""Parameter derivatives (``<name>_grad_<p>``) on dask input with the reduced axis in several
chunks (issue 14 point 5).

The row function's three passes run per chunk (``symsmooth/codegen/kinds/paramgrad_chunks``):
each chunk's pivot record, reduced to the row's first element of largest exponent
(``dask_states._best_pivots``), the sums at that pivot as double-double states, merged, and
the finish per row.  References: the certified Arb values of
:mod:`test_reduction_param_grads` (the textbook derivative at the exact inputs, nothing of
symsmooth's normal form) and the in-memory kernels.  The textbook formula in float64 loses
thousands of ulps on the same chunked rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_reduction_param_grads import (
    REFERENCES,
    _certify,
    _lse_k,
    _naive_lse_k,
    _rows,
    _softmax_vjp_k,
    _ulps,
)

import symsmooth as ss

da = pytest.importorskip("dask.array")
GENERATED = "generated"
CHUNKS = ((2, 5), (1, 3), (3, 11))
"""Rows of 12 split in 3, 4 and 2 chunks (the last chunk shorter)."""


def _same(got, want) -> bool:
    return bool(np.all((got == want) | (np.isnan(got) & np.isnan(want))))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_chunked_derivative_is_certified_and_the_in_memory_one(name):
    module = ss.load(name, GENERATED)
    (param,) = module.__symsmooth__["param_grads"]
    fn = getattr(module, module.__symsmooth__["param_grads"][param])
    call, reference = REFERENCES[name]
    rng = np.random.default_rng(41)
    worst = 0.0
    for k in (0.37, 3.0):
        rows = np.stack(_rows(rng, name, k))
        want = call(fn, rows, k)
        for chunks in CHUNKS:
            lazy = call(fn, da.from_array(rows, chunks=chunks), k)
            assert isinstance(lazy, da.Array)
            got = lazy.compute()
            assert got.shape == want.shape and _same(got, want), (name, k, chunks)
        for row, value in zip(rows, got, strict=True):
            ref = _certify(lambda row=row, k=k: reference(row, k))
            worst = max(worst, _ulps(value, ref))
    assert worst <= 4.0, (name, worst)


def test_the_textbook_formula_cancels_on_the_same_chunked_rows():
    lse = ss.load("logsumexp_max", GENERATED)
    offset = 1000 + np.random.default_rng(42).standard_normal(12)
    confident = np.array([-30.0, -29.5, -31.0, -30.2, 10.0])  # the maximum in the last chunk
    for row, k in ((offset, 3.0), (confident, 0.37)):
        ref = _certify(lambda row=row, k=k: _lse_k(row, k))
        got = lse.logsumexp_max_grad_k(da.from_array(row[None], chunks=(1, 2)), k).compute()
        assert _ulps(got[0], ref) <= 4.0 and _ulps(_naive_lse_k(row, k), ref) > 100.0


def test_softmax_vjp_in_k_on_chunks_with_a_chunked_cotangent():
    so = ss.load("softmax_onehot_argmax", GENERATED)
    rng = np.random.default_rng(43)
    rows = np.stack(_rows(rng, "softmax_onehot_argmax", 3.0))
    c = rng.standard_normal(rows.shape)
    want = so.softmax_onehot_argmax_grad_k(rows, 3.0, cotangent=c)
    got = so.softmax_onehot_argmax_grad_k(
        da.from_array(rows, chunks=(2, 5)), 3.0, cotangent=da.from_array(c, chunks=(1, 7))
    ).compute()
    assert _same(got, want)
    for row, cot, value in zip(rows, c, got, strict=True):
        ref = _certify(lambda row=row, cot=cot: _softmax_vjp_k(row, 3.0, cot))
        assert _ulps(value, ref) <= 4.0
    ones = so.softmax_onehot_argmax_grad_k(da.from_array(rows, chunks=(2, 5)), 3.0).compute()
    assert _same(ones, so.softmax_onehot_argmax_grad_k(rows, 3.0))


def test_pivot_across_chunks_edges_masks_and_axes():
    lse = ss.load("logsumexp_max", GENERATED)
    ce = ss.load("cross_entropy_lse", GENERATED)
    rng = np.random.default_rng(44)
    x = rng.standard_normal((8, 15)) * 4
    x[0, [2, 11]] = 9.0  # tied maxima in chunks 1 and 3: the first is the pivot
    x[1, 14] = 20.0  # the maximum in the last chunk
    x[2, 6] = np.nan  # no derivative: NaN, as in memory
    x[3, 9] = np.inf
    x[4] = -np.inf
    x[4, 12] = 1.5  # one finite entry, in the last chunk: the derivative is 0
    x[5, [1, 7]] = -np.inf  # weight-0 entries add nothing
    where = rng.random(x.shape) < 0.75
    where[6] = False  # a fully masked row: 0
    where[0, 2] = False  # the first tied maximum masked: the pivot moves to chunk 3
    t = rng.integers(1, 16, 8)
    where[np.arange(8), t - 1] = True
    where[6] = False
    where[2, 6] = where[3, 9] = where[4, 12] = True
    for chunks in ((3, 4), (8, 6)):
        split = da.from_array(x, chunks=chunks)
        for kw in ({}, {"where": where}, {"where": da.from_array(where, chunks=(4, 5))}):
            got = lse.logsumexp_max_grad_k(split, 1.7, **kw).compute()
            assert _same(got, lse.logsumexp_max_grad_k(x, 1.7, **kw)), (chunks, kw.keys())
        got = ce.cross_entropy_lse_grad_k(split, 0.6, t, where=where).compute()
        assert _same(got, ce.cross_entropy_lse_grad_k(x, 0.6, t, where=where))
    want = lse.logsumexp_max_grad_k(x, 1.7, where=where)
    assert np.isnan(want[[2, 3]]).all() and want[4] == 0.0 and want[6] == 0.0
    # along axis 0 with keepdims, a per-row k: the moved input's result
    k = np.linspace(0.5, 2.5, 8)
    got = lse.logsumexp_max_grad_k(
        da.from_array(x.T, chunks=(4, 3)), k, axis=0, keepdims=True, where=where.T
    ).compute()
    assert got.shape == (1, 8)
    assert _same(got[0], lse.logsumexp_max_grad_k(x, k, where=where))


def test_a_label_on_a_masked_entry_fails_at_compute_time():
    ce = ss.load("cross_entropy_lse", GENERATED)
    x = np.random.default_rng(45).standard_normal((4, 12))
    t = np.array([1, 5, 9, 12])
    where = np.ones(x.shape, bool)
    where[2, 8] = False  # row 2 keeps others: its label's entry may not be masked
    lazy = ce.cross_entropy_lse_grad_k(da.from_array(x, chunks=(2, 5)), 1.0, t, where=where)
    with pytest.raises(ValueError, match="selects a masked entry"):
        lazy.compute()
    with pytest.raises(ValueError, match="selects a masked entry"):
        ce.cross_entropy_lse_grad_k(x, 1.0, t, where=where)


def test_no_rows_with_the_reduced_axis_in_chunks():
    """An input with no rows (a leading axis of extent 0) and the reduced axis in chunks gives
    the in-memory shapes (every chunk pass meets blocks of no rows); a label's error names the
    row length as an integer."""
    lse = ss.load("logsumexp_max", GENERATED)
    so = ss.load("softmax_onehot_argmax", GENERATED)
    skm = ss.load("soft_k_max", GENERATED)
    calls = [
        lambda a: lse.logsumexp_max(a, 1.0),
        lambda a: lse.logsumexp_max_grad(a, 1.0),
        lambda a: lse.logsumexp_max_grad_k(a, 1.0),
        lambda a: so.softmax_onehot_argmax_grad(a, 1.0),
        lambda a: so.softmax_onehot_argmax_grad_k(a, 1.0),
        lambda a: skm.soft_k_max_grad_k(a, 1.0),
    ]
    for shape in ((0, 20), (2, 0, 20)):
        empty = np.zeros(shape)
        lazy = da.from_array(empty, chunks=(1,) * (len(shape) - 1) + (7,))
        for call in calls:
            assert call(lazy).compute().shape == call(empty).shape
    ce = ss.load("cross_entropy_lse", GENERATED)
    bad = da.from_array(np.full(6, 99), chunks=3)
    lazy = ce.cross_entropy_lse_grad_k(da.from_array(np.zeros((6, 20)), chunks=(3, 7)), 1.0, bad)
    with pytest.raises(ValueError, match="of a row of length 20:"):
        lazy.compute()
