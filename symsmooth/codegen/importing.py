"""Generated module files on disk: atomic writes, and imports the Numba cache can find again.

Generated kernels are ``@njit(cache=True)``: Numba stores their machine code in
``<folder>/__pycache__`` in files named after the *file* (``zlpr._core_zlpr-412.py311.nbi``),
and each entry pickles the module's ``__name__`` (its ``Environment``, rebuilt on load by
``importlib.import_module(name)``, ``numba/core/environment.py``).  The index is checked
against the source file's sha256 only, not against the module name.  So a module imported
under a name other than the one a later process imports it by leaves entries that process
cannot load: the old ``symsmooth_generated.<name>_<digest>`` name made a plain ``import zlpr``
fail with ``ModuleNotFoundError: No module named 'symsmooth_generated'``, and a ``__pycache__``
a plain import wrote made :func:`import_generated` fail with ``No module named 'zlpr'``
(Numba issues #2116 and #7075: the cache records the name a module was imported under).

The fix is to import ``<folder>/<name>.py`` under ``name`` itself, the name ``import name``
gives it with the folder on ``sys.path``, so every process records and finds the same name.
That name is taken only when it is free for this file: ``sys.modules`` has no other module of
that name and ``import name`` from ``sys.path`` would not find another file
(:func:`module_name`).  Otherwise (a user's own ``zlpr`` module, a second output folder with
its own ``zlpr.py``) the module gets a private name, ``symsmooth_generated_<name>_<digest>``
(sha256 of the resolved path), and is imported from an identical copy
``<folder>/__pycache__/symsmooth/<private>.py``: its Numba cache lives beside the copy, keyed
by the copy's file name, so it never mixes with entries under ``name``.  A module of the name
is never replaced unless it was imported from this very file.  Cache entries the old name
left in ``<folder>/__pycache__`` are deleted when the loader imports the file
(:func:`drop_legacy_entries`), so it and a later plain import compile them afresh.

Examples
--------
>>> from pathlib import Path
>>> module_name("my_kernel", Path("/nowhere/my_kernel.py"))
'my_kernel'
>>> module_name("os", Path("/nowhere/os.py")).startswith("symsmooth_generated_os_")
True
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PRIVATE_PREFIX = "symsmooth_generated_"
"""Start of the private module names (:func:`module_name`)."""
COPY_FOLDER = "symsmooth"
"""Folder of ``<out>/__pycache__`` that holds the copies imported under a private name."""
LEGACY_MARK = b"symsmooth_generated."
"""In a Numba cache data file: the entry records the made-up name the loader used before
issue #14 (``symsmooth_generated.<name>_<digest>``), which no other process can import."""


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and :func:`os.replace`."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def source_of(module: ModuleType) -> Path | None:
    """The resolved file ``module`` was imported from (``None``: built-in or namespace)."""
    origin = getattr(module, "__symsmooth_source__", None) or getattr(module, "__file__", None)
    return Path(origin).resolve() if origin else None


def module_name(name: str, path: Path) -> str:
    """The name to import ``path`` (the file ``<name>.py``) under: ``name`` when it is free
    for this file, else the private ``symsmooth_generated_<name>_<digest>``.

    ``name`` is free when ``sys.modules`` holds no module of that name from another file and
    :func:`importlib.util.find_spec` (which searches ``sys.path`` without importing a
    top-level name) finds nothing or this file."""
    path = path.resolve()
    present = sys.modules.get(name)
    if present is not None:
        if source_of(present) == path:
            return name
    else:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a broken finder: do not take the name
            found = False
        if found is None or (found and found.has_location and Path(found.origin).resolve() == path):
            return name
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"{PRIVATE_PREFIX}{name}_{digest}"


@functools.cache
def _scratch() -> Path:
    """A folder of this process (mode 0700) for copies when ``<out>/__pycache__`` is read-only."""
    return Path(tempfile.mkdtemp(prefix="symsmooth-modules-"))


def private_copy(path: Path, key: str) -> Path:
    """``<folder>/__pycache__/symsmooth/<key>.py``, an identical copy of ``path``, rewritten only
    when it differs (Numba checks the copy's sha256, so its cache stays valid)."""
    text = path.read_text(encoding="utf-8")
    for folder in (path.parent / "__pycache__" / COPY_FOLDER, _scratch()):
        copy = folder / f"{key}.py"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
                atomic_write(copy, text)
            return copy
        except OSError:
            continue
    raise OSError(f"cannot write a copy of {path} to import it under {key}")  # pragma: no cover


def drop_legacy_entries(path: Path) -> int:
    """Delete the Numba cache data files of ``path`` in ``<folder>/__pycache__`` that record
    the old loader's made-up module name (:data:`LEGACY_MARK`, pickled as plain text); the
    number deleted.  Numba then compiles those functions again and records the file's name
    (a missing data file is a cache miss, ``numba/core/caching.py``)."""
    dropped = 0
    for entry in (path.parent / "__pycache__").glob(f"{glob.escape(path.stem)}.*.nbc"):
        try:
            if LEGACY_MARK in entry.read_bytes():
                entry.unlink()
                dropped += 1
        except OSError:  # gone meanwhile, or not ours to delete: Numba reports what it finds
            continue
    return dropped


def import_generated(name: str, path: Path) -> ModuleType:
    """Import the generated file ``path`` (``<name>.py``) under :func:`module_name`'s name.

    The module in ``sys.modules`` is returned when it came from this file and the file's
    mtime is the one it was imported at; else the file is imported again (a module a plain
    ``import`` made is imported again once, since its mtime is not known).  The caller checks
    ``name`` and the file's first line (:func:`symsmooth.codegen.render.load_module`).
    Raises what executing the module raises; ``sys.modules`` then keeps its previous entry."""
    path = path.resolve()
    key = module_name(name, path)
    stamp = path.stat().st_mtime_ns
    present = sys.modules.get(key)
    if (
        present is not None
        and source_of(present) == path
        and getattr(present, "__symsmooth_stamp__", None) == stamp
    ):
        return present
    if key == name:
        drop_legacy_entries(path)
        source = path
    else:
        source = private_copy(path, key)
    spec = importlib.util.spec_from_file_location(key, source)
    module = importlib.util.module_from_spec(spec)
    module.__symsmooth_source__ = str(path)
    module.__symsmooth_stamp__ = stamp
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if present is None:
            sys.modules.pop(key, None)
        else:
            sys.modules[key] = present
        raise
    return module
