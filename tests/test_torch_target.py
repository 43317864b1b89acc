"""The native PyTorch target (``symsmooth gen NAME --target torch``, docs/targets.md).

Six catalog kernels at parameters other than 1 are generated into a temporary folder and
imported from there.  Their values and every partial (input and parameter) are compared in
ulps with the Numba kernels' stable forms and runtime helpers (tests/native_cases.py) in
float64 and float32 over hard inputs (|x| up to 800, where exp(k x) overflows; the helpers'
regime switches; the roots of the fused gradients); autograd gives the derived partials and
passes ``gradcheck`` and ``gradgradcheck``; no gradient is NaN at the extremes or at the
regime boundaries; ``torch.compile`` traces the whole function without a graph break.
"""

from __future__ import annotations

import ast
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import native_cases as cases  # noqa: E402

from symsmooth import pipeline  # noqa: E402

F64 = torch.float64
LIMIT = 5.0
"""Max ulp of every part (measured: at most 4)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_torch")
    pipeline.generate(list(cases.KERNELS), out=out, targets=("torch",))
    return out


@pytest.fixture(scope="module")
def modules(folder):
    return {name: pipeline.load_native(name, "torch", folder) for name in cases.KERNELS}


@pytest.fixture(scope="module")
def specs():
    return cases.specs()


@pytest.fixture(scope="module")
def refs(specs):
    return cases.references(specs)


def test_the_module_imports_only_torch_and_math(folder):
    tree = ast.parse((folder / "softplus_torch.py").read_text())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module != "__future__"
    }
    assert imported <= {"torch", "math"}, imported


@pytest.mark.parametrize("name", cases.KERNELS)
def test_values_and_partials_match_the_numba_kernel(name, modules, specs, refs):
    module, worst = modules[name], {}
    for part in cases.parts(specs[name]):
        fn = getattr(module, cases.function_name(name, part))
        for k in cases.PARAMS:
            for dtype in (np.float64, np.float32):
                xs, ref = refs[name, part, k, dtype]
                got = fn(torch.from_numpy(xs), k)
                assert got.dtype == torch.from_numpy(xs).dtype and got.shape == xs.shape
                err = cases.ulps(got.numpy(), ref, dtype)
                worst[part, k, np.dtype(dtype).name] = float(err.max())
    assert max(worst.values()) <= LIMIT, worst


@pytest.mark.parametrize("name", cases.KERNELS)
def test_autograd_gives_the_derived_partials(name, modules, specs):
    module = modules[name]
    xs = torch.from_numpy(cases.grid(2.5)).requires_grad_()
    k = torch.tensor(2.5, dtype=F64, requires_grad=True)
    getattr(module, name)(xs, k).sum().backward()
    param = specs[name].grad_param_names[0]
    assert torch.equal(xs.grad, getattr(module, f"{name}_grad_x")(xs.detach(), 2.5))
    partial = getattr(module, f"{name}_grad_{param}")(xs.detach(), 2.5)
    assert k.grad.shape == () and torch.isclose(k.grad, partial.sum(), rtol=1e-12)


@pytest.mark.parametrize("name", cases.KERNELS)
def test_no_nan_gradient_at_the_extremes(name, modules):
    module = modules[name]
    x = torch.tensor([-1e300, -800.0, -745.0, -40.0, 0.0, 40.0, 745.0, 800.0, 1e300], dtype=F64)
    x.requires_grad_()
    k = torch.tensor(2.5, dtype=F64, requires_grad=True)
    y = getattr(module, name)(x, k)
    (gx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (hxx,) = torch.autograd.grad(gx.sum(), x)  # double backward: autodiff of the partials
    y2 = getattr(module, name)(x.detach(), k)
    (gk,) = torch.autograd.grad(y2.sum(), k)
    for t in (y, gx, hxx, gk):
        assert torch.isfinite(t).all(), (name, t)
    inf = torch.tensor([-torch.inf, torch.inf], dtype=F64, requires_grad=True)
    (g_inf,) = torch.autograd.grad(getattr(module, name)(inf, 2.5).sum(), inf)
    assert not torch.isnan(g_inf).any()


def test_second_derivative_at_the_regime_boundaries(modules):
    # softplus switches at k x = -37, 18, 33.3; its second derivative (autodiff of the derived
    # partial sigmoid(k x)) is finite there and equals the closed form k e/(1 + e)^2
    module, k = modules["softplus"], 2.5
    z = np.array([-37.0, 18.0, 33.3, 0.0, -745.0, 745.0])
    x = torch.tensor(z / k, dtype=F64, requires_grad=True)
    (gx,) = torch.autograd.grad(module.softplus(x, k).sum(), x, create_graph=True)
    (hxx,) = torch.autograd.grad(gx.sum(), x)
    e = np.exp(-np.abs(x.detach().numpy() * k))
    assert cases.ulps(hxx.numpy(), k * e / (1 + e) ** 2, np.float64).max() <= 4


def test_gradcheck_and_gradgradcheck(modules):
    module = modules["smooth_abs_logistic"]
    x = torch.linspace(-3, 3, 7, dtype=F64).requires_grad_()
    k = torch.tensor(1.7, dtype=F64, requires_grad=True)
    fn = module.smooth_abs_logistic
    assert torch.autograd.gradcheck(fn, (x, k), eps=1e-6, atol=1e-8, rtol=1e-7)
    assert torch.autograd.gradgradcheck(fn, (x, k), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_broadcasting_and_parameter_tensors(modules):
    module = modules["swish"]
    x = torch.linspace(-3, 3, 6, dtype=torch.float32).reshape(2, 3)
    k = torch.tensor([[0.5], [2.0]], dtype=torch.float32, requires_grad=True)
    y = module.swish(x, k)
    assert y.shape == (2, 3) and y.dtype == torch.float32
    y.sum().backward()
    assert k.grad.shape == (2, 1)
    expected = module.swish_grad_k(x, k.detach()).sum(dim=1, keepdim=True)
    assert torch.allclose(k.grad, expected)
    assert module.swish(1.0, 2.0).dtype == torch.get_default_dtype()


def test_torch_compile_traces_without_graph_breaks(modules):
    # aot_eager: dynamo and AOT autograd over the whole function (forward and the
    # autograd.Function's backward), fullgraph=True refuses any graph break
    module = modules["swish"]
    compiled = torch.compile(module.swish, backend="aot_eager", fullgraph=True)
    x = torch.linspace(-800, 800, 101, dtype=F64, requires_grad=True)
    y = compiled(x, 2.5)
    y.sum().backward()
    assert torch.equal(y.detach(), module.swish(x.detach(), 2.5))
    assert torch.equal(x.grad, module.swish_grad_x(x.detach(), 2.5))


@pytest.mark.skipif(
    not os.environ.get("SYMSMOOTH_TEST_INDUCTOR"),
    reason="inductor's C++ build takes ~45 s on a 2-core CI machine (bench/ runs it); set "
    "SYMSMOOTH_TEST_INDUCTOR=1 to run it",
)
def test_torch_compile_inductor(modules):  # pragma: no cover - opt-in
    module = modules["swish"]
    compiled = torch.compile(module.swish)
    x = torch.linspace(-800, 800, 1001, dtype=F64)
    got, ref = compiled(x, 2.5).numpy(), module.swish(x, 2.5).numpy()
    assert cases.ulps(got, ref, np.float64).max() <= 2  # SLEEF exp/log1p in the C++ loops


# --- every primitive's recipe, against its own adaptive mpmath value ---------------------------

LOOSE = {"loglse_exp": 64.0, "dloglse_exp": 32.0, "odd_root_sum_grad": 32.0, "lin_hypot": 32.0}
LOOSE |= {"loglse_exp_gap": 1024.0}
"""Recipes whose plain forms round more (measured 35, 11, 17, 11 ulp: a log of a sum near 1, a
power of a rounded ratio, a hypot near its cancelling root; the Numba helpers keep these in
double-double), and the ill-conditioned double-exponential gap (426 in one environment, 739
in another at (5.94, -2.21), a result of 1e-164; the Numba helper itself 2258 on such points,
a known miss of max_pair_double_exp), docs/targets.md."""


def _domain(name: str, columns: list) -> list:
    if name == "log1mexp":
        return [-np.abs(columns[0])]
    if name.startswith("odd_root_sum"):
        return [*columns[:2], np.full_like(columns[2], 3.0)]  # an odd power
    if name == "sinh_ratio":
        return [np.abs(columns[0]) + 0.1, *columns[1:]]  # c > 0
    if "loglse_exp" in name:
        return [c / 4 for c in columns]  # e^(e^u) stays in mpmath's reach
    return columns


def test_every_primitive_recipe_matches_its_mpmath_value(tmp_path):
    import importlib.util

    import mpmath
    import sympy as sp

    from symsmooth.codegen.native_printer import TorchPrinter, base_sources, helper_sources
    from symsmooth.functions import PRIMITIVES

    printer, calls = TorchPrinter(), {}
    for name, cls in PRIMITIVES.items():
        arity = min(cls.nargs) if isinstance(cls.nargs, sp.FiniteSet) else 3
        calls[name] = (cls, arity, printer.doprint(cls(*sp.symbols(f"v0:{arity}"))).split("(")[0])
    helpers = helper_sources(printer)
    path = tmp_path / "every_helper.py"
    path.write_text(
        "import math\n\nimport torch\n\n\n" + "\n\n".join(base_sources(printer) + helpers)
    )
    spec = importlib.util.spec_from_file_location("every_helper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng, worst = np.random.default_rng(3), {}
    for name, (cls, arity, function) in calls.items():
        columns = _domain(
            name, [np.r_[rng.uniform(-6, 6, 10), rng.uniform(-40, 40, 4)] for _ in range(arity)]
        )
        got = getattr(module, function)(*[torch.from_numpy(c) for c in columns]).numpy()
        with mpmath.workprec(1100):  # a gap of 1e-276 beside terms of 1e3: ~1000 bits
            ref = [
                float(cls.mpmath_impl(*[mpmath.mpf(float(c[j])) for c in columns]))
                for j in range(columns[0].size)
            ]
        worst[name] = float(cases.ulps(got, ref, np.float64).max())
    bad = {n: v for n, v in worst.items() if not v <= LOOSE.get(n, 8.0)}
    assert not bad, bad
