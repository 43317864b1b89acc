"""Run the ``symsmooth`` command line in-process, through :func:`symsmooth.cli.main`.

``main`` is what the console script runs: it attaches every command and maps errors to exit
statuses (a ``SymsmoothError`` or ``OSError``: 2).  Typer's ``CliRunner.invoke(app, ...)``
skips both, so a refused name would show as "No such command" (exit 2 for the wrong reason)
or as an uncaught exception (exit 1).
"""

from __future__ import annotations

import importlib

from symsmooth.cli import main

cli_app = importlib.import_module("symsmooth.cli.app")


def run(argv, capsys, monkeypatch) -> tuple[int, str, str]:
    """``symsmooth argv`` in-process on a wide console: (exit status, stdout, stderr)."""
    monkeypatch.setattr(cli_app.console, "width", 100_000)
    monkeypatch.setattr(cli_app.err_console, "width", 100_000)
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err
