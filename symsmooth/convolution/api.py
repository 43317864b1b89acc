"""``convolve(f, x, kernel, width)``: the engine's one entry point, returning a Smoothing.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> convolve(sp.Max(x, 0), x, "logistic").expr
softplus(t*x)/t
>>> convolve("sign(x)", "x", "cauchy").expr
2*atan(x/a)/pi
>>> convolve(sp.Max(x, 0), x, "gaussian").bound
sqrt(2)*sigma/(2*sqrt(pi))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from symsmooth.budget import deadline
from symsmooth.convolution import kernels
from symsmooth.convolution.bounds import ErrorBound, staircase_bound, sup_error
from symsmooth.convolution.engine import convolve_pieces
from symsmooth.convolution.kernels import Kernel
from symsmooth.convolution.limits import check_target
from symsmooth.convolution.pieces import decompose
from symsmooth.convolution.routes import step_route
from symsmooth.convolution.series import smooth_staircase
from symsmooth.convolution.tidy import tidy
from symsmooth.errors import ConvolutionError
from symsmooth.identifiers import check_name
from symsmooth.records import Smoothing

SOURCE = "Dirac convolution, article 3 (kexue.fm/archives/8718)"
ROUTES = ("convolve", "step")


@dataclass(frozen=True)
class SeriesSmoothing(Smoothing):
    """A :class:`Smoothing` of a staircase target, with its series forms.

    ``expr`` is the closed Fourier form where one exists (Cauchy), else the truncated sum when
    ``terms`` was given, else the exact series.
    """

    series: sp.Expr | None = None
    truncated: sp.Expr | None = None
    terms: tuple = ()
    truncation_error: sp.Expr | None = None
    truncation_bound: sp.Expr | None = None
    fourier: sp.Expr | None = None


@dataclass(frozen=True)
class RouteComparison:
    """Both routes of article 3 and ``difference = convolve.expr - step.expr``."""

    convolve: Smoothing
    step: Smoothing
    difference: sp.Expr


def convolve(
    f: sp.Expr | str,
    x: sp.Symbol | str | tuple = "x",
    kernel: str | Kernel = "gaussian",
    width: sp.Expr | str | float | None = None,
    *,
    route: str = "convolve",
    principal_value: bool = False,
    terms: tuple | None = None,
    name: str | None = None,
) -> Smoothing:
    """Smooth ``f`` by convolving it with ``kernel``: ``(f*K)(x) = ∫ f(x-u) K(u) du``.

    Parameters
    ----------
    f : sympy.Expr or str
        Target; text goes through :func:`symsmooth.text.formula.parse` (never ``eval``).
    x : Symbol, str, or pair of Symbols
        Convolution variable; a pair ``(x, y)`` with ``f = Max(x, y)`` (or ``Min``) smooths
        through ``max(x, y) = (x + y + |x - y|)/2``.
    kernel : str or Kernel
        A name from :func:`symsmooth.convolution.kernels.names` or a kernel record.
    width : Symbol, number or str, optional
        The kernel's width (sharpness for logistic); default its own symbol.
    route : {"convolve", "step"}
        ``"step"`` smooths only the steps and multiplies back (Swish, GELU, SMU).
    principal_value : bool
        Accept results that exist only as symmetric principal values.
    terms : (M, N), optional
        Truncation of staircase series (the article's finite sum).
    name : str, optional
        Record name (default ``<kernel>_convolution``).

    The variable must occur in a target that has free symbols (``Max(x, 0)`` convolved in
    ``y`` is refused, naming ``x``); a constant target (no free symbols) is its own
    convolution.  The whole call runs as stage ``"convolve"`` under
    :func:`symsmooth.budget.deadline`, after the size budgets of
    :mod:`symsmooth.convolution.limits` (degree, breakpoints, constants).

    Raises
    ------
    ConvolutionError, DivergenceError, KernelError, ParseError
    BudgetError
        Past a size budget or the stage's deadline, or when SymPy gives up.
    InvalidNameError
        A variable or record name that is not a valid user name.
    """
    if name is not None:
        check_name(name, "catalog entry")
    with deadline("convolve"):
        f, variables = _inputs(f, x)
        record = kernels.get(kernel)
        if route not in ROUTES:
            raise ConvolutionError(f"unknown route {route!r}; use one of {', '.join(ROUTES)}")
        width_value = _width(width, record)
        _check_width_names(variables, width_value, record)
        terms = None if terms is None else (int(terms[0]), int(terms[1]))
        check_target(f, variables)
        return _convolve_cached(
            f,
            variables,
            record,
            width_value,
            route,
            principal_value,
            terms,
            name or f"{record.name}_convolution",
        )


def compare_routes(f, x="x", kernel="gaussian", width=None) -> RouteComparison:
    """Both routes and their symbolic difference (ReLU*Gaussian - GELU = sigma phi(x/sigma)).

    Examples
    --------
    >>> compare_routes("Max(x, 0)", "x", "gaussian").difference
    sqrt(2)*sigma*exp(-x**2/(2*sigma**2))/(2*sqrt(pi))
    """
    with deadline("convolve"):
        full = convolve(f, x, kernel, width)
        step = convolve(f, x, kernel, width, route="step")
        return RouteComparison(full, step, tidy(full.expr - step.expr))


def _inputs(f, x):
    names = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if isinstance(f, str):
        from symsmooth.text.formula import parse

        # The convolution variable ranges over every real: parsed with its default assumption
        # (``t`` and ``s`` are positive), ``Max(t, 0)`` would already read ``t``.
        declared = {}
        for v in names:
            if isinstance(v, str):
                check_name(v, "variable")
                declared[v] = sp.Symbol(v, real=True)
        f = parse(f, symbols=declared)
    f = sp.sympify(f) if not isinstance(f, sp.Basic) else f
    variables = tuple(_symbol(v, f) for v in names)
    _check_variables(f, variables)
    return f, variables


def _check_width_names(variables: tuple, width: sp.Expr, record: Kernel) -> None:
    """A convolution variable named like the width (``sigma`` with the Gaussian, ``t`` with the
    logistic) would be read as the width in the result: refuse it rather than mix the two."""
    taken = {s.name for s in width.free_symbols}
    for v in variables:
        if v.name in taken:
            raise ConvolutionError(
                f"the convolution variable {v} has the name of the {record.name} kernel's "
                f"width {sorted(taken)[0]}; rename the variable (e.g. {v}_) or pass "
                f"width= another symbol"
            )


def _check_variables(f: sp.Expr, variables: tuple) -> None:
    """A target with free symbols must contain the convolution variable (else the user almost
    surely named the wrong one: the result would be the target unchanged)."""
    free = sorted(str(s) for s in f.free_symbols)
    missing = [str(v) for v in variables if v not in f.free_symbols]
    if missing and free:
        raise ConvolutionError(
            f"the convolution variable {', '.join(missing)} does not occur in the target {f}; "
            f"its free symbols are {', '.join(free)}: convolve in one of them (CLI: --var "
            f"{free[0]}; Python: convolve(f, {free[0]!r}, ...))"
        )


def _symbol(v, f) -> sp.Symbol:
    check_name(v.name if isinstance(v, sp.Symbol) else v, "variable")  # names reach code
    if isinstance(v, sp.Symbol):
        if v.is_nonnegative or v.is_nonpositive:
            raise ConvolutionError(
                f"the convolution variable {v} is declared with a sign, but it ranges over "
                "every real number (SymPy may already have simplified the target with that "
                f"sign); declare it sp.Symbol({v.name!r}, real=True)"
            )
        return v
    match = [s for s in f.free_symbols if s.name == str(v)]
    return match[0] if match else sp.Symbol(str(v), real=True)


def _width(width, record: Kernel):
    if width is None:
        return record.width
    if isinstance(width, str):
        from symsmooth.text.formula import parse

        width = parse(width)
    value = sp.sympify(width)
    if value.is_number and not value.is_positive:
        raise ConvolutionError(f"the kernel width must be positive, got {width}")
    return value


class _Variable(sp.Dummy):
    """The convolution variable: a fresh real symbol (it cannot clash with the kernel's width or
    a user's other symbols) that prints as the user's name, so an error about the target reads
    ``cannot convolve sin(x)``, not ``sin(_x)`` (SymPy's printers ask ``_sympystr`` first)."""

    def _sympystr(self, printer) -> str:
        return self.name


@cache
def _convolve_cached(f, variables, kernel, width, route, principal_value, terms, name):
    if len(variables) == 2:
        return _two_argument(f, variables, kernel, width, route, principal_value, name)
    (x,) = variables
    var = _Variable(str(x), real=True)
    try:
        parts = decompose(f.subs(x, var), var)
    except NotImplementedError as exc:  # e.g. the roots of x**2 - pi: no sorted real roots
        raise ConvolutionError(
            f"cannot locate the breakpoints of {f} exactly (SymPy: {str(exc)[:80]}); give the "
            "polynomial pieces rational coefficients (e.g. 314/100 for pi), or write the target "
            "as an explicit Piecewise with its breakpoints"
        ) from None
    if route == "step":
        if parts.staircases:
            raise ConvolutionError("the step route needs finitely many steps; use route='convolve'")
        expr, bound, method = step_route(parts.pieces, kernel), ErrorBound(None), "step route"
        method += " (polynomial x smoothed step, article 3 eqs (10)-(11))"
        pv = False
    else:
        bounded = _bounded_staircase(parts)
        res = convolve_pieces(parts.pieces, kernel, principal_value or bounded, label=str(f))
        expr, pv = res.expr, res.principal_value
        bound = sup_error(parts.pieces, kernel, expr) if not parts.staircases else ErrorBound(None)
        method = "convolution (partial moments)"
    fields = dict(_common(f, x, kernel, name), method=method)
    if parts.staircases:
        return _with_staircases(
            parts, kernel, var, expr, fields, principal_value, terms, pv, x, width
        )
    domain = "all real " + str(x) + (" (symmetric principal value)" if pv else "")
    if bound.note:
        domain += "; " + bound.note
    if pv:
        fields["method"] += ", principal value"
    return Smoothing(
        expr=_finish(expr, var, x, kernel, width),
        bound=None if bound.bound is None else _finish(bound.bound, var, x, kernel, width),
        attained=tuple({x: _finish(p[var], var, x, kernel, width)} for p in bound.attained),
        domain=domain,
        **fields,
    )


def _bounded_staircase(parts) -> bool:
    """frac-like targets: the linear growth of the staircases is cancelled by the rest."""
    pp = parts.pieces
    if not parts.staircases or pp.breaks or pp.degree() > 1:
        return False
    slope = sp.diff(pp.pieces[0], pp.var)
    return sp.expand(slope + sum(s.coef * s.scale for s in parts.staircases)) == 0


def _with_staircases(parts, kernel, var, base, fields, principal_value, terms, pv, x, width):
    allow = principal_value or _bounded_staircase(parts)
    stairs = [
        smooth_staircase(s, kernel, var, principal_value=allow, terms=terms)
        for s in parts.staircases
    ]

    def total(attr):
        values = [getattr(s, attr) for s in stairs]
        if any(v is None for v in values):
            return None
        return _finish(base + sp.Add(*values), var, x, kernel, width)

    closed = total("closed")
    expr = closed if closed is not None else total("truncated" if terms else "series")
    single = len(stairs) == 1 and parts.pieces.degree() <= 1 and not parts.pieces.breaks
    bound = staircase_bound(parts.staircases[0].coef) if single and kernel.symmetric else None
    used_pv = (pv or any(s.principal_value for s in stairs)) and not _bounded_staircase(parts)
    fields["method"] = "series of smoothed steps (partial moments)" + (
        ", principal value" if used_pv else ""
    )
    tail = [s.truncation_bound for s in stairs]
    return SeriesSmoothing(
        expr=expr,
        bound=None if bound is None else bound.bound,
        domain=f"all real {x}" + (" (symmetric principal value)" if used_pv else ""),
        series=total("series"),
        truncated=total("truncated"),
        terms=stairs[0].terms,
        truncation_error=total("truncation_error"),
        truncation_bound=None if None in tail else _finish(sp.Add(*tail), var, x, kernel, width),
        fourier=total("fourier"),
        **fields,
    )


def _two_argument(f, variables, kernel, width, route, principal_value, name):
    x, y = variables
    if not (isinstance(f, (sp.Max, sp.Min)) and len(f.args) == 2 and set(f.args) == {x, y}):
        raise ConvolutionError(
            f"two variables are supported for Max(x, y) and Min(x, y) only, got {f}; "
            "convolve in one variable and treat the others as constants"
        )
    z = sp.Dummy("z", real=True)
    inner = _convolve_cached(sp.Abs(z), (z,), kernel, width, route, principal_value, None, name)
    sign = 1 if isinstance(f, sp.Max) else -1
    expr = (x + y + sign * inner.expr.subs(z, x - y)) / 2
    bound = None if inner.bound is None else inner.bound / 2
    return Smoothing(
        expr=expr,
        bound=bound,
        attained=tuple({x: y} for _ in inner.attained),
        domain=f"all real {x}, {y}",
        **dict(
            _common(f, x, kernel, name),
            variables=(x, y),
            method=inner.method + ", max(x, y) = (x + y + |x - y|)/2",
        ),
    )


def _common(f, x, kernel: Kernel, name: str) -> dict:
    return dict(
        name=name,
        target=f,
        variables=(x,),
        param=kernel.width,
        limit=kernel.limit,
        source=f"{SOURCE}; {kernel.name} kernel: {kernel.source}",
        description=f"{f} convolved with the {kernel.name} kernel",
    )


def _finish(expr, var, x, kernel: Kernel, width) -> sp.Expr:
    expr = expr.subs(var, x)
    if width != kernel.width:
        expr = expr.subs(kernel.width, width)
    return expr


def clear_caches() -> None:
    """Forget every cached convolution and partial moment (for cold-start benchmarks)."""
    from symsmooth.convolution import kernel_moments
    from symsmooth.convolution import kernels as kernel_module

    _convolve_cached.cache_clear()
    kernel_module._partial_moment.cache_clear()
    kernel_module._tail.cache_clear()
    for fn in vars(kernel_moments).values():
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()
