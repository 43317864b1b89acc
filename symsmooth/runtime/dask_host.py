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
* Reductions (the last axis): with the reduced axis in one chunk every block holds whole rows
  and :func:`_dask_rows` maps the in-memory wrapper over the blocks (bit for bit the in-memory
  result, gradients and row maps included).  With the reduced axis in several chunks each
  chunk of a row gives a *state* per sum of the normal form, ``(M, hi, lo)``: the chunk's
  scaled sum ``hi + lo`` (a double-double) and its shift ``M`` (the sum is
  ``exp(M) (hi + lo)``; ``M = 0`` for a sum with no exponent).  Two states merge
  (:func:`_merge_states`) by rescaling to the common maximum ``exp(M_a - M)`` with the
  difference taken exactly (TwoSum, as ``_wexp``) and adding in double-double, so a tail far
  below the maximum survives: LSE([0, -40]) over two chunks keeps ``exp(-40) = 4.25e-18`` in
  the low part, where an online ``(m, s)`` combine in plain doubles rounds it away.  The
  states reduce along the chunks as a tree (``da.reduction``), the totals are finished per row
  by the kernel's own formula (``_totals`` then ``_finish``); row maps and gradients, which
  need the row totals at every element, are a second ``map_blocks`` pass with the totals
  (and, for a row map's VJP, a reduction of the adjoint sums first).  Positions (class
  labels ``x[t]``) are offset by each chunk's start; the length ``n`` is the whole row's.

``_CHUNKED`` keys: ``value``, ``grad`` (the in-memory wrappers), ``state``, ``totals``,
``finish``, ``rowmap`` (or None), ``grad_chunk``, ``adjoint`` (or None), ``sums``, ``unpack``,
``adjoints`` (counts), ``vectors``, ``is_rowmap``, ``pivot`` (a pivoted gradient: chunked rows
refused).

Examples
--------
>>> import numpy as np
>>> a = np.array([[[0.0, 1.0, 0.0]]])  # one row, one sum: exp(0) * 1
>>> b = np.array([[[-40.0, 1.0, 0.0]]])  # exp(-40) * 1, in another chunk
>>> m = _merge_states(a, b)
>>> m[0, 0, 1], float(m[0, 0, 2])  # the tail stays in the low part
(np.float64(1.0), 4.248354255291589e-18)
>>> _is_lazy(np.ones(3)), _is_lazy(2.0)
(False, False)
"""

from __future__ import annotations

import numpy as np

from symsmooth.runtime.cpu_host import _check_labels

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_CHUNKED: dict = {}
"""Stands for the generated module's chunked kernels (see the module docstring)."""


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


def _shift_scale(m_part, m):
    """exp(m_part - m) for m >= m_part, the difference taken exactly (TwoSum): 1 when equal
    (+inf entries share the mass), 0 below exp's range or for m_part = -inf."""
    d = m_part - m
    bp = d - m_part
    lo = (m_part - (d - bp)) + (-m - bp)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    return np.where(m_part == m, 1.0, np.exp(d) * (1.0 + lo))


def _merge_states(a, b):
    """The state of the concatenation of two chunks: ``(..., n_sums, 3)`` arrays of
    ``(M, hi, lo)``; rescaled to ``M = max(M_a, M_b)`` and added in double-double (TwoSum,
    then renormalized).  An infinite or NaN sum keeps its plain value with low part 0, as the
    kernels' ``_fin``."""
    with np.errstate(all="ignore"):
        m = np.maximum(a[..., 0], b[..., 0])
        fa = _shift_scale(a[..., 0], m)
        fb = _shift_scale(b[..., 0], m)
        pa, pb = a[..., 1] * fa, b[..., 1] * fb
        s = pa + pb
        bp = s - pa
        e = (pa - (s - bp)) + (pb - bp)
        lo = e + a[..., 2] * fa + b[..., 2] * fb
        hi = s + lo
        lo = lo - (hi - s)
        ok = np.isfinite(hi) & np.isfinite(lo)
        return np.stack([m, np.where(ok, hi, s), np.where(ok, lo, 0.0)], axis=-1)


def _merge_along(x, axis, keepdims):
    """:func:`_merge_states` of every state along ``axis`` (a ``da.reduction`` combine), left
    to right."""
    at = axis[0] if isinstance(axis, tuple) else axis
    acc = np.take(x, 0, axis=at)
    for i in range(1, x.shape[at]):
        acc = _merge_states(acc, np.take(x, i, axis=at))
    return np.expand_dims(acc, at) if keepdims else acc


def _flat_rows(blocks, params):
    """float64 C-contiguous rows of the blocks and one value per row per parameter (a block's
    parameters are scalars or blocks of the leading axes)."""
    lead = blocks[0].shape[:-1]
    count = int(np.prod(lead, dtype=np.int64))
    rows = [np.ascontiguousarray(b, dtype=np.float64).reshape(count, b.shape[-1]) for b in blocks]
    per_row = [
        np.ascontiguousarray(np.broadcast_to(np.asarray(p, dtype=np.float64), lead)).reshape(count)
        for p in params
    ]
    return rows, per_row, lead, count


def _state_block(nv, size, *blocks):
    """The ``(lead..., 1, n_sums, 3)`` states of one block of rows (a chunk of the reduced
    axis starting at the offset block ``blocks[-1]``)."""
    vecs, params, off = blocks[:nv], blocks[nv:-1], blocks[-1]
    _check_labels(params, size)
    rows, per_row, lead, count = _flat_rows(vecs, params)
    state = np.empty((count, _CHUNKED["sums"], 3))
    _CHUNKED["state"](*rows, *per_row, float(off[0]), state)
    return state.reshape(*lead, 1, _CHUNKED["sums"], 3)


def _totals_block(state, *params):
    """The row totals of merged states: what ``_sums_<name>`` returns for the whole row."""
    lead = state.shape[:-2]
    count = int(np.prod(lead, dtype=np.int64))
    _, per_row, _, _ = _flat_rows([np.empty((*lead, 0))], params)
    tot = np.empty((count, _CHUNKED["unpack"]))
    _CHUNKED["totals"](np.ascontiguousarray(state).reshape(count, -1, 3), *per_row, tot)
    return tot.reshape(*lead, _CHUNKED["unpack"])


def _finish_block(dtype, size, tot, *params):
    """The reduction's value from the row totals."""
    lead = tot.shape[:-1]
    count = int(np.prod(lead, dtype=np.int64))
    _, per_row, _, _ = _flat_rows([np.empty((*lead, 0))], params)
    out = np.empty(count)
    _CHUNKED["finish"](np.ascontiguousarray(tot).reshape(count, -1), *per_row, size, out)
    return out.reshape(lead).astype(dtype, copy=False)


def _map_block(kernel, nv, size, extra, dtype, *blocks):
    """A second pass over one block with the row totals: ``kernel(rows..., params..., tot,
    [cotangent rows, adjoint sums,] offset, size, outputs...)``; ``extra`` is 0 (row-map
    values), 1 (a reduction's gradient, one output per vector) or 2 (a row map's VJP)."""
    vecs, rest = blocks[:nv], blocks[nv:]
    if extra == 2:
        g, adj, tot, off, params = rest[0], rest[1], rest[2], rest[3], rest[4:]
    else:
        g = adj = None
        tot, off, params = rest[0], rest[1], rest[2:]
    rows, per_row, lead, count = _flat_rows(vecs, params)
    tot = np.ascontiguousarray(tot).reshape(count, -1)
    outs = [np.empty_like(rows[0]) for _ in range(1 if extra == 0 else nv)]
    more = []
    if extra == 2:
        g_rows = np.ascontiguousarray(np.broadcast_to(g, vecs[0].shape), dtype=np.float64)
        more = [g_rows.reshape(rows[0].shape), np.ascontiguousarray(adj).reshape(count, -1, 3)]
    kernel(*rows, *per_row, tot, *more, float(off[0]), size, *outs)
    shaped = [o.reshape(vecs[0].shape).astype(dtype, copy=False) for o in outs]
    return shaped[0] if len(shaped) == 1 else np.stack(shaped, axis=-1)


def _adjoint_block(nv, size, *blocks):
    """The ``(lead..., 1, n_adjoints, 3)`` partial adjoint sums of a row map's VJP over one
    chunk (states with M = 0: they merge as double-double sums)."""
    vecs, g, tot, off, params = (
        blocks[:nv],
        blocks[nv],
        blocks[nv + 1],
        blocks[nv + 2],
        blocks[nv + 3 :],
    )
    rows, per_row, lead, count = _flat_rows(vecs, params)
    g_rows = np.ascontiguousarray(np.broadcast_to(g, vecs[0].shape), dtype=np.float64)
    adj = np.empty((count, _CHUNKED["adjoints"], 3))
    tot = np.ascontiguousarray(tot).reshape(count, -1)
    _CHUNKED["adjoint"](
        *rows, *per_row, g_rows.reshape(rows[0].shape), tot, float(off[0]), size, adj
    )
    return adj.reshape(*lead, 1, _CHUNKED["adjoints"], 3)


def _whole_rows_block(fn, cot, kwargs, *blocks):
    """The in-memory wrapper on one block of whole rows (several gradients stacked on a last
    axis); ``cot``: the last block is a row map's cotangent; ``kwargs``: fixed arguments."""
    if cot:
        kwargs = dict(kwargs, cotangent=blocks[-1])
        blocks = blocks[:-1]
    got = fn(*blocks, **kwargs)
    return np.stack(got, axis=-1) if isinstance(got, tuple) else got


def _chunk_identity(x, axis, keepdims):
    """The chunk step of the state reduction: a block of states is its own partial result."""
    return x


def _merged(states, axis):
    """The states reduced along ``axis`` (the chunks of the rows) by :func:`_merge_along`, as a
    tree (``da.reduction``, 8 states at a time)."""
    import dask.array as da

    meta = np.empty((0,) * (states.ndim - 1))
    return da.reduction(
        states,
        _chunk_identity,
        _merge_along,
        combine=_merge_along,
        axis=axis,
        keepdims=False,
        dtype=np.float64,
        split_every=8,
        concatenate=True,
        meta=meta,
    )


def _dask_cotangent(cotangent, shape, chunks, ind):
    """A row map's cotangent as a ``da.blockwise`` (array, index) pair chunked as the rows
    (none for ``None``: all ones)."""
    import dask.array as da

    if cotangent is None:
        return []
    g = cotangent if _is_lazy(cotangent) else np.asarray(cotangent)
    return [da.broadcast_to(da.asarray(g), shape).rechunk(chunks), ind]


def _whole_rows(fn, vec_args, flat, cot, out_ind, stacked, dtype, kwargs):
    """``fn`` (an in-memory wrapper) mapped over blocks that hold whole rows; ``stacked``:
    the number of gradients it returns as a tuple (0: one array)."""
    import dask.array as da

    got = da.blockwise(
        _whole_rows_block,
        out_ind,
        fn,
        None,
        bool(cot),
        None,
        kwargs,
        None,
        *vec_args,
        *flat,
        *cot,
        new_axes={"v": stacked} if stacked else {},
        dtype=dtype,
        concatenate=True,
        meta=np.empty((0,) * len(out_ind), dtype=dtype),
    )
    return tuple(got[..., j] for j in range(stacked)) if stacked else got


def _dask_iteration(fn, x, params, cotangent, kwargs):
    """A fixed-count iteration over rows (its VJP when ``cotangent`` is given or ``fn`` is
    the gradient) on dask input: whole rows per block only (the iteration needs the row)."""
    vecs, pairs, shape, dtype, chunks, ind = _dask_operands((x,), params)
    if len(chunks[-1]) > 1:
        raise NotImplementedError(
            f"{_NAME}: an iteration needs whole rows; this dask input has the row axis in "
            f"{len(chunks[-1])} chunks: x.rechunk({{-1: -1}}) first"
        )
    flat = [v for pair in pairs for v in pair]
    cot = _dask_cotangent(cotangent, shape, chunks, ind)
    return _whole_rows(fn, [vecs[0], ind], flat, cot, ind, 0, dtype, kwargs)


def _dask_param_rows(fn, vectors, params, cotangent=None):
    """A reduction's parameter derivative ``fn`` (an in-memory wrapper: one value per row) of
    dask input, lazily, with whole rows per block (its pivot pass needs the row); a row map's
    ``cotangent`` travels with the rows."""
    vecs, pairs, shape, dtype, chunks, ind = _dask_operands(vectors, params)
    if len(chunks[-1]) > 1:
        raise NotImplementedError(
            f"{_NAME}: a parameter derivative needs whole rows; this dask input has the "
            f"reduced axis in {len(chunks[-1])} chunks: x.rechunk({{-1: -1}}) first"
        )
    _check_labels([np.empty(0) if _is_lazy(p) else p for p in params], shape[-1])
    flat = [x for pair in pairs for x in pair]
    vec_args = [x for v in vecs for x in (v, ind)]
    cot = _dask_cotangent(cotangent, shape, chunks, ind)
    return _whole_rows(fn, vec_args, flat, cot, ind[:-1], 0, dtype, {})


def _dask_rows(grad, vectors, params, cotangent=None):
    """A reduction (``grad``: its gradient) of dask input, lazily: whole rows per block map the
    in-memory wrapper; rows in several chunks reduce mergeable states (module docstring)."""
    import dask.array as da

    vecs, pairs, shape, dtype, chunks, ind = _dask_operands(vectors, params)
    # NumPy and scalar labels are checked now; dask ones in each block (at compute time)
    _check_labels([np.empty(0) if _is_lazy(p) else p for p in params], shape[-1])
    nv, lead, size = len(vecs), ind[:-1], float(shape[-1])
    rowmap = _CHUNKED["is_rowmap"]
    flat = [x for pair in pairs for x in pair]
    vec_args = [x for v in vecs for x in (v, ind)]
    cot = _dask_cotangent(cotangent, shape, chunks, ind) if grad and rowmap else []
    new = {"v": nv} if grad and nv > 1 else {}
    out_ind = (ind if grad or rowmap else lead) + ("v" if new else "")
    if len(chunks[-1]) == 1:
        fn = _CHUNKED["grad"] if grad else _CHUNKED["value"]
        return _whole_rows(fn, vec_args, flat, cot, out_ind, nv if new else 0, dtype, {})
    if grad and _CHUNKED["pivot"]:
        raise NotImplementedError(
            f"{_NAME}_grad: the pivoted gradient needs whole rows; this dask input has the "
            f"reduced axis in {len(chunks[-1])} chunks: x.rechunk({{-1: -1}}) first (each block "
            "then holds whole rows)"
        )
    offs = [da.arange(shape[-1], chunks=chunks[-1], dtype=np.float64), ind[-1]]
    f64 = np.float64
    states = da.blockwise(
        _state_block,
        ind + "yw",
        nv,
        None,
        size,
        None,
        *vec_args,
        *flat,
        *offs,
        new_axes={"y": _CHUNKED["sums"], "w": 3},
        adjust_chunks={ind[-1]: 1},
        dtype=f64,
        concatenate=True,
        meta=np.empty((0,) * (len(ind) + 2)),
    )
    merged = _merged(states, len(ind) - 1)
    tot = da.blockwise(
        _totals_block,
        lead + "u",
        merged,
        lead + "yw",
        *flat,
        new_axes={"u": _CHUNKED["unpack"]},
        dtype=f64,
        concatenate=True,
        meta=np.empty((0,) * (len(lead) + 1)),
    )
    tot_args = [tot, lead + "u"]
    meta = np.empty((0,) * len(out_ind), dtype=dtype)
    if not grad and not rowmap:
        return da.blockwise(
            _finish_block,
            lead,
            dtype,
            None,
            size,
            None,
            *tot_args,
            *flat,
            dtype=dtype,
            concatenate=True,
            meta=meta,
        )
    if not grad:
        return da.blockwise(
            _map_block,
            ind,
            _CHUNKED["rowmap"],
            None,
            nv,
            None,
            size,
            None,
            0,
            None,
            dtype,
            None,
            *vec_args,
            *tot_args,
            *offs,
            *flat,
            dtype=dtype,
            concatenate=True,
            meta=meta,
        )
    extra = 1
    more = []
    if rowmap:
        extra = 2
        g = cot if cot else [1.0, None]
        adj = da.blockwise(
            _adjoint_block,
            ind + "yw",
            nv,
            None,
            size,
            None,
            *vec_args,
            *g,
            *tot_args,
            *offs,
            *flat,
            new_axes={"y": _CHUNKED["adjoints"], "w": 3},
            adjust_chunks={ind[-1]: 1},
            dtype=f64,
            concatenate=True,
            meta=np.empty((0,) * (len(ind) + 2)),
        )
        more = [*g, _merged(adj, len(ind) - 1), lead + "yw"]
    got = da.blockwise(
        _map_block,
        out_ind,
        _CHUNKED["grad_chunk"],
        None,
        nv,
        None,
        size,
        None,
        extra,
        None,
        dtype,
        None,
        *vec_args,
        *more,
        *tot_args,
        *offs,
        *flat,
        new_axes=new,
        dtype=dtype,
        concatenate=True,
        meta=meta,
    )
    return tuple(got[..., j] for j in range(nv)) if new else got


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
