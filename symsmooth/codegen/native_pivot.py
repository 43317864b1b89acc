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

import sympy as sp

from symsmooth.codegen.emit import Assign
from symsmooth.codegen.names import COTANGENT, POSITION, derived_var, state_var
from symsmooth.codegen.native_row_nodes import kept, row_sum, row_take, wexp
from symsmooth.codegen.native_rows import KEEP_ROWS
from symsmooth.codegen.pivot import pivot_form
from symsmooth.codegen.reduction import wexp as shifted_exp

__all__ = ["COTANGENT_ROWS", "pivot_gradient"]

COTANGENT_ROWS = sp.Symbol(derived_var("rows", COTANGENT), real=True)
"""The cotangent of a row map's output (rows last), an argument of ``_pgrad_<name>``."""


def pivot_gradient(spec, context: dict):
    """``(statements, (grad_0, ..., from_pivot))`` of the pivoted input gradient, or ``None``
    when the reduction has no pivoted form (:func:`~symsmooth.codegen.pivot.pivot_form`) or
    its group's shift is not read at a pivot (see ``rows_statements``'s ``extend``)."""
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
    small = {state_var("small_sum", k): k for k in pv.sums}
    for j, symbol in enumerate(pv.small):
        if symbol in pv.adjoint_terms:
            entry = kept(KEEP_ROWS, pv.adjoint_terms[symbol].xreplace(rule), 0)
        else:
            entry = sp.Symbol(state_var("term", small[str(symbol)]), real=True)
        name = f"_gr{j}"
        stmts.append(Assign(name, row_sum(sp.Piecewise((0, at), (entry, True)))))
        rule[symbol] = sp.Symbol(name, real=True)
    # the full sums of the group as the form splits them: the pivot's part plus the rest
    by_name = {str(t): rule[t] for t in [*pv.pivot_terms, *pv.small]}
    for k in pv.sums:
        pivot_part = by_name.get(state_var("pivot_sum", k), 0)
        rule[pc.scaled[k]] = pivot_part + by_name[state_var("small_sum", k)]
    weight = pc.weights_e[g]
    grads = []
    for j, (lead, rest, den, weighted) in enumerate(
        zip(pv.leading, pv.rest, pv.denominator, pv.weighted, strict=True)
    ):
        # the r-free part first: exact (0 at a pivot that is the target), then the small rest
        parts = []
        for part, text in ((lead, "_gl"), (rest, "_gs")):
            part = part.xreplace(rule)
            part = part.replace(lambda e: isinstance(e, shifted_exp), lambda e: wexp(*e.args))
            stmts.append(Assign(f"{text}{j}", part))
            parts.append(sp.Symbol(f"{text}{j}", real=True))
        total = sp.Add(*parts, evaluate=False)
        expr = (weight if weighted else 1) * total / den.xreplace(rule)
        name = f"_gx{j}"
        stmts.append(Assign(name, kept(KEEP_ROWS, expr, 0)))
        grads.append(sp.Symbol(name, real=True))
    return stmts, sp.Tuple(*grads, pivots[g]["from"])
