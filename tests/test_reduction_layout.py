"""Reductions along any axis, with ``keepdims`` and masks ``where=`` (issue 14 point 6).

References: the textbook formulas in Arb ball arithmetic (python-flint) over the kept entries
(:func:`test_log1p_finish._lse`, :func:`test_absent_terms.zlpr_ref`), the same kernel on the
compacted rows (the kept entries alone: a mask must give what leaving the entries out gives),
and NumPy's own layout rules (``np.moveaxis``, ``keepdims`` shapes, ``np.sum(where=)``).
A masked entry holds a value 1000 above the kept ones, NaN or +inf: were it read, the result
would be off by far more than the tolerances.
"""

from __future__ import annotations

import flint
import numpy as np
import pytest
from test_absent_terms import _mp, zlpr_ref
from test_log1p_finish import _ce, _lse

from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

PREC = 1200


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


@pytest.fixture(scope="module")
def mods():
    names = ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse", "zlpr", "soft_argmax")
    return {n: load_module(n, "generated") for n in names}


def _masked_input(rng, shape, first=0, junk=1000.0):
    """Values, a mask keeping about 70 % of the entries (and the ``first`` entries of every
    row), and the values with the masked entries replaced by ``junk`` above the kept maximum,
    NaN and +inf in turn."""
    x = rng.standard_normal(shape) * 3
    where = rng.random(shape) < 0.7
    where[..., :first] = True
    bad = x.copy()
    fill = np.array([x.max() + junk, np.nan, np.inf])
    bad[~where] = fill[np.arange((~where).sum()) % 3]
    return x, where, bad


# --- axis and keepdims --------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_any_axis_is_the_moved_last_axis_and_matches_arb(mods, axis):
    lse = mods["logsumexp_max"]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)) * 5 + 20  # values far from 0: no cancellation (#12)
    got = lse.logsumexp_max(x, 1.7, axis=axis)
    moved = np.moveaxis(x, axis, -1)
    assert np.array_equal(got, lse.logsumexp_max(moved, 1.7))  # bit for bit
    for idx in np.ndindex(got.shape):
        assert ulp_error(got[idx], _mp(_lse(moved[idx], 1.7))) <= 2, idx
    kept = lse.logsumexp_max(x, 1.7, axis=axis, keepdims=True)
    assert kept.shape == np.max(x, axis=axis, keepdims=True).shape
    assert np.array_equal(kept.squeeze(axis), got)


def test_gradients_and_row_maps_along_an_axis(mods):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 3))
    g = rng.standard_normal(x.shape)
    lse, sm = mods["logsumexp_max"], mods["softmax_onehot_argmax"]
    last = lse.logsumexp_max_grad(np.moveaxis(x, 1, -1), 0.37)
    assert np.array_equal(lse.logsumexp_max_grad(x, 0.37, axis=1), np.moveaxis(last, -1, 1))
    row = sm.softmax_onehot_argmax(x, 2.5, axis=1)
    last = sm.softmax_onehot_argmax(np.moveaxis(x, 1, -1), 2.5)
    assert np.array_equal(row, np.moveaxis(last, -1, 1))
    np.testing.assert_allclose(row.sum(axis=1), 1.0, rtol=0, atol=4e-16)
    vjp = sm.softmax_onehot_argmax_grad(x, 2.5, g, axis=1)
    moved = sm.softmax_onehot_argmax_grad(np.moveaxis(x, 1, -1), 2.5, np.moveaxis(g, 1, -1))
    assert np.array_equal(vjp, np.moveaxis(moved, -1, 1))
    dk = lse.logsumexp_max_grad_k(x, 0.37, axis=0, keepdims=True)
    assert dk.shape == (1, 6, 3)
    assert np.array_equal(dk[0], lse.logsumexp_max_grad_k(np.moveaxis(x, 0, -1), 0.37))


def test_per_row_parameters_follow_the_reduced_shape(mods):
    lse = mods["logsumexp_max"]
    x = np.random.default_rng(3).standard_normal((4, 6, 3))
    k = np.array([0.5, 1.0, 2.0, 3.0])[:, None] * np.ones(3)  # one value per (row, column)
    got = lse.logsumexp_max(x, k, axis=1)
    for i, j in np.ndindex(4, 3):
        assert ulp_error(got[i, j], _mp(_lse(x[i, :, j], k[i, j]))) <= 2


def test_layout_errors(mods):
    lse, ce = mods["logsumexp_max"], mods["cross_entropy_lse"]
    x = np.zeros((2, 3))
    with pytest.raises(np.exceptions.AxisError):
        lse.logsumexp_max(x, 1.0, axis=2)
    with pytest.raises(TypeError, match="one integer"):
        lse.logsumexp_max(x, 1.0, axis=(0, 1))
    with pytest.raises(TypeError, match="boolean mask"):
        lse.logsumexp_max(x, 1.0, where=np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        lse.logsumexp_max(x, 1.0, where=np.ones((4,), bool))
    with pytest.raises(ValueError, match="does not broadcast"):  # would widen the input
        lse.logsumexp_max(x, 1.0, where=np.ones((2, 1, 3), bool))
    where = np.array([[True, False, True], [False, False, False]])
    with pytest.raises(ValueError, match="selects a masked entry of row 0"):
        ce.cross_entropy_lse(x, 1.0, 2, where=where)
    ce.cross_entropy_lse(x, 1.0, np.array([1, 2]), where=where)  # row 1 is fully masked: fine


# --- masks --------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1.0, 3.0, 0.37])
def test_masked_logsumexp_matches_arb_over_the_kept_entries(mods, k):
    lse = mods["logsumexp_max"]
    rng = np.random.default_rng(4)
    x, where, bad = _masked_input(rng, (30, 17))
    got = lse.logsumexp_max(bad, k, where=where)
    for r in range(x.shape[0]):
        kept = x[r][where[r]]
        want = _mp(_lse(kept, k)) if kept.size else -np.inf
        assert ulp_error(got[r], want) <= 2, r
    # the naive route (masked entries at -inf) reads the NaN and +inf fills
    naive = lse.logsumexp_max(np.where(where, bad, -np.inf), k)
    assert np.array_equal(naive, got)  # -inf is the neutral entry: the same sums
    assert np.isnan(lse.logsumexp_max(bad, k)).any()  # unmasked, the fills poison the rows


@pytest.mark.parametrize("k, ulps", [(1.0, 2), (2.5, 8)])  # k != 1: ~k/2 ulp lost (#12)
def test_masked_cross_entropy_matches_arb(mods, k, ulps):
    ce = mods["cross_entropy_lse"]
    rng = np.random.default_rng(5)
    x, where, bad = _masked_input(rng, (25, 9), first=1)
    t = np.array([1 + int(np.flatnonzero(w)[r % w.sum()]) for r, w in enumerate(where)])
    got = ce.cross_entropy_lse(bad, k, t, where=where)
    for r in range(x.shape[0]):
        kept = list(x[r][where[r]])
        tk = int(where[r][: t[r]].sum())  # the label's position among the kept entries
        assert ulp_error(got[r], _mp(_ce(kept, k, tk))) <= ulps, r


def _compact(x, where):
    return [x[r][where[r]] for r in range(x.shape[0])]


@pytest.mark.parametrize("k", [1.0, 1.5, 0.37])
def test_partly_masked_rows_are_the_compacted_rows(mods, k):
    """Values, gradients (0 at masked entries) and the parameter derivative of a masked row
    equal the same kernel on the kept entries alone."""
    rng = np.random.default_rng(6)
    x, where, bad = _masked_input(rng, (12, 11), first=2)
    lse, sm = mods["logsumexp_max"], mods["softmax_onehot_argmax"]
    val = lse.logsumexp_max(bad, k, where=where)
    grad = lse.logsumexp_max_grad(bad, k, where=where)
    dk = lse.logsumexp_max_grad_k(bad, k, where=where)
    row = sm.softmax_onehot_argmax(bad, k, where=where)
    g = rng.standard_normal(x.shape)
    vjp = sm.softmax_onehot_argmax_grad(bad, k, g, where=where)
    dkm = sm.softmax_onehot_argmax_grad_k(bad, k, g, where=where)
    for r, kept in enumerate(_compact(x, where)):
        m = where[r]
        assert abs(val[r] - lse.logsumexp_max(kept, k)) <= 4 * np.spacing(abs(val[r]))
        np.testing.assert_allclose(grad[r][m], lse.logsumexp_max_grad(kept, k), rtol=1e-15)
        assert np.all(grad[r][~m] == 0.0) and np.all(row[r][~m] == 0.0)
        np.testing.assert_allclose(dk[r], lse.logsumexp_max_grad_k(kept, k), rtol=4e-15)
        np.testing.assert_allclose(row[r][m], sm.softmax_onehot_argmax(kept, k), rtol=1e-15)
        want = sm.softmax_onehot_argmax_grad(kept, k, g[r][m])
        np.testing.assert_allclose(vjp[r][m], want, rtol=1e-13, atol=1e-16)
        assert np.all(vjp[r][~m] == 0.0)
        want = sm.softmax_onehot_argmax_grad_k(kept, k, g[r][m])
        np.testing.assert_allclose(dkm[r], want, rtol=1e-13, atol=1e-16)


def test_masked_zlpr_matches_arb_and_two_inputs(mods):
    """Two masked inputs: the value within 4 ulp of Arb at k = 1 (k != 1 is #12's), both
    gradients those of the compacted rows, 0 at the masked entries."""
    zl = mods["zlpr"]
    rng = np.random.default_rng(7)
    s, where, bad = _masked_input(rng, (10, 8), first=1)
    t = (rng.random(s.shape) < 0.4).astype(float)
    tbad = np.where(where, t, np.nan)
    got = zl.zlpr(bad, tbad, 1.0, where=where)
    gs, gt = zl.zlpr_grad(bad, tbad, 1.5, where=where)
    for r in range(s.shape[0]):
        m = where[r]
        value, _, _ = zlpr_ref(s[r][m], t[r][m], 1.0)
        assert ulp_error(got[r], _mp(value)) <= 4, r
        ws, wt = zl.zlpr_grad(s[r][m], t[r][m], 1.5)
        np.testing.assert_allclose(gs[r][m], ws, rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(gt[r][m], wt, rtol=1e-15, atol=1e-300)
        assert np.all(gs[r][~m] == 0.0) and np.all(gt[r][~m] == 0.0)


def test_fully_masked_rows(mods):
    """log-sum-exp -inf, softmax 0, labelled loss 0, 0/0 values 0, every derivative 0."""
    x = np.array([[1.0, np.nan, 3.0], [0.5, 2.0, -1.0]])
    where = np.array([[False, False, False], [True, True, False]])
    lse, sm, ce, sa = (mods[n] for n in ("logsumexp_max", "softmax_onehot_argmax",
                                         "cross_entropy_lse", "soft_argmax"))  # fmt: skip
    assert lse.logsumexp_max(x, 2.0, where=where)[0] == -np.inf
    assert np.all(lse.logsumexp_max_grad(x, 2.0, where=where)[0] == 0.0)
    assert lse.logsumexp_max_grad_k(x, 2.0, where=where)[0] == 0.0
    assert np.all(sm.softmax_onehot_argmax(x, 2.0, where=where)[0] == 0.0)
    assert np.all(sm.softmax_onehot_argmax_grad(x, 2.0, where=where)[0] == 0.0)
    assert sm.softmax_onehot_argmax_grad_k(x, 2.0, where=where)[0] == 0.0
    assert ce.cross_entropy_lse(x, 2.0, np.array([2, 1]), where=where)[0] == 0.0
    assert np.all(ce.cross_entropy_lse_grad(x, 2.0, np.array([2, 1]), where=where)[0] == 0.0)
    assert ce.cross_entropy_lse_grad_k(x, 2.0, np.array([2, 1]), where=where)[0] == 0.0
    assert sa.soft_argmax(x, 2.0, where=where)[0] == 0.0
    # the kept row is the row of its two entries (positions keep their place: 1 and 2)
    p = np.exp(2 * x[1, :2] - np.logaddexp(2 * x[1, 0], 2 * x[1, 1]))
    np.testing.assert_allclose(sa.soft_argmax(x, 2.0, where=where)[1], p @ [1, 2], rtol=4e-16)


def test_soft_argmax_positions_keep_their_place(mods):
    sa = mods["soft_argmax"]
    x = np.array([[50.0, -3.0, 49.0, 60.0]])
    where = np.array([[False, True, True, False]])
    # the kept maximum is at position 3 (1-based) of the whole row
    np.testing.assert_allclose(sa.soft_argmax(x, 1.0, where=where), [3.0], rtol=1e-15)


def test_float32_and_a_broadcast_mask(mods):
    lse = mods["logsumexp_max"]
    x = np.random.default_rng(8).standard_normal((5, 7)).astype(np.float32)
    where = np.array([True, False, True, True, False, True, True])  # one mask for every row
    got = lse.logsumexp_max(x, 3.0, where=where)
    assert got.dtype == np.float32
    for r in range(5):
        want = float(_mp(_lse(x[r][where].astype(np.float64), 3.0)))
        assert ulp_error(got[r], want, np.float32) <= 1


def test_empty_rows_with_a_mask(mods):
    lse = mods["logsumexp_max"]
    got = lse.logsumexp_max(np.zeros((3, 0)), 1.0, where=np.zeros((3, 0), bool))
    assert got.shape == (3,) and np.all(got == -np.inf)


# --- dask -------------------------------------------------------------------------------


def test_dask_axis_and_masks(mods):
    """With the reduced axis in one chunk: bit for bit the in-memory result; in several
    chunks (mergeable states): within 4 ulp of it.  NumPy and dask masks alike."""
    da = pytest.importorskip("dask.array")
    lse, sm = mods["logsumexp_max"], mods["softmax_onehot_argmax"]
    rng = np.random.default_rng(9)
    x, where, bad = _masked_input(rng, (6, 40, 5))
    want = lse.logsumexp_max(bad, 1.3, axis=1, where=where)
    whole = da.from_array(bad, chunks=(2, 40, 5))
    got = lse.logsumexp_max(whole, 1.3, axis=1, where=where)
    assert isinstance(got, da.Array) and np.array_equal(got.compute(), want)
    split = da.from_array(bad, chunks=(3, 9, 2))
    lazy_mask = da.from_array(where, chunks=(2, 7, 5))
    got = lse.logsumexp_max(split, 1.3, axis=1, keepdims=True, where=lazy_mask).compute()
    assert got.shape == (6, 1, 5)
    scale = np.spacing(np.abs(want))
    assert np.all(np.abs(got[:, 0] - want) <= 4 * scale)
    for fn in (lse.logsumexp_max_grad, sm.softmax_onehot_argmax, sm.softmax_onehot_argmax_grad):
        mem = fn(bad, 1.3, axis=1, where=where)
        assert np.array_equal(fn(whole, 1.3, axis=1, where=where).compute(), mem)
        chunked = fn(split, 1.3, axis=1, where=lazy_mask).compute()
        np.testing.assert_allclose(chunked, mem, rtol=1e-15, atol=1e-300)
    dk = lse.logsumexp_max_grad_k(whole, 1.3, axis=1, where=where).compute()
    assert np.array_equal(dk, lse.logsumexp_max_grad_k(bad, 1.3, axis=1, where=where))


def test_dask_fully_masked_rows_in_chunks(mods):
    da = pytest.importorskip("dask.array")
    sa = mods["soft_argmax"]
    x = np.random.default_rng(10).standard_normal((4, 12))
    where = np.ones((4, 12), bool)
    where[1] = False
    got = sa.soft_argmax(da.from_array(x, chunks=(2, 5)), 1.0, where=where).compute()
    np.testing.assert_allclose(got, sa.soft_argmax(x, 1.0, where=where), rtol=4e-16)
    assert got[1] == 0.0


def test_dask_mask_with_labels_in_chunks(mods):
    """A labelled loss with a mask on chunked rows: bit for bit the in-memory values and
    gradients (fully masked rows 0), and the in-memory ValueError at compute time for a label
    on a masked entry of a row that keeps others."""
    da = pytest.importorskip("dask.array")
    ce = mods["cross_entropy_lse"]
    rng = np.random.default_rng(11)
    x, where, bad = _masked_input(rng, (6, 20))
    where[5] = False
    t = np.array([1 + int(np.flatnonzero(w)[-1]) if w.any() else 3 for w in where])
    split = da.from_array(bad, chunks=(3, 6))
    for fn in (ce.cross_entropy_lse, ce.cross_entropy_lse_grad):
        want = fn(bad, 1.5, t, where=where)
        got = fn(split, 1.5, t, where=da.from_array(where, chunks=(2, 5)))
        assert np.array_equal(got.compute(), want)
        assert np.all(want[5] == 0.0)
    t[0] = 1 + int(np.flatnonzero(~where[0])[0])
    lazy = ce.cross_entropy_lse(split, 1.5, da.from_array(t, chunks=2), where=where)
    with pytest.raises(ValueError, match="selects a masked entry"):
        lazy.compute()
    with pytest.raises(ValueError, match="selects a masked entry"):
        ce.cross_entropy_lse(bad, 1.5, t, where=where)
    with pytest.raises(ValueError, match="does not broadcast"):
        ce.cross_entropy_lse(split, 1.5, t, where=np.ones((2, 6, 20), bool))
    with pytest.raises(TypeError, match="boolean mask"):
        ce.cross_entropy_lse(split, 1.5, t, where=da.ones((6, 20), chunks=5))
