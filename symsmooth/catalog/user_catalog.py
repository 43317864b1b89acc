"""The user catalog: named convolution results saved to a JSON file and read back safely.

Location: ``$SYMSMOOTH_HOME/catalog.json``, else ``~/.config/symsmooth/catalog.json``.  Saved
entries join :mod:`symsmooth.catalog` (``catalog.get/names``, ``symsmooth
list/show/plot``).

The file is data, never code.  It holds ``{"entries": {name: record}}``; each record has the
expression fields :data:`EXPR_FIELDS` as ``srepr`` text (``target``, ``expr``, ``param``,
``limit`` required), ``variables`` (a list of srepr texts), ``fixed`` (``[[symbol, value],
...]``), ``attained`` (a list of such lists), the text fields :data:`TEXT_FIELDS` and, for
an algorithmic record, ``iteration`` (its :class:`~symsmooth.records.Iteration`: srepr texts,
the shift and count names, the default count;
:data:`~symsmooth.text.record_codec.ITERATION_FIELDS`).
Expressions are rebuilt by :func:`~symsmooth.text.record_reader.from_srepr` (the formula
parser's whitelist and bounds; no ``eval``/``sympify``).  Entry names are catalog names
(:func:`symsmooth.identifiers.check_name`, role ``"catalog entry"``, in snake_case).

**Reading never fails**: a malformed or hostile *entry* (a string where SymPy would parse it,
code in a symbol name, a huge power, missing fields, wrong types, contradictory assumptions,
a duplicate name, the name of a built-in entry) is skipped with one
:class:`CatalogWarning` (a ``UserWarning``: ``user catalog <file>: entry 'name' skipped:
<problem>``, one ``warning: ...`` line in the CLI); a malformed *file* (not JSON, not an
object, too large) gives one warning and no user entries.  The rest of the catalog and every
command keep working.
Reading runs under :func:`symsmooth.budget.deadline` ``("catalog")``.

**Writing is atomic**: :func:`save` writes a temporary file in the same folder and
``os.replace`` s it, so a killed writer leaves the previous catalog intact.  It refuses (with a
:class:`~symsmooth.errors.CatalogError`) to overwrite a file it cannot read, and to write a
record it could not read back.

Examples
--------
>>> import sympy as sp
>>> from_srepr(sp.srepr(sp.erf(sp.Symbol("x", real=True)) / 2))
erf(x)/2
>>> try:
...     from_srepr("__import__('os')")
... except CatalogError as exc:
...     print(str(exc)[:60])
'__import__' is not an allowed constructor
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from symsmooth.budget import deadline
from symsmooth.catalog import registry
from symsmooth.errors import BudgetError, CatalogError, SymsmoothError
from symsmooth.identifiers import name_problem
from symsmooth.records import Smoothing
from symsmooth.text.record_codec import (
    EXPR_FIELDS,
    TEXT_FIELDS,
    CatalogNameError,
    CatalogWarning,
    check_record,
    decode,
    encode,
    read_entries,
    warn,
    write_atomic,
)
from symsmooth.text.record_reader import from_srepr

__all__ = [
    "EXPR_FIELDS",
    "TEXT_FIELDS",
    "CatalogWarning",
    "InvalidEntryName",
    "from_srepr",
    "load",
    "path",
    "register_all",
    "reset",
    "save",
]


InvalidEntryName = CatalogNameError
"""A catalog entry name that is not allowed (a CatalogError and an InvalidNameError)."""


def path() -> Path:
    """The user catalog file (it may not exist yet)."""
    home = os.environ.get("SYMSMOOTH_HOME")
    base = Path(home) if home else Path.home() / ".config" / "symsmooth"
    return base / "catalog.json"


def entry_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a catalog entry (``None`` when it can).

    Examples
    --------
    >>> entry_name_problem("my_softplus") is None
    True
    >>> print(entry_name_problem("Bad Name"))
    catalog entry name 'Bad Name' is not a plain identifier: ... are snake_case, e.g. my_softplus)
    """
    problem = name_problem(name, "catalog entry")
    if problem is None and name != name.lower():  # type: ignore[union-attr]
        problem = f"catalog entry name {name!r} has capitals"
    if problem is None:
        return None
    return f"{problem} (catalog entry names are snake_case, e.g. my_softplus)"


def load(file: Path | None = None) -> dict[str, Smoothing]:
    """Every readable saved entry, ``{name: Smoothing}`` (empty when there is no file).

    Entries that cannot be read are skipped, each with a :class:`CatalogWarning`.
    """
    file = file or path()
    entries = read_entries(file, strict=False)
    records: dict[str, Smoothing] = {}
    try:
        with deadline("catalog"):  # the whole file; each expression has its own deadline too
            for name, data in entries.items():
                _load_entry(file, name, data, records)
    except BudgetError as exc:
        warn(file, f"stopped reading: {exc}; the entries after {len(records)} were skipped")
    return records


_DECODED: dict[tuple[str, str], Smoothing] = {}
_MAX_DECODED = 1024


def _load_entry(file: Path, name: str, data, records: dict) -> None:
    problem = entry_name_problem(name)
    if problem is not None:
        warn(file, f"entry {name[:40]!r} skipped: {problem}")
        return
    try:
        key = (name, json.dumps(data, sort_keys=True))
    except (TypeError, ValueError, RecursionError):
        key = None
    if key in _DECODED:  # records are immutable: one decoding per process and stored text
        records[name] = _DECODED[key]
        return
    try:
        records[name] = decode(name, data)
        if key is not None and len(_DECODED) < _MAX_DECODED:
            _DECODED[key] = records[name]
    except SymsmoothError as exc:
        warn(file, f"entry {name!r} skipped: {exc}; fix or delete it")
    except Exception as exc:  # noqa: BLE001 - a data file never stops a command
        warn(file, f"entry {name!r} skipped: cannot be read ({type(exc).__name__}: {exc})")


def save(
    name: str, record: Smoothing, *, file: Path | None = None, overwrite: bool = False
) -> Path:
    """Save ``record`` as ``name`` and register it in the catalog; returns the file.

    Raises
    ------
    CatalogError
        For a bad or taken name (:class:`InvalidEntryName`), a record with names or parts the
        reader would refuse, an unreadable existing file, or a file that cannot be written.
    """
    problem = entry_name_problem(name)
    if problem is not None:
        raise InvalidEntryName(problem)
    file = file or path()
    entries = read_entries(file, strict=True)
    builtin = name in registry.loaded_names() and name not in _REGISTERED
    if builtin or (name in entries and not overwrite):
        raise CatalogError(
            f"{name!r} exists already in the catalog; pick another name"
            + ("" if builtin else " or pass overwrite=True")
        )
    check_record(record)
    data = encode(record, name)
    decode(name, data)  # what is written must read back
    entries[name] = data
    write_atomic(file, json.dumps({"entries": entries}, indent=1, sort_keys=True))
    register_all(file)
    return file


_REGISTERED: set[str] = set()


def register_all(file: Path | None = None) -> list[str]:
    """Add the saved entries to :mod:`symsmooth.catalog` (called by its loader).

    A saved entry with the name of a built-in entry is skipped with a warning.
    """
    file = file or path()
    entries = load(file)
    for name, record in entries.items():
        if name in registry.BUILDERS and name not in _REGISTERED:
            warn(file, f"entry {name!r} skipped: a built-in catalog entry has that name")
            continue
        registry.BUILDERS.pop(name, None)
        registry.entry(name)(lambda record=record: record)
        _REGISTERED.add(name)
    registry.changed()
    return sorted(entries)


def reset() -> None:
    """Forget every registered user entry (the next catalog access does not re-read the file;
    call :func:`register_all` for that).  For tests and long-running sessions."""
    for name in sorted(_REGISTERED):
        registry.BUILDERS.pop(name, None)
    _REGISTERED.clear()
    registry.changed()
