"""The parameter derivatives of the native reductions from the pivoted form, compensated.

Autodiff of the native value in ``k`` subtracts nearly equal rounded sums (soft argmax's
``(T_1 s_0 - T_0 s_1)/s_0^2``, the softmax's ``sum_i G_i dp_i/dk``, whose terms add up to 0
for a constant cotangent); :mod:`symsmooth.codegen.native_paramgrad` prints the Numba kernels'
derivative (every shift at the pivot) with double-double sums and attaches it.  Checked here
against python-flint's ``arb`` on rows near 1000 (autodiff of the same native value shown
failing on them), in float64 and float32, through the public ``NAME_grad_k``, ``backward()``
and ``jax.grad``; the second derivatives in ``(x, k)`` against the textbook forms; and the JAX
TwoProduct near the underflow, where XLA's flushed subnormals made Dekker's error garbage.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
flint = pytest.importorskip("flint")

import jax.numpy as jnp  # noqa: E402

from symsmooth import pipeline  # noqa: E402
from symsmooth.codegen.native_paramgrad import covered_params  # noqa: E402

NAMES = ("soft_argmax", "smooth_accuracy", "softmax_onehot_argmax")
TARGETS = ("torch", "jax")
ROWS, N = 8, 16
RNG = np.random.default_rng(3)
NEAR_1000 = 1000.0 + RNG.standard_normal((ROWS, N))
LABELS = RNG.integers(1, N + 1, size=ROWS)
COTANGENT = RNG.standard_normal((ROWS, N))


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_param_grads")
    pipeline.generate(list(NAMES), out=out, targets=TARGETS)
    return {(n, t): pipeline.load_native(n, t, out) for n in NAMES for t in TARGETS}


def _weights(name: str) -> np.ndarray:
    """``w`` with ``value = sum_i w_i p_i``: positions, the label's indicator, the cotangent."""
    if name == "soft_argmax":
        return np.tile(np.arange(1.0, N + 1), (ROWS, 1))
    if name == "smooth_accuracy":
        return np.eye(N)[LABELS - 1]
    return COTANGENT


def _arb_dk(x: np.ndarray, k: float, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``d/dk sum_i w_i p_i(k x) = sum_i w_i p_i (x_i - sum_j p_j x_j)`` per row as certified
    balls at 600 bits (each radius checked far below an ulp of the midpoint), and the sum of
    the terms' magnitudes ``sum_i |w_i p_i (x_i - mean)|``: the scale of the error that a
    relative error ``delta`` in each weight ``p_i`` makes (the condition of the sum)."""
    old = flint.ctx.prec
    flint.ctx.prec = 600
    try:
        out, scale = [], []
        for row, wr in zip(x, w, strict=True):
            kk, top = flint.arb(float(k)), flint.arb(float(max(row)))
            e = [(kk * (flint.arb(float(v)) - top)).exp() for v in row]
            s = sum(e, flint.arb(0))
            p = [v / s for v in e]
            mean = sum((pi * flint.arb(float(v)) for pi, v in zip(p, row, strict=True)), 0)
            terms = [
                flint.arb(float(wi)) * pi * (flint.arb(float(v)) - mean)
                for wi, pi, v in zip(wr, p, row, strict=True)
            ]
            d = sum(terms, flint.arb(0))
            assert float(d.rad()) < 1e-6 * np.spacing(abs(float(d.mid())))
            out.append(float(d.mid()))
            scale.append(float(sum((abs(t) for t in terms), flint.arb(0)).mid()))
        return np.array(out), np.array(scale)
    finally:
        flint.ctx.prec = old


def _relative(got, exact, scale, dtype=np.float64):
    """``|got - exact| / (eps scale)``: the error in units of the rounding of the weights."""
    eps = np.finfo(dtype).eps
    return np.abs(np.asarray(got, dtype=np.float64) - exact) / (eps * scale)


def _grad_k(name, target, mod, x, k, dtype=np.float64):
    """``NAME_grad_k`` (public), and the same by ``backward()`` / ``jax.grad`` of the value."""
    x = x.astype(dtype)
    labels = (LABELS,) if name == "smooth_accuracy" else ()
    cot = COTANGENT.astype(dtype) if name == "softmax_onehot_argmax" else None
    if target == "torch":
        xt = torch.from_numpy(x)
        args = (xt, torch.tensor(k, dtype=xt.dtype), *(torch.from_numpy(t) for t in labels))
        extra = () if cot is None else (torch.from_numpy(cot),)
        public = getattr(mod, f"{name}_grad_k")(*args, *extra).numpy()
        kr = torch.full((ROWS,), k, dtype=xt.dtype, requires_grad=True)
        out = getattr(mod, name)(xt, kr, *args[2:])
        weight = torch.ones_like(out) if cot is None else torch.from_numpy(cot)
        (back,) = torch.autograd.grad(out, kr, weight)
        return public, back.numpy()
    with jax.enable_x64(dtype == np.float64):
        xj = jnp.asarray(x)
        args = (xj, jnp.asarray(k, dtype=xj.dtype), *(jnp.asarray(t) for t in labels))
        extra = () if cot is None else (jnp.asarray(cot),)
        public = np.asarray(getattr(mod, f"{name}_grad_k")(*args, *extra))
        weight = 1.0 if cot is None else jnp.asarray(cot)
        f = lambda kr, x: (getattr(mod, name)(x, kr, *args[2:]) * weight).sum()  # noqa: E731
        back = np.asarray(jax.jit(jax.grad(f))(jnp.full((ROWS,), k, dtype=xj.dtype), xj))
        return public, back


def _autodiff_of_the_value(name, mod, x, k):
    """What the modules did before: torch autodiff in ``k`` of the native rows value."""
    kr = torch.full((ROWS, 1), k, dtype=torch.float64, requires_grad=True)
    labels = (torch.from_numpy(LABELS).unsqueeze(-1).double(),) if name == "smooth_accuracy" else ()
    value = getattr(mod, f"_value_{name}")(torch.from_numpy(x), kr, *labels, None)
    weight = torch.from_numpy(COTANGENT) if name == "softmax_onehot_argmax" else 1.0
    return torch.autograd.grad((value * weight).sum(), kr)[0][:, 0].numpy()


def test_every_catalog_reduction_with_a_ratio_of_sums_has_its_parameter_printed():
    # the reductions whose derivative in k is rational in the sums (a cancelling subtraction);
    # log-sum-exp, cross-entropy (T/(k s) - log(s)/k^2: one sign) and the zlpr losses (an
    # initial value 1 in the sum) stay with autodiff of the pivoted value
    covered = {n for n in pipeline.catalog_names() if _covered(n)}
    assert covered == set(NAMES)


def _covered(name: str) -> bool:
    spec = pipeline.kernel_spec(name)
    return spec.kind == "reduction" and bool(covered_params(spec))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_the_derivative_in_k_keeps_its_digits_near_1000(modules, name, target):
    # the error in units of eps * sum_i |w_i p_i (x_i - mean)| (what rounding each weight p_i
    # once costs; the derivative itself cancels to 1e-3 of that on some rows, so ulps of the
    # result would measure the problem's condition): torch within 2 (1.3 measured), JAX
    # 4 (3.1: XLA's fused exponentials and sums round differently), autodiff of the same
    # native value 1.5 to 6 times further off on every (kernel, k) (80 ulp where the pivoted
    # form has 5, on the verifier's rows near 1000)
    for k in (1.7, 0.37):  # one compile per module and dtype (k is traced)
        exact, scale = _arb_dk(NEAR_1000, k, _weights(name))
        public, back = _grad_k(name, target, modules[name, target], NEAR_1000, k)
        bound = 2.0 if target == "torch" else 4.0
        assert _relative(public, exact, scale).max() <= bound
        assert _relative(back, exact, scale).max() <= bound
        if target == "torch":
            np.testing.assert_array_equal(public, back)
            naive = _autodiff_of_the_value(name, modules[name, target], NEAR_1000, k)
            worse = _relative(naive, exact, scale).max() / _relative(public, exact, scale).max()
            assert worse > 1.5


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_the_derivative_in_k_in_float32(modules, name, target):
    # float32 computed natively: against the certified derivative at the float32 inputs
    x = (60.0 + np.random.default_rng(11).standard_normal((ROWS, N))).astype(np.float32)
    exact, scale = _arb_dk(x.astype(np.float64), 1.0, _weights(name).astype(np.float32))
    public, back = _grad_k(name, target, modules[name, target], x, 1.0, np.float32)
    assert public.dtype == np.float32
    bound = 2.0 if target == "torch" else 4.0  # measured 1.3 and 3.1
    assert _relative(public, exact, scale, np.float32).max() <= bound
    assert _relative(back, exact, scale, np.float32).max() <= bound


ORDINARY = np.array([[0.4, -1.3, 2.2, 0.9, -0.1], [1.0, 1.5, -2.0, 0.25, 0.75]])
ORDINARY_K = np.array([0.7, 2.5])


def test_second_derivatives_in_x_and_k_are_the_textbook_ones(modules):
    # the parameter's pivoted derivative is attached as e h(x + d/2, k + e/2): every block of
    # the Hessian of soft argmax in (x, k), both targets, against autodiff of the textbook
    # sum_i i softmax(k x)_i (accurate on these ordinary rows)
    pos = np.arange(1.0, 6.0)
    mod = modules["soft_argmax", "torch"]
    args = (torch.from_numpy(ORDINARY), torch.from_numpy(ORDINARY_K))
    got = torch.autograd.functional.hessian(lambda x, k: mod.soft_argmax(x, k).sum(), args)
    book = lambda x, k: (torch.softmax(k[:, None] * x, -1) * torch.from_numpy(pos)).sum()  # noqa: E731
    want = torch.autograd.functional.hessian(book, args)
    for g_row, w_row in zip(got, want, strict=True):
        for g, w in zip(g_row, w_row, strict=True):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-14)
    mod = modules["soft_argmax", "jax"]
    with jax.enable_x64(True):
        jargs = (jnp.asarray(ORDINARY), jnp.asarray(ORDINARY_K))
        got = jax.hessian(lambda x, k: mod.soft_argmax(x, k).sum(), argnums=(0, 1))(*jargs)
        jbook = lambda x, k: (jax.nn.softmax(k[:, None] * x, -1) * pos).sum()  # noqa: E731
        want = jax.hessian(jbook, argnums=(0, 1))(*jargs)
        for g_row, w_row in zip(got, want, strict=True):
            for g, w in zip(g_row, w_row, strict=True):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-14)


def test_a_masked_row_and_a_minus_inf_label_give_the_limits(modules):
    # smooth accuracy p_t: a -inf label has p_t = 0 for every k (derivative 0, not NaN); a
    # masked entry joins no sum (the derivative is the unmasked row's without it)
    x = np.array([[0.5, -1.0, 2.0, 0.25], [0.5, -np.inf, 2.0, 0.25]])
    t = np.array([2, 2])
    keep = np.array([[True, True, False, True], [True, True, True, True]])
    for target in TARGETS:
        mod = modules["smooth_accuracy", target]
        if target == "torch":
            got = mod.smooth_accuracy_grad_k(torch.from_numpy(x), 1.3, torch.from_numpy(t))
            masked = mod.smooth_accuracy_grad_k(
                torch.from_numpy(x), 1.3, torch.from_numpy(t), where=torch.from_numpy(keep)
            )
            got, masked = got.numpy(), masked.numpy()
        else:
            with jax.enable_x64(True):
                got = np.asarray(mod.smooth_accuracy_grad_k(jnp.asarray(x), 1.3, jnp.asarray(t)))
                masked = np.asarray(
                    mod.smooth_accuracy_grad_k(
                        jnp.asarray(x), 1.3, jnp.asarray(t), where=jnp.asarray(keep)
                    )
                )
        assert got[1] == 0.0
        row = np.array([[0.5, -1.0, 0.25]])
        want, scale = _arb_dk(row, 1.3, np.array([[0.0, 1.0, 0.0]]))
        assert _relative(masked[:1], want, scale).max() <= 1.0


HUGE = np.array([[1e300, -1e300, 3e299, -7e299], [2.5e-300, -1e-300, 4e-301, 1e-300]])
HUGE_K = np.array([1e-300, 3e299])
HUGE_LABELS = np.array([1, 3])


def _arb_dx(x: np.ndarray, k: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``d/dx_j sum_i w_i p_i(k x) = k p_j (w_j - sum_i w_i p_i)`` per row, certified (600-bit
    balls, each radius checked far below an ulp of the midpoint)."""
    old = flint.ctx.prec
    flint.ctx.prec = 600
    try:
        out = []
        for row, kr, wr in zip(x, k, w, strict=True):
            kk, top = flint.arb(float(kr)), flint.arb(float(max(row)))
            e = [(kk * (flint.arb(float(v)) - top)).exp() for v in row]
            s = sum(e, flint.arb(0))
            p = [v / s for v in e]
            mean = sum((flint.arb(float(wi)) * pi for wi, pi in zip(wr, p, strict=True)), 0)
            d = [kk * pi * (flint.arb(float(wi)) - mean) for wi, pi in zip(wr, p, strict=True)]
            assert all(1e6 * float(v.rad()) < np.spacing(abs(float(v.mid()))) for v in d)
            out.append([float(v.mid()) for v in d])
        return np.array(out)
    finally:
        flint.ctx.prec = old


def test_entries_near_1e300_with_k_near_1e_300_keep_finite_derivatives(modules):
    # k x of order 1 on entries of 1e300 (and of 1e-300 with k = 3e299): the parameter
    # derivative divides by s^2 scaled by 2**-1994, whose partials overflow.  Attached as
    # e h, reverse mode pushed the cotangent 0 through them and 0 * inf made grad_x and grad_k
    # NaN; _tangent_times never enters h's graph.  Both gradients against Arb, within 8 ulp
    # (measured <= 2; grad_k cancels less here than on the rows near 1000)
    for name in ("soft_argmax", "smooth_accuracy"):
        n = HUGE.shape[1]
        if name == "soft_argmax":
            w = np.tile(np.arange(1.0, n + 1), (2, 1))
            labels = ()
        else:
            w = np.eye(n)[HUGE_LABELS - 1]
            labels = (HUGE_LABELS,)
        want_x = _arb_dx(HUGE, HUGE_K, w)
        want_k = np.array(
            [_arb_dk(HUGE[i : i + 1], HUGE_K[i], w[i : i + 1])[0][0] for i in range(2)]
        )
        for target in TARGETS:
            mod = modules[name, target]
            if target == "torch":
                x = torch.from_numpy(HUGE).requires_grad_()
                k = torch.from_numpy(HUGE_K).requires_grad_()
                out = getattr(mod, name)(x, k, *(torch.from_numpy(t) for t in labels))
                gx, gk = (g.numpy() for g in torch.autograd.grad(out.sum(), (x, k)))
            else:
                with jax.enable_x64(True):
                    fn, ts = getattr(mod, name), [jnp.asarray(t) for t in labels]
                    f = lambda x, k, fn=fn, ts=ts: fn(x, k, *ts).sum()  # noqa: E731
                    grads = jax.jit(jax.grad(f, (0, 1)))(jnp.asarray(HUGE), jnp.asarray(HUGE_K))
                    gx, gk = (np.asarray(g) for g in grads)
            np.testing.assert_allclose(gx, want_x, rtol=8 * np.finfo(float).eps, atol=0)
            np.testing.assert_allclose(gk, want_k, rtol=8 * np.finfo(float).eps, atol=0)


def _dekker(a, b):
    """Dekker's TwoProduct error written out, as the JAX runtime had it."""
    s = 134217729.0
    p = a * b
    c = s * a
    ah = c - (c - a)
    al = a - ah
    c = s * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def test_the_jax_two_product_error_near_the_underflow():
    # XLA flushes subnormal results: near |a b| = 1e-299 Dekker's error came back 1e-8 of the
    # product (a derivative in k 7.9e8 ulp off on rows of 1e-300); the runtime's is exact or 0
    from symsmooth.runtime.jax_native import _linear_two_prod_err, _two_prod_err

    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(64) * 10, rng.standard_normal(64) * 3e-299
    exact = np.array([_exact_error(u, v) for u, v in zip(a, b, strict=True)])
    assert np.abs(_dekker(a, b) - exact).max() == 0.0  # NumPy keeps subnormals: exact
    with jax.enable_x64(True):
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        flushed = np.asarray(_dekker(ja, jb))
        assert (np.abs(flushed - exact) / np.abs(a * b)).max() > 1e-10
        for f in (_two_prod_err, _linear_two_prod_err):
            got = np.asarray(f(ja, jb))
            assert ((got == exact) | (got == 0.0)).all()
            assert (np.abs(got) <= np.abs(exact)).all()
        c = rng.standard_normal(64)  # an ordinary product keeps its exact error
        want = np.array([_exact_error(u, v) for u, v in zip(a, c, strict=True)])
        np.testing.assert_array_equal(np.asarray(_two_prod_err(ja, jnp.asarray(c))), want)
        # an ordinary product of a tiny and a huge operand (k x, k = 1e-300, x = 1e290): the
        # low half of the tiny one is subnormal, flushed: garbage 1e-8 of the product, where
        # the runtime gives 0 (the product's own rounding, eps/2 relative, stays)
        u, v = rng.standard_normal(64) * 1e-300, rng.standard_normal(64) * 1e290
        want = np.array([_exact_error(s, t) for s, t in zip(u, v, strict=True)])
        assert np.abs(_dekker(u, v) - want).max() == 0.0
        ju, jv = jnp.asarray(u), jnp.asarray(v)
        assert (np.abs(np.asarray(_dekker(ju, jv)) - want) / np.abs(u * v)).max() > 1e-10
        for got in (_two_prod_err(ju, jv), _two_prod_err(jv, ju)):
            assert ((np.asarray(got) == want) | (np.asarray(got) == 0.0)).all()


def _exact_error(a: float, b: float) -> float:
    from fractions import Fraction

    return float(Fraction(a) * Fraction(b) - Fraction(a * b))
