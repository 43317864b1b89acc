"""Executable proof: the derived updates do what the theory promises on random data."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from symsmooth.derive import examples as E
from symsmooth.derive import examples_losses as EL
from symsmooth.derive.newton import gradient_descent_step, newton_step
from symsmooth.functions import sigmoid

X = sp.Symbol("x", real=True)


def test_newton_update_and_quadratic_convergence():
    f = X**4 - 3 * X
    d = newton_step(f, X)
    xn = sp.Symbol("x_n", real=True)
    assert sp.simplify(d.update.rhs - (xn - (4 * xn**3 - 3) / (12 * xn**2))) == 0
    step = sp.lambdify(xn, d.update.rhs, "mpmath")
    mpmath.mp.dps = 60
    root = mpmath.cbrt(mpmath.mpf(3) / 4)  # f'(x) = 4x^3 - 3 = 0
    errors, value = [], mpmath.mpf("1.3")
    for _ in range(6):
        value = step(value)
        errors.append(abs(value - root))
    ratios = [errors[m + 1] / errors[m] ** 2 for m in range(4) if errors[m] > 1e-50]
    limit = abs(24 * root / (2 * 12 * root**2))  # |f'''/(2 f'')| at the root
    assert all(r < 2 * limit for r in ratios)
    assert abs(ratios[-1] - limit) / limit < 0.05
    assert errors[5] < 1e-30


def test_newton_names_the_downward_parabola_case():
    note = newton_step(X**4 - 3 * X**2, X).notes[0]
    assert "opens downward" in note and "sqrt(2)/2" in note
    assert "never" in newton_step(X**4 - 3 * X, X).notes[0]


def test_gradient_descent_step_is_fixed_curvature_minimiser():
    h = sp.Symbol("h", positive=True)
    d = gradient_descent_step(sp.cos(X) + X**2, X, h)
    xn = sp.Symbol("x_n", real=True)
    assert sp.simplify(d.update.rhs - (xn - h * (-sp.sin(xn) + 2 * xn))) == 0
    assert d.checked


def _kmeans_fns():
    d = E.soft_kmeans()
    x, c, M, _ = E.kmeans_symbols()
    C = sp.IndexedBase("C", positive=True)
    upd = sp.lambdify([C, x, E._N, E._a, E._b], d["update"].rhs, "numpy")
    wts = sp.lambdify([x, c, M, E._K, E._D, E._i, E._j], d["weights"].rhs, "numpy")
    return upd, wts


def _pad(a):
    """1-based arrays for the lambdified Indexed expressions."""
    return np.pad(a, [(1, 0)] * a.ndim)


def _kmeans_run(points, centres, M, iters):
    upd, wts = _kmeans_fns()
    N, D = points.shape
    K = centres.shape[0]
    P = _pad(points)
    objective = []
    for _ in range(iters):
        Cn = _pad(centres)
        dist = ((points[:, None, :] - centres[None]) ** 2).sum(-1)
        m = dist.min(1, keepdims=True)
        objective.append(float((m[:, 0] - np.log(np.exp(-M * (dist - m)).sum(1)) / M).sum()))
        W = np.array([[wts(P, Cn, M, K, D, i + 1, j + 1) for j in range(K)] for i in range(N)])
        centres = np.array([[upd(_pad(W), P, N, a + 1, b + 1) for b in range(D)] for a in range(K)])
    return centres, np.array(objective)


def test_soft_kmeans_never_increases_and_approaches_lloyd():
    rng = np.random.default_rng(7)
    points = np.concatenate([rng.normal(loc, 0.4, size=(8, 2)) for loc in (-2, 0, 2.5)])
    start = points[rng.choice(len(points), 3, replace=False)]
    _, objective = _kmeans_run(points, start, 1.0, 6)
    assert np.all(np.diff(objective) <= 1e-12)
    # Lloyd (hard assignment) one step from the same start
    near = ((points[:, None] - start[None]) ** 2).sum(-1).argmin(1)
    lloyd = np.array([points[near == a].mean(0) for a in range(3)])
    gaps = [np.abs(_kmeans_run(points, start, M, 1)[0] - lloyd).max() for M in (1, 10, 1000)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-6


def test_plsa_em_never_increases_the_cross_entropy():
    d = E.plsa_em()
    x, y, z, Xs, Ys, Zs, T, A, B, C = E.plsa_symbols()
    a, b = E._a, E._b
    fa = sp.lambdify([C, T, Xs, Ys, a, b], d["p(x|z)"].rhs, "numpy")
    fb = sp.lambdify([C, T, Xs, Zs, a, b], d["p(z|y)"].rhs, "numpy")
    rng = np.random.default_rng(11)
    nx, ny, nz = 5, 4, 2
    Pt = rng.random((nx, ny))
    Pt /= Pt.sum()
    An = rng.random((nx, nz))
    An /= An.sum(0)
    Bn = rng.random((nz, ny))
    Bn /= Bn.sum(0)
    values = []
    for _ in range(8):
        values.append(-(Pt * np.log(An @ Bn)).sum())
        post = An[:, None, :] * Bn.T[None, :, :]  # [x, y, z]
        post /= post.sum(2, keepdims=True)
        Cp, Tp = _pad(post), _pad(Pt)
        An = np.array([[fa(Cp, Tp, nx, ny, r + 1, s + 1) for s in range(nz)] for r in range(nx)])
        Bn = np.array([[fb(Cp, Tp, nx, nz, r + 1, s + 1) for s in range(ny)] for r in range(nz)])
        assert np.allclose(An.sum(0), 1) and np.allclose(Bn.sum(0), 1)
    assert np.all(np.diff(values) <= 1e-12) and values[-1] < values[0]


def test_capsule_routing_update_is_stationary_direction():
    d = E.capsule_routing()
    assert d.checked
    rng = np.random.default_rng(5)
    u = rng.normal(size=(6, 3))
    c = rng.random(6)
    v = (c[:, None] * u).sum(0)  # the derived update for one capsule j
    # d/dv of sum_i c_i <u_i, v/|v|> vanishes at v = sum_i c_i u_i (C2)
    grad = c[:, None] * (u / np.linalg.norm(v) - (u @ v)[:, None] * v / np.linalg.norm(v) ** 3)
    assert np.abs(grad.sum(0)).max() < 1e-12


def test_imle_bounds_and_limit():
    d = EL.imle()
    assert d.checked
    rng = np.random.default_rng(2)
    dist = rng.random(8) * 3
    for sigma in (1.0, 0.3, 0.05):
        s2 = 2 * sigma**2
        m = dist.min()
        value = m - s2 * np.log(np.exp(-(dist - m) / s2).sum())
        assert m - s2 * np.log(len(dist)) - 1e-12 <= value <= m + 1e-12


def test_soft_label_optimum_is_sigmoid_2s():
    d = EL.soft_label_optimum()
    s = sp.Symbol("s", real=True)
    assert d.update.rhs == sigmoid(2 * s)
    t = sp.Symbol("t", positive=True)
    loss = sp.log(1 + t * sp.exp(-s)) + sp.log(1 + (1 - t) * sp.exp(s))
    f = sp.lambdify([s], loss.subs(t, sp.Rational(3, 10)), "mpmath")
    s_star = mpmath.findroot(lambda v: mpmath.diff(f, v), 0)
    assert abs(1 / (1 + mpmath.exp(-2 * s_star)) - mpmath.mpf("0.3")) < 1e-15


def test_cross_entropy_bounds_and_gradient():
    d = EL.cross_entropy()
    assert d.checked and len(d.steps) == 5
    rng = np.random.default_rng(9)
    for _ in range(20):
        z = rng.normal(size=5) * 4
        t = rng.integers(5)
        ce = np.log(np.exp(z - z.max()).sum()) + z.max() - z[t]
        assert z.max() - z[t] < ce <= z.max() - z[t] + np.log(5) + 1e-12
