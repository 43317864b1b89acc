"""On-disk cache of exact references that cannot lie: every entry says what it covers.

A reference list (one ``mpf`` per checked point, ``None`` where mpmath cannot hold the value,
:data:`NOT_REAL` where the exact value is not real) depends only on the exact expression, the
parameter values, the input arrays, the options of the reference (digits, cotangent, sampled
positions) and the code that computes it.  The file name is the sha256 *key* of all of these,
the code included (the source of :mod:`symsmooth.verification.exact`,
:mod:`symsmooth.verification.reference` and the modules of the ``symsmooth.functions`` package).

The key alone is not trusted.  Each entry is a JSON object::

    {"format": 2, "key": "<sha256>",
     "covers": {"kind": ..., "expression": "<sha256>", "inputs": "<sha256>",
                "count": N, "options": {...}, "code": "<sha256>"},
     "values": [[sign, "mantissa hex", "exponent hex", bits] | null | "not-real", ...],
     "checksum": "<sha256 of covers and values>"}

and :meth:`ReferenceCache.lookup` uses an entry only when it is well formed, its checksum
holds, its ``covers`` equal what the caller is about to compare (expression and inputs hashes,
point count, precision options, code) and it holds exactly ``count`` values.  Anything else is
ignored with a one-line :class:`ReferenceCacheWarning` (naming the folder and how to clear it),
recomputed and rewritten: a bad entry costs time, never a wrong report and never a crash.  The
checksum detects corruption and hand edits; it is not a signature (the folder is the user's
own, and a reference is data, never code: values decode to numbers or markers only).

Entries are written to a temporary file in the same folder and ``os.replace``d: a reader never
sees half an entry, and a writer killed halfway leaves the previous entry (or none).

The folder is ``$SYMSMOOTH_CACHE_DIR`` (``off`` or empty: no cache), by default
``$XDG_CACHE_HOME/symsmooth/references`` (``~/.cache/symsmooth/references``).  Delete it at any
time; the test suite runs without it.

Examples
--------
>>> import tempfile
>>> store = ReferenceCache(Path(tempfile.mkdtemp()))
>>> key = store.key("example", np.arange(3.0))
>>> covers = Coverage("example", "e", store.digest(np.arange(3.0)), 3)
>>> values = [mpmath.mpf(1) / 3, None, NOT_REAL]
>>> store.lookup(key, lambda: values, covers) == values
True
>>> store.lookup(key, lambda: 1 / 0, covers)[0] == mpmath.mpf(1) / 3  # read back, not computed
True
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import mpmath
import numpy as np
from mpmath.libmp import MPZ, finf, fnan, fninf, fzero

FORMAT = 2
"""Version of the entry layout; entries of another format are recomputed."""

_CODE_MODULES = (
    "symsmooth.verification.exact",
    "symsmooth.verification.balls",
    "symsmooth.verification.reference",
    "symsmooth.functions",
    "symsmooth.functions.base",
    "symsmooth.functions.elementary",
    "symsmooth.functions.special",
    "symsmooth.functions.fused",
    "symsmooth.functions.scaling",
    "symsmooth.functions.nary",
    "symsmooth.functions.numeric",
)
_SPECIALS = {fzero, finf, fninf, fnan}
_MAX_WARNINGS = 10  # per process: a wholly tampered folder gives a few lines, not thousands


class Marker:
    """A named singleton standing for a reference that is not a number (one per subclass, kept
    one across worker processes); its ``repr`` is the subclass's ``label``."""

    label = "MARKER"

    def __new__(cls):
        if cls.__dict__.get("_instance") is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return self.label

    def __reduce__(self):  # one marker across worker processes
        return (type(self), ())


class _NotReal(Marker):
    """The marker of a point where the exact value is not a real number (``log(-1)``)."""

    label = "NOT_REAL"


NOT_REAL = _NotReal()
"""Reference of a point outside the real domain: a real kernel must return NaN there."""


class ReferenceCacheWarning(UserWarning):
    """A cache entry was unusable (malformed, checksum, other points) and was recomputed."""


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


@dataclass(frozen=True)
class Coverage:
    """What a reference list covers: the caller's expression and inputs (as hashes), the number
    of points and the reference options.  An entry is used only when its coverage equals this."""

    kind: str
    expression: str
    inputs: str
    count: int
    options: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {**asdict(self), "options": dict(sorted(self.options.items())), "code": code_stamp()}


def _encode(value):
    if value is None:
        return None
    if value is NOT_REAL:
        return "not-real"
    sign, man, exp, bits = value._mpf_  # exponents of 10^4000 digits occur: hex text
    return [int(sign), format(int(man), "x"), format(int(exp), "x"), int(bits)]


def _decode(item):
    """One stored value; ValueError for anything that is not an encoded number or marker."""
    if item is None:
        return None
    if item == "not-real":
        return NOT_REAL
    if not (isinstance(item, list) and len(item) == 4):
        raise ValueError(f"a value is {type(item).__name__}, not [sign, mantissa, exponent, bits]")
    sign, man, exp, bits = item
    if sign not in (0, 1) or type(bits) is not int:
        raise ValueError("a value has a bad sign or bit count")
    if not (isinstance(man, str) and isinstance(exp, str)) or max(len(man), len(exp)) > 5000:
        raise ValueError("a value's mantissa or exponent is not short hex text")
    mantissa, exponent = int(man, 16), int(exp, 16)  # ValueError for non-hex text
    raw = (sign, MPZ(mantissa), exponent, bits)
    # a normalized mpf: an odd mantissa of exactly `bits` bits, or one of the special values
    normal = mantissa > 0 and mantissa % 2 == 1 and mantissa.bit_length() == bits
    if not normal and raw not in _SPECIALS:
        raise ValueError("a value is not a normalized binary number")
    return mpmath.mp.make_mpf(raw)


def _checksum(covers: dict, values: list) -> str:
    text = json.dumps({"covers": covers, "values": values}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ReferenceCache:
    """Reference lists on disk, one JSON file per key (``folder/ab/abcdef....json``)."""

    warnings_shown = 0

    def __init__(self, folder: Path | None):
        self.folder = None if folder is None else Path(folder)

    @staticmethod
    def digest(*parts) -> str:
        """sha256 of ``parts``: arrays by dtype, shape and bytes; anything else by repr."""
        digest = hashlib.sha256()
        for part in parts:
            if isinstance(part, np.ndarray):
                digest.update(f"{part.dtype}{part.shape}".encode())
                digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(repr(part).encode())
            digest.update(b"\x00")
        return digest.hexdigest()

    def key(self, *parts) -> str:
        """:meth:`digest` of ``parts`` and of the reference code."""
        return self.digest(code_stamp(), *parts)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def _read(self, key: str, covers: Coverage) -> list:
        """The entry's values; ValueError (what is wrong) for anything unusable."""
        try:
            entry = json.loads(self._path(key).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("not valid JSON") from None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} entry")
        expected = covers.as_json()
        values = entry.get("values")
        if entry.get("key") != key or entry.get("covers") != expected:
            raise ValueError("made for other points or options than the ones compared")
        if not isinstance(values, list) or len(values) != covers.count:
            raise ValueError(f"does not hold {covers.count} values")
        if entry.get("checksum") != _checksum(expected, values):
            raise ValueError("its checksum does not match its values")
        return [_decode(v) for v in values]

    def _warn(self, key: str, problem: str) -> None:
        if ReferenceCache.warnings_shown >= _MAX_WARNINGS:
            return
        ReferenceCache.warnings_shown += 1
        warnings.warn(
            f"reference cache entry {key[:12]}... in {self.folder} is {problem}; recomputed "
            f"(delete {self.folder} or set SYMSMOOTH_CACHE_DIR=off to clear or skip the cache)",
            ReferenceCacheWarning,
            stacklevel=3,
        )

    def get(self, key: str, covers: Coverage) -> list | None:
        """The stored list for ``covers``, or None (no folder, no entry, or an unusable one:
        then a :class:`ReferenceCacheWarning`)."""
        if self.folder is None or not self._path(key).is_file():
            return None
        try:
            return self._read(key, covers)
        except (OSError, ValueError, TypeError, OverflowError) as exc:
            self._warn(key, str(exc) if isinstance(exc, ValueError) else f"unreadable ({exc})")
            return None

    def put(self, key: str, values, covers: Coverage) -> None:
        """Store ``values`` (mpf, None or :data:`NOT_REAL` each, ``covers.count`` of them);
        other lists are not stored.  Written to a temporary file, then renamed."""
        values = list(values)
        plain = all(v is None or v is NOT_REAL or isinstance(v, mpmath.mpf) for v in values)
        if self.folder is None or not plain or len(values) != covers.count:
            return
        encoded = [_encode(v) for v in values]
        expected = covers.as_json()
        entry = {
            "format": FORMAT,
            "key": key,
            "covers": expected,
            "values": encoded,
            "checksum": _checksum(expected, encoded),
        }
        path = self._path(key)
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, prefix=".tmp-", suffix=".json", delete=False
            ) as handle:
                temporary = handle.name
                json.dump(entry, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            temporary = None
        except (OSError, ValueError):  # a read-only or full disk costs the recomputation only
            return
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)

    def lookup(self, key: str, compute, covers: Coverage) -> list:
        """The stored list for ``key`` if it covers ``covers``, else ``compute()`` (stored)."""
        hit = self.get(key, covers)
        if hit is not None:
            return hit
        values = list(compute())
        self.put(key, values, covers)
        return values
