"""The statements every kernel kind is built from: CSE'd blocks of ``math.*`` code.

The templates hold layout only (decorators, loops, wrappers); every formula arrives through
here.  Common subexpressions are shared with :func:`sympy.cse` inside each block; the kinds
(:mod:`symsmooth.codegen.kinds`) call :func:`block` and :func:`value_block`, and
:func:`kernel_context` finishes a kind's CPU context (helpers, fast twins).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.kinds import kind
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> ctx = kernel_context(spec, kind("elementwise"))
>>> ctx["cores"][0]["lines"]
['return _softplus(k*x)/k']
>>> [h.function for h in ctx["helpers"]]
['_two_product', '_wexp2', '_sigmoid2', '_sigmoid', '_softplus']
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.fastmath import fast_context
from symsmooth.codegen.helpers import resolve
from symsmooth.codegen.printer import MathPrinter

SIZE = sp.Symbol("size_", positive=True)


def block(exprs, targets, printer: MathPrinter, prefix: str) -> list[str]:
    """CSE'd assignment lines computing ``targets[j] = exprs[j]``.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> block([sp.exp(x) + 1, sp.exp(x) * 2], ["_a", "_b"], MathPrinter(), "_c")
    ['_c0 = math.exp(x)', '_a = _c0 + 1', '_b = 2*_c0']
    """
    exprs = [sp.sympify(e) for e in exprs]
    if not exprs:
        return []
    temps = sp.numbered_symbols(prefix, real=True)
    replacements, reduced = sp.cse(exprs, symbols=temps, order="canonical")
    lines = [f"{printer.doprint(s)} = {printer.doprint(e)}" for s, e in replacements]
    lines += [f"{t} = {printer.doprint(e)}" for t, e in zip(targets, reduced, strict=False)]
    return lines


def _is_linear_part(term: sp.Expr) -> bool:
    return not term.atoms(sp.Function)


def value_block(value: sp.Expr, printer: MathPrinter) -> list[str]:
    """Lines computing ``_out``: the terms free of log/exp/powers (shifts ``M``, entries,
    plain sums: the large ones) are added first, so ``M - x_t`` cancels exactly (Sterbenz)
    before the small ``log s`` is added.

    Examples
    --------
    >>> import sympy as sp
    >>> M, s, x = sp.symbols("M0 s0 x_e")
    >>> value_block(M + sp.log(s) - x, MathPrinter())
    ['_lin = M0 - x_e', '_rest = math.log(s0)', '_out = _lin + _rest']
    """
    expanded = sp.expand(value)
    if isinstance(expanded, sp.Add):
        lin = [t for t in expanded.args if _is_linear_part(t)]
        rest = [t for t in expanded.args if not _is_linear_part(t)]
        if lin and rest:
            lines = block([sp.Add(*lin), sp.Add(*rest)], ["_lin", "_rest"], printer, "_c")
            return lines + ["_out = _lin + _rest"]
    return block([value], ["_out"], printer, "_c")


def kernel_context(spec, kind) -> dict:
    """The finished CPU template variables of ``spec`` built by ``kind``
    (:class:`~symsmooth.codegen.kinds.base.Kind`): the kind's own variables, the ``helpers``
    its printed code calls (with their callees), ``name``, and ``fast``, the vectorizable
    CPU twins (:mod:`symsmooth.codegen.fastmath`)."""
    printer = MathPrinter()
    ctx = kind.cpu_context(spec, printer)
    ctx["helpers"] = resolve(printer.helpers)
    ctx["name"] = spec.name
    ctx["fast"] = fast_context(ctx)
    return ctx
