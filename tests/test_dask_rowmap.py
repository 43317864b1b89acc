"""The chunked VJP of a row map on dask input: adjoint sums merged over the chunks of a row.

The catalog's row maps have a pivoted gradient (tests/test_dask_pivot.py), so the kernel here
is log-softmax, ``k x_j - log sum_i exp(k x_i)``, generated here (it has no pivot).
Its VJP is ``k (G_j - p_j sum_i G_i)`` with ``p = softmax(k x)``: the adjoint sum
``sum_i G_i`` is reduced over the chunks as a double-double state.  References: the
whole-row kernel and Arb.  The module is written once into pytest's cache folder (rewritten
only when its text changes), so Numba's cache beside it serves later runs.
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

PREC = 300


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


@pytest.fixture(scope="module")
def log_softmax(request):
    x = sp.IndexedBase("x", real=True)
    i, n = sp.symbols("i n", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    k = sp.Symbol("k", positive=True)
    expr = k * x[j] - sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n)))
    spec = make_spec("dask_log_softmax", expr, (x,), (k,), kind="reduction", index=i, size=n)
    text = render(spec, targets=("cpu",))
    assert "_pivot_grad_" not in text and "_adjoint_chunk_" in text
    folder = request.config.cache.mkdir("dask_rowmap")
    path = folder / "dask_log_softmax.py"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return load_module("dask_log_softmax", folder)


def _reference(row, g, k):
    k = flint.arb(k)
    e = [(k * flint.arb(float(v))).exp() for v in row]
    total = sum(e)
    gsum = sum(flint.arb(float(v)) for v in g)
    value = [k * flint.arb(float(v)) - total.log() for v in row]
    vjp = [k * (flint.arb(float(gi)) - ei / total * gsum) for gi, ei in zip(g, e, strict=True)]
    return value, vjp


def test_row_map_vjp_in_chunks(log_softmax):
    m = log_softmax
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 50)) * 3
    g = rng.standard_normal((6, 50))
    dx = da.from_array(x, chunks=(3, 16))  # 4 chunks per row
    value = m.dask_log_softmax(dx, 1.5)
    vjp = m.dask_log_softmax_grad(dx, 1.5, cotangent=da.from_array(g, chunks=(3, 16)))
    assert isinstance(value, da.Array) and isinstance(vjp, da.Array)
    value, vjp = value.compute(), vjp.compute()
    memory = m.dask_log_softmax_grad(x, 1.5, cotangent=g)
    memory_value = m.dask_log_softmax(x, 1.5)
    for r in (0, 3, 5):
        ref_value, ref_vjp = _reference(x[r], g[r], 1.5)
        # k x_j - log S cancels near the maximum: as the whole-row kernel's own error
        own = max(ulp_error(memory_value[r, i], _mp(ref_value[i])) for i in range(50))
        assert max(ulp_error(value[r, i], _mp(ref_value[i])) for i in range(50)) <= own + 1
        # k (G_j - p_j sum G) is a difference: errors in ulps of its larger term, as the
        # whole-row kernel's own
        p = np.exp(1.5 * x[r] - np.log(np.sum(np.exp(1.5 * x[r]))))
        unit = np.spacing(1.5 * np.maximum(np.abs(g[r]), p * abs(g[r].sum())))
        exact = np.array([float(_mp(q)) for q in ref_vjp])
        own = np.abs(memory[r] - exact) / unit
        assert np.all(np.abs(vjp[r] - exact) / unit <= own + 2)
    ones = m.dask_log_softmax_grad(dx, 1.5).compute()  # cotangent None: all ones
    assert np.allclose(ones, m.dask_log_softmax_grad(x, 1.5), rtol=0, atol=1e-13)
