"""Certified references for kernels: the unstabilized expressions evaluated in ball arithmetic.

* Elementwise: the textbook (naive) form of the expression and of its derivatives, walked once
  into Arb closures (:mod:`symsmooth.verification.balls`) and evaluated at increasing precision
  until the ball decides the float rounding (relative radius below ``2**-64``, or wholly outside
  every format).  Agreement of two precisions is not used: a complete cancellation agrees and
  is wrong (``log(1 + exp(-708.42))`` is 0 at 200 digits; the ball contains 0 and goes on).
* Reductions: the exact sums ``S_k = c_k + sum_i w_k e^{h_k}`` of the normal form as ball sums,
  then ``F(S)``; gradients by the exact chain rule ``dF/dS_k * d(w_k e^{h_k})/dv`` (plus
  ``dF/dv`` of the element for row maps, contracted with a cotangent).  No shift, no
  stabilization: independent of the generated kernel.  A row's sums are formed once per
  precision and shared by the value and every gradient; only the entries whose ball does not
  decide their rounding are recomputed at twice the precision.

A point no precision up to :data:`~symsmooth.verification.balls.PREC_CAP` bits certifies is
``None`` (skipped, counted and labelled in the report), never a guess.

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

import hashlib
import math

import flint
import mpmath
import numpy as np
import sympy as sp

from symsmooth.functions import naive
from symsmooth.verification.balls import (
    PREC_CAP,
    PREC_START,
    UNCERTIFIED,
    UncertifiedError,
    ball_of,
    certified,
    compile_ball,
    decides,
    to_mpf,
)
from symsmooth.verification.balls import _NotRealError as NotRealError
from symsmooth.verification.cache import NOT_REAL

EXP_MAG_LIMIT = 1 << 20
"""Kernel references refuse ``exp(z)`` for ``|z| > 2**(2**20)``
(:data:`symsmooth.verification.balls.EXP_ARG_LIMIT`): such points are skipped and counted."""

ADAPTIVE = {"method": "arb", "start_bits": PREC_START, "cap_bits": PREC_CAP, "certify_bits": 64}
"""Options of the certified references: recorded in every cache entry."""


def _stored(value):
    """A certified value as the cache and the ulp comparison hold it (None: uncertified)."""
    return None if value is UNCERTIFIED else value


class ElementwiseReference:
    """Certified value and partials of an elementwise expression at a point (inputs then
    params)."""

    def __init__(self, expr: sp.Expr, inputs, params, gradients=None):
        self.args = tuple(inputs) + tuple(params)
        grads = gradients if gradients is not None else [sp.diff(expr, v) for v in inputs]
        self.value_fn = compile_ball(naive(expr), self.args)
        self.grad_fns = [compile_ball(naive(g), self.args) for g in grads]

    def value(self, point):
        return _stored(certified(self.value_fn, point))

    def gradient(self, point, which: int = 0):
        return _stored(certified(self.grad_fns[which], point))


def _agree(a, b, digits: int = 30) -> bool:
    """Both NaN, equal and nonzero, or within ``10**-digits`` relatively (the iteration
    references of :mod:`symsmooth.verification.iteration` still use agreement)."""
    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if a == b and a != 0:
        return True
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)) or a == 0:
        return False
    return abs(a - b) <= abs(a) * mpmath.mpf(10) ** (-digits)


class _Row:
    """One row prepared once: its entries as floats and a digest identifying its values."""

    def __init__(self, arrays, key: str):
        self.n, self.key = int(arrays[0].size), key
        self.columns = [[float(v) for v in a] for a in arrays]

    @staticmethod
    def digest(arrays) -> str:
        shapes = repr([a.shape for a in arrays]).encode()
        return hashlib.sha256(shapes + b"".join(a.tobytes() for a in arrays)).hexdigest()

    def local(self, idx: int, params: tuple) -> list:
        """Balls of entry ``idx``: the entries, the 1-based position, the params, the size."""
        balls = [ball_of(c[idx]) for c in self.columns]
        return balls + [flint.arb(idx + 1)] + [ball_of(p) for p in params] + [flint.arb(self.n)]

    def blank(self, params: tuple, count: int) -> list:
        zero = [flint.arb(0)] * count
        return zero + [flint.arb(0)] + [ball_of(p) for p in params] + [flint.arb(self.n)]


def _settle(compute, count: int) -> list:
    """Certify ``count`` outputs: ``compute(prec, pending) -> {index: ball or exception}`` at
    doubling precision until each ball decides its rounding (else ``None``: uncertified)."""
    out: dict = {}
    pending, prec, saved = list(range(count)), PREC_START, flint.ctx.prec
    nan_always = dict.fromkeys(pending, True)
    try:
        while pending:
            flint.ctx.prec = prec
            balls = compute(prec, pending)
            left = []
            for j in pending:
                ball = balls[j]
                if isinstance(ball, NotRealError):
                    out[j] = NOT_REAL
                elif isinstance(ball, flint.arb) and decides(ball):
                    out[j] = to_mpf(ball)
                else:
                    nan_always[j] &= isinstance(ball, flint.arb) and ball.is_nan()
                    left.append(j)
            if prec >= PREC_CAP:
                out.update({j: mpmath.nan if nan_always[j] else None for j in left})
                break
            pending, prec = left, prec * 2
    finally:
        flint.ctx.prec = saved
    return [out[j] for j in range(count)]


def _try(fn, *args):
    try:
        return fn(*args)
    except (UncertifiedError, NotRealError) as exc:
        return exc


class RowReference:
    """Certified value and gradient of a reduction in normal form (``plan``) at one row.

    ``row`` is a tuple of sequences (one per input vector); ``params`` the values of
    ``param_symbols``."""

    def __init__(self, plan, param_symbols, params, dps: int = 50):
        self.plan, self.params = plan, tuple(float(p) for p in params)
        local = list(plan.elements) + [plan.position] + list(param_symbols) + [plan.size]
        compile_ = lambda e, a: compile_ball(naive(e), a)  # noqa: E731
        self.terms = [compile_(t.w * sp.exp(t.h), local) for t in plan.sums]
        self.inits = [compile_(t.init, local) for t in plan.sums]
        outer_args = list(plan.totals) + local
        self.outer = compile_(plan.outer, outer_args)
        self.douter = [compile_(sp.diff(plan.outer, s), outer_args) for s in plan.totals]
        self.dterms = [
            [compile_(sp.diff(t.w * sp.exp(t.h), el), local) for el in plan.elements]
            for t in plan.sums
        ]
        self.ddirect = [compile_(sp.diff(plan.outer, el), outer_args) for el in plan.elements]
        # parameter derivatives: dF/dp directly and through each sum (its terms and its
        # initial value), per differentiable parameter
        self.param_symbols = tuple(param_symbols)
        self.dparam = {}
        for j, p in enumerate(self.param_symbols):
            if p.is_integer:
                continue
            self.dparam[j] = (
                compile_(sp.diff(plan.outer, p), outer_args),
                [compile_(sp.diff(t.w * sp.exp(t.h), p), local) for t in plan.sums],
                [compile_(sp.diff(t.init, p), local) for t in plan.sums],
            )
        self._memo: dict = {}

    def _prepare(self, row) -> _Row:
        if isinstance(row, _Row):
            return row
        arrays = [np.asarray(v, dtype=np.float64) for v in row]
        return _Row(arrays, _Row.digest(arrays))

    def _remember(self, key, compute):
        if key not in self._memo:
            if len(self._memo) > 64:
                self._memo.clear()
            self._memo[key] = compute()
        return self._memo[key]

    def _locals(self, prepared: _Row, prec: int) -> list:
        return self._remember(
            (prepared.key, prec, "locals"),
            lambda: [prepared.local(j, self.params) for j in range(prepared.n)],
        )

    def totals(self, prepared: _Row, prec: int) -> list:
        """``[S_0, S_1, ...]`` as balls at ``prec`` bits (the context precision is ``prec``)."""

        def compute():
            locals_ = self._locals(prepared, prec)
            blank = prepared.blank(self.params, len(self.plan.elements))
            sums = []
            for init, term in zip(self.inits, self.terms, strict=True):
                total = init(blank)
                for loc in locals_:
                    total += term(loc)
                sums.append(total)
            return sums

        return self._remember((prepared.key, prec, "totals"), compute)

    def value(self, row) -> list:
        """One reference for a scalar reduction, ``n`` of them for a row map."""
        prepared = self._prepare(row)
        count = prepared.n if self.plan.rowmap else 1

        def compute(prec, pending):
            totals = self.totals(prepared, prec)
            locals_ = self._locals(prepared, prec)
            blank = prepared.blank(self.params, len(self.plan.elements))
            return {
                j: _try(self.outer, totals + (locals_[j] if self.plan.rowmap else blank))
                for j in pending
            }

        return _settle(compute, count)

    def gradient(self, row, which: int = 0, cotangent=None, indices=None) -> list:
        """d value / d row[which] (scalar reductions) or its VJP with ``cotangent`` (row maps),
        at the positions ``indices`` (default: all)."""
        prepared = self._prepare(row)
        positions = list(range(prepared.n)) if indices is None else list(indices)

        def compute(prec, pending):
            totals = self.totals(prepared, prec)
            locals_ = self._locals(prepared, prec)
            adj = self._adjoint(prepared, totals, locals_, cotangent, prec)
            if isinstance(adj, Exception):
                return dict.fromkeys(pending, adj)
            return {
                j: _try(self._chain, totals, locals_, adj, positions[j], which, cotangent)
                for j in pending
            }

        return _settle(compute, len(positions))

    def param_gradient(self, row, which: int, cotangent=None) -> list:
        """d value / d params[which] of a scalar reduction (one reference), or its
        vector-Jacobian product with ``cotangent`` (row maps: ``sum_j g_j dF_j/dp``, one
        reference)."""
        prepared = self._prepare(row)

        def compute(prec, pending):
            totals = self.totals(prepared, prec)
            locals_ = self._locals(prepared, prec)
            adj = self._adjoint(prepared, totals, locals_, cotangent, prec)
            if isinstance(adj, Exception):
                return dict.fromkeys(pending, adj)
            return {0: _try(self._param_chain, prepared, totals, locals_, adj, cotangent, which)}

        return _settle(compute, 1)

    def _param_chain(self, prepared: _Row, totals, locals_, adj, cotangent, which: int):
        direct, dterms, dinits = self.dparam[which]
        blank = prepared.blank(self.params, len(self.plan.elements))
        acc = flint.arb(0)
        infinite = [any(math.isinf(c[j]) for c in prepared.columns) for j in range(prepared.n)]
        for k in range(len(self.terms)):
            tangent = dinits[k](blank)
            for j, loc in enumerate(locals_):
                # an entry at -inf has weight exactly 0 and adds nothing (the limit of
                # x e^{kx}; Arb's -inf * 0 is NaN)
                if infinite[j] and self.terms[k](loc).is_zero():
                    continue
                tangent += dterms[k](loc)
            acc += adj[k] * tangent
        if not self.plan.rowmap:
            return acc + direct(totals + blank)
        for j, loc in enumerate(locals_):
            acc += ball_of(cotangent[j]) * direct(totals + loc)
        return acc

    def _adjoint(self, prepared: _Row, totals, locals_, cotangent, prec: int):
        """``[dF/dS_k]`` (scalar reductions) or ``[sum_j g_j dF/dS_k(x_j)]`` (row maps)."""
        if not self.plan.rowmap:
            blank = prepared.blank(self.params, len(self.plan.elements))
            return _try(lambda: [d(totals + blank) for d in self.douter])
        cot = np.asarray(cotangent, dtype=np.float64)
        key = (prepared.key, prec, hashlib.sha256(cot.tobytes()).hexdigest())

        def compute():
            g = [ball_of(c) for c in cot]
            out = []
            for d in self.douter:
                acc = flint.arb(0)
                for j in range(prepared.n):
                    acc += g[j] * d(totals + locals_[j])
                out.append(acc)
            return out

        return self._remember(key, lambda: _try(compute))

    def _chain(self, totals, locals_, adj, idx, which, cotangent):
        local = locals_[idx]
        acc = flint.arb(0)
        for k in range(len(self.terms)):
            acc += adj[k] * self.dterms[k][which](local)
        if self.plan.rowmap:
            acc += ball_of(cotangent[idx]) * self.ddirect[which](totals + local)
        return acc
