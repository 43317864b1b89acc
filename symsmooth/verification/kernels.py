"""Measure a generated module against exact mpmath references: one :class:`Report` per kernel.

``measure(spec, module)`` evaluates the module's value and gradient functions on the regime
grids of :mod:`symsmooth.verification.grids`, in float64 and float32, and compares them in ulps
(:mod:`symsmooth.verification.ulp`) with the references of
:mod:`symsmooth.verification.exact` built from the spec's *unstabilized* expression.
``spec`` is any object with the attributes of :class:`symsmooth.codegen.spec.KernelSpec`
(this stage does not import codegen).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import sympy as sp

from symsmooth.errors import VerificationError
from symsmooth.verification.cache import NOT_REAL, Coverage, ReferenceCache, default_dir
from symsmooth.verification.exact import ADAPTIVE, RowReference
from symsmooth.verification.grids import row_grid
from symsmooth.verification.iteration import measure_iteration
from symsmooth.verification.points import Lazy, elementwise_cases, real
from symsmooth.verification.regimes import GRID_FRACTION, class_rows, param_label
from symsmooth.verification.report import Report, ReportRow, summarize, target
from symsmooth.verification.ulp import ulp_errors


def _param_values(spec, values) -> tuple:
    values = dict(values or {})
    by_name = {str(k): v for k, v in values.items()}
    return tuple(float(by_name.get(p, 1.0)) for p in spec.param_names)  # the user's names


def _compare(computed: np.ndarray, refs: list, dt: np.dtype, requested: int) -> tuple:
    """``(errors, skipped, not_real)``: the ulp error of every point with a reference (a point
    outside the real domain counts 0 when the kernel returns NaN there, inf otherwise)."""
    computed = np.asarray(computed).reshape(-1)
    if len(refs) != requested or computed.size != requested:
        raise VerificationError(
            f"{requested} points requested but {len(refs)} references and {computed.size} "
            "kernel values: nothing is reported for a partial comparison"
        )
    real = [j for j, r in enumerate(refs) if r is not None and r is not NOT_REAL]
    outside = [j for j, r in enumerate(refs) if r is NOT_REAL]
    errors = ulp_errors(computed[real].astype(dt), [refs[j] for j in real], dt)
    misses = np.where(np.isnan(computed[outside].astype(np.float64)), 0.0, np.inf)
    errors = np.concatenate([errors.ravel(), misses])
    _compare.order = real + outside  # the point index of each error (for the worst input)
    return errors, requested - len(real) - len(outside), outside


def _label(regime: str, skipped: int, outside: list) -> str:
    notes = [f"{skipped} uncertified or beyond range: skipped"] if skipped else []
    notes += [f"{len(outside)} outside the real domain: NaN expected"] if outside else []
    return f"{regime} ({'; '.join(notes)})" if notes else regime


def _worst(errors: np.ndarray, describe) -> str:
    """The input of the largest error, as text (``describe(point index)``)."""
    if errors.size == 0:
        return ""
    order = _compare.order
    j = int(np.argmax(np.where(np.isnan(errors), np.inf, errors)))
    return describe(order[j]) if j < len(order) else ""


def _elementwise(spec, module, params, dtypes, per_regime, store, label="") -> list[ReportRow]:
    fns = {"value": getattr(module, spec.name)} | {
        f"grad_{v}": getattr(module, f"{spec.name}_grad_{v}") for v in spec.input_names
    }
    # the parameter partials (part grad_<param>, measured against spec.param_gradients): the
    # ones the module's record names; a stand-in without a record (the CUDA launchers, which
    # have no parameter partials, a test's NumPy module) is measured on what it defines
    record = getattr(module, "__symsmooth__", None)
    wanted = {p: f"{spec.name}_grad_{p}" for p in getattr(spec, "grad_param_names", ())}
    if isinstance(record, dict):
        named = set(record.get("param_grads", {}).values())
        missing = [w for w in wanted.values() if w not in named]
        if missing:
            raise AttributeError(f"{spec.name}: the module's record lacks {missing}; regenerate it")
    else:
        wanted = {p: w for p, w in wanted.items() if hasattr(module, w)}
    fns |= {f"grad_{p}": getattr(module, w) for p, w in wanted.items()}
    rows = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        for case in elementwise_cases(spec, params, dt, per_regime, store):
            if case.part not in fns:  # a stand-in's missing parameter partial
                continue
            computed = np.asarray(fns[case.part](*case.args))
            size = case.columns[0].size
            errors, skipped, outside = _compare(computed, case.refs, dt, size)
            if case.which is None:
                stable = spec.stable
            elif case.param:
                stable = spec.stable_param_gradients[case.which]
            else:
                stable = spec.stable_gradients[case.which]
            goal = target(stable, spec.kind, dt)
            worst = _worst(
                errors,
                lambda j, cols=case.columns: ", ".join(
                    f"{v}={float(c[j])!r}" for v, c in zip(spec.input_names, cols, strict=True)
                ),
            )
            rows.append(
                ReportRow(
                    spec.name,
                    case.part,
                    dt.name,
                    _label(case.regime, skipped, outside),
                    errors.size,
                    *summarize(errors),
                    goal,
                    requested=size,
                    skipped=skipped,
                    param=label,
                    worst=worst,
                )
            )
    return rows


def _positions(rng, n: int, grad_points: int) -> list[int]:
    """Every position of a short row; ``grad_points`` sampled ones of a long row."""
    if n <= grad_points:
        return list(range(n))
    return sorted(rng.choice(n, grad_points, replace=False).tolist())


def _row_references(ref, mats, cot, positions, which=None) -> list:
    """Value references of every row (``which`` None) or gradient references in ``which`` at
    ``positions``, in row order."""
    out = []
    for r, idx in enumerate(positions):
        row = tuple(m[r].astype(np.float64) for m in mats)
        if which is None:
            out += ref().value(row)
        else:
            out += ref().gradient(row, which, None if cot is None else cot[r], idx)
    return [real(v) for v in out]


def _row_part(spec, part, dt, regime, computed, refs, requested, goal, where) -> ReportRow:
    """One report row of a reduction; ``where(j) -> (row, position)`` of compared point j."""
    errors, skipped, outside = _compare(computed, refs, dt, requested)
    label, mats = where(None)

    def describe(j):
        r, idx = where(j)
        entries = np.array2string(mats[0][r], precision=17, threshold=8, edgeitems=3)
        at = "" if idx is None else f" at entry {idx}"
        return f"row {r} of {regime}: {entries}{at}"

    return ReportRow(
        spec.name,
        part,
        dt.name,
        _label(regime, skipped, outside),
        errors.size,
        *summarize(errors),
        goal,
        requested=requested,
        skipped=skipped,
        param=label,
        worst=_worst(errors, describe),
    )


def _param_parts(spec, module) -> dict:
    """``{position of the parameter: function}`` of the reduction's parameter derivatives
    (part ``grad_<param>``): the ones the module's record names (an error when the spec has
    one the record lacks: a stale module); a stand-in without a record (the CUDA launchers, a
    test's NumPy module) is measured on what it defines."""
    names = getattr(spec, "public_param_names", getattr(spec, "grad_param_names", ()))
    wanted = {spec.param_names.index(p): f"{spec.name}_grad_{p}" for p in names}
    record = getattr(module, "__symsmooth__", None)
    if isinstance(record, dict):
        named = set(record.get("param_grads", {}).values())
        missing = [w for w in wanted.values() if w not in named]
        if missing:
            raise AttributeError(f"{spec.name}: the module's record lacks {missing}; regenerate it")
    return {j: getattr(module, w) for j, w in wanted.items() if hasattr(module, w)}


def _param_references(ref, mats, cot, which: int) -> list:
    """References of the derivative in parameter ``which`` (a row map's: its VJP with ``cot``),
    one per row."""
    out = []
    for r in range(mats[0].shape[0]):
        row = tuple(m[r].astype(np.float64) for m in mats)
        out += ref().param_gradient(row, which, None if cot is None else cot[r])
    return [real(v) for v in out]


def _rows(vectors: int, dt, long_n: int | None) -> dict:
    """The row regimes and input classes (no ``long`` row when ``long_n`` is None)."""
    grid = row_grid(vectors, dt, long_n=long_n or 1)
    if long_n is None:
        grid.pop("long")
    return {**grid, **class_rows(vectors, dt)}


def _reduction(
    spec, module, params, dtypes, long_n, grad_points, store, label=""
) -> list[ReportRow]:
    plan = spec.plan
    ref = Lazy(lambda: RowReference(plan, spec.params, params))
    identity = sp.srepr((plan.sums, plan.outer, plan.elements, plan.totals, spec.params))
    expression = store.digest(identity)
    names = spec.input_names
    value_fn = getattr(module, spec.name)
    grad_fn = getattr(module, f"{spec.name}_grad")
    rowmap = plan.rowmap
    param_fns = _param_parts(spec, module)
    out = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        goal = target(spec.stable, "reduction", dt)
        for regime, mats in _rows(len(names), dt, long_n).items():
            values = np.asarray(value_fn(*mats, *params))
            rng = np.random.default_rng(7)
            # the cotangent in the measured dtype: a float32 kernel rounds a float64 one, and
            # where the VJP cancels (G_l ~ sum_j p_j G_j) that rounding alone is 20+ ulp
            cot = rng.standard_normal(mats[0].shape).astype(dt) if rowmap else None
            grads = grad_fn(*mats, *params, cotangent=cot) if rowmap else grad_fn(*mats, *params)
            grads = grads if isinstance(grads, tuple) else (grads,)
            positions = [_positions(rng, mats[0].shape[1], grad_points) for _ in mats[0]]
            key = store.key("reduction", identity, params, *mats, cot, positions)
            inputs = store.digest(params, *mats, cot, positions)
            options = dict(ADAPTIVE)
            wanted = mats[0].size if rowmap else mats[0].shape[0]
            covers = Coverage("reduction-value", expression, inputs, wanted, options)
            compute = partial(_row_references, ref, mats, cot, positions)
            v_ref = store.lookup(f"{key}value", compute, covers)
            shape = mats[0].shape

            def by_value(j, mats=mats, shape=shape):
                if j is None:
                    return label, mats
                return (j // shape[1], j % shape[1]) if rowmap else (j, None)

            out.append(_row_part(spec, "value", dt, regime, values, v_ref, wanted, goal, by_value))
            flat = [(r, i) for r, idx in enumerate(positions) for i in idx]
            sampled = sum(len(idx) for idx in positions)
            for w, v in enumerate(names):
                covers = Coverage(f"reduction-grad{w}", expression, inputs, sampled, options)
                compute = partial(_row_references, ref, mats, cot, positions, which=w)
                g_ref = store.lookup(f"{key}grad{w}", compute, covers)
                g_comp = np.concatenate([grads[w][r][idx] for r, idx in enumerate(positions)])
                out.append(
                    _row_part(
                        spec,
                        f"grad_{v}",
                        dt,
                        regime,
                        g_comp,
                        g_ref,
                        sampled,
                        goal,
                        lambda j, mats=mats, flat=flat: (label, mats) if j is None else flat[j],
                    )
                )
            count = mats[0].shape[0]
            for which, fn in param_fns.items():
                computed = fn(*mats, *params, cotangent=cot) if rowmap else fn(*mats, *params)
                covers = Coverage(f"reduction-dparam{which}", expression, inputs, count, options)
                compute = partial(_param_references, ref, mats, cot, which)
                p_ref = store.lookup(f"{key}dparam{which}", compute, covers)
                out.append(
                    _row_part(
                        spec,
                        f"grad_{spec.param_names[which]}",
                        dt,
                        regime,
                        np.asarray(computed),
                        p_ref,
                        count,
                        goal,
                        lambda j, mats=mats: (label, mats) if j is None else (j, None),
                    )
                )
    return out


MINIMUM_PER_REGIME = 4
"""Fewest elementwise points per regime: each regime splits them between signs and edges."""


class MeasureOptionError(VerificationError, ValueError):
    """An option of :func:`measure` asks for fewer points than a meaningful check needs."""


def check_options(per_regime: int = 48, long_n: int = 100_000, grad_points: int = 64, **_):
    """Refuse point counts that would compare nothing (or almost nothing).

    Examples
    --------
    >>> check_options(per_regime=0)
    Traceback (most recent call last):
    symsmooth.verification.kernels.MeasureOptionError: --per-regime must be at least 4 (got 0): \
every regime splits its points between signs and edges; the default is 48
    """
    for option, value, least, default in (
        ("--per-regime", per_regime, MINIMUM_PER_REGIME, 48),
        ("--long-n", long_n, 1, 100_000),
        ("grad_points", grad_points, 1, 64),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            why = (
                "every regime splits its points between signs and edges"
                if option == "--per-regime"
                else "a check needs at least one point"
            )
            raise MeasureOptionError(
                f"{option} must be at least {least} (got {value!r}): {why}; "
                f"the default is {default}"
            )


def measure(
    spec,
    module,
    param_values=None,
    dtypes=(np.float64, np.float32),
    per_regime: int = 48,
    long_n: int = 100_000,
    grad_points: int = 64,
    cache: ReferenceCache | None = None,
    param_points=None,
) -> Report:
    """The accuracy :class:`Report` of ``module`` (generated from ``spec``).

    ``param_points`` (a list of ``{param name: value}``, e.g. from
    :func:`symsmooth.verification.regimes.parameter_points`) measures the kernel at each of
    them: the first with the full point counts, the others with ``per_regime // GRID_FRACTION``
    points per regime and no long row; default: the one point ``param_values`` (missing
    parameters 1).  Every report row says its parameter values and its worst input.

    References come from ``cache`` (default: the folder of
    :func:`symsmooth.verification.cache.default_dir`) when an earlier run computed them for the same
    expression, parameters and grid and the entry covers exactly the points compared (else they
    are recomputed, with a warning); kernel outputs are always computed afresh.  Every row
    records how many points it compared of those requested; a row that compared fewer (or
    none) is never ok.

    Raises
    ------
    MeasureOptionError
        for ``per_regime`` below :data:`MINIMUM_PER_REGIME`, ``long_n`` or ``grad_points``
        below 1."""
    check_options(per_regime, long_n, grad_points)
    points = list(param_points or [param_values or {}])
    store = cache if cache is not None else ReferenceCache(default_dir())
    rows = []
    # the grids feed overflow and underflow edges on purpose: the ulp table reports the
    # outcome, so NumPy's floating-point warnings would only be noise here
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, point in enumerate(points):
            params = _param_values(spec, point)
            label = param_label(dict(zip(spec.param_names, params, strict=True)), spec.param_names)
            first = j == 0
            if not first and spec.kind == "iteration":
                break  # fixed-count iterations: measured at their default parameters only
            rows += _measurer(spec.kind)(
                spec,
                module,
                params,
                dtypes,
                per_regime if first else max(MINIMUM_PER_REGIME, per_regime // GRID_FRACTION),
                long_n if first else None,
                grad_points,
                store,
                label,
            )
    return Report(spec.name, spec.kind, tuple(rows))


_MEASURERS = {
    "elementwise": lambda spec, module, params, dtypes, per_regime, long_n, grad_points, store, label: (  # noqa: E501
        _elementwise(spec, module, params, dtypes, per_regime, store, label)
    ),
    "reduction": lambda spec, module, params, dtypes, per_regime, long_n, grad_points, store, label: (  # noqa: E501
        _reduction(spec, module, params, dtypes, long_n, grad_points, store, label)
    ),
    # fixed-count row-map iterations (soft_k_max): symsmooth.verification.iteration
    "iteration": lambda spec, module, params, dtypes, per_regime, long_n, grad_points, store, label: (  # noqa: E501
        measure_iteration(spec, module, params, dtypes, long_n or 1000, grad_points)
    ),
}
"""``spec.kind`` -> how its module is measured (every grid option passed; each uses its own)."""


def _measurer(kind: str):
    try:
        return _MEASURERS[kind]
    except KeyError:
        raise VerificationError(
            f"no measurement for kernel kind {kind!r}; known: {', '.join(sorted(_MEASURERS))}. "
            "Add one to _MEASURERS in symsmooth/verification/kernels.py"
        ) from None
