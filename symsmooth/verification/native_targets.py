"""Measure a native PyTorch or JAX module like the Numba kernels (issue #15).

:func:`symsmooth.verification.kernels.measure` calls a module's public functions on NumPy
rows and parameters and compares what they return with certified references.  A native module
(``<name>_torch.py``, ``<name>_jax.py``) takes framework arrays, so :func:`numpy_facade` wraps
each public function: NumPy operands become tensors (JAX arrays) of the same dtype, the
result comes back as NumPy.  float64 JAX runs inside ``jax.enable_x64(True)``.  The grid,
the references, the ulp measure and the targets are the Numba kernels' own, so the two
reports compare directly (``symsmooth verify NAME --target torch``).

Examples
--------
>>> import math
>>> from types import SimpleNamespace
>>> import torch
>>> module = SimpleNamespace(__all__=["f"], f=lambda x, k: torch.log1p(torch.exp(k * x)) / k)
>>> facade = numpy_facade(module, "torch")
>>> type(facade.f(np.array([0.0]), 1.0)).__name__, float(facade.f(np.array([0.0]), 1.0)[0])
('ndarray', 0.6931471805599453)
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np

from symsmooth.errors import VerificationError

__all__ = ["numpy_facade"]


def _torch_call(fn):
    import torch

    def to(a):
        return torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a

    def back(r):
        if isinstance(r, tuple):
            return tuple(back(x) for x in r)
        return r.detach().cpu().numpy()

    def call(*args, **kwargs):
        return back(fn(*map(to, args), **{k: to(v) for k, v in kwargs.items()}))

    return call


def _jax_call(fn):
    import jax
    import jax.numpy as jnp

    def call(*args, **kwargs):
        wide = any(
            isinstance(a, np.ndarray) and a.dtype == np.float64 for a in (*args, *kwargs.values())
        )
        context = jax.enable_x64(True) if wide else contextlib.nullcontext()
        with context:

            def to(a):
                return jnp.asarray(a) if isinstance(a, np.ndarray) else a

            out = fn(*map(to, args), **{k: to(v) for k, v in kwargs.items()})
            if isinstance(out, tuple):
                return tuple(np.asarray(x) for x in out)
            return np.asarray(out)

    return call


_WRAPPERS = {"torch": _torch_call, "jax": _jax_call}
"""Native target -> how a public function of its modules is called on NumPy operands."""


def numpy_facade(module, target: str) -> SimpleNamespace:
    """The public functions of the native ``target`` module ``module`` (its ``__all__``),
    each taking and returning NumPy arrays."""
    try:
        wrap = _WRAPPERS[target]
    except KeyError:
        raise VerificationError(
            f"no measurement for native target {target!r}; known: {', '.join(_WRAPPERS)}. Add "
            "its wrapper to _WRAPPERS in symsmooth/verification/native_targets.py"
        ) from None
    return SimpleNamespace(**{name: wrap(getattr(module, name)) for name in module.__all__})
