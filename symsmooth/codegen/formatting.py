"""The last stages of rendering: drop dead local stores, then run the ruff formatter.

Generated modules are meant to be copied into projects that lint and format in CI, so they
leave the generator ``ruff check``- and ``ruff format --check``-clean.  Two stages get them
there, both after the templates have been rendered (:func:`symsmooth.codegen.render.render`):

* :func:`drop_dead_stores` removes the assignments a function never reads.  The kinds already
  leave out the stores their formulas never read (:func:`symsmooth.codegen.emit.live`: the
  position ``pos_``, the length ``size_``); what is left for this pass is the pivoted
  gradient's text (an unused pivot load ``x_p``, ``Q0``, a finished ``s1``), which pyflakes
  would report (F841).  It works on the module's AST: a statement ``name = <pure
  expression>`` whose ``name`` is never loaded in its function goes, until nothing changes.
  Only arithmetic over names, constants and subscripts and calls of ``float``/``int``/
  ``float64``/``int64`` count as pure, so removing one changes no value.
* :func:`format_source` runs the ruff formatter on the module text, as SymForce formats the
  code it generates (with ``black``/``ruff``): the templates stay written for the reader of the
  template, and the layout of the output is one tool's, pinned in ``pyproject.toml``
  (``ruff==0.17.6``) so that ``generated/`` is byte-for-byte reproducible.  The formatter runs
  as the ``ruff`` binary of the ``ruff`` package, ``--isolated`` (no project configuration is
  read) with ``--line-length 100`` and without magic trailing commas (:data:`FORMAT_OPTIONS`).

Examples
--------
>>> print(drop_dead_stores("def f(x):\\n    pos_ = x + 1.0\\n    return x\\n"), end="")
def f(x):
    return x
>>> print(format_source("x = ( 1,2 )\\n"), end="")
x = (1, 2)
"""

from __future__ import annotations

import ast
import subprocess

from symsmooth.errors import CodegenError

LINE_LENGTH = 100
"""Line length of generated modules (the project's own)."""

RUFF_VERSION = "0.17.6"
"""The ruff release whose formatter lays out ``generated/`` (pinned in ``pyproject.toml``)."""

TIMEOUT_S = 60.0
"""Seconds one formatter run may take."""

FORMAT_OPTIONS = (
    "--config",
    "format.skip-magic-trailing-comma = true",
    "--config",
    "lint.isort.split-on-trailing-comma = false",
)
"""Options of the generator's formatter run on top of :func:`ruff_command`: a trailing comma
the templates leave (``f(a, b, )`` from a loop over arguments) does not force one argument a
line.  What comes out is also stable under ruff's defaults (``ruff format --check`` passes
without these options too; ``tests/test_generated_lint.py`` checks both).  The second option
only silences ruff's warning that the first does not suit isort's default."""

_PURE_CALLS = frozenset({"float", "int", "float64", "int64"})
_PURE_NODES = (
    ast.Name,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.BoolOp,
    ast.IfExp,
    ast.Subscript,
    ast.Attribute,
    ast.Slice,
    ast.Tuple,
    ast.Load,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
)


def _pure(node: ast.AST) -> bool:
    """Whether evaluating ``node`` has no effect besides its value (and cannot fail in a way
    the kernel relies on): arithmetic, names, constants, subscripts, numeric casts."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in _PURE_CALLS):
                return False
            if sub.keywords:
                return False
        elif not isinstance(sub, _PURE_NODES) and not isinstance(sub, ast.Call):
            return False
    return True


def _dead_lines(tree: ast.Module, lines: list[str]) -> set[int]:
    """0-based numbers of the lines holding a dead store (one statement on its own lines)."""
    dead: set[int] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        if any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(func)):
            continue  # a store there may be read elsewhere
        names = (n for n in ast.walk(func) if isinstance(n, ast.Name))
        loaded = {n.id for n in names if not isinstance(n.ctx, ast.Store)}
        for parent in ast.walk(func):
            for field in ("body", "orelse", "finalbody"):
                body = getattr(parent, field, None)
                if not isinstance(body, list) or len(body) < 2:
                    continue  # the only statement of a block stays (the block would be empty)
                for stmt in body:
                    if not (
                        isinstance(stmt, ast.Assign)
                        and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id not in loaded
                        and _pure(stmt.value)
                    ):
                        continue
                    first, last = stmt.lineno - 1, stmt.end_lineno - 1
                    alone = lines[first][: stmt.col_offset].strip() == "" and (
                        lines[last][stmt.end_col_offset :].strip() == ""
                    )
                    if alone:
                        dead.update(range(first, last + 1))
    return dead


def drop_dead_stores(text: str) -> str:
    """``text`` without the pure assignments to locals that their function never reads.

    Repeated until nothing changes (a store read only by a dead store is dead too).  Module
    level and class bodies are left alone; so are a block's only statement and a statement
    that shares its line with another.

    Examples
    --------
    >>> src = "def f(x):\\n    a = x * 2.0\\n    b = a + 1.0\\n    c = g(x)\\n    return x\\n"
    >>> print(drop_dead_stores(src), end="")
    def f(x):
        c = g(x)
        return x
    """
    while True:
        lines = text.splitlines(keepends=True)
        dead = _dead_lines(ast.parse(text), lines)
        if not dead:
            return text
        text = "".join(line for at, line in enumerate(lines) if at not in dead)


def string_literal(text: str, indent: int = 0, width: int = LINE_LENGTH) -> str:
    """``text`` as a Python string literal that fits in ``width`` columns at ``indent``: one
    literal, or implicitly concatenated pieces split after ``", "``, one per line (the
    formatter joins them again where they fit).  A Jinja filter of the templates (the CUDA
    signature strings).

    Examples
    --------
    >>> string_literal("void(float64, int64)")
    '"void(float64, int64)"'
    >>> print(string_literal("void(float64, int64)", indent=4, width=24))
    "void(float64, "
        "int64)"
    """
    if '"' in text or "\\" in text or not text.isascii():
        return repr(text)  # not the case of any signature; kept correct all the same
    room = width - indent - 3  # the quotes and a trailing comma
    pieces: list[str] = []
    for part in text.split(", "):
        if pieces and len(pieces[-1]) + len(part) + 2 <= room:
            pieces[-1] += ", " + part
        else:
            if pieces:
                pieces[-1] += ", "
            pieces.append(part)
    return ("\n" + " " * indent).join(f'"{piece}"' for piece in pieces)


def ruff_binary() -> str:
    """Path of the ``ruff`` executable of the installed ``ruff`` package.

    Raises :class:`CodegenError` with the install command when the package is missing.
    """
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        raise CodegenError(
            "formatting generated code needs the ruff formatter: "
            f"pip install 'ruff=={RUFF_VERSION}' (a dependency of symsmooth)"
        ) from None
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:  # pragma: no cover - a broken ruff installation
        raise CodegenError(
            "the ruff package is installed without its binary; reinstall it: "
            f"pip install --force-reinstall 'ruff=={RUFF_VERSION}'"
        ) from None


def ruff_command(*args: str) -> list[str]:
    """The ruff command line the generator (and the tests) run: ``ruff <args> --isolated``
    with the generated modules' line length.

    >>> ruff_command("format", "-")[1:]
    ['format', '-', '--isolated', '--line-length', '100']
    """
    return [ruff_binary(), *args, "--isolated", "--line-length", str(LINE_LENGTH)]


def format_source(text: str, name: str = "module") -> str:
    """``text`` with its imports sorted (``ruff check --select I --fix``, the isort rules a
    project's lint applies) and laid out by the ruff formatter (``ruff format --isolated
    --line-length 100``).

    ``name`` is the module's name, for ruff's messages and for ours.  A ruff run that fails or
    runs past :data:`TIMEOUT_S` is a :class:`CodegenError`.
    """
    stdin = ("--stdin-filename", f"{name}.py", "-")
    text = _ruff(
        ("check", "--select", "I", "--fix", "--exit-zero", *FORMAT_OPTIONS, *stdin),
        text,
        name,
        "import sorter",
    )
    return _ruff(("format", *FORMAT_OPTIONS, *stdin), text, name, "formatter")


def _ruff(args: tuple, text: str, name: str, what: str) -> str:
    """``text`` through ``ruff <args>`` on stdin: its stdout, or a :class:`CodegenError`."""
    try:
        done = subprocess.run(
            ruff_command(*args),
            input=text,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CodegenError(
            f"{name}: the ruff {what} took more than {TIMEOUT_S:g} s; rerun, or check the "
            f"ruff installation (pip install 'ruff=={RUFF_VERSION}')"
        ) from None
    except OSError as exc:
        raise CodegenError(
            f"{name}: cannot run the ruff {what} ({exc}); "
            f"pip install --force-reinstall 'ruff=={RUFF_VERSION}'"
        ) from None
    if done.returncode != 0:
        raise CodegenError(
            f"{name}: the ruff {what} refused the generated module "
            f"({done.stderr.strip() or 'exit status ' + str(done.returncode)}); this is a bug in "
            "symsmooth's templates, please report it with the expression"
        )
    return done.stdout
