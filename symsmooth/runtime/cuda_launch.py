"""Host-side helpers of the CUDA launchers of each kernel kind: operands and launch shapes.

The elementwise launchers broadcast their operands into (value, array, mode) triples
(:func:`_cuda_operands`) and launch a grid-stride loop (:func:`_cuda_launch`); the row
reductions and iterations lay their inputs out as 2-D device rows (:func:`_cuda_rows`,
:func:`_cuda_iter_rows`), one parameter value per row (:func:`_cuda_params`), a cotangent
(:func:`_cuda_cotangent`) and choose the threads per row (:func:`_cuda_block`,
:func:`_cuda_iter_threads`).  As :mod:`symsmooth.runtime.cuda_host` (whose functions these
call), their source is copied into the generated modules that call them; ``_NAME`` and
``_LABELS`` are the generated module's constants, the values here stand for them.

Examples
--------
>>> st = {"simulator": False}
>>> _cuda_block(st, 10**5, None), _cuda_block(st, 100, None), _cuda_iter_threads(st, 100, None)
((256, 1), (32, 8), 32)
"""

from __future__ import annotations

import numpy as np

from symsmooth.runtime.axis_host import _check_mask, _check_masked_labels
from symsmooth.runtime.cpu_host import _check_labels
from symsmooth.runtime.cuda_host import (
    _cuda_dtype,
    _cuda_flat,
    _cuda_host_data,
    _cuda_view,
)

_NAME = "kernel"
"""Stands for the generated module's kernel name (error messages)."""
_LABELS: tuple = ()
"""Stands for the generated module's class labels (see :mod:`symsmooth.runtime.cpu_host`)."""


def _cuda_operands(st, values, nin):
    """(value, array, mode) per operand of an elementwise kernel, the broadcast shape, the
    output dtype (from the first ``nin`` operands, the inputs) and the input whose kind the
    outputs take (None: host data, copied in and out)."""
    cuda = st["cuda"]
    views = [_cuda_view(cuda, v) for v in values]
    shapes = [
        tuple(v.shape) if v is not None else np.shape(a) for a, v in zip(values, views, strict=True)
    ]
    shape = tuple(np.broadcast_shapes(*shapes))
    dtypes = []
    for j, (a, v) in enumerate(zip(values, views, strict=True)):
        if v is not None and v.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{_NAME}_cuda: device operand {j} has dtype {v.dtype}; pass float32 or float64"
            )
        if j < nin:
            dtypes.append(v.dtype if v is not None else np.asarray(a).dtype)
    operands = []
    for a, v, s in zip(values, views, shapes, strict=True):
        if v is None:
            h = np.asarray(a)
            if h.size == 1:
                operands.append((np.float64(h.reshape(-1)[0]), st["dummy"], 0))
            else:
                data = _cuda_host_data(np.broadcast_to(h, shape)).reshape(-1)
                operands.append((np.float64(0.0), cuda.to_device(data), 1))
        elif s == shape:
            operands.append((np.float64(0.0), _cuda_flat(v), 1))
        elif v.size == 1:
            operands.append((np.float64(0.0), _cuda_flat(v), 2))
        else:
            raise ValueError(
                f"{_NAME}_cuda: a device array of shape {s} does not match {shape}; "
                "device arrays broadcast only from size 1 (broadcast it on the device first)"
            )
    proto = next((a for a, v in zip(values, views, strict=True) if v is not None), None)
    return [x for op in operands for x in op], shape, _cuda_dtype(dtypes), proto


def _cuda_launch(st, kernel, outs, size, operands):
    """Grid-stride launch over ``size`` elements."""
    if size == 0:
        return
    threads = 32 if st["simulator"] else 256
    blocks = min((size + threads - 1) // threads, 4 if st["simulator"] else 1 << 20)
    kernel[blocks, threads](*outs, size, *operands)


def _cuda_params(st, params, shape, count):
    """(value, array, mode) per row parameter: a host scalar (mode 0), one value per row
    (mode 1: host data copied, or a device array shaped like the rows) or a device array of
    size 1 (mode 2)."""
    cuda = st["cuda"]
    operands = []
    for p in params:
        view = _cuda_view(cuda, p)
        if view is None:
            h = np.asarray(p, dtype=np.float64)
            if h.size == 1:
                operands += [np.float64(h.reshape(-1)[0]), st["dummy"], 0]
            else:
                per_row = np.ascontiguousarray(np.broadcast_to(h, shape[:-1])).reshape(count)
                operands += [np.float64(0.0), cuda.to_device(per_row), 1]
        elif view.size == 1:
            operands += [np.float64(0.0), _cuda_flat(view), 2]
        elif tuple(view.shape) == shape[:-1]:
            operands += [np.float64(0.0), _cuda_flat(view), 1]
        else:
            raise ValueError(
                f"{_NAME}_cuda: a device parameter must have size 1 or "
                f"the shape {shape[:-1]} of the rows; got {tuple(view.shape)}"
            )
    return operands


def _cuda_cotangent(st, cotangent, shape, rows_shape):
    """(value, array, mode) of a row map's cotangent: all ones (mode 0, for None), host data
    copied to the device or a device array of the input's shape (mode 1)."""
    cuda = st["cuda"]
    view = None if cotangent is None else _cuda_view(cuda, cotangent)
    if cotangent is None:
        return [np.float64(1.0), st["dummy2"], 0]
    if view is None:
        g = np.ascontiguousarray(np.broadcast_to(np.asarray(cotangent, dtype=np.float64), shape))
        return [np.float64(0.0), cuda.to_device(g.reshape(rows_shape)), 1]
    if tuple(view.shape) == shape:
        return [
            np.float64(0.0),
            view if view.ndim == 2 else _cuda_flat(view).reshape(rows_shape),
            1,
        ]
    raise ValueError(f"{_NAME}_grad_cuda: cotangent shape {tuple(view.shape)} != {shape}")


def _cuda_rows(st, vectors, params):
    """2-D (rows, n) device views of a reduction's inputs, (value, array, mode) per parameter,
    the input shape, the output dtype and the input whose kind the outputs take (None: host
    data).  Class labels are checked on the host (:func:`_check_labels`)."""
    cuda = st["cuda"]
    views = [_cuda_view(cuda, v) for v in vectors]
    proto = next((a for a, v in zip(vectors, views, strict=True) if v is not None), None)
    shapes = [
        tuple(v.shape) if v is not None else np.shape(a)
        for a, v in zip(vectors, views, strict=True)
    ]
    shape = tuple(np.broadcast_shapes(*shapes))
    if len(shape) == 0:
        raise ValueError(f"{_NAME}_cuda: inputs must have at least one axis (the reduced one)")
    labels = list(params)
    for at, *_ in _LABELS:
        view = _cuda_view(cuda, params[at])
        if view is not None:
            labels[at] = view.copy_to_host()
    _check_labels(labels, shape[-1])
    count = int(np.prod(shape[:-1], dtype=np.int64))
    rows = []
    for a, v, s in zip(vectors, views, shapes, strict=True):
        if v is None:
            data = _cuda_host_data(np.broadcast_to(np.asarray(a), shape))
            rows.append(cuda.to_device(data.reshape(count, shape[-1])))
            continue
        if s != shape:
            raise ValueError(
                f"{_NAME}_cuda: device inputs must share one shape (got {s} and {shape})"
            )
        if v.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{_NAME}_cuda: device input has dtype {v.dtype}; pass float32 or float64"
            )
        rows.append(v if v.ndim == 2 else _cuda_flat(v).reshape(count, shape[-1]))
    dtype = _cuda_dtype([r.dtype for r in rows])
    return rows, _cuda_params(st, params, shape, count), shape, dtype, proto


def _cuda_mask(st, where, shape, params, uses_size):
    """The mask operands ``[keep_rows, keep_mode]`` of a row kernel: mode 0 and a 1 x 1
    placeholder without a mask, else mode 1 and the ``(rows, n)`` boolean mask on the device
    (a host mask is broadcast to the inputs' ``shape`` and copied; a device one must have that
    shape).  A class label on a masked entry of a row that keeps others is a ValueError, as on
    the CPU (the mask is read on the host for that check); a formula that reads the row length
    ``n`` takes no mask on the GPU (NotImplementedError: the CPU kernel counts the kept
    entries)."""
    cuda = st["cuda"]
    if where is None:
        if "no_mask" not in st:
            st["no_mask"] = cuda.to_device(np.ones((1, 1), dtype=np.bool_))
        return [st["no_mask"], 0]
    if uses_size:
        raise NotImplementedError(
            f"{_NAME}_cuda: where= with a formula that reads the row length n runs on the CPU "
            f"only ({_NAME}(..., where=...) counts the kept entries)"
        )
    count = int(np.prod(shape[:-1], dtype=np.int64))
    view = _cuda_view(cuda, where)
    host = None
    if view is None:
        host = np.asarray(where)
        _check_mask(host.dtype, host.shape, shape)
        host = np.ascontiguousarray(np.broadcast_to(host, shape)).reshape(count, shape[-1])
        view = cuda.to_device(host)
    else:
        _check_mask(view.dtype, view.shape, shape, f"{_NAME}_cuda")
        if tuple(view.shape) != tuple(shape):
            raise ValueError(
                f"{_NAME}_cuda: a device mask must have the inputs' shape {tuple(shape)}, not "
                f"{tuple(view.shape)} (broadcast it on the device, or pass a host mask)"
            )
        view = view if view.ndim == 2 else _cuda_flat(view).reshape(count, shape[-1])
    if _LABELS:
        keep = host if host is not None else view.copy_to_host()
        per_row = []
        for p in params:
            dev = _cuda_view(cuda, p)
            p = dev.copy_to_host() if dev is not None else np.asarray(p, dtype=np.float64)
            per_row.append(np.broadcast_to(p.astype(np.float64), shape[:-1]).reshape(count))
        _check_masked_labels(keep, per_row)
    return [view, 1]


def _cuda_block(st, n, block):
    """(threads per row, rows per block): whole warps per row, about 8 elements per thread.
    The simulator also takes 1 to 16 threads per row (its shuffles need no whole warps); by
    default 2 threads per row and 8 rows per block: the shuffle tree still takes a step, and
    the simulator's barriers, whose cost grows with the threads that wait at them, stay cheap
    (10x faster than 8 x 2 on 40 rows of 96)."""
    if block is None:
        if st["simulator"]:
            return 2, 8
        tx = 32
        while tx < 256 and tx * 8 < n:
            tx *= 2
        return tx, max(1, 256 // tx)
    tx, ty = (int(b) for b in block)
    whole = tx % 32 == 0 or (st["simulator"] and tx < 32 and tx & (tx - 1) == 0)
    if not whole or ty < 1 or tx * ty > 1024 or max(tx // 32, 1) * ty > 32:
        raise ValueError(
            f"{_NAME}_cuda: block={block}: threads per row must be "
            "a multiple of 32, threads per block at most 1024 and rows per block at most 32"
        )
    return tx, ty


def _cuda_rows_launch(st, kernel, outs, rows, operands, block):
    """Launch a row kernel: ``_cuda_block`` threads per row and rows per block, grid-stride
    over the rows."""
    count, n = rows[0].shape
    if count == 0:
        return
    tx, ty = _cuda_block(st, n, block)
    blocks = min((count + ty - 1) // ty, 4 if st["simulator"] else 1 << 20)
    kernel[blocks, (tx, ty)](*outs, *rows, *operands)


def _cuda_iter_rows(st, x, params):
    """(rows, n) device view of an iteration's input ``x``, (value, array, mode) per
    parameter, the input shape, the output dtype and the input whose kind the outputs take
    (None: host data)."""
    cuda = st["cuda"]
    view = _cuda_view(cuda, x)
    shape = tuple(view.shape) if view is not None else np.shape(x)
    if len(shape) == 0:
        raise ValueError(f"{_NAME}_cuda: the input must have at least one axis (the row)")
    count = int(np.prod(shape[:-1], dtype=np.int64))
    if view is None:
        rows = cuda.to_device(_cuda_host_data(x).reshape(count, shape[-1]))
    else:
        if view.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{_NAME}_cuda: device input has dtype {view.dtype}; pass float32 or float64"
            )
        rows = view if view.ndim == 2 else _cuda_flat(view).reshape(count, shape[-1])
    operands = _cuda_params(st, params, shape, count)
    return rows, operands, shape, _cuda_dtype([rows.dtype]), (x if view is not None else None)


def _cuda_iter_threads(st, n, block):
    """Threads per row: a power of two from 32 to 256, about 8 elements each (1 to 256 in the
    simulator, 2 by default: its barriers cost more the more threads wait at them)."""
    if block is None:
        if st["simulator"]:
            return 2
        tx = 32
        while tx < 256 and tx * 8 < n:
            tx *= 2
        return tx
    tx = int(block[0] if np.ndim(block) else block)
    if tx < 1 or tx > 256 or tx & (tx - 1) or (tx < 32 and not st["simulator"]):
        raise ValueError(
            f"{_NAME}_cuda: block={block}: threads per row must be a power of two from 32 to 256"
        )
    return tx
