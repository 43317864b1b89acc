"""The one vocabulary of SymPy classes that data may name, and the bounds on what it builds.

Formula text (:mod:`symsmooth.text.formula`) and stored records
(:mod:`symsmooth.text.record_reader`) both turn names found in data into SymPy constructors.
They share this module, so there is one whitelist and one set of bounds:

* :data:`FUNCTIONS`: the mathematical functions, ``name -> class``, callable from formula
  text *and* readable from a record: elementary and special functions, ``Max``/``Min``,
  ``Abs``, ``sign``, ``Heaviside``, ``floor``/``ceiling``, and every registered stable
  primitive (:data:`symsmooth.functions.PRIMITIVES`, the one registry of the vocabulary);
  :data:`ARITY` gives their least and most number of arguments;
* :data:`STRUCTURE`: the classes only a stored record names (``srepr`` writes numbers, sums,
  products, powers, ``Piecewise`` pairs, relations, logic, indexed sums and reductions as
  constructor calls); a formula writes them with operators instead;
* :data:`RECORD_CONSTANTS` and :data:`TEXT_CONSTANTS`: the singleton names.

Bounds, applied *before* SymPy evaluates anything (SymPy evaluates ``9**9**9``,
``exp(N*log(2))``, ``factorial(N)`` and the refinement loop of ``sigmoid(-exp(9999))``
eagerly, some of them for minutes):

* integer literals: :data:`MAX_INT_DIGITS` digits in text, :data:`MAX_RESULT_DIGITS` in
  records; a constant power at most :data:`MAX_POWER_DIGITS` digits, a constant exponent (and
  the argument of ``exp``, ``sinh``, ``cosh``) at most :data:`MAX_EXPONENT` in magnitude;
* a *constant* argument of any function but the tame ones (:data:`TAME`: ``Max``, ``Min``,
  ``Abs``, ``sign``, ``Heaviside``, ``log``, ``atan``, ...) at most :data:`MAX_EXPONENT` in
  magnitude (:data:`ARGUMENT_LIMITS` is tighter for ``factorial`` and ``zeta``), and holding
  at most :data:`MAX_CONSTANT_NESTING` nested function calls: evaluating a constant
  ``sigmoid(sigmoid(...))`` costs time exponential in its depth.

Examples
--------
>>> FUNCTIONS["softplus"].__name__, ARITY["logsumexp"]
('softplus', (1, None))
>>> import sympy as sp
>>> guarded_call("exp", [sp.Integer(3)], ValueError)
exp(3)
>>> guarded_call("sigmoid", [-sp.exp(9999)], ValueError)
Traceback (most recent call last):
...
ValueError: the constant argument of sigmoid is too large in magnitude (limit 10000)...
...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.functions.elementary.piecewise import ExprCondPair

from symsmooth.functions import PRIMITIVES, TARGETS, LiveTable, LogSumExpOver

MAX_INT_DIGITS = 60
"""Longest integer literal accepted in formula text (decimal digits)."""
MAX_POWER_DIGITS = 1000
"""Largest number of digits a power may produce (Python prints at most 4300)."""
MAX_EXPONENT = 10_000
"""Largest constant exponent, constant argument of exp, sinh, cosh, and (in magnitude)
constant argument of every function not in :data:`TAME`."""
MAX_RESULT_DIGITS = 4000
"""Longest number allowed in a result (and in a stored record's integer literal)."""
MAX_CONSTANT_NESTING = 4
"""Most function calls nested inside one constant argument (``sigmoid(sigmoid(1))``: 1)."""

_ELEMENTARY = (
    sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.floor, sp.ceiling, sp.frac,
    sp.exp, sp.log, sp.erf, sp.erfc, sp.tanh, sp.sinh, sp.cosh, sp.asinh,
    sp.atan, sp.sin, sp.cos, sp.tan, sp.LambertW, sp.KroneckerDelta,
    sp.polylog, sp.zeta, sp.dirichlet_eta, sp.besselk, sp.factorial,
    log1p, expm1,
)  # fmt: skip
_SYMPY_FUNCTIONS: dict[str, type] = {cls.__name__: cls for cls in _ELEMENTARY}


def _functions() -> dict[str, type]:
    text_targets = {name: cls for name, cls in TARGETS.items() if cls.in_text}
    return {**_SYMPY_FUNCTIONS, **text_targets, **PRIMITIVES}


FUNCTIONS: Mapping[str, type] = LiveTable(_functions)
"""Function name -> SymPy class: callable in formula text and readable in records -- SymPy's
functions above, the targets formula text calls (``ArgMax``) and every registered primitive,
read from the registries at each lookup (a primitive defined later is seen)."""


def _arity(cls: type) -> tuple[int, int | None]:
    nargs = getattr(cls, "nargs", None)
    if isinstance(nargs, sp.FiniteSet):
        counts = [int(n) for n in nargs]
        return min(counts), max(counts)
    return 1, None  # Max, Min, logsumexp, ...: any positive number


ARITY: Mapping[str, tuple[int, int | None]] = LiveTable(
    lambda: {name: _arity(cls) for name, cls in _functions().items()}
)
"""Function name -> (least, most) number of arguments (``None``: any number)."""

_RELATIONS = (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan,
              sp.Equality, sp.Unequality)  # fmt: skip
_SYMPY_STRUCTURE: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Integer, sp.Rational, sp.Float, sp.Tuple,
        sp.Piecewise, ExprCondPair, *_RELATIONS, sp.And, sp.Or, sp.Not,
        sp.Sum, sp.Indexed, sp.IndexedBase, sp.Idx, LogSumExpOver,
    )
}  # fmt: skip
STRUCTURE: Mapping[str, type] = LiveTable(
    lambda: {
        **_SYMPY_STRUCTURE,
        **{name: cls for name, cls in TARGETS.items() if not cls.in_text},
    }
)
"""Classes only stored records name (formula text writes them with operators): SymPy's
structure and the targets over a range (``MaxOver``, ...) of
:data:`~symsmooth.functions.TARGETS`."""
RELATIONS: frozenset[type] = frozenset(_RELATIONS)

TEXT_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "oo": sp.oo, "inf": sp.oo}
"""Constant names of formula text."""
RECORD_CONSTANTS: dict[str, sp.Basic] = {
    "pi": sp.pi, "E": sp.E, "oo": sp.oo, "zoo": sp.zoo, "nan": sp.nan, "I": sp.I,
    "true": sp.true, "false": sp.false, "EulerGamma": sp.EulerGamma, "Catalan": sp.Catalan,
}  # fmt: skip
"""Constant names ``srepr`` writes."""

TAME = frozenset("Max Min Abs sign Heaviside log atan asinh KroneckerDelta ArgMax".split())
"""Functions cheap to evaluate at any constant argument (their own special cases aside)."""
GROWING = frozenset(("exp", "sinh", "cosh"))
"""Functions whose constant argument is bounded like an exponent."""
ROUNDING = frozenset(("floor", "ceiling", "frac"))
"""Functions computed exactly at constants (``floor(exp(9999))`` has 4343 digits)."""
ARGUMENT_LIMITS = {"factorial": 1000, "zeta": 1000, "dirichlet_eta": 1000}
"""Tighter bounds on constant arguments (results of about 2,500 digits)."""


def height(expr: sp.Basic) -> int:
    """Largest ``max(|p|, q)`` over the rational numbers in ``expr`` (1 if none)."""
    return max([max(abs(r.p), r.q) for r in expr.atoms(sp.Rational)] + [1])


def number_digits(expr: sp.Basic) -> float:
    """Decimal digits of the longest rational number in ``expr`` (0 for none or +-1).

    Examples
    --------
    >>> round(number_digits(sp.Integer(10) ** 50))
    50
    """
    top = height(expr)
    return 0.0 if top <= 1 else top.bit_length() * math.log10(2)


def exceeds(number: sp.Expr, limit: float) -> bool:
    """Whether the constant ``number`` is finite and larger than ``limit`` in magnitude.

    Evaluated with arbitrary exponent range (``float(exp(9999))`` would overflow).
    """
    if isinstance(number, sp.Rational):
        return height(number) > limit
    value = number.evalf(15)
    for part in value.as_real_imag():
        if part.is_Number and part.is_finite and abs(part) > limit:
            return True
    return False


def check_growth(base: sp.Expr, exponent: sp.Expr, fail: Callable[[str], Exception]) -> None:
    """Refuse ``base**exponent`` (or ``exp``) that SymPy would expand into huge numbers.

    SymPy evaluates ``9**9**9``, ``(2*x)**N`` (as ``2**N * x**N``), ``sqrt(2)**N`` and
    ``exp(N*log(2))`` eagerly, and evaluates ``exp(10**59)`` numerically when it is compared,
    which never ends.  A constant exponent is therefore bounded by :data:`MAX_EXPONENT`, the
    digits it creates by :data:`MAX_POWER_DIGITS`, and numbers multiplying a ``log`` inside
    ``exp`` like a power.  ``fail(message)`` makes the exception raised.
    """
    if base in (sp.S.Zero, sp.S.One, sp.S.NegativeOne):
        return
    if base == sp.E and exponent.has(sp.log):
        top = height(exponent)
        if top > MAX_EXPONENT or number_digits(exponent) * top > MAX_POWER_DIGITS:
            raise fail("numbers multiplying a log inside exp are too large; keep them small")
    if not exponent.is_number:
        return
    if exceeds(exponent, MAX_EXPONENT):
        raise fail(f"the constant exponent {_short(exponent)} is too large (limit {MAX_EXPONENT})")
    size = float(abs(exponent.evalf(15))) if exponent.is_extended_real else MAX_EXPONENT
    if math.isfinite(size) and number_digits(base) * size > MAX_POWER_DIGITS:
        raise fail(f"this power would produce numbers of more than {MAX_POWER_DIGITS} digits")


def constant_nesting(expr: sp.Basic) -> int:
    """Most function calls nested along one path of ``expr`` (0 for a plain number)."""
    if not expr.args:
        return 0
    inner = max(constant_nesting(a) for a in expr.args)
    return inner + (1 if isinstance(expr, sp.Function) else 0)


def check_arguments(name: str, args: Sequence[sp.Basic], fail: Callable[[str], Exception]) -> None:
    """Refuse constant arguments of function ``name`` that would be costly to evaluate."""
    if name in GROWING:
        check_growth(sp.E, args[0], fail)  # exp, sinh, cosh grow like exp(|x|)
        check_growth(sp.E, -args[0], fail)
        return
    if name in ROUNDING:
        if args[0].is_number and not args[0].is_Rational:
            raise fail(f"{name} of a constant expression is not supported; write the number")
        return
    if name in TAME:
        return
    limit = ARGUMENT_LIMITS.get(name, MAX_EXPONENT)
    for arg in args:
        if not (isinstance(arg, sp.Expr) and arg.is_number):
            continue
        if constant_nesting(arg) >= MAX_CONSTANT_NESTING:
            raise fail(
                f"the constant argument of {name} nests more than {MAX_CONSTANT_NESTING - 1} "
                "function calls; compute the number and write it"
            )
        if exceeds(arg, limit):
            raise fail(
                f"the constant argument of {name} is too large in magnitude (limit {limit}); "
                "use a smaller constant"
            )


def guarded_call(name: str, args: Sequence[sp.Basic], fail: Callable[[str], Exception]):
    """``FUNCTIONS[name](*args)`` after :func:`check_arguments`."""
    check_arguments(name, args, fail)
    return FUNCTIONS[name](*args)


def _short(expr: sp.Basic) -> str:
    text = sp.sstr(expr) if number_digits(expr) < 100 else "(a number of many digits)"
    return text if len(text) <= 40 else text[:37] + "..."
