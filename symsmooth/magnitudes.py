"""How large the constants of an expression are, read without evaluating it.

SymPy evaluates and compares constants exactly, and some of that work is one long
computation on Python integers that no deadline can interrupt (building
``Max(x, sigmoid(-exp(9999)))`` takes about a minute; ``erfc(1e10)`` is a Float of about
``10^(-4*10^19)`` whose ``str()`` raises ``decimal.InvalidOperation``).  The symbolic stages
therefore refuse, before any other work, a constant beyond ``10^±MAX_DIGITS``: outside every
double (denormals included), so no generated kernel could use it anyway.

Examples
--------
>>> import sympy as sp
>>> round(constant_digits(sp.exp(10000)))
4343
>>> check_constants(sp.Symbol("x") - sp.exp(10000), "convolve")
Traceback (most recent call last):
...
symsmooth.errors.BudgetError: convolve: the constant exp(10000) is about 10^4343, ...
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TypeVar

import mpmath
import sympy as sp

from symsmooth.budget import deadline
from symsmooth.errors import BudgetError

F = TypeVar("F", bound=Callable)

MAX_DIGITS = 330
"""Constants must lie within ``10^±MAX_DIGITS`` (beyond every double, denormals included)."""
_ARG_DIGITS = 6
"""Exponents and arguments of transcendental functions are evaluated only below ``10^6``."""
_LOG10_2 = math.log10(2)


def _number_digits(value: sp.Number) -> float:
    if value.is_Rational:
        return max(abs(int(value.p)).bit_length(), int(value.q).bit_length()) * _LOG10_2
    if value.is_Float:
        _, mantissa, exponent, bits = value._mpf_
        return abs(exponent + bits) * _LOG10_2 if mantissa else 0.0
    return 0.0  # oo, nan, zoo: infinite but small to write


def _evaluated_digits(expr: sp.Expr) -> float:
    """Digits of a constant whose parts are known to be moderate, by evaluating it."""
    try:
        value = sp.N(expr, 15)
    except (ArithmeticError, ValueError, TypeError):
        return math.inf
    total = 0.0
    for part in sp.Add.make_args(value):
        for factor in sp.Mul.make_args(part):
            total = max(total, _number_digits(factor) if factor.is_Number else 0.0)
    return total


def constant_digits(expr: sp.Expr) -> float:
    """A bound on ``|log10 |c||`` for every number ``c`` that ``expr`` builds (``inf``: huge).

    Numbers count their own size, sums their largest term, products the sum of their factors,
    ``b**e`` and ``exp(e)`` the size the power reaches; other functions of constant arguments
    are evaluated (to 15 digits) once their arguments are below ``10^6``.
    """
    if expr.is_Number:
        return _number_digits(expr)
    if not expr.args or not isinstance(expr, sp.Expr):
        return 0.0
    if isinstance(expr, (sp.Add, sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside)):
        return max((constant_digits(a) for a in expr.args), default=0.0) + 1.0
    if isinstance(expr, sp.Mul):
        return sum(constant_digits(a) for a in expr.args)
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        return _power_digits(constant_digits(base), exponent)
    if isinstance(expr, sp.exp):
        return _power_digits(1.0 / math.log(10), expr.args[0])
    parts = [constant_digits(a) for a in expr.args if isinstance(a, sp.Expr)]
    if max(parts, default=0.0) > _ARG_DIGITS:
        return math.inf
    if expr.free_symbols:
        return max(parts, default=0.0)
    return _evaluated_digits(expr)


def _power_digits(base_digits: float, exponent: sp.Expr) -> float:
    """Digits of ``b**e`` with ``|log10 b| <= base_digits``."""
    size = constant_digits(exponent)
    if size > _ARG_DIGITS:
        return math.inf
    if exponent.free_symbols:  # x**k or exp(c*x): the variable's values are the user's
        return base_digits + size
    try:
        magnitude = abs(float(sp.N(exponent, 15)))
    except (ArithmeticError, TypeError, ValueError):
        return math.inf
    return base_digits * magnitude


def check_constants(expr: sp.Basic, stage: str) -> None:
    """Refuse ``expr`` when one of its constants is beyond ``10^±MAX_DIGITS``.

    Raises
    ------
    BudgetError
        Naming ``stage``, the constant (or its innermost too-large part) and what to do.
    """
    for constant in _constants(expr):
        if constant_digits(constant) > MAX_DIGITS:
            culprit = _innermost(constant)
            raise BudgetError(
                stage,
                f"the constant {_short(culprit)} is {_about(culprit)}, beyond the budget of "
                f"10^±{MAX_DIGITS} (outside every double); rescale the variable so the "
                "constants are of moderate size, or use smaller constants",
            )


def _constants(expr):
    """The maximal subexpressions of ``expr`` without free symbols."""
    if isinstance(expr, sp.Expr) and not expr.free_symbols:
        yield expr
        return
    for arg in getattr(expr, "args", ()):
        yield from _constants(arg)


def _innermost(node: sp.Expr) -> sp.Expr:
    """The smallest part of ``node`` that is still over the budget (what the message names)."""
    for arg in node.args:
        if isinstance(arg, sp.Expr) and constant_digits(arg) > MAX_DIGITS:
            return _innermost(arg)
    return node


def _about(node: sp.Expr) -> str:
    digits = constant_digits(node)
    if math.isinf(digits):
        return f"beyond 10^±{MAX_DIGITS}"
    try:
        value = node if node.is_Float else sp.N(node, 3)
    except (ArithmeticError, TypeError, ValueError):
        value = None
    tiny = value is not None and value.is_Float and value._mpf_[2] + value._mpf_[3] < 0
    return f"about 10^{'-' if tiny else ''}{round(digits)}"


def _short(node: sp.Expr) -> str:
    if node.is_Float:  # str() of a Float this size raises decimal.InvalidOperation
        return mpmath.nstr(mpmath.mpf(node._mpf_), 3)
    text = str(node)
    return text if len(text) <= 60 else text[:57] + "..."


def guarded(stage: str) -> Callable[[F], F]:
    """Decorator: :func:`symsmooth.budget.deadline` ``(stage)`` around the function, after
    :func:`check_constants` of its first argument (the expression).

    Examples
    --------
    >>> @guarded("demo")
    ... def double(expr):
    ...     return 2 * expr
    >>> double(sp.Symbol("x"))
    2*x
    >>> double(sp.exp(-1000))
    Traceback (most recent call last):
    ...
    symsmooth.errors.BudgetError: demo: the constant exp(-1000) is about 10^-434, ...
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(expr, *args, **kwargs):
            with deadline(stage):
                check_constants(expr, stage)
                return function(expr, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
