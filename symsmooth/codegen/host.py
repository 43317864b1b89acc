"""The host-side runtime a generated module carries: argument checks, layouts, CUDA launchers.

The wrappers around the kernels (the ``_fast`` loops' broadcasting, the reductions' row layout
and label check, the CUDA build, device views and launch shapes) are real functions of
:mod:`symsmooth.runtime.cpu_host`, :mod:`symsmooth.runtime.cuda_host` and
:mod:`symsmooth.runtime.cuda_launch`.  As for the scalar helpers
(:mod:`symsmooth.codegen.helpers`), their source is read with :mod:`ast` (decorators included,
without importing the modules) and a module carries the ones its code calls, with the ones they
call, in the runtime's definition order: :func:`host_runtime` takes the names the module's
own code loads (read from its first rendering) and computes the rest.  A def whose decorator
names a chosen def comes along (``@_overload(_at)`` registers the compiled ``_at``), and the
private imports the chosen defs use (``_types``, ``_overload``) are listed for the template's
import block.  Module-level names of the runtime modules (``_NAME``, ``_LABELS``, ...) are not
copied: the templates define them.

Examples
--------
>>> host = host_runtime({"_prepare"})
>>> [d.name for d in host_needed({"_prepare"})]
['_size', '_check_labels', '_read_only', '_prepare']
>>> "def _check_labels(params, length):" in host["cpu"], host["cuda"], host["imports"]
(True, '', [])
>>> host_runtime({"_fast_operands", "_at"})["imports"]
['from numba import types as _types', 'from numba.extending import overload as _overload']
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from symsmooth.codegen.helpers import _module_defs

CPU_HOST = (
    "symsmooth.runtime.cpu_host",
    "symsmooth.runtime.axis_host",
    "symsmooth.runtime.dask_states",
    "symsmooth.runtime.dask_host",
    "symsmooth.runtime.dask_params",
    "symsmooth.runtime.dask_iterations",
    "symsmooth.runtime.dispatch",
)
"""The host modules of the CPU section, in emission order."""
CUDA_HOST = ("symsmooth.runtime.cuda_host", "symsmooth.runtime.cuda_launch")
"""The host modules of the CUDA section, in emission order."""


@dataclass(frozen=True)
class HostDef:
    """One host-side function or class: its name, decorated source, module, section
    (``"cpu"`` or ``"cuda"``), the host defs it names (``requires``; those its decorators
    name: ``decorates``) and the private imports it uses."""

    name: str
    source: str
    module: str
    section: str
    requires: tuple[str, ...] = ()
    decorates: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


def _loaded(nodes) -> set[str]:
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _host_defs() -> tuple[dict[str, HostDef], dict[str, str]]:
    found: dict[str, tuple] = {}
    private: dict[str, str] = {}
    sections = [(m, "cpu") for m in CPU_HOST] + [(m, "cuda") for m in CUDA_HOST]
    for module, section in sections:
        for d in _module_defs(module):
            node = d.node
            if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("symsmooth"):
                for a in node.names:
                    if (a.asname or a.name).startswith("_"):
                        private[a.asname or a.name] = d.source.rstrip("\n")
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
                found[node.name] = (d, module, section)
    defs = {}
    for name, (d, module, section) in found.items():
        used = _loaded([d.node]) - {name}
        decorators = _loaded(d.node.decorator_list)
        defs[name] = HostDef(
            name,
            d.source,
            module,
            section,
            tuple(n for n in found if n in used),
            tuple(n for n in found if n in decorators),
            tuple(sorted(used & set(private))),
        )
    return defs, private


HOST_DEFS, HOST_IMPORTS = _host_defs()
"""Name -> :class:`HostDef` of every host function and class, in emission order; private
name -> the import line that binds it."""


def host_needed(names) -> list[HostDef]:
    """The host defs ``names`` name (other names are ignored), everything they call and every
    def decorated by one of them, in emission order."""
    chosen: set[str] = set()
    todo = [n for n in names if n in HOST_DEFS]
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        chosen.add(name)
        todo.extend(HOST_DEFS[name].requires)
        todo.extend(d.name for d in HOST_DEFS.values() if name in d.decorates)
    return [d for n, d in HOST_DEFS.items() if n in chosen]


def host_runtime(names) -> dict:
    """The host runtime of a module whose code loads ``names``: ``cpu`` and ``cuda`` (the
    source of each section's defs, joined), ``imports`` (the private import lines they need)
    and ``names`` (every name the chosen defs load, for the template's ``needs``)."""
    chosen = host_needed(names)
    used = {i for d in chosen for i in d.imports}
    loaded: set[str] = set()
    for d in chosen:
        loaded |= _loaded(ast.parse(d.source).body)
    return {
        "cpu": "\n\n".join(d.source for d in chosen if d.section == "cpu"),
        "cuda": "\n\n".join(d.source for d in chosen if d.section == "cuda"),
        "imports": [line for name, line in HOST_IMPORTS.items() if name in used],
        "names": loaded,
    }


NO_HOST = {"cpu": "", "cuda": "", "imports": [], "names": set()}
"""The host runtime of the first rendering (before the module's calls are known)."""
