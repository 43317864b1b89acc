"""The parameter derivatives of a native reduction from its pivoted form, compensated.

Autodiff of the native value in a parameter ``k`` differentiates the rounded row sums: soft
argmax ``s_1/s_0`` gives ``(T_1 s_0 - T_0 s_1)/s_0^2`` (``T_j = ds_j/dk``) from plain sums, and
the softmax's ``sum_i G_i dp_i/dk`` is ``(s U_0 - T U_1)/s^2`` with ``sum_i dp_i/dk = 0``: both
subtract nearly equal numbers (80 ulp on rows near 1000 in float64, 250 in float32).  The
Numba kernels evaluate :mod:`symsmooth.codegen.paramgrad`'s derivative (every shift at its
group's pivot) with double-double sums; this module prints the same derivative in framework
ops over the rows the native value is computed on (an ``extend`` of
:func:`~symsmooth.codegen.native_rows.rows_statements`):

1. the sums ``s_k`` (from the value's term rows) and their tangents ``T_k = sum_i coef_k(x_i)
   E_i`` as double-doubles: each row sum with the rounding error of its pairwise TwoSum tree,
   each product with its TwoProduct error, the differences ``x_i - x_p`` (``ddiff``) with
   their TwoSum error;
2. row maps: the vector-Jacobian product's row sums ``U_m = sum_i G_i beta_m(x_i)``
   (:func:`~symsmooth.codegen.paramgrad.split_terms`) the same way;
3. the numerator in double-double (TwoSum and TwoProduct of each operation), rounded once,
   over the denominator.

The rounding errors carry no derivative, so the derivative of the result (a second derivative
of the value) is that of the plain formula.  With ``linear`` (JAX's row-map rule, transposed
twice) what depends on the cotangent takes the linear error-free transformations and every
statement sits behind a ``barrier``, as in :mod:`symsmooth.codegen.native_pivot`.

A parameter is left to autodiff (``None`` here) where its derivative reads anything but sums,
tangents, weights and differences (a logarithm: log-sum-exp's ``T/(k s) - log(s)/k^2`` has no
cancelling subtraction, and autodiff of the pivoted value is already within 2 ulp), where a
group has an initial value, or where a group has no pivot in the rows.

Examples
--------
>>> from symsmooth import pipeline
>>> from symsmooth.codegen.native_printer import TorchPrinter
>>> from symsmooth.codegen.native_rows import lines, rows_statements
>>> spec = pipeline.kernel_spec("soft_argmax")
>>> stmts = rows_statements(spec, param_derivatives, False)
>>> print(lines(stmts, TorchPrinter())[-1])
return (_pk_k, _atp0)
>>> rows_statements(pipeline.kernel_spec("logsumexp_max"), param_derivatives, False) is None
True
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import Assign
from symsmooth.codegen.names import POSITION, state_var
from symsmooth.codegen.native_pivot import COTANGENT_ROWS, LINEAR, PLAIN, ErrorFree
from symsmooth.codegen.native_row_nodes import (
    barrier,
    dexp,
    kept,
    row_scale,
    row_sum,
    row_take,
)
from symsmooth.codegen.native_rows import KEEP_ROWS
from symsmooth.codegen.paramgrad import ddiff, split_terms, sums_read
from symsmooth.codegen.paramgrad import dexp as exact_exp
from symsmooth.codegen.recipes import finite

__all__ = ["covered_params", "param_derivatives"]

_ZERO = sp.S.Zero


def covered_params(spec) -> tuple[str, ...]:
    """The codes of the parameters whose derivative :func:`param_derivatives` prints (in the
    order of ``spec.reduction_param_grads``); the others are left to autodiff."""
    return tuple(str(pg.param) for pg in spec.reduction_param_grads if _printable(spec, pg))


def _printable(spec, pg) -> bool:
    plan = spec.plan
    if pg.flags or any(init != 0 or d != 0 for init, d in pg.inits) or not pg.groups:
        return False
    allowed = (ddiff, exact_exp)
    for expr in (pg.result, *pg.coefs):
        funcs = {type(f) for f in sp.sympify(expr).atoms(sp.Function)}
        if not funcs <= set(allowed):
            return False
    return all(plan.shifted(g) for g in pg.groups)


def param_derivatives(spec, context: dict, linear: bool = False):
    """``(statements, (d_p, ..., from_pivot))`` of the covered parameters' derivatives per row
    (a row map's contracted with :data:`~symsmooth.codegen.native_pivot.COTANGENT_ROWS`), or
    ``None`` when no parameter is covered or a group has no pivot in the rows."""
    plan, pc = spec.plan, spec.pieces
    chosen = [pg for pg in spec.reduction_param_grads if _printable(spec, pg)]
    pivots = context["pivots"]
    if not chosen or any(g not in pivots for pg in chosen for g in pg.groups):
        return None
    writer = _Writer(linear)
    local, safe = context["local"], context["safe"]
    position = sp.Symbol(POSITION, positive=True)
    rule = {}  # element and pivot symbols -> row arrays
    for el in plan.elements:
        rule[el] = safe[local[el]]
    rule[plan.position] = position
    entry = {*rule.values()}  # what varies along the row (a row map contracts it with G)
    for pg in chosen:
        for g in pg.groups:
            index = sp.Symbol(state_var("pivot_index", g), integer=True)
            made = {a.target for a in pivots[g]["stmts"]}  # the rows' own pivot entries
            for el, sym in pg.pivots[g].items():
                if str(sym) in made:
                    rule[sym] = sym
                elif sym not in rule:
                    rule[sym] = writer.assign(f"_pq{sym}", row_take(rule[el], index))
            rule[pg.weights[g]] = pc.weights_e[g]
            entry.add(pc.weights_e[g])
    found = sp.And(*sorted({pivots[g]["from"] for pg in chosen for g in pg.groups}, key=str))
    if all(_homogeneous(pg) for pg in chosen):
        rows = sorted({rule[el] for pg in chosen for el in _differenced(pg, plan)}, key=str)
        writer.scale = writer.assign("_psc", row_scale(*rows)) if rows else None
    results = []
    for pg in chosen:
        results.append(_derivative(spec, pg, writer, rule, entry))
    out = writer.stmts
    if linear and plan.rowmap:  # transposed twice: the order of operations kept (native_pivot)
        out = [Assign(a.target, a.expr if a.expr.is_Number else barrier(a.expr)) for a in out]
    return out, sp.Tuple(*results, found)


def _derivative(spec, pg, writer: _Writer, rule: dict, entry: set) -> sp.Symbol:
    """The statements of ``d value / d p`` per row (:func:`param_derivatives`)."""
    plan, pc = spec.plan, spec.pieces
    num, den = sp.fraction(sp.together(pg.result))
    scaled, tangent = sums_read([num, den], pc)
    guards = []
    for k in sorted(scaled | tangent):
        s = plan.sums[k]
        if plan.shifted(s.group):
            term = sp.Symbol(state_var("term", k), real=True)  # the value's kept w_k E_g
            coef = pg.coefs[k] * pc.weights_e[s.group]
        else:
            # the value's own factor row: the entry as given (a gathered -inf stays -inf)
            w = pc.weights[k]
            w = w if w.is_number else sp.Symbol(state_var("factor", k), real=True)
            term = kept(KEEP_ROWS, w, 0)
            coef = pg.coefs[k]
        if k in scaled:
            hi, lo = writer.row_sum(f"_ps{k}", term, _ZERO)
            if not plan.shifted(s.group):  # a gathered entry (x_t) may be -inf: a safe twin
                guards.append(finite(hi))
                hi = writer.assign(f"_psf{k}", kept(finite(hi), hi, 0))
            writer.pairs[pc.scaled[k]] = (hi, lo)
        if k in tangent:
            e_hi, e_lo = writer.value(_entries(coef, rule))
            entries = (kept(KEEP_ROWS, e_hi, 0), kept(KEEP_ROWS, e_lo, 0) if e_lo != 0 else _ZERO)
            writer.pairs[pg.tangents[k]] = writer.row_sum(f"_pT{k}", *entries)
    row = _entries(num, rule)
    if plan.rowmap:
        row = _contract(row, writer, entry)
    hi, lo = writer.value(row)
    den_hi, den_lo = writer.value(_entries(den, rule))
    value = (hi + lo) / (den_hi + den_lo)
    if writer.scale is not None:  # the differences were scaled by the row's power of 2
        value = value / writer.scale
    if guards:
        value = kept(sp.And(*guards), value, 0)
    return writer.assign(f"_pk_{pg.param}", value)


_LAMBDA = sp.Symbol("_lambda")


def _homogeneous(pg) -> bool:
    """Whether ``d value / d p`` is linear in the differences ``ddiff`` (each tangent ``T_k``
    is, and each term of the numerator holds one difference or one tangent): then a row
    scaled by a power of 2 ``sigma`` gives ``sigma`` times the result exactly
    (:data:`~symsmooth.codegen.native_row_nodes.row_scale`), and a row of ``1e-300`` keeps
    its rounding errors out of the subnormal range."""

    def scaled(e):
        e = sp.sympify(e).replace(lambda f: isinstance(f, ddiff), lambda f: _LAMBDA * f)
        return e.xreplace({t: _LAMBDA * t for t in pg.tangents})

    num = sp.fraction(sp.together(pg.result))[0]
    for e in (num, *pg.coefs):
        if e != 0 and sp.expand(scaled(e) - _LAMBDA * e, power_exp=False, log=False) != 0:
            return False
    return True


def _differenced(pg, plan) -> set:
    """The elements whose differences the derivative forms (the rows ``row_scale`` reads):
    those a ``ddiff`` reads directly or through a pivot's entry."""
    elements = {sym: el for g in pg.groups for el, sym in pg.pivots[g].items()}
    elements.update({el: el for el in plan.elements})
    out = set()
    for e in (pg.result, *pg.coefs):
        for node in sp.sympify(e).atoms(ddiff):
            out |= {elements[s] for s in node.free_symbols if s in elements}
    return out & set(plan.elements)


def _entries(expr, rule: dict) -> sp.Expr:
    """``expr`` over the rows: elements as the safe row arrays, pivots as their entries,
    weights ``dexp(c, x_e, x_p)`` as the rows' ``E_g`` and any other ``dexp`` as the row node."""
    out = sp.sympify(expr).xreplace(rule)
    return out.replace(lambda e: isinstance(e, exact_exp), lambda e: dexp(*e.args))


def _contract(num: sp.Expr, writer: _Writer, entry: set) -> sp.Expr:
    """A row map's ``sum_j G_j num(x_j)`` as ``sum_m alpha_m U_m`` (``U_m`` double-doubles;
    ``entry``: the symbols that vary along the row)."""
    total = _ZERO
    writer.linear.add(COTANGENT_ROWS)
    for m, (alpha, beta) in enumerate(split_terms(num, sorted(entry, key=str))):
        b_hi, b_lo = writer.value(beta)
        g_hi, g_lo = writer.product((COTANGENT_ROWS, _ZERO), (b_hi, b_lo))
        hi = kept(KEEP_ROWS, g_hi, 0)
        lo = kept(KEEP_ROWS, g_lo, 0) if g_lo != 0 else _ZERO
        u = writer.row_sum(f"_pU{m}", hi, lo)
        symbol = sp.Symbol(f"_pUs{m}", real=True)
        writer.pairs[symbol] = u
        total += alpha * symbol
    return total


class _Writer:
    """Statements of double-double values: ``pairs`` maps a symbol to its ``(hi, lo)``."""

    def __init__(self, linear: bool):
        self.stmts: list[Assign] = []
        self.pairs: dict = {}
        self.linear: set = set()  # names whose values are linear in the cotangent
        self.want_linear = linear
        self.count = 0
        self.cache: dict = {}  # expression -> its (hi, lo): a repeated difference formed once
        self.scale = None  # the row's power of 2 that the differences are scaled by

    def eft(self, *operands) -> ErrorFree:
        if self.want_linear and any(self._is_linear(a) for a in operands):
            return LINEAR
        return PLAIN

    def _is_linear(self, expr) -> bool:
        return bool(sp.sympify(expr).free_symbols & self.linear)

    def assign(self, name: str, expr) -> sp.Expr:
        expr = sp.sympify(expr)
        if expr.is_Number or expr.is_Symbol:
            return expr
        symbol = sp.Symbol(name, real=True)
        self.stmts.append(Assign(name, expr))
        if self._is_linear(expr):
            self.linear.add(symbol)
        return symbol

    def fresh(self, expr) -> sp.Expr:
        self.count += 1
        return self.assign(f"_pd{self.count}", expr)

    def row_sum(self, name: str, hi, lo) -> tuple:
        """The double-double row sum of the entries ``hi + lo``."""
        entries = self.assign(f"{name}e", hi)
        total = self.assign(name, row_sum(entries))
        err = self.eft(entries).row_sum_err(entries, total)
        if lo != 0:
            err = err + row_sum(lo)
        return total, self.assign(f"{name}l", err)

    def value(self, expr) -> tuple:
        """``(hi, lo)`` of ``expr`` (a double-double: TwoSum and TwoProduct of each step)."""
        expr = sp.sympify(expr)
        if expr in self.pairs:
            return self.pairs[expr]
        if expr not in self.cache:
            self.cache[expr] = self._value(expr)
        return self.cache[expr]

    def _value(self, expr) -> tuple:
        if isinstance(expr, ddiff):
            u, v = (self.value(a)[0] for a in expr.args)
            if self.scale is not None:  # exact: a power of 2
                u, v = self.fresh(self.scale * u), self.fresh(self.scale * v)
            return self.fresh(u - v), self.fresh(self.eft(u, v).two_sum_err(u, -v))
        if isinstance(expr, sp.Add):
            terms = [self.value(a) for a in sp.Add.make_args(expr)]
            acc = terms[0]
            for term in terms[1:]:
                acc = self.sum(acc, term)
            return acc
        if isinstance(expr, sp.Mul):
            factors = [self.value(a) for a in expr.args]
            acc = factors[0]
            for factor in factors[1:]:
                acc = self.product(acc, factor)
            return acc
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
            base = self.value(expr.base)
            acc = base
            for _ in range(int(expr.exp) - 1):
                acc = self.product(acc, base)
            return acc
        plain = expr.xreplace({s: pair[0] for s, pair in self.pairs.items()})
        return self.fresh(plain), _ZERO

    def sum(self, a: tuple, b: tuple) -> tuple:
        (ah, al), (bh, bl) = a, b
        if ah == 0:
            return b
        if bh == 0:
            return a
        hi = self.fresh(ah + bh)
        return hi, self.fresh(al + bl + self.eft(ah, bh).two_sum_err(ah, bh))

    def product(self, a: tuple, b: tuple) -> tuple:
        (ah, al), (bh, bl) = a, b
        if ah.is_Number and bh.is_Number:
            return self.value(ah * bh)
        if _exact_factor(ah) or _exact_factor(bh):
            return self.fresh(ah * bh), self.fresh(ah * bl + al * bh)
        hi = self.fresh(ah * bh)
        if self._is_linear(bh):  # the linear operand first: LINEAR.two_prod_err(a, b) reads b
            ah, al, bh, bl = bh, bl, ah, al
        err = self.eft(ah, bh).two_prod_err(ah, bh) + ah * bl + al * bh
        return hi, self.fresh(err)


def _exact_factor(c) -> bool:
    """A factor whose products round nothing: +-1 and the powers of 2."""
    if not c.is_Number or c == 0:
        return False
    m = abs(sp.nsimplify(c))
    return bool(m.is_Rational and (m.p & (m.p - 1)) == 0 and (m.q & (m.q - 1)) == 0)
