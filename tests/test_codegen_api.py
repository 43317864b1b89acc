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
    code = [a for a in code if a not in record["layout"]]
    assert len(code) == len(record["inputs"]) + len(record["params"])
    # every layout keyword is keyword-only, with the record's default
    signature = inspect.signature(getattr(module, name)).parameters
    for key, default in record["layout"].items():
        assert signature[key].kind is inspect.Parameter.KEYWORD_ONLY
        assert signature[key].default == default
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


@pytest.mark.parametrize("name", MODULES)
def test_param_grads_name_public_functions_of_differentiable_params(name):
    """``param_grads`` names a defined function for every parameter but the labels (and
    max_pair_odd_power's integer exponent); an elementwise one has its ``_fast`` twin."""
    record = _record(GENERATED / f"{name}.py")
    module = ss.load(name, GENERATED)
    public = set(module.__all__)
    params = set(record["params"]) - set(record["labels"])
    if record["kind"] == "elementwise" and name != "max_pair_odd_power":
        assert set(record["param_grads"]) == params
    assert set(record["param_grads"]) <= params
    for p, fn in record["param_grads"].items():
        assert fn in public and fn == f"{name}_grad_{p}"
        if record["kind"] == "elementwise":
            assert record["fast"][fn] in public
    # the input gradient never includes the parameters' (its meaning is unchanged)
    assert record["grad"] not in record["param_grads"].values()


def _param_point(record, rng):
    """As _point, with parameters off 1 (sharpness 1.7, alpha 0.3) so a missing factor of the
    parameter shows."""
    inputs, _ = _point(record, rng)
    params = [
        1 if p in record["labels"] else 0.3 if p == "alpha" else 1.7 for p in record["params"]
    ]
    return inputs, params


@pytest.mark.parametrize("name", [m for m in MODULES if m != "max_pair_odd_power"])
def test_param_grads_are_the_derivatives_of_the_value(name):
    """Each ``param_grads[p]`` (and its fast twin) agrees with a central difference of the
    value in ``p`` (to 1e-6 relative, as above)."""
    module = ss.load(name, GENERATED)
    record = module.__symsmooth__
    if not record["param_grads"]:
        pytest.skip(f"{name} has no parameter gradients")
    rng = np.random.default_rng(5)
    inputs, params = _param_point(record, rng)
    value = getattr(module, name)
    # a row map's parameter derivative is its vector-Jacobian product (one value per row)
    cot = rng.standard_normal(inputs[0].shape) if record["output"] == "rowmap" else None
    extra = {"cotangent": cot} if cot is not None else {}
    for p, fn in record["param_grads"].items():
        at = record["params"].index(p)
        grads = [getattr(module, fn)]
        if fn in record["fast"]:
            grads.append(getattr(module, record["fast"][fn]))
        h = 1e-6
        up, dn = list(params), list(params)
        up[at] += h
        dn[at] -= h
        expected = (np.asarray(value(*inputs, *up)) - np.asarray(value(*inputs, *dn))) / (2 * h)
        if cot is not None:
            expected = np.sum(cot * expected, axis=-1)
        for grad in grads:
            g = np.asarray(grad(*inputs, *params, **extra))
            assert g.shape == expected.shape
            assert g == pytest.approx(expected, rel=1e-6, abs=1e-9), (p, g, expected)
