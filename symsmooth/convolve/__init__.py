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

from symsmooth._callable import make_callable
from symsmooth.convolve.api import RouteComparison, SeriesSmoothing, compare_routes, convolve

__all__ = ["RouteComparison", "SeriesSmoothing", "compare_routes", "convolve"]


make_callable(__name__, "symsmooth.convolve.api:convolve")
