"""Make the figures of docs/convolution.md (run: python docs/make_convolution_plots.py).

Every curve is the engine's closed form, lambdified with the stable NumPy primitives.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.special  # noqa: E402
import sympy as sp  # noqa: E402

from symsmooth.convolution import (
    convolve,  # noqa: E402
    kernels,  # noqa: E402
)
from symsmooth.functions import NUMPY_MODULE  # noqa: E402

OUT = Path(__file__).parent / "img"
x = sp.Symbol("x", real=True)
MODULES = [NUMPY_MODULE, {"erf": scipy.special.erf, "erfc": scipy.special.erfc}, "numpy"]


def curve(expr, width_symbol, width, grid):
    f = sp.lambdify(x, expr.subs(width_symbol, width).doit(), modules=MODULES)
    return np.broadcast_to(f(grid), grid.shape)


def relu_figure():
    grid = np.linspace(-3, 3, 601)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(grid, np.maximum(grid, 0), "k", lw=2, label="ReLU")
    for kernel, route, label in [
        ("logistic", "convolve", "ReLU * logistic = softplus"),
        ("gaussian", "convolve", "ReLU * Gaussian (SAU)"),
        ("logistic", "step", "x sigmoid(x) (Swish)"),
        ("gaussian", "step", "x Phi(x) (GELU)"),
        ("laplace", "convolve", "ReLU * Laplace"),
        ("uniform", "convolve", "ReLU * uniform (Huber-like)"),
    ]:
        r = convolve(sp.Max(x, 0), x, kernel, route=route)
        ax.plot(grid, curve(r.expr, kernels.get(kernel).width, 1, grid), label=label)
    ax.set(title="ReLU and smooth approximations (width 1)", xlabel="x")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "convolution_relu.png", dpi=120)


def floor_figure():
    grid = np.linspace(-3, 5, 1601)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(grid, np.floor(grid), "k", lw=1, label="floor(x)")
    r = convolve(sp.floor(x), x, "logistic", terms=(5, 10))
    ax.plot(
        grid,
        curve(r.expr, sp.Symbol("t", positive=True), 10, grid),
        label="article 3 finite sum, t = 10, M = 5, N = 10",
    )
    g = convolve(sp.floor(x), x, "gaussian", terms=(20, 20))
    ax.plot(
        grid,
        curve(g.expr, sp.Symbol("sigma", positive=True), 0.2, grid),
        "--",
        label="floor * Gaussian, sigma = 0.2",
    )
    c = convolve(sp.floor(x), x, "cauchy", principal_value=True)
    ax.plot(
        grid,
        curve(c.expr, sp.Symbol("a", positive=True), 0.05, grid),
        ":",
        label="floor * Cauchy (principal value, closed form), a = 0.05",
    )
    ax.set(title="Smooth floor", xlabel="x")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "convolution_floor.png", dpi=120)


def kernel_figure():
    grid = np.linspace(-4, 4, 801)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    u = sp.Symbol("u", real=True)
    for name in kernels.names():
        k = kernels.get(name)
        f = sp.lambdify(u, k.at(1), modules=MODULES)
        ax.plot(grid, np.broadcast_to(f(grid), grid.shape), label=name)
    ax.set(title="Kernels at width 1", xlabel="u", ylabel="K(u)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "convolution_kernels.png", dpi=120)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    relu_figure()
    floor_figure()
    kernel_figure()
