"""The per-kernel work shared by ``symsmooth build`` and ``symsmooth verify``.

One entry's generate-and-verify task (run in a worker process by :mod:`symsmooth.cli.jobs`),
its rough cost for the worker pool, and the accuracy table printed at the end.  It lives apart
from both command modules so neither imports the other (no ``build_cmd <-> codegen_cmds`` cycle).

>>> kernel_weight("no_such_entry")
0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

AllowMisses = Annotated[
    bool,
    typer.Option(
        "--allow-misses",
        help="Exit 0 when every missed ulp target is a documented known miss.",
    ),
]
"""The ``--allow-misses`` option of ``build`` and ``verify`` (:func:`report_misses`)."""

Grid = Annotated[
    bool,
    typer.Option(
        "--grid",
        help="Also measure the sharpness/width over 0.1 ... 1e4 and the domain edges.",
    ),
]
"""The ``--grid`` option of ``build`` and ``verify``: every kernel also at
:func:`symsmooth.verification.regimes.parameter_points` (off by default in ``build``:
docs/codegen.md, "Cost of verification")."""


def kernel_task(name: str, out: Path, regenerate: bool = True, **options) -> tuple:
    """Generate (when ``regenerate`` or missing) and verify one entry: ``("ok", Report)``,
    ``("skipped", reason)`` for a :class:`~symsmooth.errors.CodegenError`, ``("error", reason)``
    for anything else.  Runs in a worker process (:mod:`symsmooth.cli.jobs`)."""
    from symsmooth import pipeline
    from symsmooth.errors import CodegenError

    pipeline.check_measure_options(
        **options
    )  # a bad option is the user's error (exit 2), not the entry's
    try:
        return "ok", pipeline.verify(name, out=out, regenerate=regenerate, **options)
    except (pipeline.MeasureOptionError, OSError):  # the user's option or path: exit 2 in cli.main
        raise
    except CodegenError as exc:
        return "skipped", str(exc)
    except Exception as exc:  # noqa: BLE001 - report every broken entry, then fail
        return "error", f"{type(exc).__name__}: {exc}"


def kernel_weight(name: str) -> int:
    """Rough cost order for the worker pool: row reductions (long rows) before elementwise."""
    from symsmooth import pipeline

    try:
        return 0 if pipeline.kernel_spec(name).kind == "elementwise" else 1
    except Exception:  # noqa: BLE001 - the task itself reports the error
        return 0


def report_table(reports) -> Table:
    """A rich table: worst max-ulp of value and gradient per dtype, and the status."""
    table = Table(title="kernel accuracy (max ulp vs mpmath, worst regime)")
    for column in ("kernel", "kind", "value f64", "grad f64", "value f32", "grad f32", "status"):
        table.add_column(column, justify="right" if "f" in column[-3:] else "left")
    for r in reports:
        grad64 = max(
            (row.max_ulp for row in r.rows if row.part != "value" and row.dtype == "float64"),
            default=0.0,
        )
        grad32 = max(
            (row.max_ulp for row in r.rows if row.part != "value" and row.dtype == "float32"),
            default=0.0,
        )
        missed = r.failures()
        status = (
            "[green]ok[/]"
            if not missed
            else "[red]missed: "
            + ", ".join(sorted({f"{m.part}/{m.dtype}/{m.regime}" for m in missed})[:3])
            + "[/]"
        )
        table.add_row(
            r.name,
            r.kind,
            f"{r.worst('value', 'float64'):.2f}",
            f"{grad64:.2f}",
            f"{r.worst('value', 'float32'):.2f}",
            f"{grad32:.2f}",
            status,
        )
    return table


def report_misses(console, reports, allow_misses: bool) -> bool:
    """Print every missed row (part, dtype, parameter, regime, ulp and worst input) and whether
    the known-misses table documents it; ``True`` when the run passes: no miss at all, or,
    with ``allow_misses``, only documented ones.  A documented miss that no longer misses is
    printed as fixed (its table row can go)."""
    from rich.markup import escape

    from symsmooth import pipeline

    split = pipeline.classify_misses(reports, allowed=True)
    # escape: the parameter label "[k=3]" would otherwise read as rich markup and vanish
    for row in split.unexpected:
        console.print(f"[bold red]MISS[/] {escape(row.miss_line())}", highlight=False)
    for row in split.known:
        mark = "[yellow]known[/]" if allow_misses else "[bold red]MISS[/]"
        why = escape(f"{row.miss_line()} ({pipeline.explain_miss(row)})")
        console.print(f"{mark} {why}", highlight=False)
    for m in split.fixed:
        console.print(
            f"[green]fixed[/] {m.kernel} {m.part} {m.dtype} meets its target: remove its row "
            "from symsmooth/verification/known_misses.py",
            highlight=False,
        )
    if split.known and not allow_misses:
        console.print(
            f"{len(split.known)} miss(es) are documented in the known-misses table: "
            "--allow-misses accepts those (and only those)",
            highlight=False,
        )
    return not split.unexpected and (allow_misses or not split.known)
