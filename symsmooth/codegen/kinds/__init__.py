"""Kernel kinds: one module each (elementwise, reduction, iteration), one registry.

Each module builds its kind's CPU and CUDA template context and names its templates in a
:class:`~symsmooth.codegen.kinds.base.Kind`; :data:`KINDS` lists them, keyed by
``spec.kind``.  A new kind is one module here plus its two templates.

Examples
--------
>>> sorted(KINDS)
['elementwise', 'iteration', 'reduction']
>>> kind("reduction").template, kind("reduction").cuda_template
('reduction.py.j2', 'cuda_reduction.py.j2')
>>> kind("stencil")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symsmooth.errors.CodegenError: no kernel kind 'stencil'; known: elementwise, ... in KINDS
"""

from __future__ import annotations

from symsmooth.codegen.kinds.base import Kind
from symsmooth.codegen.kinds.elementwise import ELEMENTWISE
from symsmooth.codegen.kinds.iteration import ITERATION
from symsmooth.codegen.kinds.reduction import REDUCTION
from symsmooth.errors import CodegenError

KINDS: dict[str, Kind] = {k.name: k for k in (ELEMENTWISE, REDUCTION, ITERATION)}
"""``spec.kind`` -> its :class:`Kind`."""


def kind(name: str) -> Kind:
    """The :class:`Kind` serving ``spec.kind == name``; a :class:`CodegenError` for none."""
    try:
        return KINDS[name]
    except KeyError:
        raise CodegenError(
            f"no kernel kind {name!r}; known: {', '.join(sorted(KINDS))}. Add a module to "
            "symsmooth/codegen/kinds/ with its Kind and list it in KINDS"
        ) from None


__all__ = ["KINDS", "Kind", "kind"]
