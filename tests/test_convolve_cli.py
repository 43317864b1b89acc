"""CLI ``symsmooth convolve`` / ``symsmooth kernels`` and the user catalog file."""

from __future__ import annotations

import json

import mpmath
import pytest
import sympy as sp
from test_convolve_reference import DPS, close, numeric

import symsmooth as ss
from symsmooth import catalog
from symsmooth.catalog import user_catalog
from symsmooth.cli import main
from symsmooth.errors import CatalogError


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMSMOOTH_HOME", str(tmp_path))
    yield tmp_path
    for name in sorted(user_catalog._REGISTERED):  # leave the shared registry as we found it
        catalog._BUILDERS.pop(name, None)
    user_catalog._REGISTERED.clear()
    catalog.get.cache_clear()


def test_convolve_prints_closed_form_bound_and_method(capsys):
    code, out, _ = _run(capsys, "convolve", "Max(x, 0)", "--kernel", "logistic")
    assert code == 0
    assert "closed form: softplus(t*x)/t" in out
    assert "bound: log(2)/t" in out and "partial moments" in out


def test_convolve_latex_width_and_route(capsys):
    code, out, _ = _run(
        capsys, "convolve", "Max(x, 0)", "--width", "s", "--route", "step", "--latex"
    )
    assert code == 0 and r"\operatorname{erf}" in out and "s" in out


def test_divergence_and_bad_text_exit_2(capsys):
    code, _, err = _run(capsys, "convolve", "Max(x, 0)", "--kernel", "cauchy")
    assert code == 2 and "1st moment" in err
    code, _, err = _run(capsys, "convolve", "Max(x,, 0)")
    assert code == 2 and "error" in err
    code, _, err = _run(capsys, "convolve", "floor(x)", "--kernel", "cauchy")
    assert code == 2 and "principal" in err
    code, out, _ = _run(capsys, "convolve", "floor(x)", "--kernel", "cauchy", "--principal-value")
    assert code == 0 and "atan" in out


def test_kernels_table_lists_every_kernel(capsys):
    code, out, _ = _run(capsys, "kernels")
    assert code == 0
    for name in ss.kernels.names():
        assert name in out


def test_save_then_catalog_reads_it_back(home, capsys):
    code, out, _ = _run(
        capsys, "convolve", "Abs(x)", "--kernel", "logistic", "--save", "abs_logistic_user"
    )
    assert code == 0 and "saved" in out
    raw = json.loads((home / "catalog.json").read_text())
    assert "abs_logistic_user" in raw["entries"]
    assert "abs_logistic_user" in catalog.names()
    record = catalog.get("abs_logistic_user")
    t = sp.Symbol("t", positive=True)
    x = sp.Symbol("x", real=True)
    # independent check: article 1 eq (6)
    with mpmath.workdps(DPS):
        f = numeric(record.expr.subs(t, 2), x)
        g = numeric((sp.log(2 + sp.exp(t * x) + sp.exp(-t * x)) / t).subs(t, 2), x)
        for at in ("-3", "0", "1.5"):
            assert close(f(mpmath.mpf(at)), g(mpmath.mpf(at)), mpmath.mpf(10) ** -35)
    assert record.bound == 2 * sp.log(2) / t and record.attained == ({x: 0},)
    code, out, _ = _run(capsys, "show", "abs_logistic_user")
    assert code == 0 and "softplus" in out


def test_round_trip_of_every_result_kind(home):
    x = sp.Symbol("x", real=True)
    for name, args in (
        ("u_relu_laplace", (sp.Max(x, 0), x, "laplace")),
        ("u_floor_logistic", (sp.floor(x), x, "logistic")),
        ("u_square_logistic", (x**2 * sp.Heaviside(x), x, "logistic")),
    ):
        record = ss.convolve(*args)
        user_catalog.save(name, record)
        back = user_catalog.load()[name]
        assert back.expr == record.expr and back.target == record.target
        assert back.bound == record.bound and back.method == record.method


def test_names_are_checked(home):
    x = sp.Symbol("x", real=True)
    record = ss.convolve(sp.sign(x), x, "cauchy")
    with pytest.raises(CatalogError, match="snake_case"):
        user_catalog.save("Bad Name", record)
    user_catalog.save("sign_cauchy_user", record)
    with pytest.raises(CatalogError, match="exists already"):
        user_catalog.save("sign_cauchy_user", record)
    user_catalog.save("sign_cauchy_user", record, overwrite=True)


def test_reader_refuses_anything_but_whitelisted_constructors(home):
    for text in (
        "__import__('os').system('true')",
        "eval('1')",
        "Symbol('x').__class__",
        "Integer(1) + Integer(2)",
        "Symbol('x', evil=True)",
    ):
        with pytest.raises(CatalogError):
            user_catalog.from_srepr(text)
    (home / "catalog.json").write_text(
        json.dumps({"entries": {"evil": {"expr": "open('/etc/passwd')", "target": "Integer(1)"}}})
    )
    with pytest.warns(user_catalog.CatalogWarning, match="entry 'evil' skipped"):
        assert user_catalog.load() == {}  # a bad entry is skipped, never run, never fatal
