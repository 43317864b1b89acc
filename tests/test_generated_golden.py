"""``generated/`` is exactly what the generator produces now: regenerate everything into a
temporary folder and diff byte for byte (determinism: sorted iteration, no timestamps, stable
hashes).  Entries the generator rejects must be absent from ``generated/``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from symsmooth import catalog, pipeline
from symsmooth.codegen.render import template_dir
from symsmooth.errors import CodegenError

GENERATED = Path(__file__).resolve().parents[1] / "generated"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    rejected = {}
    for name in catalog.names():
        try:
            pipeline.generate([name], out=out)
        except CodegenError as exc:
            rejected[name] = str(exc)
    return out, rejected


def test_same_files(fresh):
    out, rejected = fresh
    committed = sorted(p.name for p in GENERATED.glob("*.py"))
    assert committed == sorted(p.name for p in out.glob("*.py")), (
        "generated/ is stale: run `symsmooth gen --all`"
    )
    assert not {f"{name}.py" for name in rejected} & set(committed)


def test_byte_for_byte(fresh):
    out, _ = fresh
    stale = [
        p.name
        for p in sorted(out.glob("*.py"))
        if p.read_bytes() != (GENERATED / p.name).read_bytes()
    ]
    assert not stale, f"regenerate with `symsmooth gen --all`: {stale}"


def test_header_hashes_are_the_real_ones():
    text = (GENERATED / "softplus.py").read_text()
    digest = hashlib.sha256()
    # every template the module came from: the CUDA sections count too
    parts = (
        "elementwise.py.j2",
        "_header.py.j2",
        "_imports.py.j2",
        "cuda_elementwise.py.j2",
        "_cuda_macros.py.j2",
        "cuda_runtime.py.j2",
    )
    for part in parts:
        digest.update((template_dir() / part).read_bytes())
    assert f"sha256:{digest.hexdigest()}" in text

    import sympy as sp

    expr = catalog.get("softplus").expr
    assert hashlib.sha256(sp.srepr(expr).encode()).hexdigest() in text
    assert "Do not edit" in text and "symsmooth gen softplus" in text
    assert "Stabilization rules applied: exact_arguments, softplus" in text


def test_generated_modules_import_without_symsmooth():
    """A generated module needs only numpy and numba at import time: its module-level imports
    (optional back-ends such as CuPy or torch may be imported lazily inside launchers)."""
    import ast

    for path in sorted(GENERATED.glob("*.py")):
        tree = ast.parse(path.read_text())
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = {
            a.name.split(".")[0] for node in top if isinstance(node, ast.Import) for a in node.names
        }
        names |= {node.module.split(".")[0] for node in top if isinstance(node, ast.ImportFrom)}
        assert names <= {"math", "numpy", "numba"}, (path.name, names)
