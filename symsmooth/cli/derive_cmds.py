"""Derivation commands: ``symsmooth derive gradient|hessian|newton|em`` and
``symsmooth docs derivations``.

Expressions given as text go through :func:`symsmooth.text.formula.parse` (no ``eval``); a catalog
name (``symsmooth list``) selects that construction's surrogate.
"""

from __future__ import annotations

from pathlib import Path

import typer

from symsmooth.cli.app import app, console
from symsmooth.errors import CatalogError, DerivationError

derive_app = typer.Typer(
    help="Derive gradients, Hessians, Newton steps and EM/MM updates, with every step checked.",
    no_args_is_help=True,
)
docs_app = typer.Typer(help="Generate documentation pages from the code.", no_args_is_help=True)
app.add_typer(derive_app, name="derive")
app.add_typer(docs_app, name="docs")

OUT_DIR = typer.Option(Path("docs/derivations"), help="Output folder.")
MARKDOWN = typer.Option(False, "--markdown", help="Print Markdown with LaTeX instead of text.")


def _expression(text: str):
    """``(expr, variables)`` from a catalog name or formula text.

    A bare name that is not in the catalog is refused (a misspelt entry would otherwise be read
    as the formula ``name``, whose gradient is 1); a formula is anything else, e.g. ``x**2``.
    """
    from symsmooth import pipeline

    name = text.strip()
    if name in pipeline.catalog_names() or name.isidentifier():
        try:
            record = pipeline.catalog_entry(name)  # CatalogError naming close matches
        except CatalogError as exc:
            raise CatalogError(
                f"{exc} A bare name is read as a catalog entry; to differentiate a formula, "
                f"write one (e.g. '{name}**2')."
            ) from None
        return record.expr, tuple(record.variables)
    expr = pipeline.parse(text)
    variables = tuple(
        sorted(expr.free_symbols - {s for s in expr.free_symbols if s.is_positive}, key=str)
    )
    return expr, variables


def _pick(variables: tuple, wrt: str | None, expr):
    if wrt is None:
        if not variables:
            raise DerivationError(f"{expr} has no variable to differentiate; pass --wrt NAME")
        return variables[0]
    for v in variables + tuple(expr.free_symbols):
        if str(getattr(v, "label", v)) == wrt:
            return v
    raise DerivationError(
        f"no variable named {wrt!r} in {expr}; choose one of {[str(v) for v in variables]}"
    )


def _show(derivation, markdown: bool) -> None:
    console.print(
        derivation.to_markdown() if markdown else derivation.to_text(),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@derive_app.command("gradient")
def gradient_cmd(
    expression: str, wrt: str = typer.Option(None, help="Variable name."), markdown: bool = MARKDOWN
) -> None:
    """Gradient (closed vector form for n-ary entries), e.g. ``logsumexp_max``."""
    from symsmooth.pipeline import gradient_derivation

    expr, variables = _expression(expression)
    _show(gradient_derivation(expr, _pick(variables, wrt, expr)), markdown)


@derive_app.command("hessian")
def hessian_cmd(
    expression: str, wrt: str = typer.Option(None, help="Variable name."), markdown: bool = MARKDOWN
) -> None:
    """One Hessian entry d^2/dx_j dx_l (or d^2/dx^2 for a scalar)."""
    from symsmooth.pipeline import hessian_derivation

    expr, variables = _expression(expression)
    _show(hessian_derivation(expr, _pick(variables, wrt, expr)), markdown)


@derive_app.command("newton")
def newton_cmd(
    expression: str, wrt: str = typer.Option(None, help="Variable name."), markdown: bool = MARKDOWN
) -> None:
    """Newton step from the tangent parabola, e.g. ``"x**4 - 3*x"``."""
    from symsmooth.pipeline import newton_step

    expr, variables = _expression(expression)
    _show(newton_step(expr, _pick(variables, wrt, expr)), markdown)


@derive_app.command("em")
def em_cmd(
    name: str = typer.Argument(..., help="One of: kmeans, plsa, capsule, imle."),
    markdown: bool = MARKDOWN,
) -> None:
    """A worked EM/MM derivation from the seed articles."""
    from symsmooth.pipeline import em_step

    _show(em_step(name), markdown)


@docs_app.command("derivations")
def docs_derivations_cmd(out: Path = OUT_DIR) -> None:
    """Regenerate docs/derivations/ from the Derivation records."""
    from symsmooth.pipeline import write_derivation_pages

    for path in write_derivation_pages(out):
        console.print(str(path), markup=False)
