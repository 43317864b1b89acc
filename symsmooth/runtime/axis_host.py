"""Any axis, ``keepdims`` and masks (``where=``) for the reductions' CPU wrappers.

The row kernels reduce the last axis of C-contiguous ``(rows, n)`` matrices.  A reduction along
another axis moves that axis last (:func:`_to_last`, a view, then the usual row layout), so a
result along ``axis`` is bit for bit the last-axis result of the moved input; the result is
moved back (:func:`_mapped`) or given its kept axis (:func:`_reduced`).

A mask ``where`` (boolean, broadcast against the input, as NumPy's ``where=``) becomes a
``(rows, n)`` boolean matrix, or ``None`` for no mask (:func:`_keep_rows`).  The kernels read it
through :func:`_kept` (``keep_row[idx]``, or the constant ``True`` for ``None``: Numba compiles
the unmasked kernels to the same machine code as without masks) and skip a masked entry in
every pass: it joins no sum, is never the row's maximum nor a pivot (its value is never read),
and its gradient and row-map value are 0.  Positions and class labels keep their place in the
whole row; the length ``n`` of a formula counts the kept entries (:func:`_kept_count`).

A fully masked row: the formula over empty sums (log-sum-exp ``-inf``, a soft minimum
``+inf``), except that a value that is 0/0 there (NaN: soft argmax, mellowmax) and every loss
with a class label is 0, as torch's ``_safe_softmax`` (behind
``scaled_dot_product_attention``) gives 0 for a fully masked softmax row; its gradients and
parameter derivatives are 0 (:func:`_empty_rows`).

Examples
--------
>>> import numpy as np
>>> mask = np.array([True, False, True])[:, None]  # broadcasts to (2, 3, 4)
>>> moved, axis, where = _to_last((np.zeros((2, 3, 4)),), 1, mask)
>>> moved[0].shape, axis, where.shape
((2, 4, 3), 1, (2, 4, 3))
>>> _keep_rows(where, 8).shape, _keep_rows(None, 8)
((8, 3), None)
>>> _reduced(np.arange(8.0), (2, 4, 3), np.float64, 1, True).shape
(2, 1, 4)
"""

from __future__ import annotations

import numpy as np
from numba import types as _types
from numba.extending import overload as _overload

from symsmooth.runtime.cpu_host import _read_only

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_LABELS: tuple = ()
"""Stands for the generated module's class labels (see :mod:`symsmooth.runtime.cpu_host`)."""


def _kept(keep_row, idx):
    """Whether entry ``idx`` of the row joins the reduction: ``keep_row[idx]``, or ``True``
    for no mask (``None``; chosen by Numba at compile time)."""
    return True if keep_row is None else bool(keep_row[idx])


@_overload(_kept, inline="always")
def _kept_overload(keep_row, idx):
    if isinstance(keep_row, _types.NoneType):
        return lambda keep_row, idx: True
    return lambda keep_row, idx: keep_row[idx]


def _keep_row(keep, r):
    """Row ``r`` of the mask matrix ``keep`` (``None`` stays ``None``)."""
    return None if keep is None else keep[r]


@_overload(_keep_row, inline="always")
def _keep_row_overload(keep, r):
    if isinstance(keep, _types.NoneType):
        return lambda keep, r: None
    return lambda keep, r: keep[r]


def _kept_count(keep_row, length):
    """The number of kept entries of a row of ``length`` entries, as a float (the ``n`` of a
    formula)."""
    return float(length) if keep_row is None else float(np.count_nonzero(keep_row))


@_overload(_kept_count, inline="always")
def _kept_count_overload(keep_row, length):
    if isinstance(keep_row, _types.NoneType):
        return lambda keep_row, length: float(length)

    def count(keep_row, length):
        total = 0
        for idx in range(length):
            total += 1 if keep_row[idx] else 0
        return float(total)

    return count


def _axis_of(ndim, axis, who=None):
    """``axis`` as an index in ``0 .. ndim - 1`` (negative counts from the end); NumPy's
    AxisError for an axis out of range, a TypeError for a tuple or a non-integer.  ``who``
    names the kernel in the errors (default: the module's ``_NAME``; the bridges pass
    theirs)."""
    who = who or _NAME
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(
            f"{who}: axis must be one integer (the reduced axis), not {axis!r}: reduce "
            "one axis at a time, or reshape first"
        )
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(int(axis), ndim, who)
    return int(axis) % ndim


def _to_last(arrays, axis, where=None):
    """The inputs broadcast to one shape with ``axis`` moved last (views), the axis as an
    index, and the mask ``where`` broadcast to the inputs' shape and moved likewise (``None``
    stays ``None``): a TypeError unless it is boolean, NumPy's ValueError unless it
    broadcasts."""
    arrays = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError(f"{_NAME}: inputs must have at least one axis (the reduced one)")
    axis = _axis_of(ndim, axis)
    if where is not None:
        where = np.asarray(where)
        _check_mask(where.dtype, where.shape, arrays[0].shape)
        where = np.moveaxis(np.broadcast_to(where, arrays[0].shape), axis, -1)
    return [np.moveaxis(a, axis, -1) for a in arrays], axis, where


def _check_mask(dtype, mask_shape, shape, who=None):
    """A TypeError unless a mask of ``dtype`` (NumPy's, dask's, or a framework's dtype name)
    is boolean, a ValueError unless its ``mask_shape`` broadcasts to the inputs' ``shape``
    without widening it; ``who`` as for :func:`_axis_of`.

    >>> _check_mask(np.dtype(bool), (3,), (2, 3))
    >>> _check_mask("bool", (2, 1, 3), (2, 3), "f")
    Traceback (most recent call last):
    ...
    ValueError: f: where= of shape (2, 1, 3) does not broadcast to the input shape (2, 3)
    """
    who = who or _NAME
    if str(dtype) != "bool":
        raise TypeError(
            f"{who}: where= must be a boolean mask (True: the entry joins the "
            f"reduction), not dtype {dtype}"
        )
    try:
        fits = np.broadcast_shapes(tuple(mask_shape), tuple(shape)) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{who}: where= of shape {tuple(mask_shape)} does not broadcast to the input "
            f"shape {tuple(shape)}"
        )


def _keep_rows(where, count):
    """The moved mask as a C-contiguous ``(count, n)`` boolean matrix, ``None`` for none."""
    if where is None:
        return None
    return _read_only(
        np.ascontiguousarray(where).reshape(count, where.shape[-1] if where.ndim else 1)
    )


def _check_masked_labels(keep, per_row):
    """A ValueError when a class label selects a masked entry of a row that keeps others (the
    loss would read an entry the mask leaves out); a fully masked row's loss is 0 whatever its
    label."""
    if keep is None:
        return
    for at, label, first, _ in _LABELS:
        t = per_row[at].astype(np.int64) - first
        hit = keep[np.arange(keep.shape[0]), t]
        bad = ~hit & keep.any(axis=1)
        if np.any(bad):
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{_NAME}: label {label} = {int(t[r]) + first} selects a masked entry of row "
                f"{r} (flattened over the other axes), which keeps other entries: unmask it, "
                "or mask the whole row (its loss is then 0)"
            )


def _empty_rows(out, keep, zero):
    """Fully masked rows of a per-row result ``out`` (flat float64, changed in place; module
    docstring): 0 where ``zero`` (a loss with a class label, a parameter derivative), else 0
    where the value over empty sums is NaN (0/0); ``out`` itself."""
    if keep is not None:
        empty = ~keep.any(axis=1)
        if np.any(empty):
            out[empty] = 0.0 if zero else np.where(np.isnan(out[empty]), 0.0, out[empty])
    return out


def _reduced(out, shape, dtype, axis, keepdims):
    """A per-row result (``out``, flat float64) shaped as the reduced input: the moved
    ``shape`` without its last axis, with a length-1 axis at ``axis`` for ``keepdims``."""
    out = out.reshape(shape[:-1])
    if keepdims:
        out = np.expand_dims(out, axis)
    return out.astype(dtype, copy=False)


def _mapped(out, shape, dtype, axis):
    """A result shaped like the moved input (a row map, a gradient) moved back to the input's
    layout."""
    return np.moveaxis(out.reshape(shape), -1, axis).astype(dtype, copy=False)


def _cotangent_rows(cotangent, shape, axis, rows):
    """A row map's cotangent (``None``: all ones) broadcast to the input's shape, moved as
    the input and laid out as its rows."""
    if cotangent is None:
        return _read_only(np.ones(rows.shape))
    moved = np.moveaxis(np.broadcast_to(np.asarray(cotangent), _unmoved(shape, axis)), axis, -1)
    return _read_only(np.ascontiguousarray(moved, dtype=np.float64).reshape(rows.shape))


def _unmoved(shape, axis):
    """The input's shape from the moved ``shape`` (last axis back at ``axis``)."""
    return shape[:axis] + shape[-1:] + shape[axis:-1]
