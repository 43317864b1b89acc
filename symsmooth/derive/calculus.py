"""Gradient and Hessian *derivations*: the checked steps behind ``gradient``/``hessian``.

Each step is checked against ``sp.Derivative`` of the expression evaluated on the expanded
(concrete-``n``) form, so the closed vector form is compared with an independent reference.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> d = gradient_derivation(sp.log(1 + sp.exp(x)), x)
>>> d.update
sigmoid(x)
>>> [s.check.passed for s in d.steps]
[True, True, True]
"""

from __future__ import annotations

import sympy as sp

from symsmooth.derive.gradients import (
    _as_tuple,
    _element,
    collapse_deltas,
    fresh_indices,
    stable_form,
)
from symsmooth.derive.record import Builder, Derivation
from symsmooth.functions import naive
from symsmooth.magnitudes import guarded


def _derivation(expr: sp.Expr, elements: tuple, name: str, title: str) -> Derivation:
    b = Builder(name, title, "sympy.diff; deltas collapsed for 1 <= j <= n (catalog P3)")
    target = sp.Derivative(naive(expr), *elements)
    raw = sp.diff(naive(expr), *elements)
    b.step(
        "Differentiate the exp/log form with sympy.",
        target,
        raw,
        "chain rule; d x[i] / d x[j] = KroneckerDelta(i, j)",
    )
    collapsed = collapse_deltas(raw)
    b.step(
        "Collapse the sums over Kronecker deltas.",
        raw,
        collapsed,
        "Sum(KroneckerDelta(i, j) f(i), (i, 1, n)) = f(j) for 1 <= j <= n",
    )
    stable = stable_form(collapsed)
    b.step(
        "Rewrite in stable form.",
        collapsed,
        stable,
        "Sum(exp(h)) = exp(LSE(h)), 1 + exp(z) = exp(softplus(z)), exponents merged",
    )
    return b.build(stable, {"result": stable, "raw": raw})


@guarded("derive")
def gradient_derivation(expr: sp.Expr, var, index: sp.Symbol | None = None) -> Derivation:
    """Checked steps from ``expr`` to its gradient component in closed, stable form.

    Parameters
    ----------
    expr : sympy.Expr
    var : Symbol, IndexedBase (component ``j``), or Indexed element
    index : Symbol, optional
    """
    (j,) = (index,) if index is not None else fresh_indices(expr, 1)
    element = _element(var, expr, j)
    return _derivation(expr, (element,), "gradient", f"Gradient with respect to {element}")


@guarded("derive")
def hessian_derivation(expr: sp.Expr, vars, indices: tuple | None = None) -> Derivation:
    """Checked steps to one Hessian entry ``d^2 expr / d u d v`` (``vars`` = u or (u, v))."""
    items = _as_tuple(vars)
    u, v = (items * 2)[:2]
    j, l = indices or fresh_indices(expr, 2)
    elements = (_element(u, expr, j), _element(v, expr, l))
    return _derivation(
        expr, elements, "hessian", f"Hessian entry with respect to {elements[0]}, {elements[1]}"
    )
