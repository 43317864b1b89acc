"""Command-line interface: ``symsmooth ...``, a thin layer over :mod:`symsmooth.pipeline`.

Each command group lives in its own module listed in :data:`COMMAND_MODULES`; importing
it attaches its commands to the shared :data:`symsmooth.cli.app.app`.  Every
:class:`~symsmooth.errors.SymsmoothError` becomes a clear message on stderr and exit 2,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys

from rich.markup import escape

from symsmooth.cli.app import app, err_console
from symsmooth.errors import SymsmoothError

COMMAND_MODULES = (
    "symsmooth.cli.catalog_cmds",
    "symsmooth.cli.build_cmd",
    "symsmooth.cli.convolve_cmds",
    "symsmooth.cli.derive_cmds",
    "symsmooth.cli.codegen_cmds",
)


def _attach_commands() -> None:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != module:
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``symsmooth`` console script (exits with the command's status)."""
    _attach_commands()
    try:
        app(args=argv)  # standalone mode: usage errors exit 2, success exits 0
    except SymsmoothError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
