"""The shared Typer application; command modules attach their commands to :data:`app`."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="symsmooth",
    help="Smooth approximations of non-smooth functions: derive, verify, generate kernels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Smooth approximations of non-smooth functions: derive, verify, generate kernels."""
