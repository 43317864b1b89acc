"""Row reductions: the sum-of-exponentials normal form as CPU passes and a CUDA row kernel.

The CPU context holds the loads of one element, the sum pass (weights and exponents), the
prologue that forms each element's ``E_g = exp(h_g - M_g)``, the value, gradient and adjoint
lines, and the pivoted gradient of :mod:`symsmooth.codegen.pivot`; the CUDA context adds the
float64 loads and the state of the block merge (see :mod:`symsmooth.codegen.cuda`).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.spec import make_spec
>>> x = sp.IndexedBase("x", real=True)
>>> i, n = sp.symbols("i n", integer=True, positive=True)
>>> spec = make_spec("lse", sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n))), (x,), (),
...                  kind="reduction", index=i, size=n)
>>> ctx = kernel_context(spec, REDUCTION)
>>> ctx["prologue"]  # no pos_ = idx + 1.0: no formula reads the position
['x_e = x_row[idx]', '_h0 = x_e', 'E0 = _wexp(_h0, M0)']
>>> REDUCTION.cuda_context(spec, ctx)["cuda_prologue"][0]
'x_e = float64(x_row[idx])'
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import (
    SIZE,
    Assign,
    Load,
    block,
    lines,
    live,
    statements,
    value_statements,
)
from symsmooth.codegen.kinds.base import Kind, kernel_pair, operand_sig
from symsmooth.codegen.kinds.chunked import chunked_context
from symsmooth.codegen.kinds.compensated import applies, gradient_statements, weight_errors
from symsmooth.codegen.kinds.paramgrad import param_context
from symsmooth.codegen.kinds.pivoted import pivot_context, weight_code
from symsmooth.codegen.names import (
    KEEP,
    POSITION,
    comp_of,
    derived_var,
    docstring_text,
    state_var,
)
from symsmooth.codegen.printer import CudaPrinter, MathPrinter
from symsmooth.codegen.reduction import fsexp, low_logs, masked, wexp
from symsmooth.codegen.spec import KernelSpec


def _base(init: str, s, plan) -> str:
    """The initial value of a sum at the row's final shift M_g (the fast pass starts its lanes
    at 0 and adds this once): ``init * exp(start - M_g)``; the shift starts at 0 when some sum
    of the group has an initial value (see the groups' ``start``)."""
    if s.init == 0:
        return "0.0"
    if not plan.shifted(s.group):
        return init
    return f"{init} * _fwexp(0.0, {state_var('shift', s.group)})"


def cpu_context(spec: KernelSpec, printer: MathPrinter) -> dict:
    """The CPU variables of ``templates/reduction.py.j2``: loads, the sum pass, the
    prologue of the weights, value, gradient and adjoint lines, the pivot (or ``None``)."""
    plan, pc = spec.plan, spec.pieces
    names = [str(v.label) for v in plan.vectors]
    local = {plan.size: SIZE}
    shifted = [g for g in range(len(plan.groups)) if plan.shifted(g)]
    loads = [Load(str(el), v, "idx") for v, el in zip(names, plan.elements, strict=False)]
    loads.append(Assign(POSITION, sp.Symbol("idx") + 1.0))
    all_loads = list(loads)

    def sub(e):
        return sp.sympify(e).xreplace(local)

    # the names the kind's formulas read: a store none of them reads is never emitted (the
    # position pos_ and the length size_ of a formula that uses neither)
    formulas = [*pc.exponents, *pc.weights, pc.value, *pc.partials, *pc.dvalue]
    read = {str(s) for e in [*formulas, *(s.init for s in plan.sums)] for s in sub(e).free_symbols}
    loads = live(loads, read)

    weights = {k: sub(w) for k, w in enumerate(pc.weights)}
    # a number as a weight is folded into its terms (no `_w0 = 1`, no `_w0 * E0`)
    folded = {k: w for k, w in weights.items() if w.is_number}
    kept = [k for k in weights if k not in folded]
    # no shift: the weights' rounding errors join the sums, the gradient is double-double
    compensated = applies(plan) and gradient_statements(pc, sub)
    errors = weight_errors({k: weights[k] for k in kept}, folded) if compensated else []
    sum_lines = statements(
        [sub(pc.exponents[g]) for g in shifted] + [weights[k] for k in kept]
        + [e.expr for e in errors],
        [state_var("exponent", g) for g in shifted] + [state_var("factor", k) for k in kept]
        + [e.target for e in errors],
        "_c",
    )  # fmt: skip
    sum_lines += absent_terms(plan, shifted, folded)
    prologue = list(loads)
    prologue += statements(
        [sub(pc.exponents[g]) for g in shifted], [state_var("exponent", g) for g in shifted], "_p"
    )
    prologue += [
        Assign(state_var("weight", g), wexp(sp.Symbol(h, real=True), sp.Symbol(m, real=True)))
        for g in shifted
        for h, m in [(state_var("exponent", g), state_var("shift", g))]
    ]
    groups = [
        {
            "index": g,
            "start": "0.0" if any(s.init != 0 for s in plan.sums if s.group == g) else "-math.inf",
            "sums": [k for k, s in enumerate(plan.sums) if s.group == g],
        }
        for g in shifted
    ]
    # log s_k of the value from the double-double sum (s_k, sl_k): the sums return sl_k too
    lows = tuple(sp.Symbol(state_var("low", k), real=True) for k in range(len(plan.sums)))
    value, low = low_logs(sub(pc.value), pc.scaled, lows)
    grad_low = compensated[1] if compensated else set()
    value_low, low = set(low), tuple(sorted(set(low) | grad_low))
    err_of = {e.target: e for e in errors}
    sums = [
        {
            "index": k,
            "low": k in low,  # returned by the sum pass; read by the value, the gradient
            "value_low": k in value_low,
            "grad_low": k in grad_low,
            "err": state_var("weight_err", k) if state_var("weight_err", k) in err_of else None,
            "init": printer.doprint(sp.Float(0) if s.init == 0 else sub(s.init)),
            "base": _base(printer.doprint(sub(s.init)), s, plan),
            "term": _term(k, s, plan, folded, printer),
        }
        for k, s in enumerate(plan.sums)
    ]
    unpack = [state_var("sum", k) for k in range(len(plan.sums))]
    unpack += [state_var("shift", g) for g in shifted]
    unpack += [state_var("low", k) for k in low]
    params = spec.param_codes
    # every row function takes the mask row (None: unmasked), every matrix kernel the mask
    row_args = ", ".join([derived_var("row", v) for v in names] + list(params))
    row_args += ", " + derived_var("row", KEEP)
    grad_exprs = [sub(p) for p in pc.partials]
    ctx = {
        "vectors": names,
        "vector_names": list(spec.input_names),
        "params": params,
        "args": ", ".join(names + list(params)),
        "rowmap": plan.rowmap,
        "groups": groups,
        "sums": sums,
        "load": loads,
        "sum_lines": sum_lines,
        "prologue": prologue,
        # the row-map value pass of a row whose shifts and sums are finite: h <= M, no NaN
        "lean_prologue": [_lean(stmt) for stmt in prologue],
        "lean_test": " and ".join(f"{v} - {v} == 0.0" for v in unpack),
        "row_args": row_args,
        "row_call": row_args,
        "mat_args": "".join(f"{derived_var('rows', v)}, " for v in [*names, *params, KEEP]),
        "unpack": ", ".join(unpack) + ("," if len(unpack) == 1 else ""),
        "value_lines": value_statements(value),
        "grad_lines": compensated[0]
        if compensated
        else statements(grad_exprs, [state_var("grad", j) for j in range(len(names))], "_c"),
        "summary": docstring_text(spec.construction),
        "online_lines": online_lines(groups, sums),
    }
    used = set().union(*[e.free_symbols for e in grad_exprs])
    if plan.rowmap:
        ks = [k for k in range(len(plan.sums)) if pc.adjoints[k] in used]
        ctx["adjoints"] = ks
        ctx["adjoint_lines"] = statements(
            [pc.cotangent * sub(pc.dvalue[k]) for k in ks],
            [state_var("adjoint_term", k) for k in ks],
            "_d",
        )
    else:
        ks = [k for k in range(len(plan.sums)) if pc.derivs[k] in used and not compensated]
        ctx["row_lines"] = block(
            [sub(pc.dvalue[k]) for k in ks], [state_var("row_deriv", k) for k in ks], printer, "_d"
        )
    checks = label_checks(spec)
    ctx["labels"] = repr(checks)
    ctx["label_names"] = [c[1] for c in checks]
    ctx["label_first"] = checks[0][2] if checks else 1
    ctx["pivot"] = pivot_context(spec, printer, sub, names, folded, [*loads, *sum_lines])
    ctx["uses_size"] = SIZE.name in read
    ctx["param_grads"] = param_context(spec, printer, sub, [*all_loads, *sum_lines], folded)
    printer.helpers.update({"wexp", "fin", "two_sum"} | ({"fin_lo"} if low else set()))
    if compensated:
        printer.helpers.add("two_product")
    ctx.update(chunked_context(ctx))
    return ctx


def absent_terms(plan, shifted, folded: dict) -> list[Assign]:
    """``_h_g = -inf`` for an element whose weight is exactly 0 in every sum of group ``g``.

    A term ``0 * exp(h)`` is absent from the normal form, like an entry at -inf: it must not
    raise the running maximum ``M_g`` (a zero-weight ``exp(800)`` would shift the real terms
    below the underflow threshold, ``log 0 = -inf``) nor meet ``0 * inf`` in the sum.  Only the
    sum passes see the masked exponent; the gradient's prologue keeps the true ``h`` (a weight's
    own derivative there is ``dw * exp(h - M)``).  A group with a nonzero numeric weight needs
    no mask.

    >>> import sympy as sp
    >>> from types import SimpleNamespace as NS
    >>> t = sp.Symbol("t")
    >>> plan = NS(sums=(NS(group=0, w=t), NS(group=0, w=1 - t)))
    >>> lines(absent_terms(plan, [0], {}), MathPrinter())
    ['_h0 = (((-math.inf)) if (_w0 == 0) and (_w1 == 0) else (_h0))']
    >>> absent_terms(NS(sums=(NS(group=0, w=t), NS(group=0, w=sp.S.One))), [0], {1: sp.S.One})
    []
    """
    out = []
    for g in shifted:
        members = [k for k, s in enumerate(plan.sums) if s.group == g]
        if not masked(plan, g):
            continue
        zero = sp.And(
            *[
                sp.Eq(sp.Symbol(state_var("factor", k), real=True), 0)
                for k in members
                if k not in folded
            ]
        )
        h = sp.Symbol(state_var("exponent", g), real=True)
        out.append(Assign(str(h), sp.Piecewise((-sp.oo, zero), (h, True))))
    return out


def online_lines(groups: list[dict], sums: list[dict]) -> list[str]:
    """The element step of the online sum of exponentials, for the CPU fallback pass, the
    iteration steps and the CUDA threads: when an exponent exceeds its group's shift, the
    group's sums and compensations are rescaled by ``exp(M_old - M_new)`` (Milakov and
    Gimelshein 2018, arXiv:1805.02867, Alg. 3) and the shift moves; then each term is added by
    TwoSum (``_two_sum``) into its sum, its error into the compensation.

    >>> print("\\n".join(online_lines([{"index": 0, "sums": [0]}], [{"index": 0, "term": "E0"}])))
    if _h0 > M0:
        _r = math.exp(M0 - _h0)
        s0 = s0 * _r
        c0 = c0 * _r
        M0 = _h0
    E0 = _wexp(_h0, M0)
    s0, _e = _two_sum(s0, E0)
    c0 += _e
    """
    out: list[str] = []
    for g in groups:
        h, m = state_var("exponent", g["index"]), state_var("shift", g["index"])
        out += [f"if {h} > {m}:", f"    _r = math.exp({m} - {h})"]
        for k in g["sums"]:
            for v in (state_var("sum", k), state_var("comp", k)):
                out.append(f"    {v} = {v} * _r")
        out += [f"    {m} = {h}", f"{state_var('weight', g['index'])} = _wexp({h}, {m})"]
    for s in sums:
        total, comp = state_var("sum", s["index"]), state_var("comp", s["index"])
        err = f" + {s['err']}" if s.get("err") else ""
        out += [f"{total}, _e = _two_sum({total}, {s['term']})", f"{comp} += _e{err}"]
    return out


def _term(k: int, s, plan, folded: dict, printer: MathPrinter) -> str:
    """The term ``w_k E_g`` of sum ``k`` for one element (``w_k`` alone for a sum with no
    exponent); a weight folded to 1 leaves ``E_g``.

    >>> import sympy as sp
    >>> from types import SimpleNamespace as NS
    >>> plan = NS(shifted=lambda g: g == 0)
    >>> [_term(0, NS(group=0), plan, f, MathPrinter()) for f in ({}, {0: sp.S.One}, {0: sp.S(2)})]
    ['_w0 * E0', 'E0', '2 * E0']
    >>> _term(1, NS(group=1), plan, {1: sp.S.One}, MathPrinter())
    '1.0'
    """
    if not plan.shifted(s.group):
        return weight_code(k, folded, printer)
    e = state_var("weight", s.group)
    if folded.get(k) == 1:
        return e
    w = printer.doprint(folded[k]) if k in folded else state_var("factor", k)
    return f"{w} * {e}"


def label_checks(spec: KernelSpec) -> tuple:
    """``(position, name, first, last - n)`` of each parameter that indexes a vector outside
    the sums (``x[t]``: a class label), for the wrappers' range check; the range is the
    index range of the expression's sum (``Sum(..., (i, 1, n))``: 1 to n)."""
    sums = sorted(spec.expr.atoms(sp.Sum), key=sp.default_sort_key)
    subscripts = {s for ind in spec.expr.atoms(sp.Indexed) for s in ind.indices}
    size = spec.plan.size
    if not sums:
        return ()
    _, first, last = sums[0].limits[0]
    offset = sp.simplify(last - size)
    if not (first.is_Integer and offset.is_Integer):
        return ()
    return tuple(
        (at, name, int(first), int(offset))
        for at, (p, name) in enumerate(zip(spec.params, spec.param_names, strict=True))
        if p in subscripts
    )


def cuda_context(spec: KernelSpec, ctx: dict) -> dict:
    """The ``cuda_*`` variables of ``templates/cuda_reduction.py.j2``: float64 loads, the
    per-thread state of the block merge, its width, kernel names and typed signatures."""
    name = spec.name
    plan = spec.plan
    vectors = ctx["vectors"]
    cuda = CudaPrinter()
    loads = lines(ctx["statements"]["load"], cuda)
    groups, sums = ctx["groups"], ctx["sums"]
    adjoints = ctx.get("adjoints", [])
    value_kernel, grad_kernel = f"_cuda_rows_{name}", f"_cuda_grad_rows_{name}"
    params = list(spec.param_codes)

    def sig(dtype: str, grad: bool) -> str:
        rows = f"{dtype}[:, ::1]"
        if grad:
            outs = [rows] * len(vectors)
        else:
            outs = [rows if plan.rowmap else f"{dtype}[::1]"]
        args = outs + [rows] * len(vectors)
        for _ in params:
            args += operand_sig("float64")
        if grad and plan.rowmap:
            args += ["float64", "float64[:, ::1]", "int64"]
        args += ["boolean[:, ::1]", "int64"]  # the mask and its mode (CUDA_KEPT)
        return f"void({', '.join(args)})"

    pivot = ctx.get("pivot")
    small = [sym for sym, _ in pivot["small"]] if pivot else []
    shifted = {k for g in groups for k in g["sums"]}
    state = [state_var("shift", g["index"]) for g in groups]
    for s in sums:
        state += [state_var("sum", s["index"]), state_var("comp", s["index"])]
    return {
        "cuda_loads": loads,
        "cuda_state": state,
        "cuda_plain_sums": [s["index"] for s in sums if s["index"] not in shifted],
        "cuda_adjoint_state": [
            v for k in adjoints for v in (state_var("adjoint", k), state_var("adjoint_comp", k))
        ],
        "cuda_prologue": lines(ctx["statements"]["prologue"], cuda),
        "cuda_width": max(len(groups) + 2 * len(sums), 2 * len(adjoints), 2 * len(small), 1),
        "cuda_pivot_state": [v for sym in small for v in (sym, comp_of(sym))],
        "cuda_pivot_load": lines(pivot["load_statements"], cuda) if pivot else [],
        "cuda_pivot_sum_loop": lines(pivot["sum_statements"], cuda) if pivot else [],
        "cuda_starts": {g["index"]: g["start"] for g in groups},
        **kernel_pair(value_kernel, grad_kernel, [h.function for h in ctx["helpers"]], sig),
    }


def _lean(stmt):
    """``stmt`` with ``wexp`` as ``fsexp``: the prologue of a row whose shifts and sums are
    finite (every ``h <= M``, no NaN), where the edge cases of ``_wexp`` cannot occur."""
    return Assign(stmt.target, stmt.expr.replace(wexp, fsexp)) if isinstance(stmt, Assign) else stmt


REDUCTION = Kind("reduction", cpu_context, cuda_context, "reduction.py.j2")
