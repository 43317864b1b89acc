"""Turn a :class:`KernelSpec` into template context: printed, CSE'd lines of ``math.*`` code.

The templates hold layout only (decorators, loops, wrappers); every formula arrives here as
printed text.  Common subexpressions are shared with :func:`sympy.cse` inside each block.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> ctx = context(make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,)))
>>> ctx["cores"][0]["lines"]
['return _softplus(k*x)/k']
>>> [h.function for h in ctx["helpers"]]
['_two_product', '_wexp2', '_sigmoid2', '_sigmoid', '_softplus']
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.fastmath import fast_context
from symsmooth.codegen.helpers import resolve
from symsmooth.codegen.names import docstring_text
from symsmooth.codegen.pivot import linear_numerator, pivot_form
from symsmooth.codegen.printer import MathPrinter
from symsmooth.codegen.spec import KernelSpec
from symsmooth.errors import CodegenError

SIZE = sp.Symbol("size_", positive=True)


def block(exprs, targets, printer: MathPrinter, prefix: str) -> list[str]:
    """CSE'd assignment lines computing ``targets[j] = exprs[j]``.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> block([sp.exp(x) + 1, sp.exp(x) * 2], ["_a", "_b"], MathPrinter(), "_c")
    ['_c0 = math.exp(x)', '_a = _c0 + 1', '_b = 2*_c0']
    """
    exprs = [sp.sympify(e) for e in exprs]
    if not exprs:
        return []
    temps = sp.numbered_symbols(prefix, real=True)
    replacements, reduced = sp.cse(exprs, symbols=temps, order="canonical")
    lines = [f"{printer.doprint(s)} = {printer.doprint(e)}" for s, e in replacements]
    lines += [f"{t} = {printer.doprint(e)}" for t, e in zip(targets, reduced, strict=False)]
    return lines


def _is_linear_part(term: sp.Expr) -> bool:
    return not term.atoms(sp.Function)


def value_block(value: sp.Expr, printer: MathPrinter) -> list[str]:
    """Lines computing ``_out``: the terms free of log/exp/powers (shifts ``M``, entries,
    plain sums: the large ones) are added first, so ``M - x_t`` cancels exactly (Sterbenz)
    before the small ``log s`` is added.

    Examples
    --------
    >>> import sympy as sp
    >>> M, s, x = sp.symbols("M0 s0 x_e")
    >>> value_block(M + sp.log(s) - x, MathPrinter())
    ['_lin = M0 - x_e', '_rest = math.log(s0)', '_out = _lin + _rest']
    """
    expanded = sp.expand(value)
    if isinstance(expanded, sp.Add):
        lin = [t for t in expanded.args if _is_linear_part(t)]
        rest = [t for t in expanded.args if not _is_linear_part(t)]
        if lin and rest:
            lines = block([sp.Add(*lin), sp.Add(*rest)], ["_lin", "_rest"], printer, "_c")
            return lines + ["_out = _lin + _rest"]
    return block([value], ["_out"], printer, "_c")


def _elementwise(spec: KernelSpec, printer: MathPrinter) -> dict:
    codes = spec.input_codes + spec.param_codes
    args = ", ".join(codes)
    arity = len(codes)
    cores = [{"name": f"_core_{spec.name}", "expr": spec.stable}]
    grads = []
    for v, code, g in zip(spec.input_names, spec.input_codes, spec.stable_gradients, strict=False):
        cores.append({"name": f"_core_{spec.name}_grad_{v}", "expr": g})
        grads.append(
            {"name": f"{spec.name}_grad_{v}", "input": v, "code": code, "core": cores[-1]["name"]}
        )
    for core in cores:
        lines = block([core.pop("expr")], ["_out"], printer, "_c")
        lines[-1] = "return " + lines[-1].split(" = ", 1)[1]
        core["lines"] = lines
    ufuncs = [{"name": spec.name, "core": cores[0]["name"]}] + [
        {"name": g["name"], "core": g["core"]} for g in grads
    ]
    sig = lambda t: f"{t}({', '.join([t] * arity)})"  # noqa: E731
    return {
        "template": "elementwise.py.j2",
        "args": args,
        "cores": cores,
        "ufuncs": ufuncs,
        "grads": grads,
        "grad_doc": (f"``{grads[0]['name']}``" if len(grads) == 1 else "a tuple of the partials"),
        "signatures": repr([sig("float32"), sig("float64")]).replace("'", '"'),
        "upcast": ", ".join(f"np.float64({a})" for a in codes),
    }


def _base(init: str, s, plan) -> str:
    """The initial value of a sum at the row's final shift M_g (the fast pass starts its lanes
    at 0 and adds this once): ``init * exp(start - M_g)``; the shift starts at 0 when some sum
    of the group has an initial value (see the groups' ``start``)."""
    if s.init == 0:
        return "0.0"
    if not plan.shifted(s.group):
        return init
    return f"{init} * _fwexp(0.0, M{s.group})"


def _reduction(spec: KernelSpec, printer: MathPrinter) -> dict:
    plan, pc = spec.plan, spec.pieces
    names = [str(v.label) for v in plan.vectors]
    local = {plan.size: SIZE}
    shifted = [g for g in range(len(plan.groups)) if plan.shifted(g)]
    loads = [f"{el} = {v}_row[idx]" for v, el in zip(names, plan.elements, strict=False)]
    loads.append("pos_ = idx + 1.0")

    def sub(e):
        return sp.sympify(e).xreplace(local)

    sum_lines = block(
        [sub(pc.exponents[g]) for g in shifted] + [sub(w) for w in pc.weights],
        [f"_h{g}" for g in shifted] + [f"_w{k}" for k in range(len(pc.weights))],
        printer,
        "_c",
    )
    prologue = list(loads)
    prologue += block(
        [sub(pc.exponents[g]) for g in shifted], [f"_h{g}" for g in shifted], printer, "_p"
    )
    prologue += [f"E{g} = _wexp(_h{g}, M{g})" for g in shifted]
    groups = [
        {
            "index": g,
            "start": "0.0" if any(s.init != 0 for s in plan.sums if s.group == g) else "-math.inf",
            "sums": [k for k, s in enumerate(plan.sums) if s.group == g],
        }
        for g in shifted
    ]
    sums = [
        {
            "index": k,
            "init": printer.doprint(sp.Float(0) if s.init == 0 else sub(s.init)),
            "base": _base(printer.doprint(sub(s.init)), s, plan),
            "term": f"_w{k} * E{s.group}" if plan.shifted(s.group) else f"_w{k}",
        }
        for k, s in enumerate(plan.sums)
    ]
    unpack = [f"s{k}" for k in range(len(plan.sums))] + [f"M{g}" for g in shifted]
    params = spec.param_codes
    row_args = ", ".join([f"{v}_row" for v in names] + list(params))
    grad_exprs = [sub(p) for p in pc.partials]
    ctx = {
        "template": "reduction.py.j2",
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
        "lean_prologue": [line.replace("_wexp(", "_fsexp(") for line in prologue],
        "lean_test": " and ".join(f"{v} - {v} == 0.0" for v in unpack),
        "row_args": row_args,
        "row_call": row_args,
        "mat_args": "".join(f"{v}_rows, " for v in names) + "".join(f"{p}_rows, " for p in params),
        "unpack": ", ".join(unpack) + ("," if len(unpack) == 1 else ""),
        "value_lines": value_block(sub(pc.value), printer),
        "grad_lines": block(grad_exprs, [f"_g{j}" for j in range(len(names))], printer, "_c"),
        "summary": docstring_text(spec.construction),
    }
    used = set().union(*[e.free_symbols for e in grad_exprs])
    if plan.rowmap:
        ks = [k for k in range(len(plan.sums)) if pc.adjoints[k] in used]
        ctx["adjoints"] = ks
        ctx["adjoint_lines"] = block(
            [pc.cotangent * sub(pc.dvalue[k]) for k in ks], [f"_a{k}" for k in ks], printer, "_d"
        )
    else:
        ks = [k for k in range(len(plan.sums)) if pc.derivs[k] in used]
        ctx["row_lines"] = block(
            [sub(pc.dvalue[k]) for k in ks], [f"D{k}" for k in ks], printer, "_d"
        )
    checks = label_checks(spec)
    ctx["labels"] = repr(checks)
    ctx["label_names"] = [c[1] for c in checks]
    ctx["label_first"] = checks[0][2] if checks else 1
    ctx["pivot"] = _pivot_context(spec, printer, sub, names)
    printer.helpers.update({"wexp", "fin"})
    return ctx


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


def _pivot_context(spec: KernelSpec, printer: MathPrinter, sub, names) -> dict | None:
    """Lines of the pivoted gradient (:mod:`symsmooth.codegen.pivot`), or ``None``."""
    plan, pc = spec.plan, spec.pieces
    piv = pivot_form(plan, pc)
    if piv is None:
        return None
    g = piv.group
    load = [
        f"{p} = {v}_row[piv]"
        for v, el, p in zip(
            names, plan.elements, [piv.pivot_elements[e] for e in plan.elements], strict=False
        )
    ]
    load.append("pos_p = piv + 1.0")
    if plan.rowmap:
        load.append("G_p = G_row[piv]")
    keys = sorted(piv.pivot_terms, key=lambda s: s.name)
    load += block([sub(piv.pivot_terms[q]) for q in keys], [str(q) for q in keys], printer, "_q")
    # every small term is coef * E_g: E_g = E + El from _wexp2 (exp with its rounding error)
    # and coef * E by TwoProduct, so the sums r_k, V_k are double-double to ~2**-64
    small = [(f"r{k}", f"_w{k}") for k in piv.sums]
    vk = sorted(piv.adjoint_terms, key=lambda s: s.name)
    small += [(str(v), f"_v{v.name[1:]}") for v in vk]
    e = spec.pieces.weights_e[g]
    coefs = [sp.cancel(piv.adjoint_terms[v] / e) for v in vk]
    if any(e in c.free_symbols for c in coefs):  # pragma: no cover - pivot_form factors E_g out
        raise CodegenError(f"{spec.name}: a pivoted adjoint term is not E_g times a factor")
    adj = block([sub(c) for c in coefs], [f"_v{v.name[1:]}" for v in vk], printer, "_e")
    accumulate = []
    for sym, coef in small:
        accumulate += [
            f"_v, _ve = _two_product({coef}, E{g})",
            f"_t = {sym} + _v",
            f"_bp = _t - {sym}",
            f"c{sym} += (({sym} - (_t - _bp)) + (_v - _bp)) + (_ve + {coef} * El{g})",
            f"{sym} = _t",
        ]
    finish = []
    for sym, _ in small:
        finish += [f"_t = {sym} + c{sym}", f"c{sym} = c{sym} - (_t - {sym})", f"{sym} = _t"]
    for k in piv.sums:  # s_k = P_k + r_k rounded once, for the denominators
        finish += [
            f"_t = P{k} + r{k}",
            f"_bp = _t - P{k}",
            f"s{k} = _t + (((P{k} - (_t - _bp)) + (r{k} - _bp)) + cr{k})",
        ]
    printer.helpers.update({"wexp2", "two_product"})
    grads = []
    for j, (lead, rest, den) in enumerate(
        zip(piv.leading, piv.rest, piv.denominator, strict=False)
    ):
        lin = linear_numerator(lead, rest, piv.small)
        if lin is None:
            grads += block(
                [sub(lead), sub(rest), sub(den)], [f"_l{j}", f"_t{j}", f"_n{j}"], printer, f"_c{j}_"
            )
            grads.append(f"_g{j} = 0.0 if E{g} == 0.0 else E{g} * ((_l{j} + _t{j}) / _n{j})")
            continue
        grads += _dd_numerator(j, lin, sub(den), printer, sub)
        grads.append(f"_g{j} = 0.0 if E{g} == 0.0 else E{g} * ((_f{j} * _u{j}) / _n{j})")
    return {
        "group": g,
        "load": load,
        "small": small,
        "weight": f"E{g}, El{g} = _wexp2(_h{g}, M{g})",
        "adjoint_lines": adj,
        "accumulate": accumulate,
        "finish": finish,
        "grad_lines": grads,
    }


def _dd_numerator(j: int, lin, den, printer: MathPrinter, sub) -> list[str]:
    """Lines forming the bracket of a :class:`~symsmooth.codegen.pivot.Linear` numerator in
    double-double (TwoSum of the lead terms, TwoProduct of each coefficient with the
    double-double small sum ``r + cr``) into ``_u{j}``; its factor ``_f{j}``, denominator
    ``_n{j}``."""
    coefs = [sub(c) for _, c in lin.terms]
    lead = [sub(t) for t in lin.lead] or [sp.S.Zero]
    names = [f"_f{j}", f"_n{j}"] + [f"_a{j}_{i}" for i in range(len(lead))]
    names += [f"_k{j}_{i}" for i in range(len(coefs))]
    lines = block([sub(lin.factor), den, *lead, *coefs], names, printer, f"_c{j}_")
    lines += [f"_u{j} = _a{j}_0", f"_ul{j} = 0.0"]
    adds = [(f"_a{j}_{i}", None) for i in range(1, len(lead))]
    adds += [(f"_k{j}_{i}", str(s)) for i, (s, _) in enumerate(lin.terms)]
    for term, small in adds:
        if small is None:
            lines.append(f"_x = {term}")
        else:
            lines.append(f"_x, _e = _two_product({term}, {small})")
            lines.append(f"_ul{j} += _e + {term} * c{small}")
        lines += [
            f"_s = _u{j} + _x",
            f"_bp = _s - _u{j}",
            f"_ul{j} += (_u{j} - (_s - _bp)) + (_x - _bp)",
            f"_u{j} = _s",
        ]
    printer.helpers.add("two_product")
    return lines + [f"_u{j} = _u{j} + _ul{j}"]


def _iteration(spec, printer: MathPrinter) -> dict:
    """Fixed-count iterations of a row map (:mod:`symsmooth.codegen.iteration`)."""
    from symsmooth.codegen.iteration import iteration_context

    return iteration_context(spec, printer)


_KINDS = {"elementwise": _elementwise, "reduction": _reduction, "iteration": _iteration}


def context(spec: KernelSpec) -> dict:
    """Template variables for ``spec`` (without the header fields)."""
    try:
        build = _KINDS[spec.kind]
    except KeyError:
        raise CodegenError(f"no emitter for kind {spec.kind!r}; known: {sorted(_KINDS)}") from None
    printer = MathPrinter()
    ctx = build(spec, printer)
    ctx["helpers"] = resolve(printer.helpers)
    ctx["name"] = spec.name
    ctx["fast"] = fast_context(ctx)  # vectorizable CPU twins (symsmooth.codegen.fastmath)
    return ctx
