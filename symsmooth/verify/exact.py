"""Exact references for kernels: the unstabilized expressions evaluated with mpmath.

* Elementwise: the textbook (naive) form of the expression and of its derivatives, compiled to
  mpmath and evaluated with *adaptive* precision: 50 digits, then doubled until two successive
  precisions agree to 30 digits (a naive form such as ``log(1 + exp(-800))`` cancels and needs
  hundreds of digits; mpmath has no overflow).
* Reductions: the exact sums ``S_k = c_k + sum_i w_k e^{h_k}`` of the normal form evaluated with
  ``mpmath.fsum`` (rows of 10^5 in about a second), then ``F(S)``; gradients by the exact chain
  rule ``dF/dS_k * d(w_k e^{h_k})/dv`` (plus ``dF/dv`` of the element for row maps, contracted
  with a cotangent).  No shift, no stabilization: independent of the generated kernel.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> x = sp.Symbol("x", real=True)
>>> ref = ElementwiseReference(softplus(x), (x,), ())
>>> print(mpmath.nstr(ref.value([-800.0]), 15))
3.66787458417769e-348
"""

from __future__ import annotations

import mpmath
import sympy as sp

from symsmooth.functions import naive
from symsmooth.verify.reference import mpmath_module

_MODULES = [mpmath_module(), "mpmath"]


def _compile(expr: sp.Expr, args) -> callable:
    return sp.lambdify(list(args), naive(expr), modules=_MODULES)


def _adaptive(fn, values, start: int = 50, agree: int = 30, limit: int = 1600):
    """``fn(*values)`` at increasing precision until two successive results agree.

    Agreement means equal infinities, both NaN, or a relative difference below
    ``10**-agree`` between *nonzero* results: a cancelling naive form returns 0 (or a few
    digits) until the precision covers the cancellation, so zeros are never trusted before the
    precision ``limit``.
    """
    dps, previous = start, None
    while True:
        with mpmath.workdps(dps):
            try:
                current = mpmath.mpmathify(fn(*[mpmath.mpf(v) for v in values]))
            except (ZeroDivisionError, OverflowError, ValueError):
                return mpmath.nan  # undefined (0/0, x/0) or beyond mpmath's exponent range
        if previous is not None:
            if mpmath.isnan(current) and mpmath.isnan(previous):
                return current
            if mpmath.isinf(current) and current == previous:
                return current
            finite = mpmath.isfinite(current) and mpmath.isfinite(previous)
            if finite and current != 0:
                with mpmath.workdps(dps):
                    if abs(current - previous) <= abs(current) * mpmath.mpf(10) ** (-agree):
                        return current
        if dps >= limit:
            return current
        previous, dps = current, dps * 2


class ElementwiseReference:
    """Value and partials of an elementwise expression at a point (inputs then params)."""

    def __init__(self, expr: sp.Expr, inputs, params, gradients=None):
        self.args = tuple(inputs) + tuple(params)
        self.value_fn = _compile(expr, self.args)
        grads = gradients if gradients is not None else [sp.diff(expr, v) for v in inputs]
        self.grad_fns = [_compile(g, self.args) for g in grads]

    def value(self, point):
        return _adaptive(self.value_fn, point)

    def gradient(self, point, which: int = 0):
        return _adaptive(self.grad_fns[which], point)


def _agree(a, b, digits: int = 30) -> bool:
    """Both NaN, equal and nonzero, or within ``10**-digits`` relatively."""
    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if a == b and a != 0:
        return True  # equal infinities, or equal nonzero values (a cancelled 0 is not trusted)
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)) or a == 0:
        return False
    return abs(a - b) <= abs(a) * mpmath.mpf(10) ** (-digits)


class RowReference:
    """Exact value and gradient of a reduction in normal form (``plan``) at one row.

    ``row`` is a tuple of sequences (one per input vector); ``params`` the values of
    ``param_symbols``.
    """

    def __init__(self, plan, param_symbols, params, dps: int = 50):
        self.plan, self.params, self.dps = plan, tuple(mpmath.mpf(p) for p in params), dps
        local = list(plan.elements) + [plan.position] + list(param_symbols) + [plan.size]
        self._local = local
        self.terms = [_compile(t.w * sp.exp(t.h), local) for t in plan.sums]
        self.inits = [_compile(t.init, local) for t in plan.sums]
        outer_args = list(plan.totals) + local
        self.outer = _compile(plan.outer, outer_args)
        self.douter = [_compile(sp.diff(plan.outer, s), outer_args) for s in plan.totals]
        self.dterms = [
            [_compile(sp.diff(t.w * sp.exp(t.h), el), local) for el in plan.elements]
            for t in plan.sums
        ]
        self.ddirect = [_compile(sp.diff(plan.outer, el), outer_args) for el in plan.elements]

    def _local_args(self, row, idx, n):
        return [mpmath.mpf(v[idx]) for v in row] + [idx + 1] + list(self.params) + [n]

    def _blank(self, n):
        return [mpmath.mpf(0)] * len(self.plan.elements) + [0] + list(self.params) + [n]

    def totals(self, row) -> list:
        n = len(row[0])
        with mpmath.workdps(self.dps):
            out = []
            for term, init in zip(self.terms, self.inits, strict=False):
                values = [term(*self._local_args(row, idx, n)) for idx in range(n)]
                out.append(init(*self._blank(n)) + mpmath.fsum(values))
            return out

    def value(self, row) -> list:
        """One reference for a scalar reduction, ``n`` of them for a row map."""
        n = len(row[0])
        totals = self.totals(row)
        with mpmath.workdps(self.dps):
            if not self.plan.rowmap:
                return [mpmath.mpmathify(self.outer(*totals, *self._blank(n)))]
            return [
                mpmath.mpmathify(self.outer(*totals, *self._local_args(row, idx, n)))
                for idx in range(n)
            ]

    def gradient(self, row, which: int = 0, cotangent=None, indices=None) -> list:
        """d value / d row[which] (scalar reductions) or its VJP with ``cotangent`` (row maps),
        at the positions ``indices`` (default: all).

        The chain rule cancels at a dominant element (soft argmax: ``m - sum_i i p_i`` with
        ``p_m ~ 1``), so the precision doubles from ``dps`` until two results agree to 30
        digits in every entry (up to 1600 digits), as :func:`_adaptive` does elementwise."""
        dps, previous = self.dps, None
        while True:
            current = self._gradient(row, which, cotangent, indices, dps)
            if previous is not None and all(
                _agree(a, b) for a, b in zip(current, previous, strict=False)
            ):
                return current
            if dps >= 1600:
                return current
            previous, dps = current, dps * 2

    def _gradient(self, row, which, cotangent, indices, dps) -> list:
        saved, self.dps = self.dps, dps
        try:
            return self._gradient_at(row, which, cotangent, indices)
        finally:
            self.dps = saved

    def _gradient_at(self, row, which, cotangent, indices) -> list:
        n = len(row[0])
        totals = self.totals(row)
        with mpmath.workdps(self.dps):
            if self.plan.rowmap:
                g = [mpmath.mpf(c) for c in cotangent]
                adj = [
                    mpmath.fsum(g[j] * d(*totals, *self._local_args(row, j, n)) for j in range(n))
                    for d in self.douter
                ]
            else:
                adj = [d(*totals, *self._blank(n)) for d in self.douter]
            out = []
            for idx in range(n) if indices is None else indices:
                local = self._local_args(row, idx, n)
                acc = mpmath.fsum(
                    adj[k] * self.dterms[k][which](*local) for k in range(len(self.terms))
                )
                if self.plan.rowmap:
                    acc += g[idx] * self.ddirect[which](*totals, *local)
                out.append(mpmath.mpmathify(acc))
            return out
