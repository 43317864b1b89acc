"""``symsmooth build``: derive and check the whole catalog.

Until code generation lands, building means: construct every catalog record and check its
claims with :mod:`symsmooth.verify.claims` (the limit ``expr -> target`` and the error bound
at >= 200 mpmath points).  A summary table shows, per entry, whether each claim holds, the
largest ``|expr - target| / bound`` seen and the time taken; the exit status is 1 if any
check fails (or raises), 0 otherwise.

Examples
--------
>>> from symsmooth.cli import main
>>> try:
...     main(["build", "--only", "softplus", "--count", "20"])
... except SystemExit as exit:
...     print("exit", exit.code)
exit 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from symsmooth.cli.app import app, console


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
    from symsmooth.smoothing import catalog
    from symsmooth.verify import claims

    start = time.perf_counter()
    try:
        record = catalog.get(name)
        limit = claims.check_limit(record)
        bound = claims.check_bound(record, count=count)
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
) -> None:
    """Derive and check the whole catalog (limits and error bounds, with mpmath)."""
    from symsmooth.smoothing import catalog

    names = [catalog.get(n).name for n in only] if only else catalog.names()
    reports = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("checking", total=len(names))
        for name in names:
            progress.update(task, description=f"checking {name}")
            report = check_entry(name, count)
            reports.append(report)
            progress.console.print(  # one line per entry as it finishes
                f"{_mark(report.limit_ok)} limit  {_mark(report.bound_ok)} bound  {name} "
                f"({report.seconds:.1f} s)",
                highlight=False,
            )
            progress.advance(task)
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
    if failed:
        raise typer.Exit(1)
