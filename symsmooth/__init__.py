"""symsmooth: smooth approximations of non-smooth functions, derived symbolically and turned
into fast, numerically stable, verified kernels.

The public API is imported lazily, so ``import symsmooth`` stays cheap (no Numba import)::

    import symsmooth as ss
    ss.catalog.names(); ss.catalog.get("logsumexp_max")
    ss.kernels.names(); ss.kernels.get("gaussian")
    ss.convolve(f, x, kernel="gaussian", width=sigma)
    ss.gradient(expr, vars); ss.hessian(expr, vars); ss.newton_step(f, vars)
    ss.generate(items); ss.load(name); ss.verify(name)
    ss.jax.function(name)  # the JAX bridge (docs/jax.md); JAX is imported only then
    ss.torch.function(name)  # the PyTorch bridge (imports torch when first used)
"""

from __future__ import annotations

import importlib

from symsmooth.version import __version__

# public name -> (module, attribute or None for the module itself)
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "catalog": ("symsmooth.catalog", None),
    "kernels": ("symsmooth.convolution.kernels", None),
    "functions": ("symsmooth.functions", None),
    "errors": ("symsmooth.errors", None),
    "jax": ("symsmooth.jax", None),  # the JAX bridge (imports JAX on first use)
    "Smoothing": ("symsmooth.records", "Smoothing"),
    "Iteration": ("symsmooth.records", "Iteration"),
    "parse": ("symsmooth.text.formula", "parse"),
    "convolve": ("symsmooth.pipeline", "convolve"),
    "gradient": ("symsmooth.pipeline", "gradient"),
    "hessian": ("symsmooth.pipeline", "hessian"),
    "newton_step": ("symsmooth.pipeline", "newton_step"),
    "gradient_descent_step": ("symsmooth.pipeline", "gradient_descent_step"),
    "majorize": ("symsmooth.pipeline", "majorize"),
    "em_step": ("symsmooth.pipeline", "em_step"),
    "stabilize": ("symsmooth.pipeline", "stabilize"),
    "generate": ("symsmooth.pipeline", "generate"),
    "load": ("symsmooth.pipeline", "load"),
    "verify": ("symsmooth.pipeline", "verify"),
    "torch": ("symsmooth.torch", None),
}

_NEEDS_EXTRA = {"jax", "torch"}
"""Exports that import an optional dependency: left out of ``__all__``, so that
``from symsmooth import *`` never imports a framework."""

__all__ = sorted(set(_EXPORTS) - _NEEDS_EXTRA) + ["__version__"]


def __getattr__(name: str):
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'symsmooth' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
