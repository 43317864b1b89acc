"""Branchy (regime-split) evaluations of the stable primitives, per floating-point format.

``expand_regimes(expr, dtype)`` replaces every ``softplus``, ``sigmoid``, ``log_sigmoid``,
``log1mexp`` and two-argument ``logsumexp`` call by a :class:`sympy.Piecewise` over
``exp``, ``log``, ``log1p``, ``expm1``, ``Max`` and ``Abs`` whose cut points come from
:data:`~symsmooth.stabilization.thresholds.THRESHOLDS` (each branch is exact to within half an ulp
of the result beyond its cut, see that module).  A code generator prints the result with
``math.*`` calls; the fast branches skip a transcendental call (``softplus(z) = z`` above
33.27 in float64) and the tails stay accurate.  ``Phi``/``phi`` and ``LogSumExpOver`` are left
alone: ``Phi(z)`` is ``erfc(-z/sqrt 2)/2`` with no branch, and SymPy would rewrite a built
``erfc(-w)`` to ``2 - erfc(w)``, so the printer must emit it directly.  So is ``logsumexp`` with
three or more arguments: a nested fold of the pairwise form cannot keep its tie guard (SymPy
turns ``Eq(Piecewise, c)`` into an ``ITE`` that computes ``inf - inf``), so the printer should
emit one max-shifted loop (``m + log1p(sum_{i != argmax} exp(x_i - m))``, as
:func:`symsmooth.functions.numeric.py_logsumexp` does).

Edge values: NaN fails every comparison and reaches the last branch, which returns NaN;
``softplus(+-inf) = inf, 0``; ``sigmoid(+-inf) = 1, 0``; ``logsumexp`` of a tie returns
``a + log 2`` (so ``logsumexp(-inf, -inf) = -inf``, no NaN from ``inf - inf``).

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette (2012), eq. 7 and 10.
LogExpFunctions.jl ``log1pexp``, ``logistic``, ``log1mexp``.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> z = sp.Symbol("z", real=True)
>>> for branch in expand_regimes(softplus(z), "float32").args:
...     print(branch)
(z, z > 14.5560907917589)
(z + exp(-z), z > 7.27804539587943)
(log1p(exp(z)), z > -16.6355323334387)
(exp(z), True)
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from symsmooth.errors import StabilizeError
from symsmooth.functions import log1mexp, log_sigmoid, logsumexp, sigmoid, softplus
from symsmooth.stabilization.thresholds import THRESHOLDS


def _t(dtype: str) -> Callable[[str], sp.Float]:
    table = THRESHOLDS.get(str(dtype))
    if table is None:
        raise StabilizeError(f"no thresholds for dtype {dtype!r}; use one of {sorted(THRESHOLDS)}")
    # precision=53 holds the double exactly; its str() shows 15 digits, so printers should emit
    # repr(float(c)) for these constants.
    return lambda name: sp.Float(table[name].value, precision=53)


def _softplus(dtype: str, z: sp.Expr) -> sp.Expr:
    t = _t(dtype)
    return sp.Piecewise(
        (z, z > t("softplus_linear")),
        (z + sp.exp(-z), z > t("softplus_plus_exp")),
        (log1p(sp.exp(z)), z > t("softplus_exp")),
        (sp.exp(z), True),
    )


def _log_sigmoid(dtype: str, z: sp.Expr) -> sp.Expr:
    t = _t(dtype)
    return sp.Piecewise(
        (z, z < t("log_sigmoid_linear")),
        (z - sp.exp(z), z < t("log_sigmoid_minus_exp")),
        (-log1p(sp.exp(-z)), z < t("log_sigmoid_exp")),
        (-sp.exp(-z), True),
    )


def _sigmoid(dtype: str, z: sp.Expr) -> sp.Expr:
    t = _t(dtype)
    return sp.Piecewise(
        (sp.S.One, z > t("sigmoid_one")),
        (1 / (1 + sp.exp(-z)), z >= 0),
        (sp.exp(z) / (1 + sp.exp(z)), z > t("sigmoid_exp")),
        (sp.exp(z), True),
    )


def _log1mexp(dtype: str, z: sp.Expr) -> sp.Expr:
    t = _t(dtype)
    return sp.Piecewise(
        (sp.log(-expm1(z)), z > t("log1mexp_split")),
        (log1p(-sp.exp(z)), z > t("log1mexp_exp")),
        (-sp.exp(z), True),
    )


def _logaddexp(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``Max(a, b) + log1p(exp(-|a - b|))``; a tie gives ``a + log 2``.

    The tie branch keeps ``logaddexp(-inf, -inf) = -inf`` (no ``inf - inf``).  It is built
    unevaluated: SymPy would fold it into the other branch (they agree at ``a = b``), and a
    guard on ``|Max| = oo`` folds to False for real symbols.  Printers must not re-evaluate it.
    """
    general = sp.Max(a, b) + log1p(sp.exp(-sp.Abs(a - b)))
    tie = sp.Eq(a, b, evaluate=False)
    return sp.Piecewise((a + sp.log(2), tie), (general, True), evaluate=False)


def _logsumexp(dtype: str, *args: sp.Expr) -> sp.Expr:
    """Two arguments: the pairwise form.  Three or more stay ``logsumexp`` (see module doc)."""
    return _logaddexp(*args) if len(args) == 2 else logsumexp(*args)


REGIMES: dict[type, Callable[..., sp.Expr]] = {
    softplus: _softplus,
    sigmoid: _sigmoid,
    log_sigmoid: _log_sigmoid,
    log1mexp: _log1mexp,
    logsumexp: _logsumexp,
}
"""Primitive class -> ``(dtype, *args) -> Piecewise``."""


def expand_regimes(expr: sp.Expr, dtype: str = "float64") -> sp.Expr:
    """Replace each stable primitive in ``expr`` by its branchy evaluation for ``dtype``.

    Parameters
    ----------
    expr : sympy.Expr
        Typically the output of :func:`~symsmooth.stabilization.stabilize`.
    dtype : {"float64", "float32"}

    Examples
    --------
    >>> import sympy as sp
    >>> from symsmooth.functions import log1mexp
    >>> z = sp.Symbol("z", real=True)
    >>> expand_regimes(log1mexp(z)).args[0]
    (log(-expm1(z)), z > -0.693147180559945)
    """
    _t(dtype)  # fail early on an unknown dtype
    for cls, build in REGIMES.items():
        expr = expr.replace(
            lambda e, cls=cls: isinstance(e, cls),
            lambda e, build=build: build(dtype, *e.args),
        )
    return expr
