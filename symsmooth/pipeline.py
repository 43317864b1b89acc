"""The only module that wires the stages together.

``cli -> pipeline -> {smoothing, convolve, derive, stabilize, codegen, verify} ->
{functions, records, errors}``.  Each section below belongs to one stage; public entry
points are re-exported by :mod:`symsmooth` (``ss.convolve``, ``ss.generate``, ...).
"""

from __future__ import annotations

# --- catalog -------------------------------------------------------------------------------

# --- convolution ---------------------------------------------------------------------------

# --- derivation ----------------------------------------------------------------------------

# --- stabilization -------------------------------------------------------------------------
from symsmooth.stabilize import Stabilized, stabilize  # noqa: E402,F401  (ss.stabilize)

# --- code generation and verification ------------------------------------------------------
