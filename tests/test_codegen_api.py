"""The ``__symsmooth__`` record of every generated module describes the module it is in:
names it defines, the signatures of its functions, and derivatives that agree with a central
difference of the value (an independent check of which function is which input's)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import symsmooth as ss

GENERATED = Path(__file__).resolve().parent.parent / "generated"
MODULES = sorted(p.stem for p in GENERATED.glob("*.py"))


def _record(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__symsmooth__"]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no __symsmooth__ record")


@pytest.mark.parametrize("name", MODULES)
def test_record_reads_without_import_and_names_defined_functions(name):
    record = _record(GENERATED / f"{name}.py")
    assert record["name"] == name
    module = ss.load(name, GENERATED)
    assert module.__symsmooth__ == record
    public = set(module.__all__)
    for fn in [name, record["grad"], *record["grads"].values(), *record["fast"].values()]:
        assert fn in public, fn
    args = list(inspect.signature(getattr(module, name)).parameters)
    code = [a for a in args if a not in record["keywords"] and a not in ("out", "cotangent")]
    assert len(code) == len(record["inputs"]) + len(record["params"])
    assert set(record["labels"]) <= set(record["params"])


def _point(record, rng):
    """Inputs away from ties and edges, parameters at 1 (labels: class 1 of 3)."""
    shape = (3,) if record["kind"] == "elementwise" else (2, 3)
    inputs = [rng.uniform(0.2, 0.8, shape) for _ in record["inputs"]]
    params = [1.0 if p not in record["labels"] else 1 for p in record["params"]]
    return inputs, params


@pytest.mark.parametrize("name", [m for m in MODULES if not m.startswith("max_pair_odd")])
def test_grads_are_the_derivatives_of_the_value(name):
    """Each ``grads[v]`` agrees with a central difference of the value in ``v`` (to 1e-6
    relative: h = 1e-6 leaves a truncation error ~h^2 f''' and a rounding error ~eps/h)."""
    module = ss.load(name, GENERATED)
    record = module.__symsmooth__
    rng = np.random.default_rng(3)
    inputs, params = _point(record, rng)
    value = getattr(module, name)
    cot = rng.standard_normal(inputs[0].shape) if record["output"] == "rowmap" else None
    for w, v in enumerate(record["inputs"]):
        grad = getattr(module, record["grads"][v])
        extra = {"cotangent": cot} if cot is not None else {}
        g = np.asarray(grad(*inputs, *params, **extra))
        h = 1e-6
        idx = (0,) if record["kind"] == "elementwise" else (1, 2)
        up = [a.copy() for a in inputs]
        dn = [a.copy() for a in inputs]
        up[w][idx] += h
        dn[w][idx] -= h
        diff = (np.asarray(value(*up, *params)) - np.asarray(value(*dn, *params))) / (2 * h)
        if record["output"] == "rowmap":
            expected = np.sum(cot * diff)
        else:
            expected = diff[idx] if record["kind"] == "elementwise" else diff[idx[0]]
        assert g[idx] == pytest.approx(expected, rel=1e-6, abs=1e-9), (v, g[idx], expected)
