"""The PyTorch bridge (symsmooth/torch.py): values are the NumPy kernels' and agree with
independent references (torch float64 formulas at safe points, mpmath where the naive formula
overflows); gradients pass ``torch.autograd.gradcheck`` and equal torch autograd of the
reference formulas, for inputs and parameters, broadcast operands summed back; labels, float32,
the kernels skipped by ``needs_input_grad``, zero-copy CPU operands, the CUDA path's operands
(checked on the CPU, and in Numba's CUDA simulator) and every error a user can hit."""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import symsmooth as ss  # noqa: E402
import symsmooth.torch as sst  # noqa: E402
from symsmooth.bridges import torch_devices as devices  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
F64 = torch.float64


def bridge(name, **options):
    return sst.function(name, GENERATED, **options)


def rand(*shape, low=-2.0, high=2.0, seed=0, grad=True, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    t = (low + (high - low) * torch.rand(*shape, generator=g, dtype=F64)).to(dtype)
    return t.requires_grad_(grad)


def gradcheck(fn, *tensors):
    return torch.autograd.gradcheck(fn, tensors, eps=1e-6, atol=1e-7, rtol=1e-6)


# --- the import stays cheap ---------------------------------------------------------------


def test_import_symsmooth_does_not_import_torch():
    code = (
        "import sys, symsmooth as ss\n"
        "assert 'torch' not in sys.modules and 'numba' not in sys.modules\n"
        "from symsmooth import *\n"
        "assert 'torch' not in sys.modules\n"
        "print(ss.torch.function.__module__, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["symsmooth.torch", "True"]


# --- values: the kernels', and independent references ----------------------------------------


def torch_softplus(x, k):
    return torch.log1p(torch.exp(k * x)) / k


def torch_lse(x, k):
    return torch.logsumexp(k * x, dim=-1) / k


def torch_zlpr(s, t, k):
    neg = torch.log1p(((1 - t) * torch.exp(k * s)).sum(-1))
    pos = torch.log1p((t * torch.exp(-k * s)).sum(-1))
    return (neg + pos) / k


REFERENCES = {
    "softplus": (torch_softplus, [(3, 4)]),
    "logsumexp_max": (torch_lse, [(3, 5)]),
    "softmax_onehot_argmax": (lambda x, k: torch.softmax(k * x, dim=-1), [(3, 5)]),
    "zlpr": (torch_zlpr, [(3, 5), (3, 5)]),
    "max_pair_logsumexp": (lambda x, y, k: torch.logaddexp(k * x, k * y) / k, [(3, 1), (4,)]),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_and_gradients_match_the_kernels_and_torch_formulas(name):
    reference, shapes = REFERENCES[name]
    fn = bridge(name, fast=False)  # the ufuncs themselves (the _fast twins: below)
    module = fn.module
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    if name == "zlpr":
        xs[1] = (xs[1] > 0).to(F64).requires_grad_()  # targets in {0, 1}
    k = 1.7
    y = fn(*xs, k)
    ufunc = module.__symsmooth__["ufuncs"].get(name, name)  # elementwise: the libm ufunc
    kernel = getattr(module, ufunc)(*[x.detach().numpy() for x in xs], k)
    assert np.array_equal(y.detach().numpy(), kernel)  # the kernel's own value, untouched
    expected = reference(*[x.detach() for x in xs], k)
    torch.testing.assert_close(y.detach(), expected, rtol=1e-14, atol=1e-15)
    # gradients: torch autograd through the reference formula, with a random cotangent
    cot = rand(*y.shape, seed=9, grad=False)
    got = torch.autograd.grad(y, xs, cot)
    refs = [x.detach().clone().requires_grad_() for x in xs]
    want = torch.autograd.grad(reference(*refs, k), refs, cot)
    for g, w, x in zip(got, want, xs, strict=True):
        assert g.shape == x.shape
        torch.testing.assert_close(g, w, rtol=1e-13, atol=1e-14)
    # the cotangents of loss.mean() and loss.sum(): one number, multiplied as a scalar
    for reduce in (torch.mean, torch.sum):
        got = torch.autograd.grad(reduce(fn(*xs, k)), xs)
        want = torch.autograd.grad(reduce(reference(*refs, k)), refs)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-13, atol=1e-14)


def test_stable_where_the_torch_formula_overflows():
    # The naive torch formulas give inf at these points; the bridged kernels give the values
    # (mpmath at 50 digits), and their gradients.
    x = torch.tensor([[1000.0, 999.0, -5.0]], dtype=F64, requires_grad=True)
    naive = torch.log(torch.exp(x).sum(-1))
    assert torch.isinf(naive).all()
    y = bridge("logsumexp_max")(x, 1.0)
    with mpmath.workdps(50):
        want = mpmath.log(sum(mpmath.exp(v) for v in (1000, 999, -5)))
        softmax = [mpmath.exp(v - want) for v in (1000, 999, -5)]
    assert y.item() == pytest.approx(float(want), rel=1e-16)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g[0].tolist() == pytest.approx([float(p) for p in softmax], rel=1e-15)
    z = torch.tensor([800.0, -745.0], dtype=F64)
    assert torch.isinf(torch_softplus(z, 1.0)[0])
    v = bridge("softplus")(z, 1.0)
    assert v.tolist() == pytest.approx([800.0, float(mpmath.log1p(mpmath.exp(-745)))], rel=1e-15)


# --- gradcheck: several kernels of each output kind ---------------------------------------------

GRADCHECK = {
    "softplus": ([(3, 4)], (1.3,)),
    "sau": ([(5,)], (0.7, 0.2)),  # two parameters
    "max_pair_logsumexp": ([(2, 3), (3,)], (2.0,)),  # broadcast inputs
    "logsumexp_max": ([(3, 4)], (2.0,)),
    "zlpr": ([(2, 5), (5,)], (1.5,)),  # broadcast inputs of a reduction
    "softmax_onehot_argmax": ([(3, 4)], (1.5,)),  # row map (VJP)
    "soft_k_max": ([(2, 5)], (3.0,)),  # iteration row map, keyword top
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck(name):
    shapes, params = GRADCHECK[name]
    fn = bridge(name)
    low = 0.05 if fn.interface.kind != "elementwise" else -2.0
    xs = [rand(*s, seed=i, low=low, high=0.95) for i, s in enumerate(shapes)]
    keywords = {"top": 3} if name == "soft_k_max" else {}
    assert gradcheck(lambda *a: fn(*a, *params, **keywords), *xs)


def test_labels_as_int_tensor_array_or_int():
    fn = bridge("cross_entropy_lse")
    x = rand(3, 4)
    t = torch.tensor([1, 4, 2])  # 1-based class indices, as the kernels' sums
    y = fn(x, 2.0, t)
    expected = torch_lse(x.detach(), 2.0) - x.detach()[torch.arange(3), t - 1]
    torch.testing.assert_close(y.detach(), expected, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(fn(x, 2.0, t.numpy()), y)
    torch.testing.assert_close(fn(x, 2.0, 3)[1], fn(x, 2.0, torch.tensor([3, 3, 3]))[1])
    assert gradcheck(lambda a: fn(a, 2.0, t), x)
    with pytest.raises(TypeError, match="label t has dtype float64; class indices"):
        fn(x, 2.0, t.double())
    with pytest.raises(TypeError, match="label t must be an int or an integer tensor"):
        fn(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="not a class index"):
        fn(x, 2.0, torch.tensor([1, 5, 2]))


def test_float32_in_float32_out():
    fn = bridge("softplus")
    x64 = rand(4, 3, grad=False)
    x = x64.float().requires_grad_()
    y = fn(x, 2.0)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y.double(), fn(x64, 2.0), rtol=1e-7, atol=1e-7)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.dtype == torch.float32
    s = bridge("logsumexp_max")(x, 2.0)
    assert s.dtype == torch.float32 and s.shape == (4,)
    # the result dtype is the kernel's (float32 data with a float64 parameter: float32 loops
    # that read the parameter in float64); the parameter's gradient in its own dtype
    k = torch.tensor([2.0], dtype=F64)
    kernel = fn.module.softplus(x.detach().numpy(), k.numpy())
    assert fn(x, k).dtype == torch.from_numpy(kernel).dtype == torch.float32


def test_non_contiguous_tensors():
    # a transposed or strided view reaches the kernels as a strided NumPy view
    base = rand(6, 5)
    for name in ("softplus", "logsumexp_max"):
        fn = bridge(name)
        for view in (base.t(), base[::2, 1:]):
            y = fn(view, 1.5)
            torch.testing.assert_close(y, fn(view.contiguous(), 1.5), rtol=0, atol=0)
            (g,) = torch.autograd.grad(y.sum(), base)
            (g0,) = torch.autograd.grad(fn(view.contiguous(), 1.5).sum(), base)
            torch.testing.assert_close(g, g0, rtol=0, atol=0)


def test_fast_and_exact_ufuncs_agree():
    x = rand(1000, grad=False, low=-30, high=30)
    fast, exact = bridge("softplus")(x, 1.5), bridge("softplus", fast=False)(x, 1.5)
    torch.testing.assert_close(fast, exact, rtol=3e-16, atol=0)


def test_double_backward_raises():
    # A gradient penalty or a Hessian-vector product fails clearly, also where the gradient
    # depends on the graph only through the input (no cotangent requires grad).
    x, w = rand(3), rand(3, seed=4)
    for name, y in [
        ("softplus", lambda: bridge("softplus")(x * w, 1.0).sum()),
        ("logsumexp_max", lambda: bridge("logsumexp_max")(x, 2.0)),
    ]:
        (g,) = torch.autograd.grad(y(), x, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match=f"{name}: double backward .* not supported"):
            (g**2).sum().backward()
    (g,) = torch.autograd.grad(bridge("softplus")(x, 1.0).sum(), x)  # no graph: a plain tensor
    assert not g.requires_grad and g.grad_fn is None


# --- parameter gradients ---------------------------------------------------------------------


def _with_param_grads(name: str, functions: dict) -> types.ModuleType:
    """The real module ``name`` plus ``param_grads`` functions written here in NumPy (the
    per-parameter derivatives the pgrad branch adds to generated modules)."""
    real = ss.load(name, GENERATED)
    fake = types.ModuleType(f"with_param_grads_{name}")
    fake.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    fake.__dict__.update(functions)
    record = dict(real.__symsmooth__)
    record["param_grads"] = {p: fn.__name__ for p, fn in functions.items()}
    fake.__dict__.update({fn.__name__: fn for fn in functions.values()})
    fake.__symsmooth__ = record
    return fake


def _softplus_grad_k(x, k):
    """d/dk log(1 + exp(k x))/k = x sigmoid(k x)/k - softplus/k (elementwise)."""
    x, k = np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64)
    return x / (1 + np.exp(-k * x)) / k - np.logaddexp(0, k * x) / k**2


def _lse_grad_k(x, k):
    """d/dk LSE(k x)/k per row = (sum_i p_i x_i - LSE(k x)/k)/k, p = softmax(k x)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), x.shape[:-1])
    z = k[..., None] * x
    m = z.max(-1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(-1, keepdims=True)) + m
    p = np.exp(z - lse)
    return ((p * x).sum(-1) - lse[..., 0] / k) / k


def _softmax_grad_k(x, k, cotangent=None):
    """VJP in k of softmax(k x), per row: sum_j c_j p_j (x_j - sum_i p_i x_i)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), x.shape[:-1])[..., None]
    p = np.exp(k * x - (k * x).max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    c = np.ones_like(x) if cotangent is None else np.asarray(cotangent)
    return (c * p * (x - (p * x).sum(-1, keepdims=True))).sum(-1)


PARAM_CASES = {
    # name: (param grad, input shape, k shapes, torch reference)
    "softplus": (_softplus_grad_k, (3, 4), [(), (4,), (3, 1)], torch_softplus),
    "logsumexp_max": (_lse_grad_k, (3, 4), [(), (3,)], torch_lse),
    "softmax_onehot_argmax": (
        _softmax_grad_k,
        (3, 4),
        [(), (3,)],
        lambda x, k: torch.softmax((k[..., None] if k.ndim else k) * x, dim=-1),
    ),
}


@pytest.mark.parametrize("name", sorted(PARAM_CASES))
def test_parameter_gradients_of_a_module_with_param_grads(name):
    grad_k, shape, k_shapes, reference = PARAM_CASES[name]
    fn = sst.function(_with_param_grads(name, {"k": grad_k}))
    x = rand(*shape, seed=1)
    for k_shape in k_shapes:
        k = rand(*k_shape, seed=2, low=0.5, high=2.0) if k_shape else torch.tensor(1.3, dtype=F64)
        k.requires_grad_()
        assert gradcheck(fn, x, k)
        if name == "softplus" or k.ndim == 0:
            y = fn(x, k)
            cot = rand(*y.shape, seed=5, grad=False)
            got = torch.autograd.grad(y, (x, k), cot)
            xr, kr = x.detach().clone().requires_grad_(), k.detach().clone().requires_grad_()
            want = torch.autograd.grad(reference(xr, kr), (xr, kr), cot)
            assert got[1].shape == k.shape  # summed back over the broadcast axes
            torch.testing.assert_close(got[0], want[0], rtol=1e-12, atol=1e-13)
            torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-13)


def test_generated_param_grads_when_the_module_has_them():
    module = ss.load("softplus", GENERATED)
    if "k" not in module.__symsmooth__.get("param_grads", {}):
        pytest.skip("generated/softplus.py has no param_grads yet (the pgrad branch adds them)")
    fn = sst.function(module)
    x, k = rand(3, 4), torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64, requires_grad=True)
    assert gradcheck(fn, x, k)
    (gk,) = torch.autograd.grad(fn(x, k).sum(), k)
    kr = k.detach().clone().requires_grad_()
    (want,) = torch.autograd.grad(torch_softplus(x.detach(), kr).sum(), kr)
    torch.testing.assert_close(gk, want, rtol=1e-13, atol=1e-14)


def test_generated_reductions_give_a_learnable_temperature_its_gradient():
    # the modules' own <name>_grad_k: one value a row times the row's cotangent (rows), the
    # row map's VJP in k, a label beside the temperature
    x = rand(3, 5, seed=4)
    ce, t = sst.function("cross_entropy_lse"), torch.tensor([1, 5, 2])
    for k in (torch.tensor(0.7, dtype=F64), rand(3, seed=6, low=0.5, high=3.0, grad=False)):
        k.requires_grad_()
        assert gradcheck(sst.function("logsumexp_max"), x, k)
        assert gradcheck(sst.function("softmax_onehot_argmax"), x, k)
        assert gradcheck(lambda x, k: ce(x, k, t), x, k)
        (gk,) = torch.autograd.grad(sst.function("logsumexp_max")(x, k).sum(), k)
        kr = k.detach().clone().requires_grad_()
        per_row = kr[..., None] if kr.ndim else kr
        (want,) = torch.autograd.grad((torch.logsumexp(per_row * x.detach(), -1) / kr).sum(), kr)
        torch.testing.assert_close(gk, want, rtol=1e-12, atol=1e-14)


def test_a_parameter_without_derivative_that_requires_grad_is_refused():
    record = dict(ss.load("logsumexp_max", GENERATED).__symsmooth__, param_grads={})
    module = types.SimpleNamespace(**vars(ss.load("logsumexp_max", GENERATED)))
    module.__symsmooth__ = record
    fn = sst.function(module)
    k = torch.tensor(2.0, dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match=r"parameter k requires grad.*pass k.detach\(\)"):
        fn(rand(2, 3), k)
    assert fn(rand(2, 3), k.detach()).shape == (2,)
    with torch.no_grad():
        assert fn(rand(2, 3), k).shape == (2,)


# --- what runs: only needed kernels, no copies -----------------------------------------------


class Recorder(types.ModuleType):
    """A generated module whose every function logs (name, data pointers of its arrays)."""

    def __init__(self, real, extra=None):
        super().__init__(f"recorder_{real.__name__}")
        self.calls = []
        record = dict(real.__symsmooth__)
        record["ufuncs"] = {}  # fast=False runs the public names (the ufuncs are built lazily)
        functions = {k: v for k, v in vars(real).items() if callable(v) and not k.startswith("_")}
        for name, fn in {**functions, **(extra or {})}.items():
            setattr(self, name, self._wrap(name, fn))
        if extra:
            record["param_grads"] = {"k": next(iter(extra))}
        self.__symsmooth__ = record

    def _wrap(self, name, fn):
        def call(*args, **kwargs):
            pointers = [a.__array_interface__["data"][0] for a in args if hasattr(a, "shape")]
            self.calls.append((name, pointers))
            return fn(*args, **kwargs)

        return call


def test_needs_input_grad_skips_the_kernels_no_one_needs():
    real = ss.load("max_pair_logsumexp", GENERATED)
    rec = Recorder(real, {"max_pair_logsumexp_grad_k": lambda x, y, k: np.zeros(np.shape(x))})
    fn = sst.function(rec, fast=False)
    x, y = rand(4), rand(4, grad=False)
    fn(x, y, torch.tensor(2.0, dtype=F64)).sum().backward()
    assert [c[0] for c in rec.calls] == ["max_pair_logsumexp", "max_pair_logsumexp_grad_x"]
    rec.calls.clear()
    k = torch.tensor(2.0, dtype=F64, requires_grad=True)
    fn(x.detach(), y, k).sum().backward()
    assert [c[0] for c in rec.calls] == ["max_pair_logsumexp", "max_pair_logsumexp_grad_k"]
    rec.calls.clear()
    with torch.no_grad():
        fn(x, y, 2.0)
    assert [c[0] for c in rec.calls] == ["max_pair_logsumexp"]


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_contiguous_cpu_tensors_reach_the_kernel_without_a_copy(dtype):
    rec = Recorder(ss.load("softplus", GENERATED))
    x = rand(5, 6, dtype=dtype)
    y = sst.function(rec, fast=False)(x, 1.0)
    (name, pointers), *_ = rec.calls
    assert name == "softplus" and pointers == [x.data_ptr()]
    y.sum().backward()
    assert rec.calls[1][1] == [x.data_ptr()]
    row = rand(4, 6, dtype=dtype)
    lse = Recorder(ss.load("logsumexp_max", GENERATED))
    sst.function(lse)(row, 2.0)
    assert lse.calls[0][1] == [row.data_ptr()]


# --- clear errors ----------------------------------------------------------------------------


def test_clear_errors():
    fn = bridge("softplus")
    x = rand(3)
    cases = [
        (lambda: fn(x), TypeError, r"softplus\(x, k\): missing a required argument: 'k'"),
        (lambda: fn(x, 1.0, 2.0), TypeError, "too many positional arguments"),
        (lambda: fn(x, 1.0, top=2), TypeError, "unexpected keyword argument 'top'"),
        (lambda: fn([1.0, 2.0], 1.0), TypeError, "input x must be a torch tensor, not list"),
        (lambda: fn(np.ones(3), 1.0), TypeError, "input x must be a torch tensor, not ndarray"),
        (lambda: fn(x.to(torch.complex128), 1.0), TypeError, "complex numbers are not supported"),
        (lambda: fn(torch.arange(3), 1.0), TypeError, "x has dtype int64; pass float32 or"),
        (lambda: fn(x.half(), 1.0), TypeError, "x has dtype float16; pass float32 or"),
        (lambda: fn(x, torch.tensor(2)), TypeError, "k has dtype int64; pass float32 or"),
        (lambda: fn(x, "2"), TypeError, "parameter k must be a real number or a float tensor"),
        (lambda: fn(x, True), TypeError, "parameter k must be a real number"),
        (lambda: fn(x.to("meta"), 1.0), ValueError, "tensors on meta are not supported"),
        # a CPU 0-d parameter goes with tensors anywhere (as in torch), a CPU array does not
        (lambda: fn(x.to("meta"), torch.tensor(2.0)), ValueError, "tensors on meta are not"),
        (lambda: fn(x.to("meta"), torch.ones(3)), ValueError, "tensors on several devices"),
        (lambda: sst.function(3.0), TypeError, "expected a generated module or a kernel name"),
        (lambda: sst.function(types.ModuleType("plain")), TypeError, "without a __symsmooth__"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    mp = bridge("max_pair_logsumexp")
    with pytest.raises(ValueError, match=r"y of shape \(4,\) does not broadcast with x"):
        mp(rand(3), rand(4), 1.0)
    lse = bridge("logsumexp_max")
    with pytest.raises(ValueError, match="parameter k of shape .3,. does not broadcast to the"):
        lse(rand(2, 3), torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="at least one axis"):
        lse(torch.tensor(1.0, dtype=F64), 1.0)


def test_the_function_reads_like_the_kernel():
    fn = bridge("soft_k_max")
    assert repr(fn) == "<symsmooth.torch function soft_k_max(x, k, *, top=2, axis=-1)>"
    assert "soft_k_max(x, k, top)" in fn.__doc__
    assert fn(rand(2, 4, grad=False), k=2.0, top=1).shape == (2, 4)


# --- the CUDA path ---------------------------------------------------------------------------


def _fake_cuda(real):
    """A module whose ``<f>_cuda`` launchers are its CPU kernels, checking the operands a
    real launcher needs: C-contiguous tensors of the full shape (parameters: size 1 or one
    per row), labels as float64, the cotangent a contiguous tensor."""
    fake = types.ModuleType(f"fake_cuda_{real.__name__}")
    fake.__symsmooth__ = real.__symsmooth__
    fake.seen = []

    def launcher(name):
        def call(*args, **kwargs):
            for a in [*args, *kwargs.values()]:
                if isinstance(a, torch.Tensor):
                    assert a.is_contiguous()
                    fake.seen.append((name, tuple(a.shape), a.dtype))
            plain = [a.numpy() if isinstance(a, torch.Tensor) else a for a in args]
            kw = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
            return getattr(real, name)(*plain, **kw)

        return call

    for name, fn in vars(real).items():
        if callable(fn) and not name.startswith("_") and not name.endswith("_cuda"):
            setattr(fake, f"{name}_cuda", launcher(name))
    return fake


@pytest.fixture
def cuda_on_cpu(monkeypatch):
    """Route CPU tensors through the CUDA executor (no streams to order on the CPU)."""
    monkeypatch.setitem(devices.EXECUTORS, "cpu", devices.CudaExecutor)
    monkeypatch.setattr(devices, "on_current_stream", lambda device: contextlib.nullcontext())


def test_cuda_executor_broadcasts_on_the_device_and_calls_the_launchers(cuda_on_cpu):
    fake = _fake_cuda(ss.load("zlpr", GENERATED))
    fn = sst.function(fake)
    s, t = rand(2, 5), (rand(5, seed=3, grad=False) > 0).to(F64)
    k = torch.tensor([1.5], dtype=F64)
    y = fn(s, t, k)
    assert fake.seen == [("zlpr", (2, 5), F64)] * 2 + [("zlpr", (1,), F64)]
    (g,) = torch.autograd.grad(y.sum(), s)
    assert fake.seen[-3][0] == "zlpr_grad"
    g0 = ss.load("zlpr", GENERATED).zlpr_grad_s(s.detach().numpy(), t.numpy(), 1.5)
    assert np.array_equal(g.numpy(), g0)
    lse = _fake_cuda(ss.load("cross_entropy_lse", GENERATED))
    sst.function(lse)(rand(3, 4), torch.tensor([0.5, 1.0, 2.0], dtype=F64), 2)
    assert lse.seen == [("cross_entropy_lse", (3, 4), F64), ("cross_entropy_lse", (3,), F64)]
    sm = _fake_cuda(ss.load("softmax_onehot_argmax", GENERATED))
    x = rand(3, 4)
    (gx,) = torch.autograd.grad(sst.function(sm)(x, 2.0)[:, 0].sum(), x)
    assert sm.seen[-1] == ("softmax_onehot_argmax_grad", (3, 4), F64)  # the cotangent
    cot = np.zeros((3, 4))
    cot[:, 0] = 1
    want = ss.load("softmax_onehot_argmax", GENERATED).softmax_onehot_argmax_grad(
        x.detach().numpy(), 2.0, cotangent=cot
    )
    assert np.array_equal(gx.numpy(), want)


def test_cuda_tensors_are_routed_to_the_cuda_launchers():
    assert sst.EXECUTORS is devices.EXECUTORS
    assert devices.EXECUTORS["cuda"] is devices.CudaExecutor
    assert devices.EXECUTORS["cpu"] is devices.CpuExecutor


def test_cuda_parameter_gradient_without_a_launcher_runs_on_the_host(cuda_on_cpu):
    fake = _fake_cuda(_with_param_grads("logsumexp_max", {"k": _lse_grad_k}))
    assert not hasattr(fake, "_lse_grad_k_cuda")
    fake._lse_grad_k = _lse_grad_k  # the CPU kernel only
    fn = sst.function(fake)
    x, k = rand(3, 4), torch.tensor([0.5, 1.0, 2.0], dtype=F64, requires_grad=True)
    y = fn(x, k)
    gx, gk = torch.autograd.grad(y.sum(), (x, k))
    assert fake.seen[-1][0] == "logsumexp_max_grad"  # the inputs' gradient: its launcher
    want = _lse_grad_k(x.detach().numpy(), k.detach().numpy())
    torch.testing.assert_close(gk, torch.from_numpy(want), rtol=0, atol=0)


def test_cuda_executor_refuses_a_module_without_the_cuda_target(cuda_on_cpu):
    real = ss.load("softplus", GENERATED)
    module = types.SimpleNamespace(**vars(real))
    module.__symsmooth__ = dict(real.__symsmooth__, targets=("cpu",))
    with pytest.raises(ValueError, match="generated without the cuda target"):
        sst.function(module)(rand(3), 1.0)
    module = types.SimpleNamespace(**{k: v for k, v in vars(real).items() if k != "softplus_cuda"})
    with pytest.raises(ValueError, match="no CUDA launcher softplus_cuda; move the tensors"):
        sst.function(module)(rand(3), 1.0)


SIMULATED = r"""
import contextlib, sys, torch, numpy as np
import symsmooth.torch as sst
from symsmooth.bridges import torch_devices as devices
cpu = {n: sst.function(n, sys.argv[1]) for n in sys.argv[2:]}
devices.EXECUTORS["cpu"] = devices.CudaExecutor
devices.on_current_stream = lambda device: contextlib.nullcontext()
for name in sys.argv[2:]:
    fn = sst.function(name, sys.argv[1])
    x = torch.linspace(-1.5, 2.0, 8, dtype=torch.float64).reshape(2, 4).requires_grad_()
    k = torch.tensor([1.5, 2.0], dtype=torch.float64, requires_grad=False)
    k = k[:, None] if fn.interface.kind == "elementwise" else k
    y, y0 = fn(x, k), cpu[name](x, k)
    g, = torch.autograd.grad(y, x, torch.ones_like(y) * 0.5)
    g0, = torch.autograd.grad(y0, x, torch.ones_like(y0) * 0.5)
    print(name, float((y - y0).abs().max()), float((g - g0).abs().max()))
"""


@pytest.mark.cuda
def test_cuda_path_runs_the_real_launchers_in_the_simulator():
    pytest.importorskip("numba.cuda")
    names = ["softplus", "softmax_onehot_argmax"]  # elementwise; a row map (cotangent)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run(
        [sys.executable, "-c", SIMULATED, str(GENERATED), *names],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split() for line in out.stdout.splitlines()]
    assert [r[0] for r in rows] == names
    for _, dv, dg in rows:
        assert float(dv) <= 2e-16 * 4 and float(dg) <= 2e-16 * 4


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and torch with CUDA")
def test_cuda_tensors_on_a_side_stream():  # pragma: no cover - no GPU on the CI machines
    fn = bridge("logsumexp_max")
    x = rand(64, 1000).cuda().detach().requires_grad_()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        y = fn(x * 2, 1.5)
        (g,) = torch.autograd.grad(y.sum(), x)
    torch.cuda.synchronize()
    xc = x.detach().cpu().requires_grad_()
    y0 = fn(xc * 2, 1.5)
    (g0,) = torch.autograd.grad(y0.sum(), xc)
    assert y.is_cuda and g.is_cuda
    torch.testing.assert_close(y.cpu(), y0, rtol=1e-15, atol=0)
    torch.testing.assert_close(g.cpu(), g0, rtol=1e-14, atol=1e-16)


# --- the docs' training loop runs -------------------------------------------------------------


def test_the_training_loop_of_docs_torch_md_runs():
    text = (ROOT / "docs" / "torch.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    loop = next(b for b in blocks if "optimizer" in b)
    out = subprocess.run(
        [sys.executable, "-c", loop], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = dict(re.findall(r"(\w+)=([-+.\deE]+)", out.stdout.splitlines()[-1]))
    assert math.isclose(float(last["T"]), 2.0, rel_tol=0.15)
    assert float(last["gap"]) < 1e-12  # the bridge's loss is torch's cross_entropy
