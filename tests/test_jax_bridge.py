"""The JAX bridge (symsmooth.jax): values against the NumPy kernels and closed forms,
``check_grads`` in both modes for each output kind, ``jit``/``vmap``, float32, parameter
gradients, broadcasting, labels, and the errors.

Every test runs with ``jax_enable_x64`` on inside a context (the ``x64`` autouse fixture), so
nothing leaks into other test files; the float32 tests pass float32 arrays explicitly.
Parameter gradients use a module whose record adds ``param_grads`` to a real one, with the
derivative in the temperature from the homogeneity of the kernel (``f(x, k) = g(k x) / k``
gives ``df/dk = (x df/dx - f) / k``): they exercise the bridge whether or not the generated
modules carry parameter gradients yet.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
special = pytest.importorskip("scipy.special")

from jax.test_util import check_grads  # noqa: E402

import symsmooth as ss  # noqa: E402
import symsmooth.jax as sj  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def fn(name, **options):
    return sj.function(name, GENERATED, **options)


def data(*shape, seed=0, low=-2.0, high=2.0):
    """float64 NumPy data (a JAX array made at import would be float32: x64 is off then)."""
    return np.random.default_rng(seed).uniform(low, high, shape)


def with_param_grads(name, derivatives):
    """A copy of the generated module ``name`` whose record lists ``derivatives`` (param ->
    function of the module) as its ``param_grads``."""
    real = ss.load(name, GENERATED)
    fake = types.ModuleType(f"fake_{name}")
    fake.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    if hasattr(real, "__getattr__"):  # the lazy ``_ufunc`` names of elementwise kernels (PEP 562)
        fake.__getattr__ = real.__getattr__
    record = dict(real.__symsmooth__)
    record["param_grads"] = {}
    for param, derivative in derivatives.items():
        setattr(fake, f"{name}_grad_{param}", derivative(real))
        record["param_grads"][param] = f"{name}_grad_{param}"
    fake.__symsmooth__ = record
    return fake


def softplus_dk(m):  # elementwise: a ufunc-like partial
    return lambda x, k: (x * m.softplus_grad_x(x, k) - m.softplus(x, k)) / k


def lse_dk(m):  # rows: one derivative a row
    def derivative(x, k):
        k = np.asarray(k)
        return (np.sum(x * m.logsumexp_max_grad(x, k), axis=-1) - m.logsumexp_max(x, k)) / k

    return derivative


def softmax_dk(m):  # rowmap: VJP in k, one value a row (dp/dk = p (x - p.x))
    def derivative(x, k, cotangent=None):
        p = m.softmax_onehot_argmax(x, k)
        dp = p * (x - np.sum(p * x, axis=-1, keepdims=True))
        return np.sum(np.broadcast_to(cotangent, p.shape) * dp, axis=-1)

    return derivative


# --- values --------------------------------------------------------------------------------


def test_elementwise_values_are_the_kernels_and_the_closed_form():
    x, y = data(4, 5), data(4, 5, seed=1)
    out = fn("softplus")(x, 3.0)
    assert out.dtype == jnp.float64 and out.shape == (4, 5)
    module = ss.load("softplus", GENERATED)
    np.testing.assert_array_equal(out, module.softplus_ufunc(np.asarray(x), 3.0))
    np.testing.assert_allclose(out, np.logaddexp(0, 3 * np.asarray(x)) / 3, rtol=1e-14)
    pair = fn("max_pair_logsumexp")(x, y, 2.0)
    reference = np.logaddexp(2 * np.asarray(x), 2 * np.asarray(y)) / 2
    np.testing.assert_allclose(pair, reference, rtol=1e-14)
    fast = fn("softplus", fast=True)(x, 3.0)
    np.testing.assert_allclose(fast, out, rtol=4e-16, atol=0)


def test_reduction_values_are_the_kernels_and_the_closed_forms():
    x = data(3, 6)
    np.testing.assert_allclose(
        fn("logsumexp_max")(x, 2.0), special.logsumexp(2 * np.asarray(x), axis=-1) / 2, rtol=1e-14
    )
    t = jnp.array([1, 6, 3])  # 1-based class indices, as the kernel's x[t]
    ce = fn("cross_entropy_lse")(x, 1.0, t)
    reference = special.logsumexp(np.asarray(x), axis=-1) - np.asarray(x)[[0, 1, 2], [0, 5, 2]]
    np.testing.assert_allclose(ce, reference, rtol=1e-13)
    p = fn("softmax_onehot_argmax")(x, 2.0)
    np.testing.assert_allclose(p, special.softmax(2 * np.asarray(x), axis=-1), rtol=1e-14)
    top = fn("soft_k_max")(x, 3.0, top=3)
    module = ss.load("soft_k_max", GENERATED)
    np.testing.assert_array_equal(top, module.soft_k_max(np.asarray(x), 3.0, top=3))
    np.testing.assert_allclose(np.sum(top, axis=-1), 3.0, rtol=1e-12)  # k-hot: sums to top


# --- derivatives ---------------------------------------------------------------------------

ELEMENTWISE = [
    ("softplus", (data(3, 4), 2.0), (0,)),
    ("max_pair_logsumexp", (data(3, 4), data(3, 4, seed=1), 3.0), (0, 1)),
    ("sau", (data(3, 4), 0.7, 0.2), (0,)),
    ("gelu", (data(3, 4), 1.3), (0,)),
]
ROWS = [
    ("logsumexp_max", (data(3, 5), 2.0), (0,)),
    ("kmeans_smoothed_min", (data(3, 5, low=0.0), 1.5), (0,)),
    ("zlpr", (data(3, 5), data(3, 5, seed=1, low=0.0, high=1.0), 1.5), (0, 1)),
    ("soft_f1", (data(3, 5), data(3, 5, seed=1, low=0.0, high=1.0), 2.0), (0, 1)),
    ("cross_entropy_lse", (data(3, 5), 1.0, np.array([1, 5, 2])), (0,)),
]
ROWMAPS = [
    ("softmax_onehot_argmax", (data(3, 5), 2.0), (0,)),
    ("soft_k_max", (data(3, 5), 2.0), (0,)),
]


def in_positions(f, args, positions):
    """``f`` as a function of the arguments at ``positions`` only (the rest held fixed)."""

    def g(*moving):
        full = list(args)
        for at, value in zip(positions, moving, strict=True):
            full[at] = value
        return f(*full)

    return g, tuple(jnp.asarray(args[i]) for i in positions)


GRAD_CASES = ELEMENTWISE + ROWS


@pytest.mark.parametrize("name,args,positions", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_check_grads_both_modes(name, args, positions):
    g, moving = in_positions(fn(name), args, positions)
    check_grads(g, moving, order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("name,args,positions", ROWMAPS, ids=[c[0] for c in ROWMAPS])
def test_row_maps_check_grads(name, args, positions):
    g, moving = in_positions(fn(name, rowmap="jacobian"), args, positions)
    check_grads(g, moving, order=1, modes=("fwd", "rev"))
    g, moving = in_positions(fn(name), args, positions)  # rowmap="vjp": reverse mode only
    check_grads(g, moving, order=1, modes=("rev",))
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(g, moving, moving)


@pytest.mark.parametrize("callback", ["pure", "buffer"])
def test_both_host_callbacks_give_the_same_numbers(callback, monkeypatch):
    # buffer_callback (zero-copy, the default where JAX has it) and pure_callback (the stable
    # API): the same values and derivatives, under jit and vmap, and the kernel's errors
    from symsmooth.jax_bridge import callbacks

    if callback == "buffer" and callbacks.buffer_callback is None:
        pytest.skip("this JAX has no jax.experimental.buffer_callback")
    monkeypatch.setattr(callbacks, "CALLBACK", callback)
    x = jnp.asarray(data(3, 5))
    for name, mode in [("softplus", "vjp"), ("logsumexp_max", "vjp"), ("soft_k_max", "jacobian")]:
        f = fn(name, rowmap=mode)
        module = ss.load(name, GENERATED)
        np.testing.assert_array_equal(jax.jit(f)(x, 2.0), getattr(module, name)(np.asarray(x), 2.0))
        check_grads(lambda x, f=f: f(x, 2.0), (x,), order=1, modes=("fwd", "rev"))
        batched = jax.vmap(jax.grad(lambda x, f=f: f(x, 2.0).sum()))(x[:, None, :])
        np.testing.assert_array_equal(batched[:, 0], jax.grad(lambda x, f=f: f(x, 2.0).sum())(x))
    with pytest.raises(Exception, match="label t = 9 is not a class index"):
        jax.block_until_ready(jax.jit(fn("cross_entropy_lse"))(x, 1.0, jnp.array([1, 9, 2])))


def test_derivatives_match_closed_forms():
    x = data(4, 6)
    k = 2.5
    grad = jax.grad(lambda x: fn("softplus")(x, k).sum())(x)
    np.testing.assert_allclose(grad, special.expit(k * np.asarray(x)), rtol=1e-14)
    grad = jax.grad(lambda x: fn("logsumexp_max")(x, k).sum())(x)
    p = special.softmax(k * np.asarray(x), axis=-1)
    np.testing.assert_allclose(grad, p, rtol=1e-13)
    # a row map's JVP: J t = k p (t - p.t) for softmax (forward mode over the n VJPs)
    t = data(4, 6, seed=5)
    _, jt = jax.jvp(lambda x: fn("softmax_onehot_argmax", rowmap="jacobian")(x, k), (x,), (t,))
    pt = np.sum(p * np.asarray(t), axis=-1, keepdims=True)
    np.testing.assert_allclose(jt, k * p * (np.asarray(t) - pt), rtol=1e-12, atol=1e-15)


def test_jit_and_vmap_agree_with_the_eager_call():
    x, k = data(5, 4), jnp.array([0.5, 1.0, 2.0])
    lse = fn("logsumexp_max")
    eager = jnp.stack([lse(x, kk) for kk in k])
    np.testing.assert_array_equal(jax.jit(jax.vmap(lse, in_axes=(None, 0)))(x, k), eager)
    grad = jax.grad(lambda x, k: lse(x, k).sum())
    batched = jax.jit(jax.vmap(grad, in_axes=(0, None)))(x[:, None, :], 2.0)
    np.testing.assert_array_equal(batched[:, 0], grad(x, 2.0))
    softplus = fn("softplus")
    nested = jax.vmap(jax.vmap(softplus, in_axes=(0, None)), in_axes=(None, 0))(x[0], k)
    np.testing.assert_array_equal(nested, softplus(x[0][None, :], k[:, None]))
    vjp_map = fn("softmax_onehot_argmax")
    rev = jax.vmap(jax.grad(lambda x: vjp_map(x, 2.0)[..., 0].sum()))(x)
    np.testing.assert_allclose(rev, jax.grad(lambda x: vjp_map(x, 2.0)[..., 0].sum())(x))


def test_broadcasting_as_the_ufunc_and_per_row_parameters():
    x, k = data(3, 1), jnp.array([[1.0, 2.0, 4.0, 8.0]])
    module = ss.load("softplus", GENERATED)
    out = fn("softplus")(x, k)
    np.testing.assert_array_equal(out, module.softplus_ufunc(np.asarray(x), np.asarray(k)))
    lse = fn("logsumexp_max")(data(3, 5), jnp.array([[1.0], [2.0]]))  # rows (3,) x k (2, 1)
    assert lse.shape == (2, 3)
    np.testing.assert_allclose(lse[1], special.logsumexp(2 * data(3, 5), axis=-1) / 2)


def test_scalars_and_single_rows_keep_their_shape():
    assert fn("softplus")(1.0, 2.0).shape == ()
    np.testing.assert_allclose(fn("softplus")(1.0, 2.0), np.logaddexp(0, 2.0) / 2, rtol=1e-15)
    np.testing.assert_allclose(jax.grad(fn("softplus"))(1.0, 2.0), special.expit(2.0))
    row = jnp.asarray([1.0, 2.0, 3.0])
    assert fn("logsumexp_max")(row, 1.0).shape == ()
    np.testing.assert_allclose(jax.grad(fn("logsumexp_max"))(row, 1.0), special.softmax(row))


def test_float32_stays_float32_and_matches_the_float32_kernel():
    x = data(3, 4).astype(jnp.float32)
    out = fn("softplus")(x, 2.0)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, ss.load("softplus", GENERATED).softplus(np.asarray(x), 2.0))
    grad = jax.grad(lambda x: fn("logsumexp_max")(x, 2.0).sum())(x)
    assert grad.dtype == jnp.float32
    p = special.softmax(2 * np.asarray(x, dtype=np.float64), axis=-1)
    np.testing.assert_allclose(grad, p, rtol=2e-7)
    with jax.enable_x64(False):  # JAX's default: float32 throughout
        assert fn("softplus")(jnp.ones(3), 1.0).dtype == jnp.float32
        assert jax.grad(lambda x: fn("zlpr")(x, x, 1.0).sum())(jnp.ones((2, 3))).shape == (2, 3)


# --- parameter gradients -------------------------------------------------------------------


def test_parameter_gradients_elementwise_rows_and_rowmap():
    x, k = data(3, 4), jnp.asarray(1.7)
    softplus = sj.function(with_param_grads("softplus", {"k": softplus_dk}))
    check_grads(softplus, (x, k), order=1, modes=("fwd", "rev"))
    # the learnable temperature of a model: a scalar k broadcast over every element
    dk = jax.grad(lambda k: softplus(x, k).sum())(k)
    xn = np.asarray(x)
    kn = float(k)
    reference = np.sum(xn * special.expit(kn * xn) / kn - np.logaddexp(0, kn * xn) / kn**2)
    np.testing.assert_allclose(dk, reference, rtol=1e-13)
    lse = sj.function(with_param_grads("logsumexp_max", {"k": lse_dk}))
    check_grads(lse, (x, jnp.array([1.0, 2.0, 0.5])), order=1, modes=("fwd", "rev"))
    check_grads(lse, (x, k), order=1, modes=("fwd", "rev"))
    softmax = with_param_grads("softmax_onehot_argmax", {"k": softmax_dk})
    check_grads(sj.function(softmax, rowmap="jacobian"), (x, k), order=1, modes=("fwd", "rev"))
    check_grads(sj.function(softmax), (x, k), order=1, modes=("rev",))


def test_record_on_disk_param_grads_are_used_when_present():
    record = ss.load("softplus", GENERATED).__symsmooth__
    if not record.get("param_grads"):
        pytest.skip("the generated modules carry no param_grads yet")
    softplus = fn("softplus")
    check_grads(softplus, (data(3, 4), jnp.asarray(1.7)), order=1, modes=("fwd", "rev"))


def test_generated_reductions_give_a_learnable_temperature_its_gradient():
    # the modules' own <name>_grad_k (not a stand-in): rows in both modes, the row map's VJP
    # and its Jacobian rule, a label beside the temperature
    x, k = data(3, 5, seed=4), jnp.asarray(0.7)
    lse = fn("logsumexp_max")
    check_grads(lse, (x, jnp.array([0.5, 2.0, 3.0])), order=1, modes=("fwd", "rev"))
    dk = jax.grad(lambda k: lse(x, k).sum())(k)
    want = jax.grad(lambda k: (jax.nn.logsumexp(k * x, axis=-1) / k).sum())(k)
    np.testing.assert_allclose(dk, want, rtol=1e-12)
    check_grads(fn("softmax_onehot_argmax"), (x, k), order=1, modes=("rev",))
    rowmap = fn("softmax_onehot_argmax", rowmap="jacobian")
    check_grads(rowmap, (x, k), order=1, modes=("fwd", "rev"))
    ce = fn("cross_entropy_lse")
    t = jnp.array([1, 5, 2])
    check_grads(lambda x, k: ce(x, k, t), (x, k), order=1, modes=("fwd", "rev"))


# --- errors --------------------------------------------------------------------------------


def test_a_parameter_without_a_derivative_is_named():
    fake = with_param_grads("softplus", {})  # a record with no param_grads
    with pytest.raises(NotImplementedError, match=r"parameter 'k'.*stop_gradient"):
        jax.grad(lambda k: sj.function(fake)(data(3), k).sum())(2.0)
    # held constant, it needs none: under grad in x, and through stop_gradient
    jax.grad(lambda x: sj.function(fake)(x, 2.0).sum())(data(3))
    jax.grad(lambda k: sj.function(fake)(data(3), jax.lax.stop_gradient(k)).sum())(2.0)


def test_second_order_raises_a_clear_error():
    x = jnp.asarray(data(2, 3))
    for f in (fn("softplus"), fn("logsumexp_max"), fn("softmax_onehot_argmax", rowmap="jacobian")):
        with pytest.raises(NotImplementedError, match="first derivatives only"):
            jax.hessian(lambda x, f=f: f(x, 2.0).sum())(x)
    f = fn("softmax_onehot_argmax")  # custom_vjp: grad of grad names it; hessian is JAX's refusal
    inner = jax.grad(lambda x: f(x, 2.0)[..., 0].sum())
    with pytest.raises(NotImplementedError, match="first derivatives only"):
        jax.grad(lambda x: inner(x).sum())(x)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.hessian(lambda x: f(x, 2.0).sum())(x)


def test_labels_must_be_integer_class_indices():
    ce, x = fn("cross_entropy_lse"), data(2, 3)
    with pytest.raises(TypeError, match="class-index label"):
        ce(x, 1.0, jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="label t = 0 is not a class index"):  # eager
        ce(x, 1.0, jnp.array([0, 2]))
    with pytest.raises(Exception, match="label t = 4 is not a class index"):  # in the kernel
        jax.block_until_ready(jax.jit(ce)(x, 1.0, jnp.array([1, 4])))
    np.testing.assert_allclose(  # the last class of each row is n, as x[t] with t = 1..n
        jax.jit(ce)(x, 1.0, jnp.array([3, 3])), special.logsumexp(x, axis=-1) - x[:, 2]
    )


def test_bad_calls_are_refused_with_their_reason():
    with pytest.raises(TypeError, match=r"takes 2 positional arguments \(x, k\), got 1"):
        fn("softplus")(data(3))
    with pytest.raises(ValueError, match="at least one axis"):
        fn("logsumexp_max")(jnp.asarray(1.0), 1.0)
    with pytest.raises(ValueError, match="one value per row"):
        fn("logsumexp_max")(data(3, 5), jnp.ones(4))
    with pytest.raises(ValueError, match="do not broadcast"):
        fn("softplus")(data(3), jnp.ones(4))
    with pytest.raises(TypeError, match="complex"):
        fn("softplus")(jnp.ones(2, jnp.complex64), 1.0)
    with pytest.raises(TypeError, match=r"unexpected keyword.*allowed: top"):
        fn("soft_k_max")(data(2, 3), 1.0, steps=2)
    with pytest.raises(TypeError, match="Python int"):
        fn("soft_k_max")(data(2, 3), 1.0, top=2.5)
    with pytest.raises(ValueError, match="rowmap='jvp'"):
        fn("softmax_onehot_argmax", rowmap="jvp")
    with pytest.raises(TypeError, match="no __symsmooth__"):
        sj.function(types.ModuleType("plain"))
    with pytest.raises(TypeError, match="generated module or a kernel name"):
        sj.function(3)


def test_importing_symsmooth_does_not_import_jax():
    script = "import sys, symsmooth; symsmooth.catalog; print('jax' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_the_training_loop_of_docs_jax_md_runs(monkeypatch, capsys):
    page = (ROOT / "docs" / "jax.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(# train_temperature.py.*?)```", page, re.S).group(1)
    if not ss.load("softplus", GENERATED).__symsmooth__.get("param_grads"):
        # until the modules carry parameter gradients: the same module with the derivative
        # in k added to its record (with_param_grads), so the page's loop runs unchanged
        real = sj.function
        fake = with_param_grads("softplus", {"k": softplus_dk})
        monkeypatch.setattr(
            sj, "function", lambda name, *a, **kw: real(fake if name == "softplus" else name)
        )
    monkeypatch.chdir(ROOT)  # the page loads from ./generated, as a user's checkout does
    namespace = {"__name__": "docs_jax"}
    with jax.enable_x64(False):  # the page runs at JAX's default float32
        exec(compile(code, "docs/jax.md", "exec"), namespace)  # the page's code, verbatim
    losses = namespace["losses"]
    assert losses[-1] < 1e-3 * losses[0] and losses[-1] < 2e-4  # down to the noise, 1e-4
    assert abs(float(namespace["k"]) - 4.0) < 0.4  # the sharpness of the data
    assert abs(float(namespace["w"]) - 1.5) < 0.05 and abs(float(namespace["b"]) + 0.5) < 0.05
    assert "loss 0.1958 ->" in capsys.readouterr().out
