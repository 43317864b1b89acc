"""Verification: mpmath references, claim checks, ulp measurement of generated kernels.

The user's entry point is the function ``ss.verify(name)`` (:func:`symsmooth.pipeline.verify`);
this package is named as a noun so it never shadows it.
"""
