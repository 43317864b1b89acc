"""Verification: mpmath references, claim checks, ulp measurement of generated kernels.

The package is callable: ``symsmooth.verify(name)`` is :func:`symsmooth.pipeline.verify`.
"""

from __future__ import annotations

from symsmooth._callable import make_callable  # noqa: E402

make_callable(__name__, "symsmooth.pipeline:verify")
