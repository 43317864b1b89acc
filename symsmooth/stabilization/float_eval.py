"""Evaluate a SymPy expression in float64, node by node, as a kernel would round it.

The stabilization search (:mod:`symsmooth.stabilization.search`) compares candidate forms of
one function by their rounding error; it needs each candidate's *float64* value, with every
operation rounded as in the generated code.  This walker is that evaluator: one NumPy
operation per node (vectorized over the sample points), the stable primitives through their
own ``numpy_impl`` (:mod:`symsmooth.functions.numeric`), sums and products in argument
order.  It reads only the expression tree, dispatching on the node's class: no ``eval``,
``lambdify`` or printed code (data is never code).

A node it does not know is a :class:`~symsmooth.errors.StabilizeError` naming it; the search
then leaves the expression as the rules made it.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> evaluate(sp.exp(x) - 1, (x,), [np.array([1e-20, 1.0])]).tolist()
[0.0, 1.718281828459045]
>>> from sympy.codegen.cfunctions import expm1
>>> evaluate(expm1(x), (x,), [np.array([1e-20])]).tolist()
[1e-20]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from symsmooth.errors import StabilizeError
from symsmooth.functions.base import StablePrimitive

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _ufunc(fn) -> Callable:
    def apply(*values):
        return np.asarray(fn(*values), dtype=np.float64)

    return apply


FUNCTIONS: dict[type, Callable] = {
    sp.exp: np.exp,
    sp.log: np.log,
    log1p: np.log1p,
    expm1: np.expm1,
    sp.erf: _ufunc(_erf),
    sp.erfc: _ufunc(_erfc),
    sp.tanh: np.tanh,
    sp.atan: np.arctan,
    sp.sinh: np.sinh,
    sp.cosh: np.cosh,
    sp.Abs: np.abs,
    sp.sign: np.sign,
}
"""Elementary SymPy functions and their float64 NumPy (libm) counterparts."""


def _add(node, args):
    out = args[0]
    for a in args[1:]:
        out = out + a
    return out


def _mul(node, args):
    out = args[0]
    for a in args[1:]:
        out = out * a
    return out


def _pow(node, args):
    base, expo = args
    e = node.exp
    if e == sp.Rational(1, 2):
        return np.sqrt(base)
    if e == -1:
        return 1.0 / base
    if e.is_Integer:
        return base ** int(e)
    return np.power(base, expo)


def _max(node, args):
    return np.maximum.reduce(np.broadcast_arrays(*args))


def _min(node, args):
    return np.minimum.reduce(np.broadcast_arrays(*args))


def _heaviside(node, args):
    at_zero = args[1] if len(args) > 1 else 0.5  # SymPy's Heaviside(0) is 1/2
    return np.heaviside(args[0], at_zero)


NODES: dict[type, Callable] = {sp.Add: _add, sp.Mul: _mul, sp.Pow: _pow}
NODES.update({sp.Max: _max, sp.Min: _min, sp.Heaviside: _heaviside})

_RELATIONS = {
    sp.StrictLessThan: np.less,
    sp.LessThan: np.less_equal,
    sp.StrictGreaterThan: np.greater,
    sp.GreaterThan: np.greater_equal,
}


class _Walker:
    def __init__(self, symbols: Sequence[sp.Symbol], values: Sequence[np.ndarray]):
        pairs = zip(symbols, values, strict=True)
        self.env = {s: np.asarray(v, dtype=np.float64) for s, v in pairs}
        self.memo: dict = {}

    def __call__(self, node: sp.Basic) -> np.ndarray:
        if node in self.memo:
            return self.memo[node]
        value = self._value(node)
        self.memo[node] = value
        return value

    def _value(self, node: sp.Basic):
        if node in self.env:
            return self.env[node]
        if node.is_Number or node.is_NumberSymbol:
            return np.float64(float(node))
        if isinstance(node, sp.Piecewise):
            return self._piecewise(node)
        if isinstance(node, StablePrimitive):
            return np.asarray(type(node).numpy_impl(*map(self, node.args)), dtype=np.float64)
        handler = NODES.get(type(node))
        if handler is not None:
            return handler(node, [self(a) for a in node.args])
        fn = FUNCTIONS.get(type(node))
        if fn is not None:
            return fn(*[self(a) for a in node.args])
        raise StabilizeError(
            f"float64 evaluation has no rule for {type(node).__name__} (in {node}); add it to "
            "symsmooth.stabilization.float_eval.FUNCTIONS or NODES"
        )

    def _condition(self, cond):
        if cond is sp.true:
            return np.True_
        if isinstance(cond, sp.And):
            return np.logical_and.reduce([self._condition(c) for c in cond.args])
        if isinstance(cond, sp.Or):
            return np.logical_or.reduce([self._condition(c) for c in cond.args])
        op = _RELATIONS.get(type(cond))
        if op is None:
            raise StabilizeError(f"float64 evaluation has no rule for the condition {cond}")
        return op(self(cond.lhs), self(cond.rhs))

    def _piecewise(self, node: sp.Piecewise):
        out, taken = None, None
        for expr, cond in node.args:
            here = np.asarray(self._condition(cond))
            value = np.asarray(self(expr), dtype=np.float64)
            if out is None:
                out = np.broadcast_to(value, np.broadcast(value, here).shape).copy()
                taken = np.broadcast_to(here, out.shape).copy()
                continue
            pick = np.broadcast_to(here, out.shape) & ~taken
            out = np.where(pick, value, out)
            taken = taken | pick
        return out


def evaluate(expr: sp.Expr, symbols: Sequence[sp.Symbol], values: Sequence) -> np.ndarray:
    """``expr`` in float64 at the points ``values`` (one array per symbol, broadcast).

    Floating-point exceptions are silent (overflow gives inf, 0/0 NaN), as in the kernels."""
    walker = _Walker(symbols, values)
    with np.errstate(all="ignore"):
        out = walker(expr)
        shape = np.broadcast(*[np.asarray(v) for v in values]).shape if values else ()
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()
