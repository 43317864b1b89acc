"""The softmax VJP (and its derivative in ``k``) on many ordinary rows: native modules against
the frameworks' own softmax backward, in ulps of Arb-certified values.

The verifier's ``moderate`` regime has 64 points; there the VJP ``k p_i (c_i - sum_j p_j c_j)``
is ill-conditioned wherever ``c_i`` is close to the weighted mean, and which formulation
happens to round better at the few worst points is chance (the verifier once ranked
``jax.nn`` ahead in float32: 16.7 against 56.7 ulp).  This bench draws ``--rows`` rows of 16
N(0, 4) entries and N(0, 1) cotangents and prints the max, the median and the count above
16 ulp per formulation, so the comparison rests on thousands of points::

    python bench/accuracy_softmax_vjp.py [--rows 300] [--seed 5] [--k 1.0]

The references are python-flint ``arb`` balls at 200 bits (their radius is checked below
1e-30 relative).  Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import tempfile

import flint
import jax
import jax.numpy as jnp
import numpy as np
import torch

from symsmooth import pipeline

NAME = "softmax_onehot_argmax"


def exact(x, c, k: float):
    """The VJP in ``x`` and the derivative in ``k`` of ``softmax(k x) . c`` (arb, floats)."""
    flint.ctx.prec = 200
    xs = [flint.arb(float(v)) for v in x]
    cs = [flint.arb(float(v)) for v in c]
    top, ka = xs[int(np.argmax(x))], flint.arb(k)
    terms = [((a - top) * ka).exp() for a in xs]
    total = sum(terms, flint.arb(0))
    p = [t / total for t in terms]
    mean_c = sum((pi * ci for pi, ci in zip(p, cs, strict=True)), flint.arb(0))
    mean_x = sum((pi * xi for pi, xi in zip(p, xs, strict=True)), flint.arb(0))
    gx = [ka * pi * (ci - mean_c) for pi, ci in zip(p, cs, strict=True)]
    gk = sum(
        (pi * (ci - mean_c) * (xi - mean_x) for pi, ci, xi in zip(p, cs, xs, strict=True)),
        flint.arb(0),
    )
    for g in [*gx, gk]:
        assert g.rad() <= abs(g.mid()) * 1e-30 or g.rad() < 1e-300
    return np.array([float(g.mid()) for g in gx]), float(gk.mid())


def formulations(X, C, k: float, folder) -> dict:
    """Name -> (VJP in x, derivative in k per row) of the native modules and the own ops."""
    mt = pipeline.load_native(NAME, "torch", folder)
    mj = pipeline.load_native(NAME, "jax", folder)
    tX, tC = torch.from_numpy(X), torch.from_numpy(C)
    xt = tX.clone().requires_grad_()
    kt = torch.full((X.shape[0], 1), k, dtype=tX.dtype, requires_grad=True)
    torch.softmax(kt * xt, -1).backward(tC)
    jX, jC, jk = jnp.asarray(X), jnp.asarray(C), jnp.asarray(k, dtype=X.dtype)

    def own_jax(kk, x, c):
        return (jax.nn.softmax(kk * x) * c).sum()

    return {
        "native torch": (
            mt.softmax_onehot_argmax_grad(tX, k, cotangent=tC).numpy(),
            mt.softmax_onehot_argmax_grad_k(tX, torch.tensor(k, dtype=tX.dtype), cotangent=tC),
        ),
        "torch.softmax": (xt.grad.numpy(), kt.grad[:, 0].numpy()),
        "native jax": (
            np.asarray(mj.softmax_onehot_argmax_grad(jX, k, cotangent=jC)),
            np.asarray(mj.softmax_onehot_argmax_grad_k(jX, jk, cotangent=jC)),
        ),
        "jax.nn.softmax": (
            np.asarray(jax.vmap(jax.grad(own_jax, 1), (None, 0, 0))(jk, jX, jC)),
            np.asarray(jax.vmap(jax.grad(own_jax, 0), (None, 0, 0))(jk, jX, jC)),
        ),
    }


def table(rows: int, seed: int, k: float) -> list[str]:
    jax.config.update("jax_enable_x64", True)
    folder = tempfile.mkdtemp(prefix="bench_vjp_")
    pipeline.generate([NAME], out=folder, targets=("torch", "jax"))
    rng = np.random.default_rng(seed)
    X64, C64 = rng.standard_normal((rows, 16)) * 2, rng.standard_normal((rows, 16))
    lines = [
        f"{rows} rows of 16, k = {k}, seed {seed}: ulp vs Arb (max / median / count > 16)",
        "| dtype | formulation | grad_x | grad_k |",
        "|---|---|---|---|",
    ]
    for dtype in (np.float32, np.float64):
        X, C = X64.astype(dtype), C64.astype(dtype)
        refs = [exact(x, c, k) for x, c in zip(X, C, strict=True)]
        ex, ek = np.array([r[0] for r in refs]), np.array([r[1] for r in refs])
        for name, (gx, gk) in formulations(X, C, k, folder).items():
            cells = []
            for got, want in ((gx, ex), (np.asarray(gk), ek)):
                ulp = np.abs(got - want) / np.spacing(np.abs(want).astype(dtype))
                cells.append(f"{ulp.max():.1f} / {np.median(ulp):.2f} / {(ulp > 16).sum()}")
            lines.append(f"| {dtype.__name__} | {name} | {cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--k", type=float, default=1.0)
    args = parser.parse_args()
    print("\n".join(table(args.rows, args.seed, args.k)))


if __name__ == "__main__":
    main()
