"""The shared Typer application; command modules attach their commands to :data:`app`.

The root callback holds the options of every command: ``--version`` and ``--deadline``.

Examples
--------
>>> from symsmooth.cli import main
>>> try:
...     main(["--version"])
... except SystemExit as exit:
...     print(exit.code)
symsmooth 0.1.0
0
"""

from __future__ import annotations

import math
import os
import sys
from typing import Annotated

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


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the CLI: symsmooth's own warnings as ``warning: ...`` (one
    line, no source location); any other warning as Python shows it."""
    if category.__module__.split(".")[0] != "symsmooth":
        import warnings

        text = warnings.formatwarning(message, category, filename, lineno, line)
    else:
        text = f"warning: {message}\n"
    try:
        (file or sys.stderr).write(text)
    except OSError:  # a closed stderr must not turn a warning into an error
        pass


def _version(value: bool) -> None:
    if value:
        from symsmooth.version import __version__

        print(f"symsmooth {__version__}")
        raise typer.Exit(0)


def _deadline(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(
            f"{value} is not a number of seconds; give a finite number >= 0 (0: no limit)"
        )
    return value


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            callback=_deadline,
            metavar="SECONDS",
            help="Time limit of each symbolic stage (parse, simplify, convolve, stabilize, "
            "derive, gen); 0: no limit.  Default 20, or $SYMSMOOTH_DEADLINE.",
        ),
    ] = None,
) -> None:
    """Smooth approximations of non-smooth functions: derive, verify, generate kernels."""
    if deadline is not None:
        from symsmooth.budget import set_deadline

        set_deadline(deadline)
        # worker processes (--jobs) are spawned: they read the limit from the environment
        os.environ["SYMSMOOTH_DEADLINE"] = f"{deadline:g}" if deadline > 0 else "off"
