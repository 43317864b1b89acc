"""Dirac-convolution engine: closed-form ``f * K_width`` by partial moments, and its data.

Entry points: :func:`convolve` and :func:`compare_routes` (re-exported by
:mod:`symsmooth.pipeline` as ``ss.convolve``).  The data the engine works on lives here too:
the approximate identities (:mod:`symsmooth.convolution.kernels`, public as ``ss.kernels``),
their partial moments (:mod:`symsmooth.convolution.kernel_moments`) and the piecewise
decomposition of targets (:mod:`symsmooth.convolution.pieces`).  The package is named as a
noun so it never shadows the function ``ss.convolve``.

Examples
--------
>>> import sympy as sp
>>> import symsmooth as ss
>>> import symsmooth.convolution
>>> x = sp.Symbol("x", real=True)
>>> ss.convolve(sp.Max(x, 0), x, "logistic").expr
softplus(t*x)/t
"""

from __future__ import annotations

from symsmooth.convolution.api import RouteComparison, SeriesSmoothing, compare_routes, convolve

__all__ = ["RouteComparison", "SeriesSmoothing", "compare_routes", "convolve"]
