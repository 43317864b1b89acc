"""A recorder for tests of hostile input: dangerous builtins replaced by spies.

Inside :func:`recorder`, calls of ``open``/``input``/``breakpoint``, ``exec``/``eval``/``compile``
of *source text* (module code objects that importlib runs are fine), ``os.system``/``os.popen``
and imports of ``os``/``subprocess``/``shutil``/... are recorded; the body runs in an empty
folder, and a file ``pwned`` appearing there fails the test.  Reading data goes through
``io.open`` (pathlib), which is not a spy: only code that a string smuggled in would run is.
"""

from __future__ import annotations

import ast
import builtins
import os
from contextlib import contextmanager

DANGEROUS_MODULES = {"os", "subprocess", "shutil", "posix", "socket", "pty", "ctypes"}


@contextmanager
def recorder(monkeypatch, tmp_path):
    """Yield the list of dangerous calls seen while the body runs (it should stay empty)."""
    calls: list[str] = []
    real_import = builtins.__import__
    real_compile = builtins.compile

    def spy(name):
        def record(*args, **kwargs):
            calls.append(name)
            raise RuntimeError(f"{name} called on data")

        return record

    def guarded_import(name, *args, **kwargs):
        if name.split(".")[0] in DANGEROUS_MODULES:
            calls.append(f"import {name}")
        return real_import(name, *args, **kwargs)

    def source_only(name, real):
        def run(source, *args, **kwargs):
            if isinstance(source, str | bytes):
                calls.append(name)
            return real(source, *args, **kwargs)

        return run

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:  # ast.parse compiles to a tree, never to code
            calls.append("compile")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.chdir(tmp_path)
        for name in ("open", "input", "breakpoint"):
            patch.setattr(builtins, name, spy(name))
        for name in ("exec", "eval"):  # importlib execs module code objects: only text counts
            patch.setattr(builtins, name, source_only(name, getattr(builtins, name)))
        patch.setattr(builtins, "compile", ast_only_compile)
        patch.setattr(builtins, "__import__", guarded_import)
        patch.setattr(os, "system", spy("os.system"))
        patch.setattr(os, "popen", spy("os.popen"))
        yield calls
    assert not (tmp_path / "pwned").exists()
