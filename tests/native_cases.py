"""Shared cases of the native-target tests (tests/test_torch_target.py, test_jax_target.py).

The reference of a native module is its Numba kernel: the same stabilized expressions (value,
``_grad_<input>``, ``_grad_<param>``) evaluated with the very runtime helpers the Numba module
carries (:data:`symsmooth.codegen.helpers.HELPERS`, the source it copies), one Python float at a
time; a float32 reference is the float64 one rounded once, as the Numba float32 loops compute.
Importing the six Numba modules would compile them (22 s cold), which the test budget has not.

Errors are in ulps of the reference, with the ulp never taken below the smallest normal number
(an absolute error under 2**-1022, or 2**-126 in float32, counts at most 1): JAX on CPU
flushes subnormal results to zero (XLA's default).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symsmooth import pipeline
from symsmooth.codegen.helpers import HELPERS
from symsmooth.functions import RUNTIME_HELPERS

KERNELS = ("softplus", "gelu", "swish", "soft_sign_tanh", "smooth_abs_logistic", "relu_gaussian")
"""The catalog kernels the native tests generate (one parameter each, never at 1)."""

PARAMS = (2.5, float(np.float32(0.37)))
"""Parameter values, exact in float32 (so float32 and float64 see the same parameter)."""

_SCALAR = {n: HELPERS[h].implementation() for n, h in RUNTIME_HELPERS.items() if h in HELPERS}


def grid(k: float) -> np.ndarray:
    """Hard inputs: 0, tiny, the regime switches of the helpers (at ``k x``), the roots of the
    fused gradients, |x| up to 800 (where exp(k x) overflows) and 1e300, 200 log-spaced
    values; +-."""
    base = [0.0, 1e-300, 1e-10, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 40.0, 100.0, 400.0, 700.0]
    base += [745.0, 800.0, 1e300]
    base += [v / k for v in (18.0, 33.3, 37.0, 0.7518, 1.2785, 1.5, 3.0)]
    base += list(10 ** np.random.default_rng(0).uniform(-3, 2.9, 200))
    return np.array(sorted({*base, *(-b for b in base)}))


def parts(spec) -> dict:
    """``part -> stable expression``: ``value``, ``grad_<input>``, ``grad_<param>``."""
    out = {"value": spec.stable}
    out |= {f"grad_{v}": g for v, g in zip(spec.input_names, spec.stable_gradients, strict=True)}
    pairs = zip(spec.grad_param_names, spec.stable_param_gradients, strict=True)
    return out | {f"grad_{p}": g for p, g in pairs}


def function_name(name: str, part: str) -> str:
    return name if part == "value" else f"{name}_{part}"


def ulps(got, ref, dtype) -> np.ndarray:
    """|got - ref| in ulps of ``ref`` in ``dtype`` (never below the smallest normal's; equal
    values, NaN and NaN, or the same infinity count 0; a non-finite miss counts inf)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    unit = np.maximum(
        np.spacing(np.abs(ref).astype(dtype)).astype(np.float64), np.finfo(dtype).tiny
    )
    with np.errstate(all="ignore"):
        err = np.abs(got - ref) / unit
    return np.where(same, 0.0, np.where(np.isfinite(err), err, np.inf))


def specs() -> dict:
    return {name: pipeline.kernel_spec(name) for name in KERNELS}


def references(all_specs: dict) -> dict:
    """``(name, part, k, dtype) -> (inputs in dtype, reference rounded to dtype)`` for every
    kernel, part, parameter and dtype."""
    out = {}
    for name, spec in all_specs.items():
        for part, expr in parts(spec).items():
            scalar = sp.lambdify([*spec.inputs, *spec.params], expr, [_SCALAR, "math"])
            for k in PARAMS:
                for dtype in (np.float64, np.float32):
                    with np.errstate(all="ignore"):  # 1e300 is inf in float32
                        xs = grid(k).astype(dtype)
                        ref = np.array([float(scalar(float(x), k)) for x in xs])
                        ref = ref.astype(dtype).astype(np.float64)
                    out[name, part, k, dtype] = (xs, ref)
    return out
