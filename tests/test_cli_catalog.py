"""The catalog commands (list, show, plot) and build, run through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp
from clirun import run

from symsmooth import catalog
from symsmooth.verification.claims import ClaimResult

NAMES = catalog.names()
pytestmark = pytest.mark.skipif(not NAMES, reason="the catalog is empty")


def test_list_plain_has_every_entry_once(capsys, monkeypatch):
    code, out, _ = run(["list", "--plain"], capsys, monkeypatch)
    assert code == 0
    header, *rows = out.strip().split("\n")
    assert header.split("\t") == ["name", "target", "parameter", "bound", "source"]
    assert [row.split("\t")[0] for row in rows] == NAMES
    for row in rows:
        name, target, parameter, bound, source = row.split("\t")
        record = catalog.get(name)
        assert target == str(record.target)
        assert parameter == f"{record.param} -> {record.limit}"
        assert source == record.source
        if record.bound is None:
            assert bound == "-"
        elif not record.bound.atoms(sp.Float):
            assert bound == str(record.bound)
        else:  # long decimal constants are shortened to 6 digits in tables
            for number in record.bound.atoms(sp.Float):
                assert f"{float(number):.6g}"[:6] in bound


def test_list_table_names_the_size_of_the_catalog(capsys, monkeypatch):
    code, out, _ = run(["list"], capsys, monkeypatch)
    assert code == 0
    assert f"({len(NAMES)} constructions)" in out
    assert all(name in out for name in NAMES)
    indexed = [catalog.get(n) for n in NAMES if "[" in str(catalog.get(n).target)]
    if indexed:  # rich markup must not eat x[i]
        assert str(indexed[0].target) in out


@pytest.mark.parametrize("name", NAMES)
def test_show_prints_the_record(name, capsys, monkeypatch):
    record = catalog.get(name)
    code, out, _ = run(["show", name], capsys, monkeypatch)
    assert code == 0
    assert str(record.target) in out
    assert str(record.expr) in out
    assert record.source in out
    assert f"{record.param} -> {record.limit}" in out
    assert (str(record.bound) if record.bound is not None else "bound        -") in out


def test_show_latex_prints_latex_of_target_surrogate_bound(capsys, monkeypatch):
    name = NAMES[0]
    record = catalog.get(name)
    code, out, _ = run(["show", name, "--latex"], capsys, monkeypatch)
    assert code == 0
    assert f"target (LaTeX): {sp.latex(record.target)}" in out
    assert f"surrogate (LaTeX): {sp.latex(record.expr)}" in out
    if record.bound is not None:
        assert f"bound (LaTeX): {sp.latex(record.bound)}" in out


def test_show_includes_the_builder_docstring_summary(capsys, monkeypatch):
    name = NAMES[0]
    doc = (catalog.builder(name).__doc__ or "").strip().split("\n")[0].strip()
    code, out, _ = run(["show", name], capsys, monkeypatch)
    assert code == 0
    assert doc.split()[0] in out


@pytest.mark.parametrize("command", [["show"], ["plot"]])
def test_unknown_name_exits_2_with_close_matches(command, capsys, monkeypatch, tmp_path):
    wrong = NAMES[0][:-1] + "Q"
    extra = ["-o", str(tmp_path / "x.png")] if command == ["plot"] else []
    code, out, err = run([*command, wrong, *extra], capsys, monkeypatch)
    assert code == 2
    assert "Did you mean" in err and NAMES[0] in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "x.png").exists()


def test_unknown_name_in_a_real_process_has_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "symsmooth", "show", "no_such_entry_xyz"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no catalog entry named 'no_such_entry_xyz'" in done.stderr
    assert "Traceback" not in done.stderr


def test_plot_writes_a_png(capsys, monkeypatch, tmp_path):
    out_file = tmp_path / "plot.png"
    code, out, _ = run(
        ["plot", NAMES[0], "-o", str(out_file), "--values", "1,3"], capsys, monkeypatch
    )
    assert code == 0
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out_file) in out


@pytest.mark.parametrize("values", ["1,a", "0,1", "-2", ","])
def test_plot_refuses_bad_values(values, capsys, monkeypatch, tmp_path):
    code, _, err = run(
        ["plot", NAMES[0], "-o", str(tmp_path / "p.png"), "--values", values], capsys, monkeypatch
    )
    assert code == 2
    assert "--values" in err
    assert not (tmp_path / "p.png").exists()


# --- build ---------------------------------------------------------------------------------


def _fake_checks(monkeypatch, failing: str | None = None):
    from symsmooth.verification import claims

    def result(claim, record, ok, worst=None):
        return ClaimResult(record.name, claim, ok, "fake", f"{claim} of {record.name}", worst)

    monkeypatch.setattr(claims, "check_limit", lambda r, **kw: result("limit", r, True))
    monkeypatch.setattr(
        claims,
        "check_bound",
        lambda r, **kw: result("bound", r, r.name != failing, 0.5 if r.name != failing else 2.0),
    )


def test_build_checks_every_entry_and_passes(capsys, monkeypatch):
    _fake_checks(monkeypatch)
    # --jobs 1: the checks run in this process, where the fakes are patched in
    code, out, _ = run(["build", "--no-kernels", "--jobs", "1"], capsys, monkeypatch)
    assert code == 0
    assert all(name in out for name in NAMES)
    assert f"{len(NAMES)}/{len(NAMES)} entries pass" in out


def test_build_exits_1_when_a_check_fails(capsys, monkeypatch):
    with_bound = [n for n in NAMES if catalog.get(n).bound is not None]
    if not with_bound:
        pytest.skip("no entry claims a bound")
    _fake_checks(monkeypatch, failing=with_bound[0])
    # --jobs 1: the checks run in this process, where the fakes are patched in
    code, out, _ = run(["build", "--no-kernels", "--jobs", "1"], capsys, monkeypatch)
    assert code == 1
    assert f"{with_bound[0]}: bound of {with_bound[0]}" in out
    assert f"{len(NAMES) - 1}/{len(NAMES)} entries pass" in out


def test_build_turns_a_crashing_check_into_a_failure(capsys, monkeypatch):
    from symsmooth.verification import claims

    def broken(record, **kw):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(claims, "check_limit", broken)
    code, out, _ = run(
        ["build", "--only", NAMES[0], "--no-kernels", "-j", "1"], capsys, monkeypatch
    )
    assert code == 1
    assert "ZeroDivisionError: boom" in out


def test_build_runs_the_real_checks_on_one_entry(capsys, monkeypatch, tmp_path):
    name = "softplus" if "softplus" in NAMES else NAMES[0]
    args = ["build", "--only", name, "--count", "30", "--out", str(tmp_path)]
    code, out, _ = run(args, capsys, monkeypatch)
    assert code == 0, out
    assert "1/1 entries pass" in out
    assert (tmp_path / f"{name}.py").is_file()  # stage 2 wrote the kernel
    assert f"1/1 kernels generated into {tmp_path}" in out.replace("\n", "")
