"""The PyTorch bridge along any axis, with ``keepdims`` and masks (``where=``).

References: the NumPy kernels called directly on the moved input (``np.moveaxis``: the
bridge's values and gradients must be theirs bit for bit), a plain float64 NumPy log-sum-exp
and mpmath, and the kernels on the compacted rows (the kept entries alone: a mask must give
what leaving the entries out gives, and gradient 0 at the masked entries).  Masked entries
hold junk (1000 above the kept maximum, NaN, +inf): were one read, the results would be far
off.  ``torch.autograd.gradcheck`` checks the gradients of inputs and a per-row temperature
through the moves; the CUDA executor's moves run on the CPU through its launcher path.
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

torch = pytest.importorskip("torch")

import symsmooth as ss  # noqa: E402
import symsmooth.torch as sst  # noqa: E402
from symsmooth.bridges import torch_devices as devices  # noqa: E402

GENERATED = Path(__file__).resolve().parent.parent / "generated"
F64 = torch.float64
NAMES = ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse", "zlpr", "soft_k_max")


@pytest.fixture(scope="module")
def mods():
    return {n: ss.load(n, GENERATED) for n in NAMES}


@pytest.fixture(scope="module")
def fns():
    return {n: sst.function(n, GENERATED) for n in NAMES}


def rand(*shape, seed=0, grad=True):
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, shape)
    return torch.tensor(x, dtype=F64, requires_grad=grad)


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
    return torch.tensor(bad, requires_grad=True), where, x


def grad_of(y, x, cotangent=None):
    cotangent = cotangent if cotangent is not None else torch.ones_like(y)
    (g,) = torch.autograd.grad(y, x, cotangent, retain_graph=True)
    return g.numpy()


def moved(a, axis):
    return np.moveaxis(np.asarray(a), axis, -1)


# --- axis and keepdims: the kernel on the moved input -----------------------------------


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_rows_along_an_axis_are_the_kernel_on_the_moved_input(fns, mods, axis):
    lse, m = fns["logsumexp_max"], mods["logsumexp_max"]
    x = rand(3, 4, 5)
    y = lse(x, 1.5, axis=axis)
    xm = moved(x.detach(), axis)
    assert np.array_equal(y.detach().numpy(), m.logsumexp_max(xm, 1.5))
    assert np.array_equal(grad_of(y, x), np.moveaxis(m.logsumexp_max_grad(xm, 1.5), -1, axis))
    plain = np.log(np.sum(np.exp(1.5 * x.detach().numpy()), axis=axis)) / 1.5
    np.testing.assert_allclose(y.detach().numpy(), plain, rtol=1e-14)
    row = moved(x.detach(), axis)[1, 2]
    exact = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(1.5) * float(v)) for v in row)) / 1.5
    assert abs(y[1, 2].item() - float(exact)) <= 2 * np.spacing(abs(float(exact)))
    kept = lse(x, 1.5, axis=axis, keepdims=True)
    assert kept.shape == np.expand_dims(plain, axis).shape
    assert torch.equal(kept.squeeze(axis), y)
    assert np.array_equal(grad_of(kept, x), grad_of(y, x))


def test_row_maps_labels_and_two_inputs_along_an_axis(fns, mods):
    x = rand(3, 4, 5)
    xm = moved(x.detach(), 0)  # (4, 5, 3)
    sm = fns["softmax_onehot_argmax"](x, 2.0, axis=0)
    cot = torch.tensor(np.random.default_rng(2).normal(size=(3, 4, 5)))
    want = mods["softmax_onehot_argmax"].softmax_onehot_argmax(xm, 2.0)
    assert np.array_equal(sm.detach().numpy(), np.moveaxis(want, -1, 0))
    vjp = mods["softmax_onehot_argmax"].softmax_onehot_argmax_grad(xm, 2.0, moved(cot, 0))
    assert np.array_equal(grad_of(sm, x, cot), np.moveaxis(vjp, -1, 0))
    t = torch.tensor([[1, 2, 3, 1, 2]] * 4)  # one label a row: the rows' shape (4, 5)
    ce = fns["cross_entropy_lse"](x, 1.0, t, axis=0)
    want = mods["cross_entropy_lse"].cross_entropy_lse(xm, 1.0, t.numpy())
    assert np.array_equal(ce.detach().numpy(), want)
    skm = fns["soft_k_max"](x, 2.0, axis=1, top=2)
    want = mods["soft_k_max"].soft_k_max(moved(x.detach(), 1), 2.0, top=2)
    assert np.array_equal(skm.detach().numpy(), np.moveaxis(want, -1, 1))
    s, tz = rand(4, 1, 5, seed=3), torch.tensor(np.random.default_rng(4).random((3, 5)) < 0.5)
    tz = tz.to(F64).requires_grad_()
    zl = fns["zlpr"](s, tz, 1.0, axis=1)  # the inputs broadcast to (4, 3, 5), then moved
    full = np.broadcast_arrays(s.detach().numpy(), tz.detach().numpy())
    want = mods["zlpr"].zlpr(moved(full[0], 1), moved(full[1], 1), 1.0)
    assert np.array_equal(zl.detach().numpy(), want)
    gs, gt = torch.autograd.grad(zl.sum(), (s, tz))
    ws, wt = mods["zlpr"].zlpr_grad(moved(full[0], 1), moved(full[1], 1), 1.0)
    assert np.array_equal(gs.numpy(), np.moveaxis(ws, -1, 1).sum(1, keepdims=True))
    np.testing.assert_allclose(gt.numpy(), np.moveaxis(wt, -1, 1).sum(0), rtol=1e-15)


def test_per_row_parameters_broadcast_against_the_rows_without_the_axis(fns, mods):
    x = rand(3, 4, 5)
    k = torch.tensor(np.linspace(0.5, 2.0, 15).reshape(3, 5), requires_grad=True)
    y = fns["logsumexp_max"](x, k, axis=1)  # rows (3, 5)
    xm, kn = moved(x.detach(), 1), k.detach().numpy()
    assert np.array_equal(y.detach().numpy(), mods["logsumexp_max"].logsumexp_max(xm, kn))
    (gk,) = torch.autograd.grad(y.sum(), k)
    assert np.array_equal(gk.numpy(), mods["logsumexp_max"].logsumexp_max_grad_k(xm, kn))
    with pytest.raises(ValueError, match=r"parameter k of shape \(4,\) does not broadcast"):
        fns["logsumexp_max"](x, torch.ones(4, dtype=F64), axis=1)


# --- masks -----------------------------------------------------------------------------


def compact_rows(x, where, axis):
    """(moved row index, kept values, kept positions) of every row along ``axis``."""
    xm, wm = moved(x, axis), moved(where, axis)
    for index in np.ndindex(*xm.shape[:-1]):
        yield index, xm[index][wm[index]], wm[index]


def test_masked_rows_are_the_compacted_rows(fns, mods):
    xb, where, x = masked_input((4, 6, 3), axis=1)
    k = 1.3
    lse, sm, ce = (mods[n] for n in ("logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse"))
    mask = torch.from_numpy(where)  # a torch mask and a NumPy one give the same
    val = fns["logsumexp_max"](xb, k, axis=1, where=mask)
    assert torch.equal(val, fns["logsumexp_max"](xb, k, axis=1, where=where))
    want = lse.logsumexp_max(moved(xb.detach(), 1), k, where=moved(where, 1))
    assert np.array_equal(val.detach().numpy(), want)
    g = grad_of(val, xb)
    row = fns["softmax_onehot_argmax"](xb, k, axis=1, where=mask)
    cot = torch.tensor(np.random.default_rng(5).normal(size=xb.shape))
    vjp = grad_of(row, xb, cot)
    t = torch.tensor(
        [[1 + int(np.flatnonzero(w)[-1]) for w in moved(where, 1)[i]] for i in range(4)]
    )
    loss = fns["cross_entropy_lse"](xb, k, t, axis=1, where=mask)
    gce = grad_of(loss, xb)
    for index, kept, keep in compact_rows(x, where, 1):
        i, j = index
        v = val[i, j].item()
        assert abs(v - lse.logsumexp_max(kept, k)) <= 4 * np.spacing(abs(v))
        np.testing.assert_allclose(moved(g, 1)[index][keep], lse.logsumexp_max_grad(kept, k), 1e-15)
        r = moved(row.detach().numpy(), 1)[index]
        np.testing.assert_allclose(r[keep], sm.softmax_onehot_argmax(kept, k), rtol=1e-15)
        want = sm.softmax_onehot_argmax_grad(kept, k, moved(cot, 1)[index][keep])
        np.testing.assert_allclose(moved(vjp, 1)[index][keep], want, rtol=1e-13, atol=1e-16)
        tk = int(keep[: int(t[i, j])].sum())  # the label's position among the kept entries
        np.testing.assert_allclose(loss[i, j].item(), ce.cross_entropy_lse(kept, k, tk), 1e-15)
        want = ce.cross_entropy_lse_grad(kept, k, tk)
        np.testing.assert_allclose(moved(gce, 1)[index][keep], want, rtol=1e-14, atol=1e-16)
        for masked in (moved(g, 1)[index], r, moved(vjp, 1)[index], moved(gce, 1)[index]):
            assert np.all(masked[~keep] == 0.0)


def test_fully_masked_rows_give_minus_inf_or_0_and_gradient_0(fns):
    x = rand(3, 2, 4)
    where = np.ones((3, 2, 4), bool)
    where[:, 1, 2] = False  # the row (1, 2) along axis 0 is fully masked
    k = torch.tensor(2.0, dtype=F64, requires_grad=True)
    lse = fns["logsumexp_max"](x, k, axis=0, where=where)
    assert lse[1, 2].item() == -np.inf and np.isfinite(lse.detach().numpy()).sum() == 7
    gx, gk = torch.autograd.grad(lse[0, 0] + lse[1, 2], (x, k))
    assert np.all(gx[:, 1, 2].numpy() == 0.0) and np.isfinite(gk.item())
    sm = fns["softmax_onehot_argmax"](x, k, axis=0, where=where)
    assert np.all(sm[:, 1, 2].detach().numpy() == 0.0)
    gx, gk = torch.autograd.grad(sm.sum(), (x, k))
    assert np.all(gx[:, 1, 2].numpy() == 0.0) and not torch.isnan(gx).any()
    ce = fns["cross_entropy_lse"](x, k, 1, axis=0, where=where)
    assert ce[1, 2].item() == 0.0
    gx, gk = torch.autograd.grad(ce.sum(), (x, k))
    assert np.all(gx[:, 1, 2].numpy() == 0.0) and not torch.isnan(gx).any()


@pytest.mark.parametrize("name", ["logsumexp_max", "softmax_onehot_argmax", "cross_entropy_lse"])
def test_gradcheck_along_axis_0_with_a_mask(fns, name):
    x = rand(3, 2, 2, seed=6)
    where = torch.tensor(
        [[[True, False], [True, True]], [[False, True], [True, True]]] + [[[True] * 2] * 2]
    )
    k = torch.tensor([[0.7, 1.1], [1.6, 2.0]], dtype=F64, requires_grad=True)  # one a row
    labels = (torch.tensor([[1, 2], [3, 1]]),) if name == "cross_entropy_lse" else ()
    fn = fns[name]

    def call(x, k):
        return fn(x, k, *labels, axis=0, where=where)

    assert torch.autograd.gradcheck(call, (x, k), eps=1e-6, atol=1e-7, rtol=1e-6)


# --- errors, the default path, CUDA -------------------------------------------------------


def test_clear_errors(fns):
    lse, sm, skm = fns["logsumexp_max"], fns["softmax_onehot_argmax"], fns["soft_k_max"]
    x = rand(2, 3)
    cases = [
        (lambda: lse(x, 1.0, where=torch.ones(2, 3)), TypeError, "boolean mask.*float32"),
        (lambda: lse(x, 1.0, where=np.ones((2, 3), int)), TypeError, "not dtype int64"),
        (lambda: lse(x, 1.0, where=np.ones(2, bool)), ValueError, r"where= of shape \(2,\)"),
        (lambda: lse(x, 1.0, where=np.ones((4, 2, 3), bool)), ValueError, "does not broadcast"),
        (lambda: lse(x, 1.0, axis=2), np.exceptions.AxisError, "logsumexp_max: axis 2 is out"),
        (lambda: lse(x, 1.0, axis=(0, 1)), TypeError, "axis must be one integer"),
        (lambda: lse(x, 1.0, keepdims=1), TypeError, "keepdims must be True or False"),
        (lambda: lse(x, 1.0, top=2), TypeError, "unexpected keyword argument 'top'"),
        (lambda: sm(x, 1.0, keepdims=True), TypeError, "unexpected keyword argument 'keepdims'"),
        (lambda: skm(x, 1.0, where=None), TypeError, "unexpected keyword argument 'where'"),
        (
            lambda: fns["cross_entropy_lse"](x, 1.0, 1, where=np.array([False, True, True])),
            ValueError,
            "label t = 1 selects a masked entry",
        ),  # fmt: skip
        (lambda: sst.function("softplus", GENERATED)(x, 1.0, axis=0), TypeError, "unexpected"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    assert isinstance(np.exceptions.AxisError(0, 1), IndexError)
    real = ss.load("logsumexp_max", GENERATED)  # an older record: no layout keywords
    old = types.SimpleNamespace(**vars(real))
    old.__symsmooth__ = {k: v for k, v in real.__symsmooth__.items() if k != "layout"}
    with pytest.raises(TypeError, match="unexpected keyword argument 'axis'"):
        sst.function(old)(x, 1.0, axis=0)
    assert repr(lse) == (
        "<symsmooth.torch function logsumexp_max(x, k, *, axis=-1, keepdims=False, where=None)>"
    )


def test_the_default_layout_takes_the_last_axis_path_without_a_copy():
    """``axis=-1`` (given or not) and no mask: the tensor's own memory reaches the kernel,
    which gets no layout keyword."""
    real = ss.load("logsumexp_max", GENERATED)
    seen = []
    spy = types.SimpleNamespace(**vars(real))

    def value(x, k, **keywords):
        seen.append((x.__array_interface__["data"][0], keywords))
        return real.logsumexp_max(x, k, **keywords)

    spy.logsumexp_max = value
    fn = sst.function(spy)
    x = rand(4, 6, grad=False)
    for call in (lambda: fn(x, 2.0), lambda: fn(x, 2.0, axis=-1, keepdims=False, where=None)):
        assert torch.equal(call(), fn(x, 2.0, axis=1))
    assert seen[0] == (x.data_ptr(), {}) and seen[2] == (x.data_ptr(), {})
    fn(x, 2.0, where=np.ones(6, bool))
    assert seen[-1][1]["where"].shape == (4, 6)


def _launchers(real):
    """A module whose ``<f>_cuda`` launchers are its CPU kernels, checking that every tensor
    operand is C-contiguous (what the real launchers read)."""
    fake = types.ModuleType(f"fake_cuda_{real.__name__}")
    fake.__symsmooth__ = real.__symsmooth__

    def launcher(fn):
        def call(*args, **kwargs):
            assert all(a.is_contiguous() for a in args if isinstance(a, torch.Tensor))
            assert not kwargs.keys() - {"cotangent", "where"}  # no axis reaches a launcher
            where = kwargs.get("where")
            if where is not None:  # a boolean tensor on the device, C-contiguous, moved
                assert where.dtype == torch.bool and where.is_contiguous()
            plain = [a.numpy() if isinstance(a, torch.Tensor) else a for a in args]
            kw = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
            return torch.from_numpy(np.asarray(fn(*plain, **kw)))

        return call

    for name, fn in vars(real).items():
        if callable(fn) and not name.startswith("_") and not name.endswith("_cuda"):
            setattr(fake, f"{name}_cuda", launcher(fn))
    return fake


def test_cuda_executor_moves_the_axis_and_the_mask(monkeypatch, fns):
    monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CudaExecutor)
    monkeypatch.setattr(devices, "on_current_stream", lambda device: contextlib.nullcontext())
    x = rand(3, 4, 5)
    for name in ("logsumexp_max", "softmax_onehot_argmax"):
        fn = sst.function(_launchers(ss.load(name, GENERATED)))
        keep = {"keepdims": True} if name == "logsumexp_max" else {}
        y = fn(x, 2.0, axis=0, **keep)
        monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CpuExecutor)
        want = fns[name](x, 2.0, axis=0, **keep)
        monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CudaExecutor)
        assert torch.equal(y, want)
        assert np.array_equal(grad_of(y, x), grad_of(want, x))
        mask = torch.rand(4, 5) < 0.6  # a tensor mask, broadcast along the reduced axis 0
        y = fn(x, 2.0, axis=0, where=mask, **keep)
        monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CpuExecutor)
        want = fns[name](x, 2.0, axis=0, where=mask, **keep)
        monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CudaExecutor)
        assert torch.equal(y, want)
        assert np.array_equal(grad_of(y, x), grad_of(want, x))


def test_the_example_of_docs_torch_md_prints_what_it_shows():
    page = (GENERATED.parent / "docs" / "torch.md").read_text(encoding="utf-8")
    section = page.split("## Any axis, keepdims, masks")[1].split("\n## ")[0]
    section = re.sub(r"^```.*$", "", section, flags=re.M)  # a fence ends the shown output
    test = doctest.DocTestParser().get_doctest(section, {}, "torch.md", "docs/torch.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    with contextlib.chdir(GENERATED.parent):  # the page loads from ./generated
        result = runner.run(test)
    assert result.attempted >= 8 and result.failed == 0
