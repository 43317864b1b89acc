"""Sample points for the claim checks: scalars, vectors, labels and the parameter, by kind.

A record may bring its own sampler (``Smoothing.samples``); otherwise :func:`generic_samples`
covers the hard cases of every smoothing: 0 and ties (the breakpoints), magnitudes ``1e300``
and ``1e-300``, ``1e4/k``-scale inputs, n-way and top ties in vectors, and the parameter
cycling through :data:`BOUND_PARAMS`.  Only points where ``record.valid`` holds are kept.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.records import Smoothing
>>> x = sp.Symbol("x", real=True); k = sp.Symbol("k", positive=True)
>>> r = Smoothing("demo", sp.Max(x, 0), sp.log(1 + sp.exp(k * x)) / k, (x,), k, sp.oo, None, "")
>>> points = sample_points(r, 16)
>>> len(points), points[0][x], sorted({p[k] for p in points})[:2]
(16, 0.0, [0.5, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from symsmooth.records import Smoothing

BOUND_PARAMS = {"oo": (0.5, 1, 3, 10, 100, 1e4), "0": (2, 1, 0.3, 0.1, 1e-2, 1e-4)}
SIZES = (1, 2, 3, 5, 8)
"""Parameter values of the bound check (sharpness -> oo, width -> 0) and vector sizes."""


def _direction(record: Smoothing) -> str:
    return "0" if record.limit == 0 else "oo"


def _scale(record: Smoothing, param_value: float) -> float:
    return param_value if _direction(record) == "0" else 1 / param_value


def _labels(record: Smoothing) -> list:
    taken = {record.param, record.size, record.index, *record.fixed_values}
    free = record.expr.free_symbols | record.target.free_symbols
    return sorted((s for s in free if s.is_integer and s not in taken), key=str)


def _scalar_values(rng, m: int, count: int, scale: float) -> list:
    pattern = m % 8
    signs = rng.choice([-1.0, 1.0], count)
    if pattern == 0:
        return [0.0] * count
    if pattern == 1:
        return [float(rng.normal() * 3 * scale)] * count
    if pattern == 2:  # 1e300 itself now and then (mpmath's exp(1e304) costs ~20 ms)
        return list(signs * (1e300 if m % 16 == 2 else 10.0 ** rng.uniform(20, 100, count)))
    if pattern == 3:
        return list(signs * 1e-300)
    if pattern == 4:
        return list(signs * 1e4 * scale)
    return list(signs * scale * 10.0 ** rng.uniform(-3, 2, count))


def _vector_values(rng, m: int, size: int, scale: float) -> list:
    pattern = m % 6
    values = rng.normal(0, 3, size) * scale
    if pattern == 0:
        values[:] = values[0]
    elif pattern == 1 and size > 1:
        values[1] = values.max()
    elif pattern == 2:
        top = 300 if m % 12 == 2 else 100
        values = rng.choice([-1.0, 1.0], size) * 10.0 ** rng.uniform(top - 50, top, size)
    elif pattern == 3:
        values = rng.choice([-1.0, 1.0], size) * 1e-300
    elif pattern == 4:
        values *= 1e4 / 3
    return [float(v) for v in values]


def generic_samples(record: Smoothing, rng: np.random.Generator, count: int) -> list[dict]:
    """Points by variable kind: scalars (0, ties, +-1e300, +-1e-300, ``1e4/k``-scale, random at
    the ``1/k`` scale), vectors with ``n`` in 1, 2, 3, 5, 8 (n-way and top ties, extremes), labels
    in ``1..n``, and the parameter cycling through :data:`BOUND_PARAMS`."""
    params = BOUND_PARAMS[_direction(record)]
    scalars = [v for v in record.variables if isinstance(v, sp.Symbol)]
    vectors = [v for v in record.variables if isinstance(v, sp.IndexedBase)]
    points = []
    for m in range(count):
        pv = float(params[m % len(params)])
        point: dict = {record.param: pv, **record.fixed_values}
        size = int(point.get(record.size, SIZES[(m // 2) % len(SIZES)])) if record.size else 1
        if record.size is not None:
            point[record.size] = size
        point.update(
            zip(scalars, _scalar_values(rng, m, len(scalars), _scale(record, pv)), strict=True)
        )
        for vec in vectors:
            point[vec] = _vector_values(rng, m + vectors.index(vec), size, _scale(record, pv))
        for lab in _labels(record):
            point[lab] = int(rng.integers(1, size + 1))
        points.append(point)
    return points


def _valid(record: Smoothing, point: Mapping) -> bool:
    return record.valid is None or bool(record.valid(point))


def sample_points(record: Smoothing, count: int, seed: int = 0) -> list[dict]:
    """``count`` valid points from ``record.samples`` (or :func:`generic_samples`)."""
    rng = np.random.default_rng(seed)
    found: list[dict] = []
    for _ in range(10):
        batch = (
            record.samples(rng, count) if record.samples else generic_samples(record, rng, count)
        )
        extra = {**record.fixed_values}
        found += [{**extra, **p} for p in batch if _valid(record, {**extra, **p})]
        if len(found) >= count:
            break
    return found[:count]


def _with_param(record: Smoothing, point: Mapping, m: int) -> dict:
    if record.param in point:
        return dict(point)
    params = BOUND_PARAMS[_direction(record)]
    return {**point, record.param: params[m % len(params)]}


def _moderate(record: Smoothing, point: Mapping) -> bool:
    """Inputs 0 or in [1e-3, 1e3] with nonzero gaps >= 1e-3: features ``k = 1e6`` resolves."""
    floats = []
    for var in record.variables:
        entries = point[var] if isinstance(var, sp.IndexedBase) else [point[var]]
        floats += [float(v) for v in entries]
    gaps = [abs(a - b) for a in floats for b in floats if a != b]
    return all(v == 0 or 1e-3 <= abs(v) <= 1e3 for v in floats) and all(g >= 1e-3 for g in gaps)
