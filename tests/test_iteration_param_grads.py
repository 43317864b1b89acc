"""The derivative of an iteration in its parameter: ``soft_k_max_grad_k`` (issue 14 point 2),
in memory, on dask input (whole rows and rows in chunks) and through the bridges.

``soft_k_max_grad_k(x, k, cotangent)`` is ``sum_j G_j d p_j / d k`` per row, ``p`` the state
after ``top`` steps.  The kernel runs the steps forward, then backward: each step's derivative
in ``k`` (the step's own reduction parameter derivative, contracted with the cotangent of its
output) plus the step's VJP for the cotangent of its input.  Reference: the construction in
forward mode, written here, in mpmath at 60 digits (each state with its exact derivative in
``k``: ``e_j = exp(k (1 - p_j) y_j)``, ``de_j = e_j ((1 - p_j) y_j - k y_j dp_j)``,
``p_j <- p_j + e_j / S``, ``dp_j <- dp_j + (de_j S - e_j dS) / S**2``): nothing of the
generator's normal form, pivot or helpers.  The bound is condition-based: the sum over ``j``
cancels, so the error is measured against ``sum_j |G_j dp_j/dk|``.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module

da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def skm():
    return load_module("soft_k_max", "generated")


def _reference(row, g, k, top):
    """(sum_j G_j dp_j/dk, sum_j |G_j dp_j/dk|) of soft_k_max at 60 digits."""
    with mpmath.workdps(60):
        x = [mpmath.mpf(float(v)) for v in row]
        live = [i for i, v in enumerate(x) if v != -mpmath.inf]
        if not live:
            return mpmath.mpf(0), mpmath.mpf(0)
        m = min(live, key=lambda i: (x[i], i))
        y = {i: x[i] - x[m] for i in live}
        k = mpmath.mpf(k)
        p = {i: mpmath.mpf(0) for i in live}
        dp = {i: mpmath.mpf(0) for i in live}
        for _ in range(top):
            e = {i: mpmath.exp(k * (1 - p[i]) * y[i]) for i in live}
            de = {i: e[i] * ((1 - p[i]) * y[i] - k * y[i] * dp[i]) for i in live}
            s, ds = sum(e.values()), sum(de.values())
            p, dp = (
                {i: p[i] + e[i] / s for i in live},
                {i: dp[i] + (de[i] * s - e[i] * ds) / s**2 for i in live},
            )
        terms = [mpmath.mpf(float(g[i])) * dp[i] for i in live]
        return sum(terms), sum(abs(t) for t in terms)


def _rows():
    rng = np.random.default_rng(61)
    x = rng.standard_normal((6, 16)) * 2
    x[1, [2, 9]] = -np.inf  # absent entries
    x[2] = -np.inf  # nothing moves: 0
    x[3, [4, 11]] = x[3].min() - 1.0  # the minimum tied: the first is the shift
    x[4] = 500.0 + rng.standard_normal(16)  # offset
    return x


@pytest.mark.parametrize("k, top", [(1.7, 3), (0.37, 2), (6.0, 1)])
def test_the_derivative_in_k_is_the_reference(skm, k, top):
    x = _rows()
    g = np.random.default_rng(62).standard_normal(x.shape)
    got = skm.soft_k_max_grad_k(x, k, cotangent=g, top=top)
    assert got.shape == (6,)
    for r in range(6):
        ref, scale = _reference(x[r], g[r], k, top)
        assert abs(got[r] - float(ref)) <= 16 * np.finfo(float).eps * float(scale) + 1e-300, r
    assert got[2] == 0.0
    ones = skm.soft_k_max_grad_k(x, k, top=top)
    for r in (0, 3):
        ref, scale = _reference(x[r], np.ones(16), k, top)
        assert abs(ones[r] - float(ref)) <= 16 * np.finfo(float).eps * float(scale)


def test_layouts_and_dask(skm):
    x = _rows()
    g = np.random.default_rng(63).standard_normal(x.shape)
    k = np.linspace(0.5, 2.0, 6)
    want = skm.soft_k_max_grad_k(x, k, cotangent=g, top=3)
    along = skm.soft_k_max_grad_k(x.T, k, cotangent=g.T, top=3, axis=0)
    assert np.array_equal(along, want)
    whole = skm.soft_k_max_grad_k(da.from_array(x, chunks=(2, 16)), k, cotangent=g, top=3)
    assert isinstance(whole, da.Array) and np.array_equal(whole.compute(), want)
    for chunks in ((2, 5), (6, 7)):
        got = skm.soft_k_max_grad_k(
            da.from_array(x, chunks=chunks), k, cotangent=da.from_array(g, chunks=(3, 4)), top=3
        ).compute()
        scale = np.array(
            [float(_reference(x[r], g[r], k[r], 3)[1]) for r in range(6)]
        )  # the sum's scale: the chunks add in another order
        assert np.all(np.abs(got - want) <= 16 * np.finfo(float).eps * scale), chunks
    zero = skm.soft_k_max_grad_k(da.from_array(x, chunks=(6, 5)), 1.0, top=0).compute()
    assert not zero.any()


def test_bridges_give_a_learnable_k_its_gradient(skm):
    torch = pytest.importorskip("torch")
    import symsmooth.torch as sst

    fn = sst.function(skm)
    x = torch.tensor(_rows()[[0, 4]], dtype=torch.float64, requires_grad=True)  # no ties
    k = torch.tensor([1.3, 0.8], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, k: fn(x, k, top=2), (x, k))
    g = torch.randn(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(64))
    (fn(x, k, top=2) * g).sum().backward()
    want = skm.soft_k_max_grad_k(x.detach().numpy(), k.detach().numpy(), cotangent=g.numpy())
    assert np.array_equal(k.grad.numpy(), want)


def test_jax_bridge_checks_the_derivative_in_k():
    jax = pytest.importorskip("jax")
    from jax.test_util import check_grads

    import symsmooth.jax as ssj

    with jax.enable_x64(True):  # a context: the setting must not leak into other tests
        f = ssj.function("soft_k_max")
        x = jax.numpy.asarray(_rows()[[0, 4]])
        k = jax.numpy.asarray([1.3, 0.7])
        check_grads(lambda x, k: f(x, k, top=2), (x, k), order=1, modes=("rev",))
