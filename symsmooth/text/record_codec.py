"""Records <-> JSON for the user catalog: field checks, the file reader and the atomic writer.

:func:`decode` checks every field's JSON type, rebuilds expressions with
:func:`~symsmooth.text.record_reader.from_srepr` and then the record's meaning
(:func:`check_record`: ``param`` a Symbol, ``limit`` ``oo`` or ``0``, inputs Symbols or
IndexedBases, every symbol name a valid user name, values numbers, text without control
characters).  An algorithmic record's ``iteration`` (:class:`~symsmooth.records.Iteration`)
is stored as an object of :data:`ITERATION_FIELDS`: its expressions as ``srepr`` text read by
the same reader, ``shift`` and ``count`` as text, ``count_default`` a JSON integer (at most
:data:`MAX_ITERATION_COUNT`); the record's own checks then apply.  Problems raise
:class:`~symsmooth.errors.CatalogError`; :func:`read_entries` reads the file itself and, when
not ``strict``, turns file-level problems into one :class:`CatalogWarning` and no entries.

Examples
--------
>>> import sympy as sp
>>> from symsmooth import catalog
>>> record = catalog.get("softplus")
>>> decode("softplus", encode(record, "softplus")) == record
True
>>> skm = catalog.get("soft_k_max")
>>> decode("my_skm", encode(skm, "my_skm")).iteration == skm.iteration
True
>>> decode("bad", {"target": "Integer(1)"})
Traceback (most recent call last):
...
symsmooth.errors.CatalogError: missing field(s) expr, param, limit, variables
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from contextlib import suppress
from pathlib import Path

import sympy as sp

from symsmooth.errors import CatalogError, InvalidNameError
from symsmooth.identifiers import name_problem
from symsmooth.records import Iteration, Smoothing
from symsmooth.text.record_reader import from_srepr

EXPR_FIELDS = ("target", "expr", "param", "limit", "bound", "size", "index")
"""Fields stored as ``srepr`` text (``bound``, ``size``, ``index`` may be null)."""
TEXT_FIELDS = ("source", "domain", "method", "description", "kind")
"""Fields stored as plain text."""
LIST_FIELDS = ("variables", "fixed", "attained")
ITERATION = "iteration"
"""The optional field of an algorithmic record (absent or null: a closed form)."""
ITERATION_EXPRS = ("step", "data", "state", "subscript", "index", "size", "init")
ITERATION_FIELDS = (*ITERATION_EXPRS, "shift", "count", "count_default")
"""Keys of a stored iteration, all required (``srepr`` text, then two texts and an int)."""
MAX_ITERATION_COUNT = 10_000
"""Largest stored default iteration count."""
REQUIRED = ("target", "expr", "param", "limit", "variables")
MAX_FILE_BYTES = 16 * 2**20
"""Largest catalog file read (bytes)."""
MAX_TEXT_FIELD = 4000
"""Longest text field (characters)."""
MAX_ITEMS = 1000
"""Most items in a list field."""
_KINDS = ("elementwise", "reduction")


class CatalogWarning(UserWarning):
    """A user catalog entry (or the whole file) was skipped because it cannot be read."""


class CatalogNameError(CatalogError, InvalidNameError):
    """A name in the catalog (an entry's, or a symbol's) is not allowed."""


def warn(file: Path, message: str) -> None:
    """One :class:`CatalogWarning` ``user catalog <file>: <message>``, shown every time (the
    CLI prints it as one ``warning: ...`` line; Python as ``<file>:0: CatalogWarning: ...``)."""
    warnings.warn_explicit(f"user catalog {file}: {message}", CatalogWarning, str(file), 0)


# --- encoding ------------------------------------------------------------------------------


def _number(value) -> sp.Basic:
    try:
        return sp.sympify(value, strict=True)  # numbers and SymPy objects only, never text
    except sp.SympifyError:
        raise CatalogError(f"a stored value must be a number, got {type(value).__name__}") from None


def _value_text(value) -> str:
    if isinstance(value, list | tuple):
        return sp.srepr([_number(v) for v in value])
    return sp.srepr(_number(value))


def encode(record: Smoothing, name: str) -> dict:
    """The JSON object stored for ``record`` under ``name``."""
    data: dict = {
        f: (None if getattr(record, f) is None else sp.srepr(getattr(record, f)))
        for f in EXPR_FIELDS
    }
    data |= {f: getattr(record, f) for f in TEXT_FIELDS}
    data["variables"] = [sp.srepr(v) for v in record.variables]
    data["fixed"] = [[sp.srepr(k), _value_text(v)] for k, v in record.fixed]
    data["attained"] = [
        [[sp.srepr(k), _value_text(v)] for k, v in p.items()] for p in record.attained
    ]
    if record.iteration is not None:
        it = record.iteration
        data[ITERATION] = {f: sp.srepr(getattr(it, f)) for f in ITERATION_EXPRS} | {
            "shift": it.shift,
            "count": it.count,
            "count_default": it.count_default,
        }
    return data


# --- decoding ------------------------------------------------------------------------------


def _expr(field: str, text) -> sp.Basic:
    if not isinstance(text, str):
        raise CatalogError(f"{field} must be srepr text, got {type(text).__name__}")
    try:
        value = from_srepr(text)
    except CatalogError as exc:
        raise CatalogError(f"{field}: {exc}") from None
    if isinstance(value, list):
        raise CatalogError(f"{field}: a list is only allowed as a value of a sample point")
    return value


def _list(field: str, value) -> list:
    if not isinstance(value, list):
        raise CatalogError(f"{field} must be a list, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise CatalogError(f"{field} has more than {MAX_ITEMS} items")
    return value


def _pairs(field: str, value) -> list[tuple]:
    pairs = []
    for item in _list(field, value):
        if not (isinstance(item, list) and len(item) == 2):
            raise CatalogError(f"{field} holds [symbol, value] pairs")
        pairs.append((_expr(field, item[0]), _value(field, item[1])))
    return pairs


def _value(field: str, text):
    """A number, or (a vector's value) a list of numbers."""
    if not isinstance(text, str):
        raise CatalogError(f"{field} values must be srepr text, got {type(text).__name__}")
    try:
        return from_srepr(text)
    except CatalogError as exc:
        raise CatalogError(f"{field}: {exc}") from None


def _text(field: str, value) -> str:
    if not isinstance(value, str):
        raise CatalogError(f"{field} must be text, got {type(value).__name__}")
    if len(value) > MAX_TEXT_FIELD:
        raise CatalogError(f"{field} is longer than {MAX_TEXT_FIELD} characters")
    if any(ord(c) < 32 and c not in "\n\t" or ord(c) == 127 for c in value):
        raise CatalogError(f"{field} holds control characters (terminal escapes are not text)")
    return value


def _iteration(data) -> Iteration | None:
    """The stored iteration object (``None`` for null), every key checked."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CatalogError(f"iteration must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(ITERATION_FIELDS))
    if unknown:
        raise CatalogError(
            f"iteration: unknown field(s) {', '.join(repr(str(u)[:30]) for u in unknown[:5])}"
        )
    missing = [f for f in ITERATION_FIELDS if data.get(f) is None]
    if missing:
        raise CatalogError(f"iteration: missing field(s) {', '.join(missing)}")
    values = {f: _expr(f"iteration {f}", data[f]) for f in ITERATION_EXPRS}
    values |= {f: _text(f"iteration {f}", data[f]) for f in ("shift", "count")}
    count = data["count_default"]
    if type(count) is not int or not 0 <= count <= MAX_ITERATION_COUNT:
        raise CatalogError(
            f"iteration count_default must be an integer from 0 to {MAX_ITERATION_COUNT}, "
            f"got {str(count)[:30]}"
        )
    try:
        return Iteration(**values, count_default=count)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"iteration: {exc}") from None


def decode(name: str, data) -> Smoothing:
    """The :class:`Smoothing` stored as ``data`` (a JSON object), checked field by field."""
    if not isinstance(data, dict):
        raise CatalogError(f"a record is a JSON object, got {type(data).__name__}")
    known = {*EXPR_FIELDS, *TEXT_FIELDS, *LIST_FIELDS, ITERATION}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CatalogError(f"unknown field(s) {', '.join(repr(u[:30]) for u in unknown[:5])}")
    missing = [f for f in REQUIRED if data.get(f) is None]
    if missing:
        raise CatalogError(f"missing field(s) {', '.join(missing)}")
    values: dict = {f: None if data.get(f) is None else _expr(f, data[f]) for f in EXPR_FIELDS}
    values |= {f: _text(f, data[f]) for f in TEXT_FIELDS if data.get(f) is not None}
    values.setdefault("source", "")
    values["variables"] = tuple(
        _expr("variables", v) for v in _list("variables", data["variables"])
    )
    values["fixed"] = tuple(_pairs("fixed", data.get("fixed", [])))
    values["attained"] = tuple(
        dict(_pairs("attained", point)) for point in _list("attained", data.get("attained", []))
    )
    values[ITERATION] = _iteration(data.get(ITERATION))
    try:
        record = Smoothing(name=name, **values)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"not a record: {exc}") from None
    check_record(record)
    return record


# --- meaning -------------------------------------------------------------------------------


def _is_number(value) -> bool:
    if isinstance(value, list):
        return all(_is_number(v) for v in value)
    return isinstance(value, sp.Expr) and value.is_number or isinstance(value, int | float)


def _check_names(record: Smoothing) -> None:
    parts = [record.target, record.expr, record.param, record.limit, record.bound, record.size,
             record.index, *record.variables, *(k for k, _ in record.fixed)]  # fmt: skip
    parts += [k for point in record.attained for k in point]
    if record.iteration is not None:
        parts += [getattr(record.iteration, f) for f in ITERATION_EXPRS]
    for part in parts:
        if not isinstance(part, sp.Basic):
            continue
        if part.atoms(sp.Dummy):
            raise CatalogError("the record holds a Dummy symbol, which cannot be stored")
        for symbol in part.atoms(sp.Symbol):
            problem = name_problem(symbol.name, "symbol")
            if problem is not None:
                raise CatalogNameError(problem)


def check_record(record: Smoothing) -> None:
    """Refuse a record whose parts could not be used (or stored) as a catalog entry."""
    for field in ("target", "expr"):
        if not isinstance(getattr(record, field), sp.Expr):
            raise CatalogError(f"{field} must be an expression")
    if record.bound is not None and not isinstance(record.bound, sp.Expr):
        raise CatalogError("bound must be an expression or null")
    if not isinstance(record.param, sp.Symbol):
        raise CatalogError("param must be a Symbol")
    if record.limit not in (sp.oo, sp.S.Zero):
        raise CatalogError(f"limit must be oo or 0, got {str(record.limit)[:40]}")
    if not record.variables or not all(
        isinstance(v, sp.Symbol | sp.IndexedBase) for v in record.variables
    ):
        raise CatalogError("variables must be a non-empty list of Symbols and IndexedBases")
    for field in ("size", "index"):
        if getattr(record, field) is not None and not isinstance(getattr(record, field), sp.Symbol):
            raise CatalogError(f"{field} must be a Symbol or null")
    if record.kind not in _KINDS:
        raise CatalogError(
            f"kind must be one of {', '.join(_KINDS)}, got {str(record.kind)[:30]!r}"
        )
    if record.kind == "reduction" and (record.size is None or record.index is None):
        raise CatalogError("a reduction needs its size and index symbols")
    for key, value in [*record.fixed, *(item for p in record.attained for item in p.items())]:
        if not isinstance(key, sp.Symbol | sp.IndexedBase) or not _is_number(value):
            raise CatalogError("fixed and attained map symbols to numbers")
    for field in TEXT_FIELDS:
        _text(field, getattr(record, field))
    _check_iteration(record)
    _check_names(record)


def _check_iteration(record: Smoothing) -> None:
    it = record.iteration
    if it is None:
        return
    if not isinstance(it, Iteration):
        raise CatalogError("iteration must be a symsmooth.records.Iteration or null")
    if len(record.variables) != 1 or not isinstance(record.variables[0], sp.IndexedBase):
        raise CatalogError("an iteration runs over one input row: one IndexedBase variable")
    if it.count_default > MAX_ITERATION_COUNT:
        raise CatalogError(f"iteration count_default is larger than {MAX_ITERATION_COUNT}")
    _text("iteration count", it.count)


# --- the file ------------------------------------------------------------------------------


class _Object(dict):
    """A JSON object that remembers repeated keys (``json`` keeps only the last one)."""

    repeated: tuple = ()


def _object(pairs: list) -> _Object:
    result, repeated = _Object(), []
    for key, value in pairs:
        if key in result:
            repeated.append(key)
        else:
            result[key] = value  # the first occurrence wins
    result.repeated = tuple(repeated)
    return result


def read_entries(file: Path, *, strict: bool) -> dict:
    """The raw ``entries`` object of ``file`` (empty when there is no file).

    A file that cannot be used raises :class:`CatalogError` when ``strict`` (before saving:
    never overwrite what cannot be read), else gives one :class:`CatalogWarning` and ``{}``.
    """

    def trouble(message: str) -> dict:
        if strict:
            raise CatalogError(f"user catalog {file} {message}; fix or delete it (nothing saved)")
        warn(file, f"not used: it {message}; fix or delete it")
        return {}

    try:
        if not file.exists():
            return {}
        if file.stat().st_size > MAX_FILE_BYTES:
            return trouble(f"is larger than {MAX_FILE_BYTES // 2**20} MiB")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return trouble(f"cannot be read ({exc})")
    try:
        raw = json.loads(text, object_pairs_hook=_object)
    except (ValueError, RecursionError) as exc:
        return trouble(f"is not valid JSON ({str(exc)[:80]})")
    if not isinstance(raw, dict):
        return trouble(f"holds a JSON {type(raw).__name__}, not an object with 'entries'")
    entries = raw.get("entries", {})
    if not isinstance(entries, dict):
        return trouble(f"has 'entries' as a JSON {type(entries).__name__}, not an object")
    for name in getattr(entries, "repeated", ()):
        warn(file, f"entry {str(name)[:40]!r} appears more than once; only the first is used")
    return dict(entries)


def write_atomic(file: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``file``, then ``os.replace`` it."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        mode = file.stat().st_mode & 0o777 if file.exists() else 0o644
        handle, temporary = tempfile.mkstemp(
            prefix=f".{file.name}.", suffix=".tmp", dir=file.parent
        )
    except OSError as exc:
        raise CatalogError(_unwritable(file, exc)) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, file)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise CatalogError(_unwritable(file, exc)) from None
        raise


def _unwritable(file: Path, exc: OSError) -> str:
    return (
        f"cannot write the user catalog {file}: {exc.strerror or exc}; make the folder "
        "writable or point $SYMSMOOTH_HOME to a writable folder"
    )
