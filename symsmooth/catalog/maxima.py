"""Smooth maxima: article 1 (the |x| and max chain) and the max family of article 2.

Every builder returns a :class:`~symsmooth.records.Smoothing` in exact exp/log form (the
code generator stabilizes later).  Sources:

* [A1] Su Jianlin, "寻求一个光滑的最大值函数" (seeking a smooth max), 2015,
  https://kexue.fm/archives/3290, equation numbers as in the post.
* [A2] Su Jianlin, "函数光滑化杂谈：不可导函数的可导逼近", 2019, https://kexue.fm/archives/6620.
* [L] Su Jianlin, "logsumexp 运算的几个不等式", 2022, https://kexue.fm/archives/9070
  (max < LSE <= max + log n).

Examples
--------
>>> from symsmooth.catalog.maxima import max_pair_logsumexp
>>> max_pair_logsumexp().bound
log(2)/k
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symsmooth.catalog import entry
from symsmooth.functions.targets import MaxOver, MinOver
from symsmooth.records import Smoothing
from symsmooth.symbols import X, i, k, n, x, y

A1 = "Su Jianlin, 寻求一个光滑的最大值函数 (2015), https://kexue.fm/archives/3290"
A2 = "Su Jianlin, 函数光滑化杂谈 (2019), https://kexue.fm/archives/6620"

k_odd = sp.Symbol("k", integer=True, positive=True)
"""The integer exponent parameter of eq (13): the power is ``2k + 1``."""


def _nonnegative(point) -> bool:
    return point[x] >= 0 and point[y] >= 0


def _some_nonnegative(point) -> bool:
    return max(point[x], point[y]) >= 0


@entry("smooth_abs_logistic")
def smooth_abs_logistic() -> Smoothing:
    r"""Smooth ``|x|`` by integrating the sigmoid approximation of ``sign`` [A1, eq (6)].

    .. math:: f_k(x) = \frac{1}{k}\log\left(2 + e^{kx} + e^{-kx}\right)
              = \frac{2}{k}\log(2\cosh(kx/2)) = |x| + \frac{2}{k}\log(1 + e^{-k|x|})

    The last two forms are derived (catalog M1); the function is exactly ``|x|`` convolved
    with the logistic density of scale ``1/k``.  Error: ``0 < f_k - |x| <= 2 log(2)/k``,
    one-signed, attained at ``x = 0``.

    Examples
    --------
    >>> from symsmooth.symbols import x, k
    >>> r = smooth_abs_logistic()
    >>> print(sp.N(r.expr.subs({x: 0, k: 10}), 15), sp.N(2 * sp.log(2) / 10, 15))
    0.138629436111989 0.138629436111989
    >>> print(sp.N((r.expr - r.target).subs({x: 3, k: 10}), 6))
    1.87152e-14
    """
    return Smoothing(
        name="smooth_abs_logistic",
        target=sp.Abs(x),
        expr=sp.log(2 + sp.exp(k * x) + sp.exp(-k * x)) / k,
        variables=(x,),
        param=k,
        limit=sp.oo,
        bound=2 * sp.log(2) / k,
        source=f"{A1}, eq (6)",
        domain="all real x; error one-signed in (0, 2 log(2)/k]",
        attained=({x: 0},),
        description="smooth |x| = |x| convolved with the logistic density (article 1, eq 6)",
    )


@entry("smooth_abs_log2cosh")
def smooth_abs_log2cosh() -> Smoothing:
    r"""Smooth ``|x|`` by ``(1/k) log(e^{kx} + e^{-kx}) = (1/k) log(2 cosh kx)`` [A1, eq (7)].

    Exact error (catalog M2): ``f_k(x) = |x| + (1/k) log(1 + e^{-2k|x|})``, so
    ``0 < f_k - |x| <= log(2)/k``, attained at ``x = 0``.

    Examples
    --------
    >>> from symsmooth.symbols import x, k
    >>> r = smooth_abs_log2cosh()
    >>> abs(sp.N(r.expr.subs({x: 0, k: 4}) - r.bound.subs(k, 4), 50)) < 1e-45
    True
    >>> print(sp.N(r.expr.subs({x: -1, k: 4}), 12))
    1.00008385159
    """
    return Smoothing(
        name="smooth_abs_log2cosh",
        target=sp.Abs(x),
        expr=sp.log(sp.exp(k * x) + sp.exp(-k * x)) / k,
        variables=(x,),
        param=k,
        limit=sp.oo,
        bound=sp.log(2) / k,
        source=f"{A1}, eq (7)",
        domain="all real x; error one-signed in (0, log(2)/k]",
        attained=({x: 0},),
        description="smooth |x| = (1/k) log(2 cosh(kx)) (article 1, eq 7)",
    )


@entry("max_abs_pair_logsumexp")
def max_abs_pair_logsumexp() -> Smoothing:
    r"""The post's "max" of eq (9): ``(1/2k) log(e^{2kx} + e^{-2kx} + e^{2ky} + e^{-2ky})``.

    [A1, eqs (8)-(9)] derive it from ``max(x, y) = (|x+y| + |x-y|)/2``, an identity that
    holds only for ``x, y >= 0``; for all reals that expression is ``max(|x|, |y|)``, and so
    is the limit of eq (9).  The record is honest: its target is ``Max(|x|, |y|)``, valid
    everywhere; it equals ``max(x, y)`` only on the quadrant ``x, y >= 0``.  (8) and (9) are
    equal at every finite ``k`` (catalog M3).

    Bound [derived]: eq (9) is a log-sum-exp of four terms whose largest exponent is
    ``2k max(|x|, |y|)``, so ``0 < f_k - max(|x|, |y|) <= log(4)/(2k) = log(2)/k``, attained
    at the four-way tie ``x = y = 0``.

    Examples
    --------
    >>> from symsmooth.symbols import x, y, k
    >>> r = max_abs_pair_logsumexp()
    >>> print(sp.N(r.expr.subs({x: -3, y: 1, k: 20}), 15))
    3.00000000000000
    >>> abs(sp.N(r.expr.subs({x: 0, y: 0, k: 20}) - r.bound.subs(k, 20), 50)) < 1e-45
    True
    """
    return Smoothing(
        name="max_abs_pair_logsumexp",
        target=sp.Max(sp.Abs(x), sp.Abs(y)),
        expr=sp.log(sp.exp(2 * k * x) + sp.exp(-2 * k * x) + sp.exp(2 * k * y) + sp.exp(-2 * k * y))
        / (2 * k),
        variables=(x, y),
        param=k,
        limit=sp.oo,
        bound=sp.log(2) / k,
        source=f"{A1}, eqs (8)-(9)",
        domain=(
            "all real x, y, where the limit is max(|x|, |y|); this equals max(x, y) only for "
            "x, y >= 0 (e.g. (-3, 1) -> 3, not 1)"
        ),
        attained=({x: 0, y: 0},),
        description="eq (9): smooth max(|x|, |y|), the post's max for x, y >= 0",
    )


@entry("max_pair_logsumexp")
def max_pair_logsumexp() -> Smoothing:
    r"""Two-argument log-sum-exp max ``(1/k) log(e^{kx} + e^{ky})`` [A1, eq (11)].

    Exact error (catalog M4): ``f_k = max(x, y) + (1/k) log(1 + e^{-k|x-y|})``, so
    ``0 < f_k - max(x, y) <= log(2)/k`` with equality exactly on the tie ``x = y``.

    Examples
    --------
    >>> from symsmooth.symbols import x, y, k
    >>> r = max_pair_logsumexp()
    >>> err = (r.expr - r.target).subs({x: 2, y: 2, k: 10})
    >>> abs(sp.N(err - sp.log(2) / 10, 50)) < 1e-45
    True
    >>> print(sp.N((r.expr - r.target).subs({x: 2, y: 1, k: 3}), 6))
    0.0161958
    """
    return Smoothing(
        name="max_pair_logsumexp",
        target=sp.Max(x, y),
        expr=sp.log(sp.exp(k * x) + sp.exp(k * y)) / k,
        variables=(x, y),
        param=k,
        limit=sp.oo,
        bound=sp.log(2) / k,
        source=f"{A1}, eq (11)",
        domain="all real x, y; error one-signed in (0, log(2)/k], maximal on the tie x = y",
        attained=({x: 0, y: 0}, {x: 2, y: 2}, {x: -7.5, y: -7.5}),
        description="smooth max(x, y) = (1/k) log(e^{kx} + e^{ky}) (article 1, eq 11)",
    )


def _lse(sign: int) -> sp.Expr:
    return sp.log(sp.Sum(sp.exp(sign * k * X[i]), (i, 1, n))) / k


_TIES = (
    {n: 1, X: [0.5]},
    {n: 2, X: [3, 3]},
    {n: 3, X: [-1, -1, -1]},
    {n: 5, X: [2.25] * 5},
    {n: 8, X: [0] * 8},
)


@entry("logsumexp_max")
def logsumexp_max() -> Smoothing:
    r"""n-ary smooth max ``(1/k) log sum_i e^{k x_i}`` [A1, eq (12); A2, item 1].

    Bound [L, verified M5/M6]: ``max(x) < f_k(x) <= max(x) + log(n)/k``, with equality at an
    n-way tie (for ``n = 1`` the error is exactly 0).  Its gradient is ``softmax(kx)``.

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = logsumexp_max()
    >>> v = evaluate(r.expr, {n: 3, X: [1, 1, 1], k: 10}, dps=30)
    >>> import mpmath
    >>> print(mpmath.nstr(v, 25), sp.N(1 + sp.log(3) / 10, 25))
    1.109861228866810969139525 1.109861228866810969139525
    >>> print(mpmath.nstr(evaluate(r.expr, {n: 5, X: [2, 1, 4, 5, 3], k: 1}), 15))
    5.45191439593759
    """
    return Smoothing(
        name="logsumexp_max",
        target=MaxOver(X[i], (i, 1, n)),
        expr=_lse(1),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=sp.log(n) / k,
        source=f"{A1}, eq (12); {A2}, item 1; bound: https://kexue.fm/archives/9070",
        domain="all real vectors; error one-signed in (0, log(n)/k] (0 when n = 1)",
        kind="reduction",
        size=n,
        index=i,
        attained=_TIES,
        description="log-sum-exp smooth max of n entries",
    )


@entry("logsumexp_min")
def logsumexp_min() -> Smoothing:
    r"""n-ary smooth min ``-(1/k) log sum_i e^{-k x_i}``, i.e. ``min(x) = -max(-x)`` [A1, eq (12)].

    Bound (from :func:`logsumexp_max` applied to ``-x``): ``min(x) - log(n)/k <= f_k(x) <
    min(x)``, with equality at an n-way tie.  This is the smoothed min of K-Means (article 5)
    and IMLE (article 6) with ``k = M`` or ``1/(2 sigma^2)``.

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = logsumexp_min()
    >>> v = evaluate(r.expr, {n: 2, X: [4, 4], k: 2}, dps=30)
    >>> import mpmath
    >>> print(mpmath.nstr(v, 25), sp.N(4 - sp.log(2) / 2, 25))
    3.653426409720027345291384 3.653426409720027345291384
    """
    return Smoothing(
        name="logsumexp_min",
        target=MinOver(X[i], (i, 1, n)),
        expr=-_lse(-1),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=sp.log(n) / k,
        source=f"{A1}, eq (12) applied to -x (min = -max(-x))",
        domain="all real vectors; error one-signed in [-log(n)/k, 0) (0 when n = 1)",
        kind="reduction",
        size=n,
        index=i,
        attained=_TIES,
        description="log-sum-exp smooth min of n entries",
    )


def _odd_power_samples(rng, count: int) -> list[dict]:
    """Mostly the valid quadrant x, y >= 0 (ties, zeros, ratios near 1), plus invalid points."""
    fixed = [(0, 0), (1, 0), (0, 2.5), (2, 2), (2, 1), (0.5, 0.4), (10, 9), (1, -2), (-1, -3)]
    points = [{x: a, y: b, k_odd: int(rng.integers(1, 30))} for a, b in fixed]
    while len(points) < count:
        a, b = rng.uniform(0, 5, size=2) * 10.0 ** rng.integers(-2, 3)
        if rng.random() < 0.15:
            a, b = -a, b
        points.append({x: float(a), y: float(b), k_odd: int(rng.integers(1, 30))})
    return points[:count]


@entry("max_pair_odd_power")
def max_pair_odd_power() -> Smoothing:
    r"""Odd-power smooth max ``(x^{2k+1} + y^{2k+1})^{1/(2k+1)}`` [A1, eq (13)], integer ``k``.

    The real odd root is meant (``sp.real_root``).  **Valid only for x, y >= 0** [derived]:
    in general the limit is the signed entry of largest absolute value, e.g. ``(1, -2) ->
    -2``, ``(-1, -3) -> -3`` (the min) and ``(1, -1) -> 0`` for every ``k``.  No ``k``-only
    bound exists: the error depends on ``y/x`` and scales with ``|x|`` (for ``x > y > 0`` it
    is about ``(y/x)^{2k} y/(2k+1)``); the post's claim that it is "far less precise than
    (11)" is scale dependent (x=2, y=1, k=3: 2.22e-3 here vs 1.62e-2 for eq 11).

    Examples
    --------
    >>> from symsmooth.symbols import x, y
    >>> r = max_pair_odd_power()
    >>> print(sp.N(r.expr.subs({x: 2, y: 1, k_odd: 3}) - 2, 6))
    0.00222471
    >>> r.expr.subs({x: 1, y: -1, k_odd: 7})
    0
    """
    return Smoothing(
        name="max_pair_odd_power",
        target=sp.Max(x, y),
        expr=sp.real_root(x ** (2 * k_odd + 1) + y ** (2 * k_odd + 1), 2 * k_odd + 1),
        variables=(x, y),
        param=k_odd,
        limit=sp.oo,
        bound=None,
        source=f"{A1}, eq (13)",
        domain=(
            "k a nonnegative integer (2k + 1 odd; the kernel returns NaN for any other k, "
            "e.g. k = 0.37: x^(1.74) of a negative x is not real); "
            "x, y >= 0 only. Outside, the limit is the entry of largest |.| with its sign: "
            "(1, -2) -> -2, (-1, -3) -> -3, (1, -1) -> 0 for every k. No bound: the error is "
            "scale dependent (depends on y/x and |x|)"
        ),
        samples=_odd_power_samples,
        valid=_nonnegative,
        description="odd-power smooth max, k a positive integer (article 1, eq 13)",
    )


def _double_exp_samples(rng, count: int) -> list[dict]:
    """Points with |k x|, |k y| <= 60, so that e^{e^{kx}} stays within mpmath's range.

    The first points are the limit probes: |x|, |y| <= 2.5e-3, so that k up to 1e6 keeps
    e^{kx} <= e^{2500}.  The family is scale-covariant, ``f_k(c x, c y) = c f_{kc}(x, y)``,
    so small inputs at large ``k`` probe the same function as large inputs at small ``k``.
    """
    probes = [(0, 0), (1, 1), (2, -1), (1, -2.5), (0, -2), (2.5, 1), (-1, 2), (1, 2.5), (0, 1)]
    points = [{x: a * 1e-3, y: b * 1e-3, k: 1.0} for a, b in probes]
    specials = [(0, 0), (0, -1), (1, 1), (1, -3), (-1, -3), (-2, -2), (0.5, 0.25), (3, 3)]
    params = (0.5, 1, 3, 10, 40)
    points += [{x: a / kv, y: b / kv, k: kv} for kv in params for a, b in specials]
    while len(points) < count:
        kv = float(params[int(rng.integers(len(params)))])
        a, b = rng.uniform(-1, 1, size=2) * 10.0 ** rng.uniform(-3, np.log10(60))
        points.append({x: float(a / kv), y: float(b / kv), k: kv})
    return points[:count]


@entry("max_pair_double_exp")
def max_pair_double_exp() -> Smoothing:
    r"""Double-exponential smooth max ``(1/k) log log(e^{e^{kx}} + e^{e^{ky}})`` [A1, eq (14)].

    **Valid only when max(x, y) >= 0** [derived]: the limit is ``max(x, y, 0)``.  For
    ``x, y < 0`` the outer log's argument tends to 2 and the value is about
    ``(1/k) log log 2 -> 0`` (k = 40 at (-1, -3): -0.009163).

    Bound [derived]: for ``x = max >= 0``, ``f_k - x = (1/k) log(1 + e^{-kx}
    log(1 + e^{e^{ky} - e^{kx}}))``, increasing in ``y <= x`` and decreasing in ``x``, so
    ``0 < f_k - max(x, y) <= log(1 + log 2)/k``, attained at ``x = y = 0``.  Away from the
    tie the error is doubly-exponentially small.

    Examples
    --------
    >>> from symsmooth.symbols import x, y, k
    >>> r = max_pair_double_exp()
    >>> print(sp.N(r.expr.subs({x: -1, y: -3, k: 40}), 6))
    -0.00916282
    >>> abs(sp.N(r.expr.subs({x: 0, y: 0, k: 5}) - r.bound.subs(k, 5), 50)) < 1e-45
    True
    """
    return Smoothing(
        name="max_pair_double_exp",
        target=sp.Max(x, y),
        expr=sp.log(sp.log(sp.exp(sp.exp(k * x)) + sp.exp(sp.exp(k * y)))) / k,
        variables=(x, y),
        param=k,
        limit=sp.oo,
        bound=sp.log(1 + sp.log(2)) / k,
        source=f"{A1}, eq (14)",
        domain=(
            "max(x, y) >= 0 only; the limit is max(x, y, 0). For x, y < 0 the value is "
            "about (1/k) log log 2 -> 0 (k = 40, (-1, -3): -0.009163), not max(x, y)"
        ),
        attained=({x: 0, y: 0},),
        samples=_double_exp_samples,
        valid=_some_nonnegative,
        description="double-exponential smooth max (article 1, eq 14)",
    )
