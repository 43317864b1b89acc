"""Print SymPy expressions as scalar Python that uses ``math.*`` only.

The printed text compiles under ``@njit`` and ``@cuda.jit`` alike: no NumPy calls, no
Python-only builtins except ``max``/``min``/``abs`` (both back-ends support them).  Stable
primitives print as calls to the scalar helpers of :mod:`symsmooth.runtime` (registered in
:mod:`symsmooth.codegen.helpers`); the printer records which ones it used so the module can carry
their source.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus, logsumexp
>>> x, k = sp.symbols("x k")
>>> p = MathPrinter()
>>> p.doprint(softplus(k * x) / k)
'_softplus(k*x)/k'
>>> p.doprint(logsumexp(x, 2 * x) + sp.erfc(x))
'_logsumexp2(x, 2*x) + math.erfc(x)'
>>> sorted(p.helpers)
['logsumexp2', 'softplus']
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from symsmooth.codegen.names import COTANGENT, derived_var
from symsmooth.errors import CodegenError
from symsmooth.functions import RUNTIME_HELPERS, LiveTable
from symsmooth.functions.gaps import exact_factors

PLANNER_HELPERS: dict[str, str] = {
    "wexp": "wexp",
    "logdd": "logdd",
    "sum_err": "sum_err",
    "product_err": "product_err",
    "dexp": "dexp",
}
"""The reduction planner's own nodes that print as a helper call (``wexp``, ``logdd``, the
rounding errors ``sum_err`` and ``product_err`` of a weight, a parameter derivative's weight
``dexp``)."""

SUM_HELPERS: dict[str, str] = {"sigmoid": "sigmoid2", "softplus_gap": "softplus_gap_sum"}
"""Primitive -> the helper that takes a two-term argument ``f(a + b)`` as ``_<helper>(a, b)``
and forms the sum exactly (TwoSum), so only its inputs' roundings reach ``f``."""

PRODUCT_HELPERS: dict[str, str] = {"softplus_gap": "softplus_gap_dot"}
"""Primitive -> the helper that takes a two-term argument ``f(a b + c d)`` of exact products
(``k*x - k*y``: :func:`symsmooth.functions.gaps.exact_factors`) as ``_<helper>(a, b, c, d)``
and forms the sum of the products exactly (runtime.exact)."""


def _product_args(name: str, expr) -> list | None:
    """The factors of ``expr``'s argument products for its :data:`PRODUCT_HELPERS` helper."""
    if not (isinstance(expr.args[0], sp.Add) and len(expr.args[0].args) == 2):
        return None
    pairs = [exact_factors(a) for a in expr.args[0].args]
    return None if None in pairs else [f for pair in pairs for f in pair]


def _function_helpers() -> dict[str, str]:
    return {
        **{name: h for name, h in RUNTIME_HELPERS.items() if "{arity}" not in h},
        **PLANNER_HELPERS,
    }


FUNCTION_HELPERS: Mapping[str, str] = LiveTable(_function_helpers)
"""SymPy function class name -> helper name: the registry's
:data:`~symsmooth.functions.RUNTIME_HELPERS` with one helper each, and ``wexp``, the reduction
planner's own node (:class:`symsmooth.codegen.reduction.wexp`)."""
ARITY_HELPERS: Mapping[str, str] = LiveTable(
    lambda: {name: h for name, h in RUNTIME_HELPERS.items() if "{arity}" in h}
)
"""SymPy function class name -> helper name pattern, formatted with the number of arguments
(``logsumexp`` of three arguments prints as ``_logsumexp3``)."""


class MathPrinter(PythonCodePrinter):
    """``PythonCodePrinter`` restricted to ``math.*``, with stable primitives as helpers.

    Attributes
    ----------
    helpers : set of str
        Helper names used by everything printed so far.
    """

    printmethod = "_symsmooth_math"

    def __init__(self, settings: dict | None = None):
        base = {"fully_qualified_modules": True, "strict": True, "standard": "python3"}
        base.update(settings or {})
        super().__init__(base)
        self.helpers: set[str] = set()

    def doprint(self, expr, assign_to=None):  # noqa: D102 - same contract as the base class
        try:
            text = super().doprint(expr, assign_to)
        except CodegenError:
            raise
        except Exception as exc:  # sympy raises several types for unsupported nodes
            raise CodegenError(
                f"cannot print {expr} as math.* code ({exc}); rewrite it with functions "
                "the math module has, or add a helper to a module of symsmooth/runtime/"
            ) from exc
        return text

    def _print_Function(self, expr):
        name = type(expr).__name__
        arg = expr.args[0] if expr.args else None
        factors = _product_args(name, expr) if name in PRODUCT_HELPERS else None
        if factors is not None:
            helper = PRODUCT_HELPERS[name]
            self.helpers.add(helper)
            args = ", ".join(self._print(a) for a in factors)
            return f"{self.call_name('_' + helper)}({args})"
        if name in SUM_HELPERS and isinstance(arg, sp.Add) and len(arg.args) == 2:
            # f(a - b): the difference is formed exactly (runtime.double_double._sigmoid2)
            helper = SUM_HELPERS[name]
            self.helpers.add(helper)
            p, q = sorted(arg.args, key=sp.default_sort_key)
            return f"{self.call_name('_' + helper)}({self._print(p)}, {self._print(q)})"
        elif name in PLANNER_HELPERS:
            helper = PLANNER_HELPERS[name]
        elif name in RUNTIME_HELPERS:  # the registry itself: a primitive defined later prints
            helper = RUNTIME_HELPERS[name].format(arity=len(expr.args))
        else:
            return super()._print_Function(expr)
        self.helpers.add(helper)
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{self.call_name('_' + helper)}({args})"

    def call_name(self, function: str) -> str:
        """The name a call of the runtime helper ``function`` prints as (itself here; the
        fast-math printer calls the helpers' vectorizable twins)."""
        return function

    def load(self, vector: str, index: str) -> str:
        """The element ``index`` of the row of ``vector`` (an ``emit.Load`` statement)."""
        return f"{derived_var('row', vector)}[{index}]"

    def _print_fsexp(self, expr):
        a, m = (self._print(v) for v in expr.args)
        return f"_fsexp({a}, {m})"

    def _print_ddiff(self, expr):
        """A difference kept as a node (:class:`symsmooth.codegen.paramgrad.ddiff`), rounded
        once in plain code."""
        u, v = (self._print(a) for a in expr.args)
        return f"({u} - ({v}))"

    def _print_hypot(self, expr):
        a, b = (self._print(v) for v in expr.args)
        return f"math.hypot({a}, {b})"

    def _print_Symbol(self, expr):
        name = super()._print_Symbol(expr)
        if not name.isidentifier():
            raise CodegenError(f"symbol name {name!r} is not a Python identifier; rename it")
        return name

    def _print_Dummy(self, expr):
        return f"_{expr.name}_{expr.dummy_index}"

    def _print_Indexed(self, expr):
        raise CodegenError(
            f"indexed entry {expr} reached the printer; reductions must go through the "
            "sum-of-exponentials normal form (symsmooth.codegen.normalform)"
        )

    def _print_Exp1(self, expr):
        return "math.e"

    def _print_Infinity(self, expr):
        return "math.inf"

    def _print_NegativeInfinity(self, expr):
        return "(-math.inf)"

    def _print_NaN(self, expr):
        return "math.nan"

    def _print_Heaviside(self, expr):
        z = self._print(expr.args[0])
        h0 = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"(1.0 if {z} > 0 else (0.0 if {z} < 0 else {h0}))"

    def _print_DiracDelta(self, expr):
        raise CodegenError(
            f"{expr}: a Dirac delta has no pointwise value; differentiate the smooth "
            "surrogate, or drop the delta (the gradient is taken almost everywhere)"
        )

    def _print_KroneckerDelta(self, expr):
        a, b = (self._print(v) for v in expr.args)
        return f"(1.0 if {a} == {b} else 0.0)"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"({expr.p}/{expr.q})"


class CudaPrinter(MathPrinter):
    """:class:`MathPrinter` for the CUDA row kernels: element loads up-cast to float64 (a row
    may be float32), the cotangent read by its mode (a scalar ``G_val`` or a row of
    ``G_rows``), and the element index ``idx`` as a float64.

    >>> CudaPrinter().load("x", "idx"), CudaPrinter().load("G", "piv")
    ('float64(x_row[idx])', 'G_val if G_mode == 0 else float64(G_rows[r_, piv])')
    >>> CudaPrinter().doprint(sp.Symbol("idx") + 1.0)
    'float64(idx) + 1.0'
    """

    def load(self, vector: str, index: str) -> str:
        if vector == COTANGENT:
            val, mode, rows = (derived_var(r, vector) for r in ("val", "mode", "rows"))
            return f"{val} if {mode} == 0 else float64({rows}[r_, {index}])"
        return f"float64({derived_var('row', vector)}[{index}])"

    def _print_Symbol(self, expr):
        name = super()._print_Symbol(expr)
        return "float64(idx)" if name == "idx" else name


def print_assignments(pairs, printer: MathPrinter) -> list[str]:
    """``name = <expr>`` lines for ``(Symbol, expr)`` pairs (e.g. the output of ``sympy.cse``).

    Examples
    --------
    >>> import sympy as sp
    >>> a, x = sp.symbols("a x")
    >>> print_assignments([(a, sp.exp(x) + 1)], MathPrinter())
    ['a = math.exp(x) + 1']
    """
    return [f"{printer.doprint(lhs)} = {printer.doprint(rhs)}" for lhs, rhs in pairs]


def numbered_symbols(prefix: str):
    """Deterministic CSE temporaries ``prefix0, prefix1, ...``."""
    return sp.numbered_symbols(prefix, real=True)
