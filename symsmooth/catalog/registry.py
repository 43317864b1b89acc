"""The table of catalog builders, below both the catalog package and the user catalog.

:mod:`symsmooth.catalog` (the built-in entries and the lookup) and
:mod:`symsmooth.catalog.user_catalog` (entries saved to a user file) both register builders
here, so neither imports the other back (issue #11: no import cycle).  The package hands its
loader and its cache reset to :func:`on_load` / :func:`on_change` when it is imported.

>>> from symsmooth.catalog import registry
>>> len(registry.loaded_names()) > 10  # the built-in entries, loaded on demand
True
"""

from __future__ import annotations

from collections.abc import Callable

from symsmooth.errors import CatalogError
from symsmooth.records import Smoothing

BUILDERS: dict[str, Callable[[], Smoothing]] = {}
_LOADERS: list[Callable[[], None]] = []
_ON_CHANGE: list[Callable[[], None]] = []


def entry(name: str) -> Callable[[Callable[[], Smoothing]], Callable[[], Smoothing]]:
    """Register ``builder`` as catalog entry ``name`` (decorator).

    The builder takes no arguments and returns a :class:`Smoothing` whose ``name`` is ``name``.
    """

    def register(builder: Callable[[], Smoothing]) -> Callable[[], Smoothing]:
        if name in BUILDERS and BUILDERS[name] is not builder:
            raise CatalogError(
                f"catalog entry {name!r} is registered twice ({BUILDERS[name].__module__} and "
                f"{builder.__module__}); rename one of them"
            )
        BUILDERS[name] = builder
        return builder

    return register


def on_load(loader: Callable[[], None]) -> None:
    """Run ``loader`` (idempotent) before :func:`loaded_names` answers."""
    _LOADERS.append(loader)


def on_change(reset: Callable[[], None]) -> None:
    """Run ``reset`` (a cache clear) after :func:`changed`."""
    _ON_CHANGE.append(reset)


def loaded_names() -> set[str]:
    """Every registered name, after the loaders ran."""
    for loader in _LOADERS:
        loader()
    return set(BUILDERS)


def changed() -> None:
    """Tell the lookups that builders were added or removed (their caches are stale)."""
    for reset in _ON_CHANGE:
        reset()
