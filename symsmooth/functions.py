"""Stable primitives as SymPy functions.

Each primitive is a real :class:`sympy.Function`:

* ``fdiff`` returns the derivative *in stable form* (built from these primitives);
* ``rewrite(sp.exp)`` / ``rewrite("naive")`` gives the textbook exp/log form (used as the
  exact reference and to prove equivalence);
* ``evalf`` evaluates with mpmath at any precision, through a formula that does not overflow;
* LaTeX and pretty printing show the function name.

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette, 2012.
LogExpFunctions.jl (log1pexp, log1mexp, logistic, logsumexp conventions).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus, sigmoid, logsumexp
>>> z = sp.Symbol("z", real=True)
>>> sp.diff(softplus(z), z)
sigmoid(z)
>>> softplus(z).rewrite("naive")
log(exp(z) + 1)
>>> sp.N(softplus(1000), 30)
1000.00000000000000000000000000
>>> x, y = sp.symbols("x y", real=True)
>>> sp.diff(logsumexp(x, y), x)
exp(x - logsumexp(x, y))
"""

from __future__ import annotations

import mpmath
import sympy as sp
from sympy.core.function import ArgumentIndexError


def _mp(arg: sp.Expr, prec: int):
    """``arg`` as an mpmath number at binary precision ``prec`` (None if not numeric)."""
    value = arg._eval_evalf(prec) if not arg.is_Number else arg
    if value is None or not value.is_Number:
        return None
    return mpmath.mpf(value._to_mpmath(prec))


class StablePrimitive(sp.Function):
    """Base class: naive rewrite, mpmath evalf and LaTeX for the stable primitives."""

    latex_name: str = ""

    @classmethod
    def _mpmath(cls, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    def _naive(self, *args) -> sp.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def _eval_rewrite_as_naive(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _eval_rewrite_as_exp(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _eval_rewrite_as_log(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _eval_evalf(self, prec: int):
        with mpmath.workprec(prec + 20):
            values = [_mp(a, prec + 20) for a in self.args]
            if any(v is None for v in values):
                return None
            result = mpmath.mpf(self._mpmath(*values))
            return sp.Float._new(result._mpf_, prec)

    def _eval_is_real(self):
        return all(a.is_extended_real for a in self.args) or None

    def _latex(self, printer, exp=None):
        name = self.latex_name or rf"\operatorname{{{type(self).__name__}}}"
        args = ", ".join(printer._print(a) for a in self.args)
        tex = rf"{name}\left({args}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex


class softplus(StablePrimitive):
    """``softplus(z) = log(1 + exp(z))``, computed as ``max(z, 0) + log1p(exp(-|z|))``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(softplus(-800), 20)
    3.6678745841776872135e-348
    """

    nargs = 1

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.log(2)

    @classmethod
    def _mpmath(cls, z):
        return max(z, 0) + mpmath.log1p(mpmath.exp(-abs(z)))

    def _naive(self, z):
        return sp.log(1 + sp.exp(z))

    def _eval_is_positive(self):
        return self.args[0].is_extended_real or None


class sigmoid(StablePrimitive):
    """Logistic function ``sigmoid(z) = 1 / (1 + exp(-z))``.

    Its derivative is written ``sigmoid(z) * sigmoid(-z)``, which never forms ``1 - sigmoid``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(sigmoid(-800), 15)
    3.66787458417769e-348
    """

    nargs = 1
    latex_name = r"\sigma"

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z = self.args[0]
        return sigmoid(z) * sigmoid(-z)

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.S.Half

    @classmethod
    def _mpmath(cls, z):
        if z >= 0:
            return 1 / (1 + mpmath.exp(-z))
        e = mpmath.exp(z)
        return e / (1 + e)

    def _naive(self, z):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_positive(self):
        return self.args[0].is_extended_real or None


class log_sigmoid(StablePrimitive):
    """``log_sigmoid(z) = log(sigmoid(z)) = -softplus(-z)``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(log_sigmoid(-1000), 20)
    -1000.0000000000000000
    """

    nargs = 1
    latex_name = r"\log\sigma"

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(-self.args[0])

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return -sp.log(2)

    @classmethod
    def _mpmath(cls, z):
        return -softplus._mpmath(-z)

    def _naive(self, z):
        return -sp.log(1 + sp.exp(-z))

    def _eval_is_negative(self):
        return self.args[0].is_extended_real or None


class log1mexp(StablePrimitive):
    """``log1mexp(z) = log(1 - exp(z))`` for ``z < 0`` (LogExpFunctions.jl convention).

    Stable evaluation (Maechler 2012): ``log(-expm1(z))`` for ``z > -log 2``, else
    ``log1p(-exp(z))``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(log1mexp(sp.Rational(-1, 10**30)), 20)
    -69.077552789821370521
    """

    nargs = 1
    latex_name = r"\operatorname{log1mexp}"

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        # d/dz log(1 - e^z) = -e^z / (1 - e^z) = -1 / expm1(-z)
        from sympy.codegen.cfunctions import expm1

        return -1 / expm1(-self.args[0])

    @classmethod
    def _mpmath(cls, z):
        if z > -mpmath.log(2):
            return mpmath.log(-mpmath.expm1(z))
        return mpmath.log1p(-mpmath.exp(z))

    def _naive(self, z):
        return sp.log(1 - sp.exp(z))

    def _eval_is_real(self):
        z = self.args[0]
        return z.is_extended_negative or None


class logsumexp(StablePrimitive):
    """n-ary ``logsumexp(x1, ..., xn) = log(sum exp(xi))``, evaluated max-shifted.

    The argument order is canonical (sorted), so ``logsumexp(x, y) == logsumexp(y, x)``.
    ``d/dxi = exp(xi - logsumexp(...))``, the softmax.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(logsumexp(1000, 1000), 20)
    1000.6931471805599453
    >>> logsumexp(sp.Symbol("x"))
    x
    """

    latex_name = r"\operatorname{LSE}"

    @classmethod
    def eval(cls, *args):
        if len(args) == 0:
            return sp.S.NegativeInfinity
        if len(args) == 1:
            return args[0]
        ordered = tuple(sorted(args, key=sp.default_sort_key))
        if ordered != args:
            return cls(*ordered)

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        return sp.exp(self.args[argindex - 1] - self)

    @classmethod
    def _mpmath(cls, *xs):
        m = max(xs)
        if mpmath.isinf(m):
            return m
        return m + mpmath.log(mpmath.fsum(mpmath.exp(x - m) for x in xs))

    def _naive(self, *xs):
        return sp.log(sp.Add(*[sp.exp(x) for x in xs]))


PRIMITIVES: dict[str, type[StablePrimitive]] = {
    cls.__name__: cls for cls in (softplus, sigmoid, log_sigmoid, log1mexp, logsumexp)
}
"""Name -> class, for parsers, printers and code generators."""


def naive(expr: sp.Expr) -> sp.Expr:
    """Rewrite every stable primitive in ``expr`` to its textbook exp/log form.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> naive(sigmoid(z) + softplus(z))
    log(exp(z) + 1) + 1/(1 + exp(-z))
    """
    return expr.rewrite("naive")
