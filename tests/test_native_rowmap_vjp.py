"""The pivoted vector-Jacobian product of a native row map (the softmax), a custom rule.

Autodiff of ``softmax(k x)`` (and ``torch.softmax``'s own backward) forms ``p_m (G_m - sum_j
p_j G_j)`` at the maximum ``m`` of a confident row from ``p_m ~ 1``: no correct digit.  The
native modules attach the pivoted VJP (:mod:`symsmooth.codegen.native_pivot`) as a custom rule:
a ``torch.autograd.Function`` whose backward is written in differentiable torch ops (with the
parameters' pivoted VJP: ``tests/test_native_param_derivatives.py``; a parameter without one
joins by forward mode, ``_param_term``), and a ``jax.custom_jvp`` whose
JVP is the transpose of the pivoted VJP (``jax.linear_transpose``), so that reverse mode
computes the pivoted VJP itself.  Checked here: the VJP on confident rows against python-flint's
``arb`` (certified balls; the naive backward shown failing on the same rows), every block of the
Hessian in ``(x, k)`` and the JVP against the textbook softmax on ordinary rows (where autodiff
of it is accurate), ``torch.compile`` and ``jit``/``vmap``, masks and ``-inf`` entries.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
flint = pytest.importorskip("flint")

import jax.numpy as jnp  # noqa: E402

from symsmooth import pipeline  # noqa: E402

NAME = "softmax_onehot_argmax"
TARGETS = ("torch", "jax")
EPS = np.finfo(np.float64).eps

CONFIDENT = np.array([[0.0, -40.0, -38.0, -45.0], [3.0, -1.0, 0.5, 2.0], [60.0, 0.0, 59.0, -10.0]])
COTANGENTS = np.array([[1.0, 0.0, 0.0, 0.0], [0.3, -1.2, 2.0, 0.7], [1.0, 1.0, 0.0, -1.0]])


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    out = tmp_path_factory.mktemp("native_rowmap")
    pipeline.generate([NAME], out=out, targets=TARGETS)
    return {t: pipeline.load_native(NAME, t, out) for t in TARGETS}


def _arb_vjp(row, k, cot):
    """``k p_l (G_l - sum_j p_j G_j)`` as certified balls at 2000 bits (results near 1e-350
    come from a difference of two numbers near 1): (midpoints, radii)."""
    old = flint.ctx.prec
    flint.ctx.prec = 2000
    try:
        kk = flint.arb(float(k))
        top = max(row)
        e = [(kk * (flint.arb(float(v)) - flint.arb(float(top)))).exp() for v in row]
        total = sum(e, flint.arb(0))
        p = [w / total for w in e]
        mean = sum((pi * flint.arb(float(g)) for pi, g in zip(p, cot, strict=True)), flint.arb(0))
        out = [kk * pi * (flint.arb(float(g)) - mean) for pi, g in zip(p, cot, strict=True)]
        return np.array([float(v.mid()) for v in out]), np.array([float(v.rad()) for v in out])
    finally:
        flint.ctx.prec = old


def _ulps(got, exact):
    return np.abs(got - exact) / np.spacing(np.abs(exact))


def _vjp(target, mod, x, k, cot, where=None):
    if target == "torch":
        xt = torch.from_numpy(x).requires_grad_()
        kw = {} if where is None else {"where": torch.from_numpy(where)}
        out = mod.softmax_onehot_argmax(xt, k, **kw)
        return torch.autograd.grad(out, xt, torch.from_numpy(cot))[0].numpy()
    with jax.enable_x64(True):
        kw = {} if where is None else {"where": jnp.asarray(where)}
        f = lambda r: (mod.softmax_onehot_argmax(r, k, **kw) * cot).sum()  # noqa: E731
        return np.asarray(jax.grad(f)(jnp.asarray(x)))


@pytest.mark.parametrize("k", [1.0, 0.37, 20.0])
@pytest.mark.parametrize("target", TARGETS)
def test_the_vjp_of_a_confident_row_keeps_its_digits(modules, target, k):
    # the pivoted VJP through autodiff (loss.backward(), jax.grad) and the public _grad
    # function, against the certified value; torch.softmax's own backward fails on these rows
    exact = np.stack([_arb_vjp(r, k, g)[0] for r, g in zip(CONFIDENT, COTANGENTS, strict=True)])
    radius = np.stack([_arb_vjp(r, k, g)[1] for r, g in zip(CONFIDENT, COTANGENTS, strict=True)])
    assert (radius * 1e3 < np.spacing(np.abs(exact))).all()  # each rounds to one double
    mod = modules[target]
    got = _vjp(target, mod, CONFIDENT, k, COTANGENTS)
    assert _ulps(got, exact).max() <= 8
    if target == "torch":
        direct = mod.softmax_onehot_argmax_grad(
            torch.from_numpy(CONFIDENT), k, torch.from_numpy(COTANGENTS)
        ).numpy()
        np.testing.assert_array_equal(direct, got)
        x = torch.from_numpy(CONFIDENT).requires_grad_()
        naive = torch.autograd.grad(torch.softmax(k * x, -1), x, torch.from_numpy(COTANGENTS))
        assert _ulps(naive[0].numpy(), exact).max() > 1e3


def _textbook(target):
    if target == "torch":
        return lambda x, k: torch.softmax(k * x, -1)
    return lambda x, k: jax.nn.softmax(k * x, axis=-1)


ORDINARY = np.array([[0.4, -1.3, 2.2, 0.9, -0.1], [1.0, 1.5, -2.0, 0.25, 0.75]])
ORDINARY_K = np.array([0.7, 2.5])
ORDINARY_COT = np.array([[0.5, -1.0, 2.0, 0.1, 0.3], [-0.4, 0.2, 1.1, -2.0, 0.9]])


def test_torch_hessian_in_the_input_and_the_sharpness(modules):
    # every block of the Hessian of sum(G * softmax(k x)) in (x, k): the custom rule's backward
    # (the inputs' and the parameter's pivoted VJP) is differentiable
    _check_hessian(modules["torch"])


def _check_hessian(mod):
    book = _textbook("torch")
    G = torch.from_numpy(ORDINARY_COT)
    args = (torch.from_numpy(ORDINARY), torch.from_numpy(ORDINARY_K).unsqueeze(-1))

    def f(x, k):
        return (mod.softmax_onehot_argmax(x, k.squeeze(-1)) * G).sum()

    got = torch.autograd.functional.hessian(f, args)
    want = torch.autograd.functional.hessian(lambda x, k: (book(x, k) * G).sum(), args)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i][j].numpy(), want[i][j].numpy(), atol=32 * EPS)


def test_a_parameter_without_a_printed_derivative_joins_by_forward_mode(tmp_path, monkeypatch):
    # a row map whose parameter has no printed pivoted derivative (a user's whose derivative
    # in k reads a logarithm, say): the torch rule sees k frozen and k joins by forward mode
    # (_param_term), the JAX rule takes k's tangent by autodiff; both still give every block
    # of the Hessian, and the derivative in k, of the textbook softmax
    import symsmooth.codegen.native as native

    monkeypatch.setattr(native, "covered_params", lambda spec: ())
    pipeline.generate([NAME], out=tmp_path, targets=TARGETS)
    mods = {t: pipeline.load_native(NAME, t, tmp_path) for t in TARGETS}
    assert "_param_term(" in (tmp_path / f"{NAME}_torch.py").read_text()
    assert "pivot_param_grad" not in (tmp_path / f"{NAME}_jax.py").read_text()
    _check_hessian(mods["torch"])
    with jax.enable_x64(True):
        x, k, G = (jnp.asarray(a) for a in (ORDINARY, ORDINARY_K, ORDINARY_COT))
        got = jax.grad(lambda k: (mods["jax"].softmax_onehot_argmax(x, k) * G).sum())(k)
        book = _textbook("jax")
        want = jax.grad(lambda k: (book(x, k[:, None]) * G).sum())(k)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)


def test_torch_compile_gives_the_eager_vjp(modules):
    mod = modules["torch"]
    G = torch.from_numpy(COTANGENTS)
    fast = torch.compile(mod.softmax_onehot_argmax, backend="aot_eager", fullgraph=True)
    for k in (1.0, torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64, requires_grad=True)):
        x = torch.from_numpy(CONFIDENT).requires_grad_()
        wrt = (x, k) if isinstance(k, torch.Tensor) else (x,)
        eager = torch.autograd.grad(mod.softmax_onehot_argmax(x, k), wrt, G)
        compiled = torch.autograd.grad(fast(x, k), wrt, G)
        for a, b in zip(eager, compiled, strict=True):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=4 * EPS, atol=0)


def test_jax_transforms_agree_with_the_textbook_softmax(modules):
    mod, book = modules["jax"], _textbook("jax")
    with jax.enable_x64(True):
        x, k = jnp.asarray(ORDINARY), jnp.asarray(ORDINARY_K)[:, None]
        G = jnp.asarray(ORDINARY_COT)
        ours = lambda x, k: mod.softmax_onehot_argmax(x, k[:, 0])  # noqa: E731
        loss = lambda f: lambda x, k: (f(x, k) * G).sum()  # noqa: E731
        # ours under jit (compiled once; op by op, the rules' thousands of operations
        # dispatched one at a time took most of this test's 26 s)
        pairs = [
            (
                jax.jit(lambda x, k: jax.jvp(lambda r: ours(r, k), (x,), (G,))[1])(x, k),
                jax.jvp(lambda r: book(r, k), (x,), (G,))[1],
            ),
            (jax.jit(jax.jacfwd(ours))(x, k), jax.jacfwd(book)(x, k)),
            (jax.jit(jax.grad(loss(ours), (0, 1)))(x, k), jax.grad(loss(book), (0, 1))(x, k)),
            (
                jax.jit(jax.hessian(loss(ours), (0, 1)))(x, k),
                jax.hessian(loss(book), (0, 1))(x, k),
            ),
            (
                jax.vmap(jax.grad(lambda r, c: (mod.softmax_onehot_argmax(r, 0.7) * c).sum()))(
                    x, G
                ),
                jax.vmap(jax.grad(lambda r, c: (jax.nn.softmax(0.7 * r) * c).sum()))(x, G),
            ),
        ]
        for got, want in pairs:
            for a, b in zip(
                jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True
            ):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=32 * EPS)


@pytest.mark.parametrize("target", TARGETS)
def test_masked_and_infinite_entries_have_a_zero_derivative(modules, target):
    # a masked entry and a -inf entry get 0; a fully masked row gets 0; the kept entries get
    # the VJP of the softmax over the kept ones (the certified value)
    x = np.array([[0.0, -40.0, 5.0, -38.0], [-np.inf, 1.0, 2.0, 0.5], [1.0, 2.0, 3.0, 4.0]])
    keep = np.array([[True, True, False, True], [True] * 4, [False] * 4])
    cot = np.array([[1.0, 0.5, 2.0, -1.0], [3.0, 1.0, 0.0, -1.0], [1.0, 2.0, 3.0, 4.0]])
    got = _vjp(target, modules[target], x, 1.0, cot, where=keep)
    assert np.isfinite(got).all()
    assert got[0, 2] == 0 and got[1, 0] == 0 and (got[2] == 0).all()
    for r in (0, 1):
        kept = keep[r] & np.isfinite(x[r])
        exact = _arb_vjp(x[r][kept], 1.0, cot[r][kept])[0]
        assert _ulps(got[r][kept], exact).max() <= 8


@pytest.mark.parametrize("target", TARGETS)
def test_the_vjp_keeps_its_digits_where_the_cotangent_nearly_cancels(modules, target):
    # a row of 1000 ties: the VJP k p_l (G_l - mean G) is a difference of two sums of 999
    # terms; the rule forms them as double-doubles (row_sum_err, TwoProduct; in JAX their
    # linear forms behind barriers, so that reverse mode's double transpose keeps them), so it
    # is within 4 ulp of the certified value, where the framework's own softmax backward is not
    rng = np.random.default_rng(7)
    x = np.zeros((1, 1000))
    cot = rng.normal(size=(1, 1000))
    cot[0, :10] = cot[0].mean()  # entries whose exact VJP is near 0
    exact = _arb_vjp(x[0], 1.0, cot[0])[0]
    got = _vjp(target, modules[target], x, 1.0, cot)[0]
    assert _ulps(got, exact).max() <= 4
    if target == "torch":
        xt = torch.from_numpy(x).requires_grad_()
        own = torch.autograd.grad(torch.softmax(xt, -1), xt, torch.from_numpy(cot))[0].numpy()
    else:
        with jax.enable_x64(True):
            f = lambda r: (jax.nn.softmax(r, axis=-1) * cot).sum()  # noqa: E731
            own = np.asarray(jax.grad(f)(jnp.asarray(x)))
    assert _ulps(own[0], exact).max() > 16
