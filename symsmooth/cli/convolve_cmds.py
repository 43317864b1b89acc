"""Convolution commands: ``symsmooth convolve TARGET`` and ``symsmooth kernels``.

Examples
--------
>>> from symsmooth.cli import main
>>> try:
...     main(["convolve", "Max(x, 0)", "--kernel", "logistic"])
... except SystemExit as exit:
...     print(exit.code)
closed form: softplus(t*x)/t
...
0
"""

from __future__ import annotations

from typing import Annotated

import sympy as sp
import typer
from rich.table import Table

from symsmooth.cli.app import app, console


def _terms(text: str | None) -> tuple | None:
    if text is None:
        return None
    from symsmooth.errors import ConvolutionError

    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConvolutionError(f"--terms takes 'M,N' (two non-negative integers), got {text!r}")
    return int(parts[0]), int(parts[1])


def _show(label: str, value, latex: bool) -> None:
    text = sp.latex(value) if latex else str(value)
    console.print(f"{label}: {text}", highlight=False, markup=False)


@app.command("convolve")
def convolve_cmd(
    target: Annotated[str, typer.Argument(help="Target formula, e.g. 'Max(x, 0)'.")],
    kernel: Annotated[str, typer.Option("--kernel", "-k", help="Kernel name.")] = "gaussian",
    width: Annotated[str | None, typer.Option(help="Width symbol or number.")] = None,
    var: Annotated[str, typer.Option("--var", help="Convolution variable.")] = "x",
    latex: Annotated[bool, typer.Option("--latex", help="Print LaTeX.")] = False,
    route: Annotated[str, typer.Option(help="'convolve' or 'step'.")] = "convolve",
    principal_value: Annotated[
        bool, typer.Option("--principal-value", help="Accept symmetric principal values.")
    ] = False,
    terms: Annotated[str | None, typer.Option(help="Series truncation 'M,N'.")] = None,
    save: Annotated[
        str | None, typer.Option("--save", help="Save to the user catalog under this name.")
    ] = None,
) -> None:
    """Smooth TARGET by convolution with a kernel; print closed form, bound and method."""
    from symsmooth import pipeline
    from symsmooth.identifiers import check_name

    check_name(var, "variable")  # before any work: the name reaches records and code
    if save is not None:
        user_catalog = pipeline.user_catalog()
        problem = user_catalog.entry_name_problem(save)
        if problem is not None:
            raise user_catalog.InvalidEntryName(problem)

    record = pipeline.convolve(
        target,
        var,
        kernel,
        width,
        route=route,
        principal_value=principal_value,
        terms=_terms(terms),
        name=save,
    )
    _show("closed form", record.expr, latex)
    _show("bound", "unknown" if record.bound is None else record.bound, latex)
    console.print(f"method: {record.method}", highlight=False, markup=False)
    console.print(f"domain: {record.domain}", highlight=False, markup=False)
    for extra in ("fourier", "truncated", "truncation_bound"):
        value = getattr(record, extra, None)
        if value is not None:
            _show(extra.replace("_", " "), value, latex)
    if save:
        file = pipeline.user_catalog().save(save, record)
        console.print(f"saved as {save!r} in {file}", highlight=False, markup=False)


def _moments(k) -> str:
    order = k.moment_order
    return "all" if order is None else f"up to {order}"


def _smooths(k) -> str:
    order = k.moment_order
    if order is None:
        return "any piecewise polynomial; floor family"
    if order == 0:
        return "bounded targets (steps, sign, clip, box); floor/x only as principal value"
    return f"piecewise polynomials of degree <= {order}; floor family"


@app.command("kernels")
def kernels_cmd() -> None:
    """List the approximate-identity kernels: density, support, moments, what they smooth."""
    from symsmooth.pipeline import convolution_kernels as kernels

    table = Table("name", "width", "density K(u)", "support", "moments", "smooths")
    for name in kernels.names():
        k = kernels.get(name)
        support = f"[{k.support[0]}, {k.support[1]}]"
        table.add_row(
            name, f"{k.width} -> {k.limit}", str(k.density), support, _moments(k), _smooths(k)
        )
    console.print(table)
