"""One test over the whole primitive registry (``symsmooth.functions.PRIMITIVES``).

Every registered stable primitive must be printable by the code printer (its runtime helper
exists), parsable from formula text, readable back from a stored record (``srepr``), and
evaluable in NumPy and mpmath with agreeing values: the NumPy implementation within a few ulps
of the mpmath one evaluated at 50 digits, at points of its domain.  A new primitive joins these
tests by being defined; one whose arity is not 1 needs its points in ``POINTS`` (the test says
so).  The tables the other layers read (vocabulary, printer, references) are checked to be the
registry's.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symsmooth as ss
from symsmooth.codegen.helpers import helper
from symsmooth.codegen.printer import ARITY_HELPERS, FUNCTION_HELPERS, MathPrinter
from symsmooth.errors import ParseError
from symsmooth.functions import (
    EXACT_FORMS,
    MATH_MODULE,
    MPMATH_MODULE,
    NUMPY_MODULE,
    PRIMITIVES,
    RUNTIME_HELPERS,
    TARGETS,
    NonSmoothTarget,
    StablePrimitive,
    UnknownPrimitiveError,
)
from symsmooth.text import vocabulary
from symsmooth.text.record_reader import from_srepr
from symsmooth.verification.reference import mpmath_module

NAMES = sorted(PRIMITIVES)

ONE_ARG_POINTS = [(-3.5,), (-0.25,), (0.7,), (12.0,)]
"""Points for a primitive of one real argument with the whole real line as domain."""

POINTS: dict[str, list[tuple[float, ...]]] = {
    "log1mexp": [(-5.0,), (-0.7,), (-0.01,)],  # log(1 - exp(z)) is real for z < 0 only
    "logsumexp": [(0.5, -1.0), (3.0, 2.9, -40.0), (-700.0, -701.5)],
    "hypot": [(3.0, 4.0), (-1e-3, 2.5), (1e200, 3e200)],
    "derf": [(0.5, 1.3), (-2.0, 1.1)],
    "lin_hypot": [(-0.9, 1.0, 0.25), (2.0, 0.5, 0.1)],
    "sinh_ratio": [(2.0, 0.3, -0.5), (1.5, -2.0, 1.0)],
    "loglse_exp": [(0.5, -1.0), (3.0, 2.9), (-0.25, -2.0)],
    "dloglse_exp": [(0.5, -1.0), (3.0, 2.9), (-2.0, 1.5)],
    "recip1p_sq": [(2.0, -0.75), (40.0, 1e3)],
    "recip1p_sq_x": [(2.0, -0.75), (40.0, 1e3), (1e4, 1e200)],
    "hypot_gap": [(1.0, 2.5), (0.5, -3.0), (2.0, 1e3)],
    "hypot_gap_times": [(3.0, 1.0, 2.5), (-2.0, 0.5, -3.0), (1e300, 1.0, 1e300)],
    "loglse_exp_gap": [(0.5, -1.0), (3.0, 2.9), (1.5, 1.5)],
    "logsumexp_gap": [(0.5, -1.0), (3.0, 2.9, -40.0), (-700.0, -701.5)],
    "logsumexp_gap_xp": [(2.0, 0.5, -2.0, 0.5, 2.0, 0.3, -2.0, 0.3)],
    "odd_root_sum": [(1.5, -0.5, 3.0), (2.0, 1.0, 5.0)],
    "odd_root_sum_grad": [(1.5, -0.5, 3.0), (2.0, 1.0, 5.0)],
    **{  # f(a b) or f(a/b) of two doubles (symsmooth.functions.exact)
        c.__name__: [(3.0, -0.37), (0.1, 7.5), (-2.5, 1.3)]
        for c in EXACT_FORMS.values()
        if c.nargs == {2}
    },
    # f(a b + c d) and f(a b, a c)/a: the pair forms (cancelling products, a scale)
    "sigmoid_pp": [(10.0, -711.78, -10.0, -743.13), (0.37, 1.5, 0.37, -2.0), (3.0, 2.0, -3.0, 2.0)],
    "logsumexp_xd2": [(10.0, -3.757, -4.664), (0.37, 1.5, -2.0), (2.0, -400.0, -400.0)],
}
ULPS = 4.0
"""Largest distance allowed between the NumPy value and the 50-digit mpmath value."""


def arity(cls: type) -> int:
    nargs = getattr(cls, "nargs", None)
    return min(nargs) if isinstance(nargs, sp.FiniteSet) else 2  # n-ary: two arguments


def points(name: str) -> list[tuple[float, ...]]:
    if name in POINTS:
        return POINTS[name]
    assert arity(PRIMITIVES[name]) == 1, f"add points of the domain of {name} to POINTS"
    return ONE_ARG_POINTS


def symbols(cls: type) -> tuple[sp.Symbol, ...]:
    return sp.symbols(f"a0:{arity(cls)}", real=True)


def test_the_registry_holds_every_builtin_primitive():
    assert len(PRIMITIVES) == 51
    assert {"softplus", "logsumexp", "logcosh", "hypot", "dswish", "recip1p_sq"} <= set(NAMES)
    assert all(issubclass(c, StablePrimitive) and c.__name__ == n for n, c in PRIMITIVES.items())


@pytest.mark.parametrize("name", NAMES)
def test_printable_through_its_runtime_helper(name):
    cls = PRIMITIVES[name]
    args = symbols(cls)
    printer = MathPrinter()
    text = printer.doprint(cls(*args))
    if cls.runtime_helper is None:  # prints as a math.* function
        assert name not in {**FUNCTION_HELPERS, **ARITY_HELPERS} and text.startswith("math."), text
        return
    table = ARITY_HELPERS if "{arity}" in cls.runtime_helper else FUNCTION_HELPERS
    assert table[name] == RUNTIME_HELPERS[name] == cls.runtime_helper
    used = cls.runtime_helper.format(arity=len(args))
    assert text.startswith(f"_{used}("), text
    assert used in printer.helpers
    assert helper(used).function == f"_{used}"  # the runtime defines it


@pytest.mark.parametrize("name", NAMES)
def test_parsable_from_formula_text(name):
    cls = PRIMITIVES[name]
    count = arity(cls)
    parsed = ss.parse(f"{name}({', '.join(f'a{k}' for k in range(count))})")
    assert isinstance(parsed, cls)
    assert str(parsed) == str(cls(*sp.symbols(f"a0:{count}")))
    assert vocabulary.FUNCTIONS[name] is cls


@pytest.mark.parametrize("name", NAMES)
def test_readable_from_a_stored_record(name):
    cls = PRIMITIVES[name]
    expr = cls(*symbols(cls))
    assert from_srepr(sp.srepr(expr)) == expr
    built = from_srepr(sp.srepr(expr + sp.Rational(1, 3)))
    assert built == expr + sp.Rational(1, 3)


def _ulps(got: float, want: mpmath.mpf) -> float:
    exact = float(want)
    if got == exact:
        return 0.0
    spacing = math.ulp(exact) if exact != 0 else math.ulp(0.0)
    return float(abs(mpmath.mpf(got) - want) / mpmath.mpf(spacing))


@pytest.mark.parametrize("name", NAMES)
def test_numpy_and_mpmath_agree(name):
    cls = PRIMITIVES[name]
    assert NUMPY_MODULE[name] is cls.numpy_impl and MPMATH_MODULE[name] is cls.mpmath_impl
    assert mpmath_module()[name] is cls.mpmath_impl  # the verification references' table
    for point in points(name):
        with mpmath.workdps(50):
            want = cls.mpmath_impl(*[mpmath.mpf(v) for v in point])
            assert mpmath.isfinite(want) and want != 0, (name, point, want)
        got = float(cls.numpy_impl(*[np.float64(v) for v in point]))
        assert _ulps(got, want) <= ULPS, (name, point, got, mpmath.nstr(want, 20))
        # evalf goes through the same mpmath implementation, at any precision
        with mpmath.workdps(50):
            value = cls(*[sp.Float(v, 30) for v in point]).evalf(30)
            assert abs(mpmath.mpf(value) - want) <= abs(want) * mpmath.mpf(10) ** -28


def test_numpy_implementations_broadcast():
    for name in NAMES:
        cls = PRIMITIVES[name]
        pair = [p for p in points(name) if len(p) == len(points(name)[0])][:2]
        columns = [np.array(c) for c in zip(*pair, strict=True)]
        values = cls.numpy_impl(*columns)
        expected = [float(cls.numpy_impl(*map(np.float64, p))) for p in pair]
        assert np.asarray(values).tolist() == expected, name


def test_an_unknown_name_fails_with_an_instruction():
    with pytest.raises(UnknownPrimitiveError, match="subclass.*StablePrimitive.*runtime_helper"):
        PRIMITIVES["softmin"]
    with pytest.raises(KeyError, match="softmin"):  # still a KeyError for dict-like callers
        NUMPY_MODULE["softmin"]


def test_a_primitive_that_forgets_an_implementation_is_refused_when_defined():
    with pytest.raises(TypeError, match="does not declare numpy_impl, mpmath_impl"):

        class halfway(StablePrimitive):  # noqa: N801 - SymPy function names are lower case
            runtime_helper = "softplus"

    assert "halfway" not in PRIMITIVES


# --- the registry is the single source: later registrations are seen --------------------------


def _forget(name: str) -> None:
    for table in (PRIMITIVES, NUMPY_MODULE, MPMATH_MODULE, RUNTIME_HELPERS, MATH_MODULE):
        table.pop(name, None)


def test_a_primitive_defined_later_is_printed_parsed_and_read():
    import symsmooth.functions.numeric as numeric

    assert "softplus_again" not in vocabulary.FUNCTIONS  # the views are built before it exists

    class softplus_again(StablePrimitive):  # noqa: N801 - SymPy function names are lower case
        nargs = 1
        runtime_helper = "softplus"
        numpy_impl = numeric.np_softplus
        mpmath_impl = numeric.mp_softplus
        math_impl = numeric.py_softplus

        def _naive(self, z):
            return sp.log(1 + sp.exp(z))

    try:
        a = sp.Symbol("a", real=True)
        assert vocabulary.FUNCTIONS["softplus_again"] is softplus_again
        assert vocabulary.ARITY["softplus_again"] == (1, 1)
        assert isinstance(ss.parse("softplus_again(a)"), softplus_again)
        expr = softplus_again(a)
        assert from_srepr(sp.srepr(expr)) == expr
        assert FUNCTION_HELPERS["softplus_again"] == "softplus"
        assert MathPrinter().doprint(expr) == "_softplus(a)"
        assert MATH_MODULE["softplus_again"](2.0) == pytest.approx(math.log1p(math.exp(2.0)))
    finally:
        _forget("softplus_again")
    assert "softplus_again" not in vocabulary.FUNCTIONS  # and forgotten again
    with pytest.raises(ParseError, match="unknown function 'softplus_again'"):
        ss.parse("softplus_again(a)")


MATH_NAMES = sorted(MATH_MODULE)


def test_math_implementations_come_from_the_classes():
    assert MATH_NAMES == sorted(n for n, c in PRIMITIVES.items() if c.math_impl is not None)
    assert {"softplus", "sigmoid", "logsumexp", "Phi"} <= set(MATH_NAMES)


@pytest.mark.parametrize("name", MATH_NAMES)
def test_math_implementation_agrees_with_mpmath(name):
    cls = PRIMITIVES[name]
    assert MATH_MODULE[name] is cls.math_impl
    for point in points(name):
        with mpmath.workdps(50):
            want = cls.mpmath_impl(*[mpmath.mpf(v) for v in point])
        assert _ulps(cls.math_impl(*point), want) <= ULPS, (name, point)


# --- the non-smooth targets: the sibling registry, the same invariants ------------------------

TARGET_NAMES = sorted(TARGETS)
VALUES = (2.0, -1.5, 7.25, 7.0, -30.0)
EXPECTED = {"MaxOver": max(VALUES), "MinOver": min(VALUES), "ArgMaxOver": 3, "ArgMax": 3}
"""Reference values over VALUES by Python's max/min (argmax: 1-based, first on ties)."""


def _target_expr(cls):
    x = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True)
    if cls.in_text:
        return cls(*[x[k] for k in range(1, len(VALUES) + 1)]), x
    return cls(x[i], (i, 1, len(VALUES))), x


def test_the_target_registry_holds_every_builtin_target():
    assert set(TARGET_NAMES) == set(EXPECTED)  # a new target adds its reference above
    assert all(issubclass(c, NonSmoothTarget) and c.__name__ == n for n, c in TARGETS.items())


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_target_is_readable_parsable_and_evaluable(name):
    cls = TARGETS[name]
    expr, x = _target_expr(cls)
    assert from_srepr(sp.srepr(expr)) == expr  # readable from a stored record
    table = vocabulary.FUNCTIONS if cls.in_text else vocabulary.STRUCTURE
    assert table[name] is cls
    if cls.in_text:
        assert isinstance(ss.parse(f"{name}(a, b, c)"), cls)
    values = {x[k + 1]: sp.Float(v) for k, v in enumerate(VALUES)}
    concrete = expr.doit()
    assert float(concrete.xreplace(values)) == EXPECTED[name]  # SymPy itself
    args = sp.symbols(f"v0:{len(VALUES)}", real=True)
    plain = concrete.xreplace({x[k + 1]: args[k] for k in range(len(VALUES))})
    if name.startswith("Arg"):  # an index, not a value: NumPy and mpmath have no ArgMax
        return
    for module in ("numpy", "mpmath"):
        f = sp.lambdify(args, plain, module)
        assert float(f(*VALUES)) == EXPECTED[name], module


def test_a_target_defined_later_is_read():
    class MedianOver(NonSmoothTarget, sp.Function):
        in_text = True

    try:
        assert vocabulary.FUNCTIONS["MedianOver"] is MedianOver
        assert "MedianOver" not in vocabulary.STRUCTURE
    finally:
        TARGETS.pop("MedianOver")
    assert "MedianOver" not in vocabulary.FUNCTIONS
