"""Native PyTorch and JAX row reductions: the sum-of-exponentials normal form in framework ops
(issue #15).

A reduction's :class:`~symsmooth.codegen.normalform.ReductionPlan` and its stable
:class:`~symsmooth.codegen.reduction.Pieces` (the same the Numba kernels are generated from)
become whole-row array statements, over rows moved to the last axis:

1. each shifted group's exponents ``_h_g`` (``-inf`` where the entry is masked, or where its
   weight is exactly 0 in every sum of the group: an absent term, as in the Numba kernels), the
   shift ``M_g = max(start, max_i _h_g)`` (0 where not finite) and the weights
   ``E_g = exp(_h_g - M_g) <= 1``.  Where the shift is an entry's exponent (the *pivot* ``p``,
   the row's first maximum: :mod:`symsmooth.codegen.paramgrad`'s idea), it is written as
   ``h(x_p)`` and the weights as ``exp(h(x_i) - h(x_p)) = exp(c (u_i - u_p))`` (``dexp``: the
   difference and its product by ``c`` exact), so the value reads ``LSE(k x)/k = x_p +
   log(s)/k`` and its derivative in ``k`` sums terms of one sign, ``(x_i - x_p) E_i``, instead of
   subtracting two numbers near ``x_p/k``; elsewhere the shift carries no gradient;
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
>>> stmts = rows_statements(spec)
>>> [getattr(st, "target", "return") for st in stmts]  # doctest: +NORMALIZE_WHITESPACE
['_fin', '_safe_x', '_h0', '_h0_u', '_h0', '_h0', 'M0', '_piv0', '_x_p0', '_atp0', 'E0',
 '_tr0', 'P0', 'r0', 'return']
>>> print(lines(stmts, TorchPrinter())[-1])
return torch.where(_atp0, _x_p0 + _log_split(0, P0, r0), _log_split(M0, P0, r0))
"""

from __future__ import annotations

import itertools

import sympy as sp

from symsmooth.codegen.emit import SIZE, Assign, Return, lines, live, statements
from symsmooth.codegen.names import POSITION, state_var
from symsmooth.codegen.native_row_nodes import (
    ROW_NODES,
    absent_term,
    dexp,
    finite_entries,
    frozen,
    kept,
    log_split,
    row_count,
    row_pivot,
    row_positions,
    row_shift,
    row_sum,
    row_take,
    safe_entry,
    tracked,
    wexp,
)
from symsmooth.codegen.paramgrad import as_dexp, pivot_symbol
from symsmooth.codegen.paramgrad import dexp as exact_exp
from symsmooth.codegen.recipes import finite
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


def rows_statements(spec, extend=None, frozen_pivots: bool = True) -> list | None:
    """The statements of ``spec``'s rows function: arguments the inputs (rows last), the
    parameters (one value per row, a length-1 last axis) and :data:`KEEP_ROWS`; the last
    statement returns the value (per row, or per entry for a row map).

    ``extend(spec, context)`` (context: the row arrays ``local``, their safe twins ``safe``,
    the groups' ``pivots``) may return ``(statements, result)`` to compute and return
    ``result`` instead (the pivoted gradient, :mod:`symsmooth.codegen.native_pivot`), or
    ``None``: then ``rows_statements`` returns ``None``.  ``frozen_pivots=False`` keeps the
    derivative through the pivot's entries (the pivoted gradient, whose own derivative is the
    value's second: exact only as a function of every entry)."""
    plan, pc = spec.plan, spec.pieces
    local = _localize(spec)

    def sub(e):
        return sp.sympify(e).xreplace(local)

    shifted = [g for g in range(len(plan.groups)) if plan.shifted(g)]
    weights = [sub(w) for w in pc.weights]
    # the value first: which sums it takes the logarithm of decides their two-part form
    lows = tuple(sp.Symbol(state_var("low", k), real=True) for k in range(len(plan.sums)))
    raw_value = sub(pc.value)
    value, logged = low_logs(raw_value, pc.scaled, lows)
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
    pivots = {}  # group -> its pivot (_pivot): the shift read at the row's first maximum
    constants = {*spec.params, SIZE}
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
        m = pc.shifts[g]
        out.append(Assign(str(m), row_shift(a, start)))
        piv = _pivot(g, a, m, sub(pc.exponents[g]), rows, safe, constants, frozen_pivots)
        if piv is None:
            out.append(Assign(str(pc.weights_e[g]), wexp(a, m)))
            continue
        pivots[g] = piv
        out += piv["stmts"]
        absent = sp.Not(finite(a))  # -inf: where the shift is a finite pivot, nothing is +inf
        c, u, v = piv["dexp"].args
        near = dexp(c, sp.Piecewise((v, absent), (u, True)), v)
        out.append(
            Assign(
                str(pc.weights_e[g]),
                sp.Piecewise(
                    (sp.Piecewise((0, absent), (near, True)), piv["from"]), (wexp(a, m), True)
                ),
            )
        )

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
        base = init * sp.exp(-(tracked_shift(pivots[g], m) if g in pivots else m))
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

    unshifted = [k for k, s in enumerate(plan.sums) if not plan.shifted(s.group)]
    value = _branches(raw_value, value, pc, pivots, split, parts, constants, unshifted)
    if extend is not None:
        extra = extend(spec, {"local": local, "safe": safe, "pivots": pivots})
        if extra is None:
            return None
        more, value = extra
        out += more
    read = set(value.free_symbols)
    for st in out:
        read |= st.expr.free_symbols
    head = []
    names = {str(sym) for sym in read}
    if POSITION in names:
        first = local[plan.elements[0]]
        head.append(Assign(POSITION, row_positions(first)))
    if str(SIZE) in names:
        head.append(Assign(str(SIZE), row_count(KEEP_ROWS, local[plan.elements[0]])))
    body = live(head + out, {str(sym) for sym in value.free_symbols})
    if plan.rowmap and extend is None:
        value = kept(KEEP_ROWS, value, 0)
    return body + [Return(value)]


def _pivot(g: int, a, m, exponent, rows, safe, constants, freeze: bool = True) -> dict | None:
    """The pivot of group ``g``: its index (the first maximum of the present exponents ``a``),
    the inputs' entries there (without derivative: the value does not depend on the entry the
    shift is read at, so in exact arithmetic the derivative through it is 0, and in floating
    point it would only add ``1 - s/s``), whether the shift ``m`` is that entry's exponent
    (not the start 0 of a sum with an initial value, nor a row without a finite maximum), the
    exponent at the pivot ``h(x_p)`` and the weights as ``dexp(c, u, v) = exp(h(x_i) -
    h(x_p))``; ``None`` when the exponent difference does not factor so (then the plain
    ``exp(h - m)``)."""
    index = sp.Symbol(state_var("pivot_index", g), integer=True)
    entries = {v: pivot_symbol(v, g) for v in rows if exponent.has(v)}
    at_pivot = exponent.xreplace(entries)
    weight = as_dexp(exponent.xreplace(safe) - at_pivot, constants)
    if not isinstance(weight, exact_exp):
        return None
    found = sp.Symbol(state_var("from_pivot", g))
    stmts = [Assign(str(index), row_pivot(a))]
    take = (lambda e: frozen(e)) if freeze else (lambda e: e)
    stmts += [Assign(str(p), take(row_take(safe[v], index))) for v, p in entries.items()]
    stmts.append(Assign(str(found), sp.Eq(row_take(a, index), m)))
    return {"dexp": weight, "from": found, "shift": at_pivot, "stmts": stmts}


def tracked_shift(pivot: dict, m) -> sp.Expr:
    """The shift ``m`` with the derivative of the pivot's exponent where it is one."""
    return sp.Piecewise((tracked(m, pivot["shift"]), pivot["from"]), (m, True))


def _pivot_value(value: sp.Expr, pc, pivots: dict, chosen, split, parts, constants) -> sp.Expr:
    """The value with the shifts of the ``chosen`` groups written as their pivots' exponents
    (``M/k -> x_p``: exact, and its derivative in ``k`` is 0), its linear part added first."""
    rule = {pc.shifts[g]: pivots[g]["shift"] for g in chosen}
    logs = {sp.log(pc.scaled[k]): log_split(0, *parts[k]) for k in split}
    out = value.xreplace(logs).replace(
        lambda e: isinstance(e, shifted_exp), lambda e: sp.exp(e.args[0] - e.args[1])
    )
    out = sp.expand_mul(out.xreplace(rule))
    out = out.replace(
        lambda e: isinstance(e, sp.exp) and e.args[0].free_symbols,
        lambda e: as_dexp(e.args[0], constants),
    ).replace(lambda e: isinstance(e, exact_exp), lambda e: dexp(*e.args))
    if isinstance(out, sp.Add):
        lin = [t for t in out.args if not t.atoms(sp.Function)]
        rest = [t for t in out.args if t.atoms(sp.Function)]
        if lin and rest:  # the large terms (x_p - x_t) cancel before the small logarithm
            return sp.Add(sp.Add(*lin), sp.Add(*rest), evaluate=False)
    return out


def _branches(value, plain, pc, pivots, split, parts, constants, unshifted) -> sp.Expr:
    """The value by which groups have a pivot: nested ``Piecewise`` over their ``_F_g``."""
    used = [g for g in sorted(pivots) if value.has(pc.shifts[g])]
    if not used:
        return plain
    # the plain branch on safe sums where a pivot branch is taken and the sum is not finite
    # ("double where": the label entry x_t = -inf of cross-entropy would send d(k x_t)/dk =
    # -inf times 0 back); a finite sum stays (0 could overflow the plain branch's exp(k s - M))
    taken = sp.Or(*(pivots[g]["from"] for g in used))
    out = plain.xreplace(
        {
            pc.scaled[k]: kept(sp.Or(sp.Not(taken), finite(pc.scaled[k])), pc.scaled[k], 0)
            for k in unshifted
        }
    )
    for size in range(1, len(used) + 1):
        for chosen in itertools.combinations(used, size):
            cond = sp.And(*(pivots[g]["from"] for g in chosen))
            text = _pivot_value(value, pc, pivots, chosen, split, parts, constants)
            out = sp.Piecewise((text, cond), (out, True))
    return out
