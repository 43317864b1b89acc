"""Safe parsing of formula text into SymPy, without evaluating the text.

The text goes through four gates, each failing with a :class:`~symsmooth.errors.ParseError`
that names the problem, its 0-based position and what is allowed instead:

1. size and characters: not empty, at most ``max_length`` characters, printable ASCII only
   (Unicode look-alikes such as ``"ｘ"`` or Cyrillic ``"х"`` are refused), no quotes, ``[]``,
   ``{}``, ``;``, ``#``, backslashes or double underscores;
2. bracket nesting, scanned *before* Python's parser sees the text (so 10,000 nested
   parentheses never reach its recursion limit);
3. :func:`ast.parse` in ``mode="eval"`` (syntax only, nothing runs);
4. a walk over a whitelist of AST node types that builds the SymPy objects itself from a
   table of allowed names.  Anything else (attribute access, subscripts, lambdas,
   comprehensions, keyword arguments, strings, complex literals, ...) is refused.

Numbers are bounded before SymPy evaluates them (:mod:`symsmooth.text.vocabulary`, shared with the
stored-record reader): integer literals to :data:`MAX_INT_DIGITS` digits, a power of two
numbers under :data:`MAX_POWER_DIGITS` digits (``9**9**9`` is refused instead of being
computed), constant exponents and constant arguments of functions such as ``sigmoid``, ``erf``
or ``sin`` to :data:`MAX_EXPONENT` in magnitude (``Max(x, sigmoid(-exp(9999)))`` is refused at
once instead of comparing a number of 4,343 digits for a minute).  The whole parse also runs
under :func:`symsmooth.budget.deadline` ``("parse")``: past it, a
:class:`~symsmooth.errors.BudgetError`.

References
----------
Python ``ast`` module, "Abstract grammar" (node types used here):
https://docs.python.org/3/library/ast.html

Examples
--------
>>> import sympy as sp
>>> parse("Max(x, 0)")
Max(0, x)
>>> parse("log(1 + exp(k*x))/k").free_symbols == {sp.Symbol("k", positive=True),
...                                                 sp.Symbol("x", real=True)}
True
>>> parse("x.__class__")
Traceback (most recent call last):
...
symsmooth.errors.ParseError: double underscores are not allowed ... (at position 2)
...
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

import sympy as sp

from symsmooth.budget import deadline
from symsmooth.errors import ParseError
from symsmooth.text.parse_tree import (
    ALLOWED_TEXT,
    CONSTANTS,
    FUNCTIONS,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_POWER_DIGITS,
    MAX_RESULT_DIGITS,
    Builder,
    char_offset,
    check_ast_depth,
    number_digits,
    symbol_table,
)

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_LENGTH",
    "MAX_POWER_DIGITS",
    "MAX_RESULT_DIGITS",
    "parse",
]

MAX_LENGTH = 1000
"""Default limit on the length of the text (characters)."""
MAX_DEPTH = 40
"""Default limit on the nesting of parentheses."""
_ALLOWED_PUNCTUATION = set(" \t\n\r+-*/().,<>=!")
_CHAR_HINTS = {
    "^": "'^' is not a power here; write powers as x**2",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "[": "subscripts and lists are not allowed",
    "]": "subscripts and lists are not allowed",
    "{": "sets, dicts and f-string fields are not allowed",
    "}": "sets, dicts and f-string fields are not allowed",
    ";": "only one expression is allowed (no ';')",
    "#": "comments are not allowed",
    "\\": "backslashes are not allowed",
    "@": "'@' (decorators, matrix products) is not allowed",
    "%": "'%' (modulo) is not allowed; use floor(x/y) if you need it",
}


def parse(
    text: str,
    *,
    symbols: Mapping[str, sp.Basic] | Iterable[sp.Symbol] | None = None,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
) -> sp.Expr:
    """Turn formula ``text`` into a SymPy expression without evaluating it.

    Parameters
    ----------
    text : str
        A formula in Python/SymPy syntax, e.g. ``"Piecewise((x, x > 0), (0, True))"``.
    symbols : mapping of str to sympy object, or iterable of Symbol, optional
        Names the caller declares (they win over the defaults).  Other names become real
        ``Symbol`` s; the usual sharpness/width names (``k, t, s, sigma, a, b, h, mu, w,
        tau, beta, e, eps, ...``) become positive ones.
    max_length : int
        Longest accepted text.
    max_depth : int
        Deepest accepted nesting of parentheses (and of operators, times 3).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ParseError
        Naming the problem, its 0-based position and what is allowed.
    BudgetError
        When building the expression runs past the ``"parse"`` deadline.

    Examples
    --------
    >>> parse("Piecewise((x, x > 0), (0, True))")
    Piecewise((x, x > 0), (0, True))
    >>> parse("softplus(x) + clip(y, -1, 1)")
    softplus(x) + Min(1, Max(-1, y))
    >>> parse("x ^ 2")
    Traceback (most recent call last):
    ...
    symsmooth.errors.ParseError: '^' is not a power here; write powers as x**2 (at position 2)
    ...
    """
    if not isinstance(text, str):
        raise ParseError(f"expected formula text (str), got {type(text).__name__}")
    _check_characters(text, max_length)
    _check_brackets(text, max_depth)
    with deadline("parse"):  # a backstop: the bounds below refuse slow constants at once
        return _build(text, symbols, max_depth)


def _build(text: str, symbols, max_depth: int) -> sp.Expr:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ParseError(_syntax_message(exc), text, _syntax_position(text, exc)) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ParseError(f"the formula is too complex to parse ({exc})", text) from None
    builder = Builder(text, symbol_table(symbols))
    check_ast_depth(tree.body, 3 * max_depth, builder)
    result = builder.build(tree.body)
    if not isinstance(result, sp.Expr):
        raise builder.error("the formula is not a number-valued expression", tree.body)
    if number_digits(result) > MAX_RESULT_DIGITS:
        raise ParseError(f"the formula makes numbers of more than {MAX_RESULT_DIGITS} digits")
    return result


# --- gates 1 and 2: characters and brackets ------------------------------------------------


def _check_characters(text: str, max_length: int) -> None:
    if not text.strip():
        raise ParseError("empty formula: write an expression such as 'Max(x, 0)'")
    if len(text) > max_length:
        raise ParseError(
            f"the formula is longer than {max_length} characters; shorten it", text, max_length
        )
    for i, ch in enumerate(text):
        if text.startswith("__", i):
            raise ParseError(
                "double underscores are not allowed (names are plain identifiers like x or "
                "sigma_1)",
                text,
                i,
            )
        if ord(ch) > 127:
            raise ParseError(
                f"non-ASCII character {ch!r} (U+{ord(ch):04X}); only plain ASCII letters, "
                "digits and operators are allowed (watch for look-alikes of x, e, -, *)",
                text,
                i,
            )
        if ch in _CHAR_HINTS:
            raise ParseError(_CHAR_HINTS[ch], text, i)
        if not (ch.isalnum() or ch == "_" or ch in _ALLOWED_PUNCTUATION):
            raise ParseError(
                f"character {ch!r} is not allowed; the formula may use letters, digits, _, "
                "spaces and + - * / ** ( ) , . < > = !",
                text,
                i,
            )


def _check_brackets(text: str, max_depth: int) -> None:
    depth, opened = 0, []
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            opened.append(i)
            if depth > max_depth:
                raise ParseError(
                    f"parentheses nested deeper than {max_depth} levels; simplify the formula",
                    text,
                    i,
                )
        elif ch == ")":
            if depth == 0:
                raise ParseError("unmatched ')'", text, i)
            depth -= 1
            opened.pop()
    if opened:
        raise ParseError("unclosed '('; add the matching ')'", text, opened[0])


# --- gate 3: Python's parser ---------------------------------------------------------------


def _syntax_message(exc: SyntaxError) -> str:
    return f"not a valid formula: {exc.msg}. A formula is one expression made of {ALLOWED_TEXT}"


def _syntax_position(text: str, exc: SyntaxError) -> int | None:
    if exc.lineno is None or exc.offset is None:
        return None
    stripped_from = len(text) - len(text.lstrip())
    return stripped_from + char_offset(text.strip(), exc.lineno, exc.offset - 1)
