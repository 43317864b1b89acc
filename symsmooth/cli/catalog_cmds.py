"""Catalog commands: ``symsmooth list``, ``symsmooth show NAME``, ``symsmooth plot NAME``.

Unknown names raise :class:`~symsmooth.errors.CatalogError` (with close matches), which
:func:`symsmooth.cli.main` prints on stderr with exit status 2.

Examples
--------
>>> from symsmooth.cli import main
>>> try:
...     main(["show", "softplus_reluu"])
... except SystemExit as exit:
...     print(exit.code)
2
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import sympy as sp
import typer
from rich.table import Table
from rich.text import Text

from symsmooth.cli.app import app, console, err_console
from symsmooth.records import Smoothing


def _catalog():  # the catalog, reached through the wiring (cli -> pipeline)
    from symsmooth import pipeline

    return pipeline


def _limit(record: Smoothing) -> str:
    return f"{record.param} -> {record.limit}"


def _bound(record: Smoothing, digits: int | None = None) -> str:
    """``str(bound)``; with ``digits``, long decimal constants are shortened for tables."""
    if record.bound is None:
        return "-"
    if digits is None:
        return str(record.bound)
    floats = {f: sp.Float(f, digits) for f in record.bound.atoms(sp.Float)}
    return str(record.bound.xreplace(floats))


@app.command("list")
def list_cmd(
    plain: Annotated[
        bool, typer.Option("--plain", help="Tab-separated output, one entry a line.")
    ] = False,
) -> None:
    """List every construction in the catalog: name, target, parameter, bound, source."""
    records = _catalog().catalog_entries()
    columns = ("name", "target", "parameter", "bound", "source")
    rows = [(r.name, str(r.target), _limit(r), _bound(r, 6), r.source) for r in records]
    if plain:
        print("\t".join(columns))
        for row in rows:
            print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
        return
    table = Table(title=f"symsmooth catalog ({len(rows)} constructions)", show_lines=False)
    styles = ("bold cyan", "", "green", "magenta", "dim")
    for column, style in zip(columns, styles, strict=True):
        wrap = column != "source"  # long citations are cut with "..."; --plain has them whole
        table.add_column(
            column, style=style, overflow="fold" if wrap else "ellipsis", no_wrap=not wrap
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: no markup (x[i] is not a tag)
    console.print(table)


def _docstring_summary(name: str) -> str:
    doc = inspect.getdoc(_catalog().catalog_builder(name)) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Catalog name (see `symsmooth list`).")],
    latex: Annotated[
        bool, typer.Option("--latex", help="Also print LaTeX of target, surrogate, bound.")
    ] = False,
) -> None:
    """Show one construction: target, surrogate, parameter, bound, domain, source."""
    record = _catalog().catalog_entry(name)
    fields = [
        ("name", record.name),
        ("description", record.description or "-"),
        ("target", str(record.target)),
        ("surrogate", str(record.expr)),
        ("parameter", f"{record.param} (surrogate -> target as {_limit(record)})"),
        (
            "bound",
            _bound(record) + ("" if record.bound is None else "  (sup |surrogate - target|)"),
        ),
        ("variables", ", ".join(map(str, record.variables))),
        ("kind", record.kind + (f" over {record.index} = 1..{record.size}" if record.size else "")),
        ("fixed", ", ".join(f"{s} = {v}" for s, v in record.fixed) or "-"),
        ("domain", record.domain),
        ("source", record.source),
        ("method", record.method),
        ("about", _docstring_summary(name) or "-"),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in fields:
        table.add_row(key, Text(value))
    console.print(table, highlight=False)
    if latex:
        for key, expr in (
            ("target", record.target),
            ("surrogate", record.expr),
            ("bound", record.bound),
        ):
            if expr is not None:
                print(f"{key} (LaTeX): {sp.latex(expr)}")


def _parse_values(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 < v < float("inf") for v in values):
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of positive numbers; write e.g. 1,2,5,10",
            param_hint="--values",
        )
    return values


@app.command("plot")
def plot_cmd(
    name: Annotated[str, typer.Argument(help="Catalog name (see `symsmooth list`).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Image file to write (.png, .pdf, .svg, ...).")
    ],
    values: Annotated[
        str | None,
        typer.Option(help="Sharpness values (or widths), comma-separated, e.g. 1,2,5,10."),
    ] = None,
) -> None:
    """Plot the target, the surrogate at 3-4 sharpness values, and the error with its bound."""
    record = _catalog().catalog_entry(name)
    wanted = _parse_values(values)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        err_console.print("plotting needs matplotlib: pip install 'symsmooth[plot]'")
        raise typer.Exit(2) from None
    from matplotlib.figure import Figure

    from symsmooth.cli.paths import check_file
    from symsmooth.pipeline import plot

    check_file(output, "-o", Figure().canvas.get_supported_filetypes())  # before the work
    plot(record, output, wanted)
    console.print(f"wrote {output}", highlight=False)
