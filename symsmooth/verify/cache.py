"""On-disk cache of exact references, keyed by everything that determines them.

A reference list (one ``mpf`` or ``None`` per checked point) depends only on the exact
expression (``srepr``), the parameter values, the input arrays (their bytes), the options of the
reference (digits, cotangent, sampled positions) and the code that computes it.  The key is the
sha256 of all of these, the code included (the source of :mod:`symsmooth.verify.exact`,
:mod:`symsmooth.verify.reference` and the ``symsmooth.functions*`` modules), so an edit to the
reference code or to an expression never reads an old entry.  Values are stored exactly: the
``(sign, mantissa, exponent, bits)`` tuple of each ``mpf``, special values included.

The folder is ``$SYMSMOOTH_CACHE_DIR`` (``off`` or empty: no cache), by default
``$XDG_CACHE_HOME/symsmooth/references`` (``~/.cache/symsmooth/references``).  Delete it at any
time; the test suite runs without it.

Examples
--------
>>> import tempfile
>>> store = ReferenceCache(Path(tempfile.mkdtemp()))
>>> key = store.key("example", np.arange(3.0))
>>> store.get(key) is None
True
>>> store.put(key, [mpmath.mpf(1) / 3, None, mpmath.inf])
>>> store.get(key)[0] == mpmath.mpf(1) / 3, store.get(key)[1:]
(True, [None, mpf('+inf')])
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from functools import cache
from pathlib import Path

import mpmath
import numpy as np
from mpmath.libmp import MPZ

_CODE_MODULES = (
    "symsmooth.verify.exact",
    "symsmooth.verify.reference",
    "symsmooth.functions",
    "symsmooth.functions_special",
    "symsmooth.functions_fused",
    "symsmooth.functions_scaling",
    "symsmooth.functions_nary",
    "symsmooth.functions_numeric",
)


@cache
def code_stamp() -> str:
    """sha256 of the source of the modules that compute references."""
    import importlib

    digest = hashlib.sha256()
    for name in _CODE_MODULES:
        try:
            digest.update(inspect.getsource(importlib.import_module(name)).encode())
        except (ImportError, OSError, TypeError):
            digest.update(name.encode())
    return digest.hexdigest()


def default_dir() -> Path | None:
    """The cache folder from ``$SYMSMOOTH_CACHE_DIR`` / ``$XDG_CACHE_HOME``; None when off."""
    chosen = os.environ.get("SYMSMOOTH_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "symsmooth" / "references"


def _encode(value):
    if value is None:
        return None
    sign, man, exp, bits = value._mpf_  # exponents of 10^4000 digits occur: hex text
    return [int(sign), format(int(man), "x"), format(int(exp), "x"), int(bits)]


def _decode(item):
    if item is None:
        return None
    sign, man, exp, bits = item
    return mpmath.mp.make_mpf((sign, MPZ(int(man, 16)), int(exp, 16), bits))


class ReferenceCache:
    """Reference lists on disk, one JSON file per key (``folder/ab/abcdef....json``)."""

    def __init__(self, folder: Path | None):
        self.folder = None if folder is None else Path(folder)

    def key(self, *parts) -> str:
        """sha256 of ``parts`` (arrays by dtype, shape and bytes; anything else by repr) and of
        the reference code."""
        digest = hashlib.sha256(code_stamp().encode())
        for part in parts:
            if isinstance(part, np.ndarray):
                digest.update(f"{part.dtype}{part.shape}".encode())
                digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(repr(part).encode())
            digest.update(b"\x00")
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> list | None:
        """The stored list, or None (no folder, no entry, or an unreadable one)."""
        if self.folder is None:
            return None
        try:
            return [_decode(v) for v in json.loads(self._path(key).read_text())]
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, values) -> None:
        """Store ``values`` (mpf or None each); lists holding anything else are not stored.
        The file is written whole, then renamed: concurrent workers never read half a file."""
        if self.folder is None or not all(v is None or isinstance(v, mpmath.mpf) for v in values):
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
                json.dump([_encode(v) for v in values], handle)
            os.replace(handle.name, path)
        except (OSError, ValueError):  # a read-only or full disk costs the recomputation only
            return

    def lookup(self, key: str, compute) -> list:
        """The stored list for ``key``, else ``compute()`` (then stored)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        values = list(compute())
        self.put(key, values)
        return values
