"""The pivoted gradient of a row reduction in double-double: the lines of its template pass.

:mod:`symsmooth.codegen.pivot` finds the pivoted form of a reduction's gradient (the sums of
the shifted group split at the pivot ``m``, the first element with ``exp(h - M) = 1``, into its
term ``P_k`` and the rest ``r_k``; the numerator's ``r``-free lead factored out).  This module
turns that form into the statements of ``_pivot_grad_<name>`` (CPU) and of the pivoted branch of
the CUDA gradient kernel: the pivot's loads, the small sums ``r_k`` and adjoint sums ``V_k``
accumulated as double-double (each term ``coef * (E + El)`` with ``E + El = _wexp2(h, M)``, the
product by TwoProduct, the sum by ``_two_sum``), their renormalization (Fast2Sum), and each
gradient numerator formed in double-double when it is linear in the small sums
(:func:`symsmooth.codegen.pivot.linear_numerator`), rounded once.  See docs/codegen.md,
"Reduction gradients: pivoted form", for the accuracy this buys (<= 2.8 ulp measured).

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer. Math.
18 (1971) 224-242 (TwoProduct, Fast2Sum); D. E. Knuth, TAOCP vol. 2, 4.2.2 (TwoSum).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.printer import MathPrinter
>>> weight_code(0, {0: sp.S(2)}, MathPrinter()), weight_code(1, {}, MathPrinter())
('2.0', '_w1')
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import Assign, Load, Raw, block, lines, live, reads, statements
from symsmooth.codegen.kinds.chunked import offset_positions
from symsmooth.codegen.names import COTANGENT, PIVOT_POSITION, comp_of, derived_var, state_var
from symsmooth.codegen.pivot import linear_numerator, pivot_form
from symsmooth.codegen.printer import MathPrinter
from symsmooth.codegen.spec import KernelSpec
from symsmooth.errors import CodegenError


def weight_code(k: int, folded: dict, printer: MathPrinter) -> str:
    """The weight ``w_k`` as code: the name ``_w{k}`` of its statement, or the number it
    folded to (printed as a float: it multiplies floats in TwoProduct)."""
    return printer.doprint(sp.Float(folded[k])) if k in folded else state_var("factor", k)


def pivot_context(
    spec: KernelSpec, printer: MathPrinter, sub, names, folded: dict, sum_pass=()
) -> dict | None:
    """Lines of the pivoted gradient (:mod:`symsmooth.codegen.pivot`), or ``None``.

    ``sum_pass`` are the loads and sum statements of one element in the value pass: the
    pivot's sum loop keeps those its group reads (``sum_statements``; a label gather's weight
    is not one), and the pivot's own loads those its formulas read."""
    plan, pc = spec.plan, spec.pieces
    piv = pivot_form(plan, pc)
    if piv is None:
        return None
    g = piv.group
    formulas = [*piv.pivot_terms.values(), *piv.leading, *piv.rest, *piv.denominator]
    at_pivot = {str(s) for e in formulas for s in sub(e).free_symbols}
    load = [
        Load(str(p), v, "piv")
        for v, el, p in zip(
            names, plan.elements, [piv.pivot_elements[e] for e in plan.elements], strict=False
        )
    ]
    load.append(Assign(PIVOT_POSITION, sp.Symbol("piv") + 1.0))
    if plan.rowmap:
        load.append(Load(derived_var("pivot", COTANGENT), COTANGENT, "piv"))
    load = [st for st in load if st.target in at_pivot]
    keys = sorted(piv.pivot_terms, key=lambda s: s.name)
    load += statements([sub(piv.pivot_terms[q]) for q in keys], [str(q) for q in keys], "_q")
    # every small term is coef * E_g: E_g = E + El from _wexp2 (exp with its rounding error)
    # and coef * E by TwoProduct, so the sums r_k, V_k are double-double to ~2**-64
    small = [(state_var("small_sum", k), weight_code(k, folded, printer)) for k in piv.sums]
    vk = sorted(piv.adjoint_terms, key=lambda s: s.name)
    small += [(str(v), state_var("adjoint_coef", v.name[1:])) for v in vk]
    e = spec.pieces.weights_e[g]
    coefs = [sp.cancel(piv.adjoint_terms[v] / e) for v in vk]
    if any(e in c.free_symbols for c in coefs):  # pragma: no cover - pivot_form factors E_g out
        raise CodegenError(f"{spec.name}: a pivoted adjoint term is not E_g times a factor")
    adj_statements = statements(
        [sub(c) for c in coefs], [state_var("adjoint_coef", v.name[1:]) for v in vk], "_e"
    )
    adj = lines(adj_statements, printer)
    needed = {state_var("exponent", g)} | {state_var("factor", k) for k in piv.sums}
    needed |= reads(adj_statements)
    sum_statements = live(list(sum_pass), needed)
    accumulate = []
    units = {state_var("small_sum", k) for k in piv.sums if folded.get(k) == 1}
    e_g, el_g = state_var("weight", g), state_var("weight_low", g)
    for sym, coef in small:
        c_sym = comp_of(sym)
        # coef * (E + El) as _v + error; a weight folded to 1 needs no TwoProduct (exact)
        product, error = (
            (f"_v = {e_g}", el_g)
            if sym in units
            else (f"_v, _ve = _two_product({coef}, {e_g})", f"(_ve + {coef} * {el_g})")
        )
        accumulate += [product, f"{sym}, _e = _two_sum({sym}, _v)", f"{c_sym} += _e + {error}"]
    finish = []
    for sym, _ in small:
        c_sym = comp_of(sym)
        finish += [f"_t = {sym} + {c_sym}", f"{c_sym} = {c_sym} - (_t - {sym})", f"{sym} = _t"]
    for k in piv.sums:  # s_k = P_k + r_k rounded once, for the denominators
        p_k, r_k, s_k = (state_var(role, k) for role in ("pivot_sum", "small_sum", "sum"))
        finish += [f"_t, _e = _two_sum({p_k}, {r_k})", f"{s_k} = _t + (_e + {comp_of(r_k)})"]
    printer.helpers.update({"wexp2", "two_product", "two_sum"})
    grads = []
    for j, (lead, rest, den, weighted) in enumerate(
        zip(piv.leading, piv.rest, piv.denominator, piv.weighted, strict=False)
    ):
        lin = linear_numerator(lead, rest, piv.small)
        if lin is None:
            grads += block(
                [sub(lead), sub(rest), sub(den)], [f"_l{j}", f"_t{j}", f"_n{j}"], printer, f"_c{j}_"
            )
            grads.append(_grad_line(j, f"(_l{j} + _t{j}) / _n{j}", weighted, e_g))
            continue
        grads += _dd_numerator(j, lin, sub(den), printer, sub)
        grads.append(_grad_line(j, f"(_f{j} * _u{j}) / _n{j}", weighted, e_g))
    return {
        "group": g,
        "load": lines(load, printer),
        # the chunked path (templates/_chunked_reduction.py.j2): the pivot's elements from its
        # record, the small sums' loop with the chunk's positions offset
        "chunk_load": lines(_record_loads(load, names), printer),
        "chunk_sum_loop": lines(offset_positions(sum_statements), printer),
        "columns": 2 + len(names) if plan.rowmap else 1 + len(names),
        "load_statements": load,
        "sum_statements": sum_statements,
        "sum_loop": lines(sum_statements, printer),
        "small": small,
        "weight": f"{e_g}, {el_g} = _wexp2({state_var('exponent', g)}, {state_var('shift', g)})",
        "adjoint_lines": adj,
        "accumulate": accumulate,
        "finish": finish,
        "grad_lines": grads,
    }


def _record_loads(load: list, names: list) -> list:
    """The pivot's loads read from its record ``_piv[r]`` of the chunked path: column 0 its
    position ``piv`` in the whole row, then each vector's element there, then (row maps) the
    cotangent's; the other statements unchanged.

    >>> _record_loads([Load("x_p", "x", "piv"), Load("G_p", "G", "piv")], ["x"])
    [Raw(line='piv = _piv[r, 0]'), Raw(line='x_p = _piv[r, 1]'), Raw(line='G_p = _piv[r, 2]')]
    """
    out: list = [Raw("piv = _piv[r, 0]")]
    for st in load:
        if isinstance(st, Load) and st.index == "piv":
            col = 1 + (names.index(st.vector) if st.vector in names else len(names))
            out.append(Raw(f"{st.target} = _piv[r, {col}]"))
        else:
            out.append(st)
    return out


def _grad_line(j: int, ratio: str, weighted: bool, e_g: str) -> str:
    """``grad_j = E_g * ratio`` (0 where the weight is 0) for a partial that scales with the
    element's weight; ``ratio`` itself when the weight is inside the numerator (a label term).

    >>> _grad_line(0, "_u0 / _n0", True, "E1"), _grad_line(0, "_u0 / _n0", False, "E1")
    ('_g0 = 0.0 if E1 == 0.0 else E1 * (_u0 / _n0)', '_g0 = _u0 / _n0')
    """
    grad_j = state_var("grad", j)
    if not weighted:
        return f"{grad_j} = {ratio}"
    return f"{grad_j} = 0.0 if {e_g} == 0.0 else {e_g} * ({ratio})"


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
            lines.append(f"_ul{j} += _e + {term} * {comp_of(small)}")
        lines += [f"_u{j}, _e = _two_sum(_u{j}, _x)", f"_ul{j} += _e"]
    printer.helpers.update({"two_product", "two_sum"})
    return lines + [f"_u{j} = _u{j} + _ul{j}"]
