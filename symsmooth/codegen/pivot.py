"""Pivoted gradients of a row reduction: cancellation-free forms for ratio-of-sums reductions.

When one element dominates a row (``p_m = E_m / s ~ 1``), the gradient of a ratio of sums
(soft argmax ``k p_l (l - sum_i i p_i)``, the softmax VJP ``k p_l (G_l - sum_i G_i p_i)``) is a
difference of two nearly equal numbers at the dominant element: computed from the rounded
sums it has no correct digit (1e15 ulp on rows with a wide spread).  The pivoted form writes
every sum of the shifted group as ``s_k = P_k + r_k``: ``P_k = w_k(x_m)`` is the term of the
*pivot* ``m`` (the first element with ``exp(h_m - M) = 1``) and ``r_k = sum_{i != m} w_k E_i``
is accumulated without it.  For row maps the adjoint sums ``R_k = c_k(s) U_k`` are split the
same way, ``U_k = Q_k + V_k`` with ``Q_k = G_m u_k(x_m)``.  Over a common denominator the
numerator is a polynomial in ``r, V``; its ``r, V``-free part (``k (l - m)``,
``k (G_l - G_m)``) is factored and added first: it is exact or a single rounding, and the rest
is small where the answer is small.  So ``d/dx_m`` keeps its relative accuracy however close
``p_m`` is to 1.

Applies to reductions with one shifted group whose sums start at 0 and whose every partial is
``E_g * phi`` (the weight of the element times a factor free of it), or ``free + E_g * phi``
with ``free`` free of the weight (the derivative through a gathered label entry ``x_t``: the
gradient of cross-entropy ``p_l - [l = t]``, of smooth accuracy ``k p_t ([l = t] - p_l)``); then
both parts share one numerator, ``E_l - [l = t] (P + r)``, which is ``-r`` at a pivot ``m = t``:
minus the sum of the non-target weights, not ``1 - p_t`` (0 on a confident row).  Otherwise
``None`` and the kernel keeps the plain chain rule.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.normalform import decompose
>>> from symsmooth.codegen.reduction import pieces
>>> x = sp.IndexedBase("x", real=True); i = sp.Symbol("i", integer=True, positive=True)
>>> n = sp.Symbol("n", integer=True, positive=True); k = sp.Symbol("k", positive=True)
>>> expr = sp.Sum(i * sp.exp(k * x[i]), (i, 1, n)) / sp.Sum(sp.exp(k * x[i]), (i, 1, n))
>>> plan = decompose(expr, (x,), i, n)
>>> piv = pivot_form(plan, pieces(plan, ())[0])
>>> piv.leading[0], piv.rest[0]
(k*(pos_ - pos_p), k*(pos_*r0 - r1))
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.names import COTANGENT, PIVOT_POSITION, derived_var, state_var
from symsmooth.codegen.normalform import ReductionPlan


@dataclass(frozen=True)
class Pivoted:
    """The pivoted gradient of one reduction.

    Attributes
    ----------
    group : int
        The shifted group whose sums are split at the pivot.
    sums : tuple of int
        The sums of that group (``r_k``, ``P_k``).
    pivot_elements : dict
        Element symbol -> its pivot symbol (``x_e -> x_p``; ``pos_ -> pos_p``; ``G_e -> G_p``).
    pivot_terms : dict
        ``P_k`` / ``Q_k`` symbol -> expression in the pivot symbols.
    adjoint_terms : dict
        ``V_k`` symbol -> per-element term ``G_e u_k`` (row maps; summed over ``i != m``).
    leading, rest, denominator : tuple of sympy.Expr
        Per input vector: ``grad = E_g (leading + rest) / denominator``.
    small : tuple of Symbol
        The sums over ``i != m`` (``r_k``, then ``V_k``) that ``rest`` is made of.
    weighted : tuple of bool
        Per input vector: whether ``grad = E_g (leading + rest) / denominator`` (the partial
        scales with the element's weight), or, ``False``, ``grad = (leading + rest) /
        denominator`` with ``E_g`` inside ``leading`` (a term free of it, :func:`_weighted_split`).
    """

    group: int
    sums: tuple
    pivot_elements: dict
    pivot_terms: dict
    adjoint_terms: dict
    leading: tuple
    rest: tuple
    denominator: tuple
    small: tuple = ()
    weighted: tuple = ()


def _unguard(expr: sp.Expr) -> sp.Expr:
    """Drop the ``0 if E == 0`` guards (the pivoted kernel guards the whole partial)."""
    return expr.replace(
        lambda e: isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0][0] == 0,
        lambda e: e.args[1][0],
    )


def _split(numerator: sp.Expr, small) -> tuple[sp.Expr, sp.Expr]:
    """``numerator = leading + rest`` with ``leading`` free of the ``small`` symbols."""
    lead, rest = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(sp.expand(numerator)):
        if term.free_symbols & set(small):
            rest += term
        else:
            lead += term
    return sp.factor(lead), sp.factor_terms(rest)


def pivot_form(plan: ReductionPlan, pc) -> Pivoted | None:
    """The :class:`Pivoted` gradient of ``plan`` (pieces ``pc``), or ``None`` if not applicable."""
    shifted = [g for g in range(len(plan.groups)) if plan.shifted(g)]
    if len(shifted) != 1:
        return None
    g = shifted[0]
    ks = [k for k, s in enumerate(plan.sums) if s.group == g]
    if any(plan.sums[k].init != 0 for k in ks):
        return None
    e = pc.weights_e[g]
    pivots = {el: sp.Symbol(derived_var("pivot", el.name[:-2]), real=True) for el in plan.elements}
    pivots[plan.position] = sp.Symbol(PIVOT_POSITION, positive=True)
    pivots[pc.cotangent] = sp.Symbol(derived_var("pivot", COTANGENT), real=True)
    at_pivot = {**pivots, e: sp.S.One}
    small = [sp.Symbol(state_var("small_sum", k), real=True) for k in ks]
    terms = {}
    subs = {}
    for k, r in zip(ks, small, strict=False):
        p = sp.Symbol(state_var("pivot_sum", k), real=True)
        terms[p] = pc.weights[k].xreplace(at_pivot)
        subs[pc.scaled[k]] = p + r
    adjoint_terms = {}
    adj_subs = {}
    if plan.rowmap:
        for k in range(len(plan.sums)):
            const, part = pc.dvalue[k].as_independent(e, pc.cotangent, *plan.elements, as_Add=False)
            if part.free_symbols & set(pc.scaled):
                return None
            v, q = (
                sp.Symbol(state_var("small_adjoint", k), real=True),
                sp.Symbol(state_var("pivot_adjoint", k), real=True),
            )
            adjoint_terms[v] = pc.cotangent * part
            terms[q] = (pc.cotangent * part).xreplace(at_pivot)
            adj_subs[pc.adjoints[k]] = const * (q + v)
            small.append(v)
    else:
        adj_subs = {d: dv for d, dv in zip(pc.derivs, pc.dvalue, strict=False)}
    leading, rest, denominator, weighted = [], [], [], []
    for partial in pc.partials:
        split = _weighted_split(_unguard(partial), e)
        if split is None:
            return None
        free, phi = split
        if free != 0 and plan.rowmap:
            return None  # a row map's own term G_l dF/dv_l: not pivoted (no kernel needs it)
        # grad = E_g * phi, or free + E_g * phi over one denominator when a term is free of
        # E_g (a label gather: CE's -[l = t]); E_g stays a symbol of the numerator then
        whole = phi if free == 0 else free + e * phi
        whole = whole.xreplace(adj_subs).xreplace(subs)
        num, den = sp.fraction(sp.together(whole))
        lead, tail = _split(num.xreplace(terms), small)
        leading.append(lead)
        rest.append(tail)
        weighted.append(free == 0)
        denominator.append(den.xreplace({p + r: pc.scaled[k] for k, (p, r) in _pairs(subs)}))
    if all(t == 0 for t in rest):
        return None  # nothing cancels (logsumexp): the plain chain rule is as accurate
    return Pivoted(g, tuple(ks), pivots, terms, adjoint_terms, tuple(leading), tuple(rest),
                   tuple(denominator), tuple(small), tuple(weighted))  # fmt: skip


def _weighted_split(partial: sp.Expr, e: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``partial = free + e * phi`` with ``free`` and ``phi`` free of ``e``, or ``None``.

    ``free`` is the part that does not scale with the element's weight: the derivative through
    a sum with no exponent (a gathered label entry ``x_t``: ``-[l = t]`` in cross-entropy's
    ``p_l - [l = t]``).  At the pivot ``m = t`` of a confident row the two parts cancel
    (``p_t - 1``), so the pivoted form puts them over one denominator: the numerator
    ``E_l - [l = t] (P + r)`` is ``-r`` at ``l = m`` (``E_m = P = 1`` exactly), minus the
    sum of the non-target weights, never ``1 - p_t``.  Row constants (shifts ``M`` inside
    ``wexp(k x_t, M)``) may appear in both parts.

    >>> E, D, t, l = sp.symbols("E0 D0 t pos_", real=True)
    >>> gather = sp.Piecewise((1, sp.Eq(l, t)), (0, True))
    >>> _weighted_split(-gather + D * E, E)
    (-Piecewise((1, Eq(pos_, t)), (0, True)), D0)
    >>> _weighted_split(sp.exp(E), E) is None
    True
    """
    free = partial.xreplace({e: sp.S.Zero})
    if free.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return None
    phi = sp.cancel((partial - free) / e)
    if e in phi.free_symbols or e in free.free_symbols:
        return None
    return free, phi


@dataclass(frozen=True)
class Linear:
    """A numerator ``factor * (sum(lead) + sum_j coef_j * small_j)`` linear in the small sums.

    The kernel forms the bracket in double-double: the ``lead`` terms with TwoSum, each
    ``coef_j * small_j`` with TwoProduct on the double-double ``small_j = hi + lo`` (the
    compensated sum keeps ``lo``), so the cancellation of a non-dominant entry (``l`` near
    the expected index, ``G_l`` near the weighted mean) costs nothing beyond the weights' own
    rounding.  ``factor`` and the denominator are products: each rounds once.
    """

    factor: sp.Expr
    lead: tuple
    terms: tuple  # ((small symbol, coefficient), ...)


def linear_numerator(lead: sp.Expr, rest: sp.Expr, small) -> Linear | None:
    """``lead + rest`` as a :class:`Linear` in the ``small`` symbols, or ``None``.

    >>> k, l, m, r0, r1 = sp.symbols("k pos_ pos_p r0 r1", real=True)
    >>> linear_numerator(k * (l - m), k * (l * r0 - r1), [r0, r1])
    Linear(factor=k, lead=(pos_, -pos_p), terms=((r0, pos_), (r1, -1)))
    """
    # a label indicator (Piecewise) or a row constant wexp(., M) is a generator of its own
    opaque = {a: sp.Dummy() for a in (lead + rest).atoms(sp.Piecewise, sp.Function)}
    back = {d: a for a, d in opaque.items()}
    lead, rest = lead.xreplace(opaque), rest.xreplace(opaque)
    found = _linear(lead, rest, small)
    if found is None:
        return None
    return Linear(
        found.factor.xreplace(back),
        tuple(t.xreplace(back) for t in found.lead),
        tuple((s, c.xreplace(back)) for s, c in found.terms),
    )


def _linear(lead: sp.Expr, rest: sp.Expr, small) -> Linear | None:
    """:func:`linear_numerator` of polynomial ``lead`` and ``rest``."""
    factor = sp.gcd(lead, rest) if lead != 0 else sp.factor_terms(rest).as_coeff_Mul()[0]
    if factor == 0:
        return None
    inner_lead = sp.expand(sp.cancel(lead / factor))
    parts = sp.collect(sp.expand(sp.cancel(rest / factor)), list(small), evaluate=False)
    if parts.get(sp.S.One, 0) != 0 or any(key not in small for key in parts):
        return None
    if any(c.free_symbols & set(small) for c in parts.values()):
        return None
    lead_terms = tuple(sorted(sp.Add.make_args(inner_lead), key=sp.default_sort_key))
    terms = tuple((s, parts[s]) for s in small if s in parts)
    return Linear(factor, tuple(t for t in lead_terms if t != 0), terms)


def _pairs(subs: dict):
    for s, pr in subs.items():
        k = int(s.name[1:])
        p, r = sorted(pr.args, key=lambda a: a.name)
        yield k, (p, r)
