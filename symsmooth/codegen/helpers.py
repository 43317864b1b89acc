"""The runtime functions a generated module carries: their source and the helpers they call.

Each stable primitive of :mod:`symsmooth.functions` prints as a call to a small scalar function
of :mod:`symsmooth.runtime` (``_softplus(z)``, ``_logsumexp2(a, b)``, ...).  The generated
module carries the source of every helper it uses, copied from the real ``def`` (so it imports
with only NumPy and Numba installed, and the same text compiles under ``@njit`` and
``@cuda.jit(device=True)``); the vectorizable CPU functions of
:mod:`symsmooth.runtime.fastmath` travel the same way (:data:`FAST_FUNCTIONS`).

This module is the one place that maps a helper name to its function: :data:`HELPERS` holds
every ``_name`` def of :data:`RUNTIME_MODULES`, in the runtime's definition order.  What a helper
needs is read from its body: the runtime functions it names (its calls), found by walking its
syntax tree, so no table of dependencies has to be kept in step.  The source is read from the
modules' files with :mod:`ast` (the lines of each def, decorators included: what
``inspect.getsource`` returns) without importing them, so code generation does not import Numba
for the fast functions.

Examples
--------
>>> h = HELPERS["softplus"]
>>> h.function, h.module
('_softplus', 'symsmooth.runtime.scalar')
>>> h.implementation()(0.0) == __import__("math").log(2.0)
True
>>> "math.log1p" in h.source
True
>>> HELPERS["dsigmoid2"].requires
('two_product', 'wexp2')
>>> [x.function for x in resolve(["log_sigmoid"])]
['_softplus', '_log_sigmoid']
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass

from symsmooth.errors import CodegenError

RUNTIME_MODULES = (
    "symsmooth.runtime.double_double",
    "symsmooth.runtime.scalar",
    "symsmooth.runtime.scaling",
    "symsmooth.runtime.gaps",
    "symsmooth.runtime.exact",
)
"""The modules whose ``_name`` defs are the scalar helpers (``math.*`` only), in rank order."""

FAST_MODULE = "symsmooth.runtime.fastmath"
"""The module of the vectorizable CPU functions (``@njit``, Numba intrinsics)."""

FAST_DECORATOR = '@njit(cache=True, error_model="numpy", inline="always")'
"""The decorator of every fast function (the generated modules import ``njit`` already).
``inline="always"`` inlines at Numba IR level: LLVM sees one loop body and vectorizes it."""


@dataclass(frozen=True)
class Helper:
    """One emitted scalar function: its name, Python source, module and the helpers it calls."""

    name: str
    source: str
    requires: tuple[str, ...] = ()
    module: str = ""

    @property
    def function(self) -> str:
        return f"_{self.name}"

    def implementation(self):
        """The runtime function itself (imports its module; ``None`` for a printed
        ``logsumexpN``)."""
        return getattr(importlib.import_module(self.module), self.function) if self.module else None


@dataclass(frozen=True)
class _Def:
    """A top-level statement of a runtime module: its node and its source lines."""

    node: ast.stmt
    source: str


def _module_defs(module: str) -> list[_Def]:
    """Top-level statements of ``module``'s file, each with its exact source (decorators and
    comments included, as ``inspect.getsource``), read without importing the module."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - the package is installed
        raise CodegenError(f"runtime module {module} not found; reinstall symsmooth")
    with open(spec.origin, encoding="utf-8") as file:
        text = file.read()
    lines = text.splitlines(keepends=True)
    defs = []
    for node in ast.parse(text).body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
        defs.append(_Def(node, "".join(lines[first - 1 : node.end_lineno])))
    return defs


def _names(node: ast.AST) -> list[str]:
    """Names the body of a def loads, in source order (decorators excluded)."""
    body = node.body if isinstance(node, ast.FunctionDef) else [node]
    return [
        n.id
        for stmt in body
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


def _requirements(defs: dict[str, _Def]) -> dict[str, tuple[str, ...]]:
    """Helper name -> the helpers its body calls, in rank (definition) order."""
    rank = {f"_{name}": at for at, name in enumerate(defs)}
    out = {}
    for name, d in defs.items():
        called = {n for n in _names(d.node) if n in rank and n != f"_{name}"}
        out[name] = tuple(n[1:] for n in sorted(called, key=rank.__getitem__))
    return out


def module_helpers(module: str) -> dict[str, Helper]:
    """Name -> :class:`Helper` of every ``_name`` def (or class) of one runtime module (read
    without importing it), in definition order; a def decorated by another's attribute (a JAX
    ``@_f.defjvp`` rule) is required by that one: the base of the native targets' modules
    (:mod:`symsmooth.runtime.torch_native`, :mod:`symsmooth.runtime.jax_native`).

    >>> h = module_helpers("symsmooth.runtime.torch_native")["quot_err"]
    >>> h.requires, h.source.startswith("def _quot_err(a, b):")
    (('finite_or_zero', 'detached', 'two_prod_err'), True)
    """
    defs = {
        d.node.name[1:]: d
        for d in _module_defs(module)
        if isinstance(d.node, (ast.FunctionDef, ast.ClassDef)) and d.node.name.startswith("_")
    }
    requires = _requirements(defs)
    for name, d in defs.items():  # a rule attached by decorator travels with its function
        owner = _decorated_on(d.node, defs)
        if owner is not None:
            requires[owner] += (name,)
    return {n: Helper(n, d.source, requires[n], module) for n, d in defs.items()}


def _decorated_on(node: ast.stmt, defs: dict[str, _Def]) -> str | None:
    """The helper whose attribute decorates ``node`` (``@_f.defjvp`` attaches a JVP rule to
    ``_f``), or ``None``."""
    for deco in getattr(node, "decorator_list", ()):
        if isinstance(deco, ast.Attribute) and isinstance(deco.value, ast.Name):
            owner = deco.value.id[1:]
            if deco.value.id.startswith("_") and owner in defs:
                return owner
    return None


def _scalar_helpers() -> dict[str, Helper]:
    defs: dict[str, _Def] = {}
    modules: dict[str, str] = {}
    for module in RUNTIME_MODULES:
        for d in _module_defs(module):
            if isinstance(d.node, ast.FunctionDef) and d.node.name.startswith("_"):
                defs[d.node.name[1:]] = d
                modules[d.node.name[1:]] = module
    requires = _requirements(defs)
    return {n: Helper(n, d.source, requires[n], modules[n]) for n, d in defs.items()}


HELPERS: dict[str, Helper] = _scalar_helpers()
"""Name -> helper.  To support a new primitive: add its def to a module of
:data:`RUNTIME_MODULES` and map its SymPy class in
:data:`symsmooth.codegen.printer.FUNCTION_HELPERS`."""


def _logsumexp_source(arity: int) -> str:
    """The source of ``_logsumexp<arity>`` (any arity but 2, whose helper is the double-double
    :func:`symsmooth.runtime.double_double._logsumexp2`): one ``def`` per arity is printed here,
    since a runtime function of a variable number of arguments would not compile the same way
    under ``@njit`` and ``@cuda.jit``."""
    args = [f"a{j}" for j in range(arity)]
    sig = ", ".join(args)
    lines = [
        f"def _logsumexp{arity}({sig}):",
        f'    """log(exp(a0) + ... + exp(a{arity - 1})) shifted by the largest argument."""',
        f"    m = max({sig})" if arity > 1 else "    m = a0",
        "    if m != m or m == math.inf or m == -math.inf:",
        "        return m",
        "    s = " + " + ".join(f"math.exp({a} - m)" for a in args),
        "    return m + math.log(s)",
    ]
    # NaN: Python's max() is order dependent with NaN, so check every argument.
    lines.insert(3, "    if " + " or ".join(f"{a} != {a}" for a in args) + ":")
    lines.insert(4, "        return math.nan")
    return "\n".join(lines) + "\n"


def helper(name: str) -> Helper:
    """The helper called ``name``; ``logsumexpN`` is built for any arity ``N``."""
    if name in HELPERS:
        return HELPERS[name]
    if name.startswith("logsumexp") and name[len("logsumexp") :].isdigit():
        arity = int(name[len("logsumexp") :])
        return Helper(name, _logsumexp_source(arity))
    raise CodegenError(
        f"no scalar helper named {name!r}; known: {', '.join(sorted(HELPERS))} and "
        "logsumexpN. Add its def to a module of symsmooth/runtime/"
    )


def resolve(names) -> list[Helper]:
    """Helpers ``names`` plus everything they call, dependencies first (each helper's callees
    in the runtime's definition order), otherwise sorted by name."""
    ordered: list[Helper] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        h = helper(name)
        for dep in h.requires:
            visit(dep)
        ordered.append(h)

    for name in sorted(set(names)):
        visit(name)
    return ordered


# --- the vectorizable CPU functions (symsmooth.runtime.fastmath) --------------------------------


def _decorator(d: _Def) -> str:
    return ast.unparse(d.node.decorator_list[0]) if getattr(d.node, "decorator_list", ()) else ""


@dataclass(frozen=True)
class FastDef:
    """One definition of :data:`FAST_MODULE` a generated module may carry: an intrinsic or an
    ``@njit`` function, its decorated source and the module-level names it uses (the fast
    functions and intrinsics it calls, the private imports its decorator or body needs)."""

    name: str
    source: str
    requires: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


def _fast_parts() -> tuple[dict[str, str], dict[str, FastDef], dict[str, str]]:
    defs = _module_defs(FAST_MODULE)
    # the imports bound to private names (``_types``, ``_intrinsic``) travel with the intrinsics
    private: dict[str, str] = {}
    for d in defs:
        if isinstance(d.node, ast.ImportFrom):
            bound = [a.asname or a.name for a in d.node.names]
            if all(b.startswith("_") for b in bound):
                for b in bound:
                    private[b] = d.source.rstrip("\n")
    fast: dict[str, _Def] = {}
    overrides: dict[str, str] = {}
    for d in defs:
        if not isinstance(d.node, ast.FunctionDef):
            continue
        decorator = _decorator(d)
        if decorator.startswith("njit") and not d.source.startswith(FAST_DECORATOR + "\n"):
            raise CodegenError(  # pragma: no cover - guarded by tests/test_runtime.py
                f"{FAST_MODULE}.{d.node.name} must be decorated with {FAST_DECORATOR}"
            )
        name = d.node.name
        if decorator.startswith("njit") and name.startswith("_fast_"):
            overrides["_" + name[len("_fast_") :]] = d.source
        elif decorator == "_intrinsic" or decorator.startswith("njit"):
            fast[name] = d
    rank = {name: at for at, name in enumerate(fast)}
    functions: dict[str, FastDef] = {}
    for name, d in fast.items():
        used = {n.id for n in ast.walk(d.node) if isinstance(n, ast.Name)}
        requires = tuple(sorted((used & set(rank)) - {name}, key=rank.__getitem__))
        functions[name] = FastDef(name, d.source, requires, tuple(sorted(used & set(private))))
    return private, functions, overrides


FAST_IMPORTS, FAST_DEFS, FAST_OVERRIDES = _fast_parts()
"""Private name -> the import line that binds it (``_types``, ``_intrinsic``); name -> each
intrinsic and fast function (:class:`FastDef`, in definition order); scalar helper -> the
decorated source of its hand-written branch-free twin ``_fast_<name>`` (an automatic twin of a
helper with ``if`` statements would not vectorize)."""

FAST_FUNCTIONS: dict[str, str] = {
    n: d.source for n, d in FAST_DEFS.items() if not d.source.startswith("@_intrinsic")
}
"""Name -> decorated source of each fast ``@njit`` function, in definition order."""


def fast_needed(names) -> list[FastDef]:
    """The fast definitions ``names`` call (names that are none are ignored) with everything
    they call, in the runtime's definition order.

    >>> [d.name for d in fast_needed(["_fexp", "len"])]
    ['_i64_as_f64', '_fma', '_fexp2', '_fexp']
    """
    needed: set[str] = set()
    todo = [n for n in names if n in FAST_DEFS]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(FAST_DEFS[name].requires)
    return [d for n, d in FAST_DEFS.items() if n in needed]


def fast_imports(chosen: list[FastDef]) -> list[str]:
    """The import lines the definitions ``chosen`` need (the runtime's private names)."""
    used = {i for d in chosen for i in d.imports}
    return list(dict.fromkeys(line for name, line in FAST_IMPORTS.items() if name in used))


def fast_block(names) -> str:
    """The source of :func:`fast_needed` ``(names)``, its imports first; empty when nothing is
    needed.

    >>> print(fast_block(["_fexp", "len"]).split(chr(10) * 3)[0])
    from numba import types as _types
    from numba.core.extending import intrinsic as _intrinsic
    >>> "def _flog(" in fast_block(["_fexp"]), "def _fexp2(" in fast_block(["_fexp"])
    (False, True)
    """
    chosen = fast_needed(names)
    if not chosen:
        return ""
    imports = fast_imports(chosen)
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    return head + "\n\n".join(d.source for d in chosen)


INTRINSICS = fast_block([n for n, d in FAST_DEFS.items() if d.source.startswith("@_intrinsic")])
"""The private imports and every Numba intrinsic of the fast functions (one block of source)."""
