"""A formula that reads the row length ``n`` under a mask, on dask input with the reduced axis
in several chunks: ``n`` is the row's number of kept entries, counted over all its chunks.

No catalog kernel reads ``n``, so the kernel here is generated: the log-mean-exp
``log(sum_i exp(k x_i) / n) / k`` (a smooth maximum that is exact on constant rows), with its
gradient and its derivative in ``k``.  References: Arb ball arithmetic (python-flint) over
the kept entries, and the in-memory kernel (whose rows count their kept entries with
``_kept_count``).  The module is written once into pytest's cache folder, so Numba's cache
beside it serves later runs.
"""

from __future__ import annotations

import flint
import numpy as np
import pytest
import sympy as sp
from test_absent_terms import _mp

from symsmooth.codegen.render import load_module, render
from symsmooth.codegen.spec import make_spec
from symsmooth.verification.ulp import ulp_error

da = pytest.importorskip("dask.array")


@pytest.fixture(autouse=True)
def _arb_precision():
    with flint.ctx.workprec(300):
        yield


@pytest.fixture(scope="module")
def lme(request):
    x = sp.IndexedBase("x", real=True)
    i, n = sp.symbols("i n", integer=True, positive=True)
    k = sp.Symbol("k", positive=True)
    expr = sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n)) / n) / k
    spec = make_spec("dask_log_mean_exp", expr, (x,), (k,), kind="reduction", index=i, size=n)
    text = render(spec, targets=("cpu",))
    assert '"uses_size": True' in text
    folder = request.config.cache.mkdir("dask_row_length")
    path = folder / "dask_log_mean_exp.py"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return load_module("dask_log_mean_exp", folder)


@pytest.fixture(scope="module")
def centred(request):
    """A row map that reads n: k x_j - log(sum_i exp(k x_i) / n) (log-softmax plus log n)."""
    x = sp.IndexedBase("x", real=True)
    i, n = sp.symbols("i n", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    k = sp.Symbol("k", positive=True)
    expr = k * x[j] - sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n)) / n)
    spec = make_spec("dask_log_mean_map", expr, (x,), (k,), kind="reduction", index=i, size=n)
    text = render(spec, targets=("cpu",))
    folder = request.config.cache.mkdir("dask_row_length")
    path = folder / "dask_log_mean_map.py"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return load_module("dask_log_mean_map", folder)


def _reference(row, keep, k):
    """log(sum over the kept entries of e^{k x} / their count) / k, and its gradient."""
    k = flint.arb(k)
    kept = [flint.arb(float(v)) for v, w in zip(row, keep, strict=True) if w]
    e = [(k * v).exp() for v in kept]
    total = sum(e)
    value = (total / len(kept)).log() / k
    grad, it = [], iter(e)
    for w in keep:
        grad.append(next(it) / total if w else flint.arb(0))
    return value, grad


def _rows():
    rng = np.random.default_rng(31)
    x = rng.standard_normal((6, 30)) * 3
    x[1] = 2.5  # a constant row: the value is 2.5 for every kept count
    x[2, 25] = 40.0  # the maximum in the last chunk
    keep = rng.random(x.shape) < 0.6
    keep[3] = False  # a fully masked row
    keep[4] = True  # an unmasked row: n = 30
    keep[5] = False
    keep[5, 7] = True  # one kept entry: the value is that entry
    return x, keep


def test_masked_row_length_in_chunks(lme):
    x, keep = _rows()
    for chunks in ((3, 7), (2, 13)):
        split = da.from_array(x, chunks=chunks)
        for where in (keep, da.from_array(keep, chunks=(2, 10))):
            got = lme.dask_log_mean_exp(split, 1.7, where=where).compute()
            want = lme.dask_log_mean_exp(x, 1.7, where=keep)
            np.testing.assert_array_equal(got, want)
            grad = lme.dask_log_mean_exp_grad(split, 1.7, where=where).compute()
            np.testing.assert_array_equal(grad, lme.dask_log_mean_exp_grad(x, 1.7, where=keep))
            dk = lme.dask_log_mean_exp_grad_k(split, 1.7, where=where).compute()
            np.testing.assert_array_equal(dk, lme.dask_log_mean_exp_grad_k(x, 1.7, where=keep))
    # a fully masked row: log(0/0), a 0/0 value: 0 (docs/codegen.md, masks), as in memory
    assert got[1] == 2.5 and got[5] == x[5, 7] and got[3] == 0.0 and dk[3] == 0.0
    assert not grad[3].any()
    for r in (0, 1, 2, 4, 5):
        value, ref_grad = _reference(x[r], keep[r], 1.7)
        assert ulp_error(got[r], _mp(value)) <= 2, r
        # the plain (unpivoted) gradient of a user's reduction rounds k x_j before the
        # exponential: |k (x_j - max)| / 2 ulp on top of the sums' 4 (issue #12, item 1)
        top = x[r][keep[r]].max()
        for j in np.flatnonzero(keep[r]):
            allowed = 4 + abs(1.7 * (x[r, j] - top)) / 2
            assert ulp_error(grad[r, j], _mp(ref_grad[j])) <= allowed, (r, j)


def test_the_unmasked_length_would_be_wrong(lme):
    """Counting every entry of a masked row (n = 30, the whole row's) shifts the value by
    log(30 / kept) / k: what the chunk passes avoid by counting the kept entries."""
    x, keep = _rows()
    value, _ = _reference(x[0], keep[0], 1.7)
    got = lme.dask_log_mean_exp(da.from_array(x, chunks=(3, 7)), 1.7, where=keep).compute()
    wrong = float(_mp(value)) + np.log(keep[0].sum() / 30) / 1.7
    assert ulp_error(got[0], _mp(value)) <= 2 and ulp_error(wrong, _mp(value)) > 1e10


def _close(got, want):
    """Within 4 ulp of the row's largest in-memory entry: the chunks' sums merge in another
    order, and the row map is a difference (k x_j - log mean) whose error scales with it."""
    scale = np.max(np.abs(want), axis=-1, keepdims=True)
    assert np.all(np.abs(got - want) <= 4 * np.finfo(float).eps * scale)


def test_a_row_map_reading_n_in_chunks(centred):
    x, keep = _rows()
    g = np.random.default_rng(32).standard_normal(x.shape)
    split = da.from_array(x, chunks=(3, 7))
    got = centred.dask_log_mean_map(split, 0.6, where=keep).compute()
    _close(got, centred.dask_log_mean_map(x, 0.6, where=keep))
    vjp = centred.dask_log_mean_map_grad(
        split, 0.6, cotangent=da.from_array(g, chunks=(2, 10)), where=keep
    ).compute()
    want = centred.dask_log_mean_map_grad(x, 0.6, cotangent=g, where=keep)
    _close(vjp, want)
    dk = centred.dask_log_mean_map_grad_k(split, 0.6, cotangent=g, where=keep).compute()
    _close(dk, centred.dask_log_mean_map_grad_k(x, 0.6, cotangent=g, where=keep))
    memory = centred.dask_log_mean_map(x, 0.6, where=keep)
    for r in (0, 4):  # k x_j - log(mean): as the in-memory kernel's own error, plus 1 ulp
        value, _ = _reference(x[r], keep[r], 0.6)
        for j in np.flatnonzero(keep[r]):
            ref = _mp(flint.arb(0.6) * flint.arb(float(x[r, j])) - flint.arb(0.6) * value)
            assert ulp_error(got[r, j], ref) <= ulp_error(memory[r, j], ref) + 1, (r, j)
    assert not got[3].any() and not got[~keep].any() and not vjp[~keep].any()
