r"""Stable scalar helpers without error-free transformations (``math.*`` only).

Each stable primitive of :mod:`symsmooth.functions` prints as a call to a small scalar function
(``_softplus(z)``, ``_wexp(h, m)``, ...).  These are real, importable functions; the code
generator (:mod:`symsmooth.codegen.helpers`) copies the source of each one a kernel needs into
the generated module verbatim, so the module imports with only NumPy and Numba installed and the
same text compiles under ``@njit`` and ``@cuda.jit(device=True)``.  Hence the rules for every
def in :mod:`symsmooth.runtime`: ``math.*``, ``abs``/``max``/``min``/``int``/``range`` and
other runtime helpers only; no imports from :mod:`symsmooth`.

All helpers compute in float64: float32 kernels up-cast their inputs, so only float64 regime
thresholds are needed (a float32 result is the float64 result rounded once, which keeps it within
1 ulp of float32).  Each threshold carries a comment citing where it comes from.

* ``_softplus``, ``_log_sigmoid``, ``_log1mexp``: the regimes of Maechler (2012).
* ``_wexp``, ``_fin``: the weights ``exp(h - m)`` and the compensated sums of the reductions.
* ``_logcosh``: ``log(cosh z)`` without overflow or cancellation (a fit for ``|z| <= 1``).
* ``_relu_gauss``: ``t Phi(t) + phi(t)`` to a few ulps (Laplace continued fraction and a fit).

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package", 2012
(log1pexp thresholds -37, 18, 33.3; log1mexp switch at -log 2).
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 26.2.14 (Laplace
continued fraction of the Mills ratio), 4.5.24 (cosh - 1).

Examples
--------
>>> _softplus(1000.0), _softplus(-1000.0)
(1000.0, 0.0)
>>> _wexp(-math.inf, -math.inf), _wexp(math.inf, math.inf)
(0.0, 1.0)
>>> _logcosh(1e-10), _logcosh(1000.0)
(5.0000000000000005e-21, 999.3068528194401)
>>> print(f"{_relu_gauss(-30.0):.15e}")
1.631956734091401e-199
"""

from __future__ import annotations

import math


def _softplus(z):
    """log(1 + exp(z)) without overflow (Maechler 2012, eq. (10))."""
    # float64 thresholds from Maechler 2012, sec. 3 ("log1pexp"):
    # z <= -37: log1p(exp(z)) == exp(z) to double precision (exp(z) < 2**-53 relative term);
    # z > 33.3: z + exp(-z) == z in double precision.
    if z <= -37.0:
        return math.exp(z)
    if z <= 18.0:
        return math.log1p(math.exp(z))
    if z <= 33.3:
        return z + math.exp(-z)
    return z


def _log_sigmoid(z):
    """log(sigmoid(z)) = -softplus(-z)."""
    return -_softplus(-z)


def _log1mexp(z):
    """log(1 - exp(z)) for z <= 0 (Maechler 2012, eq. (7))."""
    # switch at -log(2) = -0.6931471805599453 (Maechler 2012, sec. 2): below it exp(z) <= 1/2 and
    # log1p(-exp(z)) is accurate; above it expm1 keeps the digits of 1 - exp(z).
    if z > -0.6931471805599453:
        return math.log(-math.expm1(z))
    return math.log1p(-math.exp(z))


def _wexp(h, m):
    """exp(h - m), with the difference taken exactly (TwoSum: exp(d + lo) = exp(d)(1 + lo)), so
    the weight is within ~0.5 ulp even when |h - m| is large.  Edge semantics of every reduction:
    exp(-inf - -inf) = 0 (an entry at -inf has no weight), exp(inf - inf) = 1 (+inf entries
    share the mass), NaN stays NaN."""
    d = h - m
    if d == d:
        if d < -746.0:  # exp(d) < 2**-1075 rounds to 0 (log(2**-1074) = -744.44); also -inf
            return 0.0
        bp = d - h
        lo = (h - (d - bp)) + (-m - bp)
        return math.exp(d) * (1.0 + lo)
    if h == m:
        return 0.0 if h < 0.0 else 1.0
    return d


def _fin(s, c):
    """The compensated sum s + c; when an infinite term made the compensation NaN, s."""
    if c - c == 0.0:
        return s + c
    return s


def _fin_lo(s, c):
    """The low part of the compensated sum s + c after rounding it (_fin): s + c - _fin(s, c),
    exact (Fast2Sum, |s| >= |c|); 0 when s or c is not finite."""
    if c - c == 0.0 and s - s == 0.0:
        return c - ((s + c) - s)
    return 0.0


def _logdd(a, s, lo):
    """a + log(s + lo) of a double-double s + lo (a compensated sum, |lo| <= ulp(s)/2).

    s = c (1 + f) with c = 2**e and 1 + f in [sqrt(1/2), sqrt(2)) (the argument reduction of
    Tang's and glibc's log): s - c is exact (Sterbenz), so f = ((s - c) + lo)/c keeps the
    digits of a sum near 1 that log(s) loses (log(1 + 1e-20) = 1e-20, not 0).  The result is
    (a + e ln2_hi) + (e ln2_lo + log1p(f)): ln2_hi has 32 bits, so e ln2_hi is exact and
    cancels exactly against a shift a = -e ln 2 (a tie of two maxima).  This is log-sum-exp's
    finish M + log(c) + log1p(r/c) over the terms below the maximum (SciPy's logsumexp takes
    log1p over the non-maximal terms).  Zero, negative, inf and NaN s give a + log(s)."""
    if s > 0.0 and s < math.inf:
        m, e = math.frexp(s)
        if m < 0.7071067811865476:  # sqrt(1/2): 1 + f = 2 m in [1, sqrt 2)
            e = e - 1
        c = math.ldexp(1.0, e)
        f = ((s - c) + lo) / c
        return (a + e * 0.6931471803691238) + (e * 1.9082149292705877e-10 + math.log1p(f))
    if s == 0.0:
        return a - math.inf
    return a + math.log(s)


def _logcosh(z):
    """log(cosh z) without overflow or cancellation."""
    a = abs(z)
    if a <= 1.0:
        # a^2/2 + a^4 P(a^2), P a degree-14 fit on [0, 1] (Chebyshev nodes, mpmath); a^2 exact
        # (Dekker TwoProduct, split by 2**27 + 1): 0.77 ulp measured on [1e-8, 1]
        p = a * a
        c = 134217729.0 * a
        ah = c - (c - a)
        al = a - ah
        e = ((ah * ah - p) + 2.0 * ah * al) + al * al
        q = -2.6892003290732618e-09
        for coef in (
            2.7318429155369385e-08,
            -1.4081083577922122e-07,
            5.124147653921175e-07,
            -1.5541515744780364e-06,
            4.3548719737005194e-06,
            -1.1933792318657676e-05,
            3.27718785684998e-05,
            -9.098791431197687e-05,
            0.00025658029407100796,
            -0.0007386029311758631,
            0.002186948851716268,
            -0.006746031745967792,
            0.02222222222222137,
            -0.08333333333333333,
        ):
            q = q * p + coef
        return 0.5 * p + (0.5 * e + p * p * q)
    if a > 40.0:  # log1p(exp(-2a)) < 2**-115 a: below half an ulp of a - log 2 (a > 1)
        return (a - 0.6931471805599453) - 2.3190468138462996e-17
    # a - log 2 in two parts: 0.6931471805599453 + 2.3190468138462996e-17 = log 2 to ~1e-33
    return (a - 0.6931471805599453) + (math.log1p(math.exp(-2.0 * a)) - 2.3190468138462996e-17)


def _relu_gauss(t):
    """t Phi(t) + phi(t) to a few ulps for every t: phi(t)/D(a) with a = -t, D = 1/(1 - a R(a))."""
    if t != t:
        return t
    if t >= 0.0:  # both terms positive: no cancellation
        if t > 1e154:  # t Phi(t) = t; phi(t) = 0
            return t
        return (
            t * 0.5 * math.erfc(-t * 0.7071067811865476)
            + math.exp(-0.5 * t * t) * 0.3989422804014327
        )
    a = -t
    if a > 40.0:  # phi(a)/a^2 < 2**-1074 (a > 37.5): rounds to 0
        return 0.0
    # a^2 = p + e exactly (Dekker TwoProduct, split by 2**27 + 1)
    p = a * a
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    e = ((ah * ah - p) + 2.0 * ah * al) + al * al
    if a > 1.5:
        # Laplace continued fraction (A&S 26.2.14) R = 1/(a + 1/(a + r)), r = 2/(a + 3/(a + ...))
        # run backward; then D = 1/(1 - a R) = 1 + a (a + r) = 1 + p + e + a r, whose only
        # rounded part a r is at most 2/(a^2 + 3) of D.  500/a^2 + 10 terms reach 2**-56 for
        # a >= 1.5 (checked against mpmath)
        k = int(500.0 / p) + 10
        r = 0.0
        while k > 1:
            r = k / (a + r)
            k -= 1
        ar = a * r
        s = p + ar  # Knuth TwoSum (either order), then 1 + s with |s| >= 1 (Fast2Sum)
        bp = s - p
        s_err = (p - (s - bp)) + (ar - bp)
        d = s + 1.0
        d_err = ((s - d) + 1.0) + (s_err + e)
    else:
        # D = 1 + sqrt(pi/2) a + (pi/2 - 1) a^2 + ... on [0, 1.5] (Chebyshev-node fit, degree
        # 22, mpmath at 60 digits); the last two Horner steps in double-double
        q = -1.0316153106463215e-14
        for coef in (
            1.6380949585310622e-13,
            -9.768420500601264e-13,
            1.0111338881176908e-12,
            2.1800706173237565e-11,
            -1.479327499040004e-10,
            3.460209698059915e-10,
            7.560663853965783e-10,
            -7.426546417498745e-09,
            1.2403039640674545e-08,
            7.798358721272155e-08,
            -4.669399034490417e-07,
            3.173353470325235e-07,
            6.614802718491095e-06,
            -2.767536481559588e-05,
            -2.0713295245580825e-05,
            0.0005721012077148337,
            -0.0015746430540095771,
            -0.007524886650786822,
            0.08873003724205208,
            0.5707963267948967,
        ):
            q = q * a + coef
        inner = 1.2533141373155003 + a * q
        m = a * inner
        c = 134217729.0 * inner
        ih = c - (c - inner)
        il = inner - ih
        m_err = ((ah * ih - m) + ah * il + al * ih) + al * il
        d = 1.0 + m
        d_err = ((1.0 - d) + m) + m_err
    # phi(a)/D = exp(-p/2) (1 - e/2) / sqrt(2 pi) / (d + d_err) with one final rounding:
    # 1/sqrt(2 pi) = 0.3989422804014327 - 2.49232720227773e-17 (double-double); the product
    # exp(-p/2) * 0.3989422804014327 is split exactly (Dekker), the quotient's remainder is
    # formed exactly and every small term joins it before the last division.
    big = math.exp(-0.5 * p)
    num = big * 0.3989422804014327
    c = 134217729.0 * big
    bh = c - (c - big)
    bl = big - bh
    # 0.3989422804014327 = 0.3989422768354416 + 3.5659911135077493e-09 (Dekker split)
    num_err = (
        ((bh * 0.3989422768354416 - num) + bh * 3.5659911135077493e-09 + bl * 0.3989422768354416)
        + bl * 3.5659911135077493e-09
    ) + (big * (-2.49232720227773e-17 - 0.3989422804014327 * (0.5 * e)))
    quot = num / d
    c = 134217729.0 * quot
    qh = c - (c - quot)
    ql = quot - qh
    c = 134217729.0 * d
    dh = c - (c - d)
    dl = d - dh
    prod = quot * d
    prod_err = ((qh * dh - prod) + qh * dl + ql * dh) + ql * dl
    rem = ((num - prod) - prod_err) + num_err - quot * d_err
    return quot + rem / d


def _loglse_exp_tail(m, d):
    """log1p(e^-m log1p(exp(e^(m + d) - e^m))) for m > 0, d <= 0: the part of
    log(log(e^(e^u) + e^(e^v))) above m = max(u, v), d = min - max, with e^(m + d) - e^m =
    -exp(m + log(-expm1(d))) (no e^m is formed: it overflows once m > 709.78)."""
    if d == 0.0:
        t = 0.6931471805599453  # log1p(exp(0)) = log 2
    else:
        g = m + math.log(-math.expm1(d))  # log(e^m - e^(m + d))
        t = 0.0 if g > 7.0 else math.log1p(math.exp(-math.exp(g)))  # exp(-e^7) < 2**-1580
    return math.log1p(math.exp(-m) * t)


def _loglse_exp(u, v):
    """log(log(exp(exp(u)) + exp(exp(v)))) in log space (max_pair_double_exp).

    For m = max(u, v) > 0 it is m + log1p(e^-m log1p(exp(e^v - e^u))) (u the max), so nothing
    overflows while the result (about m) is finite; for m <= 0 both e^u, e^v <= 1 and the
    shifted log-sum-exp of them is safe.  NaN propagates."""
    if u != u or v != v:
        return u + v
    m = max(u, v)
    d = min(u, v) - m
    if m <= 0.0:
        a = math.exp(m)
        return math.log(a + math.log1p(math.exp(math.exp(m + d) - a)))
    if m == math.inf:
        return m
    return m + _loglse_exp_tail(m, d)


def _dloglse_exp(u, v):
    """d/du _loglse_exp(u, v) = exp(u - F) sigmoid(e^u - e^v), F = _loglse_exp(u, v), with
    u - F = (u - m) - tail (exact 0 + tail at the maximum) and e^u - e^v = +-exp(m + log(-expm1(d)))
    (no inf - inf at u = v > 709.78)."""
    if u != u or v != v:
        return u + v
    m = max(u, v)
    d = min(u, v) - m
    if m <= 0.0:
        a = u - _loglse_exp(u, v)
        z = math.exp(u) - math.exp(v)
    elif m == math.inf:
        return 0.5 if u == v else (1.0 if u > v else 0.0)
    else:
        a = (u - m) - _loglse_exp_tail(m, d)
        g = -math.inf if d == 0.0 else m + math.log(-math.expm1(d))  # log |e^u - e^v|
        if g > 7.0:  # |e^u - e^v| > e^7: the sigmoid is 1 or below 2**-1580
            return math.exp(a) if u > v else 0.0
        z = math.exp(g) if u >= v else -math.exp(g)
        return math.exp(a) / (1.0 + math.exp(-z))
    return math.exp(a) / (1.0 + math.exp(-z))
