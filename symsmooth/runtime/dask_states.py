"""The chunked path of the reductions on dask input: mergeable row states and the block
functions around the chunk kernels.

With the reduced axis in several chunks each chunk of a row gives a *state* per sum of the
normal form, ``(M, hi, lo)``: the chunk's scaled sum ``hi + lo`` (a double-double) and its
shift ``M`` (the sum is ``exp(M) (hi + lo)``; ``M = 0`` for a sum with no exponent).  Two
states merge (:func:`_merge_states`) by rescaling to the common maximum ``exp(M_a - M)`` with
the difference taken exactly (TwoSum, as ``_wexp``) and adding in double-double, so a tail far
below the maximum survives: LSE([0, -40]) over two chunks keeps ``exp(-40) = 4.25e-18`` in the
low part, where an online ``(m, s)`` combine in plain doubles rounds it away (Milakov and
Gimelshein 2018, arXiv:1805.02867, merge the same states without the low part).  The states
reduce along the chunks as a tree (:func:`_merged`), the totals are finished per row by the
kernel's own formula (:func:`_totals_block`, :func:`_finish_block`); row maps and gradients
are a second pass with the totals (:func:`_chunk_block`; a row map's VJP reduces its adjoint
sums first).  A pivoted gradient (docs/codegen.md, pivoted form) finds its pivot across the
chunks (each chunk's first element at the row maximum, the first chunk's record:
:func:`_first_pivot`), merges its small sums over every other element as states with no
shift, and finishes with the pivoted formula, as the in-memory kernel does.  A mask block
(``where=``) follows the vector blocks (:func:`_split_keep`).
:mod:`symsmooth.runtime.dask_host` builds the graph; these run on NumPy blocks and read the
module's ``_CHUNKED`` kernels.

Examples
--------
>>> import numpy as np
>>> a = np.array([[[0.0, 1.0, 0.0]]])  # one row, one sum: exp(0) * 1
>>> b = np.array([[[-40.0, 1.0, 0.0]]])  # exp(-40) * 1, in another chunk
>>> m = _merge_states(a, b)
>>> m[0, 0, 1], float(m[0, 0, 2])  # the tail stays in the low part
(np.float64(1.0), 4.248354255291589e-18)
"""

from __future__ import annotations

import numpy as np

from symsmooth.runtime.axis_host import _empty_rows
from symsmooth.runtime.cpu_host import _check_labels

_CHUNKED: dict = {}
"""Stands for the generated module's chunked kernels (:mod:`symsmooth.runtime.dask_host`)."""


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


def _split_keep(blocks, nv, masked):
    """The vector blocks, the mask block as ``(rows, n)`` booleans (``None`` unless
    ``masked``: it follows the vectors) and the other blocks."""
    vecs = blocks[:nv]
    if not masked:
        return vecs, None, blocks[nv:]
    keep = blocks[nv]
    keep = np.ascontiguousarray(np.broadcast_to(keep, vecs[0].shape))
    return vecs, keep.reshape(-1, vecs[0].shape[-1]), blocks[nv + 1 :]


def _by_row(block, count, tail):
    """``block`` as a C-contiguous ``(count, *its last tail axes)`` array: one entry per row
    (explicit sizes, so a block of no rows keeps its shape)."""
    return np.ascontiguousarray(block).reshape((count, *block.shape[block.ndim - tail :]))


def _totals_block(state, *params):
    """The row totals of merged states: what ``_sums_<name>`` returns for the whole row."""
    lead = state.shape[:-2]
    count = int(np.prod(lead, dtype=np.int64))
    _, per_row, _, _ = _flat_rows([np.empty((*lead, 0))], params)
    tot = np.empty((count, _CHUNKED["unpack"]))
    _CHUNKED["totals"](_by_row(state, count, 2), *per_row, tot)
    return tot.reshape(*lead, _CHUNKED["unpack"])


def _row_sizes(size, count, kept=None):
    """The row length ``n`` of each of ``count`` rows as float64: ``size`` (the whole row's),
    or a masked row's number of kept entries (``kept``, a block of the rows)."""
    if kept is None:
        return np.full(count, size)
    return np.ascontiguousarray(kept, dtype=np.float64).reshape(count)


def _finish_block(dtype, size, tot, kept, *params):
    """The reduction's value from the row totals (``kept``: the rows' kept counts, or None)."""
    lead = tot.shape[:-1]
    count = int(np.prod(lead, dtype=np.int64))
    _, per_row, _, _ = _flat_rows([np.empty((*lead, 0))], params)
    out = np.empty(count)
    sizes = _row_sizes(size, count, kept)
    _CHUNKED["finish"](_by_row(tot, count, 1), *per_row, sizes, out)
    return out.reshape(lead).astype(dtype, copy=False)


def _block_operand(role, block, vecs, count, size):
    """One kernel operand of a chunk pass from its block (the ``layout`` roles of
    :func:`_chunk_block`)."""
    if role == "size":  # the whole row's length
        return _row_sizes(size, count)
    if role == "kept":  # a masked row's length: its kept entries
        return _row_sizes(size, count, block)
    if role == "off":
        return float(block[0])
    if role == "cot":
        g = np.ascontiguousarray(np.broadcast_to(block, vecs[0].shape), dtype=np.float64)
        return g.reshape(count, vecs[0].shape[-1])
    if role in ("adj", "rest"):
        return _by_row(block, count, 2)
    return _by_row(block, count, 1)  # tot, piv


def _chunk_block(kernel, nv, masked, size, layout, out, dtype, *blocks):
    """A pass of a chunk kernel over one block of rows: ``kernel(rows..., params..., keep,
    operands..., outputs...)``.  ``blocks``: the vectors, the mask (when ``masked``), one block
    per ``layout`` role but ``size`` (``tot`` row totals, ``cot`` a row map's cotangent,
    ``adj``/``rest`` merged adjoint or small sums, ``piv`` the pivot record, ``off`` the
    chunk's offset, ``kept`` the rows' kept counts: their length ``n`` under a mask; ``size``
    gives every row the whole row's length), then the parameters.  ``out``: ``("grads", n)``
    (n arrays shaped like the block, stacked on a last axis when n > 1), ``("states", k)``
    (``(lead..., 1, k, 3)``) or ``("record", c)`` (``(lead..., 1, c)``)."""
    vecs, keep, rest = _split_keep(blocks, nv, masked)
    roles = [r for r in layout if r != "size"]
    _check_labels(rest[len(roles) :], int(size))  # dask labels: checked in each block
    given, params = dict(zip(roles, rest[: len(roles)], strict=True)), rest[len(roles) :]
    rows, per_row, lead, count = _flat_rows(vecs, params)
    args = [_block_operand(r, given.get(r), vecs, count, size) for r in layout]
    kind, n = out
    if kind == "grads":
        outs = [np.empty_like(rows[0]) for _ in range(n)]
        kernel(*rows, *per_row, keep, *args, *outs)
        shaped = [o.reshape(vecs[0].shape).astype(dtype, copy=False) for o in outs]
        return shaped[0] if n == 1 else np.stack(shaped, axis=-1)
    res = np.empty((count, n, 3) if kind == "states" else (count, n))
    kernel(*rows, *per_row, keep, *args, res)
    return res.reshape(*lead, 1, *res.shape[1:])


def _chunk_pass(kernel, index, roles, out, operands, **kw):
    """``_chunk_block`` of ``kernel`` over every block, lazily (``da.blockwise``): ``roles``
    are its operands in the kernel's order, ``(role, (array, index))`` or ``("size", None)``;
    ``operands``: the call's ``(vector blocks with their indices, mask pair, parameter pairs,
    number of vectors, masked, row length)``; ``kw`` goes to ``blockwise``."""
    import dask.array as da

    vec_args, mask, flat, nv, masked, size = operands
    layout = tuple(r for r, _ in roles)
    blocks = [x for _, pair in roles if pair for x in pair]
    kw.setdefault("dtype", np.float64)
    fixed = [kernel, nv, masked, size, layout, out, kw["dtype"]]
    return da.blockwise(
        _chunk_block,
        index,
        *[x for f in fixed for x in (f, None)],
        *vec_args,
        *mask,
        *blocks,
        *flat,
        concatenate=True,
        **kw,
    )


def _row_totals(operands, ind, offs):
    """The row totals of a chunked reduction, lazily: each chunk's sums as mergeable states
    (``_CHUNKED["state"]``), merged as a tree, finished per row (:func:`_totals_block`); a
    ``(totals, lead + "u")`` pair.  ``operands``: as :func:`_chunk_pass`'s, ``offs`` the
    chunks' offsets pair."""
    import dask.array as da

    n, lead, flat = _CHUNKED["sums"], ind[:-1], operands[2]
    state = _chunk_pass(
        _CHUNKED["state"], ind + "yw", [("off", offs)], ("states", n), operands,
        **_state_layout(ind, n),
    )  # fmt: skip
    tot = da.blockwise(
        _totals_block, lead + "u", _merged(state, len(ind) - 1), lead + "yw", *flat,
        new_axes={"u": _CHUNKED["unpack"]}, dtype=np.float64, concatenate=True,
        meta=np.empty((0,) * (len(lead) + 1)),
    )  # fmt: skip
    return [tot, lead + "u"]


def _state_layout(ind, count):
    """The ``blockwise`` keywords of a pass giving ``count`` states per chunk of each row
    (index ``ind + "yw"``: one per chunk along the reduced axis)."""
    shape = {"new_axes": {"y": count, "w": 3}, "adjust_chunks": {ind[-1]: 1}}
    return dict(shape, meta=np.empty((0,) * (len(ind) + 2)))


def _best_pivots(x, axis, keepdims, groups=()):
    """The row's pivot record of a parameter derivative from its chunks' records along
    ``axis`` (a ``da.reduction`` combine): column 0 (``bad``) the largest, each group's columns
    ``(start, width)`` those of the first chunk of largest exponent (column ``start``), as the
    row function's first element of largest exponent.

    >>> import numpy as np
    >>> recs = np.array([[[0.0, 3.0, 1.0, 7.0], [1.0, 5.0, 6.0, 8.0], [0.0, 5.0, 9.0, 9.0]]])
    >>> _best_pivots(recs, 1, False, ((1, 3),)).tolist()
    [[1.0, 5.0, 6.0, 8.0]]
    """
    at = axis[0] if isinstance(axis, tuple) else axis
    x = np.moveaxis(x, at, -2)
    out = np.empty(x.shape[:-2] + x.shape[-1:])
    out[..., 0] = x[..., 0].max(axis=-1)
    for start, width in groups:
        first = np.argmax(x[..., start], axis=-1)[..., None, None]
        span = x[..., start : start + width]
        out[..., start : start + width] = np.take_along_axis(span, first, axis=-2)[..., 0, :]
    return np.expand_dims(out, at) if keepdims else out


class _PivotCombine:
    """:func:`_best_pivots` with the record's group spans ``groups`` (a ``da.reduction``
    combine: a picklable callable, no closure)."""

    def __init__(self, groups):
        self.groups = tuple(groups)

    def __call__(self, x, axis, keepdims):
        return _best_pivots(x, axis, keepdims, self.groups)


def _pfinish_block(kernel, dtype, size, piv, st, kept, *params):
    """A parameter derivative per row from the row's pivot record and merged sums
    (``kept``: the rows' kept counts, or None)."""
    lead = piv.shape[:-1]
    count = int(np.prod(lead, dtype=np.int64))
    _, per_row, _, _ = _flat_rows([np.empty((*lead, 0))], params)
    out = np.empty(count)
    rec = _by_row(piv, count, 1)
    sizes = _row_sizes(size, count, kept)
    kernel(rec, _by_row(st, count, 2), *per_row, sizes, out)
    return out.reshape(lead).astype(dtype, copy=False)


def _first_pivot(x, axis, keepdims):
    """The row's pivot record from the chunks' records along ``axis`` (a ``da.reduction``
    combine): the first chunk's that holds one (the smallest position; all +inf: none).

    >>> import numpy as np
    >>> recs = np.array([[[np.inf, 0.0], [7.0, 2.5], [9.0, 2.5]]])  # chunks 2 and 3 hold one
    >>> _first_pivot(recs, 1, False).tolist()
    [[7.0, 2.5]]
    """
    at = axis[0] if isinstance(axis, tuple) else axis
    first = np.expand_dims(np.argmin(x[..., 0], axis=at), (at, x.ndim - 1))
    got = np.take_along_axis(x, first, axis=at)
    return got if keepdims else np.squeeze(got, at)


def _chunk_identity(x, axis, keepdims):
    """The chunk step of the state reduction: a block of states is its own partial result."""
    return x


def _merged(states, axis, combine=_merge_along):
    """The states reduced along ``axis`` (the chunks of the rows) by ``combine``
    (:func:`_merge_along`; :func:`_first_pivot` for pivot records), as a tree
    (``da.reduction``, 8 at a time)."""
    import dask.array as da

    meta = np.empty((0,) * (states.ndim - 1))
    return da.reduction(
        states,
        _chunk_identity,
        combine,
        combine=combine,
        axis=axis,
        keepdims=False,
        dtype=np.float64,
        split_every=8,
        concatenate=True,
        meta=meta,
    )


def _empty_block(out, any_kept, zero):
    """A block of values with its fully masked rows (``any_kept`` False) as the in-memory
    wrapper gives them (:func:`symsmooth.runtime.axis_host._empty_rows`; ``zero``: a
    labelled loss)."""
    flat = np.array(out, dtype=np.float64).reshape(-1)
    keep = np.asarray(any_kept).reshape(-1, 1)
    return _empty_rows(flat, keep, zero).reshape(out.shape).astype(out.dtype, copy=False)


def _label_kept_block(first, keep, off, label):
    """``(lead..., 1)``: whether this chunk of each row holds the entry a class label
    selects (``first``-based, in the whole row) and keeps it."""
    keep = np.asarray(keep)
    lead, n = keep.shape[:-1], keep.shape[-1]
    pos = np.broadcast_to(np.asarray(label, dtype=np.float64), lead) - first - float(off[0])
    inside = (pos >= 0) & (pos < n)
    if n == 0:
        return np.zeros((*lead, 1), dtype=bool)
    at = np.clip(pos, 0, n - 1).astype(np.int64)[..., None]
    return (inside & np.take_along_axis(keep, at, axis=-1)[..., 0])[..., None]


def _labels_checked(out, bad, message):
    """``out`` unless a row of the block is ``bad`` (a label on a masked entry of a row that
    keeps others): then the ValueError of the in-memory wrapper, at compute time."""
    if np.any(bad):
        raise ValueError(message)
    return out
