"""The native JAX target (``symsmooth gen NAME --target jax``, docs/targets.md).

Six catalog kernels at parameters other than 1 are generated into a temporary folder and
imported from there; values and every partial are compared in ulps with the Numba kernels'
stable forms (tests/native_cases.py) in float64 and float32 over hard inputs, on the results
above ``2**(p + 8)`` times the smallest normal: XLA on CPU flushes subnormals to zero, so the
first-order corrections of the exact arguments vanish below that (docs/targets.md).  The
``custom_jvp`` gives the derived partials under ``grad``, ``jvp``, ``vmap`` and ``jit`` (no
NaN at |x| = 1e300 or inf), ``hessian`` is finite at the extremes and exact at the regime
boundaries, and ``check_grads`` passes to second order.  Each kernel is one jitted program
per dtype (XLA's compilations are this file's cost).

Every test runs with ``jax_enable_x64`` on inside a context (the ``x64`` autouse fixture), as
tests/test_jax_bridge.py does.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import native_cases as cases  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

from symsmooth import pipeline  # noqa: E402

LIMIT = 8.0
"""Max ulp of every part (measured: at most 6 under ``jit``; XLA's exp and tanh are ~2 ulp)."""
FLOOR = {np.float64: 2.0**-961, np.float32: 2.0**-94}
"""The smallest reference compared: ``2**(p + 8)`` times the smallest normal."""


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_jax")
    pipeline.generate(list(cases.KERNELS), out=out, targets=("jax",))
    return out


@pytest.fixture(scope="module")
def modules(folder):
    return {name: pipeline.load_native(name, "jax", folder) for name in cases.KERNELS}


@pytest.fixture(scope="module")
def specs():
    return cases.specs()


@pytest.fixture(scope="module")
def refs(specs):
    return cases.references(specs)


def _program(module, name, names):
    """One jitted program: every part, the custom_jvp's derivatives in x and the parameter
    (``vmap`` of ``grad``) and its forward mode in the parameter (``jvp``), compiled once per
    dtype; the arrays are its arguments (XLA reassociates products of constants: with ``x``
    closed over, ``x (x d)`` became ``(x x) d``, inf 0 at x = 1e300, docs/targets.md)."""
    f = getattr(module, name)
    fns = [getattr(module, cases.function_name(name, part)) for part in names]
    autodiff = jax.vmap(jax.grad(f, argnums=(0, 1)), (0, None))

    def tangent(x, k):  # forward mode in the parameter
        return jax.jvp(lambda v: f(x, v), (k,), (jnp.ones_like(k),))[1]

    return jax.jit(lambda x, k: ([fn(x, k) for fn in fns], (*autodiff(x, k), tangent(x, k))))


@pytest.mark.parametrize("name", cases.KERNELS)
def test_values_and_partials_match_the_numba_kernel(name, modules, specs, refs):
    module, worst = modules[name], {}
    names = list(cases.parts(specs[name]))
    program = _program(module, name, names)
    for k in cases.PARAMS:
        for dtype in (np.float64, np.float32):
            xs = refs[name, names[0], k, dtype][0]
            outputs, (gx, gk, tk) = program(jnp.asarray(xs), jnp.asarray(k, dtype=dtype))
            for part, got in zip(names, outputs, strict=True):
                got, ref = np.asarray(got), refs[name, part, k, dtype][1]
                assert got.dtype == xs.dtype and got.shape == xs.shape
                kept = ~(np.abs(ref) < FLOOR[dtype])  # NaN and inf references stay
                assert kept.sum() >= 100
                err = cases.ulps(got[kept], ref[kept], dtype)
                worst[part, k, np.dtype(dtype).name] = float(err.max())
            # grad of the custom_jvp is the derived partials (one program: the same ops)
            assert gx.dtype == gk.dtype == xs.dtype
            assert cases.ulps(gx, outputs[1], dtype).max() <= 1
            assert cases.ulps(gk, outputs[-1], dtype).max() <= 1
            assert cases.ulps(tk, outputs[-1], dtype).max() <= 1
    assert max(worst.values()) <= LIMIT, worst
    infinite = np.resize([-np.inf, np.inf], xs.shape)  # same shape: no second compile
    _, (gx, *_) = program(jnp.asarray(infinite, dtype=xs.dtype), jnp.asarray(2.5, xs.dtype))
    assert not np.isnan(np.asarray(gx)).any()


EXTREMES = [-1e300, -800.0, -745.0, -40.0, 0.0, 40.0, 745.0, 800.0, 1e300]


@pytest.mark.parametrize("name", ["swish", "smooth_abs_logistic"])
def test_hessian_is_finite_at_the_extremes(name, modules):
    f = getattr(modules[name], name)
    second = jax.jit(jax.vmap(jax.hessian(f, argnums=(0, 1)), (0, None)))(jnp.array(EXTREMES), 2.5)
    assert all(np.isfinite(np.asarray(t)).all() for row in second for t in row), (name, second)


def test_second_derivative_at_the_regime_boundaries(modules):
    # softplus switches at k x = -37, 18, 33.3: its second derivative (autodiff of the
    # derived partial sigmoid(k x)) equals the closed form k e/(1 + e)^2 there
    module, k = modules["softplus"], 2.5
    x = np.array([-37.0, 18.0, 33.3, 0.0, -745.0, 745.0]) / k
    h = jax.jit(jax.vmap(jax.hessian(module.softplus), (0, None)))(jnp.asarray(x), k)
    e = np.exp(-np.abs(x * k))
    assert cases.ulps(np.asarray(h), k * e / (1 + e) ** 2, np.float64).max() <= 4


def test_check_grads(modules):
    module = modules["smooth_abs_logistic"]
    x = jnp.linspace(-3.0, 3.0, 7)
    check_grads(jax.jit(module.smooth_abs_logistic), (x, 1.7), order=2, modes=("rev",))
