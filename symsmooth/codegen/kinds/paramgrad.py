"""The parameter derivatives of a row reduction as code: ``_pgrad_<name>_<p>`` per parameter.

:mod:`symsmooth.codegen.paramgrad` derives ``d value / d p`` with every shift at its group's
pivot; this module writes the row function that evaluates it, in three passes over the row:

1. the pivot of each shifted group: the first element of largest exponent ``h_g`` (the sum
   pass's masked exponent: an absent term is never a pivot); a row with a NaN or ``+inf``
   exponent, or no finite one where no initial value stands in, has no derivative (NaN);
2. the sums ``s_k`` and their tangents ``T_k = ds_k/dp`` as double-double compensated sums, each
   weight ``E + El = _dexp2(c, x_e, x_m)`` (the exponent difference formed exactly) and each
   term by TwoProduct (:class:`~symsmooth.codegen.ddcode.DDWriter`);
3. row maps only: the vector-Jacobian product's row sums ``U_m = sum_j G_j beta_m(x_j)``
   (:func:`~symsmooth.codegen.paramgrad.split_terms`),

then the derivative's numerator in double-double, rounded once, over its denominator.  An
entry whose weight is 0 (at ``-inf``, or absent from every sum of its group) adds nothing;
every pass skips the masked entries (``where=``: :data:`~symsmooth.codegen.names.KEPT`) and
the length ``n`` counts the kept ones.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.kinds.reduction import REDUCTION
>>> from symsmooth.codegen.spec import make_spec
>>> x = sp.IndexedBase("x", real=True); k = sp.Symbol("k", positive=True)
>>> i, n = sp.symbols("i n", integer=True, positive=True)
>>> spec = make_spec("lse", sp.log(sp.Sum(sp.exp(k * x[i]), (i, 1, n))) / k, (x,), (k,),
...                  kind="reduction", index=i, size=n)
>>> pg = kernel_context(spec, REDUCTION)["param_grads"][0]
>>> pg["name"], pg["body"][-1]
('lse_grad_k', 'return _num / _den')
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.ddcode import DDWriter
from symsmooth.codegen.emit import Load, lines, live
from symsmooth.codegen.kinds.chunked import OFFSET, offset_positions
from symsmooth.codegen.kinds.paramgrad_chunks import chunk_parts
from symsmooth.codegen.kinds.pivoted import weight_code
from symsmooth.codegen.names import (
    COTANGENT,
    KEEP,
    KEPT,
    SIZE,
    derived_var,
    grad_function,
    state_var,
    user_name,
)
from symsmooth.codegen.paramgrad import ParamGrad, dexp, split_terms, sums_read
from symsmooth.codegen.printer import MathPrinter
from symsmooth.codegen.reduction import logdd


def _indent(block: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in block]


def _needed(stmts, needed: set) -> list:
    """``stmts`` (loads and sum statements of one element) with only what ``needed`` reads:
    :func:`~symsmooth.codegen.emit.live` for the assignments, and a load only where a kept
    statement or ``needed`` reads its target."""
    kept = live(stmts, needed)
    read = set(needed)
    for st in kept:
        if not isinstance(st, Load):
            read |= {str(s) for s in st.expr.free_symbols}
    return [st for st in kept if not isinstance(st, Load) or st.target in read]


def _row_loop(loop: list[str]) -> list[str]:
    """A pass over the row's kept entries (a masked entry, ``where=``, adds nothing)."""
    return ["for idx in range(length):", *_indent([f"if not {KEPT}:", "    continue", *loop])]


def _arg(printer: MathPrinter, expr) -> str:
    """A helper's argument: a number as a float (``0.0``, not ``0``)."""
    return repr(float(expr)) if sp.sympify(expr).is_Number else printer.doprint(expr)


def _reads(exprs) -> set:
    return {str(s) for e in exprs for s in sp.sympify(e).free_symbols}


class _Writer:
    """The body of one ``_pgrad_<name>_<p>`` row function."""

    def __init__(
        self, spec, pg: ParamGrad, printer: MathPrinter, sub, element_pass, folded, chunked=False
    ):
        self.spec, self.pg, self.printer, self.sub = spec, pg, printer, sub
        self.chunked = chunked  # a chunk of the row: initial values added where _off == 0
        self.element_pass, self.folded = list(element_pass), folded
        self.plan, self.pc = spec.plan, spec.pieces
        self.weight_syms = {g: sp.Symbol(state_var("weight", g), real=True) for g in pg.groups}
        self.pairs = {state_var("sum", k): state_var("low", k) for k in range(len(self.pc.scaled))}
        self.pairs |= {f"_T{k}": f"_Tl{k}" for k in range(len(self.pc.scaled))}
        self.pairs |= {str(e): state_var("weight_low", g) for g, e in self.weight_syms.items()}
        self.body: list[str] = ["length = " + f"{derived_var('row', self._vectors()[0])}.shape[0]"]

    def _vectors(self) -> list[str]:
        return [str(v.label) for v in self.plan.vectors]

    def _element(self, needed: set) -> list[str]:
        return lines(_needed(self.element_pass, needed), self.printer)

    def pivot_loop(self) -> None:
        """Pass 1 (module docstring): ``_bad``, and each group's largest exponent ``_B<g>``
        and its first index ``_I<g>`` (-1: none)."""
        pg, body = self.pg, self.body
        starts = {g: "0.0" if g in pg.flags else "-math.inf" for g in pg.groups}
        body.append("_bad = False")
        for g in pg.groups:
            body += [f"_B{g} = {starts[g]}", f"_I{g} = -1"]
        loop = self._element({state_var("exponent", g) for g in pg.groups})
        for g in pg.groups:
            h = state_var("exponent", g)
            loop += [f"if {h} > _B{g}:", f"    _B{g} = {h}", f"    _I{g} = idx"]
            loop += [f"elif {h} != {h}:", "    _bad = True"]
        body += _row_loop(loop)

    def pivots(self, result_reads: set) -> None:
        """Pass 1 (module docstring) and the pivot's loads."""
        pg, body = self.pg, self.body
        if not pg.groups:  # no exponent: no pivot
            return
        self.pivot_loop()
        bad = ["_bad"] + [f"not (_B{g} < math.inf)" for g in pg.groups]
        bad += [f"_I{g} < 0" for g in pg.groups if g not in pg.flags]
        body += [f"if {' or '.join(bad)}:", "    return math.nan"]
        for g in pg.groups:
            if g in pg.flags:
                body.append(f"{pg.flags[g]} = 1.0 if _I{g} >= 0 else 0.0")
            for el, p in pg.pivots[g].items():
                if str(p) not in result_reads:
                    continue
                if el == self.plan.position:
                    load = f"_I{g} + 1.0"
                else:
                    vector = self._vectors()[self.plan.elements.index(el)]
                    load = self.printer.load(vector, f"_I{g}")
                body.append(
                    f"{p} = {load} if _I{g} >= 0 else 0.0" if g in pg.flags else f"{p} = {load}"
                )

    def _coefficients(self, groups) -> list[str]:
        """Before a pass: each group's weight coefficient ``c`` (``E = exp(c (x_e - x_m))``) as
        a double-double ``_C<g> + _Cl<g>`` where it is not one double (``1/(2 sigma**2)``)."""
        out, self._coef = [], {}
        for g in groups:
            c = self.sub(self.pg.weights[g].args[0])
            dd = DDWriter(self.printer, {}, f"_k{g}_")
            hi, lo = dd.value(c, exact=True)
            if lo == "0.0":
                self._coef[g] = (hi, None)
                continue
            out += dd.lines + [f"_C{g} = {hi}", f"_Cl{g} = {lo}"]
            self._coef[g] = (f"_C{g}", f"_Cl{g}")
        return out

    def _weights(self, groups) -> list[str]:
        """Each group's ``E, El`` for the element (``_dexp2``, ``_dexp2c`` with a
        double-double coefficient), 0 where it is absent."""
        out = []
        for g in groups:
            e, el = state_var("weight", g), state_var("weight_low", g)
            _, u, v = (_arg(self.printer, self.sub(a)) for a in self.pg.weights[g].args)
            hi, lo = self._coef[g]
            call = f"_dexp2({hi}, {u}, {v})" if lo is None else f"_dexp2c({hi}, {lo}, {u}, {v})"
            self.printer.helpers.add("dexp2" if lo is None else "dexp2c")
            out += [f"{e}, {el} = {call}", f"if {state_var('exponent', g)} == -math.inf:"]
            out += [f"    {e} = 0.0", f"    {el} = 0.0"]
        return out

    def sums(self, scaled: set, tangent: set) -> None:
        """Pass 2: the double-double sums ``s_k + c_k`` and ``T_k + Tc_k``."""
        pg, plan, body = self.pg, self.plan, self.body
        init = DDWriter(self.printer, self.pairs, "_i")
        for k in sorted(scaled | tangent):
            starts = [((state_var("sum", k), state_var("comp", k)), pg.inits[k][0])]
            starts = starts if k in scaled else []
            starts += [((f"_T{k}", f"_Tc{k}"), pg.inits[k][1])] if k in tangent else []
            for (hi, lo), expr in starts:
                h, low = init.value(self.sub(expr))
                if self.chunked and (h, low) != ("0.0", "0.0"):  # added by the first chunk
                    h, low = (
                        f"{h} if {OFFSET} == 0.0 else 0.0",
                        f"{low} if {OFFSET} == 0.0 else 0.0",
                    )
                init.lines += [f"{hi} = {h}", f"{lo} = {low}"]
        body += init.lines
        groups = sorted(
            {plan.sums[k].group for k in scaled | tangent if plan.shifted(plan.sums[k].group)}
        )
        dd = DDWriter(self.printer, self.pairs, "_y")
        shifted: dict = {g: [] for g in groups}
        plain: list[str] = []
        for k in sorted(scaled | tangent):
            g = plan.sums[k].group
            w = weight_code(k, self.folded, self.printer)
            err = state_var("weight_err", k)
            werr = err if any(getattr(s, "target", "") == err for s in self.element_pass) else "0.0"
            dd.lines = []
            if plan.shifted(g):
                e = (state_var("weight", g), state_var("weight_low", g))
                if k in scaled:
                    term = e if self.folded.get(k) == 1 else dd.mul((w, "0.0"), e)
                    dd.accumulate(state_var("sum", k), state_var("comp", k), term)
                if k in tangent and pg.coefs[k] != 0:
                    dd.accumulate(f"_T{k}", f"_Tc{k}", dd.mul(dd.value(self.sub(pg.coefs[k])), e))
                shifted[g] += dd.lines
                continue
            if k in scaled:
                dd.accumulate(state_var("sum", k), state_var("comp", k), (w, werr))
            if k in tangent and pg.coefs[k] != 0:
                dd.accumulate(f"_T{k}", f"_Tc{k}", dd.value(self.sub(pg.coefs[k])))
            plain += dd.lines
        needed = {state_var("exponent", g) for g in groups}
        needed |= {state_var("factor", k) for k in scaled | tangent}
        needed |= {state_var("weight_err", k) for k in scaled}
        needed |= _reads([self.sub(a) for g in groups for a in pg.weights[g].args])
        needed |= _reads([self.sub(c) for c in pg.coefs])
        body += self._coefficients(groups)
        loop = self._element(needed) + self._weights(groups)
        for g in groups:
            loop += [f"if {state_var('weight', g)} != 0.0:", *_indent(shifted[g])]
        body += _row_loop(loop + plain)
        for k in sorted(scaled):
            s, c, sl = state_var("sum", k), state_var("comp", k), state_var("low", k)
            body += [f"_t = {s} + {c}", f"{sl} = {c} - (_t - {s})", f"{s} = _t"]
        for k in sorted(tangent):
            body += [f"_t = _T{k} + _Tc{k}", f"_Tl{k} = _Tc{k} - (_t - _T{k})", f"_T{k} = _t"]

    def contract(self, num: sp.Expr) -> sp.Expr:
        """Pass 3 (row maps): ``sum_j G_j num(x_j)`` as ``sum_m alpha_m U_m``."""
        plan, pg = self.plan, self.pg
        local = [*plan.elements, plan.position]
        parts = split_terms(num, local)
        swap = {pg.weights[g]: self.weight_syms[g] for g in pg.groups}
        body = self.body
        dd = DDWriter(self.printer, self.pairs, "_u")
        total = sp.S.Zero
        for m, (alpha, _) in enumerate(parts):
            body += [f"_U{m} = 0.0", f"_Uc{m} = 0.0"]
            self.pairs[f"_U{m}"] = f"_Ul{m}"
            dd.pairs[f"_U{m}"] = f"_Ul{m}"
            total += alpha * sp.Symbol(f"_U{m}", real=True)
        groups = sorted({g for g in pg.groups if any(b.has(pg.weights[g]) for _, b in parts)})
        guarded: list[str] = []
        cot = derived_var("element", COTANGENT)
        for m, (_, beta) in enumerate(parts):
            dd.lines = []
            b = dd.value(self.sub(beta.xreplace(swap)))
            dd.accumulate(f"_U{m}", f"_Uc{m}", dd.mul((cot, "0.0"), b))
            guarded += dd.lines
        needed = {state_var("exponent", g) for g in groups}
        needed |= _reads([self.sub(a) for g in groups for a in pg.weights[g].args])
        needed |= _reads([self.sub(b) for _, b in parts])
        body += self._coefficients(groups)
        loop = self._element(needed) + self._weights(groups)
        loop.append(f"{cot} = {derived_var('row', COTANGENT)}[idx]")
        test = " and ".join(f"{state_var('weight', g)} != 0.0" for g in groups)
        loop += [f"if {test}:", *_indent(guarded)] if groups else guarded
        body += _row_loop(loop)
        self.contracted = len(parts)  # the row sums U_m (their pairs: _U<m>, _Ul<m>)
        for m in range(len(parts)):
            body += [f"_t = _U{m} + _Uc{m}", f"_Ul{m} = _Uc{m} - (_t - _U{m})", f"_U{m} = _t"]
        return total

    def finish(self, num: sp.Expr, den: sp.Expr) -> None:
        dd = DDWriter(self.printer, self.pairs, "_z")
        dd.rounded(self.sub(num), "_num")
        self.body += dd.lines
        self.body += [f"_den = {self.printer.doprint(self.sub(den))}", "return _num / _den"]


def _logs(expr: sp.Expr, pc) -> sp.Expr:
    """``log(s_k) -> logdd(0, s_k, sl_k)``: the log of a double-double sum near 1 keeps its
    digits (``log1p`` of the rest)."""
    lows = [sp.Symbol(state_var("low", k), real=True) for k in range(len(pc.scaled))]
    return expr.xreplace(
        {sp.log(s): logdd(sp.S.Zero, s, lo) for s, lo in zip(pc.scaled, lows, strict=True)}
    )


def param_context(spec, printer: MathPrinter, sub, element_pass, folded: dict) -> list[dict]:
    """One dict per parameter derivative of ``spec`` (``spec.param_grads``): its public name,
    the code and user name of the parameter and the lines of its row function's ``body``.

    ``element_pass`` are the loads and sum statements of one element (the value pass's):
    each pass keeps those its formulas read."""
    out = []
    for pg in spec.reduction_param_grads:
        user = user_name(str(pg.param))
        writer = _Writer(spec, pg, printer, sub, element_pass, folded)
        num, den = sp.fraction(sp.together(_logs(pg.result, spec.pieces)))
        if spec.plan.rowmap and (
            den.free_symbols & {*spec.plan.elements, spec.plan.position} or den.has(dexp)
        ):  # pragma: no cover - no catalog row map has an element in the denominator
            num, den = pg.result, sp.S.One
        parts = [num, den, *pg.coefs, *(e for pair in pg.inits for e in pair)]
        parts += [a for w in pg.weights.values() for a in w.args]
        reads = _reads([sub(e) for e in parts])
        if SIZE in reads:
            writer.body.append(f"{SIZE} = _kept_count({derived_var('row', KEEP)}, length)")
        chunked = _Writer(
            spec, pg, printer, sub, offset_positions(element_pass), folded, chunked=True
        )
        chunk = chunk_parts(chunked, num, den, reads)
        scaled, tangent = sums_read([num, den], spec.pieces)
        writer.pivots(reads)
        writer.sums(scaled, tangent)
        if spec.plan.rowmap:
            num = writer.contract(num)
        writer.finish(num, den)
        out.append(
            {
                "name": grad_function(spec.name, user),
                "param": user,
                "code": str(pg.param),
                "function": f"_pgrad_{spec.name}_{pg.param}",
                "body": writer.body,
                "chunk": chunk,
            }
        )
    return out
