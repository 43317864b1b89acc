"""``symsmooth build``: derive, check, generate and verify the whole catalog.

Three stages, each with a progress bar and a summary table:

1. **claims** -- construct every catalog record and check its claims with
   :mod:`symsmooth.verification.claims` (the limit ``expr -> target`` and the error bound at >= 200
   mpmath points);
2. **kernels** -- generate ``OUT/<name>.py`` for every entry (CPU and CUDA launchers);
3. **accuracy** -- measure each generated kernel against mpmath in ulps, by input regime.

The exit status is 1 if a claim fails, a kernel cannot be generated or a kernel misses an ulp
target; each miss is printed with its part, dtype, parameter, regime and worst input.
``--allow-misses`` accepts the misses documented in
:mod:`symsmooth.verification.known_misses` (and only those).  ``--no-kernels`` runs stage 1
alone.

Examples
--------
>>> report = check_entry("softplus", count=20)  # what stage 1 does for each entry
>>> report.limit_ok, report.bound_ok
(True, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from symsmooth.cli.app import app, console
from symsmooth.cli.kernel_tasks import (
    AllowMisses,
    Grid,
    kernel_task,
    kernel_weight,
    report_misses,
    report_table,
)


@dataclass(frozen=True)
class EntryReport:
    """Outcome of checking one catalog entry."""

    name: str
    limit_ok: bool
    bound_ok: bool | None  # None: no bound claimed
    ratio: float | None  # worst |expr - target| / bound
    seconds: float
    detail: str


def check_entry(name: str, count: int) -> EntryReport:
    """Build ``name`` and check its limit and bound claims; errors count as failures."""
    from symsmooth import pipeline

    start = time.perf_counter()
    try:
        record = pipeline.catalog_entry(name)
        limit, bound = pipeline.check_claims(record, count=count)
    except Exception as exc:  # noqa: BLE001 - one broken entry must not hide the others
        return EntryReport(
            name, False, False, None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
        )
    claimed = record.bound is not None
    details = [r.detail for r in (limit, bound) if not r.ok]
    return EntryReport(
        name,
        bool(limit.ok),
        bool(bound.ok) if claimed else None,
        bound.worst if claimed else None,
        time.perf_counter() - start,
        "; ".join(details),
    )


_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed}/{task.total}"),
    TimeElapsedColumn(),
)


def _mark(ok: bool | None) -> str:
    return "[dim]-[/]" if ok is None else ("[green]ok[/]" if ok else "[bold red]FAIL[/]")


def _summary(reports: list[EntryReport]) -> Table:
    table = Table(title="catalog checks")
    for column in ("name", "limit", "bound", "max error/bound", "time (s)"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for r in reports:
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
        table.add_row(r.name, _mark(r.limit_ok), _mark(r.bound_ok), ratio, f"{r.seconds:.1f}")
    return table


@app.command("build")
def build_cmd(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Check only these entries (repeatable).")
    ] = None,
    count: Annotated[int, typer.Option(help="Sample points of each bound check.", min=1)] = 200,
    out: Annotated[Path, typer.Option("--out", help="Folder for generated kernels.")] = Path(
        "generated"
    ),
    kernels: Annotated[
        bool, typer.Option("--kernels/--no-kernels", help="Also generate and verify kernels.")
    ] = True,
    allow_misses: AllowMisses = False,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", help="Worker processes (0: one per CPU, at most 4).", min=0),
    ] = 0,
    grid: Grid = False,
) -> None:
    """Derive, check, generate and verify the whole catalog (--grid: every kernel also over the
    parameter grid; off by default while issue #12's float64 misses at k != 1 are open)."""
    from symsmooth import pipeline
    from symsmooth.cli.jobs import default_jobs
    from symsmooth.cli.paths import check_folder

    names = [pipeline.catalog_entry(n).name for n in only] if only else pipeline.catalog_names()
    if kernels:
        check_folder(out, "--out")  # before minutes of claim checks, not after
    jobs = jobs or default_jobs()
    claims_ok = _check_claims(names, count, jobs)
    kernels_ok = _build_kernels(names, out, allow_misses, jobs, grid) if kernels else True
    if not (claims_ok and kernels_ok):
        raise typer.Exit(1)


def _check_claims(names: list[str], count: int, jobs: int = 1) -> bool:
    """Stage 1: every claim of every entry; prints one line each and a summary table."""
    from symsmooth.cli.jobs import each

    reports = []
    with Progress(*_COLUMNS, console=console, transient=True) as progress:
        task = progress.add_task(f"checking claims ({jobs} job(s))", total=len(names))
        for name, report in each(partial(_check_task, count=count), names, jobs):
            reports.append(report)
            progress.console.print(  # one line per entry as it finishes
                f"{_mark(report.limit_ok)} limit  {_mark(report.bound_ok)} bound  {name} "
                f"({report.seconds:.1f} s)",
                highlight=False,
            )
            progress.advance(task)
    reports.sort(key=lambda r: names.index(r.name))
    console.print(_summary(reports))
    failed = [r for r in reports if not r.limit_ok or r.bound_ok is False]
    for r in failed:
        console.print(f"[bold red]{r.name}[/]: {r.detail}", highlight=False)
    slowest = max(reports, key=lambda r: r.seconds, default=None)
    console.print(
        f"{len(reports) - len(failed)}/{len(reports)} entries pass"
        + (f"; slowest {slowest.name} ({slowest.seconds:.1f} s)" if slowest else ""),
        highlight=False,
    )
    return not failed


def _check_task(name: str, count: int) -> EntryReport:
    return check_entry(name, count)


def _build_kernels(
    names: list[str], out: Path, allow_misses: bool, jobs: int = 1, grid: bool = False
) -> bool:
    """Stages 2 and 3: generate each entry's kernel module, then verify it in ulps (``grid``:
    also at every parameter point of the sharpness grid and the domain edges)."""
    from symsmooth.cli.jobs import each

    reports, broken = [], []
    task_fn = partial(kernel_task, out=out, regenerate=True, **({"grid": True} if grid else {}))
    with Progress(*_COLUMNS, console=console, transient=True) as progress:
        task = progress.add_task(f"generating and verifying ({jobs} job(s))", total=len(names))
        for name, (status, result) in each(task_fn, names, jobs, weight=kernel_weight):
            if status == "ok":
                reports.append((names.index(name), result))
                progress.console.print(f"{_mark(result.ok)} {result.summary()}", highlight=False)
            else:
                broken.append((name, result))
            progress.advance(task)
    reports = [r for _, r in sorted(reports, key=lambda pair: pair[0])]
    console.print(report_table(reports))
    for name, detail in broken:
        console.print(f"[bold red]{name}[/]: no kernel: {detail}", highlight=False)
    missed = [r.name for r in reports if not r.ok]
    console.print(
        f"{len(reports)}/{len(names)} kernels generated into {out} and verified; "
        f"{len(reports) - len(missed)} meet every ulp target"
        + (f"; missed (see table and docs/codegen.md): {', '.join(missed)}" if missed else ""),
        highlight=False,
    )
    return report_misses(console, reports, allow_misses) and not broken
