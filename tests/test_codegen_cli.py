"""``symsmooth gen`` and ``symsmooth verify`` through the Typer app (in process)."""

from __future__ import annotations

import mpmath
from typer.testing import CliRunner

from symsmooth.cli import _attach_commands, app
from symsmooth.codegen.render import load_module
from symsmooth.verification.ulp import ulp_error

_attach_commands()
runner = CliRunner()


def test_gen_catalog_entry(tmp_path):
    result = runner.invoke(app, ["gen", "softplus", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    mod = load_module("softplus", tmp_path)
    assert ulp_error(mod.softplus(-30.0, 1.0), mpmath.log1p(mpmath.exp(-30))) <= 1


def test_gen_user_expression_and_verify(tmp_path):
    """A user's expression (Mish) goes through parse -> stabilize -> kernel -> ulp report."""
    result = runner.invoke(
        app,
        [
            "gen",
            "--expr",
            "x*tanh(log(1 + exp(x)))",
            "--name",
            "mish",
            "--out",
            str(tmp_path),
            "--verify",
        ],
    )
    assert "mish" in result.output
    mod = load_module("mish", tmp_path)
    for v in (-3.0, 0.5, 20.0, 800.0):
        X = mpmath.mpf(v)
        exact = X * mpmath.tanh(mpmath.log1p(mpmath.exp(X)))
        assert ulp_error(mod.mish(v), exact) <= 4
    assert result.exit_code in (0, 1)  # 1 = a target missed, reported in the table
    assert "kernel accuracy" in result.output


def test_gen_unknown_name_is_exit_2(tmp_path):
    from symsmooth.cli import main

    try:
        main(["gen", "softplsu", "--out", str(tmp_path)])
    except SystemExit as exc:
        assert exc.code == 2
    else:  # pragma: no cover
        raise AssertionError("expected exit 2")


def test_verify_table(tmp_path):
    runner.invoke(app, ["gen", "logsumexp_max", "--out", str(tmp_path)])
    result = runner.invoke(
        app,
        [
            "verify",
            "logsumexp_max",
            "--out",
            str(tmp_path),
            "--long-n",
            "2000",
            "--per-regime",
            "8",
            "--regimes",
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "logsumexp_max" in result.output and "ok" in result.output
    # --regimes: one line per (part, dtype, regime), the long row and the -inf entries included
    assert "with_neg_inf" in result.output and "long" in result.output
    assert "median ulp" in result.output


def test_verify_in_worker_processes(tmp_path):
    """``--jobs 2`` runs the entries in spawned worker processes; their reports equal the ones
    computed in this process."""
    from functools import partial

    from symsmooth.cli.build_cmd import kernel_task
    from symsmooth.cli.jobs import each

    names = ["softplus", "abs_sqrt"]
    task = partial(kernel_task, out=tmp_path, regenerate=True, per_regime=4)
    pooled = dict(each(task, names, jobs=2))
    assert sorted(pooled) == sorted(names)
    for name in names:
        status, report = pooled[name]
        assert status == "ok", report
        assert report.rows and report == kernel_task(name, tmp_path, False, per_regime=4)[1]


def test_build_grid_measures_every_parameter_point(tmp_path):
    """``build --grid`` (opt-in) verifies each kernel over the sharpness grid too: soft_heaviside
    at k = 1 and at 8 more values, so it compares more points than the default build.  (Not
    abs_sqrt: tests/test_generated_import.py needs that module's name free in the process.)"""
    import re

    counts = {}
    for flag in ([], ["--grid"]):
        args = ["build", "--only", "soft_heaviside", "--count", "5", "-j", "1", "--allow-misses"]
        args += ["--out", str(tmp_path)]
        result = runner.invoke(app, args + flag)
        assert result.exit_code == 0, result.output
        counts[bool(flag)] = int(re.search(r"(\d+)/\1\s+points\s+compared", result.output)[1])
    assert counts[True] > counts[False], counts
