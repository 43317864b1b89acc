"""Reflection identities: each function written through its value at the mirrored argument.

``f(z) = a(z) + b f(-z)`` moves a function's large part into a polynomial ``a(z)`` that
SymPy cancels *exactly* against the other terms of a sum, leaving the small ``f(-z)`` tail:
``softplus(t x)/t - softplus(t (x - 1))/t`` (the clip convolved with the logistic) is
``1 + softplus(-t x)/t - softplus(t (1 - x))/t`` after both reflections, with no cancellation
left for large ``x``.  This is the move Herbie's rewrite database makes with ``1 - f`` pairs;
here it is one identity per function, and the search
(:mod:`symsmooth.stabilization.search`) tries them on subsets of a kernel's occurrences and
keeps a form only where it measures better.

Every identity is exact; ``tests/test_stabilize_search.py`` checks each entry of
:data:`REFLECTIONS` with ball arithmetic at points of both signs.

References
----------
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 7.1.9 (erf odd),
26.2.5 (Phi(-z) = 1 - Phi(z)).  softplus(z) - softplus(-z) = z: log((1 + e^z)/(1 + e^-z)) =
log e^z.  P. Panchekha et al., "Automatically improving accuracy for floating point
expressions", PLDI 2015 (Herbie's rewrite search).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> z = sp.Symbol("z", real=True)
>>> reflect(softplus(z))
z + softplus(-z)
>>> reflect(sp.erf(z))
2*Phi(sqrt(2)*z) - 1
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from symsmooth.functions import Phi, log_sigmoid, relu_gauss, sigmoid, softplus

REFLECTIONS: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    softplus: lambda z: z + softplus(-z),
    log_sigmoid: lambda z: z + log_sigmoid(-z),
    sigmoid: lambda z: 1 - sigmoid(-z),
    Phi: lambda z: 1 - Phi(-z),
    relu_gauss: lambda z: z + relu_gauss(-z),  # max(z, 0) = z + max(-z, 0), smoothed
    # erf is odd; SymPy folds erf(-z) to -erf(z) and erfc(-z) to 2 - erfc(z), so the mirrored
    # tail is carried by Phi (evaluated as erfc(-w/sqrt 2)/2, no cancellation)
    sp.erf: lambda z: 2 * Phi(sp.sqrt(2) * z) - 1,
    sp.erfc: lambda z: 2 * Phi(-sp.sqrt(2) * z),
    sp.tanh: lambda z: 1 - 2 * sigmoid(-2 * z),
}
"""Function class -> ``z -> the identity's right-hand side`` (one-argument functions)."""


def reflect(node: sp.Expr) -> sp.Expr:
    """``node`` (a one-argument function in :data:`REFLECTIONS`) by its reflection identity."""
    try:
        build = REFLECTIONS[type(node)]
    except KeyError:
        raise KeyError(
            f"no reflection identity for {type(node).__name__}; register one in "
            "symsmooth.stabilization.complements.REFLECTIONS"
        ) from None
    return build(node.args[0])


def occurrences(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    """The distinct reflectable nodes of ``expr``, in a deterministic order."""
    found = {n for n in sp.preorder_traversal(expr) if type(n) in REFLECTIONS}
    return tuple(sorted(found, key=sp.default_sort_key))


def reflected(expr: sp.Expr, nodes) -> sp.Expr:
    """``expr`` with each of ``nodes`` replaced by its reflection, then expanded so that the
    polynomial parts cancel exactly (``x - (x - 1)`` is ``1`` before any rounding)."""
    return distribute(expr.xreplace({n: reflect(n) for n in nodes}))


def distribute(expr: sp.Expr) -> sp.Expr:
    """Products distributed over sums outside function arguments (the arguments keep their
    form: ``t (x - 1)`` rounds once, ``t x - t`` twice).

    Examples
    --------
    >>> x, t = sp.symbols("x t", real=True)
    >>> distribute((t * x + sp.exp(t * (x - 1))) / t - x)
    exp(t*(x - 1))/t
    """
    if isinstance(expr, sp.Add):
        return sp.Add(*[distribute(a) for a in expr.args])
    if isinstance(expr, sp.Mul):
        return sp.expand_mul(sp.Mul(*[distribute(a) for a in expr.args]), deep=False)
    return expr
