"""Fixed-count iterations (``soft_k_max``) of dask input, lazily, along any axis, with the row
in one chunk or several.

Whole rows per block map the in-memory wrapper over the blocks (bit for bit).  With the row
in several chunks every pass of the row algorithm (:mod:`symsmooth.codegen.iteration`) becomes
a pass over the chunks:

1. the pre-shift ``y = x - x_m``: each chunk's first extreme entry (:func:`_extreme_block`),
   the row's from the chunks' records (:func:`_extreme_merge`: the first chunk's among the
   extremes, as the row's first), then ``x - x_m`` elementwise (the same subtraction);
2. each step ``p <- step(y, p)``: the step's sums per chunk as mergeable states
   (``_CHUNKED["state"]``, the step's chunk kernels of ``templates/_chunked_reduction.py.j2``,
   its mask the entries of ``y`` above ``-inf``), merged and finished into row totals, then the
   step's row map per chunk with them; an entry at ``-inf`` keeps its state;
3. the VJP: the steps forward (every state a dask array), then backward per step: the step's
   adjoint sums per chunk, merged, and its gradient in ``y`` and ``p`` per chunk; finally
   through the shift, ``dL/dx = g - (sum_{i != m} g_i) e_m`` with the sum over the chunks
   (``math.fsum`` per chunk, merged in double-double).

The sums merge in another order than the row's one pass: the results agree with the
in-memory kernel within a few ulps, not to the bit.

Examples
--------
>>> import numpy as np
>>> x = np.array([[3.0, -np.inf, 1.0, 1.0], [-np.inf, -np.inf, -np.inf, -np.inf]])
>>> _extreme_block(x, np.array([4.0]), "<")[..., 0, :].tolist()
[[1.0, 6.0], [0.0, inf]]
"""

from __future__ import annotations

import math

import numpy as np

from symsmooth.runtime.cpu_host import _iter_count
from symsmooth.runtime.dask_host import (
    _dask_back,
    _dask_cotangent,
    _dask_moved,
    _dask_operands,
    _whole_rows,
)
from symsmooth.runtime.dask_params import _chunked_param_rows
from symsmooth.runtime.dask_states import (
    _chunk_pass,
    _merged,
    _row_totals,
    _state_layout,
)

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_COUNT = "count"
"""Stands for the generated module's iteration count name."""
_CHUNKED: dict = {}
"""Stands for the generated module's chunked step kernels (``templates/iteration.py.j2``)."""


def _dask_iteration(fn, grad, x, params, cotangent, kwargs):
    """A fixed-count iteration over rows (``grad``: False for its value, True for its VJP, a
    parameter's name for its derivative in it, one value per row; ``cotangent`` ``None`` for
    all ones) on dask input (module docstring); ``kwargs`` holds its count and ``axis`` (moved
    last here, moved back after)."""
    kwargs = dict(kwargs)
    axis = kwargs.pop("axis", -1)
    (x,), cotangent, _, axis = _dask_moved((x,), cotangent, None, axis)
    vecs, pairs, shape, dtype, chunks, ind = _dask_operands((x,), params)
    flat = [v for pair in pairs for v in pair]
    cot = _dask_cotangent(cotangent, shape, chunks, ind)
    mapped = not isinstance(grad, str)  # a parameter's derivative: one value per row
    if len(chunks[-1]) == 1:
        got = _whole_rows(
            fn, [vecs[0], ind], flat, cot, ind if mapped else ind[:-1], 0, dtype, kwargs
        )
        return _dask_back(got, axis, mapped, False)
    count = _iter_count(kwargs[_COUNT], _NAME)
    run = _ChunkedIteration(vecs[0], flat, pairs, shape, chunks, ind)
    if not mapped:
        got = run.param(count, cot, grad)
    else:
        got = run.vjp(count, cot) if grad else run.value(count)
    return _dask_back(got.astype(dtype), axis, mapped, False)


class _ChunkedIteration:
    """The passes of an iteration over rows in several chunks (module docstring)."""

    def __init__(self, x, flat, pairs, shape, chunks, ind):
        import dask.array as da

        self.x, self.flat, self.pairs, self.ind = x, flat, pairs, ind
        self.size, self.lead = float(shape[-1]), ind[:-1]
        self.offs = [da.arange(shape[-1], chunks=chunks[-1], dtype=np.float64), ind[-1]]
        self.m, self.y = self._shifted()
        self.keep = [self.y != -np.inf, ind]  # the step skips entries at -inf (not NaN)

    def _shifted(self):
        """``(m, y)``: the pre-shift's position per row (+inf: none) and ``y = x - x_m``."""
        import dask.array as da

        shift, ind, lead = _CHUNKED["shift"], self.ind, self.lead
        if shift is None:
            return da.full(self.x.shape[:-1], np.inf, chunks=self.x.chunks[:-1]), self.x
        rec = da.blockwise(
            _extreme_block, ind + "z", self.x, ind, *self.offs, shift, None,
            new_axes={"z": 2}, adjust_chunks={ind[-1]: 1}, dtype=np.float64,
            concatenate=True, meta=np.empty((0,) * (len(ind) + 1)),
        )  # fmt: skip
        row = _merged(rec, len(ind) - 1, _extreme_merge)
        y = da.blockwise(
            _subtract_block, ind, self.x, ind, row[..., 0], lead, dtype=np.float64,
            concatenate=True, meta=np.empty((0,) * len(ind)),
        )  # fmt: skip
        return row[..., 1], y

    def _operands(self, p):
        return ([self.y, self.ind, p, self.ind], self.keep, self.flat, 2, True, self.size)

    def _totals(self, p):
        """The step's row totals at state ``p`` (a ``(array, lead + "u")`` pair)."""
        return _row_totals(self._operands(p), self.ind, self.offs)

    def _step(self, p, tot):
        import dask.array as da

        roles = [("tot", tot), ("off", self.offs), ("size", None)]
        out = _chunk_pass(
            _CHUNKED["rowmap"], self.ind, roles, ("grads", 1), self._operands(p),
            meta=np.empty((0,) * len(self.ind)),
        )  # fmt: skip
        return da.where(self.keep[0], out, p)  # an entry at -inf keeps its state

    def _states(self, count):
        import dask.array as da

        p = da.full_like(self.y, _CHUNKED["init"], dtype=np.float64)
        states, totals = [p], []
        for _ in range(count):
            totals.append(self._totals(states[-1]))
            states.append(self._step(states[-1], totals[-1]))
        return states, totals

    def value(self, count):
        return self._states(count)[0][-1]

    def _backward(self, p, tot, g):
        """The step's VJP at state ``p`` (totals ``tot``) with the cotangent ``g`` of its
        output: ``(part for y, cotangent of p)``."""
        ind, lead = self.ind, self.lead
        g_pair = ("cot", [g, ind])
        n = _CHUNKED["adjoints"]
        roles = [g_pair, ("tot", tot), ("off", self.offs), ("size", None)]
        adj = _chunk_pass(
            _CHUNKED["adjoint"], ind + "yw", roles, ("states", n), self._operands(p),
            **_state_layout(ind, n),
        )  # fmt: skip
        roles = [("tot", tot), g_pair, ("adj", [_merged(adj, len(ind) - 1), lead + "yw"])]
        roles += [("off", self.offs), ("size", None)]
        both = _chunk_pass(
            _CHUNKED["grad_chunk"], ind + "v", roles, ("grads", 2), self._operands(p),
            new_axes={"v": 2}, meta=np.empty((0,) * (len(ind) + 1)),
        )  # fmt: skip
        return both[..., 0], both[..., 1]

    def vjp(self, count, cot):
        import dask.array as da

        states, totals = self._states(count)
        g = cot[0] if cot else da.ones_like(self.y)
        gy = da.zeros_like(self.y)
        for t in range(count - 1, -1, -1):
            part, g = self._backward(states[t], totals[t], g)
            gy = gy + part
        return self._through_shift(gy)

    def param(self, count, cot, param):
        """The derivative in ``param`` per row: each step's (the step's chunked parameter
        derivative, :mod:`symsmooth.runtime.dask_params`) with the cotangent of its output,
        summed over the steps (the shift does not depend on a parameter)."""
        import dask.array as da

        states, totals = self._states(count)
        g = cot[0] if cot else da.ones_like(self.y)
        ind, shape = self.ind, self.y.shape
        layout = (shape, np.dtype(np.float64), self.y.chunks, ind, len(shape) - 1, False)
        total = None
        for t in range(count - 1, -1, -1):
            vec_args = [self.y, ind, states[t], ind]
            part = _chunked_param_rows(param, vec_args, self.pairs, [g, ind], self.keep, layout)
            total = part if total is None else total + part
            _, g = self._backward(states[t], totals[t], g)
        if total is None:  # no step
            return da.zeros(shape[:-1], chunks=self.y.chunks[:-1])
        return total

    def _through_shift(self, gy):
        """``dL/dx = g - (sum_{i != m} g_i) e_m``, 0 at the entries of ``x`` at ``-inf``."""
        import dask.array as da

        ind, lead = self.ind, self.lead
        if _CHUNKED["shift"] is not None:
            part = da.blockwise(
                _sum_but_block, ind + "yw", gy, ind, self.m, lead, *self.offs,
                new_axes={"y": 1, "w": 3}, adjust_chunks={ind[-1]: 1}, dtype=np.float64,
                concatenate=True, meta=np.empty((0,) * (len(ind) + 2)),
            )  # fmt: skip
            total = _merged(part, len(ind) - 1)
            gy = da.blockwise(
                _at_shift_block, ind, gy, ind, self.m, lead, total, lead + "yw", *self.offs,
                dtype=np.float64, concatenate=True, meta=np.empty((0,) * len(ind)),
            )  # fmt: skip
        return da.where(self.x == -np.inf, 0.0, gy)


def _extreme_block(x, off, shift):
    """``(lead..., 1, 2)``: per row of the chunk its first entry above ``-inf`` that beats
    every other under ``shift`` (``"<"``: the minimum), as ``(value, position in the whole
    row)``; ``(0, +inf)`` where the chunk has none (the row kernel's ``_shift`` loop: a NaN
    or an all ``+inf`` row keeps its first entry)."""
    valid = x != -np.inf
    sign = 1.0 if shift == "<" else -1.0
    with np.errstate(invalid="ignore"):
        key = np.where(valid & ~np.isnan(x), sign * x, np.inf)
    pos = np.argmin(key, axis=-1)
    best = np.take_along_axis(key, pos[..., None], axis=-1)[..., 0]
    first = np.argmax(valid, axis=-1)
    pos = np.where(best < np.inf, pos, first)
    value = np.take_along_axis(x, pos[..., None], axis=-1)[..., 0]
    has = valid.any(axis=-1)
    out = np.stack([np.where(has, value, 0.0), np.where(has, pos + off[0], np.inf)], axis=-1)
    return out[..., None, :]


def _extreme_merge(recs, axis, keepdims):
    """The row's ``(x_m, m)`` from its chunks' records along ``axis`` (a ``da.reduction``
    combine): left to right, a later chunk's entry replaces the current one where it beats it
    strictly (the row loop's rule)."""
    at = axis[0] if isinstance(axis, tuple) else axis
    acc = np.take(recs, 0, axis=at)
    for i in range(1, recs.shape[at]):
        nxt = np.take(recs, i, axis=at)
        none = ~(acc[..., 1] < np.inf)
        beats = nxt[..., 0] < acc[..., 0] if _CHUNKED["shift"] == "<" else nxt[..., 0] > acc[..., 0]
        take = (nxt[..., 1] < np.inf) & (none | beats)
        acc = np.where(take[..., None], nxt, acc)
    return np.expand_dims(acc, at) if keepdims else acc


def _subtract_block(x, base):
    """``x - x_m`` per row (``-inf`` entries stay; no shift where the row has none: 0)."""
    return np.where(x == -np.inf, x, x - base[..., None])


def _sum_but_block(g, m, off):
    """``(lead..., 1, 1, 3)``: per row of the chunk ``(0, sum, 0)`` of ``g`` over the entries
    but the pre-shift's ``m`` (``math.fsum``: correctly rounded)."""
    pos = off[0] + np.arange(g.shape[-1])
    rows = g.reshape(-1, g.shape[-1])
    skip = np.broadcast_to(m, g.shape[:-1]).reshape(-1)
    out = np.zeros((rows.shape[0], 1, 3))
    for r in range(rows.shape[0]):
        out[r, 0, 1] = math.fsum(rows[r][pos != skip[r]])
    return out.reshape(*g.shape[:-1], 1, 1, 3)


def _at_shift_block(g, m, total, off):
    """``g`` with ``-(sum_{i != m} g_i)`` at the pre-shift's position ``m``."""
    pos = off[0] + np.arange(g.shape[-1])
    value = -(total[..., 0, 1] + total[..., 0, 2])
    return np.where(pos == m[..., None], value[..., None], g)
