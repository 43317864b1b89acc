"""Exact references for kernels: the unstabilized expressions evaluated with mpmath.

* Elementwise: the textbook (naive) form of the expression and of its derivatives, compiled to
  mpmath and evaluated with *adaptive* precision: 50 digits, then doubled until two successive
  precisions agree to 30 digits (a naive form such as ``log(1 + exp(-800))`` cancels and needs
  hundreds of digits; mpmath has no overflow).
* Reductions: the exact sums ``S_k = c_k + sum_i w_k e^{h_k}`` of the normal form evaluated with
  ``mpmath.fsum``, then ``F(S)``; gradients by the exact chain rule
  ``dF/dS_k * d(w_k e^{h_k})/dv`` (plus ``dF/dv`` of the element for row maps, contracted with a
  cotangent).  No shift, no stabilization: independent of the generated kernel.  A row's sums
  are formed once (at twice the starting precision) and shared by the value and every gradient
  pass, and ``exp`` is remembered per (argument, precision) across sums and kernels: a row of
  10^5 entries costs one 100-digit ``exp`` per entry and distinct exponent (~45 us each).

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

import mpmath
import numpy as np
import sympy as sp

from symsmooth.functions import naive
from symsmooth.verification.cache import NOT_REAL
from symsmooth.verification.reference import (
    ReferenceRangeError,
    guarded_exp,
    mpmath_module,
    safe_lambdify,
)

EXP_MAG_LIMIT = 1 << 20
"""Kernel references refuse ``exp(z)`` for ``|z| > 2**(2**20)`` (about ``e^{7.3e5}``): the result's
exponent alone has a million bits and mpmath first computes ``log 2`` to that many bits
(``exp(exp(2.7e5))``: 2 s, ``exp(exp(7.4e6))`` of ``max_pair_double_exp`` in the float32 *huge*
regime: hours).  Such points are skipped and counted in the report's regime label; the claim
checks (:mod:`symsmooth.verification.reference`) keep their own, wider limit."""


def _exp(z):
    """:func:`guarded_exp` with the narrower :data:`EXP_MAG_LIMIT` of kernel references."""
    if type(z) is mpmath.mpf and mpmath.isfinite(z) and mpmath.mag(z) > EXP_MAG_LIMIT:
        raise ReferenceRangeError(
            f"exp of a number of magnitude 2**{int(mpmath.mag(z))}: beyond the kernel references' "
            "range (symsmooth.verification.exact.EXP_MAG_LIMIT)"
        )
    return guarded_exp(z)


class _Cancellation:
    """The most bits any sum lost in the current evaluation (``inf``: a sum cancelled to 0).

    Two successive precisions can agree and both be wrong when a sum cancels below both of
    them: ``1/2 + erf(z)/2 + z phi(z)`` at ``z = -33`` rounds ``erf`` to -1 at 50, 100 and 200
    digits, so every result is ``z phi(z)`` (0.1% off).  Each sum of an elementwise reference
    therefore reports ``mag(largest term) - mag(sum)``, and :func:`_adaptive` raises the
    precision until the digits left after the worst loss cover the agreement test.
    """

    lost = 0.0

    def add(self, *terms):
        total = mpmath.fsum(terms)
        finite = [abs(t) for t in terms if mpmath.isfinite(t) and t != 0]
        if finite and mpmath.isfinite(total):
            top = mpmath.mag(max(finite))
            lost = float("inf") if total == 0 else min(float(top - mpmath.mag(total)), 1e12)
            self.lost = max(self.lost, lost)
        return total


_CANCELLATION = _Cancellation()
_TrackedAdd = sp.Function("_tracked_add")
_MODULES = [
    {**mpmath_module(), "exp": _exp, "_tracked_add": _CANCELLATION.add},
    "mpmath",
]


def _tracked(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sum as ``_tracked_add`` (bottom-up), so evaluation measures loss."""
    return expr.replace(lambda e: isinstance(e, sp.Add), lambda e: _TrackedAdd(*e.args))


def _compile(expr: sp.Expr, args) -> callable:
    return safe_lambdify(args, _tracked(naive(expr)), _MODULES)


OUT_OF_RANGE = 1100
"""Binary exponent beyond which a value lies outside every target format (float64 spans
``2**-1074`` to ``2**1024``, float32 ``2**-149`` to ``2**128``)."""


def _beyond_formats(a, b) -> bool:
    """Both finite, nonzero, of one sign and on the same side beyond ``2**+-OUT_OF_RANGE``.

    Their digits then cannot change an ulp error: below ``2**-1100`` a reference is under
    ``2**-26`` of the smallest subnormal (it moves the error by less than that many ulps),
    above ``2**1100`` every finite result misses by more than ``2**52`` ulps and an infinity
    of the same sign counts 0 (:mod:`symsmooth.verification.ulp`).  Such values are what a naive
    form returns for ``exp(exp(kx))``-like terms (``max_pair_double_exp`` at ``y = 10^4``): agreeing
    digits would need the precision of ``exp(10^4)``'s 14,000-bit exponent, 20 s an evaluation.
    """
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)) or a == 0 or b == 0:
        return False
    if (a > 0) != (b > 0):
        return False
    ma, mb = mpmath.mag(a), mpmath.mag(b)
    return (ma > OUT_OF_RANGE and mb > OUT_OF_RANGE) or (ma < -OUT_OF_RANGE and mb < -OUT_OF_RANGE)


ADAPTIVE = {"start": 50, "agree": 30, "limit": 1600}
"""Precision options of :func:`_adaptive` (digits): recorded in every cache entry."""


def _adaptive(fn, values, start: int = 50, agree: int = 30, limit: int = 1600):
    """``fn(*values)`` at increasing precision until two successive results agree.

    A result that is not real (``log(-1)``) is :data:`~symsmooth.verification.cache.NOT_REAL`.

    A result counts only when the digits left after the worst cancelling sum
    (:class:`_Cancellation`) exceed ``agree + 10``.  Agreement means equal infinities, both
    NaN, a relative difference below ``10**-agree``
    between *nonzero* results, or both results beyond the range of every format
    (:func:`_beyond_formats`): a cancelling naive form returns 0 (or a few digits) until the
    precision covers the cancellation, so zeros are never trusted before the precision
    ``limit``.
    """
    dps, previous = start, None
    while True:
        _CANCELLATION.lost = 0.0
        with mpmath.workdps(dps):
            try:
                current = mpmath.mpmathify(fn(*[mpmath.mpf(v) for v in values]))
            except (ZeroDivisionError, OverflowError, ValueError):
                return mpmath.nan  # undefined (0/0, x/0) or beyond mpmath's exponent range
        if isinstance(current, mpmath.mpc):  # log or sqrt of a negative number on the way
            if current.imag != 0:
                return NOT_REAL  # outside the real domain: a real kernel returns NaN there
            current = current.real
        left = dps - _CANCELLATION.lost * 0.30103  # decimal digits left after the worst sum
        if left < agree + 10 and dps < limit:
            # too few digits survived a cancelling sum: a result at this precision is not
            # comparable; go straight to a precision that covers the loss
            needed = dps * 2 if left < -limit else int(dps - left) + agree + 20
            previous, dps = None, min(limit, max(dps * 2, needed))
            continue
        if previous is not None:
            if mpmath.isnan(current) and mpmath.isnan(previous):
                return current
            if mpmath.isinf(current) and current == previous:
                return current
            if _beyond_formats(current, previous):
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


class _ExpMemo:
    """``exp`` for the row references, remembered per (argument, precision).

    A long row needs ``exp(k x_i)`` for 10^5 entries; the sums of one kernel share it
    (``sum e^{kx}`` and ``sum i e^{kx}``), and so do its value and gradient passes and the
    kernels measured in the same process on the same grid rows.  mpmath's result is a
    deterministic function of its argument and the working precision, so remembering it is exact.
    """

    def __init__(self, limit: int = 1 << 20):
        self.limit, self.table = limit, {}

    def __call__(self, z):
        if type(z) is not mpmath.mpf:
            return _exp(z)
        key = (z._mpf_, mpmath.mp.prec)
        hit = self.table.get(key)
        if hit is None:
            if len(self.table) >= self.limit:
                self.table.clear()
            hit = self.table[key] = _exp(z)
        return hit


_EXP = _ExpMemo()
_ROW_MODULES = [{**mpmath_module(), "exp": _EXP}, "mpmath"]


def _row_compile(expr: sp.Expr, args) -> callable:
    return safe_lambdify(args, naive(expr), _ROW_MODULES)


class _Row:
    """One row prepared once: its entries as ``mpf`` (exact: a double converts without
    rounding at any precision of 53 bits or more) and a digest identifying its values."""

    def __init__(self, arrays, key: str):
        self.n, self.key = int(arrays[0].size), key
        self.columns = [[mpmath.mpf(float(v)) for v in a] for a in arrays]

    @staticmethod
    def digest(arrays) -> str:
        shapes = repr([a.shape for a in arrays]).encode()
        return hashlib.sha256(shapes + b"".join(a.tobytes() for a in arrays)).hexdigest()

    def local(self, idx: int, params: tuple) -> list:
        return [c[idx] for c in self.columns] + [idx + 1] + list(params) + [self.n]


_ROWS: dict = {}
"""digest -> :class:`_Row`: the last rows prepared, shared by every :class:`RowReference`."""


class RowReference:
    """Exact value and gradient of a reduction in normal form (``plan``) at one row.

    ``row`` is a tuple of sequences (one per input vector); ``params`` the values of
    ``param_symbols``.

    The row-level sums (the totals ``S_k`` and, for row maps, the cotangent contractions
    ``sum_j g_j dF/dS_k``) are formed once per row at ``2 dps`` digits (or the working
    precision when it is higher) and reused by the value and by every gradient pass; only the
    per-position chain rule is repeated as the precision doubles.  Sums formed at a precision at
    least that of the pass keep the doubling test meaningful: the two passes still differ by
    the rounding of the final, cancelling combination.
    """

    def __init__(self, plan, param_symbols, params, dps: int = 50):
        self.plan, self.params, self.dps = plan, tuple(mpmath.mpf(p) for p in params), dps
        local = list(plan.elements) + [plan.position] + list(param_symbols) + [plan.size]
        self._local = local
        self.terms = [_row_compile(t.w * sp.exp(t.h), local) for t in plan.sums]
        self.inits = [_row_compile(t.init, local) for t in plan.sums]
        outer_args = list(plan.totals) + local
        self.outer = _row_compile(plan.outer, outer_args)
        self.douter = [_row_compile(sp.diff(plan.outer, s), outer_args) for s in plan.totals]
        self.dterms = [
            [_row_compile(sp.diff(t.w * sp.exp(t.h), el), local) for el in plan.elements]
            for t in plan.sums
        ]
        self.ddirect = [_row_compile(sp.diff(plan.outer, el), outer_args) for el in plan.elements]
        self._sums: dict = {}  # (digest, dps[, cotangent digest]) -> list of mpf

    def _prepare(self, row) -> _Row:
        if isinstance(row, _Row):
            return row
        arrays = [np.asarray(v, dtype=np.float64) for v in row]
        key = _Row.digest(arrays)
        kept = _ROWS.pop(key, None) or _Row(arrays, key)
        _ROWS[key] = kept  # most recent last; the grids repeat rows across kernels
        while len(_ROWS) > 8:
            _ROWS.pop(next(iter(_ROWS)))
        return kept

    def _sum_dps(self, dps: int) -> int:
        return max(dps, 2 * self.dps)

    def _blank(self, n):
        return [mpmath.mpf(0)] * len(self.plan.elements) + [0] + list(self.params) + [n]

    def _remember(self, key, compute):
        if key not in self._sums:
            if len(self._sums) > 256:
                self._sums.clear()
            self._sums[key] = compute()
        return self._sums[key]

    def totals(self, row, dps: int | None = None) -> list:
        """``[S_0, S_1, ...]`` at ``row``, at :meth:`_sum_dps` digits."""
        prepared = self._prepare(row)
        dps = self._sum_dps(self.dps if dps is None else dps)

        def compute():
            with mpmath.workdps(dps):
                parts = [[] for _ in self.terms]
                for idx in range(prepared.n):
                    local = prepared.local(idx, self.params)
                    for part, term in zip(parts, self.terms, strict=True):
                        part.append(term(*local))
                blank = self._blank(prepared.n)
                return [
                    init(*blank) + mpmath.fsum(part)
                    for init, part in zip(self.inits, parts, strict=True)
                ]

        return self._remember((prepared.key, dps), compute)

    def value(self, row) -> list:
        """One reference for a scalar reduction, ``n`` of them for a row map (evaluated at the
        precision of the sums)."""
        prepared = self._prepare(row)
        n, dps = prepared.n, self._sum_dps(self.dps)
        totals = self.totals(prepared)
        with mpmath.workdps(dps):
            if not self.plan.rowmap:
                return [mpmath.mpmathify(self.outer(*totals, *self._blank(n)))]
            return [
                mpmath.mpmathify(self.outer(*totals, *prepared.local(idx, self.params)))
                for idx in range(n)
            ]

    def gradient(self, row, which: int = 0, cotangent=None, indices=None) -> list:
        """d value / d row[which] (scalar reductions) or its VJP with ``cotangent`` (row maps),
        at the positions ``indices`` (default: all).

        The chain rule cancels at a dominant element (soft argmax: ``m - sum_i i p_i`` with
        ``p_m ~ 1``), so the precision doubles from ``dps`` until two results agree to 30
        digits in every entry (up to 1600 digits), as :func:`_adaptive` does elementwise."""
        prepared = self._prepare(row)
        dps, previous = self.dps, None
        while True:
            current = self._gradient_at(prepared, which, cotangent, indices, dps)
            if previous is not None and all(
                _agree(a, b) for a, b in zip(current, previous, strict=False)
            ):
                return current
            if dps >= 1600:
                return current
            previous, dps = current, dps * 2

    def _adjoint(self, prepared: _Row, totals, cotangent, dps: int) -> list:
        """``[dF/dS_k]`` (scalar reductions) or ``[sum_j g_j dF/dS_k(x_j)]`` (row maps)."""
        n = prepared.n
        if not self.plan.rowmap:
            with mpmath.workdps(dps):
                return [d(*totals, *self._blank(n)) for d in self.douter]
        cot = np.asarray(cotangent, dtype=np.float64)
        key = (prepared.key, self._sum_dps(dps), hashlib.sha256(cot.tobytes()).hexdigest())

        def compute():
            with mpmath.workdps(key[1]):
                g = [mpmath.mpf(float(c)) for c in cot]
                locals_ = [prepared.local(j, self.params) for j in range(n)]
                return [
                    mpmath.fsum(g[j] * d(*totals, *locals_[j]) for j in range(n))
                    for d in self.douter
                ]

        return self._remember(key, compute)

    def _gradient_at(self, prepared: _Row, which, cotangent, indices, dps) -> list:
        n = prepared.n
        totals = self.totals(prepared, dps)
        adj = self._adjoint(prepared, totals, cotangent, dps)
        with mpmath.workdps(dps):
            out = []
            for idx in range(n) if indices is None else indices:
                local = prepared.local(idx, self.params)
                acc = mpmath.fsum(
                    adj[k] * self.dterms[k][which](*local) for k in range(len(self.terms))
                )
                if self.plan.rowmap:
                    acc += mpmath.mpf(float(cotangent[idx])) * self.ddirect[which](*totals, *local)
                out.append(mpmath.mpmathify(acc))
            return out
