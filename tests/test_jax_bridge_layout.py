"""The JAX bridge along any axis, with ``keepdims`` and masks (``where=``).

References: the NumPy kernels called directly on the moved input (``np.moveaxis``: the
bridge's values and gradients must be theirs bit for bit), a plain float64 NumPy log-sum-exp
and mpmath, and the kernels on the compacted rows (the kept entries alone, gradient 0 at the
masked entries, which hold junk: 1000 above the kept maximum, NaN, +inf).
``check_grads`` (reverse mode) checks the derivatives through the moves; ``jit`` traces the
mask, ``vmap`` batches over it.  Every test runs with ``jax_enable_x64`` on (a context).
"""

from __future__ import annotations

import contextlib
import doctest
import re
import types
from pathlib import Path

import mpmath
import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from jax.test_util import check_grads  # noqa: E402

import symsmooth as ss  # noqa: E402
import symsmooth.jax as sj  # noqa: E402

GENERATED = Path(__file__).resolve().parent.parent / "generated"
NAMES = ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse", "zlpr", "soft_k_max")


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def mods():
    return {n: ss.load(n, GENERATED) for n in NAMES}


@pytest.fixture(scope="module")
def fns():
    return {n: sj.function(n, GENERATED) for n in NAMES}


def data(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, shape)


def masked_input(shape, axis, seed=1):
    """Values with junk at the masked entries, the mask (about 70 % kept, the first entry of
    every row along ``axis`` kept), and the clean values."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, shape)
    where = rng.random(shape) < 0.7
    np.moveaxis(where, axis, -1)[..., 0] = True
    bad = x.copy()
    junk = np.array([x.max() + 1000.0, np.nan, np.inf])
    bad[~where] = junk[np.arange((~where).sum()) % 3]
    return bad, where, x


def moved(a, axis):
    return np.moveaxis(np.asarray(a), axis, -1)


def back(a, axis):
    return np.moveaxis(np.asarray(a), -1, axis)


# --- axis and keepdims: the kernel on the moved input -----------------------------------


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_rows_along_an_axis_are_the_kernel_on_the_moved_input(fns, mods, axis):
    lse, m = fns["logsumexp_max"], mods["logsumexp_max"]
    x = data(3, 4, 5)
    y = lse(x, 1.5, axis=axis)
    assert np.array_equal(y, m.logsumexp_max(moved(x, axis), 1.5))
    g = jax.grad(lambda x: lse(x, 1.5, axis=axis).sum())(x)
    assert np.array_equal(g, back(m.logsumexp_max_grad(moved(x, axis), 1.5), axis))
    plain = np.log(np.sum(np.exp(1.5 * x), axis=axis)) / 1.5
    np.testing.assert_allclose(y, plain, rtol=1e-14)
    row = moved(x, axis)[1, 2]
    exact = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(1.5) * float(v)) for v in row)) / 1.5
    assert abs(float(y[1, 2]) - float(exact)) <= 2 * np.spacing(abs(float(exact)))
    kept = lse(x, 1.5, axis=axis, keepdims=True)
    assert kept.shape == np.expand_dims(plain, axis).shape
    assert np.array_equal(jnp.squeeze(kept, axis), y)
    assert np.array_equal(jax.grad(lambda x: lse(x, 1.5, axis=axis, keepdims=True).sum())(x), g)


def test_row_maps_labels_and_two_inputs_along_an_axis(fns, mods):
    x, cot = data(3, 4, 5), data(3, 4, 5, seed=2)
    sm, msm = fns["softmax_onehot_argmax"], mods["softmax_onehot_argmax"]
    y, vjp = jax.vjp(lambda x: sm(x, 2.0, axis=0), x)
    assert np.array_equal(y, back(msm.softmax_onehot_argmax(moved(x, 0), 2.0), 0))
    want = msm.softmax_onehot_argmax_grad(moved(x, 0), 2.0, moved(cot, 0))
    assert np.array_equal(vjp(jnp.asarray(cot))[0], back(want, 0))
    t = np.array([[1, 2, 3, 1, 2]] * 4)  # one label a row: the rows' shape (4, 5)
    ce = fns["cross_entropy_lse"](x, 1.0, t, axis=0)
    assert np.array_equal(ce, mods["cross_entropy_lse"].cross_entropy_lse(moved(x, 0), 1.0, t))
    skm = fns["soft_k_max"](x, 2.0, axis=1, top=2)
    want = mods["soft_k_max"].soft_k_max(moved(x, 1), 2.0, top=2)
    assert np.array_equal(skm, back(want, 1))
    s, tz = data(4, 1, 5, seed=3), (np.random.default_rng(4).random((3, 5)) < 0.5) * 1.0
    zl = fns["zlpr"](s, tz, 1.0, axis=1)  # the inputs broadcast to (4, 3, 5), then moved
    full = np.broadcast_arrays(s, tz)
    want = mods["zlpr"].zlpr(moved(full[0], 1), moved(full[1], 1), 1.0)
    assert np.array_equal(zl, want)
    gs, gt = jax.grad(lambda s, t: fns["zlpr"](s, t, 1.0, axis=1).sum(), (0, 1))(s, tz)
    ws, wt = mods["zlpr"].zlpr_grad(moved(full[0], 1), moved(full[1], 1), 1.0)
    np.testing.assert_allclose(gs, back(ws, 1).sum(1, keepdims=True), rtol=1e-15)
    np.testing.assert_allclose(gt, back(wt, 1).sum(0), rtol=1e-15)


def test_per_row_parameters_broadcast_against_the_rows_without_the_axis(fns, mods):
    lse, m = fns["logsumexp_max"], mods["logsumexp_max"]
    x, k = data(3, 4, 5), np.linspace(0.5, 2.0, 15).reshape(3, 5)
    assert np.array_equal(lse(x, k, axis=1), m.logsumexp_max(moved(x, 1), k))
    gk = jax.grad(lambda k: lse(x, k, axis=1).sum())(k)
    assert np.array_equal(gk, m.logsumexp_max_grad_k(moved(x, 1), k))
    # parameters may add leading axes (JAX's broadcasting): each k its own reduction
    ks = np.array([[[1.0]], [[2.0]]])
    both = lse(x, ks, axis=1, keepdims=True)
    assert both.shape == (2, 3, 1, 5)
    for i, kk in enumerate((1.0, 2.0)):
        assert np.array_equal(both[i], lse(x, kk, axis=1, keepdims=True))
    with pytest.raises(ValueError, match="one value per row"):
        lse(x, np.ones(4), axis=1)


# --- masks -----------------------------------------------------------------------------


def test_masked_rows_are_the_compacted_rows(fns, mods):
    xb, where, x = masked_input((4, 6, 3), axis=1)
    k = 1.3
    lse, sm, ce = (mods[n] for n in ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse"))
    f_lse, f_sm, f_ce = (
        fns[n] for n in ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse")
    )
    val = f_lse(xb, k, axis=1, where=jnp.asarray(where))
    assert np.array_equal(val, lse.logsumexp_max(moved(xb, 1), k, where=moved(where, 1)))
    g = jax.grad(lambda x: f_lse(x, k, axis=1, where=where).sum())(xb)
    cot = data(*xb.shape, seed=5)
    row, vjp = jax.vjp(lambda x: f_sm(x, k, axis=1, where=where), xb)
    (vjp,) = vjp(jnp.asarray(cot))
    t = np.array([[1 + int(np.flatnonzero(w)[-1]) for w in moved(where, 1)[i]] for i in range(4)])
    loss, ce_vjp = jax.vjp(lambda x: f_ce(x, k, t, axis=1, where=where), xb)
    (gce,) = ce_vjp(jnp.ones_like(loss))
    xm, wm = moved(x, 1), moved(where, 1)
    for index in np.ndindex(*xm.shape[:-1]):
        keep, kept = wm[index], xm[index][wm[index]]
        v = float(val[index])
        assert abs(v - lse.logsumexp_max(kept, k)) <= 4 * np.spacing(abs(v))
        gi, ri, vi, ci = (moved(a, 1)[index] for a in (g, row, vjp, gce))
        np.testing.assert_allclose(gi[keep], lse.logsumexp_max_grad(kept, k), rtol=1e-15)
        np.testing.assert_allclose(ri[keep], sm.softmax_onehot_argmax(kept, k), rtol=1e-15)
        want = sm.softmax_onehot_argmax_grad(kept, k, moved(cot, 1)[index][keep])
        np.testing.assert_allclose(vi[keep], want, rtol=1e-13, atol=1e-16)
        tk = int(keep[: t[index]].sum())  # the label's position among the kept entries
        np.testing.assert_allclose(float(loss[index]), ce.cross_entropy_lse(kept, k, tk), 1e-15)
        want = ce.cross_entropy_lse_grad(kept, k, tk)
        np.testing.assert_allclose(ci[keep], want, rtol=1e-14, atol=1e-16)
        for masked in (gi, ri, vi, ci):
            assert np.all(masked[~keep] == 0.0)


def test_fully_masked_rows_give_minus_inf_or_0_and_gradient_0(fns):
    x = data(3, 2, 4)
    where = np.ones((3, 2, 4), bool)
    where[:, 1, 2] = False  # the row (1, 2) along axis 0 is fully masked
    lse, sm, ce = (fns[n] for n in ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse"))
    y = lse(x, 2.0, axis=0, where=where)
    assert y[1, 2] == -np.inf and np.isfinite(y).sum() == 7
    gx, gk = jax.grad(lambda x, k: lse(x, k, axis=0, where=where)[1, 2], (0, 1))(x, 2.0)
    assert np.all(gx == 0.0) and gk == 0.0
    assert np.all(sm(x, 2.0, axis=0, where=where)[:, 1, 2] == 0.0)
    for f, labels in ((sm, ()), (ce, (1,))):

        def total(x, k, f=f, labels=labels):
            return f(x, k, *labels, axis=0, where=where).sum()

        gx, gk = jax.grad(total, (0, 1))(x, 2.0)
        assert np.all(gx[:, 1, 2] == 0.0) and not np.isnan(gx).any() and np.isfinite(gk)
    assert ce(x, 2.0, 1, axis=0, where=where)[1, 2] == 0.0


MASK = np.array([[[True, False], [True, True]], [[False, True], [True, True]], [[True] * 2] * 2])
"""A (3, 2, 2) mask whose every row along axis 0 keeps an entry."""


@pytest.mark.parametrize("name", ["logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse"])
def test_check_grads_along_axis_0_with_a_mask(fns, name):
    x, k = data(3, 2, 2, seed=6), np.array([[0.7, 1.1], [1.6, 2.0]])  # k: one a row
    labels = (np.array([[1, 2], [3, 1]]),) if name == "cross_entropy_lse" else ()
    f = fns[name]
    check_grads(lambda x, k: f(x, k, *labels, axis=0, where=MASK), (x, k), 1, modes=("rev",))
    jacobian = sj.function(name, GENERATED, rowmap="jacobian")
    check_grads(lambda x, k: jacobian(x, k, *labels, axis=0, where=MASK), (x, k), 1)


# --- jit and vmap with a traced mask -------------------------------------------------------


def test_jit_traces_the_mask_and_vmap_batches_over_it(fns, mods):
    lse, m = fns["logsumexp_max"], mods["logsumexp_max"]
    xb, where, x = masked_input((3, 4, 5), axis=1)
    jitted = jax.jit(lambda x, w: lse(x, 2.0, axis=1, where=w))
    want = m.logsumexp_max(xb, 2.0, axis=1, where=where)
    assert np.array_equal(jitted(xb, where), want)
    other = np.random.default_rng(8).random(x.shape) < 0.5  # the same trace, another mask
    assert np.array_equal(jitted(x, other), m.logsumexp_max(x, 2.0, axis=1, where=other))
    # vmap over the mask alone (the input shared), and over both
    per_mask = jax.vmap(lambda w: lse(x[0], 2.0, axis=0, where=w))(where)
    for i in range(3):
        assert np.array_equal(per_mask[i], m.logsumexp_max(x[0], 2.0, axis=0, where=where[i]))
    both = jax.jit(jax.vmap(jax.grad(lambda x, w: lse(x, 2.0, axis=0, where=w).sum())))
    got = both(xb, where)
    assert np.array_equal(got, m.logsumexp_max_grad(xb, 2.0, axis=1, where=where))


def test_a_row_map_with_axis_and_mask_under_grad_jit_and_vmap(fns, mods):
    sm, msm = fns["softmax_onehot_argmax"], mods["softmax_onehot_argmax"]
    xb, where, _ = masked_input((3, 4, 5), axis=0)
    cot = data(3, 4, 5, seed=7)

    def loss(x, w, k):
        return jnp.sum(sm(x, k, axis=0, where=w) * cot)

    gx, gk = jax.jit(jax.grad(loss, (0, 2)))(xb, where, 1.5)
    wm = moved(where, 0)
    want = msm.softmax_onehot_argmax_grad(moved(xb, 0), 1.5, moved(cot, 0), where=wm)
    assert np.array_equal(gx, back(want, 0))
    dk = msm.softmax_onehot_argmax_grad_k(moved(xb, 0), 1.5, moved(cot, 0), where=wm)
    np.testing.assert_allclose(gk, dk.sum(), rtol=1e-14)
    per = jax.vmap(jax.grad(loss), in_axes=(None, 0, None))(xb, np.stack([where, ~where]), 1.5)
    assert np.array_equal(per[0], gx)
    want = msm.softmax_onehot_argmax_grad(moved(xb, 0), 1.5, moved(cot, 0), where=~wm)
    np.testing.assert_array_equal(per[1], back(want, 0))  # ~where keeps the junk: NaN alike


@pytest.mark.parametrize("callback", ["pure", "buffer"])
def test_both_host_callbacks_take_the_mask(fns, mods, callback, monkeypatch):
    from symsmooth.jax_bridge import callbacks

    if callback == "buffer" and callbacks.buffer_callback is None:
        pytest.skip("this JAX has no jax.experimental.buffer_callback")
    monkeypatch.setattr(callbacks, "CALLBACK", callback)
    f = sj.function("cross_entropy_lse", GENERATED)  # a new function: new host callbacks
    xb, where, _ = masked_input((4, 3), axis=0)
    t = np.array([1, 1, 1])
    got = jax.jit(lambda x, w: f(x, 1.0, t, axis=0, where=w))(xb, where)
    want = mods["cross_entropy_lse"].cross_entropy_lse(xb, 1.0, t, axis=0, where=where)
    assert np.array_equal(got, want)


# --- errors --------------------------------------------------------------------------------


def test_clear_errors(fns):
    lse, sm, skm = fns["logsumexp_max"], fns["softmax_onehot_argmax"], fns["soft_k_max"]
    x = data(2, 3)
    cases = [
        (lambda: lse(x, 1.0, where=np.ones((2, 3))), TypeError, "boolean mask.*float64"),
        (lambda: lse(x, 1.0, where=jnp.ones((2, 3), int)), TypeError, "not dtype int64"),
        (lambda: lse(x, 1.0, where=np.ones(2, bool)), ValueError, r"where= of shape \(2,\)"),
        (lambda: lse(x, 1.0, where=np.ones((4, 2, 3), bool)), ValueError, "does not broadcast"),
        (lambda: lse(x, 1.0, axis=-3), np.exceptions.AxisError, "logsumexp_max: axis -3 is"),
        (lambda: lse(x, 1.0, axis=(0, 1)), TypeError, "axis must be one integer"),
        (lambda: lse(x, 1.0, keepdims="yes"), TypeError, "keepdims must be True or False"),
        (lambda: lse(x, 1.0, top=2), TypeError, r"unexpected keyword arguments \['top'\]"),
        (lambda: sm(x, 1.0, keepdims=True), TypeError, r"\['keepdims'\] \(allowed: axis, where"),
        (lambda: skm(x, 1.0, where=None), TypeError, r"\['where'\] \(allowed: top, axis\)"),
        (
            lambda: fns["cross_entropy_lse"](x, 1.0, 1, where=np.array([False, True, True])),
            ValueError,
            "label t = 1 selects a masked entry",
        ),  # fmt: skip
        (lambda: sj.function("softplus", GENERATED)(x, 1.0, axis=0), TypeError, "unexpected"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    with pytest.raises(TypeError, match="boolean mask"):  # under jit: at trace time
        jax.jit(lambda w: lse(x, 1.0, where=w))(np.ones((2, 3), np.float32))
    real = ss.load("logsumexp_max", GENERATED)  # an older record: no layout keywords
    old = types.ModuleType("old_logsumexp_max")
    old.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    old.__symsmooth__ = {k: v for k, v in real.__symsmooth__.items() if k != "layout"}
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['axis'\]"):
        sj.function(old)(x, 1.0, axis=0)


def test_the_example_of_docs_jax_md_prints_what_it_shows():
    page = (GENERATED.parent / "docs" / "jax.md").read_text(encoding="utf-8")
    section = page.split("## Any axis, keepdims, masks")[1].split("\n## ")[0]
    section = re.sub(r"^```.*$", "", section, flags=re.M)  # a fence ends the shown output
    test = doctest.DocTestParser().get_doctest(section, {}, "jax.md", "docs/jax.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    with jax.enable_x64(False), contextlib.chdir(GENERATED.parent):  # JAX's default float32
        result = runner.run(test)
    assert result.attempted >= 8 and result.failed == 0
