"""Native PyTorch and JAX row reductions (``symsmooth gen NAME --target torch|jax``).

Every catalog reduction is generated into a temporary folder for both targets.  Values, input
gradients and parameter derivatives are compared with the Numba kernels (verified against
certified Arb references by ``symsmooth verify``) on ordinary rows at k = 0.37 and 3, along
other axes, with keepdims and with masks (fully masked rows included).  Tiny results are
checked against python-flint's ``arb``: the log-sum-exp of a confident row, where the naive
``M + log(sum exp(x - M))`` returns 0, and zlpr with an entry of label weight 0 far above the
others (absent from the shift).  Gradients are finite at -inf entries and masked ones;
``torch.compile`` (aot_eager, fullgraph) and ``jax.jit``/``vmap``/``grad`` give the eager
results.  The measurement of ``symsmooth verify --target`` itself is tested last.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
flint = pytest.importorskip("flint")

import jax.numpy as jnp  # noqa: E402

from symsmooth import pipeline  # noqa: E402

REDUCTIONS = [n for n in pipeline.catalog_names() if pipeline.kernel_spec(n).kind == "reduction"]
TARGETS = ("torch", "jax")
EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_rows")
    pipeline.generate(REDUCTIONS, out=out, targets=TARGETS)
    return out


@pytest.fixture(scope="module")
def native(folder):
    return {(n, t): pipeline.load_native(n, t, folder) for n in REDUCTIONS for t in TARGETS}


@pytest.fixture(scope="module")
def numba():
    return {n: pipeline.load(n) for n in REDUCTIONS}


def _call(target, fn, *args, **kwargs):
    """``fn`` on framework copies of the NumPy arguments; NumPy results."""
    if target == "torch":
        conv = lambda a: torch.from_numpy(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        out = fn(*map(conv, args), **{k: conv(v) for k, v in kwargs.items()})
        return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()
    with jax.enable_x64(True):
        conv = lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        out = fn(*map(conv, args), **{k: conv(v) for k, v in kwargs.items()})
        return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)


def _operands(name, shape, k, seed=0):
    """Ordinary rows for kernel ``name``: scores N(0, 3), 0/1 labels for a second vector,
    class labels 1..n for a label parameter, ``k`` for the others."""
    spec = pipeline.kernel_spec(name)
    rng = np.random.default_rng(seed)
    args = []
    for j, _ in enumerate(spec.input_names):
        if j == 0:
            args.append(rng.normal(size=shape) * 3)
        else:
            args.append((rng.random(shape) > 0.5).astype(np.float64))
    for p in spec.param_names:
        if p == "t":
            args.append(rng.integers(1, shape[-1] + 1, size=shape[:-1]).astype(np.float64))
        else:
            args.append(k)
    return spec, args


def _close(got, ref, scale_axis=None, factor=64):
    """|got - ref| within ``factor`` eps of the largest |ref| (of the row: ``scale_axis``; of
    each value for one value per row)."""
    got, ref = np.asarray(got), np.asarray(ref)
    if scale_axis is not None and ref.ndim == 1:
        scale = np.abs(ref)
    else:
        scale = np.max(np.abs(ref), axis=scale_axis, keepdims=scale_axis is not None)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    with np.errstate(invalid="ignore"):  # equal infinities (a fully masked log-sum-exp)
        err = np.where(got == ref, 0.0, np.abs(got - ref) / (EPS * scale + 1e-300))
    assert np.all(err <= factor), f"{np.nanmax(err):.3g} eps of the scale > {factor}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("k", [0.37, 3.0])
def test_values_gradients_and_parameter_derivatives_match_the_numba_kernels(
    native, numba, name, target, k
):
    spec, args = _operands(name, (4, 9), k)
    mod, ref = native[name, target], numba[name]
    rowmap = spec.plan.rowmap
    _close(_call(target, getattr(mod, name), *args), getattr(ref, name)(*args), -1)
    kw = {}
    if rowmap:
        kw["cotangent"] = np.random.default_rng(1).normal(size=(4, 9))
    got = _call(target, getattr(mod, f"{name}_grad"), *args, **kw)
    want = getattr(ref, f"{name}_grad")(*args, **kw)
    for g, w in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, want)), strict=True):
        _close(g, w, -1, factor=256)
    for p in spec.public_param_names:
        got = _call(target, getattr(mod, f"{name}_grad_{p}"), *args, **kw)
        want = getattr(ref, f"{name}_grad_{p}")(*args, **kw)
        # autodiff of the stable value: the Euler gap F - k dF/dk cancels (docs/targets.md)
        _close(got, want, None, factor=4096)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["logsumexp_max", "softmax_onehot_argmax", "zlpr", "soft_f1"])
def test_axis_keepdims_and_masks_as_the_numba_kernels(native, numba, name, target):
    spec, args = _operands(name, (3, 6, 5), 0.9, seed=4)
    mod, ref = native[name, target], numba[name]
    rng = np.random.default_rng(5)
    where = rng.random((3, 6, 5)) > 0.3
    where[0, :, 2] = False  # a fully masked row along axis 1
    kw = {} if spec.plan.rowmap else {"keepdims": True}
    cot = {"cotangent": rng.normal(size=(3, 6, 5))} if spec.plan.rowmap else {}
    for mask in (None, where):
        got = _call(target, getattr(mod, name), *args, axis=1, where=mask, **kw)
        want = getattr(ref, name)(*args, axis=1, where=mask, **kw)
        _close(got, want, None)
        grads = _call(target, getattr(mod, f"{name}_grad"), *args, axis=1, where=mask, **cot)
        wants = getattr(ref, f"{name}_grad")(*args, axis=1, where=mask, **cot)
        for g, w in zip(
            *(x if isinstance(x, tuple) else (x,) for x in (grads, wants)), strict=True
        ):
            assert np.all(np.isfinite(g))
            _close(g, w, None, factor=256)
            if mask is not None:
                assert np.all(g[~np.broadcast_to(mask, g.shape)] == 0)


def _lse_confident():
    exact = (flint.arb(-40).exp()).log1p()  # log(e^0 + e^-40), certified ball
    return np.array([[0.0, -40.0]]), float(exact.mid())


@pytest.mark.parametrize("target", TARGETS)
def test_a_confident_row_keeps_its_tiny_log_sum_exp(native, target):
    x, exact = _lse_confident()
    got = _call(target, native["logsumexp_max", target].logsumexp_max, x, 1.0)[0]
    assert abs(got - exact) <= EPS * exact  # 4.25e-18 to the last bit or so
    m = x.max(axis=-1, keepdims=True)
    naive = (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[0, 0]
    assert naive == 0.0  # the textbook form loses it entirely (as torch.logsumexp does)
    assert float(torch.logsumexp(torch.from_numpy(x), -1)[0]) == 0.0
    # cross-entropy of the same row at its true class: exp(-gap) kept, never negative
    ce = _call(target, native["cross_entropy_lse", target].cross_entropy_lse, x, 1.0, 1.0)[0]
    assert abs(ce - exact) <= 2 * EPS * exact
    assert float(torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.tensor([0]))) == 0


@pytest.mark.parametrize("target", TARGETS)
def test_an_entry_of_weight_zero_is_absent_from_the_shift(native, target):
    # zlpr([[8, -2]], [[1, 0]], k=100): the score 8 has label weight 0 in the negative sum
    # log(1 + sum_{t=0} e^{k s}): counted in its shift, e^{800} would overflow and 0 * inf
    # give NaN; exact: (log1p(e^{-200}) + log1p(e^{-800}))/100
    s, t = np.array([[8.0, -2.0]]), np.array([[1.0, 0.0]])
    mod = native["zlpr", target]
    got = _call(target, mod.zlpr, s, t, 100.0)[0]
    exact = (flint.arb(-200).exp().log1p() + flint.arb(-800).exp().log1p()) / 100
    assert abs(got - float(exact.mid())) <= 2 * EPS * float(exact.mid())
    gs, gt = _call(target, mod.zlpr_grad, s, t, 100.0)
    assert np.all(np.isfinite(gs)) and np.all(np.isfinite(gt))
    # the label derivatives: e^{-k s}/(1 + ...)/k at the positive entry; at the absent one
    # -e^{k s}/(1 + ...)/k = -1e345 overflows (the Numba kernel: -inf), here held at the
    # largest exponential (docs/targets.md), never 0 and never NaN
    want = pipeline.load("zlpr").zlpr_grad_t(s, t, 100.0)
    _close(gt[:, 1], want[:, 1], None, factor=64)
    assert want[0, 0] == -np.inf and gt[0, 0] < -1e305


@pytest.mark.parametrize("target", TARGETS)
def test_minus_inf_entries_give_finite_gradients(native, numba, target):
    x = np.array([[0.5, -np.inf, 2.0, -1.0], [-np.inf, -np.inf, 1.0, 0.0]])
    mod = native["logsumexp_max", target]
    _close(_call(target, mod.logsumexp_max, x, 3.0), numba["logsumexp_max"].logsumexp_max(x, 3.0))
    g = _call(target, mod.logsumexp_max_grad, x, 3.0)
    gk = _call(target, mod.logsumexp_max_grad_k, x, 3.0)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(gk))
    _close(g, numba["logsumexp_max"].logsumexp_max_grad(x, 3.0), -1)
    _close(gk, numba["logsumexp_max"].logsumexp_max_grad_k(x, 3.0), None, factor=4096)


def test_float32_is_computed_in_float32(native, numba):
    _, args = _operands("softmax_onehot_argmax", (4, 9), 3.0)
    x = args[0].astype(np.float32)
    torch_mod = native["softmax_onehot_argmax", "torch"]
    got = torch_mod.softmax_onehot_argmax(torch.from_numpy(x), 3.0)
    assert got.dtype == torch.float32
    want = numba["softmax_onehot_argmax"].softmax_onehot_argmax(x, 3.0)
    np.testing.assert_allclose(got.numpy(), want, rtol=8 * np.finfo(np.float32).eps, atol=1e-30)
    jgot = native["softmax_onehot_argmax", "jax"].softmax_onehot_argmax(jnp.asarray(x), 3.0)
    assert jgot.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(jgot), want, rtol=8 * np.finfo(np.float32).eps)


def test_a_label_outside_the_row_is_refused(native):
    x = torch.zeros((2, 3), dtype=torch.float64)
    mod = native["cross_entropy_lse", "torch"]
    with pytest.raises(ValueError, match="label t = 4.0 is not a class index"):
        mod.cross_entropy_lse(x, 1.0, torch.tensor([1.0, 4.0]))
    with jax.enable_x64(True), pytest.raises(ValueError, match="label t = 0.5"):
        native["cross_entropy_lse", "jax"].cross_entropy_lse(jnp.zeros((2, 3)), 1.0, 0.5)


def test_a_label_on_a_masked_entry_is_refused_as_numba_refuses_it(native, numba):
    # the loss would read an entry the mask leaves out; a fully masked row is 0 whatever its
    # label, so its label is not refused
    x = np.array([[0.5, 2.0, -1.0], [1.0, 0.0, 3.0], [4.0, 4.0, 4.0]])
    keep = np.array([[True, False, True], [True, True, True], [False, False, False]])
    bad, fine = np.array([2.0, 1.0, 1.0]), np.array([3.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="selects a masked entry"):
        numba["cross_entropy_lse"].cross_entropy_lse(x, 1.0, bad, where=keep)
    want = numba["cross_entropy_lse"].cross_entropy_lse(x, 1.0, fine, where=keep)
    for target in TARGETS:
        fn = native["cross_entropy_lse", target].cross_entropy_lse
        with pytest.raises(ValueError, match="label t = 2 selects a masked entry"):
            _call(target, fn, x, 1.0, bad, where=keep)
        got = _call(target, fn, x, 1.0, fine, where=keep)
        np.testing.assert_allclose(got, want, rtol=4 * EPS)


def test_the_jax_entry_points_compile_once_per_shape_and_still_check_labels(native, numba):
    # as jax.nn's: an eager call is one compiled program, cached by shape and dtype (op by op,
    # the compensated rule took 4-8 s per first call of a shape, 0.17 s per later call);
    # the label check runs before it, on the concrete arrays
    mod = native["softmax_onehot_argmax", "jax"]
    rng = np.random.default_rng(12)
    x, cot = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    grad = mod.softmax_onehot_argmax_grad
    with jax.enable_x64(True):
        before = grad._cache_size()
        for k in (0.37, 1.0, 20.0):
            got = grad(jnp.asarray(x), k, cotangent=jnp.asarray(cot))
            want = numba["softmax_onehot_argmax"].softmax_onehot_argmax_grad(x, k, cot)
            np.testing.assert_allclose(np.asarray(got), want, rtol=64 * EPS, atol=64 * EPS)
        assert grad._cache_size() == before + 1  # k is traced: one program for the three
        grad(jnp.asarray(x[:, :4]), 1.0, cotangent=jnp.asarray(cot[:, :4]))
        assert grad._cache_size() == before + 2  # a new shape, a new program
    ce = native["cross_entropy_lse", "jax"]
    with jax.enable_x64(True):
        for fn in (ce.cross_entropy_lse, ce.cross_entropy_lse_grad, ce.cross_entropy_lse_grad_k):
            with pytest.raises(ValueError, match="label t = 4"):
                fn(jnp.zeros((2, 3)), 1.0, jnp.array([1.0, 4.0]))
        # under a user's jit the label is traced: nothing raises, the label selects nothing
        traced = jax.jit(lambda t: ce.cross_entropy_lse(jnp.zeros((2, 3)), 1.0, t))
        assert np.isfinite(np.asarray(traced(jnp.array([1.0, 3.0])))).all()


def test_torch_compile_traces_reductions_without_graph_breaks(native):
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(5, 7)) * 4)
    for name, extra in (("logsumexp_max", ()), ("softmax_onehot_argmax", ()), ("zlpr", ("t",))):
        fn = getattr(native[name, "torch"], name)
        args = (x, (x > 0).to(x.dtype)) if extra else (x,)
        compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
        xs = args[0].clone().requires_grad_()
        out = compiled(xs, *args[1:], 2.5)
        out.sum().backward()
        assert torch.equal(out.detach(), fn(*args, 2.5))
        grad = getattr(native[name, "torch"], f"{name}_grad")(*args, 2.5)
        grad = grad[0] if isinstance(grad, tuple) else grad
        torch.testing.assert_close(xs.grad, grad, rtol=0, atol=4 * EPS)
    # the pivoted input gradient of cross-entropy traces too (no autograd.Function)
    mod = native["cross_entropy_lse", "torch"]
    labels = torch.tensor([1.0, 3.0, 7.0, 2.0, 5.0], dtype=torch.float64)
    compiled = torch.compile(mod.cross_entropy_lse, backend="aot_eager", fullgraph=True)
    xs = (x * 10).clone().requires_grad_()
    compiled(xs, 1.0, labels).sum().backward()
    torch.testing.assert_close(
        xs.grad, mod.cross_entropy_lse_grad(x * 10, 1.0, labels), rtol=0, atol=0
    )


def test_jax_jit_vmap_grad_and_hessian(native):
    mod = native["logsumexp_max", "jax"]
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(3).normal(size=(4, 6)) * 4)
        eager = mod.logsumexp_max(x, 2.5)
        assert jnp.array_equal(jax.jit(lambda x, k: mod.logsumexp_max(x, k))(x, 2.5), eager)
        rows = jax.vmap(lambda r: mod.logsumexp_max(r, 2.5))(x)
        np.testing.assert_allclose(rows, eager, rtol=2 * EPS)
        g = jax.grad(lambda x: mod.logsumexp_max(x, 2.5).sum())(x)
        want = pipeline.load("logsumexp_max").logsumexp_max_grad(np.asarray(x), 2.5)
        _close(np.asarray(g), want, -1)
        h = jax.hessian(lambda r: mod.logsumexp_max(r, 2.5))(x[0])
        p = jax.nn.softmax(2.5 * x[0])
        np.testing.assert_allclose(h, 2.5 * (jnp.diag(p) - jnp.outer(p, p)), atol=64 * EPS)
        mask = x > -1
        jitted = jax.jit(lambda x, w: mod.logsumexp_max(x, 2.5, where=w))(x, mask)
        np.testing.assert_allclose(jitted, mod.logsumexp_max(x, 2.5, where=mask), rtol=2 * EPS)


@pytest.mark.parametrize("target", TARGETS)
def test_verify_measures_the_native_module_against_certified_references(folder, target):
    report = pipeline.verify(
        "logsumexp_max", folder, target=target, long_n=1000, dtypes=(np.float64,)
    )
    values = [r for r in report.rows if r.part == "value"]
    assert values and all(r.count == r.requested and r.max_ulp <= 2 for r in values)
    grads = [r for r in report.rows if r.part == "grad_x"]
    assert grads and all(np.isfinite(r.max_ulp) for r in grads)


def test_every_row_node_has_a_base_function_in_both_runtimes():
    from symsmooth.codegen.helpers import module_helpers
    from symsmooth.codegen.native_printer import PRINTERS
    from symsmooth.codegen.native_row_nodes import LINEAR_ROW_NODES, ROW_NODES
    from symsmooth.codegen.targets import NATIVE_TARGETS

    for name, target in NATIVE_TARGETS.items():
        runtime = PRINTERS[name].runtime
        defs = module_helpers(runtime)
        nodes = ROW_NODES + (LINEAR_ROW_NODES if target.linear_rule else ())
        assert [n.__name__ for n in nodes if n.__name__ not in defs] == [], runtime


def test_a_decorated_rule_and_a_class_travel_with_the_function_that_uses_them(folder):
    # the attached gradient's perturbation is a jax.custom_jvp (its rule a def decorated by
    # the function's attribute) and a torch.autograd.Function (a class): both are copied
    from symsmooth.codegen.helpers import module_helpers

    jax_defs = module_helpers("symsmooth.runtime.jax_native")
    assert "tangent_only_rule" in jax_defs["tangent_only"].requires
    torch_defs = module_helpers("symsmooth.runtime.torch_native")
    assert {"TangentOnly", "TangentOnlyJvp"} <= set(torch_defs["tangent_only"].requires)
    assert "class _TangentOnly(" in torch_defs["TangentOnly"].source
    text = (folder / "cross_entropy_lse_jax.py").read_text()
    assert text.index("def _tangent_only(") < text.index("@_tangent_only.defjvp")
    text = (folder / "cross_entropy_lse_torch.py").read_text()
    assert text.index("class _TangentOnly(") < text.index("class _TangentOnlyJvp(_TangentOnly)")


def _arb_lse_dk(row, k):
    """d/dk log(sum exp(k x))/k as a certified ball (python-flint arb at 300 bits)."""
    old = flint.ctx.prec
    flint.ctx.prec = 300
    try:
        ka = flint.arb(k)
        xs = [flint.arb(float(v)) for v in row]
        terms = [(ka * x).exp() for x in xs]
        total = sum(terms, flint.arb(0))
        weighted = sum((x * t for x, t in zip(xs, terms, strict=True)), flint.arb(0))
        d = weighted / (ka * total) - total.log() / (ka * ka)
        assert d.rad() < abs(d.mid()) * 1e-30
        return float(d.mid())
    finally:
        flint.ctx.prec = old


def _arb_softmax(row, k):
    """The softmax of ``k row`` as certified balls (python-flint arb at 200 bits), as floats."""
    old = flint.ctx.prec
    flint.ctx.prec = 200
    try:
        top = flint.arb(float(max(row)))
        terms = [((flint.arb(float(v)) - top) * k).exp() for v in row]
        total = sum(terms, flint.arb(0))
        out = [t / total for t in terms]
        assert all(p.rad() < abs(p.mid()) * 1e-40 for p in out)
        return np.array([float(p.mid()) for p in out])
    finally:
        flint.ctx.prec = old


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("k", [1.0, 0.37])
def test_the_gradient_at_the_maximum_of_a_near_tie_row_keeps_its_digits(native, target, k):
    # log-sum-exp finishes as x_p + log1p(r)/k (r the weights below the maximum); autodiff of
    # that form gives 1 - r/(1 + r) at the maximum, which cancels where r is large: rows of
    # 1000 near-ties (r ~ 990) lost 476 ulp.  The split's derivative is log(1 + r)'s.
    rng = np.random.default_rng(14)
    rows = 1000.0 - np.concatenate([np.zeros((3, 1)), rng.uniform(0, 0.01, (3, 999))], axis=1)
    exact = np.array([_arb_softmax(r, k) for r in rows])
    got = _call(target, native["logsumexp_max", target].logsumexp_max_grad, rows, k)
    assert (np.abs(got - exact) / np.spacing(exact)).max() <= 4
    if k == 1.0:  # the naive derivative (autodiff of the split; exact differences at k = 1)
        split = lambda u: u[0] + torch.log1p(torch.exp(u[1:] - u[0]).sum())  # noqa: E731
        naive = torch.func.grad(split)(torch.from_numpy(rows[0]))[0].item()
        assert abs(naive - exact[0, 0]) / np.spacing(exact[0, 0]) > 64


@pytest.mark.parametrize("target", TARGETS)
def test_the_sharpness_derivative_of_a_confident_row_keeps_its_digits(native, target):
    # LSE(k x)/k on offset, confident rows: d/dk = -H/k^2 (H the softmax entropy) is tiny next
    # to x_max/k; autodiff of the textbook form subtracts sum p x/k and LSE/k^2, both near
    # x_max/k.  The pivot form (x_p + log(s)/k, weights exp(k (x_i - x_p))) sums one sign.
    rows = np.array([[1000.0, 990.0, 985.5], [3.0, -9.0, -12.0], [50.0, 49.0, 10.0]])
    k = 3.0
    exact = np.array([_arb_lse_dk(r, k) for r in rows])
    got = _call(target, native["logsumexp_max", target].logsumexp_max_grad_k, rows, k)
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact))
    assert ulps.max() <= 4
    naive = torch.func.jacrev(lambda k: torch.logsumexp(k * torch.from_numpy(rows), -1) / k)(
        torch.tensor(k, dtype=torch.float64)
    ).numpy()
    assert (np.abs(naive - exact) / np.spacing(np.abs(exact))).max() > 1e3


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("k", [0.37, 1.7])
def test_the_cross_entropy_gradient_at_an_absent_entry_is_its_limit(native, numba, target, k):
    # CE = LSE(k x)/k - x_t: d/dx_i = p_i - [i = t], so -1 at a -inf label and 0 at another
    # -inf entry (p_i = 0).  The pivoted gradient is attached as sum_i d_i g_i with d_i 0 in
    # value; d_i = where(finite, x_i - frozen x_i, 0) had no derivative at x_i = -inf (0 at
    # the label), _tangent_only's has derivative 1 there.
    inf = np.inf
    x = np.array([[2.0, -inf, 0.5, -1.0], [-inf, 1.0, 3.0, 0.0], [-inf, -inf, 1.0, 2.0]])
    t = np.array([2.0, 3.0, 1.0])
    exact = np.zeros_like(x)
    for r, (row, label) in enumerate(zip(x, t, strict=True)):
        fin = np.isfinite(row)
        exact[r, fin] = _arb_softmax(row[fin], k)
        exact[r, int(label) - 1] -= 1.0
    got = _call(target, native["cross_entropy_lse", target].cross_entropy_lse_grad, x, k, t)
    assert got[0, 1] == -1.0 and got[2, 0] == -1.0 and got[1, 0] == 0.0
    assert (np.abs(got - exact) <= 4 * np.spacing(np.abs(exact)) + 1e-300).all(), got - exact
    np.testing.assert_array_equal(
        got[~np.isfinite(x)],
        numba["cross_entropy_lse"].cross_entropy_lse_grad(x, k, t)[~np.isfinite(x)],
    )
    v = torch.tensor([-inf, 2.0], dtype=torch.float64, requires_grad=True)
    old = torch.where(torch.isfinite(v), v - v.detach(), 0.0)
    assert torch.autograd.grad(old.sum(), v)[0].tolist() == [0.0, 1.0]


def _stacked_by_width(grids: dict) -> list:
    """``(regime of each row, stacked inputs)`` per row width: the regimes' rows concatenated
    (a reduction treats its rows independently), so a jitted function compiles once per width
    rather than once per regime's shape."""
    widths: dict = {}
    for regime, mats in grids.items():
        widths.setdefault(mats[0].shape[-1], []).append((regime, mats))
    out = []
    for items in widths.values():
        rows = [regime for regime, mats in items for _ in range(mats[0].shape[0])]
        stacked = zip(*(m for _, m in items), strict=True)
        out.append((np.array(rows), tuple(np.concatenate(m) for m in stacked)))
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_no_nan_or_inf_where_the_numba_kernels_are_finite(native, numba, name, target):
    # the verifier's row regimes and input classes (offsets of +-1000, scale 300, ties, -inf
    # entries, confident and correctly classified rows, rows of length 1, tiny scores): every
    # branch an untaken where() holds must stay finite in the backward pass.  JAX: the value
    # and every public derivative in one jitted program per row width (compiling is the cost)
    from symsmooth.verification.grids import row_grid
    from symsmooth.verification.regimes import class_rows

    spec = pipeline.kernel_spec(name)
    mod, ref = native[name, target], numba[name]
    params = [1.0 if p == "t" else 2.5 for p in spec.param_names]
    nvec = len(spec.input_names)
    # JAX: the long row as long as the others (it stacks with them: one compilation fewer)
    long_n = 16 if target == "jax" else 64
    grids = {**row_grid(nvec, np.float64, long_n=long_n), **class_rows(nvec, np.float64)}
    parts = [name, f"{name}_grad"] + [f"{name}_grad_{p}" for p in spec.public_param_names]

    def extra(part, shape):
        return {"cotangent": np.ones(shape)} if spec.plan.rowmap and part != name else {}

    def program(*mats):
        return [getattr(mod, part)(*mats, *params, **extra(part, mats[0].shape)) for part in parts]

    with np.errstate(all="ignore"):
        for regimes, mats in _stacked_by_width(grids):
            if target == "jax":
                with jax.enable_x64(True):
                    outs = jax.jit(program)(*map(jnp.asarray, mats))
                    outs = [jax.tree_util.tree_map(np.asarray, o) for o in outs]
            else:
                outs = [
                    _call(target, getattr(mod, p), *mats, *params, **extra(p, mats[0].shape))
                    for p in parts
                ]
            for part, got in zip(parts, outs, strict=True):
                want = getattr(ref, part)(*mats, *params, **extra(part, mats[0].shape))
                for g, w in zip(
                    *(x if isinstance(x, tuple) else (x,) for x in (got, want)), strict=True
                ):
                    bad = np.isfinite(w) & ~np.isfinite(g)
                    rows = sorted(set(regimes[bad.reshape(len(regimes), -1).any(-1)]))
                    assert not bad.any(), (rows, part, g[bad][:3], w[bad][:3])


def test_the_cli_verifies_a_native_module_by_its_own_name(tmp_path, capsys, monkeypatch):
    from clirun import run

    args = ["verify", "logsumexp_max", "--out", str(tmp_path), "--long-n", "200", "-j", "1"]
    code, out, _ = run([*args, "--target", "torch", "--regenerate"], capsys, monkeypatch)
    assert (tmp_path / "logsumexp_max_torch.py").is_file()
    # its misses are its own (the float32 gradient computed in float32: over 1 ulp), never
    # counted as the Numba kernel's documented ones
    assert code == 1 and "MISS logsumexp_max_torch: grad_x float32" in out
    code, _, err = run([*args, "--target", "tpu"], capsys, monkeypatch)
    assert code == 2 and "use cpu, torch or jax" in err


# --- iterations (soft_k_max): the step is a row map of the same kind ---------------------


@pytest.fixture(scope="module")
def iteration(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_iteration")
    pipeline.generate(["soft_k_max"], out=out, targets=TARGETS)
    return {t: pipeline.load_native("soft_k_max", t, out) for t in TARGETS}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("k, top", [(0.37, 2), (3.0, 1), (3.0, 4), (1.0, 0)])
def test_the_iteration_matches_the_numba_kernel(iteration, numba_iteration, target, k, top):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 7)) * 2
    cot = rng.normal(size=(4, 7))
    mod, ref = iteration[target], numba_iteration
    _close(_call(target, mod.soft_k_max, x, k, top), ref.soft_k_max(x, k, top), -1)
    got = _call(target, mod.soft_k_max_grad, x, k, cot, top)
    _close(got, ref.soft_k_max_grad(x, k, cot, top), -1, factor=256)
    got = _call(target, mod.soft_k_max_grad_k, x, k, cot, top)
    _close(got, ref.soft_k_max_grad_k(x, k, cot, top), None, factor=4096)
    # another axis: the same rows moved
    got = _call(target, mod.soft_k_max, x.T.copy(), k, top, axis=0)
    _close(got, ref.soft_k_max(x.T.copy(), k, top, axis=0), 0)


@pytest.fixture(scope="module")
def numba_iteration():
    return pipeline.load("soft_k_max")


def test_the_iteration_compiles_jits_and_refuses_a_bad_count(iteration):
    x = torch.from_numpy(np.random.default_rng(9).normal(size=(3, 5)))
    fn = iteration["torch"].soft_k_max
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    assert torch.equal(compiled(x, 2.0), fn(x, 2.0))
    with pytest.raises(ValueError, match="iteration count must be an integer >= 0"):
        fn(x, 2.0, 1.5)
    jmod = iteration["jax"]
    with jax.enable_x64(True):
        xj = jnp.asarray(x.numpy())
        eager = jmod.soft_k_max(xj, 2.0)
        assert jnp.array_equal(jax.jit(lambda x: jmod.soft_k_max(x, 2.0))(xj), eager)
        rows = jax.vmap(lambda r: jmod.soft_k_max(r, 2.0))(xj)
        np.testing.assert_allclose(rows, eager, rtol=4 * EPS, atol=4 * EPS)
        cot = np.random.default_rng(10).normal(size=(3, 5))
        g = jax.grad(lambda x: (jmod.soft_k_max(x, 2.0) * cot).sum())(xj)
        want = pipeline.load("soft_k_max").soft_k_max_grad(x.numpy(), 2.0, cot)
        _close(np.asarray(g), want, -1, factor=256)


@pytest.mark.parametrize("target", TARGETS)
def test_the_iteration_is_finite_where_the_numba_kernel_is(iteration, numba_iteration, target):
    # -inf entries are absent (0 in the result and the gradient), a row of them keeps the
    # initial state: as the Numba kernel, with no NaN from the safe row its steps run on
    from symsmooth.verification.grids import row_grid
    from symsmooth.verification.regimes import class_rows

    mod, ref = iteration[target], numba_iteration
    grids = {**row_grid(1, np.float64, long_n=64), **class_rows(1, np.float64)}
    grids["all_minus_inf"] = (np.full((2, 5), -np.inf),)
    with np.errstate(all="ignore"):
        for regime, (x, *_) in grids.items():
            cot = np.random.default_rng(11).normal(size=x.shape)
            for part, args in (
                ("soft_k_max", (x, 2.5)),
                ("soft_k_max_grad", (x, 2.5, cot)),
                ("soft_k_max_grad_k", (x, 2.5, cot)),
            ):
                want = getattr(ref, part)(*args)
                got = _call(target, getattr(mod, part), *args)
                bad = np.isfinite(want) & ~np.isfinite(got)
                assert not bad.any(), (regime, part)
                if regime in ("with_neg_inf", "all_minus_inf"):
                    _close(got, want, None, factor=4096)


# --- bfloat16 and float16: computed in float32, rounded once ---------------------------------


@pytest.fixture(scope="module")
def half_modules(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_half")
    names = ["softplus", "logsumexp_max"]
    pipeline.generate(names, out=out, targets=TARGETS)
    return {(n, t): pipeline.load_native(n, t, out) for n in names for t in TARGETS}


def _narrow_ulps(got, exact, dtype):
    """|got - exact| in ulps of ``dtype`` (bfloat16: 7 stored mantissa bits, float16: 10) at
    ``exact``, the spacing held at the smallest subnormal."""
    info, bits = torch.finfo(dtype), {torch.bfloat16: 7, torch.float16: 10}[dtype]
    exact = torch.as_tensor(exact, dtype=torch.float64)
    scale = torch.floor(torch.log2(exact.abs().clamp_min(info.tiny)))
    spacing = torch.clamp(2.0 ** (scale - bits), min=info.tiny * 2.0**-bits)
    return ((torch.as_tensor(got, dtype=torch.float64) - exact).abs() / spacing).max().item()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("target", TARGETS)
def test_half_precision_is_computed_in_float32_and_rounded_once(half_modules, target, dtype):
    tdtype = getattr(torch, dtype)
    x64 = np.linspace(-30, 30, 41)
    rows64 = np.random.default_rng(12).normal(size=(6, 9)) * 3
    xs = torch.from_numpy(x64).to(tdtype)  # the inputs as the narrow type holds them
    rows = torch.from_numpy(rows64).to(tdtype)
    exact_sp = pipeline.load("softplus").softplus(xs.double().numpy(), 1.7)
    exact_lse = pipeline.load("logsumexp_max").logsumexp_max(rows.double().numpy(), 1.7)
    sp_mod, lse_mod = half_modules["softplus", target], half_modules["logsumexp_max", target]
    if target == "torch":
        got_sp, got_lse = sp_mod.softplus(xs, 1.7), lse_mod.logsumexp_max(rows, 1.7)
        grad = lse_mod.logsumexp_max_grad(rows, 1.7)
    else:
        jd = getattr(jnp, dtype)
        xj, rj = (
            jnp.asarray(xs.float().numpy()).astype(jd),
            jnp.asarray(rows.float().numpy()).astype(jd),
        )
        got_sp, got_lse = sp_mod.softplus(xj, 1.7), lse_mod.logsumexp_max(rj, 1.7)
        grad = jax.grad(lambda r: lse_mod.logsumexp_max(r, 1.7).sum())(rj)
        got_sp, got_lse = (
            torch.from_numpy(np.asarray(got_sp, np.float64)),
            torch.from_numpy(np.asarray(got_lse, np.float64)),
        )
        assert grad.dtype == jd
        grad = None
    if grad is not None:
        assert grad.dtype == tdtype
    if target == "torch":
        assert got_sp.dtype == tdtype and got_lse.dtype == tdtype
    # one rounding of a float32 result within 1 ulp of the float32 value: at most 1 ulp
    assert _narrow_ulps(got_sp, exact_sp, tdtype) <= 1
    assert _narrow_ulps(got_lse, exact_lse, tdtype) <= 1


# --- the pivoted input gradient (cross-entropy, soft argmax, smooth accuracy) -------------


def _arb_ce_grad(row, target):
    """The gradient of LSE(x) - x_t (k = 1) as certified balls: softmax(x) - e_t, the entry
    at t formed as -(sum of the other weights)/(sum of all): no cancellation."""
    old = flint.ctx.prec
    flint.ctx.prec = 300
    try:
        e = [flint.arb(float(v)).exp() for v in row]
        total = sum(e, flint.arb(0))
        rest = sum((w for i, w in enumerate(e) if i != target), flint.arb(0))
        out = [w / total for w in e]
        out[target] = -rest / total
        return np.array([float(v.mid()) for v in out])
    finally:
        flint.ctx.prec = old


@pytest.mark.parametrize("target", TARGETS)
def test_the_cross_entropy_gradient_of_a_confident_row_keeps_its_digits(native, target):
    # autodiff (and F.cross_entropy's backward) gives p_t - 1 = 0 at the target of a confident
    # row; the pivoted form gives -r/s = -exp(-40) (0 ulp against the certified value)
    rows = np.array([[10.0, -30.0, 0.0], [0.5, 60.0, 59.0]])
    labels = np.array([1.0, 2.0])
    exact = np.stack([_arb_ce_grad(r, int(t) - 1) for r, t in zip(rows, labels, strict=True)])
    mod = native["cross_entropy_lse", target]
    got = _call(target, mod.cross_entropy_lse_grad, rows, 1.0, labels)
    assert (np.abs(got - exact) / np.spacing(np.abs(exact))).max() <= 4
    x = torch.from_numpy(rows).requires_grad_()
    torch.nn.functional.cross_entropy(x, torch.tensor([0, 1]), reduction="sum").backward()
    naive = x.grad.numpy()
    assert (np.abs(naive - exact) / np.spacing(np.abs(exact))).max() > 1e3


@pytest.mark.parametrize("target", TARGETS)
def test_second_derivatives_through_the_pivoted_gradient(native, target):
    # the pivoted gradient enters as value(frozen x) + sum (x - x) g(midpoint): its derivative
    # is the Hessian diag(p) - p p^T (k = 1), not twice it and not 0
    x = np.array([2.0, -1.0, 0.5, 1.5])
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    want = np.diag(p) - np.outer(p, p)
    mod = native["cross_entropy_lse", target]
    if target == "torch":
        h = torch.autograd.functional.hessian(
            lambda r: mod.cross_entropy_lse(r, 1.0, 3.0), torch.from_numpy(x)
        ).numpy()
        # forward over reverse (torch.func): _tangent_only's eager rule carries a jvp
        fh = torch.func.hessian(lambda r: mod.cross_entropy_lse(r, 1.0, 3.0))(torch.from_numpy(x))
        np.testing.assert_allclose(fh.numpy(), want, atol=8 * EPS)
    else:
        with jax.enable_x64(True):
            h = np.asarray(
                jax.hessian(lambda r: mod.cross_entropy_lse(r, 1.0, 3.0))(jnp.asarray(x))
            )
    np.testing.assert_allclose(h, want, atol=8 * EPS)


SCALAR = [n for n in REDUCTIONS if not pipeline.kernel_spec(n).plan.rowmap]


def _central_jacobian(grad, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The Jacobian of ``grad`` (a vector function of the vector ``z``) by central differences:
    error ``h**2 |grad'''| / 6 + eps |grad| / h``, about 1e-10 on these ordinary rows."""
    cols = []
    for j in range(z.size):
        e = np.zeros_like(z)
        e[j] = h
        cols.append((grad(z + e) - grad(z - e)) / (2 * h))
    return np.stack(cols, axis=-1)


# JAX prints the same rows functions through its own runtime and template: its Hessian is
# checked on one kernel of each attached form (both parameter derivatives printed; the input
# gradient alone, with a label; with a second input vector)
HESSIAN_CASES = [(n, "torch") for n in SCALAR] + [
    (n, "jax") for n in ("soft_argmax", "smooth_accuracy", "cross_entropy_lse", "zlpr")
]


@pytest.mark.parametrize("name, target", HESSIAN_CASES)
def test_every_hessian_block_is_the_derivative_of_the_gradient(native, name, target):
    # autodiff of the attached value (the pivoted gradient read at x + d and the parameter's
    # at k + e) against central differences of the module's own public gradients, in the
    # first input and the parameter: smooth accuracy's factor exp(k x_t - M) read M frozen,
    # so the rows and columns of the pivot entry and the block d grad_x / dk were off by
    # 1e-2 on entries of 2e-2
    spec, args = _operands(name, (6,), 1.3, seed=4)
    mod = native[name, target]
    first = spec.input_names[0]
    multi = len(spec.input_names) > 1
    grad_x = getattr(mod, f"{name}_grad_{first}" if multi else f"{name}_grad")
    rest_in = args[1 : len(spec.input_names)]
    params = args[len(spec.input_names) :]
    (pj,) = [j for j, p in enumerate(spec.param_names) if p in spec.public_param_names]
    grad_p = getattr(mod, f"{name}_grad_{spec.param_names[pj]}")

    def with_k(k):  # the parameters, the differentiated one set to k
        return [k if j == pj else p for j, p in enumerate(params)]

    def gradient(z):
        x, ps = z[:-1], with_k(z[-1])
        gx = _call(target, grad_x, x, *rest_in, *ps)
        gk = _call(target, grad_p, x, *rest_in, *ps)
        return np.concatenate([np.ravel(gx), np.ravel(gk)])

    want = _central_jacobian(gradient, np.concatenate([args[0], [params[pj]]]))
    if target == "torch":
        rest_t = [torch.from_numpy(r) for r in rest_in]
        blocks = torch.autograd.functional.hessian(
            lambda x, k: getattr(mod, name)(x, *rest_t, *with_k(k)),
            (torch.from_numpy(args[0]), torch.tensor(params[pj], dtype=torch.float64)),
        )
    else:
        with jax.enable_x64(True):
            rest_j = [jnp.asarray(r) for r in rest_in]
            f = lambda x, k: getattr(mod, name)(x, *rest_j, *with_k(k))  # noqa: E731
            blocks = jax.jit(jax.hessian(f, argnums=(0, 1)))(
                jnp.asarray(args[0]), jnp.asarray(params[pj])
            )
            blocks = jax.tree_util.tree_map(np.asarray, blocks)
    n = args[0].size
    got = np.block(
        [
            [np.asarray(b).reshape(n if r == 0 else 1, -1) for b in row]
            for r, row in enumerate(blocks)
        ]
    )
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8 * np.abs(want).max())
