r"""Exact-argument primitives: ``f(a*b)``, ``f(a/b)`` evaluated at the exact product or quotient.

A kernel's inputs and parameters are exact doubles; their rounded product ``fl(k x)`` is not,
and an exponential or ``erfc`` multiplies its relative rounding by ``|k x|`` (or ``(k x)^2``).
For each function ``f`` of :data:`EXACT_BASES` this module defines registered primitives,
``f_xp(a, b) = f(a b)``, ``f_xq(a, b) = f(a/b)`` and ``f_xd(a, b) = f(a b)/a`` (the smooth
ReLU's ``softplus(k x)/k``: the division rounds with the rest), whose runtime helpers
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
from symsmooth.functions.elementary import Phi, log_sigmoid, phi, sigmoid, softplus
from symsmooth.functions.fused import dgelu, dsigmoid, dswish, silu
from symsmooth.functions.gaps import logcosh_gap, softplus_gap
from symsmooth.functions.nary import logsumexp
from symsmooth.functions.special import relu_gauss

OPERATIONS = {
    "product": "xp",
    "quotient": "xq",
    "scaled": "xd",
    "pair": "pp",
    "scaled_pair": "xd2",
    "scaled2": "xsq",
}
"""Operation -> name suffix: ``f(a b)``, ``f(a/b)``, ``f(a b)/a``, ``f(a b + c d)``, for a
function of two arguments ``f(a b, a c)/a``, and ``f(a b)/a**2`` (the sharpness derivative of
``F(k x)/k``: :mod:`symsmooth.functions.gaps`)."""

NARGS = {"pair": 4, "scaled_pair": 3}
"""Arguments of the forms that do not take two."""

EXACT_BASES: dict[str, tuple[type, tuple[str, ...]]] = {
    "softplus": (softplus, ("product", "scaled")),
    "log_sigmoid": (log_sigmoid, ("product",)),
    "sigmoid": (sigmoid, ("product", "pair")),
    "dsigmoid": (dsigmoid, ("product",)),
    "dswish": (dswish, ("product",)),
    "silu": (silu, ("product", "scaled")),
    "tanh": (sp.tanh, ("product",)),
    "erf": (sp.erf, ("product",)),
    "Phi": (Phi, ("product", "quotient")),
    "logsumexp": (logsumexp, ("scaled_pair",)),
    "relu_gauss": (relu_gauss, ("quotient",)),
    "dgelu": (dgelu, ("quotient",)),
    "phi": (phi, ("quotient",)),
    "softplus_gap": (softplus_gap, ("product", "scaled2")),
    "logcosh_gap": (logcosh_gap, ("product", "scaled2")),
}
"""Base function name -> (its SymPy class, the operations whose exact form has a helper)."""

_MPMATH_BASE = {"tanh": mpmath.tanh, "erf": mpmath.erf}
"""mpmath implementations of the SymPy functions among the bases (the others: the registry)."""

_RUNTIME = importlib.import_module("symsmooth.runtime.exact")


class ExactArgument(StablePrimitive):
    """Base class of ``f_xp(a, b) = f(a b)``, ``f_xq(a, b) = f(a/b)``, ``f_xd(a, b) = f(a b)/a``
    and ``f_pp(a, b, c, d) = f(a b + c d)`` (the pair: ``sigmoid(k x - k y)``)."""

    _abstract = True
    nargs = 2
    base: type = sp.Function
    operation: str = "product"

    @classmethod
    def form(cls, *args: sp.Expr) -> sp.Expr:
        """The plain expression: ``f(a b)``, ``f(a/b)``, ``f(a b)/a`` or ``f(a b + c d)``."""
        if cls.operation == "pair":
            a, b, c, d = args
            return cls.base(a * b + c * d)
        if cls.operation == "scaled_pair":
            a, b, c = args
            return cls.base(a * b, a * c) / a
        a, b = args
        if cls.operation == "quotient":
            return cls.base(a / b)
        scale = {"scaled": a, "scaled2": a**2}.get(cls.operation, 1)
        return cls.base(a * b) / scale

    def plain(self) -> sp.Expr:
        """The plain expression at the arguments: ``softplus_xp(k, x) -> softplus(k x)``."""
        return self.form(*self.args)

    def _naive(self, *args):
        out = self.form(*args)
        return out.rewrite("naive") if out.has(StablePrimitive) else out

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        dummies = [sp.Dummy(f"u{i}", real=True) for i in range(len(self.args))]
        derivative = sp.diff(self.form(*dummies), dummies[argindex - 1])
        return derivative.subs(dict(zip(dummies, self.args, strict=True)), simultaneous=True)


def _mpmath_impl(name: str, operation: str):
    base = _MPMATH_BASE.get(name) or MPMATH_MODULE[name]

    def impl(*args):
        values = [mpmath.mpf(v) for v in args]
        if operation == "pair":
            a, b, c, d = values
            return base(a * b + c * d)
        if operation == "scaled_pair":
            a, b, c = values
            return base(a * b, a * c) / a
        a, b = values
        if operation == "quotient":
            return base(a / b)
        return base(a * b) / {"scaled": a, "scaled2": a * a}.get(operation, 1)

    impl.__name__ = f"mp_{name}_{OPERATIONS[operation]}"
    return impl


def _define(name: str, base: type, operation: str) -> type[ExactArgument]:
    helper = f"{name}_{OPERATIONS[operation]}"
    runtime = getattr(_RUNTIME, f"_{helper}")
    text = {
        "product": f"{name}(a*b)",
        "quotient": f"{name}(a/b)",
        "scaled": f"{name}(a*b)/a",
        "pair": f"{name}(a*b + c*d)",
        "scaled_pair": f"{name}(a*b, a*c)/a",
        "scaled2": f"{name}(a*b)/a**2",
    }
    body = {
        "__doc__": f"``{text[operation]}`` for the exact product or quotient (``_{helper}``).",
        "__module__": __name__,
        "__qualname__": helper,
        "nargs": NARGS.get(operation, 2),
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
