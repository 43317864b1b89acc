"""Benchmark the native JAX target (``symsmooth gen NAME --target jax``) against ``jax.nn``'s
own formulation of the same value, forward and forward + backward, float64.

Run from the repository root::

    python bench/bench_native_jax.py               # 1e6 elements, 2048 x 1024 and 64 x 32 rows
    python bench/bench_native_jax.py --quick       # 3 rounds, 1e5 elements, 512 x 256 and 64 x 32
    python bench/bench_native_jax.py --no-eager    # without the eager native module
    python bench/bench_native_jax.py --device gpu  # the timings on jax.devices("gpu")[0]
    python bench/bench_native_jax.py --accuracy    # jax.nn's own ops and the target, verified

Kernels and ``jax.nn``'s formulation, ``k = 1.7``: softplus ``log(1 + e^(k x))/k``
(``jax.nn.softplus(k x)/k``), swish ``x sigmoid(k x)`` (``x * jax.nn.sigmoid(k x)``) and GELU
``x Phi(x/s)`` (``s jax.nn.gelu(x/s, approximate=False)``) on ``(uniform - 0.5) * 40``;
log-sum-exp ``LSE(k x)/k`` (``jax.nn.logsumexp(k x, -1)/k``), softmax
(``jax.nn.softmax(k x, -1)``) and cross-entropy ``LSE(k x)/k - x_t``
(``(jax.nn.logsumexp(k x, -1) - k x_t)/k``, ``x_t`` by ``jnp.take_along_axis``) on rows of
``normal * 4``.  The backward pass is ``jax.grad`` of the sum (a row map's: of the sum of its
product with a fixed random cotangent).  Candidates: ``jax.nn`` under ``jax.jit`` (the
baseline), the native module under ``jax.jit`` and the native module eager (no ``jit``).  The
modules are generated into a temporary folder.  One process; compilation runs before the
timing; interleaved rounds (each round times every candidate once, up to
``block_until_ready``), the minimum over the rounds; ratios are candidate time / ``jax.nn``'s
time (> 1: slower).  ``--accuracy`` instead measures ``jax.nn``'s own formulations of the three
reductions (their values and ``jax.vjp``'s gradients, ``k`` an array per row for ``grad_k``)
and the native JAX modules with symsmooth's verifier, the grid and certified references of
``symsmooth verify NAME --target jax``, and prints max ulp per part (``k = 1``, long rows of
2000).  Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accuracy_against_own import compare  # noqa: E402

from symsmooth import pipeline  # noqa: E402

K = 1.7
ELEMENTWISE = {
    "softplus": lambda x, k: jax.nn.softplus(k * x) / k,
    "swish": lambda x, k: x * jax.nn.sigmoid(k * x),
    "gelu": lambda x, s: s * jax.nn.gelu(x / s, approximate=False),
}
"""Elementwise kernel -> ``jax.nn``'s formulation."""


def _per_row(k):
    """``k`` as it divides a per-row result: a number, or the per-row values without their
    length-1 axis."""
    return k[..., 0] if jnp.ndim(k) else k


def _cross_entropy(x, k, t):
    """``jax.nn``'s cross-entropy ``(LSE(k x) - k x_t)/k`` (``t``: 0-based class indices)."""
    kx = k * x
    picked = jnp.take_along_axis(kx, t[..., None], -1)[..., 0]
    return (jax.nn.logsumexp(kx, -1) - picked) / _per_row(k)


ROWS = {
    "logsumexp_max": lambda x, k, t: jax.nn.logsumexp(k * x, -1) / _per_row(k),
    "softmax_onehot_argmax": lambda x, k, t: jax.nn.softmax(k * x, -1),
    "cross_entropy_lse": _cross_entropy,
}
"""Reduction -> ``jax.nn``'s formulation (``t``: 0-based class indices; ``k`` a number or one
value per row with a length-1 last axis)."""
ROW_MAPS = {"softmax_onehot_argmax"}


def _native(name: str, out: Path):
    """The native JAX function ``name`` called as ``(x, k, t)`` (``t``: 0-based class indices or
    None; the native module takes 1-based labels of ``x``'s dtype)."""
    fn = getattr(pipeline.load_native(name, "jax", out), name)
    if name != "cross_entropy_lse":
        return lambda x, k, t: fn(x, k)
    return lambda x, k, t: fn(x, k, (t + 1).astype(x.dtype))


def _bound(fn, backward: bool):
    """``fn(x, k, t)`` at ``k = K`` as ``(x, t, c) -> value``, or its gradient in ``x`` (of the
    sum, or of the sum of the product with the cotangent ``c`` when ``c`` is not None)."""

    def value(x, t, c):
        return fn(x, K, t)

    if not backward:
        return value
    return jax.grad(lambda x, t, c: (value(x, t, c) if c is None else value(x, t, c) * c).sum())


def _time(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args).block_until_ready()
    return time.perf_counter() - start


def run(n: int, shapes, rounds: int, device, eager: bool) -> list[str]:
    out = Path(tempfile.mkdtemp(prefix="bench_native_jax_"))
    pipeline.generate([*ELEMENTWISE, *ROWS], out=out, targets=("cpu", "jax"))
    rng = np.random.default_rng(0)
    x = jax.device_put((rng.uniform(size=n) - 0.5) * 40, device)
    cases = [
        (name, lambda x, k, t, own=own: own(x, k), str(n), x, None, None)
        for name, own in ELEMENTWISE.items()
    ]
    for shape in shapes:
        x = jax.device_put(rng.standard_normal(shape) * 4, device)
        t = jax.device_put(rng.integers(0, shape[-1], shape[:-1]), device)
        c = jax.device_put(rng.standard_normal(shape), device)
        size = f"{shape[0]}x{shape[1]}"
        cases += [(nm, own, size, x, t, c if nm in ROW_MAPS else None) for nm, own in ROWS.items()]
    labels = ["jax.nn+jit", "native+jit", *(["native eager"] if eager else [])]
    lines = [
        f"| kernel | size | pass | {' | '.join(labels)} |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for name, own, size, x, t, c in cases:
        native = _native(name, out)
        for backward in (False, True):
            fn = _bound(native, backward)
            row = {"jax.nn+jit": jax.jit(_bound(own, backward)), "native+jit": jax.jit(fn)}
            row |= {"native eager": fn} if eager else {}
            best = dict.fromkeys(row, float("inf"))
            for fn in row.values():  # warm up (compile) outside the timing
                _time(fn, x, t, c)
            for _ in range(rounds):
                for label, fn in row.items():
                    best[label] = min(best[label], _time(fn, x, t, c))
            base = best["jax.nn+jit"]
            cells = [
                f"{best[label] * 1e3:.3f} ms"
                + ("" if label == "jax.nn+jit" else f" ({best[label] / base:.2f}x)")
                for label in row
            ]
            passes = "fwd+bwd" if backward else "fwd"
            lines.append(f"| {name} | {size} | {passes} | " + " | ".join(cells) + " |")
    return lines


def _own_module(name: str, own) -> SimpleNamespace:
    """``jax.nn``'s formulation of ``name`` with ``jax.vjp``'s gradients, called as the verifier
    calls a kernel module (``x, k[, t]``; ``t`` 1-based; ``cotangent=`` for a row map)."""

    def value(x, k, *labels):
        k = jnp.asarray(k, dtype=x.dtype)
        t = (
            (jnp.broadcast_to(jnp.asarray(labels[0]).astype(int).reshape(-1), x.shape[:1]) - 1)
            if labels
            else None
        )
        return own(x, k[..., None] if k.ndim else k, t)

    def _vjp(f, at, cotangent):
        y, pullback = jax.vjp(f, at)
        return pullback(jnp.ones_like(y) if cotangent is None else cotangent.astype(y.dtype))[0]

    def grad(x, k, *labels, cotangent=None):
        return _vjp(lambda x: value(x, k, *labels), x, cotangent)

    def grad_k(x, k, *labels, cotangent=None):
        kt = jnp.full(x.shape[:-1], float(k), dtype=x.dtype)
        return _vjp(lambda kt: value(x, kt, *labels), kt, cotangent)

    return SimpleNamespace(
        __all__=[name, f"{name}_grad", f"{name}_grad_k"],
        **{name: value, f"{name}_grad": grad, f"{name}_grad_k": grad_k},
    )


def accuracy() -> list[str]:
    """The accuracy table of jax.nn's own formulations and the native jax modules
    (:func:`accuracy_against_own.compare`)."""
    owns = {name: _own_module(name, own) for name, own in ROWS.items()}
    return compare(owns, "jax", "jax.nn's own")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, smaller inputs")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-eager", action="store_true", help="skip the eager native module")
    parser.add_argument("--device", default="cpu", help="JAX platform of the timings")
    parser.add_argument("--accuracy", action="store_true", help="ulps of jax.nn and the target")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    if args.accuracy:
        print("\n".join(accuracy()))
        return
    try:
        device = jax.devices(args.device)[0]
    except RuntimeError:
        here = sorted({d.platform for d in jax.devices()})
        parser.error(f"no JAX device {args.device!r} here (available: {', '.join(here)})")
    n, shapes = (
        (100_000, [(512, 256), (64, 32)]) if args.quick else (1_000_000, [(2048, 1024), (64, 32)])
    )
    rounds = 3 if args.quick else args.rounds
    print(f"jax {jax.__version__}, device {device.device_kind} ({device}), float64, k = {K}")
    for line in run(n, shapes, rounds, device, not args.no_eager):
        print(line)


if __name__ == "__main__":
    main()
