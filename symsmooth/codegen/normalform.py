"""The sum-of-exponentials normal form of a row reduction (DESIGN.md, idea 2).

A reduction over a vector row is rewritten as ``F(S_1, ..., S_K, x_j, n, params)`` where every
``S_k = c_k + sum_i w_k(x_i, ...) * exp(h_k(x_i, ...))`` is one pass over the row.  Sums that
share an exponent ``h`` share one running maximum (a *group*); a sum whose exponent does not
depend on the row (``h = 0``) needs no shift.  Nested sums (cross-entropy written with a
softmax inside a sum) are reduced innermost first: a row-constant inner sum is pulled out of the
outer one.  When ``F`` still depends on an element ``x_j`` (softmax, log-softmax) the reduction is
a *row map*: its output is shaped like the input.

The recognition is exact algebra (``expand_log`` with positive sums, ``expand_mul``), so ``F``
evaluated at the exact sums equals the original expression.

Examples
--------
>>> import sympy as sp
>>> x = sp.IndexedBase("x", real=True); i = sp.Symbol("i", integer=True, positive=True)
>>> n = sp.Symbol("n", integer=True, positive=True); k = sp.Symbol("k", positive=True)
>>> plan = decompose(sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k, (x,), i, n)
>>> plan.outer
log(S0)/k
>>> plan.sums[0].w, plan.sums[0].h
(1, k*x_e)
>>> plan.rowmap
False
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.names import POSITION, derived_var
from symsmooth.errors import CodegenError


@dataclass(frozen=True)
class SumTerm:
    """``S = init + sum_i w * exp(h)`` over one row; ``group`` indexes the shared exponent."""

    w: sp.Expr
    h: sp.Expr
    init: sp.Expr
    group: int


@dataclass(frozen=True)
class ReductionPlan:
    """A reduction in normal form.

    Attributes
    ----------
    vectors : tuple of IndexedBase
        The row inputs, in the order of the kernel's arguments.
    elements : tuple of Symbol
        One element symbol per vector (``x_e`` stands for ``x[i]``).
    position : Symbol
        The 1-based position ``i`` of the element in the row.
    size : Symbol
        The row length ``n``.
    sums : tuple of SumTerm
    groups : tuple of sympy.Expr
        The distinct exponents; ``0`` means no shift.
    totals : tuple of Symbol
        ``S0, S1, ...``: the exact sums, as they appear in ``outer``.
    outer : sympy.Expr
        ``F`` in terms of ``totals``, ``size``, the parameters and (row maps) the elements.
    rowmap : bool
        Whether the output has one value per element.
    """

    vectors: tuple
    elements: tuple
    position: sp.Symbol
    size: sp.Symbol
    sums: tuple
    groups: tuple
    totals: tuple
    outer: sp.Expr
    rowmap: bool

    def shifted(self, group: int) -> bool:
        """Whether ``group`` needs a running maximum (its exponent depends on the row)."""
        return self.groups[group] != 0


class _Builder:
    def __init__(self, vectors, index, size):
        self.vectors = tuple(vectors)
        self.elements = tuple(
            sp.Symbol(derived_var("element", str(v.label)), real=True) for v in self.vectors
        )
        self.position = sp.Symbol(POSITION, positive=True)
        self.index = index
        self.size = size
        self.sums: list[SumTerm] = []
        self.groups: list[sp.Expr] = []
        self.totals: list[sp.Symbol] = []

    # -- element substitution ----------------------------------------------------------------
    def localize(self, expr: sp.Expr, index) -> sp.Expr:
        """``v[index] -> v_e`` and ``index -> pos_``; any other subscript is an error."""
        mapping = {}
        for ind in expr.atoms(sp.Indexed):
            if ind.base not in self.vectors:
                raise CodegenError(
                    f"{ind} indexes {ind.base}, which is not a declared input vector "
                    f"({', '.join(str(v) for v in self.vectors)}); add it to `variables`"
                )
            if ind.indices != (index,):
                raise CodegenError(
                    f"{ind}: only x[i] with the summation index is supported in a reduction; "
                    "write shifted or nested subscripts as separate vectors"
                )
            mapping[ind] = self.elements[self.vectors.index(ind.base)]
        out = expr.xreplace(mapping)
        return out.xreplace({index: self.position}) if index is not None else out

    def element_free(self, expr: sp.Expr) -> bool:
        return not (expr.free_symbols & (set(self.elements) | {self.position}))

    # -- sums --------------------------------------------------------------------------------
    def total(self, w: sp.Expr, h: sp.Expr, init: sp.Expr = sp.S.Zero) -> sp.Symbol:
        h = sp.expand(h)
        if h not in self.groups:
            self.groups.append(h)
        term = SumTerm(w, h, init, self.groups.index(h))
        if term in self.sums:
            return self.totals[self.sums.index(term)]
        self.sums.append(term)
        symbol = sp.Symbol(f"S{len(self.totals)}", positive=True)
        self.totals.append(symbol)
        return symbol

    def split_piece(self, piece: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
        """``piece = coeff * w * exp(h)`` with ``coeff`` free of the row."""
        coeff, w, h = sp.S.One, sp.S.One, sp.S.Zero
        for factor in sp.Mul.make_args(piece):
            if self.element_free(factor):
                coeff *= factor
            elif isinstance(factor, sp.exp):
                h += factor.args[0]
            elif factor.is_Pow and factor.base is sp.E:
                h += factor.exp
            else:
                w *= factor
        if not self.element_free(coeff):  # pragma: no cover - guarded by construction
            raise CodegenError(f"cannot separate {piece} into row-constant and element parts")
        return coeff, w, h

    def reduce_sum(self, node: sp.Sum) -> sp.Expr:
        if len(node.limits) != 1:
            raise CodegenError(f"{node}: only single-index sums are supported; nest them")
        index, lo, hi = node.limits[0]
        if lo != 1 or hi != self.size:
            raise CodegenError(
                f"{node}: a reduction sums over ({index}, 1, {self.size}); "
                f"got ({index}, {lo}, {hi})"
            )
        term = self.localize(self.reduce(node.function), index)
        term = sp.expand_mul(sp.expand_log(term, force=True))
        merged: dict[tuple, sp.Expr] = {}
        for piece in sp.Add.make_args(term):
            coeff, w, h = self.split_piece(piece)
            if any(s in w.free_symbols | h.free_symbols for s in self.totals):
                raise CodegenError(
                    f"{node} is not in sum-of-exponentials normal form: the summand mixes an "
                    "element with an inner sum non-separably; rewrite it as a combination of sums"
                )
            # pieces with the same exponent and the same inner-sum factor form one sum, so
            # (1 - t) e^x stays one sum instead of the difference of two (cancellation)
            outer_part, inner_part = coeff.as_independent(*self.totals, as_Add=False)
            key = (sp.expand(h), inner_part)
            merged[key] = merged.get(key, sp.S.Zero) + outer_part * w
        out = sp.S.Zero
        for (h, inner_part), w in merged.items():
            out += inner_part * self.total(sp.factor_terms(w), h)
        return out

    def reduce(self, expr: sp.Expr) -> sp.Expr:
        """Replace every ``Sum`` (innermost first) by its total symbol."""
        if isinstance(expr, sp.Sum):
            return self.reduce_sum(expr)
        if not expr.args or not expr.has(sp.Sum):
            return expr
        return expr.func(*[self.reduce(a) for a in expr.args])

    # -- constant folding --------------------------------------------------------------------
    def fold(self, expr: sp.Expr) -> sp.Expr:
        """``c + S_k -> S_k'`` with ``c`` folded into the sum as its initial value."""
        if not expr.args:
            return expr
        expr = expr.func(*[self.fold(a) for a in expr.args])
        if not isinstance(expr, sp.Add):
            return expr
        bare = [a for a in expr.args if a in self.totals]
        const = [
            a for a in expr.args if self.element_free(a) and not (a.free_symbols & set(self.totals))
        ]
        if not bare or not const:
            return expr
        target = bare[0]
        old = self.sums[self.totals.index(target)]
        folded = self.total(old.w, old.h, old.init + sp.Add(*const))
        rest = [a for a in expr.args if a is not target and a not in const]
        return sp.Add(folded, *rest)


def gather_labels(expr: sp.Expr, vectors, index, size, labels) -> sp.Expr:
    """``x[t] -> Sum(Piecewise((x[i], Eq(i, t)), (0, True)), (i, 1, n))`` for each label ``t``.

    A label is a row-constant integer (the true class, 1-based); gathering the entry at the
    label is a sum with no exponent, so it joins the one pass over the row.  The Piecewise
    (not ``KroneckerDelta * x[i]``) keeps ``0 * -inf`` out of the sum.
    """
    mapping = {}
    for ind in expr.atoms(sp.Indexed):
        if ind.base in vectors and len(ind.indices) == 1 and ind.indices[0] in labels:
            term = sp.Piecewise((ind.base[index], sp.Eq(index, ind.indices[0])), (0, True))
            mapping[ind] = sp.Sum(term, (index, 1, size))
    return expr.xreplace(mapping)


def decompose(expr: sp.Expr, vectors, index, size, labels=()) -> ReductionPlan:
    """The :class:`ReductionPlan` of ``expr`` (a reduction over ``index`` from 1 to ``size``).

    ``labels`` are row-constant integer symbols used as subscripts (``x[t]``); any other free
    subscript outside a sum makes the reduction a row map over it.

    Raises
    ------
    CodegenError
        when ``expr`` has no sum over the row or a summand is not separable.
    """
    if not expr.has(sp.Sum):
        shown = sp.sstr(expr)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        raise CodegenError(
            "not in sum-of-exponentials normal form: the reduction has no Sum over the row "
            f"({shown}); write it with sp.Sum(term, (i, 1, n)) (explicit entries x[1], x[2], "
            "... and Min/Max of entries are not supported)"
        )
    b = _Builder(vectors, index, size)
    outer = b.reduce(gather_labels(expr, tuple(vectors), index, size, tuple(labels)))
    free = {ind.indices for ind in outer.atoms(sp.Indexed)}
    if len(free) > 1:
        raise CodegenError(f"{expr}: the output uses several free subscripts {free}; use one")
    out_index = next(iter(free))[0] if free else None
    outer = b.localize(outer, out_index)
    outer = b.fold(sp.expand_log(outer, force=True))
    used = outer.free_symbols & set(b.totals)
    keep = [k for k, s in enumerate(b.totals) if s in used]
    renumber = {b.totals[k]: sp.Symbol(f"S{j}", positive=True) for j, k in enumerate(keep)}
    sums = [b.sums[k] for k in keep]
    groups = sorted({s.h for s in sums}, key=lambda h: (h != 0, sp.default_sort_key(h)))
    sums = tuple(SumTerm(s.w, s.h, s.init, groups.index(s.h)) for s in sums)
    return ReductionPlan(
        vectors=b.vectors,
        elements=b.elements,
        position=b.position,
        size=size,
        sums=sums,
        groups=tuple(groups),
        totals=tuple(renumber[b.totals[k]] for k in keep),
        outer=outer.xreplace(renumber),
        rowmap=not b.element_free(outer),
    )
