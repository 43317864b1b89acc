"""Dask arrays through the CPU kernels, lazily: ``map_blocks`` of the ``_fast`` loops and a
tree reduction of mergeable row states for the reductions.

A generated module calls these only when an argument is a dask array (:func:`_is_lazy`, a
duck-type test: no dask import), and imports ``dask.array`` inside them, so a module still
imports only numpy, numba and math, and a user without dask is unaffected.  As the other host
helpers they are copied by source into each module (:mod:`symsmooth.codegen.host`); they read
the module's ``_NAME`` and, for reductions, ``_CHUNKED``: the kernels of the chunked path
(keys below), written by the template.

* Elementwise: :func:`_dask_fast` is ``da.map_blocks`` of the same ``<ufunc>_fast`` loop on
  every block (dask broadcasts NumPy and scalar operands as NumPy would).
* Reductions, along any one axis (moved last first, :func:`_dask_moved`; the result moved
  back, :func:`_dask_back`), with a NumPy or dask mask ``where=`` (:func:`_dask_mask`): with
  the reduced axis in one chunk every block holds whole rows and :func:`_dask_rows` maps the
  in-memory wrapper over the blocks (bit for bit the in-memory result, gradients and row maps
  included).  With the reduced axis in several chunks each chunk of a row gives a mergeable
  state, reduced as a tree and finished per row (:mod:`symsmooth.runtime.dask_states`), the
  tails kept in double-double.  Positions (class labels ``x[t]``) are offset by each chunk's
  start; the length ``n`` is the whole row's; pivoted gradients find their pivot across the
  chunks; a mask with a class label checks the label's entry across the chunks
  (:func:`_masked_labels`); parameter derivatives run their own chunk passes
  (:mod:`symsmooth.runtime.dask_params`), iterations theirs
  (:mod:`symsmooth.runtime.dask_iterations`).  A masked row's length ``n`` is its number of
  kept entries (:func:`_kept_counts`).

``_CHUNKED`` keys: ``value``, ``grad`` (the in-memory wrappers), ``state``, ``totals``,
``finish``, ``rowmap`` (or None), ``grad_chunk``, ``adjoint`` (or None), ``sums``, ``unpack``,
``adjoints`` (counts), ``vectors``, ``is_rowmap``, ``pivot`` (a pivoted gradient's chunk
kernels: the pivot's ``find`` and small sums' ``rest`` kernels, the record's columns and the
number of small sums; None without one), ``uses_size`` (the formula reads ``n``),
``param_grads`` (per parameter, the chunk kernels of its derivative:
:mod:`symsmooth.runtime.dask_params`).

Examples
--------
>>> import numpy as np
>>> _is_lazy(np.ones(3)), _is_lazy(2.0)
(False, False)
"""

from __future__ import annotations

import numpy as np

from symsmooth.runtime.axis_host import _axis_of, _check_mask
from symsmooth.runtime.cpu_host import _check_labels
from symsmooth.runtime.dask_states import (
    _chunk_pass,
    _empty_block,
    _finish_block,
    _first_pivot,
    _label_kept_block,
    _labels_checked,
    _merged,
    _row_totals,
    _state_layout,
)

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_CHUNKED: dict = {}
"""Stands for the generated module's chunked kernels (see the module docstring)."""
_LABELS: tuple = ()
"""Stands for the generated module's class labels (see :mod:`symsmooth.runtime.cpu_host`)."""


def _is_lazy(value):
    """True for a dask collection, by duck type (its type's module is dask's and it has a task
    graph): no dask import, so a module used without dask never loads it."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "__dask_graph__")


def _any_lazy(values):
    """True when one of ``values`` is a dask collection (:func:`_is_lazy`)."""
    return any(_is_lazy(v) for v in values)


def _dask_fast(fast, values, out):
    """``fast(*values)`` as a lazy dask array: ``map_blocks`` of the same loop on every block
    (NumPy and scalar operands broadcast as in NumPy).  The dtype is the loop's own on
    one-element stand-ins, so a refused dtype raises at once."""
    import dask.array as da

    if out is not None:
        raise TypeError(
            f"{_NAME}: out= is not supported for dask input (the result is a lazy dask array; "
            "use da.store or result.compute(out=...))"
        )
    probes, args = [], []
    for v in values:
        if isinstance(v, (bool, int, float, complex)):
            probes.append(v)
            args.append(v)
            continue
        a = v if _is_lazy(v) else np.asarray(v)
        probes.append(np.zeros((1,) * a.ndim, dtype=a.dtype))
        args.append(a if _is_lazy(a) else da.from_array(a, chunks=a.shape))
    dtype = np.asarray(fast(*probes)).dtype
    ndim = max(np.ndim(p) for p in probes)
    return da.map_blocks(fast, *args, dtype=dtype, meta=np.empty((0,) * ndim, dtype=dtype))


def _whole_rows_block(fn, cot, masked, kwargs, *blocks):
    """The in-memory wrapper on one block of whole rows (several gradients stacked on a last
    axis); ``masked``: the last block is the mask (``where=``), ``cot``: the last before it
    a row map's cotangent; ``kwargs``: fixed arguments."""
    if masked:
        kwargs = dict(kwargs, where=blocks[-1])
        blocks = blocks[:-1]
    if cot:
        kwargs = dict(kwargs, cotangent=blocks[-1])
        blocks = blocks[:-1]
    got = fn(*blocks, **kwargs)
    return np.stack(got, axis=-1) if isinstance(got, tuple) else got


def _dask_cotangent(cotangent, shape, chunks, ind):
    """A row map's cotangent as a ``da.blockwise`` (array, index) pair chunked as the rows
    (none for ``None``: all ones)."""
    import dask.array as da

    if cotangent is None:
        return []
    g = cotangent if _is_lazy(cotangent) else np.asarray(cotangent)
    return [da.broadcast_to(da.asarray(g), shape).rechunk(chunks), ind]


def _whole_rows(fn, vec_args, flat, cot, out_ind, stacked, dtype, kwargs, mask=()):
    """``fn`` (an in-memory wrapper) mapped over blocks that hold whole rows; ``stacked``:
    the number of gradients it returns as a tuple (0: one array); ``mask``: the mask's
    ``(array, index)`` pair, passed as ``where=``."""
    import dask.array as da

    got = da.blockwise(
        _whole_rows_block,
        out_ind,
        fn,
        None,
        bool(cot),
        None,
        bool(mask),
        None,
        kwargs,
        None,
        *vec_args,
        *flat,
        *cot,
        *mask,
        new_axes={"v": stacked} if stacked else {},
        dtype=dtype,
        concatenate=True,
        meta=np.empty((0,) * len(out_ind), dtype=dtype),
    )
    return tuple(got[..., j] for j in range(stacked)) if stacked else got


def _dask_rows(grad, vectors, params, cotangent=None, axis=-1, keepdims=False, where=None):
    """A reduction (``grad``: its gradient) of dask input along ``axis``, lazily: whole rows
    per block map the in-memory wrapper; rows in several chunks reduce mergeable states
    (module docstring).  ``where``: a NumPy or dask mask."""
    import dask.array as da

    vectors, cotangent, where, axis = _dask_moved(vectors, cotangent, where, axis)
    vecs, pairs, shape, dtype, chunks, ind = _dask_operands(vectors, params)
    # NumPy and scalar labels are checked now; dask ones in each block (at compute time)
    _check_labels([np.empty(0) if _is_lazy(p) else p for p in params], shape[-1])
    nv, lead, size = len(vecs), ind[:-1], float(shape[-1])
    rowmap = _CHUNKED["is_rowmap"]
    flat = [x for pair in pairs for x in pair]
    vec_args = [x for v in vecs for x in (v, ind)]
    cot = _dask_cotangent(cotangent, shape, chunks, ind) if grad and rowmap else []
    mask = _dask_mask(where, shape, chunks, ind)
    masked = bool(mask)
    new = {"v": nv} if grad and nv > 1 else {}
    out_ind = (ind if grad or rowmap else lead) + ("v" if new else "")
    mapped = grad or rowmap

    def back(got):
        if new:
            return tuple(_dask_back(got[..., j], axis, True, False) for j in range(nv))
        return _dask_back(got, axis, mapped, keepdims)

    if len(chunks[-1]) == 1:
        fn = _CHUNKED["grad"] if grad else _CHUNKED["value"]
        got = _whole_rows(fn, vec_args, flat, cot, out_ind, nv if new else 0, dtype, {}, mask)
        if new:
            return tuple(_dask_back(g, axis, True, False) for g in got)
        return back(got)
    f64 = np.float64
    offs = [da.arange(shape[-1], chunks=chunks[-1], dtype=f64), ind[-1]]
    # n of a masked row counts its kept entries (as _kept_count in memory)
    kept = _kept_counts(mask, lead) if masked and _CHUNKED["uses_size"] else [None, None]
    length = ("size", None) if kept[0] is None else ("kept", kept)
    if masked and _LABELS:  # a label on a masked entry of a row that keeps others: refused
        back = _masked_labels(back, mask, pairs, offs, ind, 1 + int(mapped) + int(bool(new)))

    operands = (vec_args, mask, flat, nv, masked, size)

    def chunk_pass(kernel, index, roles, out, **kw):
        return _chunk_pass(kernel, index, roles, out, operands, **kw)

    def states(count):
        return _state_layout(ind, count)

    tot_pair = _row_totals(operands, ind, offs)
    meta = np.empty((0,) * len(out_ind), dtype=dtype)
    if not grad and not rowmap:
        got = da.blockwise(
            _finish_block,
            lead,
            dtype,
            None,
            size,
            None,
            *tot_pair,
            *kept,
            *flat,
            dtype=dtype,
            concatenate=True,
            meta=meta,
        )
        if masked:  # fully masked rows (symsmooth.runtime.axis_host)
            any_kept = mask[0].any(axis=-1)
            zero = bool(_LABELS)
            got = da.map_blocks(_empty_block, got, any_kept, zero, dtype=dtype, meta=meta)
        return back(got)
    ends = [("off", offs), length]
    if not grad:
        roles = [("tot", tot_pair), *ends]
        got = chunk_pass(_CHUNKED["rowmap"], ind, roles, ("grads", 1), dtype=dtype, meta=meta)
        return back(got)
    g = ("cot", cot if cot else [1.0, None])
    more = []
    if rowmap:
        roles = [g, ("tot", tot_pair), *ends]
        n_adj = _CHUNKED["adjoints"]
        adj = chunk_pass(_CHUNKED["adjoint"], ind + "yw", roles, ("states", n_adj), **states(n_adj))
        more = [g, ("adj", [_merged(adj, len(ind) - 1), lead + "yw"])]
    if _CHUNKED["pivot"]:  # the pivot across the chunks, then the small sums without it
        find, rest, columns, n_small = _CHUNKED["pivot"]
        g_row = [g] if rowmap else []
        roles = [("tot", tot_pair), *g_row, ("off", offs)]
        rec = chunk_pass(
            find, ind + "z", roles, ("record", columns), new_axes={"z": columns},
            adjust_chunks={ind[-1]: 1}, meta=np.empty((0,) * (len(ind) + 1)),
        )  # fmt: skip
        piv = ("piv", [_merged(rec, len(ind) - 1, _first_pivot), lead + "z"])
        roles = [("tot", tot_pair), piv, *g_row, *ends]
        small = chunk_pass(rest, ind + "yw", roles, ("states", n_small), **states(n_small))
        more += [piv, ("rest", [_merged(small, len(ind) - 1), lead + "yw"])]
    roles = [("tot", tot_pair), *more, *ends]
    got = chunk_pass(
        _CHUNKED["grad_chunk"], out_ind, roles, ("grads", nv), new_axes=new, dtype=dtype,
        meta=meta,
    )  # fmt: skip
    return back(got)


def _kept_counts(mask, lead):
    """The number of kept entries of each row of a ``(mask, index)`` pair, as a
    ``(counts, lead)`` pair: a masked row's length ``n``."""
    return [mask[0].sum(axis=-1).astype(np.float64), lead]


def _masked_labels(back, mask, pairs, offs, ind, depth):
    """``back`` (a lazy result's last step) wrapped so that computing the result raises the
    in-memory wrapper's ValueError where a class label selects a masked entry of a row that
    keeps others (:func:`symsmooth.runtime.axis_host._check_masked_labels`); ``depth``: the
    result's axes beyond the rows' leading ones plus one."""
    import dask.array as da

    any_kept = mask[0].any(axis=-1)
    bad = None
    for at, _, first, _ in _LABELS:
        hit = da.blockwise(
            _label_kept_block, ind, first, None, *mask, *offs, *pairs[at],
            adjust_chunks={ind[-1]: 1}, dtype=bool, concatenate=True,
            meta=np.empty((0,) * len(ind), dtype=bool),
        ).any(axis=-1)  # fmt: skip
        miss = any_kept & ~hit
        bad = miss if bad is None else bad | miss
    message = (
        f"{_NAME}: a label selects a masked entry of a row that keeps other entries: unmask "
        "it, or mask the whole row (its loss is then 0)"
    )
    bad = bad.reshape(bad.shape + (1,) * (depth - 1))

    def checked(got):
        return back(da.map_blocks(_labels_checked, got, bad, message, dtype=got.dtype))

    return checked


def _dask_moved(vectors, cotangent, where, axis):
    """The vectors, a row map's cotangent and the mask (NumPy or dask; ``None`` stays
    ``None``) broadcast to the vectors' shape with ``axis`` moved last, and the axis as an
    index (the checks of :func:`symsmooth.runtime.axis_host._to_last`)."""
    import dask.array as da

    arrays = [v if _is_lazy(v) else np.asarray(v) for v in vectors]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if len(shape) == 0:
        raise ValueError(f"{_NAME}: inputs must have at least one axis (the reduced one)")
    axis = _axis_of(len(shape), axis)
    if where is not None:
        where = where if _is_lazy(where) else np.asarray(where)
        _check_mask(where.dtype, where.shape, shape)
    if axis == len(shape) - 1:
        return arrays, cotangent, where, axis

    def move(a):
        if a is None:
            return None
        a = a if _is_lazy(a) else np.asarray(a)
        lib = da if _is_lazy(a) else np
        return lib.moveaxis(lib.broadcast_to(a, shape), axis, -1)

    return [move(a) for a in arrays], move(cotangent), move(where), axis


def _dask_mask(where, shape, chunks, ind):
    """The (moved) mask as a ``da.blockwise`` (array, index) pair chunked as the rows (none
    for ``None``)."""
    import dask.array as da

    if where is None:
        return []
    w = where if _is_lazy(where) else np.broadcast_to(np.asarray(where), shape)
    w = da.broadcast_to(w, shape).rechunk(chunks) if _is_lazy(w) else da.from_array(w, chunks)
    return [w, ind]


def _dask_back(got, axis, mapped, keepdims):
    """A lazy result of the moved input in the input's layout: a row map or gradient
    (``mapped``) with its last axis back at ``axis``, a per-row result with a length-1 axis
    there for ``keepdims``."""
    import dask.array as da

    if mapped:
        return got if axis == got.ndim - 1 else da.moveaxis(got, -1, axis)
    return da.expand_dims(got, axis) if keepdims else got


def _dask_operands(vectors, params):
    """Dask vectors broadcast to one shape and chunking, parameters as (value, index) pairs of
    ``da.blockwise`` (scalars stay scalars; arrays become dask arrays over the leading axes,
    chunked as the rows; NumPy labels are checked at once), the shape and the result dtype."""
    import dask.array as da

    arrays = [v if _is_lazy(v) else np.asarray(v) for v in vectors]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if len(shape) == 0:
        raise ValueError(f"{_NAME}: inputs must have at least one axis (the reduced one)")
    letters = "abcdefghijklmnopqrst"  # blockwise indices of the axes (u, v, w, y: the states')
    if len(shape) > len(letters):
        raise ValueError(f"{_NAME}: at most {len(letters)} axes for dask input")
    common = np.result_type(*[a.dtype for a in arrays])
    dtype = np.dtype(np.float32 if common == np.float32 else np.float64)
    lazy = [a for a in arrays if _is_lazy(a)]
    if lazy:
        ref = next((a for a in lazy if a.shape == shape), None)
        ref = da.broadcast_to(lazy[0], shape) if ref is None else ref
    else:  # only a parameter is lazy: the rows are one block
        ref = da.from_array(np.broadcast_to(arrays[0], shape), chunks=shape)
    chunks = ref.chunks
    vecs = [
        (a if a.shape == shape else da.broadcast_to(a, shape)).rechunk(chunks)
        if _is_lazy(a)
        else da.from_array(np.broadcast_to(a, shape), chunks=chunks)
        for a in arrays
    ]
    ind = letters[: len(shape)]
    pairs = []
    for p in params:
        if not _is_lazy(p) and np.ndim(p) == 0:
            pairs.append((p, None))
            continue
        p = da.broadcast_to(da.asarray(p), shape[:-1]).rechunk(chunks[:-1])
        pairs.append((p, ind[:-1]))
    return vecs, pairs, shape, dtype, chunks, ind
