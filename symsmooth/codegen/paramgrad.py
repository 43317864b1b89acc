"""Parameter derivatives of a row reduction, ``d value / d p``, derived from its normal form.

A reduction is ``F(S_1, ..., S_K, p)`` with ``S_k = c_k + sum_i w_k(x_i, p) exp(h_g(x_i, p))``
(:mod:`symsmooth.codegen.normalform`).  Its kernel holds ``S_k = exp(M_g) s_k``; any shift
``M_g`` gives the same value, so the derivative may take the one that moves with ``p``: the
exponent of the *pivot* of the group, ``M_g = a_g h_g(x_m)`` (``x_m`` the element of largest
``h_g``; ``a_g = 0`` when an initial value ``c_k`` dominates, which the kernel's shift then
starts at).  With ``M_g`` written in the pivot's elements *before* differentiating,

    dF/dp = d/dp F~(s, a h(x_m), p) + sum_k dF~/ds_k T_k,
    T_k = ds_k/dp = sum_i (dw_k/dp + w_k d(h_g(x_i) - a h_g(x_m))/dp) E_i,

and the large terms cancel in the symbols, not in floating point: ``LSE(k x)/k = x_m +
log(s)/k`` gives ``-log(s)/k**2 + T/(k s)``, ``T = sum_i (x_i - x_m) E_i``, two terms of one
sign (``-H(w)/k**2``, ``H`` the entropy of the softmax weights), where the textbook
``sum_i w_i x_i / k - LSE/k**2`` subtracts two numbers near ``x_m / k``.  Each weight is
``E_i = exp(c (u - v))`` (:class:`dexp`): the exponent difference ``h_g(x_i) - a h_g(x_m)``
factored (``k (x_i - x_m)``), so the kernel forms ``u - v`` and its product by ``c`` exactly
(``_dexp2``): ``fl(k x_i) - fl(k x_m)`` would err by ``|k x| eps`` (3000 ulp at ``k = 3``,
``x ~ 1000``).  Differences that a derivative brings down (``x_i - x_m``) stay a node
(:class:`ddiff`) that the double-double code forms exactly.

Examples
--------
>>> from symsmooth.codegen.normalform import decompose
>>> from symsmooth.codegen.reduction import pieces
>>> x = sp.IndexedBase("x", real=True); i = sp.Symbol("i", integer=True, positive=True)
>>> n = sp.Symbol("n", integer=True, positive=True); k = sp.Symbol("k", positive=True)
>>> plan = decompose(sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k, (x,), i, n)
>>> pg = param_gradient(plan, pieces(plan, (k,))[0], (k,), k)
>>> pg.weights[0], pg.coefs[0]
(dexp(k, x_e, _x_p0), ddiff(x_e, _x_p0))
>>> pg.result
_T0/(k*s0) - log(s0)/k**2
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.names import state_var
from symsmooth.codegen.normalform import ReductionPlan
from symsmooth.codegen.reduction import wexp


class ddiff(sp.Function):
    """``ddiff(u, v) = u - v``: a difference the double-double code forms exactly (TwoSum) and
    the plain code rounds once; a node, so that expanding a product never splits it into
    ``u a - v a`` (which cancels).

    >>> u, v = sp.symbols("u v")
    >>> ddiff(u, 0), ddiff(u, u), sp.diff(ddiff(u, v), v)
    (u, 0, -1)
    """

    nargs = 2

    @classmethod
    def eval(cls, u, v):
        if v == 0:
            return u
        if u == v:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        return sp.S.One if argindex == 1 else sp.S.NegativeOne


class dexp(sp.Function):
    """``dexp(c, u, v) = exp(c (u - v))``, printed as the helper ``_dexp`` (``_dexp2`` in
    double-double code): ``u - v`` and ``c (u - v)`` formed exactly.

    >>> c, u, v = sp.symbols("c u v")
    >>> sp.diff(dexp(c, u, v), c), dexp(c, u, u)
    (ddiff(u, v)*dexp(c, u, v), 1)
    """

    nargs = 3

    @classmethod
    def eval(cls, c, u, v):
        if c == 0 or u == v:
            return sp.S.One
        return None

    def fdiff(self, argindex=1):
        c, u, v = self.args
        if argindex == 1:
            return ddiff(u, v) * self
        return c * self if argindex == 2 else -c * self


def as_dexp(arg: sp.Expr, constants) -> sp.Expr:
    """``exp(arg)`` as :class:`dexp`: ``arg = c (u - v)`` with ``c`` free of everything but the
    ``constants`` (parameters, the row length), or ``c w`` (then ``dexp(c, w, 0)``).

    >>> k, x, m = sp.symbols("k x m", real=True)
    >>> as_dexp(k * x - k * m, {k}), as_dexp(-k * m, {k})
    (dexp(k, x, m), dexp(-k, m, 0))
    """
    arg = sp.factor_terms(sp.expand(arg))
    varying = arg.free_symbols - set(constants)
    c, rest = arg.as_independent(*varying, as_Add=False)
    if isinstance(rest, sp.Add) and len(rest.args) == 2:
        u, w = rest.args
        if u.could_extract_minus_sign():
            u, w = w, u
        return dexp(c, u, -w)
    return dexp(c, rest, 0)


@dataclass(frozen=True)
class ParamGrad:
    """The derivative of one reduction in one parameter.

    Attributes
    ----------
    param : Symbol
        The parameter (its code symbol).
    groups : tuple of int
        The shifted groups, each with a pivot.
    pivots : dict
        Group -> {element symbol (and the position ``pos_``): its pivot symbol ``_x_p<g>``}.
    flags : dict
        Group -> ``_F<g>`` (1 when an element is the pivot, 0 when the initial value is), for
        groups whose sums have an initial value.
    weights : dict
        Group -> the element's ``E_g = exp(h_g - M_g)`` as :class:`dexp`.
    coefs : tuple of sympy.Expr
        Per sum ``k``: the element's term of ``T_k`` over ``E_g`` (the term itself for a sum
        without exponent); 0 where ``s_k`` does not move with the parameter.
    inits : tuple of (sympy.Expr, sympy.Expr)
        Per sum: its initial scaled value ``c_k exp(-M_g)`` and that value's derivative.
    result : sympy.Expr
        ``d value / d p`` in the sums ``s_k``, their tangents ``T_k``, the pivots and the
        parameters (row maps: also the element, its ``E_g`` as :class:`dexp`).
    tangents : tuple of Symbol
        ``T_k`` per sum.
    """

    param: sp.Symbol
    groups: tuple
    pivots: dict
    flags: dict
    weights: dict
    coefs: tuple
    inits: tuple
    result: sp.Expr
    tangents: tuple


def pivot_symbol(element: sp.Symbol, group: int) -> sp.Symbol:
    """The element ``x_e`` (or the position ``pos_``) at the pivot of ``group``: ``_x_p<g>``."""
    base = element.name[:-2] if element.name.endswith("_e") else element.name.rstrip("_")
    return sp.Symbol(f"_{base}_p{group}", real=True)


def tangent_symbol(k: int) -> sp.Symbol:
    """``T_k = ds_k/dp`` (``_T<k>``; its double-double low part is ``_Tl<k>``)."""
    return sp.Symbol(f"_T{k}", real=True)


def param_gradient(plan: ReductionPlan, pc, params, param: sp.Symbol, stabilizer=None) -> ParamGrad:
    """The :class:`ParamGrad` of ``plan`` (pieces ``pc``) in ``param`` (module docstring).

    ``stabilizer`` rewrites each element's tangent term (``z dsigmoid(k z)`` for a sigmoid
    weight)."""
    stab = stabilizer or (lambda e: (e, ()))
    constants = set(params) | {plan.size}
    shifted = tuple(g for g in range(len(plan.groups)) if plan.shifted(g))
    local = [*plan.elements, plan.position]
    pivots = {g: {el: pivot_symbol(el, g) for el in local} for g in shifted}
    flags = {
        g: sp.Symbol(f"_F{g}", nonnegative=True)
        for g in shifted
        if any(s.init != 0 for s in plan.sums if s.group == g)
    }
    top = {g: flags.get(g, sp.S.One) * pc.exponents[g].xreplace(pivots[g]) for g in shifted}
    weights = {g: as_dexp(pc.exponents[g] - top[g], constants) for g in shifted}
    value = pc.value.xreplace({pc.shifts[g]: top[g] for g in shifted})
    value = value.replace(wexp, lambda a, m: as_dexp(a - m, constants))
    value = value.xreplace({pc.weights_e[g]: weights[g] for g in shifted})
    # the pivot's terms cancel here (x_m + log(s)/k): before any derivative is taken
    value = sp.expand(value, power_exp=False, log=False)
    coefs, inits = [], []
    for k, s in enumerate(plan.sums):
        if plan.shifted(s.group):
            e = weights[s.group]
            coef = sp.diff(pc.weights[k] * e, param).xreplace({e: sp.S.One})
            init = s.init * as_dexp(-top[s.group], constants) if s.init != 0 else sp.S.Zero
        else:
            coef, init = sp.diff(pc.weights[k], param), s.init
        coefs.append(stab(coef)[0] if coef != 0 else sp.S.Zero)
        inits.append((init, sp.diff(init, param)))
    tangents = tuple(tangent_symbol(k) for k in range(len(plan.sums)))
    result = sp.diff(value, param) + sum(
        (sp.diff(value, pc.scaled[k]) * tangents[k] for k in range(len(plan.sums))), sp.S.Zero
    )
    still = {
        t: sp.S.Zero for t, c, (_, d) in zip(tangents, coefs, inits, strict=True) if c == d == 0
    }
    result = sp.expand(result.xreplace(still), power_exp=False, log=False)
    return ParamGrad(
        param, shifted, pivots, flags, weights, tuple(coefs), tuple(inits), result, tangents
    )


def split_terms(num: sp.Expr, element_symbols) -> list[tuple[sp.Expr, sp.Expr]]:
    """``num = sum_m alpha_m beta_m``: ``alpha`` free of the elements (a row constant),
    ``beta`` the element's part, one pair per distinct ``beta`` (a row map's vector-Jacobian
    product contracts ``beta`` with the cotangent: ``sum_j G_j beta(x_j)``, one row sum each).

    >>> T, s, D, d = sp.symbols("T0 s0 D d")
    >>> x = sp.Symbol("x_e")
    >>> split_terms((-T + s * ddiff(x, d)) * dexp(1, x, d), [x])
    [(s0, ddiff(x_e, d)*dexp(1, x_e, d)), (-T0, dexp(1, x_e, d))]
    """
    out: dict = {}
    for term in sp.Add.make_args(sp.expand(num, power_exp=False, log=False)):
        alpha, beta = term.as_independent(*element_symbols, as_Add=False)
        out[beta] = out.get(beta, sp.S.Zero) + alpha
    return [
        (alpha, beta)
        for beta, alpha in sorted(out.items(), key=lambda kv: sp.default_sort_key(kv[0]))
    ]


def sums_read(expr_list, pc) -> tuple[set, set]:
    """``(k with s_k read, k with T_k read)`` by the expressions (a low part ``sl_k`` reads
    ``s_k``)."""
    names = {str(s) for e in expr_list for s in sp.sympify(e).free_symbols}
    scaled = {k for k in range(len(pc.scaled)) if state_var("sum", k) in names}
    scaled |= {k for k in range(len(pc.scaled)) if state_var("low", k) in names}
    tangent = {k for k in range(len(pc.scaled)) if tangent_symbol(k).name in names}
    return scaled, tangent
