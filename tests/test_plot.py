"""Plots: the PNG is written at the promised size, and the plotted arrays are the record's
values (checked against SymPy's own mpmath evaluation at 30 digits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.plotting import DEFAULT_VALUES, plot, plot_data

pytest.importorskip("matplotlib")
NAMES = catalog.names()
pytestmark = pytest.mark.skipif(not NAMES, reason="the catalog is empty")


def _first(predicate):
    return next((n for n in NAMES if predicate(catalog.get(n))), None)


SHAPES = {
    "one scalar": _first(lambda r: r.kind == "elementwise" and len(r.variables) == 1),
    "two scalars": _first(lambda r: r.kind == "elementwise" and len(r.variables) == 2),
    "vector": _first(lambda r: r.kind == "reduction" and len(r.variables) == 1),
    "two vectors": _first(lambda r: r.kind == "reduction" and len(r.variables) == 2),
}
CASES = [name for name in dict.fromkeys(SHAPES.values()) if name is not None]


def reference(record, point, u, param_value, expr):
    """``expr`` of the record at the plotted point, by substitution and SymPy evalf."""
    integers = {k: v for k, v in point.items() if isinstance(k, sp.Symbol) and k.is_integer}
    body = sp.sympify(expr).subs(integers).doit()  # size and labels first, then the values
    subs = {record.param: sp.Float(param_value, 30)}
    first = record.variables[0]
    for key, value in point.items():
        if isinstance(key, sp.IndexedBase):
            subs.update(
                {key[j]: (u if isinstance(v, str) else v) for j, v in enumerate(value, start=1)}
            )
        elif key is not record.size:
            subs[key] = value
    if isinstance(first, sp.Symbol):
        subs[first] = u
    value = (
        sp.sympify(body)
        .xreplace({k: sp.Float(v, 30) if isinstance(v, float) else v for k, v in subs.items()})
        .doit()
        .evalf(30)
    )
    return float(value)


@pytest.mark.parametrize("name", CASES)
def test_plot_data_matches_mpmath(name):
    record = catalog.get(name)
    data = plot_data(record, points=41)
    assert list(data.surrogates) == list(DEFAULT_VALUES["oo" if record.limit == sp.oo else "0"])
    for index in (3, 20, 37):
        u = float(data.u[index])
        want_target = reference(record, data.point, u, 1.0, record.target)
        assert data.target[index] == pytest.approx(want_target, rel=1e-9, abs=1e-12)
        for pv, ys in data.surrogates.items():
            if math.isnan(ys[index]):
                continue  # outside the record's valid domain
            want = reference(record, data.point, u, pv, record.expr)
            assert ys[index] == pytest.approx(want, rel=1e-9, abs=1e-12)
            assert data.errors[pv][index] == pytest.approx(abs(want - want_target), abs=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_plotted_errors_respect_the_bound(name):
    record = catalog.get(name)
    if record.bound is None:
        pytest.skip("no bound claimed")
    data = plot_data(record, points=61)
    for pv, errors in data.errors.items():
        bound = data.bounds[pv]
        for index in (5, 30, 55):
            want = reference(record, data.point, float(data.u[index]), pv, record.bound)
            assert bound[index] == pytest.approx(want, rel=1e-9)
        ok = np.isnan(errors) | (errors <= bound * (1 + 1e-9) + 1e-12)
        assert ok.all(), (pv, data.u[~ok])


def test_errors_shrink_as_the_parameter_approaches_its_limit():
    name = SHAPES["one scalar"] or NAMES[0]
    data = plot_data(catalog.get(name), points=81)
    worst = [float(np.nanmax(e)) for e in data.errors.values()]  # values go toward the limit
    assert worst[-1] < worst[0]


def test_user_values_replace_the_defaults():
    data = plot_data(catalog.get(NAMES[0]), values=[3, 7], points=11)
    assert list(data.surrogates) == [3.0, 7.0]


@pytest.mark.parametrize("name", CASES[:2])
def test_plot_writes_a_readable_png(name, tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / f"{name}.png"
    data = plot(catalog.get(name), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (550, 1320)  # 12 x 5 inches at 110 dpi
    assert pixels[..., :3].std() > 0.05  # not a blank canvas
    assert data.xlabel.startswith(str(catalog.get(name).variables[0]))


def test_plot_never_runs_symbol_names(tmp_path, monkeypatch):
    # records from files have validated names; one built in Python may still hold any name.
    # lambdify execs the source it prints: that source must never contain a record's name.
    import builtins
    import dataclasses
    import os

    name = "__import__('os').system('touch pwned') or k"
    base = catalog.get("softplus")
    evil = sp.Symbol(name, positive=True)
    swap = {base.param: evil}
    record = dataclasses.replace(
        base, expr=base.expr.xreplace(swap), bound=base.bound.xreplace(swap), param=evil
    )
    sources, real_exec = [], builtins.exec

    def spy(source, *args, **kwargs):
        if isinstance(source, str):
            sources.append(source)
        return real_exec(source, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "exec", spy)
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("os.system ran"))
    data = plot_data(record, values=(2.0,), points=5)
    assert sources and not any("touch pwned" in text for text in sources)
    assert not (tmp_path / "pwned").exists()
    expected = [math.log1p(math.exp(2 * u)) / 2 for u in data.u]
    assert data.surrogates[2.0] == pytest.approx(expected, rel=1e-13)
