"""The row operations of the native reductions (:mod:`symsmooth.codegen.native_rows`): SymPy
function nodes, each printed by the native printers as a call of the hand-written base
function of the same name in :mod:`symsmooth.runtime.torch_native` and
:mod:`symsmooth.runtime.jax_native` (``row_sum(t)`` -> ``_row_sum(t)``).  A test checks that
both runtimes define every one.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.native_printer import JaxPrinter
>>> h, m = sp.symbols("h m", real=True)
>>> JaxPrinter().doprint(row_sum(wexp(h, m)))
'_row_sum(_wexp(h, m))'
"""

from __future__ import annotations

import sympy as sp

__all__ = ["LINEAR_ROW_NODES", "ROW_NODES"]


class _RowNode(sp.Function):
    """A row operation: printed as the base function ``_<name>(...)`` of the runtime."""


class row_sum(_RowNode):
    """``row_sum(t)``: the sum of ``t`` over the row (a length-1 last axis)."""

    nargs = 1


class row_shift(_RowNode):
    """``row_shift(h, start)``: ``max(start, max h)`` over the row, 0 where not finite."""

    nargs = 2


class kept(_RowNode):
    """``kept(keep, t, fill)``: ``t`` where the mask keeps the entry, else ``fill``."""

    nargs = 3


class log_split(_RowNode):
    """``log_split(L, c, r) = L + log(c + r)``, formed as ``(L + log c) + log1p(r/c)``."""

    nargs = 3


class absent_term(_RowNode):
    """``absent_term(w, d)``: 0, with the derivative ``exp(d)`` in ``w``: the term ``w exp(d)``
    of an entry whose weight ``w`` is exactly 0, left out of the shift (its ``exp(d)`` may
    overflow) but still differentiated in its weight."""

    nargs = 2


class finite_entries(_RowNode):
    """``finite_entries(x, ...)``: where every input entry is finite."""


class safe_entry(_RowNode):
    """``safe_entry(fin, a, b)``: ``a`` where ``fin`` holds, else ``b`` without derivative."""

    nargs = 3


class frozen(_RowNode):
    """``frozen(e)``: ``e`` without derivative."""

    nargs = 1


class wexp(_RowNode):
    """``wexp(h, m) = exp(h - m)`` with ``h - m`` taken exactly (its rounding error as a first
    order factor): the weights of a wide row keep their digits."""

    nargs = 2


class dexp(_RowNode):
    """``dexp(c, u, v) = exp(c (u - v))`` with ``u - v`` and its product by ``c`` exact to first
    order: the weight ``exp(k (x_i - x_p))`` of an entry against the row's pivot keeps its
    digits at any ``k``, and its derivative in ``k`` is ``(x_i - x_p) E_i``, formed before the
    row sum (no cancellation between ``sum x_i E_i`` and ``x_p sum E_i``)."""

    nargs = 3


class row_pivot(_RowNode):
    """``row_pivot(a)``: the index of the first maximum of ``a`` over the row (length-1 axis)."""

    nargs = 1


class row_take(_RowNode):
    """``row_take(v, i)``: the entries of ``v`` at the row indices ``i`` (differentiable)."""

    nargs = 2


class tracked(_RowNode):
    """``tracked(m, p)``: the value of ``m`` with the derivative of ``p`` (``m == p`` in exact
    arithmetic: the shift read at the pivot's own entries)."""

    nargs = 2


class row_positions(_RowNode):
    """``row_positions(x)``: the 1-based positions of a row of ``x``."""

    nargs = 1


class row_count(_RowNode):
    """``row_count(keep, x)``: each row's length, its kept count under a mask."""

    nargs = 2


class row_scale(_RowNode):
    """``row_scale(v, ...)``: a power of 2 per row, ``2**-e`` with ``2**(e-1) <= max |v| <
    2**e`` over the row's finite entries (1 where there are none), without derivative: the
    differences of a row of ``1e-300`` scaled to about 1, where their products' rounding
    errors are normal numbers (XLA flushes subnormals)."""


class row_sum_err(_RowNode):
    """``row_sum_err(t, s)``: the rounding error of the row sum ``s`` of ``t``, ``sum t - s``
    to about ``eps**2`` relative (a pairwise TwoSum tree): ``s`` and it are a double-double."""

    nargs = 2


class two_sum_err(_RowNode):
    """``two_sum_err(a, b)``: the rounding error of ``a + b`` (Knuth's TwoSum; no derivative)."""

    nargs = 2


class two_prod_err(_RowNode):
    """``two_prod_err(a, b)``: the rounding error of ``a b`` (Dekker's TwoProduct; no
    derivative)."""

    nargs = 2


ROW_NODES = (
    row_sum,
    row_sum_err,
    two_sum_err,
    two_prod_err,
    row_shift,
    kept,
    log_split,
    absent_term,
    finite_entries,
    safe_entry,
    frozen,
    wexp,
    dexp,
    row_pivot,
    row_take,
    tracked,
    row_positions,
    row_count,
    row_scale,
)
"""The row operations, each a base function of the native runtimes of the same name."""


class barrier(_RowNode):
    """``barrier(t)``: ``t``, kept apart from its neighbours (no fusion or reassociation
    across it, and a transposition keeps each side's order of operations)."""

    nargs = 1


class linear_row_sum_err(_RowNode):
    """:class:`row_sum_err` in linear operations only, for a row of a cotangent that the
    framework transposes."""

    nargs = 2


class linear_two_sum_err(_RowNode):
    """:class:`two_sum_err` in linear operations only (operands linear in a transposed
    cotangent)."""

    nargs = 2


class linear_two_prod_err(_RowNode):
    """:class:`two_prod_err` in linear operations only (one operand linear in a transposed
    cotangent, the other constant)."""

    nargs = 2


LINEAR_ROW_NODES = (barrier, linear_row_sum_err, linear_two_sum_err, linear_two_prod_err)
"""The row operations of a rule that its framework transposes
(:attr:`symsmooth.codegen.targets.NativeTarget.linear_rule`): base functions of those
targets' runtimes only."""
