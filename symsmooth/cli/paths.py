"""Output paths of the commands: checked before the work, and ``OSError`` as one clear line.

A command that writes files checks its output up front where it can (:func:`check_folder`,
:func:`check_file`: a file where a folder is expected, a missing or unwritable folder, a file
format the writer does not know) and raises :class:`OutputPathError`, a
:class:`~symsmooth.errors.SymsmoothError` (exit 2).  Whatever still fails while writing is an
``OSError``, which :func:`symsmooth.cli.main` turns into :func:`describe_os_error`'s line.

Examples
--------
>>> import errno
>>> describe_os_error(FileExistsError(errno.EEXIST, "File exists", "afile"))
"cannot write 'afile': File exists (a file is in the way where a folder is needed: pass a \
folder, or move the file)"
>>> check_file(Path("plot.txt"), "-o", {"png", "pdf"})
Traceback (most recent call last):
symsmooth.cli.paths.OutputPathError: -o plot.txt: unknown file format '.txt'; use one of .pdf, .png
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from symsmooth.errors import SymsmoothError

_IN_THE_WAY = "a file is in the way where a folder is needed: pass a folder, or move the file"
_DENIED = "permission denied: choose a folder you can write to"
HINTS = {
    errno.EEXIST: _IN_THE_WAY,
    errno.ENOTDIR: _IN_THE_WAY,
    errno.ENOENT: "no such file or folder: create the folder first, or choose another path",
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENAMETOOLONG: "the name is too long for the file system: choose a shorter name",
    errno.ENOSPC: "no space left on the device: free some space or choose another folder",
    errno.EDQUOT: "disk quota exceeded: free some space or choose another folder",
    errno.EISDIR: "it is a folder: give a file name",
}
"""errno -> what to do, for the ``OSError`` a command can meet on its paths."""

_WRITING = set(HINTS) - {errno.ENOENT}  # errors of writing; ENOENT may be a read too
_SHOWN = 160  # characters of a path in a message (a 300-character name stays readable)


class OutputPathError(SymsmoothError):
    """An output path cannot be written (checked before any work is done)."""


def _shown(path) -> str:
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def describe_os_error(exc: OSError) -> str:
    """One line: the path, the system's reason and what to do."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = HINTS.get(exc.errno)
    where = "" if exc.filename is None else f" {_shown(exc.filename)}"
    if exc.filename2 is not None:
        where += f" -> {_shown(exc.filename2)}"
    verb = "write" if exc.errno in _WRITING else "access"
    return f"cannot {verb}{where}: {reason}" + (f" ({hint})" if hint else "")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_folder(path: Path, option: str = "--out") -> Path:
    """``path`` if it is (or can be created as) a writable folder; else :class:`OutputPathError`.

    Examples
    --------
    >>> import tempfile
    >>> afile = Path(tempfile.mkdtemp()) / "afile"; _ = afile.write_text("")
    >>> check_folder(afile)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    symsmooth.cli.paths.OutputPathError: --out ...afile is a file, not a folder; pass a folder...
    """
    path = Path(path)
    try:
        base = _nearest_existing(path)
    except OSError as exc:  # a name too long to even look up
        raise OutputPathError(f"{option} {_shown(path)[1:-1]}: {describe_os_error(exc)}") from None
    shown = _shown(path)[1:-1]
    if not base.is_dir():
        what = "is a file, not a folder" if base == path else f"is inside {base}, which is a file"
        raise OutputPathError(f"{option} {shown} {what}; pass a folder (or move the file)")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {shown}: cannot write in {base} ({_DENIED})")
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise OutputPathError(f"{option} {shown}: {HINTS[errno.ENAMETOOLONG]}")
    return path


def check_file(path: Path, option: str, formats: Iterable[str]) -> Path:
    """``path`` if its folder exists and is writable and its extension is one of ``formats``
    (without dots); else :class:`OutputPathError`."""
    path = Path(path)
    shown = _shown(path)[1:-1]
    known = sorted({f.lower().lstrip(".") for f in formats})
    choices = ", ".join(f".{f}" for f in known)
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        raise OutputPathError(f"{option} {shown}: no file extension; use one of {choices}")
    if suffix not in known:
        raise OutputPathError(
            f"{option} {shown}: unknown file format '.{suffix}'; use one of {choices}"
        )
    if path.is_dir():
        raise OutputPathError(f"{option} {shown} is a folder; give a file name such as plot.png")
    folder = path.parent
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputPathError(f"{option} {shown}: {folder} {state}; create the folder first")
    check_folder(folder, option)
    if len(os.fsencode(path.name)) > 255:
        raise OutputPathError(f"{option} {shown}: {HINTS[errno.ENAMETOOLONG]}")
    return path
