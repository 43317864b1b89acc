"""The runtime: scalar functions copied verbatim into generated modules.

Every helper a generated kernel calls is a real, importable, tested function here, never source
in a string: :mod:`~symsmooth.runtime.scalar` and :mod:`~symsmooth.runtime.double_double`
(``math.*`` only), :mod:`~symsmooth.runtime.scaling` (the scaled primitives),
:mod:`~symsmooth.runtime.exact` (primitives of an exact product or quotient of two doubles) and
:mod:`~symsmooth.runtime.fastmath` (the branch-free ``@njit`` exp/log of the vectorized CPU
loops, with their Numba intrinsics); the host side of the generated modules (argument checks,
row layouts, the lazy CUDA build and launchers) is :mod:`~symsmooth.runtime.cpu_host`,
:mod:`~symsmooth.runtime.cuda_host` and :mod:`~symsmooth.runtime.cuda_launch`, emitted the same
way by :mod:`symsmooth.codegen.host`.  The code generator reads their source
(:mod:`symsmooth.codegen.helpers`) and emits each function a kernel needs, with the functions it
calls; the NumPy implementations of the primitives vectorize the same functions.  Nothing here
imports from the rest of :mod:`symsmooth` (the bottom floor of the package).

Examples
--------
>>> from symsmooth.runtime.scalar import _softplus
>>> _softplus(0.0) == __import__("math").log(2.0)
True
"""
