"""The public elementwise names run the SIMD loop and keep every ufunc behaviour (issue #13,
item 1; symsmooth.runtime.dispatch).

References: the ``_fast`` loop (bit for bit, where the public name must run it), NumPy's own
ufunc machinery on ``softplus_ufunc`` (where it must run the ufunc), and certified Arb values
(tests/arb_exact.py) for the accuracy of what the public name returns at k != 1.
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
from arb_exact import KERNELS, max_ulps, points
from numba import njit

from symsmooth.codegen.render import load_module


@pytest.fixture(scope="module")
def sp():
    return load_module("softplus")


def _bits(a):
    return np.asarray(a).view(np.uint64 if np.asarray(a).dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("n", [7, 5000])  # one thread below _SERIAL, the thread pool above
def test_plain_calls_run_the_loop_bit_for_bit(sp, n):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 40, n)
    for fn, fast in [
        (sp.softplus, sp.softplus_fast),
        (sp.softplus_grad_k, sp.softplus_grad_k_fast),
    ]:
        assert np.array_equal(_bits(fn(x, 0.37)), _bits(fast(x, 0.37)))
    # the loop, not the ufunc: the two differ somewhere (within 1 ulp) on enough points
    big = rng.normal(0, 40, 20000)
    assert not np.array_equal(sp.softplus(big, 0.37), sp.softplus_ufunc(big, 0.37))
    assert np.max(np.abs(sp.softplus(big, 0.37) - sp.softplus_ufunc(big, 0.37))) <= 2 * np.max(
        np.spacing(np.abs(sp.softplus_ufunc(big, 0.37)))
    )


def test_serial_and_threaded_branches_agree(sp):
    x = np.linspace(-800, 800, 3001)
    whole = sp.softplus(x, 3.0)  # >= _SERIAL: threads
    parts = np.concatenate([sp.softplus(c, 3.0) for c in np.array_split(x, 10)])  # < _SERIAL
    assert sp._SERIAL > 301 and x.size >= sp._SERIAL
    assert np.array_equal(_bits(whole), _bits(parts))


@pytest.mark.parametrize("k", [0.37, 3.0, 1e4])
def test_public_name_meets_the_target_against_arb(sp, k):
    """What a user calls is certified: the value and the x gradient within 1 ulp of Arb."""
    xs = points(KERNELS["softplus"][2], k, 40, seed=5)
    value, grad = max_ulps(sp, "softplus", k, xs)
    assert value <= 1.0 and grad <= 1.0, (value, grad)


def test_float32_is_computed_per_element_and_rounded_once(sp):
    x = np.random.default_rng(1).normal(0, 30, 3000).astype(np.float32)
    got = sp.softplus(x, 0.9)
    assert got.dtype == np.float32
    want = sp.softplus_fast(x.astype(np.float64), 0.9).astype(np.float32)
    assert np.array_equal(_bits(got), _bits(want))
    out = np.empty_like(x)
    assert sp.softplus(x, 0.9, out=out) is out and np.array_equal(_bits(out), _bits(want))


def test_ufunc_keywords_and_foreign_types_run_the_ufunc(sp):
    x = np.linspace(-5, 5, 11)
    mask = x > 0
    # where= goes to the ufunc, which answers as it always did (Numba's DUFunc has no masked
    # loop: NumPy's own ValueError)
    outcomes = []
    for fn in (sp.softplus, sp.softplus_ufunc):
        try:
            outcomes.append(fn(x, 2.0, where=mask, out=np.zeros(11)).tolist())
        except ValueError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    via_keyword = sp.softplus(x.astype(np.float32), 2.0, casting="same_kind")
    assert np.array_equal(_bits(via_keyword), _bits(sp.softplus_ufunc(x.astype(np.float32), 2.0)))
    masked = np.ma.masked_array(x, mask=~mask)
    y = sp.softplus(masked, 2.0)
    assert isinstance(y, np.ma.MaskedArray) and np.array_equal(y.mask, ~mask)
    assert np.array_equal(
        sp.softplus.outer(x[:3], [1.0, 2.0]), sp.softplus_ufunc.outer(x[:3], [1.0, 2.0])
    )
    assert sp.softplus.types == sp.softplus_ufunc.types and sp.softplus.nin == 2


def test_out_overlapping_an_input_is_read_before_it_is_written(sp):
    a = np.linspace(-50, 50, 6001)
    want = sp.softplus(a[1:].copy(), 1.5)
    sp.softplus(a[1:], 1.5, out=a[:-1])  # shifted views of one buffer, threaded loop
    assert np.array_equal(a[:-1], want)
    b = np.linspace(-50, 50, 6000)
    want = sp.softplus(b.copy(), 1.5)
    assert sp.softplus(b, 1.5, out=b) is b and np.array_equal(b, want)


def test_a_public_name_pickles_inspects_and_the_ufunc_composes_in_numba(sp):
    assert pickle.loads(pickle.dumps(sp.softplus)) is sp.softplus
    assert list(inspect.signature(sp.softplus).parameters) == ["x", "k", "out"]
    ufunc = sp.softplus_ufunc

    @njit
    def total(xs, k):
        s = 0.0
        for v in xs:
            s += ufunc(v, k)
        return s

    xs = np.array([-1.0, 0.0, 2.0])
    assert total(xs, 2.0) == pytest.approx(float(np.sum(np.log1p(np.exp(2 * xs)) / 2)), rel=1e-15)
    assert sp.__symsmooth__["ufuncs"]["softplus"] == "softplus_ufunc"
