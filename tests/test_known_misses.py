"""Honest exit codes: every miss fails ``build``/``verify`` unless it is documented.

The known-misses table is checked as a whole (every row names a real kernel part); the
classification is checked on measured reports, and the CLI's ``--param``/``--allow-misses``
through ``symsmooth verify`` on a real kernel.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from symsmooth import pipeline
from symsmooth.verification.known_misses import KNOWN_MISSES, KnownMiss, classify
from symsmooth.verification.report import Report, ReportRow


@pytest.mark.parametrize("miss", KNOWN_MISSES, ids=lambda m: f"{m.kernel}-{m.part}-{m.dtype}")
def test_every_documented_miss_names_a_real_kernel_part(miss):
    spec = pipeline.kernel_spec(miss.kernel)
    names = (*spec.input_names, *getattr(spec, "grad_param_names", ()))
    parts = {"value"} | {f"grad_{name}" for name in names}
    assert miss.part in parts, f"{miss.kernel} has parts {sorted(parts)}"
    assert miss.dtype in ("float64", "float32")
    assert miss.reason and miss.issue.startswith("#")


def test_documented_misses_are_distinct():
    keys = [(m.kernel, m.part, m.dtype) for m in KNOWN_MISSES]
    assert len(keys) == len(set(keys))


@pytest.fixture(scope="module")
def softplus_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    return pipeline.verify("softplus", out=out, per_regime=8, long_n=16, dtypes=(np.float64,))


def test_a_kernel_that_meets_its_targets_shows_a_documented_row_as_fixed(softplus_report):
    assert softplus_report.ok, [r.miss_line() for r in softplus_report.failures()]
    row = KnownMiss("softplus", "value", "float64", "pretend")
    split = classify([softplus_report], (row,))
    assert split.fixed == (row,) and not split.known and not split.unexpected


def test_a_miss_is_unexpected_unless_the_table_lists_it(softplus_report):
    # the same measured rows, with a target of 0 ulp the kernel cannot meet exactly everywhere
    strict = tuple(
        ReportRow(**{**r.__dict__, "target": 0.0}) if r.part == "value" else r
        for r in softplus_report.rows
    )
    report = Report("softplus", "elementwise", strict)
    assert report.failures(), "softplus is exact to 0 ulp everywhere? then pick another target"
    assert classify([report], ()).unexpected == report.failures()
    listed = classify([report], (KnownMiss("softplus", "value", "float64", "tested"),))
    assert listed.known == report.failures() and not listed.unexpected and not listed.fixed


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "symsmooth", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_verify_at_a_users_parameter_value(tmp_path):
    """``--param k=3``: measured at k = 3 (the report rows say so), exit 0 within target."""
    done = _cli(
        "verify",
        "softplus",
        "--param",
        "k=3",
        "--per-regime",
        "8",
        "--long-n",
        "16",
        "--regenerate",
        "--out",
        str(tmp_path),
        "--jobs",
        "1",
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k", "NAME=VALUE"),
        ("k=abc", "not a number"),
        ("k=inf", "finite"),
        ("q=3", "no parameter q"),
    ],
)
def test_verify_refuses_a_bad_param(tmp_path, value, message):
    done = _cli(
        "verify",
        "softplus",
        "--param",
        value,
        "--per-regime",
        "8",
        "--long-n",
        "16",
        "--out",
        str(tmp_path),
        "--jobs",
        "1",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout + done.stderr


def test_miss_lines_show_the_parameter():
    """Before: rich read the label ``[k=3]`` as markup and printed the line without it."""
    from rich.console import Console

    from symsmooth.cli.kernel_tasks import report_misses

    row = ReportRow("softplus", "value", "float64", "large", 8, 9.0, 1.0, 1.0, param="k=3")
    console = Console(record=True, width=200)
    assert not report_misses(console, [Report("softplus", "elementwise", (row,))], True)
    assert "MISS softplus: value float64 [k=3] large: 9 ulp > 1" in console.export_text()
