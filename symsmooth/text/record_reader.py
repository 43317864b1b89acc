"""Safe reading of stored expressions: ``srepr`` text rebuilt through the shared vocabulary.

A stored record is data that people share, download and hand-edit, so it is read exactly as
warily as formula text (:mod:`symsmooth.text.formula`), with the same whitelist and the same bounds
(:mod:`symsmooth.text.vocabulary`).  Nothing is evaluated: the text goes through :func:`ast.parse`
(syntax only) and a walk that builds every SymPy object itself.  Accepted, and nothing else:

* a constant name of :data:`~symsmooth.text.vocabulary.RECORD_CONSTANTS` (``pi``, ``oo``, ``zoo``,
  ``nan``, ``I``, ``E``, ``true``, ``false``, ``EulerGamma``, ``Catalan``), or ``-`` one;
* ``Integer(<int literal>)`` of at most :data:`~symsmooth.text.vocabulary.MAX_RESULT_DIGITS`
  digits, ``Rational(<int>, <int>)`` (denominator not 0);
* ``Float('<decimal literal>', precision=<bits>)``: the text must be a plain decimal number
  (at most :data:`MAX_FLOAT_TEXT` characters, decimal exponent within
  :data:`MAX_FLOAT_EXPONENT`), converted by mpmath at the given precision (at most
  :data:`MAX_PRECISION` bits);
* ``Symbol('<name>', <assumption>=True|False, ...)``: the name a valid user name
  (:func:`symsmooth.identifiers.check_name`), the assumptions known keys with literal bools
  (contradictory ones are refused by SymPy and so here);
* ``Class(arg, ...)`` for a class of :data:`~symsmooth.text.vocabulary.FUNCTIONS` (with its
  arity, and the bounds on constant arguments) or :data:`~symsmooth.text.vocabulary.STRUCTURE`,
  where every argument is itself one of these forms, i.e. an already-built SymPy object,
  passed through strict :func:`sympy.core.sympify._sympify`.  No string ever reaches a SymPy
  constructor; powers are bounded like formula text
  (:func:`~symsmooth.text.vocabulary.check_growth`);
* at the top level only, a list ``[a, b, ...]`` of such forms (a vector value of a sample
  point).

The text is at most :data:`MAX_TEXT` characters, nested at most :data:`MAX_DEPTH` calls and
made of at most :data:`MAX_NODES` syntax nodes, and is read under
:func:`symsmooth.budget.deadline` ``("catalog")``.  Anything else raises
:class:`~symsmooth.errors.CatalogError` naming the problem.

Examples
--------
>>> import sympy as sp
>>> from_srepr(sp.srepr(sp.erf(sp.Symbol("x", real=True)) / 2))
erf(x)/2
>>> from_srepr("exp(Symbol('__import__(\\"os\\")'))")
Traceback (most recent call last):
...
symsmooth.errors.CatalogError: symbol name '__import__("os")' starts with '_'; ...
>>> from_srepr("exp('x')")
Traceback (most recent call last):
...
symsmooth.errors.CatalogError: a string is only allowed as the name of a Symbol or the digits ...
"""

from __future__ import annotations

import ast
import re

import mpmath
import sympy as sp
from sympy.core.assumptions import _assume_defined
from sympy.core.sympify import _sympify

from symsmooth.budget import deadline
from symsmooth.errors import CatalogError, SymsmoothError
from symsmooth.functions import LiveTable
from symsmooth.identifiers import name_problem
from symsmooth.text import vocabulary as vocab

MAX_TEXT = 200_000
"""Longest stored expression text (characters)."""
MAX_DEPTH = 100
"""Deepest nesting of parentheses and brackets."""
MAX_NODES = 50_000
"""Most syntax nodes in one stored expression."""
MAX_FLOAT_TEXT = 200
"""Longest decimal literal of a ``Float``."""
MAX_FLOAT_EXPONENT = 10_000
"""Largest decimal exponent of a ``Float`` (in magnitude)."""
MAX_PRECISION = 4096
"""Largest ``Float`` precision (bits)."""

_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,6})?\Z")
_ASSUMPTIONS = frozenset(_assume_defined)
_NUMBERS = {"Integer", "Rational", "Float", "Symbol"}  # read from literals, not built objects
_CLASSES = LiveTable(lambda: {**vocab.FUNCTIONS, **vocab.STRUCTURE})


def from_srepr(text: str) -> sp.Basic | list:
    """Rebuild a SymPy object (or a top-level list of them) from ``srepr`` text, safely.

    Parameters
    ----------
    text : str
        What :func:`sympy.srepr` wrote.

    Returns
    -------
    sympy.Basic, or list of sympy.Basic

    Raises
    ------
    CatalogError
        Naming what is not allowed (see the module docstring for what is).
    """
    if not isinstance(text, str):
        raise CatalogError(f"an expression must be srepr text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise CatalogError(f"an expression is longer than {MAX_TEXT} characters")
    _check_nesting(text)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CatalogError(f"cannot read {_shown(text)}: {exc}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CatalogError(f"an expression has more than {MAX_NODES} parts")
    try:
        with deadline("catalog"):
            if isinstance(tree.body, ast.List):
                return [_checked(_build(e)) for e in tree.body.elts]
            return _checked(_build(tree.body))
    except SymsmoothError as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(str(exc)) from None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _check_nesting(text: str) -> None:
    depth = 0
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if depth > MAX_DEPTH:
            raise CatalogError(f"an expression is nested deeper than {MAX_DEPTH} levels")


def _checked(value: sp.Basic) -> sp.Basic:
    if vocab.number_digits(value) > vocab.MAX_RESULT_DIGITS:
        raise CatalogError(
            f"an expression holds a number of more than {vocab.MAX_RESULT_DIGITS} digits"
        )
    return value


def _fail(message: str) -> CatalogError:
    return CatalogError(message)


def _build(node: ast.AST) -> sp.Basic:
    if isinstance(node, ast.Name):
        if node.id in vocab.RECORD_CONSTANTS:
            return vocab.RECORD_CONSTANTS[node.id]
        raise CatalogError(f"unknown name {node.id[:40]!r}; only constants like pi, oo are names")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _build(node.operand)
        if not isinstance(value, sp.Expr):
            raise CatalogError("'-' applies to numbers and expressions only")
        return -value
    if isinstance(node, ast.Constant):
        kind = "a string" if isinstance(node.value, str) else f"a bare {type(node.value).__name__}"
        raise CatalogError(
            f"{kind} is only allowed as the name of a Symbol or the digits of Integer, Rational "
            "and Float, not as an argument"
        )
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise CatalogError(f"{type(node).__name__} syntax is not allowed in a stored expression")
    name = node.func.id
    if name not in _CLASSES:
        raise CatalogError(f"{name[:40]!r} is not an allowed constructor")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        raise CatalogError(f"starred arguments are not allowed in {name}(...)")
    if name in _NUMBERS:
        return _LEAVES[name](node)
    if node.keywords:
        raise CatalogError(f"keyword arguments are not allowed in {name}(...)")
    args = [_sympify(_build(a)) for a in node.args]  # strict: only built SymPy objects
    return _construct(name, args)


def _construct(name: str, args: list[sp.Basic]) -> sp.Basic:
    if name in vocab.FUNCTIONS:
        least, most = vocab.ARITY[name]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least}" if least == most else f"{least} to {most or 'any number of'}"
            raise CatalogError(f"{name} takes {wanted} arguments, got {len(args)}")
        vocab.check_arguments(name, args, _fail)
    elif name == "Pow":
        if len(args) != 2:
            raise CatalogError(f"Pow takes 2 arguments, got {len(args)}")
        vocab.check_growth(args[0], args[1], _fail)
    elif _CLASSES[name] in vocab.RELATIONS:
        for arg in args:  # a comparison of constants is evaluated like a function of them
            vocab.check_arguments(name, [arg], _fail)
    try:
        if _CLASSES[name] in (sp.Max, sp.Min):
            # srepr text of a built Max/Min holds its arguments already reduced; re-running
            # SymPy's pairwise reduction (_find_localzeros) took 7 s for soft_k_max's record
            return _CLASSES[name](*args, evaluate=False)
        return _CLASSES[name](*args)
    except (SymsmoothError, RecursionError):
        raise
    except Exception as exc:  # SymPy refused the arguments (types, arity, assumptions)
        raise CatalogError(f"cannot build {name}(...): {str(exc)[:120]}") from None


# --- leaves: numbers and symbols from literals ---------------------------------------------


def _int_literal(node: ast.AST, what: str) -> int:
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    inner = node.operand if negative else node
    if not (isinstance(inner, ast.Constant) and type(inner.value) is int):
        raise CatalogError(f"{what} takes integer literals")
    value = -inner.value if negative else inner.value
    if abs(value) > 1 and abs(value).bit_length() * 0.30103 > vocab.MAX_RESULT_DIGITS:
        raise CatalogError(f"an integer of more than {vocab.MAX_RESULT_DIGITS} digits")
    return value


def _integer(node: ast.Call) -> sp.Integer:
    if len(node.args) != 1 or node.keywords:
        raise CatalogError("Integer takes one integer literal")
    return sp.Integer(_int_literal(node.args[0], "Integer"))


def _rational(node: ast.Call) -> sp.Rational:
    if len(node.args) != 2 or node.keywords:
        raise CatalogError("Rational takes two integer literals")
    p, q = (_int_literal(a, "Rational") for a in node.args)
    if q == 0:
        raise CatalogError("Rational with denominator 0")
    return sp.Rational(p, q)


def _float(node: ast.Call) -> sp.Float:
    keywords = {k.arg: k.value for k in node.keywords}
    if len(node.args) != 1 or set(keywords) - {"precision"}:
        raise CatalogError("Float takes a decimal literal and precision=<bits>")
    literal = node.args[0]
    if not (isinstance(literal, ast.Constant) and isinstance(literal.value, str)):
        raise CatalogError("Float takes its digits as a quoted decimal literal")
    digits = literal.value.strip()
    match = _DECIMAL.match(digits) if len(digits) <= MAX_FLOAT_TEXT else None
    if match is None:
        raise CatalogError(f"Float digits {_shown(digits)} are not a plain decimal number")
    if match.group(2) and abs(int(match.group(2)[1:])) > MAX_FLOAT_EXPONENT:
        raise CatalogError(f"Float exponent beyond {MAX_FLOAT_EXPONENT}")
    precision = 53
    if "precision" in keywords:
        precision = _int_literal(keywords["precision"], "Float precision")
    if not 1 <= precision <= MAX_PRECISION:
        raise CatalogError(f"Float precision must be 1 to {MAX_PRECISION} bits, got {precision}")
    value = mpmath.libmp.from_str(digits, precision, mpmath.libmp.round_nearest)
    return sp.Float._new(value, precision, zero=False)  # Float(0.0) is not Integer(0)


def _symbol(node: ast.Call) -> sp.Symbol:
    if len(node.args) != 1:
        raise CatalogError("Symbol takes one quoted name")
    literal = node.args[0]
    if not (isinstance(literal, ast.Constant) and isinstance(literal.value, str)):
        raise CatalogError("Symbol takes its name as a quoted string")
    problem = name_problem(literal.value, "symbol")
    if problem is not None:
        raise CatalogError(problem)
    assumptions = {}
    for keyword in node.keywords:
        if keyword.arg not in _ASSUMPTIONS:
            raise CatalogError(f"{str(keyword.arg)[:40]!r} is not a SymPy assumption")
        if not (isinstance(keyword.value, ast.Constant) and type(keyword.value.value) is bool):
            raise CatalogError(f"assumption {keyword.arg} takes True or False")
        assumptions[keyword.arg] = keyword.value.value
    try:
        return sp.Symbol(literal.value, **assumptions)
    except Exception:  # InconsistentAssumptions: SymPy's message lists every fact
        raise CatalogError(
            f"Symbol {literal.value!r} has contradictory assumptions "
            f"({', '.join(f'{k}={v}' for k, v in assumptions.items())})"
        ) from None


_LEAVES = {"Integer": _integer, "Rational": _rational, "Float": _float, "Symbol": _symbol}
