"""A reduction's parameter derivatives (``<name>_grad_<p>``) of dask input, lazily, along any
axis, with the reduced axis in one chunk or several.

Whole rows per block map the in-memory wrapper over the blocks (bit for bit the in-memory
derivative).  With the reduced axis in several chunks the row function's three passes
(:mod:`symsmooth.codegen.kinds.paramgrad_chunks`) become two tree reductions and a finish:

1. each chunk's pivot record (``_CHUNKED["param_grads"][p][0]``), reduced to the row's
   (:func:`~symsmooth.runtime.dask_states._best_pivots`: the first element of largest
   exponent, as in memory);
2. each chunk's sums at that pivot (double-double states ``(0, hi, lo)``,
   ``_CHUNKED["param_grads"][p][1]``), merged (:func:`~symsmooth.runtime.dask_states._merged`);
3. the derivative per row (``_CHUNKED["param_grads"][p][2]``).

A row map's cotangent is chunked with the rows; the mask skips entries in every pass; a fully
masked row gives 0, a label on a masked entry of a row that keeps others the in-memory
ValueError at compute time; a masked row's length ``n`` is its number of kept entries.

``_CHUNKED["param_grads"][p]``: ``(pivot kernel, sums kernel, finish kernel, the record's group
spans, number of states, reads n)``, written by the template.

Examples
--------
>>> import numpy as np, dask.array as da, symsmooth as ss
>>> lse = ss.load("logsumexp_max")
>>> x = np.array([[10.0, -30.0, -29.5, 2.0, -31.0, 0.5]])
>>> lazy = lse.logsumexp_max_grad_k(da.from_array(x, chunks=(1, 2)), 0.37)  # 3 chunks
>>> bool(lazy.compute()[0] == lse.logsumexp_max_grad_k(x, 0.37)[0])
True
"""

from __future__ import annotations

import numpy as np

from symsmooth.runtime.cpu_host import _check_labels
from symsmooth.runtime.dask_host import (
    _dask_back,
    _dask_cotangent,
    _dask_mask,
    _dask_moved,
    _dask_operands,
    _is_lazy,
    _kept_counts,
    _masked_labels,
    _whole_rows,
)
from symsmooth.runtime.dask_states import (
    _chunk_pass,
    _empty_block,
    _merged,
    _pfinish_block,
    _PivotCombine,
    _state_layout,
)

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_CHUNKED: dict = {}
"""Stands for the generated module's chunked kernels (:mod:`symsmooth.runtime.dask_host`)."""
_LABELS: tuple = ()
"""Stands for the generated module's class labels (see :mod:`symsmooth.runtime.cpu_host`)."""


def _dask_param_rows(
    fn, param, vectors, params, cotangent=None, axis=-1, keepdims=False, where=None
):
    """The derivative ``fn`` (the in-memory wrapper: one value per row) of a reduction in its
    parameter ``param``, of dask input, lazily (module docstring); a row map's ``cotangent``
    and the mask travel with the rows."""
    vectors, cotangent, where, axis = _dask_moved(vectors, cotangent, where, axis)
    vecs, pairs, shape, dtype, chunks, ind = _dask_operands(vectors, params)
    _check_labels([np.empty(0) if _is_lazy(p) else p for p in params], shape[-1])
    flat = [x for pair in pairs for x in pair]
    vec_args = [x for v in vecs for x in (v, ind)]
    cot = _dask_cotangent(cotangent, shape, chunks, ind)
    mask = _dask_mask(where, shape, chunks, ind)
    if len(chunks[-1]) == 1:
        got = _whole_rows(fn, vec_args, flat, cot, ind[:-1], 0, dtype, {}, mask)
        return _dask_back(got, axis, False, keepdims)
    layout = (shape, dtype, chunks, ind, axis, keepdims)
    return _chunked_param_rows(param, vec_args, pairs, cot, mask, layout)


def _chunked_param_rows(param, vec_args, pairs, cot, mask, layout):
    """:func:`_dask_param_rows` with the reduced axis in several chunks; ``layout``: the
    moved input's ``(shape, dtype, chunks, index, axis, keepdims)``."""
    import dask.array as da

    shape, dtype, chunks, ind, axis, keepdims = layout
    flat = [x for pair in pairs for x in pair]

    pivot, sums, finish, groups, n_states, uses_size = _CHUNKED["param_grads"][param]
    masked, lead, size = bool(mask), ind[:-1], float(shape[-1])
    kept = _kept_counts(mask, lead) if masked and uses_size else [None, None]
    length = ("size", None) if kept[0] is None else ("kept", kept)

    def back(got):
        return _dask_back(got, axis, False, keepdims)

    f64 = np.float64
    offs = [da.arange(shape[-1], chunks=chunks[-1], dtype=f64), ind[-1]]
    if masked and _LABELS:
        back = _masked_labels(back, mask, pairs, offs, ind, 1)
    operands = (vec_args, mask, flat, len(vec_args) // 2, masked, size)
    width = 1 + sum(w for _, w in groups)
    rec = _chunk_pass(
        pivot, ind + "z", [("off", offs), length], ("record", width), operands,
        new_axes={"z": width}, adjust_chunks={ind[-1]: 1}, meta=np.empty((0,) * (len(ind) + 1)),
    )  # fmt: skip
    piv = _merged(rec, len(ind) - 1, _PivotCombine(groups))
    roles = [("piv", [piv, lead + "z"])]
    roles += [("cot", cot if cot else [1.0, None])] if _CHUNKED["is_rowmap"] else []
    roles += [("off", offs), length]
    states = _chunk_pass(
        sums, ind + "yw", roles, ("states", n_states), operands, **_state_layout(ind, n_states)
    )
    merged = _merged(states, len(ind) - 1)
    meta = np.empty((0,) * len(lead), dtype=dtype)
    got = da.blockwise(
        _pfinish_block, lead, finish, None, dtype, None, size, None, piv, lead + "z",
        merged, lead + "yw", *kept, *flat, dtype=dtype, concatenate=True, meta=meta,
    )  # fmt: skip
    if masked:  # fully masked rows: 0 (symsmooth.runtime.axis_host)
        got = da.map_blocks(_empty_block, got, mask[0].any(axis=-1), True, dtype=dtype, meta=meta)
    return back(got)
