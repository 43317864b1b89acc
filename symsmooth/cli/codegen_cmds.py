"""Code generation commands: ``symsmooth gen`` and ``symsmooth verify``."""

from __future__ import annotations

import shlex
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
from symsmooth.errors import CodegenError, SymsmoothError


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _names(names: list[str], everything: bool) -> list[str]:
    from symsmooth import pipeline

    if everything:
        return pipeline.catalog_names()
    if not names:
        raise CodegenError("name at least one catalog entry, or pass --all (see `symsmooth list`)")
    for name in names:
        pipeline.catalog_entry(name)  # unknown names fail early with close matches
    return list(names)


TARGET_CHOICES = {
    "cpu": ("cpu",),
    "cuda": ("cpu", "cuda"),
    "all": ("cpu", "cuda"),
    "torch": ("torch",),
    "jax": ("jax",),
}
"""``--target`` -> code generation targets (CUDA kernels live in the CPU module; ``torch`` and
``jax`` write the native modules ``<name>_torch.py`` / ``<name>_jax.py`` alone)."""


def _targets(target: str) -> tuple[str, ...]:
    return TARGET_CHOICES.get(target, (target,))  # an unknown one fails in pipeline.generate


@app.command("gen")
def gen_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Catalog entries to generate.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Generate the whole catalog.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("generated"),
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="cpu, cuda (adds the CUDA launchers), all (cpu and cuda), or a native module: "
            "torch or jax (elementwise kernels; docs/targets.md).",
        ),
    ] = "all",
    expr: Annotated[
        str | None, typer.Option("--expr", help="A user's expression (instead of NAMES).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Kernel name for --expr.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter of --expr (repeatable).")
    ] = None,
    check: Annotated[
        bool, typer.Option("--verify", help="Verify --expr's kernel in ulps.")
    ] = False,
) -> None:
    """Generate Numba kernels into OUT/<name>.py, or native PyTorch/JAX modules into
    OUT/<name>_torch.py / OUT/<name>_jax.py (catalog entries or a user's expression)."""
    from symsmooth import pipeline

    if expr is not None:
        if not name:
            raise CodegenError("--expr needs --name NAME (a Python identifier for the kernel)")
        from symsmooth.identifiers import check_distinct, check_name

        # names first: nothing is parsed, built or written for a name that cannot be used
        check_name(name, "kernel")
        params = check_distinct([check_name(p, "parameter") for p in param or []], "parameter")
        command = f"symsmooth gen --expr {shlex.quote(expr)} --name {name}" + "".join(
            f" --param {p}" for p in params
        )
        spec = pipeline.spec_from_expression(pipeline.parse(expr), name, params, command=command)
        for path in pipeline.generate([spec], out=out, targets=_targets(target)):
            console.print(f"wrote {path}")
        if check:
            report = pipeline.verify(spec, out=out)
            console.print(report_table([report]))
            if not report_misses(console, [report], allow_misses=False):
                raise typer.Exit(1)
        return
    chosen = _names(names or [], everything)
    paths = []
    with _progress() as progress:
        task = progress.add_task("generating", total=len(chosen))
        for entry in chosen:
            progress.update(task, description=f"generating {entry}")
            try:
                paths += pipeline.generate([entry], out=out, targets=_targets(target))
            except SymsmoothError as exc:  # a catalog entry over its deadline, ...
                if not everything:
                    raise
                console.print(f"[yellow]skipped {entry}:[/] {exc}")
            progress.advance(task)
    console.print(f"wrote {len(paths)} module(s) to {out}")


def regime_table(report) -> Table:
    """A rich table of one kernel: max and median ulp per part, dtype and regime."""
    table = Table(title=f"{report.name}: ulp vs mpmath by regime")
    for column in ("part", "dtype", "regime", "points", "max ulp", "median ulp", "target"):
        table.add_column(column, justify="left" if column in ("part", "regime") else "right")
    for r in report.rows:
        mark = "" if r.ok else " [red]missed[/]"
        table.add_row(
            r.part,
            r.dtype,
            r.regime,
            str(r.count),
            f"{r.max_ulp:.3g}{mark}",
            f"{r.median_ulp:.3g}",
            f"{r.target:g}",
        )
    return table


def _param_values(items: list[str]) -> dict[str, float]:
    """``--param NAME=VALUE`` options as ``{name: value}``: a valid name, a finite number.

    >>> _param_values(["k=3", "alpha=0.25"])
    {'k': 3.0, 'alpha': 0.25}
    """
    import math

    from symsmooth.identifiers import check_name

    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: write NAME=VALUE, e.g. k=3", param_hint="--param")
        check_name(name.strip(), "parameter")
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r}: {text!r} is not a number", param_hint="--param"
            ) from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{item!r}: the value must be finite", param_hint="--param")
        if name.strip() in values:
            raise typer.BadParameter(f"{name.strip()} given twice", param_hint="--param")
        values[name.strip()] = value
    return values


@app.command("verify")
def verify_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog entries to verify (default: all).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder of generated modules.")] = Path(
        "generated"
    ),
    long_n: Annotated[
        int, typer.Option("--long-n", help="Length of the long-row regime.")
    ] = 100_000,
    per_regime: Annotated[
        int, typer.Option("--per-regime", help="Elementwise points per regime.")
    ] = 48,
    regenerate: Annotated[
        bool, typer.Option("--regenerate", help="Regenerate before checking.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", help="Worker processes (0: one per CPU, at most 4).", min=0),
    ] = 0,
    regimes: Annotated[
        bool, typer.Option("--regimes", help="Also print max/median ulp of every regime.")
    ] = False,
    allow_misses: AllowMisses = False,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="NAME=VALUE: measure at this parameter value (repeatable)."),
    ] = None,
    grid: Grid = False,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="cpu (the Numba module), or torch / jax: the native module NAME_<target>.py.",
        ),
    ] = "cpu",
) -> None:
    """Measure generated kernels against mpmath (ulps by regime); exit 1 if a target is missed."""
    from symsmooth.cli.jobs import default_jobs, each

    chosen = _names(names or [], not names)
    jobs = jobs or default_jobs()
    values = _param_values(param or [])
    if target not in ("cpu", "torch", "jax"):
        raise typer.BadParameter(f"{target!r}: use cpu, torch or jax", param_hint="--target")
    task_fn = partial(
        kernel_task, out=out, regenerate=regenerate, per_regime=per_regime, long_n=long_n
    )
    if target != "cpu":
        task_fn = partial(task_fn, target=target)
    if values:
        task_fn = partial(task_fn, param_values=values)
    if grid and not values:
        task_fn = partial(task_fn, grid=True)
    reports, failed = [], []
    with _progress() as progress:
        task = progress.add_task(f"verifying ({jobs} job(s))", total=len(chosen))
        for entry, (status, result) in each(task_fn, chosen, jobs, weight=kernel_weight):
            if status == "ok":
                reports.append((chosen.index(entry), result))
                progress.console.print(result.summary(), highlight=False)
            elif status == "skipped":
                progress.console.print(f"[yellow]skipped {entry}:[/] {result}")
            else:
                failed.append(entry)
                progress.console.print(f"[bold red]{entry}:[/] {result}", highlight=False)
            progress.advance(task)
    reports = [r for _, r in sorted(reports, key=lambda pair: pair[0])]
    for report in reports if regimes else ():
        console.print(regime_table(report))
    console.print(report_table(reports))
    if not report_misses(console, reports, allow_misses) or failed:
        raise typer.Exit(1)
