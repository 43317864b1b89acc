"""Host-side helpers of the CPU kernels: argument checks and array layout around the loops.

These run in plain Python (or, for :func:`_at`, inside the ``_fast`` loops) in the generated
module; the code generator (:mod:`symsmooth.codegen.host`) copies the source of each one the
module calls, with the helpers it calls and the private imports it uses, as it copies the
scalar helpers.  They read two module constants the generated module defines: ``_NAME`` (the
kernel's name, in error messages) and, for reductions with a class label, ``_LABELS``;
iterations also ``_COUNT`` (the name of the iteration count argument).  The values below only
stand for them here (tests set them).

* :func:`_at`, :func:`_fast_operands`: broadcasting and dtypes of the ``<ufunc>_fast`` loops,
  exactly as the NumPy ufunc does them.
* :func:`_check_labels`, :func:`_prepare`: the row layout of the reductions (float64
  C-contiguous rows, one parameter value per row) and the class-label check.
* :func:`_iter_count`, :func:`_iter_prepare`: the same for fixed-count iterations.

Examples
--------
>>> import numpy as np
>>> rows, per_row, shape, dtype = _prepare((np.ones((2, 3), dtype=np.float32),), (2.0,))
>>> rows[0].shape, per_row[0].tolist(), shape, dtype.__name__
((2, 3), [2.0, 2.0], (2, 3), 'float32')
>>> _iter_count(3.0, "kernel")
3
"""

from __future__ import annotations

import numpy as np
from numba import types as _types
from numba.extending import overload as _overload

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_LABELS: tuple = ()
"""Stands for the generated module's class labels: (position among the parameters, name, first
index, last index minus the row length)."""
_COUNT = "count"
"""Stands for the generated module's iteration count argument name."""


def _at(a, i):
    """a[i] for an array operand, a for a scalar one (chosen by Numba at compile time)."""
    return a[i] if np.ndim(a) else a


@_overload(_at, inline="always")
def _at_overload(a, i):
    if isinstance(a, _types.Array):
        return lambda a, i: a[i]
    return lambda a, i: a


def _lean_operands(values, out):
    """The operands of the common call -- C-contiguous float64 or float32 arrays of one shape and
    dtype, Python floats and ints (up to 2**53, exact as floats), ``out`` None or such an array
    (or Python numbers only: a float64 scalar) -- without copies or probes: the arrays' flat
    views, and the flat result array in their dtype (``out`` itself when given).  ``None`` for
    any other call.

    The result dtype is the arrays' (Python scalars are "weak", NEP 50), as the ufunc's; a
    float32 result is each float64 core value rounded once, as ``astype`` would.  This path
    costs about a microsecond where :func:`_fast_operands`'s broadcasting and dtype probe cost
    tens (issue #13: short arrays)."""
    shape = dtype = None
    flat = []
    for v in values:
        if type(v) is np.ndarray:
            if shape is None:
                shape, dtype = v.shape, v.dtype
            if v.shape != shape or v.dtype != dtype or not v.flags.c_contiguous:
                return None
            flat.append(v.reshape(-1))
        elif type(v) is float or (type(v) is int and -(2**53) <= v <= 2**53):
            flat.append(float(v))
        else:
            return None
    if shape is None:  # Python numbers only: a NumPy float64 scalar, as the ufunc gives
        shape, dtype = (), np.dtype(np.float64)
    if dtype.type not in (np.float64, np.float32):
        return None
    if out is None:
        return flat, np.empty(_size(shape), dtype=dtype), shape, dtype, False
    same = type(out) is np.ndarray and out.shape == shape and out.dtype == dtype
    if same and out.flags.c_contiguous and not _overlaps(out, flat):
        return flat, out.reshape(-1), shape, dtype, True
    return None


def _size(shape):
    """The number of elements of ``shape`` (a Python int, exact for any size)."""
    size = 1
    for extent in shape:
        size *= extent
    return size


def _overlaps(out, operands):
    """True when ``out`` shares memory with an array operand other than as the same elements
    (``f(x, out=x)`` is safe elementwise; ``out=a[:-1]`` with ``x=a[1:]`` would race in the
    threaded loop, so NumPy copies such an operand first, and so do the callers here)."""
    out_flat = out.reshape(-1)
    for a in operands:
        if isinstance(a, np.ndarray) and np.may_share_memory(out_flat, a):
            same = a.ctypes.data == out_flat.ctypes.data and a.strides == out_flat.strides
            if not (same and a.size == out_flat.size):
                return True
    return False


def _fast_operands(ufunc, values, out):
    """The operands of a ``_fast`` loop: :func:`_lean_operands` when it applies; otherwise
    scalars stay scalars, arrays become flat float64 arrays of the broadcast shape; the flat
    float64 result array (``out`` itself when it is C-contiguous float64 of that shape).

    Types follow ``ufunc`` exactly: it is called on size-0 stand-ins of the operands (Python
    scalars as themselves, so they stay "weak" as in NumPy), so complex input, an unsafe
    ``out=`` cast and anything else the ufunc refuses raise the ufunc's own error, and the
    result dtype is the ufunc's (float16, bool, 8- and 16-bit integers -> float32, as for
    ``np.sin``; wider integers -> float64)."""
    lean = _lean_operands(values, out)
    if lean is not None:
        return lean
    arrays = [np.asarray(v) for v in values]
    probes = [
        v if isinstance(v, (bool, int, float, complex)) else np.empty(0, dtype=a.dtype)
        for v, a in zip(values, arrays, strict=True)
    ]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError("return arrays must be of ArrayType")
        if np.broadcast_shapes(shape, out.shape) != out.shape:
            raise ValueError(
                f"non-broadcastable output operand with shape {out.shape} doesn't match the "
                f"broadcast shape {shape}"
            )
        dtype = ufunc(*probes, out=np.empty(0, dtype=out.dtype)).dtype
        shape = out.shape
    else:
        dtype = np.asarray(ufunc(*probes)).dtype
    flat = [
        float(a.reshape(-1)[0])
        if a.size == 1
        else np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64).reshape(-1)
        for a in arrays
    ]
    direct = (
        out is not None
        and out.dtype == np.float64
        and out.shape == shape
        and out.flags.c_contiguous
        and not _overlaps(out, flat)
    )
    res = out.reshape(-1) if direct else np.empty(_size(shape), dtype=np.float64)
    return flat, res, shape, dtype, direct


def _check_labels(params, length):
    """A ValueError unless every label is an integer within the row (NaN, 2.5, 0 or n + 1
    would otherwise select nothing and give a plausible wrong value)."""
    for at, label, first, offset in _LABELS:
        value = np.asarray(params[at])
        if value.dtype.kind not in "biuf":
            raise ValueError(
                f"{_NAME}: label {label} must be an integer class index, not dtype {value.dtype}"
            )
        bad = ~np.isfinite(value) | (value != np.round(value))
        bad = bad | (value < first) | (value > length + offset)
        if np.any(bad):
            shown = value[bad].reshape(-1)[0] if value.ndim else value
            raise ValueError(
                f"{_NAME}: label {label} = {shown} is not a class index "
                f"of a row of length {length}: labels are integers "
                f"from {first} to {length + offset} "
                f"({first}-based; an empty row has no class)"
            )


def _read_only(a):
    """``a`` as a read-only view (no copy).  Every array a row kernel reads is passed so:
    Numba types a read-only array apart from a writable one and compiles each kernel once for
    either (a parameter given per row came through ``np.broadcast_to`` read-only, a scalar's
    copy writable: two compilations of the same kernel, seconds each for a pivoted gradient).

    >>> v = _read_only(np.zeros(3))
    >>> v.flags.writeable, v.base is not None
    (False, True)
    """
    v = a.view()
    v.flags.writeable = False
    return v


def _prepare(arrays, params=()):
    """Broadcast, up-cast to float64 C-contiguous 2-D rows; parameters become one value per row.

    Returns the rows, the per-row parameters, the input shape and the output dtype."""
    arrays = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    shape = arrays[0].shape
    if len(shape) == 0:
        raise ValueError(f"{_NAME}: inputs must have at least one axis (the reduced one)")
    _check_labels(params, shape[-1])
    common = np.result_type(*[a.dtype for a in arrays])
    dtype = np.float32 if common == np.float32 else np.float64
    count = _size(shape[:-1])
    rows = [
        _read_only(np.ascontiguousarray(a, dtype=np.float64).reshape(count, shape[-1]))
        for a in arrays
    ]
    per_row = [
        _read_only(
            np.ascontiguousarray(
                np.broadcast_to(np.asarray(p, dtype=np.float64), shape[:-1])
            ).reshape(count)
        )
        for p in params
    ]
    return rows, per_row, shape, dtype


def _iter_count(count, who):
    """The iteration count as an int; a ValueError naming ``who`` unless it is an integer
    >= 0."""
    if int(count) != count or count < 0:
        raise ValueError(f"{who}: {_COUNT} must be an integer >= 0, got {count!r}")
    return int(count)


def _iter_prepare(x, params, count):
    """float64 C-contiguous 2-D rows, one value per row per parameter, the shape, the dtype and
    the checked count."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{_NAME}: the input must have at least one axis (the row)")
    count = _iter_count(count, _NAME)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    shape = x.shape
    rows_count = _size(shape[:-1])
    rows = _read_only(np.ascontiguousarray(x, dtype=np.float64).reshape(rows_count, shape[-1]))
    per_row = [
        _read_only(
            np.ascontiguousarray(
                np.broadcast_to(np.asarray(p, dtype=np.float64), shape[:-1])
            ).reshape(rows_count)
        )
        for p in params
    ]
    return rows, per_row, shape, dtype, count
