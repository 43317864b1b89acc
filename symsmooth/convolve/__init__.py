"""Dirac-convolution engine: closed-form ``f * K_width`` by partial moments.

Entry points: :func:`convolve` and :func:`compare_routes` (re-exported by
:mod:`symsmooth.pipeline` as ``ss.convolve``).
"""

from __future__ import annotations

from symsmooth.convolve.api import RouteComparison, SeriesSmoothing, compare_routes, convolve

__all__ = ["RouteComparison", "SeriesSmoothing", "compare_routes", "convolve"]
