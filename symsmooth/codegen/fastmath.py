"""The fast-math printer and the vectorizable twins of the scalar kernels (LLVM can SIMD them).

Numba lowers ``math.exp`` to a call of the C library's scalar ``exp``; a loop containing such a
call cannot be SIMD-vectorized by LLVM.  :class:`FastMathPrinter` prints the same statements as
:class:`~symsmooth.codegen.printer.MathPrinter` but calls the branch-free
``_fexp``/``_flog``/``_flog1p``/``_fwexp`` of :mod:`symsmooth.runtime.fastmath` (their
algorithms, accuracy and references are documented there; their source comes through
:mod:`symsmooth.codegen.helpers`) and the ``_fast`` twins of the runtime helpers, which
:func:`twins` builds from the helpers' syntax trees.

Examples
--------
>>> import sympy as sp
>>> a, b, c = sp.symbols("a b c")
>>> FastMathPrinter({}).doprint(sp.exp(a) + sp.log(c) + sp.erf(b))
'_fexp(a) + _flog(c) + math.erf(b)'
>>> "def _fexp(x):" in FAST_SOURCE and "math.exp" not in FAST_SOURCE
True
>>> src = {"_sp": "def _sp(z):\\n    return math.log1p(math.exp(z))\\n",
...        "_id": "def _id(x):\\n    return x\\n"}
>>> names, text = twins(src)
>>> names
{'_sp': '_fast_sp', '_id': '_id'}
>>> print(text)
@njit(cache=True, error_model="numpy", inline="always")
def _fast_sp(z):
    return _flog1p(_fexp(z))
<BLANKLINE>
"""

from __future__ import annotations

import ast

from symsmooth.codegen.helpers import FAST_DECORATOR as DECORATOR
from symsmooth.codegen.helpers import (
    FAST_DEFS,
    FAST_OVERRIDES,
    fast_block,
    fast_imports,
    fast_needed,
)
from symsmooth.codegen.printer import MathPrinter
from symsmooth.errors import CodegenError

FAST_SOURCE = fast_block(FAST_DEFS)
"""Every intrinsic and fast function with their imports (needs ``np`` and ``njit``); a
generated module carries only the part its functions call (:func:`with_runtime`)."""

SUBSTITUTIONS: dict[str, str] = {
    "math.exp": "_fexp",
    "math.log": "_flog",
    "math.log1p": "_flog1p",
    "_wexp": "_fwexp",
}
"""Scalar call -> vectorizable replacement (the same value within 1 ulp)."""


class FastMathPrinter(MathPrinter):
    """:class:`~symsmooth.codegen.printer.MathPrinter` calling the vectorizable functions:
    ``exp``/``log``/``log1p``/``wexp`` as in :data:`SUBSTITUTIONS`, a runtime helper as the
    name ``names`` gives it (its fast twin, or itself).

    >>> import sympy as sp
    >>> from symsmooth.functions import softplus
    >>> FastMathPrinter({"_softplus": "_fast_softplus"}).doprint(softplus(sp.Symbol("z")))
    '_fast_softplus(z)'
    """

    decorator = DECORATOR

    def __init__(self, names: dict[str, str], settings: dict | None = None):
        super().__init__(settings)
        self.names = dict(names)

    def call_name(self, function: str) -> str:
        return SUBSTITUTIONS.get(function) or self.names.get(function, function)

    def _print_exp(self, expr):
        return f"_fexp({self._print(expr.args[0])})"

    def _print_log(self, expr):
        return f"_flog({self._print(expr.args[0])})"

    def _print_log1p(self, expr):
        return f"_flog1p({self._print(expr.args[0])})"


def _called(call: ast.Call) -> str | None:
    """``name`` or ``module.name`` of a call, or ``None`` for other callees."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return None


def _edit(lines: list[bytes], line: int, start: int, end: int, text: str) -> None:
    """Replace columns ``start:end`` (UTF-8 byte offsets, as :mod:`ast` gives them) of the
    1-based ``line``."""
    old = lines[line - 1]
    lines[line - 1] = old[:start] + text.encode() + old[end:]


def twin_source(name: str, source: str, names: dict[str, str]) -> str | None:
    """The undecorated source of the fast twin ``_fast<name>`` of the def ``source``, or
    ``None``: when it calls nothing of :data:`SUBSTITUTIONS` nor a function with a twin
    (``names``), or has an ``if`` statement (a branch around a fast exp stops LLVM from
    vectorizing; such a function keeps calling ``math.*``).  Calls are renamed at their
    positions in the syntax tree, so text in docstrings and comments stays.

    >>> twin_source("_g", "def _g(z):\\n    if z > 0:\\n        return math.exp(z)\\n", {})
    >>> print(twin_source("_h", "def _h(z):\\n    return _g(z) + math.exp(z)  # math.exp(z)\\n",
    ...                   {"_g": "_fast_g"}), end="")
    def _fast_h(z):
        return _fast_g(z) + _fexp(z)  # math.exp(z)
    """
    tree = ast.parse(source)
    (fn,) = tree.body
    if any(isinstance(node, ast.If) for node in ast.walk(fn)):
        return None
    edits = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            called = _called(node)
            new = SUBSTITUTIONS.get(called) or names.get(called, called)
            if called is not None and new != called:
                f = node.func
                edits.append((f.lineno, f.col_offset, f.end_lineno, f.end_col_offset, new))
    if not edits:
        return None
    lines = [line.encode() for line in source.splitlines(keepends=True)]
    for line, start, end_line, end, new in sorted(edits, reverse=True):
        if end_line != line:  # pragma: no cover - a callee name spans one line
            raise CodegenError(f"{name}: a call spans lines; keep each callee on one line")
        _edit(lines, line, start, end, new)
    head = lines[fn.lineno - 1]
    at = head.index(f"def {name}(".encode())
    _edit(lines, fn.lineno, at + 4, at + 4 + len(name.encode()), fast_name(name))
    return b"".join(lines).decode()


def fast_name(name: str) -> str:
    """The name of the fast twin of ``name`` (``_softplus`` -> ``_fast_softplus``)."""
    return "_fast" + name if name.startswith("_") else "_fast_" + name


def twins(functions: dict[str, str]) -> tuple[dict[str, str], str]:
    """Fast twins of scalar functions (name -> source, dependencies first).

    A function gets a twin ``_fast<name>`` by :func:`twin_source` (calls renamed, no ``if``
    statement); :data:`~symsmooth.codegen.helpers.FAST_OVERRIDES` gives hand-written
    branch-free twins.  Returns the map name -> the name to call on the CPU (the twin or the
    function itself) and the twins' decorated source.
    """
    names: dict[str, str] = {}
    sources: list[str] = []
    for name, source in functions.items():
        if name in FAST_OVERRIDES:
            for called in _overrides_called(name):  # a twin may call another's twin
                if called not in names:
                    names[called] = fast_name(called)
                    sources.append(FAST_OVERRIDES[called])
            names[name] = fast_name(name)
            sources.append(FAST_OVERRIDES[name])  # decorated already
            continue
        twin = twin_source(name, source, names)
        names[name] = name if twin is None else fast_name(name)
        if twin is not None:
            sources.append(f"{DECORATOR}\n{twin}")
    return names, "\n\n".join(sources)


def _overrides_called(name: str) -> list[str]:
    """The helpers whose hand-written twins the twin of ``name`` calls, dependencies first
    (``_fast_silu_xd`` calls ``_fast_sigmoid_xp``, which calls ``_fast_sigmoid2``)."""
    out: list[str] = []
    for other in sorted(FAST_OVERRIDES):
        if other != name and fast_name(other) in loaded_names(FAST_OVERRIDES[name]):
            out += [n for n in _overrides_called(other) if n not in out] + [other]
    return list(dict.fromkeys(out))


def loaded_names(text: str) -> set[str]:
    """Every name a module's code loads (its calls included), read from its syntax tree."""
    tree = ast.parse(text)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def with_runtime(fast: dict, text: str) -> dict:
    """``fast`` whose ``source`` also holds the fast runtime (:data:`FAST_SOURCE`'s parts) that
    the module ``text`` (rendered with ``fast`` itself) calls, and only that; ``imports``: the
    import lines that part needs (the templates put them at the top of the module).

    >>> fast = with_runtime({"twins": ""}, "def f(x):\\n    return _flog(x)\\n")
    >>> "def _flog(x):" in fast["source"], "def _fexp(x):" in fast["source"]
    (True, False)
    >>> fast["imports"][0]
    'from numba import types as _types'
    """
    chosen = fast_needed(sorted(loaded_names(text)))
    parts = [part for part in ("\n\n".join(d.source for d in chosen), fast["twins"]) if part]
    return dict(fast, source="\n\n\n".join(parts), imports=fast_imports(chosen))


def module_source() -> str:
    """An importable module holding :data:`FAST_SOURCE` (for tests and benchmarks)."""
    return "import math\n\nimport numpy as np\nfrom numba import njit\n\n" + FAST_SOURCE + "\n"
