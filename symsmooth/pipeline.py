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

# --- code generation and verification ------------------------------------------------------
