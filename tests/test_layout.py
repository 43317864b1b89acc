"""The layout of the package keeps its rules: public names work whatever was imported first,
no import cycle at module level, and no module is named like a public function.

Python binds ``symsmooth.<sub>`` to a submodule once it is imported; a package named like a
public function (``symsmooth.convolve`` the package vs ``ss.convolve(...)``) then hides the
function, depending on import order.  These tests import every submodule in several orders in
fresh interpreters and check each public name, and walk the ``ast`` of every module.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import symsmooth

PACKAGE_DIR = Path(symsmooth.__file__).parent
EXPORTS = symsmooth._EXPORTS

# ``__main__`` runs the CLI when imported; it is an entry point, not a module to import.
NOT_IMPORTED = {"symsmooth.__main__"}


def all_modules() -> list[str]:
    """Every module and package under ``symsmooth/``, dotted, from the files on disk."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def public_functions() -> set[str]:
    """Public names that are exported as an attribute (a function or class), not a module."""
    return {name for name, (_, attribute) in EXPORTS.items() if attribute is not None}


def test_all_modules_are_found_by_pkgutil_too():
    # The file walk and Python's own walk agree, so no module escapes the checks below.
    walked = {m.name for m in pkgutil.walk_packages(symsmooth.__path__, "symsmooth.")}
    assert walked == set(all_modules()) - {"symsmooth"}


# The check run in a fresh interpreter: import the modules in the given order, then every public
# name must be the object _EXPORTS documents, callable unless it is a module.
CHECK = r"""
import importlib, json, sys, types
import symsmooth as ss
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
problems = []
for name in ss.__all__:
    if name == "__version__":
        continue
    module_name, attribute = ss._EXPORTS[name]
    expected = importlib.import_module(module_name)
    if attribute is not None:
        expected = getattr(expected, attribute)
    value = getattr(ss, name)
    if value is not expected:
        problems.append(f"ss.{name} is {value!r}, expected {expected!r}")
    elif attribute is not None and (isinstance(value, types.ModuleType) or not callable(value)):
        problems.append(f"ss.{name} is not callable: {value!r}")
print(json.dumps(problems))
"""


def run_check(order: list[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(order)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_public_names_work_after_importing_every_submodule(order):
    modules = [m for m in all_modules() if m not in NOT_IMPORTED]
    modules = sorted(modules) if order == "sorted" else sorted(modules, reverse=True)
    assert run_check(modules) == []


def test_convolve_then_parse():
    # The sequence that raised "TypeError: 'module' object is not callable" when the stage
    # packages were named like the functions: ss.convolve imports the convolution package.
    script = (
        "import symsmooth as ss\n"
        "s = ss.convolve('Max(x, 0)', kernel='gaussian')\n"
        "print(s.target)\n"
        "print(ss.parse('x + 1'))\n"
        "print(ss.stabilize(ss.parse('log(1 + exp(z))')).expr)\n"
        "print(callable(ss.verify), type(ss.verify).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["Max(0, x)", "x + 1", "softplus(z)", "True function"]


def test_no_module_is_named_like_a_public_function():
    functions = public_functions()
    clashes = [m for m in all_modules() if m.rsplit(".", 1)[-1] in functions]
    assert clashes == []
    # A top-level module with a public name must be the very module that name exports.
    for module in all_modules():
        parts = module.split(".")
        if len(parts) == 2 and parts[1] in EXPORTS:
            assert EXPORTS[parts[1]] == (module, None), module


def module_path(name: str) -> Path:
    relative = Path(*name.split("."))
    package = PACKAGE_DIR.parent / relative / "__init__.py"
    return package if package.exists() else (PACKAGE_DIR.parent / relative).with_suffix(".py")


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: top level and inside top-level if/try."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, (ast.If, ast.Try)):
                for block in (node.body, node.orelse, getattr(node, "finalbody", [])):
                    visit(block)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


def imported_modules(module: str, modules: set[str], everything: bool) -> set[str]:
    """The symsmooth modules that importing ``module`` runs first (its direct edges).

    ``from a.b import c`` runs ``a.b`` (and ``a.b.c`` when ``c`` is a submodule), and every
    package above it that is not already running because it contains ``module``.  The root
    ``symsmooth/__init__.py`` imports nothing eagerly and is left out.
    """
    path = module_path(module)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = (
        [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        if everything
        else module_level_imports(tree)
    )
    own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    is_package = path.name == "__init__.py"
    edges = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                base = f"{package}.{base}" if base else package
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if not target.startswith("symsmooth."):
                continue
            parts = target.split(".")
            for depth in range(2, len(parts) + 1):
                step = ".".join(parts[:depth])
                if step == module or (step in own_packages and step != target):
                    continue
                edges.add(step)
    return edges


def import_cycles(everything: bool) -> list[list[str]]:
    """Strongly connected components (more than one module) of the import graph."""
    modules = set(all_modules())
    graph = {m: imported_modules(m, modules, everything) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan; the graph has ~120 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(components)


# No module-level import circle is allowed (the last one, functions <-> functions_nary, went
# with the move of the vocabulary into the functions/ package, issue #11).
KNOWN_MODULE_LEVEL_CYCLES: list[list[str]] = []


def test_no_new_module_level_import_cycle():
    cycles = import_cycles(everything=False)
    assert [c for c in cycles if c not in KNOWN_MODULE_LEVEL_CYCLES] == []


def test_the_import_walker_sees_real_edges_and_circles():
    # Edges an import statement really creates, none it does not, and a circle it must see:
    # the registry loads user_catalog inside a function, which imports the registry back.
    modules = set(all_modules())
    edges = imported_modules("symsmooth.catalog.maxima", modules, everything=False)
    assert {"symsmooth.catalog", "symsmooth.records", "symsmooth.symbols"} <= edges
    # A submodule does not depend on its own package's __init__ just by living in it.
    kernels = imported_modules("symsmooth.convolution.kernels", modules, everything=False)
    assert "symsmooth.convolution" not in kernels
    assert "symsmooth.convolution.kernel_moments" in kernels
    # A function-level import is an edge too: the registry loads user_catalog inside _load.
    catalog = imported_modules("symsmooth.catalog", modules, everything=True)
    assert "symsmooth.catalog.user_catalog" in catalog
    assert "symsmooth.catalog.user_catalog" not in imported_modules(
        "symsmooth.catalog", modules, everything=False
    )


def test_no_import_cycle_counting_function_level_imports():
    # Every import statement counts, also one inside a function: a lazy import hides a circle
    # from module loading but not from the design (issue #11, "no import cycle anywhere").
    cycles = import_cycles(everything=True)
    assert cycles == [], (
        f"import circles {cycles}: move the piece both sides need into a module below both "
        "(as catalog/registry.py and cli/kernel_tasks.py did)"
    )


# The floors of the house (docs: DESIGN.md "The house"): an import may point to a lower floor,
# or stay inside its own package.  The longest matching prefix decides a module's floor.
FLOORS: dict[str, int] = {
    "symsmooth": 8,  # the root re-exports the public names (lazily)
    "symsmooth.torch": 8,  # the PyTorch bridge (over bridges/; imports torch)
    "symsmooth.bridges": 7,  # framework-free calls of generated modules (loads via pipeline)
    "symsmooth.__main__": 8,
    "symsmooth.cli": 7,
    "symsmooth.pipeline": 6,
    "symsmooth.plotting": 5,  # presentation over records; cli reaches it via pipeline
    "symsmooth.catalog": 4,
    "symsmooth.convolution": 4,
    "symsmooth.derive": 4,
    "symsmooth.stabilization": 4,
    "symsmooth.codegen": 4,
    "symsmooth.verification": 4,
    "symsmooth.text": 3,
    "symsmooth.magnitudes": 3,
    "symsmooth.functions": 1,
    "symsmooth.records": 2,
    "symsmooth.symbols": 2,
    "symsmooth.identifiers": 1,
    "symsmooth.budget": 1,
    "symsmooth.errors": 0,
    "symsmooth.version": 0,
    "symsmooth.runtime": 0,
}
STAGES = {
    "symsmooth.catalog",
    "symsmooth.convolution",
    "symsmooth.derive",
    "symsmooth.stabilization",
    "symsmooth.codegen",
    "symsmooth.verification",
}
# The bottom floor cli may use besides pipeline (and itself).
CLI_MAY_IMPORT = {
    "symsmooth.cli",
    "symsmooth.pipeline",
    "symsmooth.errors",
    "symsmooth.records",
    "symsmooth.identifiers",
    "symsmooth.budget",
    "symsmooth.symbols",
    "symsmooth.version",
}
# Imports that break a rule, each with its reason.  Keep this short; fix rather than list.
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}


def owner(module: str) -> str:
    """The key of FLOORS that places ``module`` (longest dotted prefix)."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        if ".".join(parts[:depth]) in FLOORS:
            return ".".join(parts[:depth])
    raise AssertionError(f"{module} has no floor: add its package to FLOORS in test_layout.py")


def layer_problems() -> list[str]:
    modules = set(all_modules())
    problems = []
    for module in sorted(modules):
        home = owner(module)
        for target in sorted(imported_modules(module, modules, everything=True)):
            there = owner(target)
            if there == home or (module, target) in LAYER_EXCEPTIONS:
                continue
            rule = None
            if home == "symsmooth.cli" and there not in CLI_MAY_IMPORT:
                rule = "cli goes only through symsmooth.pipeline: add a re-export or wiring there"
            elif home in STAGES and there in STAGES:
                rule = "stages never import each other: wire them in symsmooth.pipeline"
            elif home == "symsmooth.runtime":
                rule = "runtime imports nothing from symsmooth (generated code loads it alone)"
            elif home == "symsmooth.functions" and FLOORS[there] > 0:
                rule = "functions imports only runtime/errors"
            elif FLOORS[there] >= FLOORS[home]:
                rule = (
                    f"imports point down: floor {FLOORS[home]} ({home}) may not import floor "
                    f"{FLOORS[there]} ({there}); move the shared piece down"
                )
            if rule:
                problems.append(f"{module} imports {target}: {rule}")
    return problems


def test_imports_point_down_the_floors():
    assert layer_problems() == []


def test_every_layer_exception_is_still_needed():
    modules = set(all_modules())
    for (module, target), reason in LAYER_EXCEPTIONS.items():
        assert reason and target in imported_modules(module, modules, everything=True), (
            f"{module} no longer imports {target}: drop it from LAYER_EXCEPTIONS"
        )


def test_the_layer_rules_catch_a_bad_import(monkeypatch):
    # Each rule fires on an edge it forbids (so the table is no test that cannot fail).
    fake = {
        "symsmooth.cli.build_cmd": {"symsmooth.catalog"},
        "symsmooth.derive.docs": {"symsmooth.convolution.api"},
        "symsmooth.runtime.scalar": {"symsmooth.errors"},
        "symsmooth.functions.base": {"symsmooth.records"},
        "symsmooth.text.formula": {"symsmooth.pipeline"},
    }
    real = imported_modules
    monkeypatch.setitem(
        globals(), "imported_modules", lambda m, ms, everything: fake.get(m, set()) or set()
    )
    problems = layer_problems()
    monkeypatch.setitem(globals(), "imported_modules", real)
    assert len(problems) == 5, problems
    assert any("cli goes only through" in p for p in problems)
    assert any("stages never import" in p for p in problems)
    assert any("runtime imports nothing" in p for p in problems)
    assert any("functions imports only" in p for p in problems)
    assert any("imports point down" in p for p in problems)


def root_name_imports() -> list[str]:
    """``from symsmooth import <name>`` inside the package where ``<name>`` is no module: such
    an import runs the root package (floor 8) from below, which the walker cannot see as an
    edge to a module."""
    modules = set(all_modules())
    found = []
    for module in sorted(modules):
        tree = ast.parse(module_path(module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "symsmooth" and not node.level:
                for alias in node.names:
                    if f"symsmooth.{alias.name}" not in modules:
                        found.append(f"{module}: from symsmooth import {alias.name}")
    return found


def test_no_module_imports_a_name_from_the_root():
    assert root_name_imports() == [], (
        "import the name from the module that defines it (the version: symsmooth.version)"
    )


def test_the_root_import_check_sees_one(tmp_path, monkeypatch):
    # The check fires on the import it forbids (it read the four __version__ imports before).
    bad = tmp_path / "bad.py"
    bad.write_text("from symsmooth import __version__\n")
    real = module_path
    monkeypatch.setitem(
        globals(), "module_path", lambda m: bad if m == "symsmooth.errors" else real(m)
    )
    assert root_name_imports() == ["symsmooth.errors: from symsmooth import __version__"]
