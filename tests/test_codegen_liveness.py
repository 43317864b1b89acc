"""Dead stores are never emitted (#11): the kinds drop the assignments their formulas never read
on the statement lists (``emit.live``, the formula reads), before anything is printed; the AST
pass of ``formatting.drop_dead_stores`` after rendering is left with the pivoted gradient's
residue only.  Shown by rendering catalog modules with that pass switched off."""

from __future__ import annotations

import ast
import importlib

import pytest
import sympy as sp

from symsmooth import pipeline
from symsmooth.codegen import formatting
from symsmooth.codegen.emit import Assign, Load, Return, lines, live
from symsmooth.codegen.printer import MathPrinter

render = importlib.import_module("symsmooth.codegen.render")  # the package exports render()

PIVOT_RESIDUE = {"Q0", "s1"}
"""Stores of the pivoted gradient (its finishing lines are text, not statements) that only the
AST pass removes: soft_argmax and softmax_onehot_argmax.  Its loads and its sum loop are
statements (``x_p`` was a residue; a label gather's weight in cross_entropy_lse's sum loop
would be one)."""


def _chunked_lines(tree: ast.Module) -> set[int]:
    """0-based lines of the chunked (dask) kernels, the ``@njit(nogil=True)`` functions of
    templates/_chunked_reduction.py.j2: their loads are still text, and their dead stores are
    left to ``drop_dead_stores`` (noted in the stop's closing note, to be made live)."""
    out: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and any(k.arg == "nogil" for k in d.keywords)
            for d in node.decorator_list
        ):
            out |= set(range(node.lineno - 1, node.end_lineno))
    return out


def _dead_names(text: str) -> list[str]:
    src = text.splitlines(keepends=True)
    tree = ast.parse(text)
    dead = set(formatting._dead_lines(tree, src)) - _chunked_lines(tree)
    return sorted({src[at].split("=")[0].strip() for at in dead})


@pytest.mark.parametrize(
    "name",
    [
        "logsumexp_max",
        "cross_entropy_lse",
        "smooth_accuracy",
        "soft_k_max",
        "soft_argmax",
        "softmax_onehot_argmax",
        "soft_f1",
        "zlpr",
    ],
)
def test_no_dead_store_is_rendered(name, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "drop_dead_stores", lambda text: text)
    pipeline.generate([name], out=tmp_path)
    text = (tmp_path / f"{name}.py").read_text()
    assert set(_dead_names(text)) <= PIVOT_RESIDUE, _dead_names(text)


def test_the_check_sees_a_dead_store(tmp_path, monkeypatch):
    # the same check on a module whose position store is put back: it is found
    monkeypatch.setattr(render, "drop_dead_stores", lambda text: text)
    pipeline.generate(["logsumexp_max"], out=tmp_path)
    text = (tmp_path / "logsumexp_max.py").read_text()
    planted = text.replace(
        "        x_e = x_row[idx]\n", "        x_e = x_row[idx]\n        pos_ = idx + 1.0\n", 1
    )
    assert planted != text and "pos_" in _dead_names(planted)


def test_live_keeps_what_is_read_and_drops_the_rest():
    x, a, b = sp.symbols("x a b")
    stmts = [
        Load("x", "x", "idx"),
        Assign("a", x + 1),
        Assign("b", a * 2),
        Assign("c", x),  # read by nothing
        Return(b),
    ]
    assert lines(live(stmts, set()), MathPrinter()) == [
        "x = x_row[idx]",
        "a = x + 1",
        "b = 2*a",
        "return b",
    ]
    assert [s.target for s in live(stmts[:4], {"c"})] == ["x", "c"]
    # a store read only by a dead store is dead too; an input list is not changed
    assert [s.target for s in live(stmts[:3], set())] == ["x"] and len(stmts) == 5
