"""Newton and gradient descent as exact minimisation of a parabola that touches ``f``.

At the current point ``x_n`` replace ``f`` by a parabola ``g`` that matches it to first order
(Newton: to second order), minimise ``g`` exactly, iterate (article 4, items 1-3):

* tangent parabola ``g = f(x_n) + f'(x_n)(x - x_n) + f''(x_n)(x - x_n)^2 / 2`` gives
  ``x_{n+1} = x_n - f'(x_n) / f''(x_n)``; vector form ``x_n - H^{-1} grad f``.
  If ``f''(x_n) < 0`` the parabola opens downward and its stationary point is a *maximum*;
* fixed curvature ``1/h``: ``g = f(x_n) + f'(x_n)(x - x_n) + (x - x_n)^2 / (2h)`` gives
  ``x_{n+1} = x_n - h f'(x_n)``.

References
----------
Su Jianlin, "Gradient descent and EM: same origin", kexue.fm/archives/4277 (2017), items 1-3.
J. Nocedal, S. Wright, *Numerical Optimization*, 2nd ed., Springer 2006, sec. 3.3.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> d = newton_step(x**4 - 3*x, x)
>>> d.update
Eq(x_{n+1}, x_n - (4*x_n**3 - 3)/(12*x_n**2))
>>> gradient_descent_step(x**2, x).update
Eq(x_{n+1}, -2*h*x_n + x_n)
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from symsmooth.derive.record import Builder, Derivation
from symsmooth.errors import DerivationError
from symsmooth.magnitudes import guarded

SOURCE = "kexue.fm/archives/4277 (article 4), items 1-3"


def _variables(vars) -> tuple[sp.Symbol, ...]:
    items = tuple(vars) if isinstance(vars, (list, tuple)) else (vars,)
    if not items or not all(isinstance(v, sp.Symbol) for v in items):
        raise DerivationError(
            f"newton_step/gradient_descent_step need Symbols, got {vars!r}; for a vector, pass "
            "the list of its components, e.g. [x, y]"
        )
    return items


def _current(v: sp.Symbol) -> sp.Symbol:
    return sp.Symbol(f"{v.name}_n", **v.assumptions0)


def _next(v: sp.Symbol) -> sp.Symbol:
    return sp.Symbol(f"{v.name}_{{n+1}}", **v.assumptions0)


def _quadratic_model(f, xs, curvature):
    """``g(x)`` and its pieces at ``x_n``; ``curvature`` None means the Hessian of ``f``."""
    xn = [_current(v) for v in xs]
    at = dict(zip(xs, xn, strict=False))
    dx = sp.Matrix([v - c for v, c in zip(xs, xn, strict=False)])
    grad = sp.Matrix([sp.diff(f, v) for v in xs]).xreplace(at)
    hess = sp.hessian(f, xs).xreplace(at) if curvature is None else sp.eye(len(xs)) * curvature
    g = f.xreplace(at) + (grad.T * dx)[0] + (dx.T * hess * dx)[0] / 2
    return g, xn, at, grad, hess


def _vec(items):
    """A scalar for one variable, else a column Matrix (keeps scalar derivations readable)."""
    items = list(items)
    return items[0] if len(items) == 1 else sp.Matrix(items)


def _match_steps(b: Builder, f, g, xs, xn, order: int) -> None:
    at = dict(zip(xs, xn, strict=False))
    b.step(
        "The model touches f at the current point.",
        sp.Subs(g, xs, xn),
        f.xreplace(at),
        "g(x_n) = f(x_n) by construction",
    )
    slope = _vec(sp.Subs(sp.Derivative(g, v), xs, xn) for v in xs)
    b.step(
        "Same slope at the current point (first-order contact).",
        slope,
        _vec(sp.diff(f, v).xreplace(at) for v in xs),
        "gradient matching: the linear term is f'(x_n)(x - x_n)",
    )
    if order == 2:
        curv = sp.hessian(f, xs).xreplace(at)
        b.step(
            "Same curvature at the current point (second-order contact).",
            sp.Subs(sp.Derivative(g, xs[0], 2), xs, xn) if len(xs) == 1 else sp.hessian(g, xs),
            curv[0] if len(xs) == 1 else curv,
            "the quadratic term is half the Hessian of f at x_n",
        )


def _stationary(b: Builder, g, xs, xn) -> sp.Matrix:
    equations = [sp.diff(g, v) for v in xs]
    solutions = sp.solve(equations, xs, dict=True)
    if len(solutions) != 1:
        raise DerivationError(
            f"the quadratic model has {len(solutions)} stationary points (singular curvature); "
            "Newton needs an invertible Hessian at x_n"
        )
    point = sp.Matrix([sp.cancel(solutions[0][v]) for v in xs])
    b.step(
        f"Minimise the model: sp.solve of its stationarity equation gives "
        f"{', '.join(f'{v} = {sp.sstr(p)}' for v, p in zip(xs, point, strict=False))}.",
        _vec(sp.Subs(sp.Derivative(g, v), xs, list(point)) for v in xs),
        _vec([0] * len(xs)),
        "sp.solve(diff(g, x), x): the model is quadratic, so this is one linear system",
    )
    return point


WARNING = (
    "Warning case f'' < 0 (article 4, item 2): the tangent parabola opens downward, its "
    "stationary point is a maximum and the step may go to a maximum of f"
)


def _negative_curvature(second: sp.Expr, x: sp.Symbol):
    """Where ``f'' < 0`` (a set), or None when SymPy cannot tell."""
    if second.has(sp.Derivative, AppliedUndef) or second.free_symbols - {x}:
        return None
    try:
        return sp.solve_univariate_inequality(second < 0, x, relational=False)
    except (NotImplementedError, TypeError, ValueError, RecursionError):
        return None


def _warning(f, xs) -> str:
    if len(xs) > 1:
        return (
            "Warning case (article 4, item 2): where the Hessian is not positive definite "
            "the quadratic model has no minimum and x_n - H^{-1} grad f is a saddle or a "
            "maximum."
        )
    (x,) = xs
    second = sp.diff(f, x, 2)
    where = _negative_curvature(second, x)
    if where is None:
        return WARNING + f"; here f'' = {sp.sstr(second)}: check its sign at x_n."
    if where == sp.S.EmptySet:
        return (
            WARNING + f"; here f'' = {sp.sstr(second)} >= 0 everywhere, so it never "
            "happens (the step is undefined where f'' = 0)."
        )
    return WARNING + f"; here f'' < 0 exactly for {x} in {sp.sstr(where)}."


@guarded("derive")
def newton_step(f: sp.Expr, vars) -> Derivation:
    """Newton's update derived from the tangent parabola (scalar) or quadratic model (vector).

    Parameters
    ----------
    f : sympy.Expr
        Objective; may contain an undefined function ``sp.Function("f")(x)``.
    vars : Symbol or list of Symbols

    Returns
    -------
    Derivation
        ``update`` is ``Eq(x_{n+1}, x_n - f'(x_n)/f''(x_n))`` (scalar) or
        ``Eq(Matrix(x_{n+1}), x_n - H^{-1} g)``; the note names the ``f'' < 0`` case.
    """
    xs = _variables(vars)
    g, xn, _, grad, hess = _quadratic_model(f, xs, None)
    b = Builder("newton_step", f"Newton step for {sp.sstr(f)} from the tangent parabola", SOURCE)
    _match_steps(b, f, g, xs, xn, order=2)
    point = _stationary(b, g, xs, xn)
    if len(xs) == 1:
        formula = sp.Matrix([xn[0] - grad[0] / hess[0, 0]])
        why = "solving g'(x) = 0 for the tangent parabola gives x_n - f'(x_n)/f''(x_n)"
    else:
        step = (hess.adjugate() * grad).applyfunc(lambda e: sp.factor(e / hess.det()))
        formula = sp.Matrix(xn) - step
        why = "x_n - H^{-1} grad f(x_n), with H the Hessian at x_n (H^{-1} = adj(H)/det(H))"
    b.step("The minimiser of the model is the Newton update.", _vec(point), _vec(formula), why)
    b.note(_warning(f, xs))
    lhs = _next(xs[0]) if len(xs) == 1 else sp.Matrix([_next(v) for v in xs])
    rhs = formula[0] if len(xs) == 1 else formula
    return b.build(
        sp.Eq(lhs, rhs, evaluate=False),
        {"model": g, "gradient": grad, "hessian": hess, "update": rhs},
    )


@guarded("derive")
def gradient_descent_step(f: sp.Expr, vars, h: sp.Expr | None = None) -> Derivation:
    """Gradient descent derived from the parabola of fixed curvature ``1/h`` touching ``f``.

    Parameters
    ----------
    f : sympy.Expr
    vars : Symbol or list of Symbols
    h : sympy.Expr, optional
        Step size (default ``Symbol("h", positive=True)``).

    Returns
    -------
    Derivation
        ``update`` is ``Eq(x_{n+1}, x_n - h f'(x_n))``.
    """
    xs = _variables(vars)
    h = sp.Symbol("h", positive=True) if h is None else h
    g, xn, _, grad, _ = _quadratic_model(f, xs, 1 / h)
    b = Builder(
        "gradient_descent_step",
        f"Gradient descent for {sp.sstr(f)} from a fixed-curvature parabola",
        SOURCE,
    )
    _match_steps(b, f, g, xs, xn, order=1)
    b.step(
        "The model's curvature is fixed at 1/h in every direction.",
        sp.diff(g, xs[0], 2) if len(xs) == 1 else sp.hessian(g, xs),
        1 / h if len(xs) == 1 else sp.eye(len(xs)) / h,
        "(x - x_n)^2 / (2h): curvature 1/h > 0, so the model always opens upward",
    )
    point = _stationary(b, g, xs, xn)
    formula = sp.Matrix(xn) - h * grad
    b.step(
        "The minimiser of the model is the gradient step.",
        _vec(point),
        _vec(formula),
        "x_n - h grad f(x_n) (article 4, item 3)",
    )
    lhs = _next(xs[0]) if len(xs) == 1 else sp.Matrix([_next(v) for v in xs])
    rhs = formula[0] if len(xs) == 1 else formula
    return b.build(sp.Eq(lhs, rhs, evaluate=False), {"model": g, "gradient": grad, "update": rhs})
