"""Plots of a catalog entry: the target, the surrogate at a few sharpness values, the error.

:func:`plot_data` is pure (it returns arrays, tested against mpmath); :func:`plot` draws them
with matplotlib's Agg backend.  Every record is shown along a 1-D slice through its
breakpoint:

* one scalar input: ``x`` itself on ``[-3, 3]``;
* two scalar inputs: ``x`` with the others fixed at 0 (``y = 0``);
* reductions: ``n = 3`` (or the record's fixed ``n``) and the first vector
  ``x = (u, 0, -1)``, so ``u = 0`` is a tie; other vectors and integer labels come from one
  of the record's own ``samples`` (labels in ``{0, 1}``, a class index), else simple defaults.

Sharpness values: ``k = 1, 2, 5, 10`` (``limit = oo``) or widths ``1, 0.5, 0.2, 0.1``
(``limit = 0``), so that the smoothing scale ``1/k`` or ``sigma`` covers the plotted range.
Values are computed with NumPy through :func:`sympy.lambdify` (over Dummy symbols only, so
no name from a record is printed into the source lambdify runs) and cross-checked against
:func:`symsmooth.verification.reference.evaluate` at three points; where they disagree or lambdify
fails, every value is computed with mpmath instead.

Examples
--------
>>> from symsmooth import catalog
>>> data = plot_data(catalog.get("softplus"))
>>> sorted(data.surrogates) == [1.0, 2.0, 5.0, 10.0]
True
>>> float(data.bounds[1.0][0])  # log(2)/k at k = 1
0.6931471805599453
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from symsmooth.records import Smoothing
from symsmooth.verification.reference import evaluate, instantiate

DEFAULT_VALUES = {"oo": (1.0, 2.0, 5.0, 10.0), "0": (1.0, 0.5, 0.2, 0.1)}
"""Sharpness values (limit oo) or widths (limit 0) shown by default."""
PATTERNS = ((0.0, -1.0, 0.5, 1.5, -2.0, 2.5, -0.5, 1.0), (0.5, -1.0, 1.5, -2.0, 2.5, -0.5, 1.0))
"""Fixed entries 2.. of the plotted vector: entry 2 = 0 makes ``u = 0`` a tie; the second
pattern avoids 0 for records whose domain excludes it (soft F1)."""
SIZE = 3


@dataclass(frozen=True)
class PlotData:
    """The arrays one plot shows (one entry per sharpness value in the dicts)."""

    name: str
    u: np.ndarray
    target: np.ndarray
    surrogates: dict
    errors: dict
    bounds: dict
    xlabel: str
    param: str
    point: dict


def _direction(record: Smoothing) -> str:
    return "oo" if record.limit == sp.oo else "0"


def _labels(record: Smoothing) -> list:
    taken = {record.param, record.size, record.index, *record.fixed_values}
    free = record.expr.free_symbols | record.target.free_symbols
    return sorted((s for s in free if s.is_integer and s not in taken), key=str)


def _sample(record: Smoothing, size: int) -> dict:
    """A point from the record's own samples with the wanted size (or any size >= 2)."""
    if record.samples is None:
        return {}
    points = list(record.samples(np.random.default_rng(1), 60))
    for wanted in (lambda p: p.get(record.size) == size, lambda p: p.get(record.size, 2) >= 2):
        for point in points:
            if wanted(point) and (record.valid is None or record.valid(point)):
                return dict(point)
    return dict(points[0]) if points else {}


def base_point(
    record: Smoothing, shift: float = 0.0, pattern: tuple = PATTERNS[0]
) -> tuple[dict, sp.Basic, str]:
    """Values of everything but the varied input, the varied input, and the axis label.

    ``shift`` is the value given to the other scalar inputs (0: the slice ``y = 0``);
    ``pattern`` gives entries 2.. of a varied vector.
    """
    fixed = dict(record.fixed_values)
    size = int(fixed.get(record.size, SIZE)) if record.size is not None else None
    sample = _sample(record, size) if record.size is not None else {}
    if record.size is not None and record.size not in fixed and sample.get(record.size):
        size = int(sample[record.size])
    point: dict = {**fixed}
    if record.size is not None:
        point[record.size] = size
    first, *others = record.variables
    shown = []
    for var in others:
        if isinstance(var, sp.IndexedBase):
            point[var] = [float(v) for v in sample.get(var, [1.0, 0.0] * size)][:size]
            shown.append(f"{var} = ({', '.join(f'{v:g}' for v in point[var])})")
        else:
            point[var] = shift
            shown.append(f"{var} = {shift:g}")
    for label in _labels(record):
        point[label] = int(sample.get(label, 1))
        shown.append(f"{label} = {point[label]}")
    if isinstance(first, sp.IndexedBase):
        rest = pattern[: size - 1]
        point[first] = ["u", *rest]
        entries = ", ".join(["u", *(f"{v:g}" for v in rest)])
        shown = [f"{first} = ({entries})", *shown, f"n = {size}"]
        return point, first[1], f"{first}[1] = u   ({', '.join(shown)})"
    return point, first, f"{first}" + (f"   ({', '.join(shown)})" if shown else "")


def _at(point: dict, record: Smoothing, u: float, pv: float) -> dict:
    """The full point of the slice at ``u`` (for ``record.valid``)."""
    full = {record.param: pv, **point}
    first = record.variables[0]
    if isinstance(first, sp.IndexedBase):
        full[first] = [u if isinstance(v, str) else v for v in point[first]]
    else:
        full[first] = u
    return full


def _slice(record: Smoothing, span: float, points: int) -> tuple[dict, sp.Basic, str, np.ndarray]:
    """The first slice that lies (up to isolated ties) in ``record.valid``: ``y = 0`` around
    0, else a vector without zeros, else ``y = 1`` with ``x >= 0``.  Invalid points are masked
    later."""
    around, right = np.linspace(-span, span, points), np.linspace(0, 2 * span, points)
    choices = [(0.0, PATTERNS[0], around), (0.0, PATTERNS[1], around), (1.0, PATTERNS[0], right)]
    pv = DEFAULT_VALUES[_direction(record)][0]
    for shift, pattern, us in choices:
        point, varied, label = base_point(record, shift, pattern)
        if record.valid is None:
            return point, varied, label, us
        if np.mean([bool(record.valid(_at(point, record, u, pv))) for u in us]) > 0.95:
            return point, varied, label, us
    return (*base_point(record), around)


def _on_slice(expr: sp.Expr, record: Smoothing, point: dict, u: sp.Symbol) -> sp.Expr:
    """``expr`` as a function of the slice coordinate ``u`` and the parameter only."""
    body = instantiate(expr, point) if record.size is not None else expr
    subs: dict = {}
    for key, value in point.items():
        if isinstance(key, sp.IndexedBase):
            for j, v in enumerate(value, start=1):
                subs[key[j]] = u if isinstance(v, str) else v
        elif key is not record.size:
            subs[key] = value
    first = record.variables[0]
    if isinstance(first, sp.Symbol):
        subs[first] = u
    return sp.sympify(body, strict=True).xreplace(subs).doit()  # never text


def _mp_value(body: sp.Expr, u: sp.Symbol, param: sp.Symbol, x: float, pv: float) -> float:
    try:
        return float(evaluate(body, {u: float(x), param: pv}, dps=30))
    except (ValueError, TypeError, AttributeError, ZeroDivisionError):
        # the evaluator refuses or lacks a node: SymPy's own mpmath evalf
        value = body.xreplace({u: sp.Float(float(x), 30), param: sp.Float(pv, 30)}).evalf(30)
        return float(value) if value.is_real else float("nan")


def _mp_values(body: sp.Expr, u: sp.Symbol, param: sp.Symbol, us, pv: float) -> np.ndarray:
    return np.array([_mp_value(body, u, param, x, pv) for x in us])


def _values(body: sp.Expr, u: sp.Symbol, param: sp.Symbol, us: np.ndarray, pv: float):
    """NumPy values of ``body`` on ``us``; mpmath if lambdify fails or disagrees.

    lambdify prints symbol names into Python source that it executes, so it only ever sees
    Dummy symbols (printed ``_Dummy_<n>``): no name from a record reaches that source.
    """
    slot, sharpness = sp.Dummy("u"), sp.Dummy("p")
    printed = body.xreplace({u: slot, param: sharpness})
    if printed.free_symbols - {slot, sharpness}:  # an unplotted symbol is left: mpmath refuses
        return _mp_values(body, u, param, us, pv)
    try:
        fn = sp.lambdify([slot, sharpness], printed, modules="numpy")
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(fn(us, pv), dtype=float), us.shape).copy()
        probe = [0, len(us) // 2, len(us) - 1]
        reference = _mp_values(body, u, param, us[probe], pv)
        if np.allclose(out[probe], reference, rtol=1e-9, atol=1e-12, equal_nan=True):
            return out
    except Exception:  # noqa: BLE001 - lambdify cannot print every SymPy node; use mpmath
        pass
    return _mp_values(body, u, param, us, pv)


def plot_data(record: Smoothing, values=None, points: int = 241, span: float = 3.0) -> PlotData:
    """The target, surrogates, errors and bounds of ``record`` along its plotted slice.

    Parameters
    ----------
    record : Smoothing
    values : sequence of float, optional
        Sharpness values (or widths when ``record.limit == 0``); default
        :data:`DEFAULT_VALUES`.
    points : int
        Samples along the slice ``u`` in ``[-span, span]``.
    """
    values = tuple(float(v) for v in (values or DEFAULT_VALUES[_direction(record)]))
    point, varied, xlabel, us = _slice(record, span, points)
    u = sp.Symbol("u", real=True)
    target = _on_slice(record.target, record, point, u)
    expr = _on_slice(record.expr, record, point, u)
    bound = None if record.bound is None else _on_slice(record.bound, record, point, u)
    target_values = _values(target, u, record.param, us, values[0])
    surrogates, errors, bounds = {}, {}, {}
    for pv in values:
        surrogates[pv] = _values(expr, u, record.param, us, pv)
        if record.valid is not None:  # outside the claimed domain: not plotted
            invalid = [not record.valid(_at(point, record, x, pv)) for x in us]
            surrogates[pv][invalid] = np.nan
        errors[pv] = np.abs(surrogates[pv] - target_values)
        bounds[pv] = None if bound is None else _values(bound, u, record.param, us, pv)
    return PlotData(
        record.name, us, target_values, surrogates, errors, bounds, xlabel, str(record.param), point
    )


def _formula(expr: sp.Expr, limit: int = 110) -> str:
    """Mathtext for ``expr`` when matplotlib can typeset it, else plain text."""
    from matplotlib.mathtext import MathTextParser

    tex = sp.latex(expr)
    if len(tex) <= limit:
        try:
            MathTextParser("path").parse(f"${tex}$")
            return f"${tex}$"
        except Exception:  # noqa: BLE001 - unsupported LaTeX: fall back to text
            pass
    text = sp.sstr(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plot(record: Smoothing, path: str | Path, values=None) -> PlotData:
    """Write a PNG: target and surrogates (left), error and bound (right).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from symsmooth import catalog
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "softplus.png"
    >>> _ = plot(catalog.get("softplus"), out)
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = plot_data(record, values)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    left.plot(data.u, data.target, color="black", lw=2.5, label="target")
    colors = plt.cm.viridis(np.linspace(0.15, 0.85, len(data.surrogates)))
    positive = [e[e > 0] for e in data.errors.values() if np.any(e > 0)]
    floor = max(min((float(e.min()) for e in positive), default=1e-16), 1e-300)
    for color, (pv, ys) in zip(colors, data.surrogates.items(), strict=True):
        label = f"{data.param} = {pv:g}"
        left.plot(data.u, ys, color=color, lw=1.6, label=label)
        shown = np.where(data.errors[pv] > 0, data.errors[pv], np.nan)  # exact: no point
        right.plot(data.u, shown, color=color, lw=1.6, label=label)
        if data.bounds[pv] is not None:
            right.plot(data.u, data.bounds[pv], color=color, lw=1.2, ls="--")
    top = max((float(e.max()) for e in positive), default=1.0)
    if positive and top / floor > 100:  # log scale, showing 16 decades below the worst error
        right.set_yscale("log")
        right.set_ylim(bottom=max(floor, top * 1e-16) / 2)
    if any(b is not None for b in data.bounds.values()):
        right.plot([], [], color="gray", ls="--", label="bound")
    left.set(xlabel=data.xlabel, ylabel="value", title="target and smooth surrogate")
    right.set(xlabel=data.xlabel, ylabel="|surrogate - target|", title="error")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(f"{record.name}:  {_formula(record.expr)}\n{record.description}", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return data
