"""``LogSumExpOver``: log-sum-exp over a symbolic index range, ``log sum_{i=a}^{b} exp(term)``.

It is built like :class:`sympy.Sum` (an :class:`~sympy.concrete.expr_with_limits.
ExprWithIntLimits` with ``(i, a, b)`` limits, several limits meaning a sum over all of them) and
keeps the stable-primitive contract of :mod:`symsmooth.functions.base`:

* ``.doit()`` gives ``logsumexp(term_a, ..., term_b)`` once ``b - a`` is a concrete integer
  (an empty range gives ``-oo``); otherwise it stays unevaluated;
* ``.rewrite("naive")`` gives ``log(Sum(exp(term), (i, a, b)))``;
* the derivative is the softmax-weighted sum ``Sum(exp(term - LSE) * d term/dv, (i, a, b))``,
  with the ``KroneckerDelta`` of an ``Indexed`` variable summed out, so that
  ``d/dx[j] LogSumExpOver(x[i], (i, 1, n)) = exp(x[j] - LogSumExpOver(x[i], (i, 1, n)))``.
  Convention: the range is taken to be non-empty and a symbolic index ``j`` to lie in it (the
  guard ``1 <= j <= n`` that ``Sum`` differentiation produces is dropped; a guard that is
  provably false still gives 0). The softmax weights sum to one, so a derivative factor that
  does not depend on ``i`` comes out exactly (``d/dy LSE(x[i] - y) = -1``);
* ``evalf`` works once the bounds are concrete; LaTeX is ``\\operatorname{LSE}_{i=1}^{n}``;
  ``sp.lambdify`` with ``"numpy"``/``"mpmath"`` prints the stable n-ary ``logsumexp`` over a
  comprehension, like ``Sum`` prints ``builtins.sum`` (``Indexed`` stays 1-based, as in ``Sum``).

References
----------
M. Karr, "Summation in finite terms", J. ACM 28 (1981) (the limits convention of ``Sum``).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import LogSumExpOver
>>> x = sp.IndexedBase("x")
>>> i, j = sp.symbols("i j", integer=True)
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> lse = LogSumExpOver(x[i], (i, 1, n))
>>> sp.diff(lse, x[j])
exp(x[j] - LogSumExpOver(x[i], (i, 1, n)))
>>> lse.subs(n, 3).doit()
logsumexp(x[1], x[2], x[3])
>>> lse.rewrite("naive")
log(Sum(exp(x[i]), (i, 1, n)))
"""

from __future__ import annotations

import sympy as sp
from sympy.concrete.expr_with_intlimits import ExprWithIntLimits
from sympy.printing.pretty.stringpict import prettyForm

from symsmooth.functions.elementary import logsumexp


class _NotConcrete(Exception):
    """A range whose length is not a concrete integer yet."""


def _expand(term: sp.Expr, limits: list) -> list[sp.Expr]:
    """All terms of the (nested) range, outermost limit first; raise if a length is symbolic."""
    if not limits:
        return [term]
    *inner, (i, a, b) = limits
    count = b - a + 1
    if not count.is_Integer:
        raise _NotConcrete
    out: list[sp.Expr] = []
    for k in range(max(int(count), 0)):
        v = a + k
        rest = [(j, lo.subs(i, v), hi.subs(i, v)) for j, lo, hi in inner]
        out += _expand(term.subs(i, v), rest)
    return out


def _drop_range_guards(expr: sp.Expr, guard_symbols: set) -> sp.Expr:
    """Replace ``Piecewise((e, lo <= j <= hi), ...)`` range guards by ``e`` (index in range)."""

    def is_guard(p) -> bool:
        return isinstance(p, sp.Piecewise) and p.args[0].cond.free_symbols <= guard_symbols

    return expr.replace(is_guard, lambda p: p.args[0].expr)


class LogSumExpOver(ExprWithIntLimits):
    """``log(Sum(exp(term), (i, a, b)))`` as one stable node; see the module docstring.

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.IndexedBase("x"), sp.Symbol("y")
    >>> i = sp.Symbol("i", integer=True)
    >>> sp.diff(LogSumExpOver(x[i] - y, (i, 1, 4)), y)
    -1
    >>> sp.N(LogSumExpOver(1000 * i, (i, 1, 2)), 20)
    2000.0000000000000000
    """

    def __new__(cls, term, *limits, **assumptions):
        return super().__new__(cls, term, *limits, **assumptions)

    def doit(self, **hints):
        term = self.function.doit(**hints) if hints.get("deep", True) else self.function
        try:
            terms = _expand(term, [tuple(lim) for lim in self.limits])
        except _NotConcrete:
            return self.func(term, *self.limits)
        return logsumexp(*terms)

    def _eval_evalf(self, prec):
        value = self.doit()
        return None if isinstance(value, LogSumExpOver) else value._eval_evalf(prec)

    def _eval_derivative(self, v):
        bounds = set().union(*(sp.Tuple(a, b).free_symbols for _, a, b in self.limits))
        if v.free_symbols & bounds:
            return None
        term, indices = self.function, {lim[0] for lim in self.limits}
        d = sp.diff(term, v)
        if d == 0:
            return sp.S.Zero
        if not d.free_symbols & indices:
            return d  # softmax weights sum to one
        placeholder = sp.Dummy("LSE")
        summed = sp.Sum(sp.exp(term - placeholder) * d, *self.limits).doit()
        summed = _drop_range_guards(summed, bounds | v.free_symbols)
        return summed.xreplace({placeholder: self})

    def _eval_is_extended_real(self):
        return self.function.is_extended_real

    def _eval_rewrite_as_naive(self, term, *limits, **kwargs):
        return sp.log(sp.Sum(sp.exp(term), *limits))

    _eval_rewrite_as_exp = _eval_rewrite_as_naive
    _eval_rewrite_as_log = _eval_rewrite_as_naive

    def _latex(self, printer, exp=None):
        low = ", ".join(f"{printer._print(i)}={printer._print(a)}" for i, a, _ in self.limits)
        high = ", ".join(printer._print(b) for _, _, b in self.limits)
        body = printer._print(self.function)
        tex = rf"\operatorname{{LSE}}_{{{low}}}^{{{high}}}\left({body}\right)"
        return rf"\left({tex}\right)^{{{exp}}}" if exp else tex

    def _pretty(self, printer):
        ranges = ", ".join(
            f"{printer._print(i)}={printer._print(a)}..{printer._print(b)}"
            for i, a, b in self.limits
        )
        body = prettyForm(*printer._print(self.function).parens())
        return prettyForm(*body.left(f"LSE[{ranges}]"))

    def _call(self, printer, impl) -> str:
        loops = " ".join(
            f"for {printer._print(i)} in range({printer._print(a)}, {printer._print(b)}+1)"
            for i, a, b in self.limits[::-1]
        )
        name = printer._module_format(f"{impl.__module__}.{impl.__name__}")
        return f"{name}(*[{printer._print(self.function)} {loops}])"

    def _numpycode(self, printer) -> str:
        return self._call(printer, logsumexp.numpy_impl)

    _scipycode = _numpycode

    def _mpmathcode(self, printer) -> str:
        return self._call(printer, logsumexp.mpmath_impl)


logsumexp_over = LogSumExpOver
"""Lower-case alias of :class:`LogSumExpOver`."""
