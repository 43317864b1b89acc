"""Measure a generated module against exact mpmath references: one :class:`Report` per kernel.

``measure(spec, module)`` evaluates the module's value and gradient functions on the regime
grids of :mod:`symsmooth.verify.grids`, in float64 and float32, and compares them in ulps
(:mod:`symsmooth.verify.ulp`) with the references of :mod:`symsmooth.verify.exact` built from
the spec's *unstabilized* expression.  ``spec`` is any object with the attributes of
:class:`symsmooth.codegen.spec.KernelSpec` (this stage does not import codegen).
"""

from __future__ import annotations

import warnings

import numpy as np

from symsmooth.verify.exact import ElementwiseReference, RowReference
from symsmooth.verify.grids import elementwise_grid, row_grid
from symsmooth.verify.reference import ReferenceRangeError
from symsmooth.verify.report import Report, ReportRow, summarize, target
from symsmooth.verify.ulp import ulp_errors


def _param_values(spec, values) -> tuple:
    values = dict(values or {})
    by_name = {str(k): v for k, v in values.items()}
    return tuple(float(by_name.get(str(p), 1.0)) for p in spec.params)


def _columns(grid: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """The grid for the first input; shuffled copies for the others."""
    rng = np.random.default_rng(seed)
    return [grid] + [rng.permutation(grid) for _ in range(count - 1)]


def _reference_or_none(reference, point, which):
    """The exact value at ``point``, or None where mpmath cannot hold it (then skipped)."""
    try:
        return reference(point) if which is None else reference(point, which)
    except ReferenceRangeError:
        return None


def _elementwise(spec, module, params, dtypes, per_regime) -> list[ReportRow]:
    ref = ElementwiseReference(spec.expr, spec.inputs, spec.params, spec.gradients)
    value_fn = getattr(module, spec.name)
    grad_fns = [getattr(module, f"{spec.name}_grad_{v}") for v in spec.input_names]
    rows = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        for regime, grid in elementwise_grid(dt, per_regime).items():
            cols = _columns(grid, len(spec.inputs), seed=len(regime))
            args = [c.astype(dt) for c in cols] + [dt.type(p) for p in params]
            points = [[float(c[j]) for c in cols] + list(params) for j in range(grid.size)]
            parts = [("value", value_fn, ref.value, None)] + [
                (f"grad_{v}", g, ref.gradient, j)
                for j, (v, g) in enumerate(zip(spec.input_names, grad_fns, strict=False))
            ]
            for part, fn, reference, which in parts:
                computed = np.asarray(fn(*args))
                refs = [_reference_or_none(reference, p, which) for p in points]
                kept = [j for j, r in enumerate(refs) if r is not None]
                label = (
                    regime
                    if len(kept) == len(refs)
                    else (f"{regime} ({len(refs) - len(kept)} beyond mpmath range skipped)")
                )
                errors = ulp_errors(computed[kept], [refs[j] for j in kept], dt)
                worst, median = summarize(errors)
                goal = target(
                    spec.stable if which is None else spec.stable_gradients[which], spec.kind, dt
                )
                rows.append(
                    ReportRow(spec.name, part, dt.name, label, len(kept), worst, median, goal)
                )
    return rows


def _reduction(spec, module, params, dtypes, long_n, grad_points) -> list[ReportRow]:
    ref = RowReference(spec.plan, spec.params, params)
    names = spec.input_names
    value_fn = getattr(module, spec.name)
    grad_fn = getattr(module, f"{spec.name}_grad")
    rowmap = spec.plan.rowmap
    out = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        for regime, mats in row_grid(len(names), dt, long_n=long_n).items():
            values = np.asarray(value_fn(*mats, *params))
            rng = np.random.default_rng(7)
            cot = rng.standard_normal(mats[0].shape) if rowmap else None
            grads = grad_fn(*mats, *params, cotangent=cot) if rowmap else grad_fn(*mats, *params)
            grads = grads if isinstance(grads, tuple) else (grads,)
            v_comp, v_ref = [], []
            g_comp = [[] for _ in names]
            g_ref = [[] for _ in names]
            for r in range(mats[0].shape[0]):
                row = tuple(m[r].astype(np.float64) for m in mats)
                v_comp.append(np.atleast_1d(values[r]))
                v_ref += ref.value(row)
                n = row[0].size
                idx = (
                    list(range(n))
                    if n <= grad_points
                    else sorted(rng.choice(n, grad_points, replace=False).tolist())
                )
                for w in range(len(names)):
                    g_comp[w].append(grads[w][r][idx])
                    g_ref[w] += ref.gradient(row, w, None if cot is None else cot[r], idx)
            goal = target(spec.stable, "reduction", dt)
            err = ulp_errors(np.concatenate(v_comp).astype(dt), v_ref, dt)
            out.append(
                ReportRow(spec.name, "value", dt.name, regime, err.size, *summarize(err), goal)
            )
            for w, v in enumerate(names):
                err = ulp_errors(np.concatenate(g_comp[w]).astype(dt), g_ref[w], dt)
                out.append(
                    ReportRow(
                        spec.name, f"grad_{v}", dt.name, regime, err.size, *summarize(err), goal
                    )
                )
    return out


def measure(
    spec,
    module,
    param_values=None,
    dtypes=(np.float64, np.float32),
    per_regime: int = 48,
    long_n: int = 100_000,
    grad_points: int = 64,
) -> Report:
    """The accuracy :class:`Report` of ``module`` (generated from ``spec``)."""
    params = _param_values(spec, param_values)
    # the grids feed overflow and underflow edges on purpose: the ulp table reports the
    # outcome, so NumPy's floating-point warnings would only be noise here
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if spec.kind == "elementwise":
            rows = _elementwise(spec, module, params, dtypes, per_regime)
        else:
            rows = _reduction(spec, module, params, dtypes, long_n, grad_points)
    return Report(spec.name, spec.kind, tuple(rows))
