"""Any axis, ``keepdims`` and masks (``where=``) for the framework bridges, with no framework:
which layout keywords a module takes, their checks, and the shapes of the moved operands.

A module's ``__symsmooth__`` record lists its layout keywords and their defaults (``layout``,
:mod:`symsmooth.codegen.api`): reductions ``axis``, ``keepdims`` (per-row values only) and
``where``; iterations ``axis``; an older record none.  A bridge reduces along another axis by
moving it in the framework, so that the framework differentiates the moves:

1. :func:`split_layout` takes the layout keywords out of a call's keywords (``None``: the
   defaults, the bridge's unchanged last-axis path);
2. :func:`plan` checks the axis and the mask against the inputs' shapes and gives the
   :class:`Moves` of the call: the inputs broadcast to ``full`` with ``axis`` moved last
   (``moved``), the mask broadcast and moved likewise;
3. the bridge calls its last-axis path on the moved operands, the mask passed to every kernel
   as ``where=`` (the kernels' own ``axis=-1``);
4. a per-row result gets a length-1 axis at ``axis`` for ``keepdims``; a row map's result is
   moved back (:attr:`Moves.last`: nothing to move), both counted from the end
   (:attr:`Moves.from_end`: right also where the parameters broadcast the rows to more
   leading axes, as JAX's bridge allows).

Parameters and labels stay one value per row: they broadcast against the rows' shape, the
inputs' shape without ``axis`` (the moved shape without its last axis: the same order).

Examples
--------
>>> rest, layout = split_layout("f", {"axis": -1, "where": None}, {"top": 2, "axis": 0})
>>> rest, layout
({'top': 2}, Layout(axis=0, keepdims=False, where=None))
>>> split_layout("f", {"axis": -1}, {"axis": -1})
({}, None)
>>> moves = plan("f", layout, [("x", (2, 3, 4))])
>>> moves.axis, moves.from_end, moves.moved, moves.rows, moves.last
(0, -3, (3, 4, 2), (3, 4), False)
>>> plan("f", layout, [("x", (2, 3, 4))], ("bool", (5,)))
Traceback (most recent call last):
...
ValueError: f: where= of shape (5,) does not broadcast to the input shape (2, 3, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symsmooth.bridges.calls import Shape, broadcast_shapes
from symsmooth.runtime.axis_host import _axis_of, _check_mask

DEFAULTS: dict[str, Any] = {"axis": -1, "keepdims": False, "where": None}
"""Every layout keyword and its default (the kernels' own)."""


@dataclass(frozen=True)
class Layout:
    """The checked layout keywords of one call: ``axis`` (one integer, as given),
    ``keepdims`` and the mask ``where`` (the framework's array as given; ``None``: none)."""

    axis: int = -1
    keepdims: bool = False
    where: Any = None


def _check_keepdims(name: str, keepdims) -> bool:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{name}: keepdims must be True or False, not {keepdims!r}")
    return bool(keepdims)


_CHECKS = {"axis": lambda name, a: a, "keepdims": _check_keepdims, "where": lambda name, w: w}
"""The check of each layout keyword's value taken at once (the axis and the mask are checked
against the shapes by :func:`plan`, with the kernels' own checks)."""


def split_layout(name: str, allowed: Mapping[str, Any], keywords: Mapping[str, Any]):
    """``(the other keywords, the Layout)`` of a call's ``keywords``, taking out those the
    record's layout ``allowed`` lists (a keyword it lacks, ``keepdims`` of a row map, stays
    among the others for the bridge to refuse as unknown); the Layout is ``None`` when every
    layout keyword has its default (the last axis, no keepdims, no mask).

    A ``TypeError`` for a keepdims that is not a bool (an axis that is not one integer: by
    :func:`plan`)."""
    ours = [k for k in keywords if k in allowed and k in DEFAULTS]
    if not ours:
        return dict(keywords), None
    rest = {k: v for k, v in keywords.items() if k not in ours}
    given = {k: _CHECKS[k](name, keywords[k]) for k in ours}
    layout = Layout(**given)
    if layout.axis == -1 and not layout.keepdims and layout.where is None:
        return rest, None
    return rest, layout


@dataclass(frozen=True)
class Moves:
    """The shapes of one call along ``axis`` (an index into ``full``, the inputs' broadcast
    shape) with ``keepdims``."""

    axis: int
    full: Shape
    keepdims: bool = False

    @property
    def last(self) -> bool:
        """Whether the axis already is the last one (nothing to move)."""
        return self.axis == len(self.full) - 1

    @property
    def from_end(self) -> int:
        """The axis counted from the end (negative): where a result's kept axis goes, or a
        row map's last axis moves back to, also where parameters added leading axes."""
        return self.axis - len(self.full)

    @property
    def moved(self) -> Shape:
        """The inputs' shape with the axis moved last (what the last-axis path sees)."""
        return self.rows + self.full[self.axis : self.axis + 1]

    @property
    def rows(self) -> Shape:
        """The rows' shape: the inputs' without the axis (parameters broadcast to it)."""
        return self.full[: self.axis] + self.full[self.axis + 1 :]


def plan(
    name: str,
    layout: Layout,
    inputs: Sequence[tuple[str, Shape]],
    mask: tuple[str, Shape] | None = None,
) -> Moves:
    """The :class:`Moves` of a call: the inputs' ``(name, shape)`` broadcast (a ValueError
    naming the two that do not), the axis checked and the mask's ``(dtype name, shape)``, if
    any, checked with the kernels' own checks (:mod:`symsmooth.runtime.axis_host`)."""
    full = broadcast_shapes(name, inputs)
    if not full:
        raise ValueError(f"{name}: inputs need at least one axis (the reduced one)")
    axis = _axis_of(len(full), layout.axis, name)
    if mask is not None:
        _check_mask(*mask, full, name)
    return Moves(axis, full, layout.keepdims)
