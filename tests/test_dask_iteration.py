"""A fixed-count iteration (``soft_k_max``) on dask input with the row in several chunks
(issue 14 point 5): the pre-shift, every step and the VJP as passes over the chunks
(``symsmooth/runtime/dask_iterations.py``, the step's chunk kernels).

References: :class:`symsmooth.verification.iteration.IterationReference` (the construction's
steps in mpmath at 50 digits on the exact double inputs: each step is a softmax of bounded
exponents, so 50 digits leave every result exact to far below an ulp), and the in-memory
kernel: the chunks' sums merge in another order, so the chunked results hold the in-memory
error plus a couple of ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

from symsmooth import pipeline
from symsmooth.codegen.render import load_module
from symsmooth.verification.iteration import IterationReference
from symsmooth.verification.ulp import ulp_error

da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def skm():
    return load_module("soft_k_max", "generated")


def _rows():
    rng = np.random.default_rng(51)
    x = rng.standard_normal((7, 24)) * 2
    x[1, [3, 20]] = -np.inf  # absent entries: they keep the initial state, gradient 0
    x[2] = -np.inf  # a row of -inf only
    x[3, [4, 17]] = x[3].min() - 1.5  # the minimum tied across chunks: the first is the shift
    x[4, 23] = x[4].min() - 2.0  # the minimum in the last chunk
    x[5, 9] = np.nan  # NaN: the row is NaN
    x[6] = 1000.0 + rng.standard_normal(24)  # offset: y = x - min x is exact (Sterbenz)
    return x


def _normwise(got, want):
    """max |got - want| over a row, in ulps of the row's largest |want|."""
    nan = np.isnan(want)  # a NaN row: compared by np.isnan
    scale = np.spacing(np.max(np.where(nan, 0.0, np.abs(want)), axis=-1, keepdims=True))
    return np.max(np.where(nan, 0.0, np.abs(got - want)) / np.maximum(scale, 5e-324))


@pytest.mark.parametrize("chunks", [(2, 5), (7, 7), (3, 12)])
def test_chunked_iteration_is_the_in_memory_one(skm, chunks):
    x = _rows()
    g = np.random.default_rng(52).standard_normal(x.shape)
    k = np.linspace(0.5, 3.0, 7)
    lazy = skm.soft_k_max(da.from_array(x, chunks=chunks), k, top=3)
    assert isinstance(lazy, da.Array)
    got, want = lazy.compute(), skm.soft_k_max(x, k, top=3)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert _normwise(got, want) <= 2.0
    vjp = skm.soft_k_max_grad(
        da.from_array(x, chunks=chunks), k, cotangent=da.from_array(g, chunks=(4, 5)), top=3
    ).compute()
    expected = skm.soft_k_max_grad(x, k, cotangent=g, top=3)
    assert np.array_equal(np.isnan(vjp), np.isnan(expected))
    assert _normwise(vjp, expected) <= 4.0
    # absent entries keep the initial state 0 and have gradient 0; a row of -inf gives 0
    assert got[1, [3, 20]].tolist() == [0.0, 0.0] and vjp[1, [3, 20]].tolist() == [0.0, 0.0]
    assert not got[2].any() and not vjp[2].any()
    assert np.isnan(got[5]).all()


def test_chunked_iteration_matches_the_reference(skm):
    x = _rows()
    g = np.random.default_rng(53).standard_normal(x.shape)
    got = skm.soft_k_max(da.from_array(x, chunks=(7, 5)), 1.5, top=3).compute()
    memory = skm.soft_k_max(x, 1.5, top=3)
    vjp = skm.soft_k_max_grad(da.from_array(x, chunks=(7, 5)), 1.5, cotangent=g, top=3)
    vjp, memory_vjp = vjp.compute(), skm.soft_k_max_grad(x, 1.5, cotangent=g, top=3)
    ref = IterationReference(pipeline.kernel_spec("soft_k_max"), (1.5,), count=3)
    for r in (0, 1, 3, 4, 6):
        exact = ref.value(x[r])
        for j in range(x.shape[1]):
            if x[r, j] == -np.inf:
                continue
            own = ulp_error(memory[r, j], exact[j])
            assert ulp_error(got[r, j], exact[j]) <= own + 2, (r, j)
        exact_g = np.array([float(v) for v in ref.gradient(x[r], g[r])])
        own = _normwise(memory_vjp[r : r + 1], exact_g[None])
        assert _normwise(vjp[r : r + 1], exact_g[None]) <= own + 4, r


def test_chunked_iteration_along_an_axis_and_edge_counts(skm):
    x = _rows()
    got = skm.soft_k_max(da.from_array(x.T, chunks=(5, 3)), 2.0, top=2, axis=0).compute()
    assert _normwise(got.T, skm.soft_k_max(x, 2.0, top=2)) <= 2.0
    zero = skm.soft_k_max(da.from_array(x, chunks=(7, 5)), 2.0, top=0).compute()
    assert not zero.any()  # no step: the initial state
    with pytest.raises(ValueError, match="top must be an integer"):
        skm.soft_k_max(da.from_array(x, chunks=(7, 5)), 2.0, top=1.5)
