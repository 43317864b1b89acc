"""The catalog of named smoothings: a registry of :class:`~symsmooth.records.Smoothing` builders.

This package holds named constructions only: the registry (this module, public as
``ss.catalog``), the entry modules listed in :data:`ENTRY_MODULES`, and the user's saved
entries (:mod:`symsmooth.catalog.user_catalog`).

Entries are plain functions returning a :class:`Smoothing`, registered with
:func:`entry`.  Each builder's docstring carries the math, the citation and a runnable
example.  Records are built lazily on first :func:`get` and cached.

Examples
--------
>>> from symsmooth import catalog
>>> "logsumexp_max" in catalog.names()
True
>>> catalog.get("logsumexp_max").limit
oo
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from functools import cache

from symsmooth.catalog import registry
from symsmooth.errors import CatalogError
from symsmooth.records import Smoothing

# Modules whose import registers entries.  To add an entry: write a builder decorated with
# ``@entry`` in one of these modules (or a new one listed here).
ENTRY_MODULES = (
    "symsmooth.catalog.maxima",
    "symsmooth.catalog.classification",
    "symsmooth.catalog.activations",
    "symsmooth.catalog.clustering",
    "symsmooth.catalog.multilabel",
)

_BUILDERS = registry.BUILDERS  # the one table (user_catalog registers there too)
entry = registry.entry
_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    for module in ENTRY_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # an entry module not written yet
            if exc.name != module:
                raise
    _LOADED = True
    from symsmooth.catalog import user_catalog  # saved convolution results (user file)

    user_catalog.register_all()


def names() -> list[str]:
    """Every registered construction, sorted."""
    _load()
    return sorted(_BUILDERS)


def suggest(name: str, choices: list[str] | None = None) -> list[str]:
    """Close matches of ``name`` among ``choices`` (default: catalog names)."""
    pool = names() if choices is None else choices
    close = difflib.get_close_matches(name, pool, n=4, cutoff=0.5)
    close += [c for c in pool if name and name.lower() in c.lower() and c not in close]
    return close[:5]


@cache
def get(name: str) -> Smoothing:
    """The :class:`Smoothing` registered as ``name``.

    Raises
    ------
    CatalogError
        (a ``KeyError``) naming close matches when ``name`` is unknown.
    """
    _load()
    try:
        builder = _BUILDERS[name]
    except KeyError:
        close = suggest(name)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise CatalogError(
            f"no catalog entry named {name!r}.{hint} Run `symsmooth list` to see every name."
        ) from None
    record = builder()
    if record.name != name:
        raise CatalogError(
            f"builder {builder.__qualname__} registered as {name!r} returned a record named "
            f"{record.name!r}; make the two agree"
        )
    return record


def builder(name: str) -> Callable[[], Smoothing]:
    """The builder function of ``name`` (its docstring documents the entry)."""
    _load()
    get(name)
    return _BUILDERS[name]


def all_entries() -> list[Smoothing]:
    """Every record, in name order."""
    return [get(n) for n in names()]


registry.on_load(_load)
registry.on_change(get.cache_clear)
