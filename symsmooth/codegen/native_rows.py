"""Native PyTorch and JAX row reductions: the sum-of-exponentials normal form in framework ops
(issue #15).

A reduction's :class:`~symsmooth.codegen.normalform.ReductionPlan` and its stable
:class:`~symsmooth.codegen.reduction.Pieces` (the same the Numba kernels are generated from)
become whole-row array statements, over rows moved to the last axis:

1. each shifted group's exponents ``_h_g`` (``-inf`` where the entry is masked, or where its
   weight is exactly 0 in every sum of the group: an absent term, as in the Numba kernels), the
   shift ``M_g = max(start, max_i _h_g)`` (0 where not finite, without gradient) and the
   weights ``E_g = exp(_h_g - M_g) <= 1``;
2. each sum ``s_k = init exp(-M_g) + sum_i w_k E_g``; a sum whose logarithm the value takes is
   kept in two parts, ``c_k`` (the terms at the maximum, where ``E_g = 1`` exactly) and ``r_k``
   (the rest), so ``log s_k`` is ``log c_k + log1p(r_k/c_k)`` and a tiny result such as the
   log-sum-exp of a confident row keeps its digits (SciPy's logsumexp does the same);
3. the value ``F`` of the pieces, with a linear part ``L`` (``M - k x_t`` of cross-entropy)
   added before the small logarithm, as :func:`~symsmooth.codegen.reduction.low_logs` does for
   the CPU kernels.

Every statement is a SymPy expression printed by the target's
:class:`~symsmooth.codegen.native_printer.NativePrinter`; the row operations are the nodes
below, printed as calls of the hand-written base functions of
:mod:`symsmooth.runtime.torch_native` / :mod:`symsmooth.runtime.jax_native`
(``_row_sum``, ``_row_shift``, ``_kept``, ``_log_split``, ...).

Gradients are the framework's autodiff of these statements: the shifts carry no derivative (the
value does not depend on them), a masked or absent entry enters every ``where`` on a safe value
("double where"), so no untaken branch sends a NaN back.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.spec import make_spec
>>> from symsmooth.codegen.native_printer import TorchPrinter
>>> x = sp.IndexedBase("x", real=True)
>>> i, n = sp.symbols("i n", integer=True, positive=True)
>>> spec = make_spec("lse", sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n))), (x,), (),
...                  kind="reduction", index=i, size=n)
>>> for line in lines(rows_statements(spec), TorchPrinter()):
...     print(line)
_fin = _finite_entries(x)
_safe_x = _safe_entry(_fin, x, 0)
_h0 = _safe_x
_h0_u = _frozen(x)
_h0 = _safe_entry(_fin, _h0, _h0_u)
_h0 = _kept(_keep, _h0, (-math.inf))
M0 = _row_shift(_h0, (-math.inf))
E0 = _wexp(_h0, M0)
_t0 = _kept(_keep, E0, 0)
P0 = _row_sum(torch.where((M0 == _h0), _t0, 0))
r0 = _row_sum(torch.where((M0 == _h0), 0, _t0))
return _log_split(M0, P0, r0)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import SIZE, Assign, Return, lines, statements
from symsmooth.codegen.names import POSITION, state_var
from symsmooth.codegen.reduction import logdd, low_logs, masked
from symsmooth.codegen.reduction import wexp as shifted_exp

__all__ = ["KEEP_ROWS", "lines", "rows_statements", "ROW_NODES"]

KEEP_ROWS = sp.Symbol("_keep")
"""The mask of the rows (``None``: no mask) in a rows function's arguments."""
FINITE = sp.Symbol("_fin")
"""Where every input entry of the row is finite."""
SAFE_PREFIX, RAW_SUFFIX = "_safe_", "_u"
"""An input with its non-finite entries as 0 (``_safe_x``); a stage-1 value on the entries as
given (``_h0_u``): generator names, which no user name can be (they start with ``_``)."""


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


class row_positions(_RowNode):
    """``row_positions(x)``: the 1-based positions of a row of ``x``."""

    nargs = 1


class row_count(_RowNode):
    """``row_count(keep, x)``: each row's length, its kept count under a mask."""

    nargs = 2


ROW_NODES = (
    row_sum,
    row_shift,
    kept,
    log_split,
    absent_term,
    finite_entries,
    safe_entry,
    frozen,
    wexp,
    row_positions,
    row_count,
)
"""The row operations, each a base function of the native runtimes of the same name."""


def _localize(spec) -> dict:
    """Element symbols -> the row arrays (named as the inputs), the row length -> ``size_``."""
    plan = spec.plan
    local = {
        el: sp.Symbol(code, real=True)
        for el, code in zip(plan.elements, spec.input_codes, strict=True)
    }
    local[plan.size] = SIZE
    return local


def _logs(value: sp.Expr, scaled, split: set[int], parts) -> sp.Expr:
    """``logdd(L, s_k, l_k) -> log_split(L, c_k, r_k)`` for a split sum, else ``L + log s_k``."""
    index = {s: k for k, s in enumerate(scaled)}

    def swap(node):
        lin, s, _ = node.args
        k = index[s]
        if k in split:
            return log_split(lin, *parts[k])
        return lin + sp.log(s)

    out = value.replace(lambda e: isinstance(e, logdd), swap)
    return out.replace(lambda e: isinstance(e, shifted_exp), lambda e: wexp(*e.args))


def rows_statements(spec) -> list:
    """The statements of ``spec``'s rows function: arguments the inputs (rows last), the
    parameters (one value per row, a length-1 last axis) and :data:`KEEP_ROWS`; the last
    statement returns the value (per row, or per entry for a row map)."""
    plan, pc = spec.plan, spec.pieces
    local = _localize(spec)

    def sub(e):
        return sp.sympify(e).xreplace(local)

    shifted = [g for g in range(len(plan.groups)) if plan.shifted(g)]
    weights = [sub(w) for w in pc.weights]
    # the value first: which sums it takes the logarithm of decides their two-part form
    lows = tuple(sp.Symbol(state_var("low", k), real=True) for k in range(len(plan.sums)))
    value, logged = low_logs(sub(pc.value), pc.scaled, lows)
    split = {k for k in logged if plan.shifted(plan.sums[k].group)}
    parts = {
        k: (
            sp.Symbol(state_var("pivot_sum", k), positive=True),
            sp.Symbol(state_var("small_sum", k), nonnegative=True),
        )
        for k in split
    }
    value = _logs(value, pc.scaled, split, parts)

    # stage 1: exponents and weights, CSE'd together (they read the entries and parameters);
    # twice where an input entry is not finite: on the entry (detached: its value) and on 0
    # (the derivative), so a -inf entry's 0 * inf never reaches a parameter's gradient
    exps = [state_var("exponent", g) for g in shifted]
    factors = [state_var("factor", k) for k, w in enumerate(weights) if not w.is_number]
    exprs = [sub(pc.exponents[g]) for g in shifted] + [w for w in weights if not w.is_number]
    rows = [local[el] for el in plan.elements]
    safe = {v: sp.Symbol(f"{SAFE_PREFIX}{v}", real=True) for v in rows}
    raw = [f"{t}{RAW_SUFFIX}" for t in exps + factors]
    out = [Assign(str(FINITE), finite_entries(*rows))]
    out += [Assign(str(safe[v]), safe_entry(FINITE, v, 0)) for v in rows]
    out += statements([e.xreplace(safe) for e in exprs], exps + factors, "_c")
    out += statements([frozen(e) for e in exprs], raw, "_u")
    out += [
        Assign(t, safe_entry(FINITE, sp.Symbol(t, real=True), sp.Symbol(r, real=True)))
        for t, r in zip(exps + factors, raw, strict=True)
    ]
    weight = {
        k: (w if w.is_number else sp.Symbol(state_var("factor", k), real=True))
        for k, w in enumerate(weights)
    }
    shifts = {}  # group -> the exponent its shift and weights E_g read (-inf when absent)
    for g, name in zip(shifted, exps, strict=True):
        h = sp.Symbol(name, real=True)
        a = h
        if masked(plan, g):
            a = sp.Symbol(state_var("present", g), real=True)
            present = sp.Or(*(sp.Ne(weight[k], 0) for k, s in enumerate(plan.sums) if s.group == g))
            out.append(Assign(str(a), sp.Piecewise((h, present), (sp.S.NegativeInfinity, True))))
        shifts[g] = a
        start = 0 if any(s.init != 0 for s in plan.sums if s.group == g) else sp.S.NegativeInfinity
        out.append(Assign(str(a), kept(KEEP_ROWS, a, sp.S.NegativeInfinity)))
        out.append(Assign(str(pc.shifts[g]), row_shift(a, start)))
        out.append(Assign(str(pc.weights_e[g]), wexp(a, pc.shifts[g])))

    # stage 2: the sums, each a row sum of its kept terms (in two parts where it is logged)
    for k, s in enumerate(plan.sums):
        g, init = s.group, sub(s.init)
        if not plan.shifted(g):
            out.append(Assign(str(pc.scaled[k]), init + row_sum(kept(KEEP_ROWS, weight[k], 0))))
            continue
        h, a = sp.Symbol(state_var("exponent", g), real=True), shifts[g]
        m, e = pc.shifts[g], pc.weights_e[g]
        term = weight[k] * e
        if a != h and not weight[k].is_number:
            # an absent entry (weight 0 in every sum of the group): 0, derivative in the weight
            zero = absent_term(weight[k], h - m)
            term = sp.Piecewise((term, sp.Ne(weight[k], 0)), (zero, True))
        out.append(Assign(state_var("term", k), kept(KEEP_ROWS, term, 0)))
        term = sp.Symbol(state_var("term", k), real=True)
        base = init * sp.exp(-m)
        if k in split:
            c, r = parts[k]
            top = sp.Eq(a, m)
            at0 = sp.Eq(m, 0)
            out.append(
                Assign(
                    str(c),
                    row_sum(sp.Piecewise((term, top), (0, True)))
                    + (sp.Piecewise((base, at0), (0, True)) if init != 0 else 0),
                )
            )
            out.append(
                Assign(
                    str(r),
                    row_sum(sp.Piecewise((0, top), (term, True)))
                    + (sp.Piecewise((0, at0), (base, True)) if init != 0 else 0),
                )
            )
            if value.has(pc.scaled[k]):
                out.append(Assign(str(pc.scaled[k]), c + r))
        else:
            out.append(Assign(str(pc.scaled[k]), base + row_sum(term)))

    read = set(value.free_symbols)
    for st in out:
        read |= st.expr.free_symbols
    head = []
    if sp.Symbol(POSITION, positive=True) in read or any(str(s) == POSITION for s in read):
        first = local[plan.elements[0]]
        head.append(Assign(POSITION, row_positions(first)))
    if SIZE in read or any(str(s) == str(SIZE) for s in read):
        head.append(Assign(str(SIZE), row_count(KEEP_ROWS, local[plan.elements[0]])))
    body = _live(head + out, value)
    if plan.rowmap:
        value = kept(KEEP_ROWS, value, 0)
    return body + [Return(value)]


def _live(stmts, value) -> list:
    """``stmts`` without the assignments neither the value nor a kept statement reads."""
    wanted, kept_ = {str(s) for s in value.free_symbols}, []
    for st in reversed(stmts):
        if st.target not in wanted:
            continue
        kept_.append(st)
        wanted |= {str(s) for s in st.expr.free_symbols}
    return kept_[::-1]
