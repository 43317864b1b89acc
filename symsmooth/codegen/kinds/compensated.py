"""Compensated gradients of reductions without a shift: sums and numerators in double-double.

A reduction whose sums have no exponent (``soft_f1 = 2 sum t p / sum (t + p)``) needs no max
shift and no pivot, but its gradient is a difference of row terms: ``dF/dt_l = D0 + D1 p_l =
2 (p_l B - A) / B^2`` with ``A = sum t p``, ``B = sum (t + p)``.  From rounded sums that
difference has no correct digit where it is small: on a row of one entry (``A = t p``,
``B = t + p``) it is exactly ``2 p^2 / B^2``, but ``fl(t + p) = t`` once ``p < eps t``, and
``p fl(t + p) - fl(t p) = 0`` (``5.6e15`` ulp at ``z = -41.76``).  The rule here:

* every weight that is one sum or product of two values keeps its rounding error
  (``sum_err``, ``product_err``: TwoSum, TwoProduct) in its sum's compensation, so
  ``s_k + sl_k`` is the exact sum of the rounded operands to ~2**-106;
* each partial is put over one denominator; its numerator, linear in the sums, is
  ``f * sum_k c_k s_k`` with the common factor ``f`` of the coefficients taken out (so the
  coefficients, ``p_l`` and ``-1`` above, are exact values), and the bracket is formed in
  double-double: TwoProduct of each ``c_k`` with ``s_k + sl_k``, TwoSum of the products
  (as the pivoted gradient's ``dd_numerator``), rounded once.

The operands (``p = fl(sigmoid(k z))``) are the same doubles in the sums and in the
coefficients, so the cancellation is exact: what is left is the conditioning of the exact
gradient in the inputs (docs/codegen.md, ``kappa``).

Examples
--------
>>> s0, s1, p = sp.symbols("s0 s1 p", positive=True)
>>> sum_numerator(2 * (p * s0 - s1), (s0, s1))
Linear(factor=2, lead=(), terms=((s0, p), (s1, -1)))
>>> k, d, t = sp.symbols("k d t", positive=True)
>>> sum_numerator(2 * k * d * (t * s0 - s1), (s0, s1)).terms
((s0, t), (s1, -1))
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import Assign, Raw, statements
from symsmooth.codegen.names import state_var
from symsmooth.codegen.pivot import Linear
from symsmooth.codegen.reduction import product_err, sum_err


def applies(plan) -> bool:
    """Whether ``plan`` is a scalar reduction whose sums have no exponent (no shift)."""
    return not plan.rowmap and not any(plan.shifted(g) for g in range(len(plan.groups)))


def weight_errors(weights: dict, folded: dict) -> list[Assign]:
    """``_wl{k} = sum_err(a, b)`` / ``product_err(a, b)`` for each weight ``a + b`` / ``a b``
    of two operands (a number is folded: exact).

    >>> t, p = sp.symbols("t_e p", real=True)
    >>> [str(a.expr) for a in weight_errors({0: t + p, 1: t * p, 2: 3 * t}, {})]
    ['sum_err(p, t_e)', 'product_err(p, t_e)']
    """
    out = []
    for k, w in weights.items():
        if k in folded or len(w.args) != 2:
            continue
        a, b = sorted(w.args, key=sp.default_sort_key)
        if isinstance(w, sp.Add):
            out.append(Assign(state_var("weight_err", k), sum_err(a, b)))
        elif isinstance(w, sp.Mul) and not (a.is_number or b.is_number):
            out.append(Assign(state_var("weight_err", k), product_err(a, b)))
    return out


def sum_numerator(numerator: sp.Expr, sums) -> Linear | None:
    """``numerator = factor * sum_k c_k s_k`` with ``factor`` the common factor of the
    coefficients (opaque calls masked), or ``None`` when it is not linear in ``sums``."""
    opaque = {a: sp.Dummy() for a in numerator.atoms(sp.Piecewise, sp.Function)}
    back = {d: a for a, d in opaque.items()}
    parts = sp.collect(sp.expand(numerator.xreplace(opaque)), list(sums), evaluate=False)
    if parts.get(sp.S.One, 0) != 0 or any(key not in sums for key in parts) or not parts:
        return None
    if any(c.free_symbols & set(sums) for c in parts.values()):
        return None
    coefs = [parts[s] for s in sums if s in parts]
    common = sp.factor_terms(sp.gcd_list(coefs)) if len(coefs) > 1 else coefs[0]
    terms = tuple((s, sp.cancel(parts[s] / common).xreplace(back)) for s in sums if s in parts)
    return Linear(common.xreplace(back), (), terms)


def numerators(pc, sub) -> list[tuple[Linear, sp.Expr]] | None:
    """Per partial of ``pc``, its :class:`~symsmooth.codegen.pivot.Linear` numerator in the
    sums and its denominator, or ``None`` when some partial is not of that form."""
    rows = {d: dv for d, dv in zip(pc.derivs, pc.dvalue, strict=True)}
    out = []
    for partial in pc.partials:
        num, den = sp.fraction(sp.together(sub(partial.xreplace(rows))))
        lin = sum_numerator(num, pc.scaled)
        if lin is None:
            return None
        out.append((lin, den))
    return out


def gradient_statements(pc, sub) -> tuple[list, set[int]] | None:
    """The gradient statements of a compensated reduction and the sums whose low parts they
    read; ``None`` when a partial is not linear in the sums.

    Per partial ``j``: its factor ``_f{j}``, denominator ``_n{j}`` and coefficients
    ``_k{j}_i`` as statements (printed by each printer: the fast CPU loop calls the same
    helpers as its sum pass, so a coefficient ``p_l`` is the very double the sums added), then
    the bracket ``sum_i _k{j}_i (s_i + sl_i)``: TwoProduct of each ``_k{j}_i s_i``, then
    every piece summed by TwoSum (Sum2, Ogita, Rump and Oishi 2005), rounded once,
    and ``_g{j} = _f{j} * bracket / _n{j}``."""
    found = numerators(pc, sub)
    if found is None:
        return None
    index = {s: k for k, s in enumerate(pc.scaled)}
    used: set[int] = set()
    out: list = []
    for j, (lin, den) in enumerate(found):
        coefs = [f"_k{j}_{i}" for i in range(len(lin.terms))]
        exprs = [sub(lin.factor), den] + [sub(c) for _, c in lin.terms]
        out += statements(exprs, [f"_f{j}", f"_n{j}", *coefs], f"_c{j}_")
        # every piece (products, their errors, the terms of the low parts) is added by TwoSum
        # (Ogita, Rump and Oishi's Sum2): t p - p t cancels exactly, then the errors e - e, and
        # what is left, p * sl, is not swamped by the errors it sat between
        chain, pieces = [], []
        for i, (coef, (total, _)) in enumerate(zip(coefs, lin.terms, strict=True)):
            used.add(index[total])
            chain.append(f"_x{j}_{i}, _e{j}_{i} = _two_product({coef}, {total})")
            low = state_var("low", index[total])
            pieces.append((f"_x{j}_{i}", f"_e{j}_{i}", f"{coef} * {low}"))
        chain += [f"_u{j} = 0.0", f"_ul{j} = 0.0"]
        for column in range(3):
            for piece in pieces:
                chain += [f"_u{j}, _e = _two_sum(_u{j}, {piece[column]})", f"_ul{j} += _e"]
        chain.append(f"{state_var('grad', j)} = (_f{j} * (_u{j} + _ul{j})) / _n{j}")
        out += [Raw(line) for line in chain]
    return out, used
