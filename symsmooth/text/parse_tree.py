"""Gate 4 of :func:`symsmooth.text.formula.parse`: build SymPy from a whitelisted Python AST.

The walk accepts only the node types in :class:`Builder`'s table and builds every SymPy
object itself, from the name tables below (:data:`FUNCTIONS`, :data:`CONSTANTS`, the
catalog's canonical symbols).  Constant powers and ``exp`` arguments are bounded before
SymPy sees them, because SymPy evaluates ``9**9**9``, ``(2*x)**N`` and ``exp(N*log(2))``
eagerly and ``floor(exp(10**59))`` never finishes.

References
----------
Python ``ast`` module, "Abstract grammar": https://docs.python.org/3/library/ast.html

Examples
--------
>>> import ast
>>> Builder("Max(x, 0)", {}).build(ast.parse("Max(x, 0)", mode="eval").body)
Max(0, x)
"""

from __future__ import annotations

import ast
import builtins
import difflib
import keyword
import math
import re
from collections.abc import Callable, Mapping

import sympy as sp

from symsmooth import symbols as _canonical
from symsmooth.errors import ParseError
from symsmooth.functions import LiveTable
from symsmooth.text.vocabulary import (
    ARITY,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_POWER_DIGITS,
    TEXT_CONSTANTS,
    check_arguments,
    number_digits,
)
from symsmooth.text.vocabulary import FUNCTIONS as VOCABULARY
from symsmooth.text.vocabulary import MAX_RESULT_DIGITS as MAX_RESULT_DIGITS
from symsmooth.text.vocabulary import check_growth as _check_growth

__all__ = [
    "ALIASES",
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_POWER_DIGITS",
    "MAX_RESULT_DIGITS",
    "Builder",
    "number_digits",
]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")
_DEFAULT_SYMBOLS = {
    **{name: sp.Symbol(name, positive=True) for name in "tau beta e eps epsilon gamma".split()},
    **{s.name: s for s in vars(_canonical).values() if isinstance(s, sp.Symbol)},
}
"""Names with assumptions (the catalog's canonical symbols win); other names are real."""
_RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"I", "nan", "zoo"}

CONSTANTS: dict[str, sp.Expr] = TEXT_CONSTANTS
"""Names that stand for constants."""


def _clip(x: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    return sp.Min(sp.Max(x, lo), hi)


ALIASES = {"max": "Max", "min": "Min", "abs": "Abs", "ceil": "ceiling", "arctan": "atan"}
"""Formula spellings of vocabulary functions (NumPy/Python style)."""

# name -> (builder, least and most number of positional arguments; None = any number)
_CONVENIENCES: dict[str, tuple[Callable[..., sp.Expr], int, int | None]] = {
    "sqrt": (sp.sqrt, 1, 1),
    "clip": (_clip, 3, 3),
    "relu": (lambda x: sp.Max(x, 0), 1, 1),
}


def _callables() -> dict[str, tuple[Callable[..., sp.Expr], int, int | None]]:
    vocabulary, arity = VOCABULARY.snapshot(), ARITY.snapshot()
    return {
        **{name: (cls, *arity[name]) for name, cls in vocabulary.items()},
        **{alias: (vocabulary[name], *arity[name]) for alias, name in ALIASES.items()},
        **_CONVENIENCES,
    }


FUNCTIONS: Mapping[str, tuple[Callable[..., sp.Expr], int, int | None]] = LiveTable(_callables)
"""Callable names: the shared :data:`symsmooth.text.vocabulary.FUNCTIONS`, their aliases and
three conveniences; ``Piecewise`` is handled separately (its arguments are pairs)."""

ALLOWED_TEXT = (
    "numbers, names, + - * / **, parentheses, calls of "
    + ", ".join(sorted(set(FUNCTIONS) | {"Piecewise"}, key=str.lower))
    + ", and the constants pi, E, oo"
)


def char_offset(text: str, lineno: int, col: int) -> int:
    lines = text.split("\n")
    return min(sum(len(line) + 1 for line in lines[: lineno - 1]) + max(col, 0), len(text))


def symbol_table(symbols) -> dict[str, sp.Basic]:
    if symbols is None:
        return {}
    if isinstance(symbols, Mapping):
        return dict(symbols)
    return {str(s): s for s in symbols}


def _chain_family(op: ast.operator) -> int:
    """0 for + and -, 1 for * and /, -1 otherwise: left-nested chains of one family are flat."""
    return {ast.Add: 0, ast.Sub: 0, ast.Mult: 1, ast.Div: 1}.get(type(op), -1)


def check_ast_depth(root: ast.AST, limit: int, builder: Builder) -> None:
    """Refuse trees nested deeper than ``limit`` (chains like ``a + b + c`` count once)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise builder.error(
                f"the formula is nested deeper than {limit} operations; simplify it", node
            )
        for child in ast.iter_child_nodes(node):
            flat = (
                isinstance(node, ast.BinOp)
                and child is node.left
                and isinstance(child, ast.BinOp)
                and _chain_family(child.op) == _chain_family(node.op) >= 0
            )
            stack.append((child, depth if flat else depth + 1))


_REFUSED = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "subscripts (a[i]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "'a if c else b' is not allowed; use Piecewise((a, c), (b, True))",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "starred arguments (*a) are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
}


class Builder:
    """Builds SymPy objects from a whitelisted AST (one method per node type)."""

    def __init__(self, text: str, declared: dict[str, sp.Basic]):
        self.text = text
        self.declared = declared
        self.lead = len(text) - len(text.lstrip())
        self.handlers = {
            ast.BinOp: self._binop,
            ast.UnaryOp: self._unary,
            ast.Call: self._call,
            ast.Name: self._name,
            ast.Constant: self._constant,
            ast.Compare: self._compare,
            ast.BoolOp: self._boolop,
            ast.Tuple: self._tuple,
        }

    def error(self, message: str, node: ast.AST) -> ParseError:
        position = None
        if getattr(node, "lineno", None) is not None:
            position = self.lead + char_offset(self.text.strip(), node.lineno, node.col_offset)
        return ParseError(message, self.text, position)

    def build(self, node: ast.AST, condition: bool = False) -> sp.Basic:
        handler = self.handlers.get(type(node))
        if handler is None:
            reason = _REFUSED.get(type(node), f"{type(node).__name__} expressions are not allowed")
            raise self.error(f"{reason}; a formula is made of {ALLOWED_TEXT}", node)
        try:
            return handler(node, condition)
        except ParseError:
            raise
        except RecursionError:
            raise self.error("the formula is too complex to build; simplify it", node) from None
        except Exception as exc:  # SymPy refused the construction (bad types, arity, ...)
            raise self.error(f"cannot build this part of the formula: {exc}", node) from None

    # -- operators

    def _binop(self, node: ast.BinOp, condition: bool) -> sp.Expr:
        family = _chain_family(node.op)
        if family < 0:
            if not isinstance(node.op, ast.Pow):
                raise self.error(f"operator {type(node.op).__name__} is not allowed", node)
            return self._power(node)
        operands = []  # left-nested chain a op b op c ... collected without recursion
        while isinstance(node, ast.BinOp) and _chain_family(node.op) == family:
            operands.append((node.op, node.right))
            node = node.left
        result = self._expr(node)
        for op, right in reversed(operands):
            value = self._expr(right)
            result = {
                ast.Add: lambda a, b: a + b,
                ast.Sub: lambda a, b: a - b,
                ast.Mult: lambda a, b: a * b,
                ast.Div: lambda a, b: a / b,
            }[type(op)](result, value)
        return result

    def _power(self, node: ast.BinOp) -> sp.Expr:
        base, exponent = self._expr(node.left), self._expr(node.right)
        _check_growth(base, exponent, lambda message: self.error(message, node))
        return base**exponent

    def _unary(self, node: ast.UnaryOp, condition: bool) -> sp.Basic:
        if isinstance(node.op, ast.Not):
            if not condition:
                raise self.error("'not' is only allowed in Piecewise conditions", node)
            return sp.Not(self._condition(node.operand))
        if isinstance(node.op, ast.USub):
            return -self._expr(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self._expr(node.operand)
        raise self.error(f"unary operator {type(node.op).__name__} is not allowed", node)

    def _expr(self, node: ast.AST) -> sp.Expr:
        value = self.build(node)
        if not isinstance(value, sp.Expr):
            raise self.error("expected a number-valued expression here", node)
        return value

    # -- conditions (Piecewise only)

    def _compare(self, node: ast.Compare, condition: bool) -> sp.Basic:
        if not condition:
            raise self.error("comparisons are only allowed as Piecewise conditions", node)
        relations = {
            ast.Lt: sp.Lt,
            ast.LtE: sp.Le,
            ast.Gt: sp.Gt,
            ast.GtE: sp.Ge,
            ast.Eq: sp.Eq,
            ast.NotEq: sp.Ne,
        }
        terms = [self._expr(node.left)] + [self._expr(c) for c in node.comparators]
        parts = []
        for op, a, b in zip(node.ops, terms[:-1], terms[1:], strict=True):
            if type(op) not in relations:
                raise self.error(f"comparison {type(op).__name__} is not allowed", node)
            parts.append(relations[type(op)](a, b))
        return sp.And(*parts)

    def _boolop(self, node: ast.BoolOp, condition: bool) -> sp.Basic:
        if not condition:
            raise self.error("'and'/'or' are only allowed in Piecewise conditions", node)
        combine = sp.And if isinstance(node.op, ast.And) else sp.Or
        return combine(*[self._condition(v) for v in node.values])

    def _condition(self, node: ast.AST) -> sp.Basic:
        value = self.build(node, True)
        if not isinstance(value, sp.logic.boolalg.Boolean):
            raise self.error("a Piecewise condition is a comparison (x > 0) or True", node)
        return value

    def _tuple(self, node: ast.Tuple, condition: bool) -> sp.Basic:
        raise self.error(
            "tuples are only allowed as (value, condition) pairs inside Piecewise", node
        )

    # -- leaves

    def _constant(self, node: ast.Constant, condition: bool) -> sp.Basic:
        value = node.value
        if isinstance(value, bool):
            if condition:
                return sp.true if value else sp.false
            raise self.error("True/False are only allowed as Piecewise conditions", node)
        if condition:
            raise self.error("a Piecewise condition is a comparison (x > 0) or True", node)
        if isinstance(value, int):
            if value.bit_length() * math.log10(2) > MAX_INT_DIGITS:
                raise self.error(f"integer literal longer than {MAX_INT_DIGITS} digits", node)
            return sp.Integer(value)
        if isinstance(value, float):
            return self._float(value, node)
        kind = "complex numbers" if isinstance(value, complex) else f"{type(value).__name__} values"
        raise self.error(f"{kind} are not allowed; use real numbers", node)

    def _float(self, value: float, node: ast.Constant) -> sp.Float:
        literal = ast.get_source_segment(self.text.strip(), node) or ""
        if math.isinf(value):
            raise self.error("float literal overflows double precision (max ~1.8e308)", node)
        if value == 0.0 and re.search(r"[1-9]", literal.split("e")[0].split("E")[0]):
            raise self.error("float literal underflows to 0 (min ~4.9e-324)", node)
        return sp.Float(value)

    def _name(self, node: ast.Name, condition: bool) -> sp.Basic:
        name = node.id
        if name in self.declared:
            return self.declared[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS or name == "Piecewise":
            raise self.error(f"{name} is a function; call it, e.g. {name}(x)", node)
        if name in _RESERVED:
            raise self.error(
                f"name {name!r} is reserved; use another symbol name such as x, y, k", node
            )
        if not _NAME.match(name):
            raise self.error(
                "symbol names must start with a letter and have at most 31 letters, digits "
                "or underscores",
                node,
            )
        return _DEFAULT_SYMBOLS.get(name) or sp.Symbol(name, real=True)

    def _call(self, node: ast.Call, condition: bool) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.error("only named functions can be called, e.g. exp(x)", node)
        name = node.func.id
        if node.keywords:
            raise self.error(f"keyword arguments are not allowed; call {name} positionally", node)
        if name == "Piecewise":
            return self._piecewise(node)
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, list(FUNCTIONS) + ["Piecewise"], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise self.error(f"unknown function {name!r}.{hint} Allowed: {ALLOWED_TEXT}", node)
        function, least, most = FUNCTIONS[name]
        count = len(node.args)
        if count < least or (most is not None and count > most):
            wanted = f"{least}" if least == most else f"{least} to {most or 'any number of'}"
            raise self.error(f"{name} takes {wanted} argument(s), got {count}", node)
        args = [self._expr(a) for a in node.args]
        canonical = ALIASES.get(name, name)
        if canonical in VOCABULARY:  # constants that SymPy would evaluate slowly are refused
            check_arguments(canonical, args, lambda message: self.error(message, node))
        return function(*args)

    def _piecewise(self, node: ast.Call) -> sp.Expr:
        pairs = []
        for arg in node.args:
            if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                raise self.error(
                    "Piecewise takes (value, condition) pairs, e.g. "
                    "Piecewise((x, x > 0), (0, True))",
                    arg,
                )
            value, cond = arg.elts
            if not isinstance(cond, ast.Compare | ast.BoolOp | ast.UnaryOp | ast.Constant):
                raise self.error("a Piecewise condition is a comparison or True", cond)
            pairs.append((self._expr(value), self._condition(cond)))
        if not pairs:
            raise self.error("Piecewise needs at least one (value, condition) pair", node)
        return sp.Piecewise(*pairs)
