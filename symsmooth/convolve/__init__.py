"""Dirac-convolution engine: closed-form ``f * K_width`` by partial moments.

Entry points: :func:`convolve` and :func:`compare_routes` (re-exported by
:mod:`symsmooth.pipeline` as ``ss.convolve``).

Importing this subpackage makes Python bind ``symsmooth.convolve`` to the *package*, which
would shadow the function ``ss.convolve``; the package is therefore callable and forwards
calls to :func:`convolve`, so ``ss.convolve(f, x, ...)`` works in any import order.

Examples
--------
>>> import sympy as sp
>>> import symsmooth as ss
>>> import symsmooth.convolve
>>> x = sp.Symbol("x", real=True)
>>> ss.convolve(sp.Max(x, 0), x, "logistic").expr
softplus(t*x)/t
"""

from __future__ import annotations

import sys
import types

from symsmooth.convolve.api import RouteComparison, SeriesSmoothing, compare_routes, convolve

__all__ = ["RouteComparison", "SeriesSmoothing", "compare_routes", "convolve"]


class _CallablePackage(types.ModuleType):
    """Module type whose instances forward calls to :func:`convolve`."""

    def __call__(self, *args, **kwargs):
        return convolve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
