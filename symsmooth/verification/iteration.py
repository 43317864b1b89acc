"""Exact references and ulp reports for fixed-count iterations of a row map.

An iteration kernel (``spec.kind == "iteration"``, see :mod:`symsmooth.codegen.iteration`)
computes ``y = x - x_m`` (``m`` the first argmin when ``spec.shift == "min"``), ``p = init`` and
``count`` times ``p <- step(y, p)``.  The reference repeats the *exact* step (the step spec's
unstabilized normal form: its sums evaluated with :func:`mpmath.fsum`, then ``F(S)``) in mpmath,
and differentiates by the exact chain rule: a backward pass through the steps
(``dF/dS_k`` contracted with the cotangent, ``d(w_k e^{h_k})/dv`` and ``dF/dv`` of the
element, for both vectors ``v = y, p``), then through the shift,
``dL/dx = g_y - (sum_i g_y,i) e_m``.  No shift inside the sums, no stabilization, nothing
from the generated code.  Edge semantics are those of the kernels: -inf entries are absent
(output ``init``, gradient 0), a NaN makes the row NaN.

Values are computed at 50 digits; gradients at 50 and 100 digits (doubling up to 800 until
two agree to 30 digits in every entry) for rows up to :data:`CHECKED_LENGTH`, at 60 digits for
longer rows (their gradients cancel by a few digits, not 40).

Examples
--------
>>> from symsmooth import pipeline
>>> ref = IterationReference(pipeline.kernel_spec("soft_k_max"), (1.0,))
>>> [mpmath.nstr(v, 6) for v in ref.value([2.0, 1.0, 4.0, 5.0, 3.0])]
['0.141024', '0.0531746', '0.647255', '0.814181', '0.344366']
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from symsmooth.functions import naive
from symsmooth.verification.exact import _agree
from symsmooth.verification.reference import mpmath_module, safe_lambdify
from symsmooth.verification.report import ReportRow, summarize, target
from symsmooth.verification.ulp import ulp_errors

CHECKED_LENGTH = 4096
"""Rows up to this length get gradients with the precision doubled until two agree."""

_MODULES = [mpmath_module(), "mpmath"]


def _compile(expr, args):
    return safe_lambdify(args, naive(expr), _MODULES)


class IterationReference:
    """Exact value and VJP of an iteration kernel's construction at one row (a sequence)."""

    def __init__(self, spec, params, count: int | None = None, dps: int = 50):
        plan = spec.step.plan
        self.plan, self.dps = plan, dps
        self.count = spec.count_default if count is None else int(count)
        self.shift, self.init = spec.shift, sp.Float(spec.init)
        self.params = tuple(params)
        local = list(plan.elements) + [plan.position] + list(spec.step.params) + [plan.size]
        outer_args = list(plan.totals) + local
        self.terms = [_compile(t.w * sp.exp(t.h), local) for t in plan.sums]
        self.inits = [_compile(t.init, local) for t in plan.sums]
        self.outer = _compile(plan.outer, outer_args)
        self.douter = [_compile(sp.diff(plan.outer, s), outer_args) for s in plan.totals]
        self.dterms = [
            [_compile(sp.diff(t.w * sp.exp(t.h), el), local) for el in plan.elements]
            for t in plan.sums
        ]
        self.ddirect = [_compile(sp.diff(plan.outer, el), outer_args) for el in plan.elements]
        # the derivatives in each parameter q: of the terms, of the initial values, of F
        qs = list(spec.step.params)
        self.dterm_params = [
            [_compile(sp.diff(t.w * sp.exp(t.h), q), local) for q in qs] for t in plan.sums
        ]
        self.dinit_params = [[_compile(sp.diff(t.init, q), local) for q in qs] for t in plan.sums]
        self.douter_params = [_compile(sp.diff(plan.outer, q), outer_args) for q in qs]

    # -- forward ---------------------------------------------------------------------------
    def _prepare(self, row):
        x = [mpmath.mpf(float(v)) for v in row]
        active = [i for i, v in enumerate(x) if v != -mpmath.inf]
        pivot = -1
        if self.shift != "none" and active:
            better = (lambda a, b: a < b) if self.shift == "min" else (lambda a, b: a > b)
            pivot = active[0]
            for i in active[1:]:
                if better(x[i], x[pivot]):
                    pivot = i
        base = x[pivot] if pivot >= 0 else mpmath.mpf(0)
        y = [v if v == -mpmath.inf else v - base for v in x]
        return x, y, active, pivot

    def _local(self, y, p, idx, n):
        return [y[idx], p[idx], mpmath.mpf(idx + 1), *[mpmath.mpf(v) for v in self.params], n]

    def _totals(self, y, p, active, n):
        blank = [mpmath.mpf(0)] * (len(self.plan.elements) + 1)
        blank += [mpmath.mpf(v) for v in self.params] + [n]
        return [
            init(*blank) + mpmath.fsum(term(*self._local(y, p, i, n)) for i in active)
            for term, init in zip(self.terms, self.inits, strict=True)
        ]

    def _forward(self, row):
        x, y, active, pivot = self._prepare(row)
        n = len(x)
        p = [mpmath.mpf(self.init)] * n
        states, totals = [p], []
        for _ in range(self.count):
            s = self._totals(y, p, active, n)
            q = list(p)
            for i in active:
                q[i] = mpmath.mpmathify(self.outer(*s, *self._local(y, p, i, n)))
            states.append(q)
            totals.append(s)
            p = q
        return x, y, active, pivot, states, totals

    def value(self, row) -> list:
        """The exact output row (NaN everywhere when the row has a NaN)."""
        if any(v != v for v in row):
            return [mpmath.nan] * len(row)
        with mpmath.workdps(self.dps):
            return self._forward(row)[4][-1]

    # -- backward --------------------------------------------------------------------------
    def _vjp_at(self, row, cotangent, dps, param=None):
        """The VJP in ``x`` (``param`` None) or in the parameter number ``param``: the backward pass
        through the steps (each step's ``dF/dS`` contracted with the cotangent of its output,
        times ``dS/dq``, plus ``G dF/dq``), then through the shift."""
        with mpmath.workdps(dps):
            x, y, active, pivot, states, totals = self._forward(row)
            n = len(x)
            g = [mpmath.mpf(float(c)) for c in cotangent]
            gy = [mpmath.mpf(0)] * n
            dq = []
            for t in range(self.count - 1, -1, -1):
                p, s = states[t], totals[t]
                adj = [
                    mpmath.fsum(g[i] * d(*s, *self._local(y, p, i, n)) for i in active)
                    for d in self.douter
                ]
                if param is not None:
                    dq.append(self._step_param(y, p, s, g, adj, active, n, param))
                gp = [mpmath.mpf(0)] * n
                for i in active:
                    local = self._local(y, p, i, n)
                    parts = []
                    for which in (0, 1):
                        acc = mpmath.fsum(
                            adj[k] * self.dterms[k][which](*local) for k in range(len(adj))
                        )
                        parts.append(acc + g[i] * self.ddirect[which](*s, *local))
                    gy[i] += parts[0]
                    gp[i] = parts[1]
                g = gp
            if param is not None:
                return mpmath.fsum(dq)
            kept = set(active)
            out = [gy[i] if i in kept else mpmath.mpf(0) for i in range(n)]
            if pivot >= 0:
                out[pivot] = -mpmath.fsum(gy[i] for i in active if i != pivot)
            return out

    def _step_param(self, y, p, s, g, adj, active, n, which):
        """One step's part of the derivative in parameter ``which``:
        ``sum_k adj_k dS_k/dq + sum_i G_i dF/dq(i)``."""
        blank = [mpmath.mpf(0)] * (len(self.plan.elements) + 1)
        blank += [mpmath.mpf(v) for v in self.params] + [n]
        ds = [
            init[which](*blank) + mpmath.fsum(term[which](*self._local(y, p, i, n)) for i in active)
            for term, init in zip(self.dterm_params, self.dinit_params, strict=True)
        ]
        direct = self.douter_params[which]
        return mpmath.fsum(a * d for a, d in zip(adj, ds, strict=True)) + mpmath.fsum(
            g[i] * direct(*s, *self._local(y, p, i, n)) for i in active
        )

    def param_gradient(self, row, cotangent, which: int = 0):
        """The exact VJP with ``cotangent`` in parameter number ``which`` of the step: one
        value (precision doubled until two results agree, as :meth:`gradient`)."""
        if any(v != v for v in row):
            return mpmath.nan
        dps, previous = self.dps, None
        while True:
            current = self._vjp_at(row, cotangent, dps, which)
            if previous is not None and (_agree(current, previous) or current == previous == 0):
                return current
            if dps >= 800 or len(row) > CHECKED_LENGTH:
                return current
            previous, dps = current, dps * 2

    def gradient(self, row, cotangent) -> list:
        """The exact VJP with ``cotangent`` (precision doubled until two results agree)."""
        if any(v != v for v in row):
            return [mpmath.nan] * len(row)
        if len(row) > CHECKED_LENGTH:
            return self._vjp_at(row, cotangent, 60)
        dps, previous = self.dps, None
        while True:
            current = self._vjp_at(row, cotangent, dps)
            if previous is not None and all(
                _agree(a, b) or a == b == 0 for a, b in zip(current, previous, strict=True)
            ):
                return current
            if dps >= 800:
                return current
            previous, dps = current, dps * 2


def measure_iteration(spec, module, params, dtypes, long_n, grad_points) -> list[ReportRow]:
    """Report rows (value and ``grad_<input>``) of an iteration kernel on the row grids of
    :func:`symsmooth.verification.grids.row_grid`, with a standard normal cotangent."""
    from symsmooth.verification.grids import row_grid

    ref = IterationReference(spec, params)
    value_fn = getattr(module, spec.name)
    grad_fn = getattr(module, f"{spec.name}_grad")
    part = f"grad_{spec.input_names[0]}"
    step_params = [str(q) for q in spec.step.params]
    param_fns = {
        p: (step_params.index(code), getattr(module, f"{spec.name}_grad_{p}"))
        for p, code in zip(spec.param_names, step_params, strict=True)
        if p in spec.public_param_names and hasattr(module, f"{spec.name}_grad_{p}")
    }
    out = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        goal = target(sp.S.Zero, "reduction", dt)
        for regime, (mat,) in row_grid(1, dt, long_n=long_n).items():
            rng = np.random.default_rng(7)
            cot = rng.standard_normal(mat.shape)
            values = np.asarray(value_fn(mat, *params))
            grads = np.asarray(grad_fn(mat, *params, cotangent=cot))
            v_comp, v_ref, g_comp, g_ref = [], [], [], []
            wanted = {"value": mat.size, part: 0}  # points requested, per part
            for r in range(mat.shape[0]):
                row = mat[r].astype(np.float64)
                v_comp.append(values[r])
                v_ref += ref.value(row)
                n = row.size
                idx = (
                    list(range(n))
                    if n <= grad_points
                    else sorted(rng.choice(n, grad_points, replace=False).tolist())
                )
                exact = ref.gradient(row, cot[r])
                g_comp.append(grads[r][idx])
                wanted[part] += len(idx)
                g_ref += [exact[i] for i in idx]
            parts = [("value", v_comp, v_ref), (part, g_comp, g_ref)]
            for p, (which, fn) in param_fns.items():
                got = np.asarray(fn(mat, *params, cotangent=cot))
                exact = [
                    ref.param_gradient(mat[r].astype(np.float64), cot[r], which)
                    for r in range(mat.shape[0])
                ]
                parts.append((f"grad_{p}", [got], exact))
                wanted[f"grad_{p}"] = mat.shape[0]
            for name, comp, exact in parts:
                err = ulp_errors(np.concatenate(comp).astype(dt), exact, dt)
                out.append(
                    ReportRow(
                        spec.name,
                        name,
                        dt.name,
                        regime,
                        err.size,
                        *summarize(err),
                        goal,
                        requested=wanted[name],
                    )
                )
    return out
