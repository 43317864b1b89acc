"""Print SymPy expressions as whole-array PyTorch or JAX code: :class:`TorchPrinter`,
:class:`JaxPrinter`.

Both subclass SymPy's :class:`~sympy.printing.pycode.PythonCodePrinter` through
:class:`NativePrinter`, which holds everything the two share: ``Piecewise`` as nested
``where`` (the recipes write each branch on a clamped argument:
:mod:`symsmooth.codegen.recipes`), ``Min``/``Max`` against a number as a clamp whose derivative
at the bound is 1, numeric subexpressions as float literals, and a ``_print_<Class>`` method for
every stable primitive that has a recipe: a call of the module's helper ``_<name>(...)``, whose
definition :func:`helper_sources` prints from the recipe with the same printer.  A primitive
without a recipe, or a function neither framework table names, is a :class:`CodegenError`
saying what to add.  The subclasses differ only in their tables of framework functions and in
how a clamp, ``where`` and a tensor argument are spelled.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> x, k = sp.symbols("x k")
>>> p = TorchPrinter()
>>> p.doprint(softplus(k * x) / k + sp.exp(2 * x))
'torch.exp(2*x) + _softplus(k*x)/k'
>>> sorted(p.helpers), p.doprint(sp.Min(x, -37))
(['softplus'], 'torch.clamp(x, max=-37.0)')
>>> JaxPrinter().doprint(sp.Max(x, 18) + sp.erfc(x))
'jax.scipy.special.erfc(x) + jnp.where(x < 18.0, 18.0, x)'
>>> print(helper_sources(p)[0][:80])
def _softplus(z):
    return torch.where((z <= -37), torch.exp(torch.clamp(z, ma
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from symsmooth.codegen.helpers import module_helpers
from symsmooth.codegen.native_row_nodes import LINEAR_ROW_NODES, ROW_NODES
from symsmooth.codegen.recipes import NODES, has_recipe, recipe
from symsmooth.errors import CodegenError
from symsmooth.functions import PRIMITIVES

ELEMENTARY = (
    "exp",
    "log",
    "log1p",
    "expm1",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "asin",
    "acos",
    "atan",
    "asinh",
    "acosh",
    "atanh",
    "erf",
    "erfc",
    "erfcx",
    "floor",
    "ceiling",
    "Abs",
    "sign",
)
"""The SymPy functions of one argument every native target prints as a framework call."""


class NativePrinter(PythonCodePrinter):
    """The printer both native targets share (see the module docstring).

    Subclasses set :attr:`target`, :attr:`runtime` (the module of the hand-written base
    functions), :attr:`functions` (SymPy function name -> framework callable) and implement
    :meth:`clamp` and :meth:`where`.

    Attributes
    ----------
    helpers : dict
        ``helper name -> (primitive name, arity)`` of every primitive printed so far.
    base : set of str
        The runtime base functions called so far (``two_prod_err``, ...).
    """

    printmethod = "_symsmooth_native"
    target = ""
    runtime = ""
    functions: dict[str, str] = {}
    template_base: tuple[str, ...] = ("operands", "result_dtype", "narrow", "shaped")
    """The base functions every module of the target calls from its template."""
    entry_base: tuple[str, ...] = ()
    """The base functions every template of the target wraps its public functions in (JAX:
    ``_entry``, the ``jit``), whatever the kind."""

    def __init__(self, settings: dict | None = None):
        base = {"fully_qualified_modules": True, "strict": True, "standard": "python3"}
        super().__init__({**base, **(settings or {})})
        self.helpers: dict[str, tuple[str, int]] = {}
        self.base: set[str] = set()

    def doprint(self, expr, assign_to=None):  # noqa: D102 - the base class's contract
        try:
            return super().doprint(expr, assign_to)
        except CodegenError:
            raise
        except Exception as exc:  # sympy raises several types for unsupported nodes
            raise CodegenError(
                f"cannot print {expr} for the {self.target} target ({exc}); add the function "
                f"to {type(self).__name__}.functions (symsmooth/codegen/native_printer.py) or "
                "give the primitive a recipe (symsmooth/codegen/recipes.py)"
            ) from exc

    # --- what a subclass spells -------------------------------------------------------------

    def clamp(self, text: str, lo: float | None = None, hi: float | None = None) -> str:
        """``text`` clamped to ``[lo, hi]`` (either may be None), derivative 1 at a bound."""
        raise NotImplementedError

    def where(self, cond: str, then: str, other: str) -> str:
        """``then`` where ``cond`` holds, else ``other`` (broadcasting)."""
        raise NotImplementedError

    def where_like(self, cond: str, then: str, other: str, like: str | None) -> str:
        """:meth:`where`, with ``other`` made an array like ``like`` when both branches are
        number literals (``torch.where`` of two Python floats would be float32)."""
        if like is not None and _is_literal(then) and _is_literal(other):
            other = self.tensor_arg(other, like)
        return self.where(cond, then, other)

    def tensor_arg(self, text: str, like: str) -> str:
        """A numeric argument ``text`` of a framework function that needs an array."""
        return text

    def fn(self, name: str) -> str:
        """The framework callable of the SymPy function ``name``."""
        try:
            return self.functions[name]
        except KeyError:
            raise CodegenError(
                f"{name}: the {self.target} target has no printing for this function; add it to "
                f"{type(self).__name__}.functions in symsmooth/codegen/native_printer.py"
            ) from None

    # --- functions --------------------------------------------------------------------------

    def _call(self, name: str, args) -> str:
        return f"{self.fn(name)}({', '.join(self._print(a) for a in args)})"

    def _print_elementary(self, expr):
        return self._call(type(expr).__name__, expr.args)

    def _print_known_func(self, expr):
        return self._print_elementary(expr)

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name in PRIMITIVES:
            raise CodegenError(
                f"the primitive {name!r} has no native recipe, so the {self.target} target cannot "
                "print it: add its Recipe to RECIPES in symsmooth/codegen/recipes.py"
            )
        return self._call(name, expr.args)

    def _print_primitive(self, expr):
        name, arity = type(expr).__name__, len(expr.args)
        helper = recipe(name, arity).helper
        self.helpers.setdefault(helper, (name, arity))
        return f"_{helper}({', '.join(self._print(a) for a in expr.args)})"

    def _print_base(self, expr):
        name = type(expr).__name__
        self.base.add(name)
        return f"_{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_div(self, expr):
        num, den = (self.parenthesize(a, PRECEDENCE["Mul"] + 1) for a in expr.args)
        return f"{num}/{den}"

    def _print_hypot_op(self, expr):
        first, second = (self._print(a) for a in expr.args)
        if expr.args[0].is_number:
            first = self.tensor_arg(first, second)
        if expr.args[1].is_number:
            second = self.tensor_arg(second, first)
        return f"{self.fn('hypot')}({first}, {second})"

    def _print_even_abs(self, expr):
        z = self._print(expr.args[0])
        return self.where(f"{z} >= 0", z, f"-{self.parenthesize(expr.args[0], PRECEDENCE['Mul'])}")

    def _print_finite(self, expr):
        return self._call("isfinite", expr.args)

    def _print_isnan(self, expr):
        return self._call("isnan", expr.args)

    def _print_Heaviside(self, expr):
        z = self._print(expr.args[0])
        h0 = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        inner = self.where_like(f"{z} < 0", "0.0", h0, _like(self, expr))
        return self.where(f"{z} > 0", "1.0", inner)

    def _print_DiracDelta(self, expr):
        raise CodegenError(
            f"{expr}: a Dirac delta has no pointwise value; differentiate the smooth surrogate"
        )

    def _print_Indexed(self, expr):
        raise CodegenError(
            f"indexed entry {expr} reached the {self.target} printer: the native targets take "
            "elementwise kernels only for now (reductions: issue #15)"
        )

    # --- branches, clamps, powers -----------------------------------------------------------

    def _print_Piecewise(self, expr):
        pairs = list(expr.args)
        like = _like(self, expr)
        last, cond = pairs[-1]
        text = self._print(last)
        if cond != sp.true:
            text = self.where_like(self._print(cond), text, "math.nan", like)
        for value, cond in reversed(pairs[:-1]):
            text = self.where_like(self._print(cond), self._print(value), text, like)
        return text

    def _minmax(self, expr, kind: str) -> str:
        numbers = [a for a in expr.args if a.is_number]
        rest = [a for a in expr.args if not a.is_number]
        text = self._print(rest[0])
        for arg in rest[1:]:
            text = f"{self.fn(kind)}({text}, {self._print(arg)})"
        if numbers:
            bound = float(numbers[0])
            text = self.clamp(text, hi=bound) if kind == "minimum" else self.clamp(text, lo=bound)
        return text

    def _print_Min(self, expr):
        return self._minmax(expr, "minimum")

    def _print_Max(self, expr):
        return self._minmax(expr, "maximum")

    def _logical(self, expr, name: str) -> str:
        text = self._print(expr.args[0])
        for arg in expr.args[1:]:
            text = f"{self.fn(name)}({text}, {self._print(arg)})"
        return text

    def _print_And(self, expr):
        return self._logical(expr, "logical_and")

    def _print_Or(self, expr):
        return self._logical(expr, "logical_or")

    def _print_Not(self, expr):
        return f"{self.fn('logical_not')}({self._print(expr.args[0])})"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        b = self.parenthesize(base, PRECEDENCE["Pow"])
        if exp == sp.S.Half:
            return f"{self.fn('sqrt')}({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1/{self.fn('sqrt')}({self._print(base)})"
        if exp.is_Integer:
            k = int(exp)
            if k == -1:
                return f"1/{b}"
            return f"(1/{b})**{-k}" if k < 0 else f"{b}**{k}"
        return f"{b}**{self.parenthesize(exp, PRECEDENCE['Pow'])}"

    def _print_Sqrt(self, expr):
        return f"{self.fn('sqrt')}({self._print(expr.args[0])})"

    # --- atoms ----------------------------------------------------------------------------

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Expr) and not expr.is_Atom and expr.is_number:
            value = complex(expr.evalf(30))
            if value.imag == 0 and math.isfinite(value.real):
                return repr(value.real) if value.real >= 0 else f"({value.real!r})"
        return super()._print(expr, **kwargs)

    def _print_Symbol(self, expr):
        name = super()._print_Symbol(expr)
        if not name.isidentifier():
            raise CodegenError(f"symbol name {name!r} is not a Python identifier; rename it")
        return name

    def _print_Dummy(self, expr):
        return f"_{expr.name}_{expr.dummy_index}"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"({expr.p}/{expr.q})"

    def _print_Exp1(self, expr):
        return "math.e"

    def _print_Pi(self, expr):
        return "math.pi"

    def _print_Infinity(self, expr):
        return "math.inf"

    def _print_NegativeInfinity(self, expr):
        return "(-math.inf)"

    def _print_NaN(self, expr):
        return "math.nan"


def _install(cls) -> None:
    """``_print_<name>`` for the elementary functions, the recipe nodes and every primitive
    with a recipe (the printers' MRO lookup finds these before SymPy's ``math`` printing)."""
    for name in ELEMENTARY:
        setattr(cls, f"_print_{name}", NativePrinter._print_elementary)
    bases = ("two_prod_err", "two_sum_err", "quot_err", "correction", "sub2", "by_dtype")
    for name in bases + tuple(node.__name__ for node in (*ROW_NODES, *LINEAR_ROW_NODES)):
        setattr(cls, f"_print_{name}", NativePrinter._print_base)
    for name in PRIMITIVES:
        if has_recipe(name):
            setattr(cls, f"_print_{name}", NativePrinter._print_primitive)


_install(NativePrinter)
assert set(NODES) <= {n[len("_print_") :] for n in dir(NativePrinter)}  # every node prints


_SAME = ("exp", "log", "log1p", "expm1", "sin", "cos", "tan", "sinh", "cosh", "tanh", "floor")
_SAME += ("sqrt", "hypot", "isfinite", "isnan", "minimum", "maximum", "sign", "abs")
_SAME += ("logical_and", "logical_or", "logical_not")
"""Framework functions both spell as SymPy does (``torch.<name>``, ``jnp.<name>``)."""


class TorchPrinter(NativePrinter):
    """:class:`NativePrinter` for PyTorch (``torch.*``; clamps as ``torch.clamp``)."""

    target = "torch"
    runtime = "symsmooth.runtime.torch_native"
    template_base = ("operands", "result_dtype", "narrow", "shaped", "sum_to")
    functions = {
        **{n: f"torch.{n}" for n in _SAME},
        **{n: f"torch.{n}" for n in ("asin", "acos", "atan", "asinh", "acosh", "atanh")},
        **{n: f"torch.special.{n}" for n in ("erf", "erfc", "erfcx")},
        "Abs": "torch.abs",
        "ceiling": "torch.ceil",
        "atan2": "torch.atan2",
    }

    def clamp(self, text, lo=None, hi=None):
        bounds = ([f"min={lo!r}"] if lo is not None else []) + (
            [f"max={hi!r}"] if hi is not None else []
        )
        return f"torch.clamp({text}, {', '.join(bounds)})"

    def where(self, cond, then, other):
        return f"torch.where({cond}, {then}, {other})"

    def tensor_arg(self, text, like):
        return f"torch.full_like({like}, {text})"


class JaxPrinter(NativePrinter):
    """:class:`NativePrinter` for JAX (``jnp.*``, ``jax.scipy.special``; a clamp is a
    ``jnp.where``: ``jnp.clip`` would halve the derivative at the bound)."""

    target = "jax"
    runtime = "symsmooth.runtime.jax_native"
    entry_base = ("entry",)
    functions = {
        **{n: f"jnp.{n}" for n in _SAME},
        **{n: f"jnp.arc{n[1:]}" for n in ("asin", "acos", "atan", "asinh", "acosh", "atanh")},
        **{n: f"jax.scipy.special.{n}" for n in ("erf", "erfc", "erfcx")},
        "Abs": "jnp.abs",
        "ceiling": "jnp.ceil",
        "atan2": "jnp.arctan2",
    }

    def clamp(self, text, lo=None, hi=None):
        if hi is not None:
            text = f"jnp.where({text} > {hi!r}, {hi!r}, {text})"
        if lo is not None:
            text = f"jnp.where({text} < {lo!r}, {lo!r}, {text})"
        return text

    def where(self, cond, then, other):
        return f"jnp.where({cond}, {then}, {other})"


def _like(printer: NativePrinter, expr) -> str | None:
    """The first free symbol of ``expr`` by name, printed (an array of the working dtype)."""
    symbols = sorted(expr.free_symbols, key=str)
    return printer._print(symbols[0]) if symbols else None


def _is_literal(text: str) -> bool:
    try:
        float(text.strip("()"))
    except ValueError:
        return text.strip("()") in ("math.nan", "math.inf", "-math.inf")
    return True


PRINTERS: dict[str, type[NativePrinter]] = {"torch": TorchPrinter, "jax": JaxPrinter}
"""Native target name -> its printer class."""


def has_printing(printer: type[NativePrinter], name: str) -> bool:
    """Whether ``printer`` prints the primitive ``name`` (a ``_print_<name>`` of its own)."""
    method = getattr(printer, f"_print_{name}", None)
    return method is not None and method is not getattr(PythonCodePrinter, f"_print_{name}", None)


def helper_sources(printer: NativePrinter) -> list[str]:
    """The ``def`` of every helper ``printer`` printed a call of, and of the helpers their
    recipes call, sorted by name; the base functions they call join ``printer.base``."""
    done: dict[str, str] = {}
    while set(printer.helpers) - set(done):
        for helper in sorted(set(printer.helpers) - set(done)):
            rule = recipe(*printer.helpers[helper])
            args = ", ".join(printer.doprint(a) for a in rule.args)
            lines = [f"def _{helper}({args}):"]
            lines += [
                f"    {printer.doprint(lhs)} = {printer.doprint(rhs)}" for lhs, rhs in rule.body
            ]
            lines.append(f"    return {printer.doprint(rule.result)}")
            done[helper] = "\n".join(lines) + "\n"
    return [done[h] for h in sorted(done)]


def base_sources(printer: NativePrinter) -> list[str]:
    """The source of the runtime base functions ``printer`` called (with their callees), in
    the runtime module's order."""
    defs = module_helpers(printer.runtime)
    needed: set[str] = set()
    todo = [*printer.base, *printer.template_base, *printer.entry_base]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(defs[name].requires)
    return [h.source for name, h in defs.items() if name in needed]
