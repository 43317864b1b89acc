"""The pivoted input gradient of a native reduction: cancellation-free at a confident row.

Autodiff of a ratio of sums (softmax, soft argmax, cross-entropy ``LSE - x_t``) gives, at the
row's maximum ``m`` of a confident row (``p_m ~ 1``), a difference of two numbers near 1:
``p_m (1 - p_m)``, ``p_t - 1``.  The Numba kernels' pivoted form
(:func:`symsmooth.codegen.pivot.pivot_form`) writes each sum of the shifted group as
``s_k = P_k + r_k``, ``P_k`` the pivot's own term and ``r_k`` the sum over the *other*
entries, so the gradient at the pivot is formed from ``r_k`` (``-r/s`` for cross-entropy at
its target) and keeps its digits.  This module prints that form in framework ops, over the
rows the native value is computed on (:func:`symsmooth.codegen.native_rows.rows_statements`
with :func:`pivot_gradient` as its ``extend``): the rows function ``_pgrad_<name>`` returns
the gradient of each input (the VJP with the cotangent rows ``G_rows`` for a row map) and
where the row has a pivot (elsewhere the template falls back to autodiff).

Examples
--------
>>> from symsmooth import pipeline
>>> from symsmooth.codegen.native_printer import TorchPrinter
>>> from symsmooth.codegen.native_rows import lines, rows_statements
>>> stmts = rows_statements(pipeline.kernel_spec("cross_entropy_lse"), pivot_gradient, False)
>>> print(lines(stmts, TorchPrinter())[-1])
return (_gx0, _atp1)
>>> rows_statements(pipeline.kernel_spec("logsumexp_max"), pivot_gradient, False) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.emit import Assign
from symsmooth.codegen.names import COTANGENT, POSITION, derived_var, state_var
from symsmooth.codegen.native_row_nodes import (
    barrier,
    kept,
    linear_row_sum_err,
    linear_two_prod_err,
    linear_two_sum_err,
    row_sum,
    row_sum_err,
    row_take,
    safe_entry,
    two_prod_err,
    two_sum_err,
    wexp,
)
from symsmooth.codegen.native_rows import KEEP_ROWS, tracked_shift
from symsmooth.codegen.pivot import linear_numerator, pivot_form
from symsmooth.codegen.recipes import finite
from symsmooth.codegen.reduction import wexp as shifted_exp

__all__ = ["COTANGENT_ROWS", "pivot_gradient"]

COTANGENT_ROWS = sp.Symbol(derived_var("rows", COTANGENT), real=True)
"""The cotangent of a row map's output (rows last), an argument of ``_pgrad_<name>``."""


@dataclass(frozen=True)
class ErrorFree:
    """The row nodes of the error-free transformations a double-double is formed with."""

    row_sum_err: type
    two_sum_err: type
    two_prod_err: type


PLAIN = ErrorFree(row_sum_err, two_sum_err, two_prod_err)
"""The rounding errors without derivative (``stop_gradient``), 0 where not finite."""

LINEAR = ErrorFree(linear_row_sum_err, linear_two_sum_err, linear_two_prod_err)
"""The same in linear operations only, for what depends on a cotangent the framework
transposes (``jax.linear_transpose``: ``stop_gradient`` and a finiteness test of a linear
value are not linear)."""


def pivot_gradient(spec, context: dict, linear: bool = False):
    """``(statements, (grad_0, ..., from_pivot))`` of the pivoted input gradient, or ``None``
    when the reduction has no pivoted form (:func:`~symsmooth.codegen.pivot.pivot_form`) or
    its group's shift is not read at a pivot (see ``rows_statements``'s ``extend``).

    The sums and the numerator are double-doubles (:func:`_small_sum`, :func:`_dd_numerator`).
    With ``linear`` (a row map's rule that the framework transposes twice: JAX's JVP is the
    transpose of this VJP and reverse mode transposes it back), what depends on the
    cotangent takes the :data:`LINEAR` error-free transformations and every statement is
    behind a ``barrier``, so that the twice-transposed rule is this one, operation for
    operation (``tests/test_native_rowmap_vjp.py`` checks it bit for bit)."""
    plan, pc = spec.plan, spec.pieces
    pv = pivot_form(plan, pc)
    pivots = context["pivots"]
    if pv is None or pv.group not in pivots:
        return None
    g, local, safe = pv.group, context["local"], context["safe"]
    index = sp.Symbol(state_var("pivot_index", g), integer=True)
    position = sp.Symbol(POSITION, positive=True)
    element_cot = sp.Symbol(derived_var("element", COTANGENT), real=True)
    at = sp.Eq(position - 1, index)  # the pivot's own entry
    stmts, rule = [], {}
    for element, symbol in pv.pivot_elements.items():
        if element == element_cot:
            source = COTANGENT_ROWS
        elif str(element) == POSITION:
            source = position
        else:
            source = safe[local[element]]
        name = f"_gq_{symbol}"  # the pivot's entry of each operand (generator names: _...)
        stmts.append(Assign(name, row_take(source, index)))
        rule[symbol] = sp.Symbol(name, real=True)
    rule.update({el: arr for el, arr in local.items()})
    rule[element_cot] = COTANGENT_ROWS
    # a shift the gradient reads (a gathered entry's factor exp(k x_t - M)) carries the
    # pivot's derivative as its sums do: with M frozen, the derivative of this gradient (the
    # value's second) missed d/dx_p and d/dk of the factor (smooth accuracy's Hessian)
    rule[pc.shifts[g]] = tracked_shift(pivots[g], pc.shifts[g])
    sums = {state_var("pivot_sum", k): k for k in pv.sums}
    for j, term in enumerate(sorted(pv.pivot_terms, key=str)):
        name = f"_gP{j}"
        if str(term) in sums:
            # the pivot's own term read from the row (its weight times E_m = 1 exactly), so
            # that the derivative of this gradient (the value's second) sees it move
            value = row_take(sp.Symbol(state_var("term", sums[str(term)]), real=True), index)
        else:
            value = pv.pivot_terms[term].xreplace(rule)
        stmts.append(Assign(name, value))
        rule[term] = sp.Symbol(name, real=True)
    weight = pc.weights_e[g]
    small = {state_var("small_sum", k): k for k in pv.sums}
    low = {}  # small sum -> the name of its low part: each small sum is a double-double
    for j, symbol in enumerate(pv.small):
        eft = LINEAR if linear and symbol in pv.adjoint_terms else PLAIN
        stmts += _small_sum(j, symbol, pv, rule, weight, at, small, eft)
        rule[symbol] = sp.Symbol(f"_gr{j}", real=True)
        low[symbol] = sp.Symbol(f"_gr{j}l", real=True)
    # the full sums of the group as the form splits them: the pivot's part plus the rest
    by_name = {str(t): rule[t] for t in [*pv.pivot_terms, *pv.small]}
    low_by_name = {str(t): low[t] for t in pv.small}
    for k in pv.sums:
        pivot_part = by_name.get(state_var("pivot_sum", k), 0)
        name = state_var("small_sum", k)
        rule[pc.scaled[k]] = pivot_part + by_name[name] + low_by_name[name]
    plain = {pc.scaled[k] for k, sm in enumerate(plan.sums) if not plan.shifted(sm.group)}
    grads = []
    for j, (lead, rest, den, weighted) in enumerate(
        zip(pv.leading, pv.rest, pv.denominator, pv.weighted, strict=True)
    ):
        lin = linear_numerator(lead, rest, pv.small)
        if lin is None:  # the r-free part first: exact (0 at a pivot that is the target)
            parts = []
            for part, text in ((lead, "_gl"), (rest, "_gs")):
                stmts.append(Assign(f"{text}{j}", _framework(part, rule)))
                parts.append(sp.Symbol(f"{text}{j}", real=True))
            total = sp.Add(*parts, evaluate=False)
        else:
            eft = LINEAR if linear and plan.rowmap else PLAIN
            more, total = _dd_numerator(j, lin, rule, low, eft, set(pv.adjoint_terms), plain)
            stmts += more
        expr = (weight if weighted else 1) * total / den.xreplace(rule)
        name = f"_gx{j}"
        stmts.append(Assign(name, kept(KEEP_ROWS, expr, 0)))
        grads.append(sp.Symbol(name, real=True))
    if linear and plan.rowmap:
        stmts = [Assign(a.target, a.expr if a.expr.is_Number else barrier(a.expr)) for a in stmts]
    return stmts, sp.Tuple(*grads, pivots[g]["from"])


def _framework(expr: sp.Expr, rule: dict) -> sp.Expr:
    """``expr`` over the rows' names (``rule``), its row constants ``wexp(., M)`` as row nodes."""
    expr = sp.sympify(expr).xreplace(rule)
    return expr.replace(lambda e: isinstance(e, shifted_exp), lambda e: wexp(*e.args))


def _small_sum(j: int, symbol, pv, rule: dict, weight, at, small: dict, eft: ErrorFree) -> list:
    """The statements of the small sum ``symbol`` (over the entries other than the pivot) as
    a double-double ``_gr{j} + _gr{j}l``: the row sum and its rounding error
    (``eft.row_sum_err``), and for an adjoint sum ``sum G_i u(x_i) E_i`` the rounding errors
    of the products ``coef_i E_i`` too (``eft.two_prod_err``), as the Numba kernels
    accumulate them: where the cotangent nearly cancels, ``G_l r_0 - r_1`` is then exact but
    for the weights' own rounding."""
    out = []
    if symbol in pv.adjoint_terms:
        coef = sp.cancel(pv.adjoint_terms[symbol] / weight)
        if weight in coef.free_symbols:  # not E_g times a factor free of it: plain
            hi, err = pv.adjoint_terms[symbol], None
        else:
            coef = _framework(coef, rule)
            out.append(Assign(f"_gc{j}", coef))
            coef = sp.Symbol(f"_gc{j}", real=True)
            hi, err = coef * weight, eft.two_prod_err(coef, weight)
        hi = kept(KEEP_ROWS, _framework(hi, rule), 0)
    else:
        hi, err = sp.Symbol(state_var("term", small[str(symbol)]), real=True), None
    entries = sp.Symbol(f"_ge{j}", real=True)
    total = sp.Symbol(f"_gr{j}", real=True)
    out += [
        Assign(str(entries), sp.Piecewise((0, at), (hi, True))),
        Assign(str(total), row_sum(entries)),
    ]
    lo = eft.row_sum_err(entries, total)
    if err is not None:
        lo = lo + row_sum(sp.Piecewise((0, at), (kept(KEEP_ROWS, err, 0), True)))
    out.append(Assign(f"_gr{j}l", lo))
    return out


def _safe_in_sums(expr: sp.Expr, sums) -> sp.Expr:
    """``expr`` with its derivative read on the safe twin of each plain sum it reads ("double
    where": ``expr`` at ``s`` where ``s`` is finite, else its value without derivative).  A
    gathered label entry ``x_t = -inf`` makes smooth accuracy's factor ``k exp(k s - M)`` 0,
    and its derivative in ``k`` ``s exp(k s - M) = -inf * 0``: NaN in the Hessian's block
    ``d grad_x / dk`` where the limit is 0."""
    for s in sorted(expr.free_symbols & set(sums), key=str):
        fin = finite(s)
        expr = safe_entry(fin, expr.xreplace({s: kept(fin, s, 0)}), expr)
    return expr


def _dd_numerator(
    j: int,
    lin,
    rule: dict,
    low: dict,
    eft: ErrorFree,
    adjoint: set = frozenset(),
    plain: set = frozenset(),
) -> tuple[list, sp.Expr]:
    """The statements of the numerator ``factor (sum lead + sum_k coef_k small_k)`` of
    :func:`~symsmooth.codegen.pivot.linear_numerator`, the bracket in double-double as the
    Numba kernels form it (``symsmooth/codegen/kinds/pivoted.py``): TwoSum of each addition,
    TwoProduct of each ``coef_k`` with the high part of ``small_k`` plus ``coef_k`` times its
    low part; the errors carry no derivative, so the derivative of the result (the value's
    second) is that of ``factor (lead + rest)``.  ``eft``: the error-free transformations
    (:data:`LINEAR` where the cotangent is transposed; its TwoProduct takes the operand linear
    in the cotangent first: an ``adjoint`` small sum, or a coefficient that reads it).
    Returns ``(statements, numerator)``."""
    out = []
    lead = [_framework(t, rule) for t in lin.lead] or [sp.S.Zero]
    u, ul = sp.Symbol(f"_gu{j}_0", real=True), sp.Symbol(f"_gul{j}_0", real=True)
    out += [Assign(str(u), lead[0]), Assign(str(ul), sp.S.Zero)]
    steps = [(t, sp.S.Zero) for t in lead[1:]]
    for small, coef in lin.terms:
        c = _framework(coef, rule)
        hi = rule[small]
        exact = _unit_valued(c)  # a product by 0 or +-1 rounds nothing
        pair = (hi, c) if small in adjoint and not c.has(COTANGENT_ROWS) else (c, hi)
        steps.append((c * hi, c * low[small] + (0 if exact else eft.two_prod_err(*pair))))
    for n, (x, err) in enumerate(steps, start=1):
        xs = sp.Symbol(f"_gt{j}_{n}", real=True)
        nu, nul = sp.Symbol(f"_gu{j}_{n}", real=True), sp.Symbol(f"_gul{j}_{n}", real=True)
        out += [
            Assign(str(xs), x),
            Assign(str(nu), u + xs),
            Assign(str(nul), ul + err + eft.two_sum_err(u, xs)),
        ]
        u, ul = nu, nul
    factor = sp.Symbol(f"_gf{j}", real=True)
    out.append(Assign(str(factor), _safe_in_sums(_framework(lin.factor, rule), plain)))
    return out, sp.Mul(factor, sp.Add(u, ul, evaluate=False), evaluate=False)


def _unit_valued(c: sp.Expr) -> bool:
    """Whether ``c`` only takes the values 0, 1 and -1 (a sign, an indicator such as
    cross-entropy's ``[i = t]``), so that its products are exact and need no TwoProduct.

    >>> i, t = sp.symbols("i t")
    >>> _unit_valued(-sp.Piecewise((1, sp.Eq(i, t)), (0, True))), _unit_valued(sp.Integer(2))
    (True, False)
    """
    if c.is_Number:
        return c in (sp.S.Zero, sp.S.One, sp.S.NegativeOne)
    if isinstance(c, sp.Mul) and len(c.args) == 2 and c.args[0] == sp.S.NegativeOne:
        return _unit_valued(c.args[1])
    if isinstance(c, sp.Piecewise):
        return all(_unit_valued(value) for value, _ in c.args)
    return False
