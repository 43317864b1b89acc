"""Stable pieces of a one-pass row kernel, derived from a :class:`ReductionPlan`.

Each exact sum ``S_k`` is held in the kernel as ``S_k = exp(M_g) * s_k``: ``M_g`` is the running
maximum of the group's exponent (0 when the exponent does not depend on the row or the row has
no finite entry) and ``s_k`` is accumulated with online rescaling.  Substituting that into ``F``
and expanding logarithms gives ``log S = M + log s`` and cancels ``exp(M)`` in ratios of sums
with the same exponent, so nothing overflows.  Each element's weight ``exp(h - M)`` is the
symbol ``E_g`` (computed by the helper ``_wexp``, which fixes the edge cases).

Gradients follow by the chain rule through the ``s_k`` with the shifts held constant:
``dF/dv_l = sum_k dF/ds_k * (dw_k/dv + w_k dh_k/dv)(l) * E_g(l)``, a second elementwise pass.
For row maps (softmax) the generated gradient is the vector-Jacobian product with a cotangent
``G``: ``G_l dF/dv(l) + sum_k R_k (dw_k/dv + w_k dh_k/dv)(l) E_g(l)`` with
``R_k = sum_j G_j dF/ds_k(j)``, a second sum over the row.

References
----------
M. Milakov, N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867 (2018):
the online max-shift rescaling.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.normalform import decompose
>>> x = sp.IndexedBase("x", real=True); i = sp.Symbol("i", integer=True, positive=True)
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> plan = decompose(sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n))), (x,), i, n)
>>> p, _ = pieces(plan, ())
>>> p.value, p.dvalue
(M0 + log(s0), (1/s0,))
>>> p.partials
(Piecewise((0, Eq(E0, 0)), (D0*E0, True)),)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.names import COTANGENT, derived_var, state_var
from symsmooth.codegen.normalform import ReductionPlan


@dataclass(frozen=True)
class Pieces:
    """Symbols and stable expressions of one reduction kernel.

    Attributes
    ----------
    scaled, shifts, weights_e : tuple of Symbol
        ``s_k``, ``M_g`` and ``E_g`` (``exp(h_g - M_g)`` of the current element).
    cotangent : Symbol
        ``G`` (the element of the cotangent, row maps only).
    adjoints : tuple of Symbol
        ``R_k`` (row maps only).
    derivs : tuple of Symbol
        ``D_k``: the row constants ``dF/ds_k`` (scalar reductions) used in ``partials``.
    value : sympy.Expr
        ``F`` in the shifted variables (per row, or per element for row maps).
    dvalue : tuple of sympy.Expr
        ``dF/ds_k``.
    weights : tuple of sympy.Expr
        Stable ``w_k`` per sum, in the element symbols.
    exponents : tuple of sympy.Expr
        Stable ``h_g`` per group.
    partials : tuple of sympy.Expr
        Per input vector, the gradient (or VJP) at one element.
    """

    scaled: tuple
    shifts: tuple
    weights_e: tuple
    cotangent: sp.Symbol
    adjoints: tuple
    derivs: tuple
    value: sp.Expr
    dvalue: tuple
    weights: tuple
    exponents: tuple
    partials: tuple


class wexp(sp.Function):
    """``wexp(a, m) = exp(a - m)``, printed as the helper ``_wexp`` that forms ``a - m`` exactly
    (so the exponential of a difference of large numbers keeps its digits)."""

    nargs = 2

    def fdiff(self, argindex=1):
        return self if argindex == 1 else -self


class logdd(sp.Function):
    """``logdd(a, s, l) = a + log(s + l)`` of a compensated sum carried as a double-double,
    printed as the helper ``_logdd``: ``(a + e ln2_hi) + (e ln2_lo + log1p(f))``, so a sum
    ``1 + r`` with ``r`` below an ulp of 1 keeps ``log(1 + r) = r`` (log-sum-exp as
    ``M + log1p(sum of the non-maximal terms)``) and a shift ``a`` cancels exactly."""

    nargs = 3


class sum_err(sp.Function):
    """``sum_err(a, b) = a + b - fl(a + b)``: the rounding error of a weight ``a + b``, printed
    as the helper ``_sum_err`` (TwoSum); a compensated sum adds it to its compensation."""

    nargs = 2


class product_err(sp.Function):
    """``product_err(a, b) = a b - fl(a b)``: the rounding error of a weight ``a b``, printed
    as the helper ``_product_err`` (TwoProduct)."""

    nargs = 2


def low_logs(value: sp.Expr, scaled, lows) -> tuple[sp.Expr, tuple[int, ...]]:
    """``log(s_k) -> logdd(0, s_k, l_k)`` in ``value``, and the indices ``k`` it replaced; a
    value ``c (L + log s_k)`` with one logarithm becomes ``c logdd(L, s_k, l_k)``: the linear
    part ``L`` (a shift ``M``, or ``M - k x_t``, formed as exactly as ``M``: ``>= 0`` when the
    entry's exponent is rounded like the maximum's) is added before the small ``log1p``.

    >>> s0, l0, x, k, M = sp.symbols("s0 l0 x k M0", positive=True)
    >>> low_logs(M / k + sp.log(s0) / k - x, (s0,), (l0,))
    (logdd(M0 - k*x, s0, l0)/k, (0,))
    >>> low_logs(x * sp.log(s0) + sp.log(s0 + 1), (s0,), (l0,))
    (x*logdd(0, s0, l0) + log(s0 + 1), (0,))
    """
    used = tuple(k for k, s in enumerate(scaled) if value.has(sp.log(s)))
    rule = {sp.log(scaled[k]): logdd(sp.S.Zero, scaled[k], lows[k]) for k in used}
    out = value.xreplace(rule)
    terms = sp.Add.make_args(sp.expand(out))
    logs = [t for t in terms if t.has(logdd)]
    if len(logs) == 1:
        coef, node = logs[0].as_independent(logdd, as_Add=False)
        lin = [t for t in terms if t is not logs[0]]
        if isinstance(node, logdd) and not any(t.atoms(sp.Function) for t in lin):
            shift = sp.expand(sp.Add(*lin) / coef)
            out = coef * logdd(shift, *node.args[1:])
    return out, used


class fsexp(sp.Function):
    """``fsexp(a, m) = exp(a - m)`` for ``a <= m`` finite: the branch-free ``_fsexp`` of
    :mod:`symsmooth.runtime.fastmath` (the lean value pass of a row with finite shifts)."""

    nargs = 2


def _replace_weights(expr: sp.Expr, plan: ReductionPlan, shifts, weights_e) -> sp.Expr:
    """``exp(h_g - M_g) -> E_g``; any other ``exp(a - M_g) -> wexp(a, M_g)``."""
    targets = [sp.expand(h - m) for h, m in zip(plan.groups, shifts, strict=False)]

    def swap(node):
        if not isinstance(node, sp.exp):
            return None
        arg = sp.expand(node.args[0])
        for g, target in enumerate(targets):
            if plan.shifted(g) and arg == target:
                return weights_e[g]
        for m in shifts:
            if arg.coeff(m) == -1:
                return wexp(arg + m, m)
        return None

    return expr.replace(lambda e: swap(e) is not None, swap)


def _guard(weight: sp.Symbol, expr: sp.Expr) -> sp.Expr:
    """``0 if weight == 0 else expr``: an element with no weight contributes exactly 0."""
    if expr == 0:
        return sp.S.Zero
    return sp.Piecewise((sp.S.Zero, sp.Eq(weight, 0)), (expr, True))


def masked(plan: ReductionPlan, group: int) -> bool:
    """Whether every weight of ``group`` can be exactly 0 (none is a nonzero number): then an
    element may be absent from the group's maximum, and its ``exp(h - M)`` may overflow."""
    return not any(s.w.is_number and s.w != 0 for s in plan.sums if s.group == group)


def _absent(weight: sp.Expr, expr: sp.Expr) -> sp.Expr:
    """``0 if weight == 0 else expr`` for a weight that can be 0 (not a nonzero number)."""
    if expr == 0 or (weight.is_number and weight != 0):
        return expr
    return sp.Piecewise((sp.S.Zero, sp.Eq(weight, 0)), (expr, True))


def pieces(plan: ReductionPlan, params, stabilizer=None) -> tuple[Pieces, tuple[str, ...]]:
    """The :class:`Pieces` of ``plan`` and the stabilization rules they used."""
    stabilizer = stabilizer or (lambda e: (e, ()))
    applied: set[str] = set()

    def stab(e):
        out, rules = stabilizer(e)
        applied.update(rules)
        return out

    ns = len(plan.sums)
    scaled = tuple(sp.Symbol(state_var("sum", k), positive=True) for k in range(ns))
    shifts = tuple(sp.Symbol(state_var("shift", g), real=True) for g in range(len(plan.groups)))
    weights_e = tuple(
        sp.Symbol(state_var("weight", g), nonnegative=True) for g in range(len(plan.groups))
    )
    cotangent = sp.Symbol(derived_var("element", COTANGENT), real=True)
    adjoints = tuple(sp.Symbol(state_var("adjoint", k), real=True) for k in range(ns))
    derivs = tuple(sp.Symbol(state_var("row_deriv", k), real=True) for k in range(ns))

    to_scaled = {}
    for k, (total, term) in enumerate(zip(plan.totals, plan.sums, strict=False)):
        shift = shifts[term.group] if plan.shifted(term.group) else sp.S.Zero
        to_scaled[total] = sp.exp(shift) * scaled[k]
    value = sp.powsimp(sp.expand_log(plan.outer.xreplace(to_scaled), force=True))
    value = stab(_replace_weights(value, plan, shifts, weights_e))
    dvalue = tuple(stab(sp.diff(value, s)) for s in scaled)
    weights = tuple(stab(t.w) for t in plan.sums)
    # factor_terms undoes the normal form's expansion (k y - k p y -> k y (1 - p)): exact, and
    # the factored exponent neither cancels at p ~ 1 nor turns y = -inf into -inf + inf = NaN
    exponents = tuple(stab(sp.factor_terms(h)) for h in plan.groups)

    partials = []
    for element in plan.elements:
        total = sp.S.Zero
        for k, term in enumerate(plan.sums):
            # w * dh/dv is guarded on w == 0: an absent term (weight exactly 0, see the
            # kinds' absent_terms) contributes 0 even where exp(h - M) overflows (0 * inf)
            dw = sp.diff(weights[k], element)
            dh = weights[k] * sp.diff(exponents[term.group], element)
            if dw == 0 and dh == 0:
                continue
            factor = adjoints[k] if plan.rowmap else derivs[k]
            if plan.shifted(term.group) and masked(plan, term.group):
                e = weights_e[term.group]
                total += _guard(e, factor * dw * e) + _absent(
                    weights[k], _guard(e, factor * dh * e)
                )
            elif plan.shifted(term.group):
                e = weights_e[term.group]
                total += _guard(e, factor * (dw + dh) * e)
            else:
                total += factor * (dw + dh)
        if plan.rowmap:
            # dF/dv at the element itself: through x_e directly and through E_g(x_e)
            direct = sp.diff(value, element)
            for g, e in enumerate(weights_e):
                if plan.shifted(g) and value.has(e):
                    direct += sp.diff(value, e) * e * sp.diff(exponents[g], element)
            total = cotangent * direct + total
        partials.append(stab(total))

    return (
        Pieces(
            scaled=scaled,
            shifts=shifts,
            weights_e=weights_e,
            cotangent=cotangent,
            adjoints=adjoints,
            derivs=derivs,
            value=value,
            dvalue=dvalue,
            weights=weights,
            exponents=exponents,
            partials=tuple(partials),
        ),
        tuple(sorted(applied)),
    )
