"""Non-smooth n-ary targets over an index range: ``MaxOver``, ``MinOver``, ``ArgMaxOver``.

SymPy has ``Sum`` over a symbolic range but no ``max`` over one.  These classes mirror
``Sum``'s signature, ``Cls(term, (i, a, b))``, stay symbolic while the range or the values are
symbolic, and ``.doit()`` to ``Max``/``Min``/an index once the range is concrete.  They are
part of the vocabulary (:mod:`symsmooth.functions`): the formula and record readers, the catalog
and the derivations all name them.

Examples
--------
>>> import sympy as sp
>>> x = sp.IndexedBase("x"); i = sp.Idx("i"); n = sp.Symbol("n", integer=True, positive=True)
>>> m = MaxOver(x[i], (i, 1, n))
>>> m.subs(n, 3).doit()
Max(x[1], x[2], x[3])
>>> ArgMaxOver(x[i], (i, 1, 3)).doit().subs({x[1]: 2, x[2]: 5, x[3]: 4})
2
"""

from __future__ import annotations

import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits

from symsmooth.functions.base import RegistryTable

TARGETS: dict[str, type] = RegistryTable()
"""Name -> class of every non-smooth target, in definition order: the sibling registry of
:data:`symsmooth.functions.PRIMITIVES`, filled by defining a :class:`NonSmoothTarget`.  The
formula and record readers read it (:mod:`symsmooth.text.vocabulary`)."""


class NonSmoothTarget:
    """Mixin of the non-smooth targets: defining a concrete subclass registers it in
    :data:`TARGETS` (an intermediate class says ``_abstract = True``).

    ``in_text`` says where data may name it: ``True`` for a function formula text calls
    (``ArgMax(a, b)``), ``False`` for a class only a stored record names (``MaxOver``, written
    by ``srepr`` with its limits).
    """

    _abstract = True
    in_text: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("_abstract", False):
            old = TARGETS.get(cls.__name__)
            if old is not None and old.__module__ != cls.__module__:
                raise TypeError(f"two non-smooth targets are named {cls.__name__!r}")
            TARGETS[cls.__name__] = cls


class _ReduceOver(NonSmoothTarget, ExprWithLimits):
    """Common machinery: a term reduced over one integer index range."""

    _abstract = True
    _reducer: type | None = None
    latex_name = ""

    @property
    def term(self) -> sp.Expr:
        return self.function

    def _terms(self) -> list[sp.Expr] | None:
        """Every term over the (possibly nested) concrete ranges, or None if one is symbolic.

        ``ExprWithLimits`` merges ``MinOver(MinOver(f, l1), l2)`` into one node with two
        limits, innermost first; the reduction then runs over their product.
        """
        terms = [self.function]
        for i, a, b in self.limits:
            count = b - a
            if not count.is_Integer:
                return None
            terms = [t.subs(i, a + j) for t in terms for j in range(int(count) + 1)]
        return terms

    def doit(self, **hints):
        terms = self._terms()
        if terms is None:
            return self
        if hints.get("deep", True):
            terms = [t.doit(**hints) for t in terms]
        return self._reduce(terms)

    def _reduce(self, terms: list[sp.Expr]) -> sp.Expr:
        return self._reducer(*terms)

    def _eval_is_real(self):
        return self.function.is_extended_real or None

    def _latex(self, printer):
        (i, a, b) = self.limits[0]
        return (
            rf"{self.latex_name}_{{{printer._print(i)}={printer._print(a)}}}^{{{printer._print(b)}}}"
            rf" {printer._print(self.function)}"
        )


class MaxOver(_ReduceOver):
    """``max_{i=a..b} term(i)``; ``doit`` gives ``Max(term(a), ..., term(b))``."""

    _reducer = sp.Max
    latex_name = r"\max"


class MinOver(_ReduceOver):
    """``min_{i=a..b} term(i)``; ``doit`` gives ``Min(term(a), ..., term(b))``."""

    _reducer = sp.Min
    latex_name = r"\min"


class ArgMax(NonSmoothTarget, sp.Function):
    """1-based position of the largest argument (the first one on ties).

    Stays unevaluated until every argument is a number.

    Examples
    --------
    >>> ArgMax(2, 1, 4, 5, 3)
    4
    """

    in_text = True

    @classmethod
    def eval(cls, *args):
        if args and all(a.is_number and a.is_extended_real for a in args):
            values = [sp.N(a, 50) for a in args]
            best = max(range(len(values)), key=lambda j: (values[j], -j))
            return sp.Integer(best + 1)


class ArgMaxOver(_ReduceOver):
    """The index ``i`` in ``a..b`` where ``term(i)`` is largest (the first one on ties).

    ``doit`` on a concrete range gives ``a - 1 + ArgMax(term(a), ..., term(b))``, which
    resolves to an integer once the values are numbers.
    """

    latex_name = r"\operatorname{argmax}"

    def _reduce(self, terms: list[sp.Expr]) -> sp.Expr:
        if len(self.limits) != 1:
            raise ValueError("ArgMaxOver takes a single index range")
        ((_, a, _),) = self.limits
        return a - 1 + ArgMax(*terms)


def onehot_argmax(term: sp.Expr, index: sp.Symbol, j: sp.Symbol, lo, hi) -> sp.Expr:
    """``[j == argmax_i term(i)]``: the hard one-hot vector that softmax approximates."""
    return sp.KroneckerDelta(j, ArgMaxOver(term, (index, lo, hi)))
