"""Emit the vectorizable twins of the scalar kernels: ``_fast`` functions LLVM can SIMD.

Numba lowers ``math.exp`` to a call of the C library's scalar ``exp``; a loop containing such a
call cannot be SIMD-vectorized by LLVM.  This module rewrites the printed scalar code to call the
branch-free ``_fexp``/``_flog``/``_flog1p`` of :mod:`symsmooth.runtime.fastmath` (their
algorithms, accuracy and references are documented there; their source comes through
:mod:`symsmooth.codegen.helpers`) and emits ``_fast`` twins of every function that reaches them.

Examples
--------
>>> "def _fexp(x):" in FAST_SOURCE and "math.exp" not in FAST_SOURCE
True
>>> fast_text("y = math.exp(a) + math.log1p(b) + math.log(c) + math.exp2(d)")
'y = _fexp(a) + _flog1p(b) + _flog(c) + math.exp2(d)'
>>> src = {"_sp": "def _sp(z):\\n    return math.log1p(math.exp(z))\\n",
...        "_core": "def _core(x):\\n    return _sp(x) + x\\n",
...        "_id": "def _id(x):\\n    return x\\n"}
>>> names, text = twins(src)
>>> names
{'_sp': '_fast_sp', '_core': '_fast_core', '_id': '_id'}
>>> print(text.split("\\n\\n\\n")[1].strip())
@njit(cache=True, error_model="numpy", inline="always")
def _fast_core(x):
    return _fast_sp(x) + x
"""

from __future__ import annotations

import ast
import re

from symsmooth.codegen.helpers import FAST_DECORATOR as DECORATOR
from symsmooth.codegen.helpers import (
    FAST_DEFS,
    FAST_OVERRIDES,
    fast_block,
    fast_imports,
    fast_needed,
)

FAST_SOURCE = fast_block(FAST_DEFS)
"""Every intrinsic and fast function with their imports (needs ``np`` and ``njit``); a
generated module carries only the part its functions call (:func:`with_runtime`)."""

SUBSTITUTIONS: dict[str, str] = {
    "math.exp(": "_fexp(",
    "math.log(": "_flog(",
    "math.log1p(": "_flog1p(",
    "_wexp(": "_fwexp(",
}
"""Scalar call -> vectorizable replacement (the same value within 1 ulp)."""

_CALL = re.compile("|".join(r"\b" + re.escape(k) for k in SUBSTITUTIONS))


def fast_text(text: str) -> str:
    """``text`` with every call of :data:`SUBSTITUTIONS` replaced by its fast twin."""
    return _CALL.sub(lambda m: SUBSTITUTIONS[m.group(0)], text)


def _rename(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        if old != new:
            text = re.sub(rf"\b{re.escape(old)}\(", f"{new}(", text)
    return text


def twins(functions: dict[str, str]) -> tuple[dict[str, str], str]:
    """Fast twins of scalar functions (name -> source, dependencies first).

    A function gets a twin ``_fast<name>`` when it calls something in :data:`SUBSTITUTIONS`
    or a function that has a twin, and has no ``if`` statement (a branch around a fast exp
    stops LLVM from vectorizing; such a function keeps calling ``math.*``);
    :data:`~symsmooth.codegen.helpers.FAST_OVERRIDES` gives hand-written branch-free twins.
    Returns the map name -> the name to call on the CPU (the twin or the function itself) and
    the twins' decorated source.
    """
    names: dict[str, str] = {}
    sources: list[str] = []
    for name, source in functions.items():
        fast = "_fast" + name if name.startswith("_") else "_fast_" + name
        if name in FAST_OVERRIDES:
            names[name] = fast
            sources.append(FAST_OVERRIDES[name])  # decorated already
            continue
        text = _rename(fast_text(source), names)
        branchy = any(line.lstrip().startswith("if ") for line in source.splitlines())
        if text == source or branchy:
            names[name] = name
            continue
        names[name] = fast
        twin = re.sub(rf"^def {re.escape(name)}\(", f"def {fast}(", text, count=1, flags=re.M)
        sources.append(f"{DECORATOR}\n{twin}")
    return names, "\n\n".join(sources)


_LINE_KEYS = (
    "load",
    "sum_lines",
    "prologue",
    "lean_prologue",
    "grad_lines",
    "value_lines",
    "adjoint_lines",
)


def fast_context(ctx: dict) -> dict:
    """The ``fast`` template variable of a kernel (see :func:`symsmooth.codegen.emit.context`).

    ``source``: the twins of the kernel's helpers and elementwise cores (the fast runtime they
    and the template call is added by :func:`with_runtime` once the module is rendered);
    ``twins``: the same; ``names``: function -> the name its CPU loops call; one list of
    rewritten lines per line list of the context (``sum_lines``, ``prologue``, ...).
    """
    functions = {h.function: h.source for h in ctx["helpers"]}
    for core in ctx.get("cores", ()):
        body = "\n".join("    " + line for line in core["lines"])
        functions[core["name"]] = f"def {core['name']}({ctx['args']}):\n{body}\n"
    names, source = twins(functions)
    fast = {"source": source, "twins": source, "imports": [], "names": names}
    for key in _LINE_KEYS:
        if key in ctx:
            fast[key] = [_rename(fast_text(line), names) for line in ctx[key]]
    return fast


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
