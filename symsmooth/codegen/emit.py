"""The statements every kernel kind is built from, and the printing of a kind's context.

The templates hold layout only (decorators, loops, wrappers); every formula arrives here as a
statement over SymPy expressions (:class:`Assign`, :class:`Load`, :class:`Return`).  Common
subexpressions are shared with :func:`sympy.cse` inside each block (:func:`statements`).  The
same statements print once with :class:`~symsmooth.codegen.printer.MathPrinter` (the scalar
code), once with :class:`~symsmooth.codegen.fastmath.FastMathPrinter` (the ``fast`` context of
the SIMD CPU loops) and, for the CUDA loads, with
:class:`~symsmooth.codegen.printer.CudaPrinter`; :func:`kernel_context` does the first two.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.kinds import kind
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> ctx = kernel_context(spec, kind("elementwise"))
>>> ctx["cores"][0]["lines"]
['return _softplus(k*x)/k']
>>> [h.function for h in ctx["helpers"]][:5]  # then the parameter gradient's
['_two_product', '_wexp2', '_sigmoid2', '_sigmoid', '_softplus']
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen import names
from symsmooth.codegen.fastmath import FastMathPrinter, fast_name, twins
from symsmooth.codegen.helpers import resolve
from symsmooth.codegen.printer import MathPrinter

SIZE = sp.Symbol(names.SIZE, positive=True)


@dataclass(frozen=True)
class Assign:
    """``target = expr``."""

    target: str
    expr: sp.Expr

    def text(self, printer: MathPrinter) -> str:
        return f"{self.target} = {printer.doprint(self.expr)}"

    def xreplace(self, rule) -> Assign:
        return Assign(self.target, self.expr.xreplace(rule))


@dataclass(frozen=True)
class Load:
    """``target = <vector>_row[index]``: an element read from a row (the printer decides the
    cast: :meth:`~symsmooth.codegen.printer.MathPrinter.load`)."""

    target: str
    vector: str
    index: str

    def text(self, printer: MathPrinter) -> str:
        return f"{self.target} = {printer.load(self.vector, self.index)}"

    def xreplace(self, rule) -> Load:
        return self


@dataclass(frozen=True)
class Raw:
    """A line of code given as text (a double-double chain of names the kind assigned); it
    reads no symbol the liveness pass tracks."""

    line: str
    expr = sp.S.Zero

    def text(self, printer: MathPrinter) -> str:
        return self.line

    def xreplace(self, rule) -> Raw:
        return self


@dataclass(frozen=True)
class Return:
    """``return expr``."""

    expr: sp.Expr

    def text(self, printer: MathPrinter) -> str:
        return f"return {printer.doprint(self.expr)}"

    def xreplace(self, rule) -> Return:
        return Return(self.expr.xreplace(rule))


def lines(stmts, printer: MathPrinter) -> list[str]:
    """The printed lines of ``stmts``.

    >>> x = sp.Symbol("x")
    >>> lines([Load("x", "x", "idx"), Return(sp.exp(x))], MathPrinter())
    ['x = x_row[idx]', 'return math.exp(x)']
    """
    return [s.text(printer) for s in stmts]


def reads(stmts) -> set[str]:
    """The names the statements ``stmts`` read (free symbols of their expressions; a
    :class:`Load` reads its row, not a symbol)."""
    return {str(s) for st in stmts if not isinstance(st, Load) for s in st.expr.free_symbols}


def live(stmts, needed) -> list:
    """``stmts`` without the assignments nothing reads: backward liveness over the list, an
    :class:`Assign` kept when its target is in ``needed`` (what the code after the list reads)
    or read by a kept statement after it.  Loads and returns stay.

    Examples
    --------
    >>> x, a = sp.symbols("x a")
    >>> stmts = [Load("x", "x", "idx"), Assign("a", x + 1), Assign("b", a * 2), Assign("c", x)]
    >>> lines(live(stmts, {"c"}), MathPrinter())
    ['x = x_row[idx]', 'c = x']
    """
    wanted, kept = set(needed), []
    for st in reversed(stmts):
        if isinstance(st, Assign) and st.target not in wanted:
            continue
        kept.append(st)
        if not isinstance(st, Load):
            wanted |= {str(s) for s in st.expr.free_symbols}
    return kept[::-1]


def statements(exprs, targets, prefix: str) -> list[Assign]:
    """CSE'd assignments computing ``targets[j] = exprs[j]`` (temporaries ``prefix0, ...``).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> lines(statements([sp.exp(x) + 1, sp.exp(x) * 2], ["_a", "_b"], "_c"), MathPrinter())
    ['_c0 = math.exp(x)', '_a = _c0 + 1', '_b = 2*_c0']
    """
    exprs = [sp.sympify(e) for e in exprs]
    if not exprs:
        return []
    temps = sp.numbered_symbols(prefix, real=True)
    replacements, reduced = sp.cse(exprs, symbols=temps, order="canonical")
    out = [Assign(str(s), e) for s, e in replacements]
    return out + [Assign(t, e) for t, e in zip(targets, reduced, strict=False)]


def block(exprs, targets, printer: MathPrinter, prefix: str) -> list[str]:
    """The printed lines of :func:`statements` (for line lists with no fast variant)."""
    return lines(statements(exprs, targets, prefix), printer)


def _is_linear_part(term: sp.Expr) -> bool:
    return not term.atoms(sp.Function)


def value_statements(value: sp.Expr) -> list[Assign]:
    """Statements computing ``_out``: the terms free of log/exp/powers (shifts ``M``, entries,
    plain sums: the large ones) are added first, so ``M - x_t`` cancels exactly (Sterbenz)
    before the small ``log s`` is added.

    Examples
    --------
    >>> M, s, x = sp.symbols("M0 s0 x_e")
    >>> lines(value_statements(M + sp.log(s) - x), MathPrinter())
    ['_lin = M0 - x_e', '_rest = math.log(s0)', '_out = _lin + _rest']
    """
    expanded = sp.expand(value)
    if isinstance(expanded, sp.Add):
        lin = [t for t in expanded.args if _is_linear_part(t)]
        rest = [t for t in expanded.args if not _is_linear_part(t)]
        if lin and rest:
            out = statements([sp.Add(*lin), sp.Add(*rest)], ["_lin", "_rest"], "_c")
            lin_s, rest_s = sp.symbols("_lin _rest", real=True)
            return out + [Assign("_out", sp.Add(lin_s, rest_s, evaluate=False))]
    return statements([value], ["_out"], "_c")


FAST_KEYS = (
    "load",
    "sum_lines",
    "prologue",
    "lean_prologue",
    "grad_lines",
    "value_lines",
    "adjoint_lines",
    "chunk_load",
    "chunk_prologue",
)
"""The line lists of a context given as statements by the kinds: each is printed for the
scalar code and, under ``fast``, for the SIMD CPU loops."""


def kernel_context(spec, kind) -> dict:
    """The finished CPU template variables of ``spec`` built by ``kind``
    (:class:`~symsmooth.codegen.kinds.base.Kind`): the kind's own variables with its
    statements printed (kept under ``statements``), the ``helpers`` its code calls (with their
    callees), ``name``, and ``fast``: the twins of the helpers and cores that reach a fast
    function, the map function -> the name the CPU loops call (``names``), and each line list
    of :data:`FAST_KEYS` printed with :class:`~symsmooth.codegen.fastmath.FastMathPrinter`."""
    printer = MathPrinter()
    ctx = kind.cpu_context(spec, printer)
    kept = {key: ctx[key] for key in FAST_KEYS if key in ctx}
    for key, stmts in kept.items():
        ctx[key] = lines(stmts, printer)
    cores = ctx.get("cores", ())
    for core in cores:
        core["lines"] = lines(core["statements"], printer)
    ctx["helpers"] = resolve(printer.helpers)
    ctx["name"] = spec.name
    names, source = twins({h.function: h.source for h in ctx["helpers"]})
    fast_printer = FastMathPrinter(names)
    sources = [source] if source else []
    for core in cores:
        fast_lines = lines(core["statements"], fast_printer)
        if fast_lines == core["lines"]:
            names[core["name"]] = core["name"]
            continue
        names[core["name"]] = fast_printer.names[core["name"]] = fast_name(core["name"])
        body = "\n".join("    " + line for line in fast_lines)
        sources.append(
            f"{fast_printer.decorator}\ndef {names[core['name']]}({ctx['args']}):\n{body}\n"
        )
    source = "\n\n".join(sources)
    fast = {"source": source, "twins": source, "imports": [], "names": names}
    fast.update({key: lines(stmts, fast_printer) for key, stmts in kept.items()})
    ctx["statements"] = kept
    ctx["fast"] = fast
    return ctx
