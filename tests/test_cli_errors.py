"""No traceback for any user error: every case of issue 10 (and the usage errors around them)
run through the real CLI entry point, in process, in a temporary folder.

Each case asserts the exit status (2 for a user error, 1 for a failed check, 0 for a clean
result), a useful message (the path, the option or what to do) and no "Traceback" anywhere.
"Unwritable" folders are made read-only *and*, since root may write into a read-only folder,
every write into them through Python's file functions raises ``PermissionError`` (EACCES),
as the system would.
"""

from __future__ import annotations

import builtins
import errno
import importlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run

from symsmooth import __version__, budget
from symsmooth.cli import main

cli_app = importlib.import_module("symsmooth.cli.app")


def deny_writes(monkeypatch, folder: Path) -> None:
    """Make ``folder`` unwritable: read-only mode, and EACCES for every write into it."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    root = folder.resolve()

    def inside(path) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False  # a file descriptor
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(root)

    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))

    real_open, real_os_open = builtins.open, os.open
    real_mkdir, real_replace, real_rename = os.mkdir, os.replace, os.rename

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and inside(file):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path) and not os.path.exists(path):
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    def guarded_move(real):
        def move(src, dst, *args, **kwargs):
            if inside(dst):
                refuse(dst)
            return real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(os, "replace", guarded_move(real_replace))
    monkeypatch.setattr(os, "rename", guarded_move(real_rename))


LONG = "a" * 300

# id: (argv, environment, unwritable folder or None, exit status, message pattern)
CASES = {
    "gen --out a file": (["gen", "softplus", "--out", "afile"], {}, None, 2, r"'afile'.*folder"),
    "gen --out under a file": (
        ["gen", "softplus", "--out", "afile/sub"],
        {},
        None,
        2,
        r"afile/sub.*folder",
    ),
    "gen --all --out unwritable": (
        ["gen", "--all", "--out", "ro/gen"],
        {},
        "ro",
        2,
        r"ro/gen.*(Permission denied|permission)",
    ),
    "gen --expr --out a file": (
        ["gen", "--expr", "x + 1", "--name", "kx", "--out", "afile"],
        {},
        None,
        2,
        r"afile",
    ),
    "gen 300-character --name": (
        ["gen", "--expr", "x + 1", "--name", LONG, "--out", "gen"],
        {},
        None,
        2,
        r"(longer than|too long)",
    ),
    "gen --expr log(x) --verify": (
        ["gen", "--expr", "log(x)", "--name", "lg", "--verify", "--out", "gen"],
        {},
        None,
        0,
        r"",  # a clean result: the table says ok (checked below)
    ),
    "plot -o missing folder": (
        ["plot", "softplus", "-o", "nonexistent/x.png"],
        {},
        None,
        2,
        r"nonexistent.*does not exist",
    ),
    "plot -o out.txt": (
        ["plot", "softplus", "-o", "out.txt"],
        {},
        None,
        2,
        r"unknown file format '\.txt'.*\.png",
    ),
    "plot -o no extension": (
        ["plot", "softplus", "-o", "out"],
        {},
        None,
        2,
        r"no file extension",
    ),
    "plot -o a folder": (["plot", "softplus", "-o", "adir.png"], {}, None, 2, r"is a folder"),
    "plot -o under a file": (
        ["plot", "softplus", "-o", "afile/x.png"],
        {},
        None,
        2,
        r"afile is a file",
    ),
    "plot -o unwritable": (
        ["plot", "softplus", "-o", "ro/x.png"],
        {},
        "ro",
        2,
        r"ro/x\.png.*(Permission denied|permission)",
    ),
    "docs derivations --out a file": (
        ["docs", "derivations", "--out", "afile"],
        {},
        None,
        2,
        r"afile",
    ),
    "convolve --save, unwritable home": (
        ["convolve", "Max(x, 0)", "--save", "mine"],
        {"SYMSMOOTH_HOME": "ro/home"},
        "ro",
        2,
        r"ro/home.*(Permission denied|permission|writable)",
    ),
    "convolve --save, home is a file": (
        ["convolve", "Max(x, 0)", "--save", "mine"],
        {"SYMSMOOTH_HOME": "afile"},
        None,
        2,
        r"afile",
    ),
    "verify --per-regime 0": (
        ["verify", "softplus", "--per-regime", "0", "--out", "gen", "-j", "1"],
        {},
        None,
        2,
        r"--per-regime must be at least 4 \(got 0\)",
    ),
    "verify --per-regime -3 in workers": (
        ["verify", "softplus", "logsumexp_max", "--per-regime", "-3", "--out", "gen", "-j", "2"],
        {},
        None,
        2,
        r"--per-regime must be at least 4 \(got -3\)",
    ),
    "verify --out a file": (
        ["verify", "softplus", "--out", "afile", "-j", "1"],
        {},
        None,
        2,
        r"'afile'.*folder",
    ),
    "build --out a file": (
        ["build", "--only", "softplus", "--out", "afile"],
        {},
        None,
        2,
        r"--out afile is a file",
    ),
    "--deadline negative": (["--deadline", "-1", "list"], {}, None, 2, r"--deadline"),
    "--deadline not a number": (["--deadline", "soon", "list"], {}, None, 2, r"--deadline"),
    "unknown option": (["list", "--nosuch"], {}, None, 2, r"No such option"),
    "unknown command": (["nosuch"], {}, None, 2, r"No such command"),
    "missing argument": (["show"], {}, None, 2, r"Missing argument"),
    "unknown catalog name": (["show", "softplsu"], {}, None, 2, r"softplus"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_message_and_exit_status(case, tmp_path, capsys, monkeypatch):
    argv, env, unwritable, status, pattern = CASES[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "adir.png").mkdir()
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    if unwritable:
        deny_writes(monkeypatch, tmp_path / unwritable)
    try:
        code, out, err = run(argv, capsys, monkeypatch)
    finally:
        if unwritable:
            (tmp_path / unwritable).chmod(0o755)
    assert "Traceback" not in err + out
    assert "internal error" not in err
    assert code == status, err + out
    if status == 2:
        assert re.search(pattern, err, flags=re.S), err
        assert len(err.strip()) < 2000
    if case == "gen --expr log(x) --verify":
        assert "lg" in out and "ok" in out  # negative x: NaN expected, and returned
    assert not (tmp_path / "afile").is_dir() and (tmp_path / "afile").read_text().startswith("a")
    if unwritable:
        assert [p.name for p in (tmp_path / unwritable).iterdir()] == []


def test_an_os_error_message_names_the_path_and_what_to_do(capsys, monkeypatch, tmp_path):
    """An OSError from deep inside a command (here: a full disk) is one line: exit 2."""
    from symsmooth.cli import catalog_cmds

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.png"))

    monkeypatch.setattr("symsmooth.plotting.plot", full)
    code, out, err = run(["plot", "softplus", "-o", str(tmp_path / "x.png")], capsys, monkeypatch)
    assert catalog_cmds  # the command module is the one patched above
    assert code == 2
    assert err.startswith("error: cannot write") and "x.png" in err and "free some space" in err
    assert err.count("\n") == 1


def test_an_unexpected_exception_is_one_line_exit_3(capsys, monkeypatch):
    """A bug (not a user error) is named as such: one line, exit 3; the traceback on request."""

    def broken(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr("symsmooth.cli.catalog_cmds._catalog", broken)
    code, _, err = run(["list"], capsys, monkeypatch)
    assert code == 3 and "internal error (TypeError: a bug)" in err and "Traceback" not in err
    monkeypatch.setenv("SYMSMOOTH_TRACEBACK", "1")
    with pytest.raises(TypeError, match="a bug"):
        main(["list"])


def test_version(capsys, monkeypatch):
    code, out, _ = run(["--version"], capsys, monkeypatch)
    assert (code, out) == (0, f"symsmooth {__version__}\n")
    from importlib.metadata import version

    assert version("symsmooth") == __version__


def test_deadline_sets_the_stage_limit_for_the_command_only(capsys, monkeypatch):
    from symsmooth.cli import catalog_cmds

    seen = []
    real = catalog_cmds._catalog

    def spy():
        seen.append((budget.stage_seconds(), os.environ.get("SYMSMOOTH_DEADLINE")))
        return real()

    monkeypatch.setattr(catalog_cmds, "_catalog", spy)
    monkeypatch.delenv("SYMSMOOTH_DEADLINE", raising=False)
    before = budget.stage_seconds()
    assert run(["--deadline", "7.5", "list", "--plain"], capsys, monkeypatch)[0] == 0
    assert run(["--deadline", "0", "list", "--plain"], capsys, monkeypatch)[0] == 0
    assert seen == [(7.5, "7.5"), (None, "off")]  # 0: no limit, for spawned workers too
    assert budget.stage_seconds() == before and "SYMSMOOTH_DEADLINE" not in os.environ


def test_deadline_stops_a_stage_cleanly(capsys, monkeypatch):
    """A stage running past --deadline ends with the stage's name, exit 2, within the limit."""
    import time

    def slow_stage():
        with budget.deadline("demo"):
            time.sleep(30)

    monkeypatch.setattr("symsmooth.cli.catalog_cmds._catalog", slow_stage)
    start = time.monotonic()
    code, _, err = run(["--deadline", "0.2", "list"], capsys, monkeypatch)
    assert time.monotonic() - start < 10
    assert code == 2 and "demo: stopped after 0.2 s" in err and "Traceback" not in err


def test_a_real_process_prints_no_traceback(tmp_path):
    """The console entry point (``python -m symsmooth``) as a user runs it."""
    (tmp_path / "afile").write_text("")
    env = {**os.environ, "SYMSMOOTH_HOME": str(tmp_path / "home")}
    for argv, status in (
        (["plot", "softplus", "-o", "out.txt"], 2),
        (["gen", "softplus", "--out", "afile"], 2),
        (["--version"], 0),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "symsmooth", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == status, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == f"symsmooth {__version__}\n"
