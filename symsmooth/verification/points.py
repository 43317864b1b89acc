"""The points an elementwise kernel is measured at, and their certified references.

:func:`elementwise_cases` yields, per regime of :mod:`symsmooth.verification.grids` (plus
antiparallel pairs for two-input kernels) and per part (the value, each partial), the arguments
a kernel is called with and the Arb reference at each point, read from the
:class:`~symsmooth.verification.cache.ReferenceCache` when an earlier run computed them.
:func:`symsmooth.verification.kernels.measure` compares the kernel with them;
``bench/accuracy_table.py`` compares NumPy/SciPy formulas with the *same* references.

The inputs are cast to ``dtype``; the parameters stay Python floats, as a user passes them,
and the reference is at those exact values (the generated ufuncs take parameters as float64 in
their float32 loop too, so a float32 run is measured for the parameter given, not for its
float32 rounding).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.verification.cache import ReferenceCache
>>> x, k = sp.symbols("x k", real=True)
>>> spec = type("Spec", (), {"expr": x * k, "inputs": (x,), "params": (k,), "gradients": None})
>>> cases = list(elementwise_cases(spec, (3.0,), np.float32, 4, ReferenceCache(None)))
>>> c = next(c for c in cases if c.regime == "moderate" and c.part == "value")
>>> c.args[1], float(c.refs[0]) == 3 * float(c.args[0][0])
(3.0, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import mpmath
import numpy as np
import sympy as sp

from symsmooth.verification.cache import NOT_REAL, Coverage, ReferenceCache
from symsmooth.verification.exact import ADAPTIVE, EXP_MAG_LIMIT, ElementwiseReference
from symsmooth.verification.grids import elementwise_grid
from symsmooth.verification.reference import ReferenceRangeError
from symsmooth.verification.regimes import antiparallel


class Lazy:
    """Build an exact reference on first use (a cached run needs none)."""

    def __init__(self, build):
        self.build, self.made = build, None

    def __call__(self):
        if self.made is None:
            self.made = self.build()
        return self.made


def real(value):
    """A reference as stored: an mpf, None (skipped), or NOT_REAL for a non-real value."""
    if isinstance(value, mpmath.mpc):
        return NOT_REAL if value.imag != 0 else value.real
    return value


def _reference_or_none(reference, point, which):
    """The exact value at ``point``, or None where mpmath cannot hold it (then skipped)."""
    try:
        return reference(point) if which is None else reference(point, which)
    except ReferenceRangeError:
        return None


def _point_references(exact, method: str, which, points) -> list:
    """``exact().value`` or ``exact().gradient(., which)`` at every point (None: skipped)."""
    reference = getattr(exact(), method)
    return [real(_reference_or_none(reference, p, which)) for p in points]


def _columns(grid: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """The grid for the first input; shuffled copies for the others."""
    rng = np.random.default_rng(seed)
    return [grid] + [rng.permutation(grid) for _ in range(count - 1)]


def _grid(dt, per_regime, inputs: int) -> dict:
    """The elementwise regimes, plus antiparallel pairs for two-input kernels."""
    grid = {regime: [g] for regime, g in elementwise_grid(dt, per_regime).items()}
    if inputs == 2:
        grid["antiparallel"] = list(antiparallel(dt))
    return grid


@dataclass(frozen=True)
class Case:
    """One part of an elementwise kernel on one regime: ``args`` (the input columns in the
    dtype, then the parameters as Python floats), the reference at each point (an mpf, None:
    skipped, or NOT_REAL) and ``which`` (None: the value, j: the partial in input j, or with
    ``param`` in the j-th differentiable parameter)."""

    regime: str
    part: str
    which: int | None
    args: tuple
    refs: list
    params: int = 0
    param: bool = False  # a parameter partial: ``which`` numbers the differentiable params

    @property
    def columns(self) -> tuple:
        """The input columns (``args`` without the parameters)."""
        return self.args[: len(self.args) - self.params]


def elementwise_cases(spec, params, dtype, per_regime: int, store: ReferenceCache) -> Iterator:
    """Every :class:`Case` of ``spec`` (a KernelSpec-like object: ``expr``, ``inputs``,
    ``params``, ``gradients``, and ``input_names`` when it has gradients to measure) at the
    parameter values ``params`` in ``dtype``, regime by regime, the value first."""
    exact = Lazy(lambda: ElementwiseReference(spec.expr, spec.inputs, spec.params, spec.gradients))
    identity = (spec.expr, spec.gradients, spec.inputs, spec.params)
    expression = store.digest(sp.srepr(identity))
    names = getattr(spec, "input_names", [str(v) for v in spec.inputs])
    # the parameter partials have references of their own (the input parts' cache entries stay
    # valid): the exact derivatives in the differentiable parameters, numbered from 0
    pnames = tuple(getattr(spec, "grad_param_names", ()))
    pgrads = tuple(getattr(spec, "param_gradients", ()))
    p_exact = Lazy(lambda: ElementwiseReference(spec.expr, spec.inputs, spec.params, pgrads))
    p_identity = (spec.expr, pgrads, spec.inputs, spec.params, "param")
    p_expression = store.digest(sp.srepr(p_identity))
    dt = np.dtype(dtype)
    for regime, given in _grid(dt, per_regime, len(spec.inputs)).items():
        grid = given[0]
        cols = given if len(given) > 1 else _columns(grid, len(spec.inputs), seed=len(regime))
        args = tuple(c.astype(dt) for c in cols) + tuple(float(p) for p in params)
        points = [[float(c[j]) for c in cols] + list(params) for j in range(grid.size)]
        inputs = np.stack(args[: len(cols)])
        parts = [("value", "value", None, False)] + [
            (f"grad_{v}", "gradient", j, False) for j, v in enumerate(names)
        ]
        parts += [(f"grad_{p}", "gradient", j, True) for j, p in enumerate(pnames)]
        for part, method, which, param in parts:
            ident, ref, expr_digest = (
                (p_identity, p_exact, p_expression) if param else (identity, exact, expression)
            )
            key = store.key("elementwise", sp.srepr(ident), which, params, inputs)
            covers = Coverage(
                "elementwise",
                expr_digest,
                store.digest(which, params, inputs),
                grid.size,
                {**ADAPTIVE, "part": method, "exp_limit": EXP_MAG_LIMIT},
            )
            compute = partial(_point_references, ref, method, which, points)
            refs = store.lookup(key, compute, covers)
            yield Case(regime, part, which, args, refs, len(params), param)
