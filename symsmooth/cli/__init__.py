"""Command-line interface: ``symsmooth ...``, a thin layer over :mod:`symsmooth.pipeline`.

Each command group lives in its own module listed in :data:`COMMAND_MODULES`; importing
it attaches its commands to the shared :data:`symsmooth.cli.app.app`.  No user error ends in a
traceback; :func:`main` maps what escapes a command to a message on stderr and an exit status:

* a :class:`~symsmooth.errors.SymsmoothError`: its message, exit 2;
* an ``OSError`` (a file where a folder is expected, a missing or unwritable folder, a name
  too long for the file system, a full disk): the path, the reason and what to do, exit 2;
* a usage error (unknown option, bad value): Click's message, exit 2;
* ``Ctrl-C``: exit 130;
* anything else is a bug in symsmooth: a one-line "internal error" and exit 3 (set
  ``SYMSMOOTH_TRACEBACK=1`` to see the traceback, and please report it).

A failed check (a claim, an ulp target) exits 1.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

from rich.markup import escape

from symsmooth.cli.app import app, err_console, one_line_warning
from symsmooth.cli.paths import describe_os_error
from symsmooth.errors import SymsmoothError

COMMAND_MODULES = (
    "symsmooth.cli.catalog_cmds",
    "symsmooth.cli.build_cmd",
    "symsmooth.cli.convolve_cmds",
    "symsmooth.cli.derive_cmds",
    "symsmooth.cli.codegen_cmds",
)

INTERNAL_ERROR = 3
"""Exit status of an unexpected exception (a bug): distinct from 1 (a failed check) and 2."""


def _attach_commands() -> None:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != module:
                raise


def _fail(message: str, code: int) -> None:
    # soft_wrap: one line however narrow the terminal (a path is never cut in two)
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``symsmooth`` console script (exits with the command's status)."""
    from symsmooth import budget

    _attach_commands()
    # --deadline sets the process-wide limit; a caller running main() in-process gets its own
    # setting back afterwards
    previous = (budget.configured(), os.environ.get("SYMSMOOTH_DEADLINE"))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            app(args=argv)  # standalone mode: usage errors exit 2, success exits 0
    except SymsmoothError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        _fail(describe_os_error(exc), 2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("SYMSMOOTH_TRACEBACK", "").strip() not in ("", "0"):
            raise
        _fail(
            f"internal error ({type(exc).__name__}: {str(exc)[:300]}); this is a bug in "
            "symsmooth: rerun with SYMSMOOTH_TRACEBACK=1 to see the traceback and please report "
            "it",
            INTERNAL_ERROR,
        )
    finally:
        budget.set_deadline(previous[0])
        if previous[1] is None:
            os.environ.pop("SYMSMOOTH_DEADLINE", None)
        else:
            os.environ["SYMSMOOTH_DEADLINE"] = previous[1]


__all__ = ["app", "main"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
