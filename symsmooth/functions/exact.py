r"""Exact-argument primitives: ``f(a*b)``, ``f(a/b)`` evaluated at the exact product or quotient.

A kernel's inputs and parameters are exact doubles; their rounded product ``fl(k x)`` is not,
and an exponential or ``erfc`` multiplies its relative rounding by ``|k x|`` (or ``(k x)^2``).
For each function ``f`` of :data:`EXACT_BASES` this module defines two registered primitives,
``f_xp(a, b) = f(a b)`` and ``f_xq(a, b) = f(a/b)``, whose runtime helpers
(:mod:`symsmooth.runtime.exact`) form the argument as a double-double (Dekker's TwoProduct, or
the quotient with its exact remainder) and evaluate ``f`` at it.  They are produced by the
stabilization stage ``exact_arguments`` (:mod:`symsmooth.stabilization.exact_args`), which
reads :data:`EXACT_FORMS`; a function joins by naming its runtime helpers in
:data:`EXACT_BASES` (and writing them in :mod:`symsmooth.runtime.exact`).

Each class is a :class:`~symsmooth.functions.base.StablePrimitive` of two arguments: its naive
rewrite is the base function's at ``a b`` (or ``a/b``), ``fdiff`` the chain rule through the
base function's derivative (so gradients are stabilized like any other expression), its mpmath
implementation the base function's at the exact ``a b``, its NumPy implementation the runtime
helper, vectorized.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision",
Numer. Math. 18 (1971) 224-242.  T. Ogita, S. M. Rump, S. Oishi, "Accurate sum and dot
product", SIAM J. Sci. Comput. 26 (2005) 1955-1988.

Examples
--------
>>> import sympy as sp
>>> k, x = sp.symbols("k x", real=True)
>>> EXACT_FORMS[("softplus", "product")](k, x).plain()
softplus(k*x)
>>> sp.diff(EXACT_FORMS[("softplus", "product")](k, x), x)
k*sigmoid(k*x)
>>> EXACT_FORMS[("Phi", "quotient")].runtime_helper
'Phi_xq'
"""

from __future__ import annotations

import importlib

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import MPMATH_MODULE, StablePrimitive
from symsmooth.functions.elementary import Phi, log_sigmoid, sigmoid, softplus
from symsmooth.functions.fused import dgelu, dsigmoid, dswish
from symsmooth.functions.special import relu_gauss

OPERATIONS = {"product": ("xp", sp.Mul), "quotient": ("xq", None)}
"""Operation -> (name suffix, SymPy head)."""

EXACT_BASES: dict[str, tuple[type, tuple[str, ...]]] = {
    "softplus": (softplus, ("product",)),
    "log_sigmoid": (log_sigmoid, ("product",)),
    "sigmoid": (sigmoid, ("product",)),
    "dsigmoid": (dsigmoid, ("product",)),
    "dswish": (dswish, ("product",)),
    "tanh": (sp.tanh, ("product",)),
    "erf": (sp.erf, ("product",)),
    "Phi": (Phi, ("product", "quotient")),
    "relu_gauss": (relu_gauss, ("quotient",)),
    "dgelu": (dgelu, ("quotient",)),
}
"""Base function name -> (its SymPy class, the operations whose exact form has a helper)."""

_MPMATH_BASE = {"tanh": mpmath.tanh, "erf": mpmath.erf}
"""mpmath implementations of the SymPy functions among the bases (the others: the registry)."""

_RUNTIME = importlib.import_module("symsmooth.runtime.exact")


class ExactArgument(StablePrimitive):
    """Base class of ``f_xp(a, b) = f(a b)`` and ``f_xq(a, b) = f(a/b)``."""

    _abstract = True
    nargs = 2
    base: type = sp.Function
    operation: str = "product"

    @classmethod
    def argument(cls, a: sp.Expr, b: sp.Expr) -> sp.Expr:
        """The exact argument ``a b`` or ``a/b``."""
        return a * b if cls.operation == "product" else a / b

    def plain(self) -> sp.Expr:
        """The base function at the (symbolic) argument: ``softplus_xp(k, x) -> softplus(k x)``."""
        return self.base(self.argument(*self.args))

    def _naive(self, a, b):
        out = self.base(self.argument(a, b))
        return out.rewrite("naive") if isinstance(out, StablePrimitive) else out

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise ArgumentIndexError(self, argindex)
        z = sp.Dummy("z", real=True)
        outer = sp.diff(self.base(z), z)
        arg = self.argument(*self.args)
        return outer.subs(z, arg) * sp.diff(arg, self.args[argindex - 1])


def _mpmath_impl(name: str, operation: str):
    base = _MPMATH_BASE.get(name) or MPMATH_MODULE[name]

    def impl(a, b):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        return base(a * b if operation == "product" else a / b)

    impl.__name__ = f"mp_{name}_{OPERATIONS[operation][0]}"
    return impl


def _define(name: str, base: type, operation: str) -> type[ExactArgument]:
    suffix = OPERATIONS[operation][0]
    helper = f"{name}_{suffix}"
    runtime = getattr(_RUNTIME, f"_{helper}")
    sign = "*" if operation == "product" else "/"
    body = {
        "__doc__": f"``{name}(a {sign} b)`` for the exact {operation} (runtime ``_{helper}``).",
        "__module__": __name__,
        "__qualname__": helper,
        "base": base,
        "operation": operation,
        "runtime_helper": helper,
        "numpy_impl": np.vectorize(runtime, otypes=[np.float64]),
        "mpmath_impl": _mpmath_impl(name, operation),
    }
    return type(ExactArgument)(helper, (ExactArgument,), body)


EXACT_FORMS: dict[tuple[str, str], type[ExactArgument]] = {
    (name, op): _define(name, base, op) for name, (base, ops) in EXACT_BASES.items() for op in ops
}
"""(base function name, operation) -> its exact-argument primitive (registered in
:data:`~symsmooth.functions.base.PRIMITIVES` under ``<name>_xp`` / ``<name>_xq``)."""
