"""Double-double code for a SymPy expression: the lines that evaluate it as ``hi + lo``.

The parameter derivatives of a reduction (:mod:`symsmooth.codegen.paramgrad`) end in a
numerator that cancels where the answer is small: ``(x_j - x_m) s - T`` for the softmax's
``d p_j / d k = p_j (x_j - sum_i p_i x_i)``, ``T_1 s_0 - s_1 T_0`` for a covariance.  Its
operands are double-doubles (compensated row sums ``s + c``, weights ``E + El`` from
``_dexp2``) or exact doubles (entries, parameters), so :class:`DDWriter` evaluates the
polynomial in double-double arithmetic (``_dd_add``, ``_dd_mul``; ``_two_sum`` and
``_two_product`` where both operands are doubles): a difference :class:`ddiff` of two doubles
is exact, a product of two doubles too, and the result rounds once.  Anything that is not a
polynomial in double-doubles (a ``log``, a quotient) is a plain double leaf, printed by the
:class:`~symsmooth.codegen.printer.MathPrinter` from the high parts.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer. Math.
18 (1971) 224-242; J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed. (2018),
ch. 14 (double-double arithmetic).

Examples
--------
>>> from symsmooth.codegen.printer import MathPrinter
>>> from symsmooth.codegen.paramgrad import ddiff
>>> T, s, x, m = sp.symbols("_T0 s0 x_e m", real=True)
>>> w = DDWriter(MathPrinter(), {"_T0": "_Tl0", "s0": "sl0"}, "_y")
>>> w.value(ddiff(x, m) * s - T)
('_y2', '_y2l')
>>> w.lines
['_y0, _y0l = _two_sum(x_e, -m)', '_y1, _y1l = _dd_mul(s0, sl0, _y0, _y0l)', \
'_y2, _y2l = _dd_add(-_T0, -_Tl0, _y1, _y1l)']
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.paramgrad import ddiff, dexp
from symsmooth.codegen.printer import MathPrinter

ZERO = "0.0"


def _neg(code: str) -> str:
    if code == ZERO:
        return ZERO
    if code.isidentifier():
        return f"-{code}"
    return f"-({code})"


class DDWriter:
    """Writes the lines of double-double evaluations; ``pairs`` maps the name of each
    double-double operand (its high part) to its low part's name; temporaries are
    ``<prefix><n>`` and ``<prefix><n>l``."""

    def __init__(self, printer: MathPrinter, pairs: dict, prefix: str):
        self.printer, self.pairs, self.prefix = printer, dict(pairs), prefix
        self.lines: list[str] = []
        self._count = 0

    def _fresh(self) -> tuple[str, str]:
        name = f"{self.prefix}{self._count}"
        self._count += 1
        return name, name + "l"

    def _emit(self, call: str, *args: str) -> tuple[str, str]:
        hi, lo = self._fresh()
        self.lines.append(f"{hi}, {lo} = {call}({', '.join(args)})")
        self.printer.helpers.add(call[1:])
        return hi, lo

    def is_dd(self, expr) -> bool:
        """Whether ``expr`` reads a double-double operand or a node evaluated as one."""
        expr = sp.sympify(expr)
        if expr.has(ddiff, dexp):
            return True
        return any(str(s) in self.pairs for s in expr.free_symbols)

    def add(self, a: tuple, b: tuple) -> tuple[str, str]:
        """The double-double sum of two ``(hi, lo)`` operands."""
        if a[1] == ZERO and b[1] == ZERO:
            return self._emit("_two_sum", a[0], b[0])
        return self._emit("_dd_add", *a, *b)

    def mul(self, a: tuple, b: tuple) -> tuple[str, str]:
        """The double-double product of two ``(hi, lo)`` operands."""
        if a[1] == ZERO and b[1] == ZERO:
            return self._emit("_two_product", a[0], b[0])
        return self._emit("_dd_mul", *a, *b)

    def plain(self, expr) -> tuple[str, str]:
        """A double leaf (rounded as the printer's code rounds it; a number as a float)."""
        expr = sp.sympify(expr)
        if expr.is_Number:
            return repr(float(expr)), ZERO
        return self.printer.doprint(expr), ZERO

    def value(self, expr, exact: bool = False) -> tuple[str, str]:
        """``(hi, lo)`` code of ``expr``, writing the lines it needs; ``exact``: products and
        quotients of doubles too (a coefficient ``1/(2 sigma**2)`` of parameters)."""
        expr = sp.sympify(expr)
        if not self.is_dd(expr) and not (exact and not (expr.is_Symbol or expr.is_Number)):
            return self.plain(expr)
        if isinstance(expr, sp.Symbol):
            return str(expr), self.pairs[str(expr)]
        if isinstance(expr, ddiff):
            u, v = (self.value(a) for a in expr.args)
            return self.add(u, (_neg(v[0]), _neg(v[1])))
        if isinstance(expr, dexp):
            return self.weight(*expr.args)
        if isinstance(expr, sp.Add):
            terms = [self.value(a, exact) for a in expr.args]
            acc = terms[0]
            for t in terms[1:]:
                acc = self.add(acc, t)
            return acc
        if isinstance(expr, sp.Mul):
            return self._product(expr, exact)
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp != 0:
            base = self.value(expr.base, exact)
            acc = base
            for _ in range(abs(int(expr.exp)) - 1):
                acc = self.mul(acc, base)
            return acc if expr.exp > 0 else self._emit("_dd_div", "1.0", ZERO, *acc)
        return self.plain(expr)

    def weight(self, c, u, v) -> tuple[str, str]:
        """``exp(c (u - v))`` as ``(hi, lo)``: ``_dexp2``, or ``_dexp2c`` with the coefficient
        as a double-double where it is not one double (``1/(2 sigma**2)``)."""
        u, v = self.plain(u)[0], self.plain(v)[0]
        ch, cl = self.value(c, exact=True)
        if cl == ZERO:
            return self._emit("_dexp2", ch, u, v)
        return self._emit("_dexp2c", ch, cl, u, v)

    def _product(self, expr: sp.Mul, exact: bool) -> tuple[str, str]:
        coeff, factors = expr.as_coeff_mul()
        split = (lambda f: not f.is_Number) if exact else self.is_dd
        dd = [f for f in factors if split(f)]
        plain = sp.Mul(*[f for f in factors if not split(f)])
        sign = -1 if coeff < 0 else 1
        coeff = abs(coeff)
        if coeff != 1:
            plain = plain * coeff
        operands = [self.value(f, exact) for f in dd]
        if plain != 1:
            operands.insert(0, self.plain(plain))
        acc = operands[0]
        for op in operands[1:]:
            acc = self.mul(acc, op)
        if sign < 0:
            acc = (_neg(acc[0]), _neg(acc[1]))
        return acc

    def rounded(self, expr, target: str) -> None:
        """A line ``target = hi + lo`` of ``expr`` (one rounding of the double-double)."""
        hi, lo = self.value(expr)
        self.lines.append(f"{target} = {hi}" if lo == ZERO else f"{target} = {hi} + {lo}")

    def accumulate(self, total: str, comp: str, term: tuple) -> None:
        """``total + comp += term`` (a compensated sum: TwoSum of the high part, the error and
        the low part into the compensation)."""
        self.printer.helpers.add("two_sum")
        self.lines.append(f"{total}, _e = _two_sum({total}, {term[0]})")
        low = "" if term[1] == ZERO else f" + {term[1]}"
        self.lines.append(f"{comp} += _e{low}")
