"""Scalar helpers of the parameter gradients: Euler gaps ``F(z) - z F'(z)`` without cancellation.

A smoothing ``F(k x)/k`` has the sharpness derivative ``-(F(z) - z F'(z))/k**2`` at ``z = k x``,
and one ``s F(x/s)`` the width derivative ``F(t) - t F'(t)`` at ``t = x/s``.  Written as the
difference, both terms grow like ``|z|`` while the gap stays bounded (softplus: ``z sigmoid(z)
- softplus(z)`` loses every digit for ``z > 37``).  The helpers here evaluate each gap as a sum
of terms of one sign:

* ``softplus``: the gap is the binary entropy of ``sigmoid(z)``,
  ``softplus(-|z|) + |z| sigmoid(-|z|)`` (two positive terms);
* ``logcosh``: ``logcosh(z) - z tanh(z) = H(sigmoid(2 z)) - log 2``, and ``-z**2/2 + z**4/4 - ...``
  (its Taylor series) for ``|z| < 1/16`` where ``log 2 - H`` cancels;
* ``logsumexp``: the entropy of ``softmax(z)``, ``log s + sum_i e_i (M - z_i)/s`` (positive terms);
* ``relu_gauss``: the density ``phi(t)`` (``_phi2``, the square of the argument exact);
* ``loglse_exp`` (max_pair_double_exp): ``log1p(r) + (a r + s (a - b e^(b - a)))/(1 + r)``.

Each takes its argument as a double-double ``z + zl`` (:mod:`symsmooth.runtime.exact` forms it
from the exact product) and returns the gap as ``(t, tl)`` (``..._parts``) or rounded once.
The rules of :mod:`symsmooth.runtime.scalar` hold here (``math.*`` and runtime helpers only; the
source is copied into generated modules).  Accuracy against ball arithmetic (python-flint):
``tests/test_param_grads.py``.

References
----------
C. E. Shannon, "A mathematical theory of communication", Bell Syst. Tech. J. 27 (1948)
(the entropy; ``d/dk LSE(k x)/k = -H(softmax(k x))/k**2`` follows from ``log p_i = z_i - LSE``).
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette (2012) (the regimes of
``log1p(exp(-a))``).  T. Ogita, S. M. Rump, S. Oishi, "Accurate sum and dot product", SIAM J.
Sci. Comput. 26 (2005) 1955-1988 (TwoSum, TwoProduct).

Examples
--------
>>> import math
>>> abs(_softplus_gap2(0.0, 0.0) - math.log(2.0)) < 1e-16
True
>>> _softplus_gap2(50.0, 0.0)  # 51 exp(-50); the difference form gives 0
9.83662422461598e-21
>>> _logcosh_gap2(0.01, 0.0)  # -z^2/2 + z^4/4: a tiny gap, not log 2 - H rounded
-4.999750011110639e-05
"""

from __future__ import annotations

import math

from symsmooth.runtime.double_double import _log1p2, _two_product, _wexp2
from symsmooth.runtime.scalar import _dloglse_exp, _loglse_exp


def _softplus_gap_parts(z, zl):
    """(t, tl): the binary entropy H(sigmoid(z + zl)) = softplus(-a) + a sigmoid(-a), a = |z + zl|,
    to ~2**-60 relative.  a > 40: H = exp(-a)(a + 1)(1 + O(e^-a)) with exp(-a) = E^2, E =
    exp(-a/2) (normal until a ~ 1490; the product is scaled by 2**600 so only the final ldexp
    rounds into the subnormals).  Else e + el = exp(-a) (_wexp2), sigmoid(-a) = e/(1 + e) as
    q + ql (remainder exact by TwoProduct), a q by TwoProduct and log1p(e + el) by _log1p2:
    two positive terms added by TwoSum."""
    if z != z:
        return z, 0.0
    if z < 0.0:
        z, zl = -z, -zl
    if z > 1500.0:  # H < exp(-1500) < 2**-1074
        return 0.0, 0.0
    if z > 40.0:  # e^-a < 2**-57: log1p(e) = e and a e/(1 + e) = a e to 2**-57 relative
        E, El = _wexp2(-0.5 * z, 0.5 * zl)
        w = z + 1.0
        wl = ((z - w) + 1.0) + zl
        P, Pe = _two_product(E * 4.149515568880993e180, w)  # E 2**600 (exact)
        Pe += E * 4.149515568880993e180 * wl + El * 4.149515568880993e180 * w
        Q, Qe = _two_product(P, E)
        Qe += Pe * E + P * El
        return math.ldexp(Q, -600), math.ldexp(Qe, -600)
    e, el = _wexp2(-z, zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    q = e / s
    p, pe = _two_product(q, s)
    ql = (((e - p) - pe) + el - q * err) / s
    A, Ae = _two_product(z, q)
    Ae += z * ql + zl * q
    t, tl = _log1p2(e, el)
    S = A + t
    bp = S - A
    Se = (A - (S - bp)) + (t - bp)
    return S, Se + Ae + tl


def _softplus_gap2(z, zl):
    """H(sigmoid(z + zl)): _softplus_gap_parts rounded once."""
    t, tl = _softplus_gap_parts(z, zl)
    return t + tl


def _softplus_gap(z):
    """softplus(z) - z sigmoid(z), the binary entropy of sigmoid(z) (_softplus_gap2, exact z)."""
    return _softplus_gap2(z, 0.0)


def _softplus_gap_sum(p, q):
    """softplus_gap(p + q) with the sum taken exactly (TwoSum), as _sigmoid2 takes its sum."""
    z = p + q
    if z != z:
        return z
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    return _softplus_gap2(z, zl if zl == zl else 0.0)


def _logcosh_gap_parts(z, zl):
    """(t, tl): logcosh(z + zl) - (z + zl) tanh(z + zl) in [-log 2, 0], to ~2**-57 relative.
    a = |z| < 1/16: its Taylor series -a^2/2 + a^4/4 - a^6/9 + ... to a^16 (sympy; truncation
    below 2**-70 relative), a^2 exact (TwoProduct).  Else H(sigmoid(2 a)) - log 2 from
    _softplus_gap_parts (the cancellation of log 2 - H costs at most 2**9 of its 2**-66)."""
    if z != z:
        return z, 0.0
    if z < 0.0:
        z, zl = -z, -zl
    if z < 0.0625:
        p, pe = _two_product(z, z)
        pe += 2.0 * z * zl
        c = 0.001364844737860611
        c = -0.0033355474625315893 + p * c
        c = 0.008124632569077014 + p * c
        c = -0.019682539682539683 + p * c
        c = 0.04722222222222222 + p * c
        c = -0.1111111111111111 + p * c
        c = 0.25 + p * c
        return -0.5 * p, -0.5 * pe + p * p * c
    S, Sl = _softplus_gap_parts(2.0 * z, 2.0 * zl)
    D = 0.6931471805599453 - S  # log 2 = 0.6931471805599453 + 2.3190468138462996e-17
    bp = D - 0.6931471805599453
    De = (0.6931471805599453 - (D - bp)) + (-S - bp)
    return -D, -(De + 2.3190468138462996e-17 - Sl)


def _logcosh_gap2(z, zl):
    """logcosh(z + zl) - (z + zl) tanh(z + zl): _logcosh_gap_parts rounded once."""
    t, tl = _logcosh_gap_parts(z, zl)
    return t + tl


def _logcosh_gap(z):
    """logcosh(z) - z tanh(z) (_logcosh_gap2, exact z)."""
    return _logcosh_gap2(z, 0.0)


def _phi2(t, tl):
    """phi(t + tl) = exp(-(t + tl)^2/2)/sqrt(2 pi) within ~0.5 ulp: (t + tl)^2 = p + pe
    (TwoProduct, 2 t tl added), exp of the exact difference (_wexp2), times 1/sqrt(2 pi) as a
    double-double (mpmath), rounded once."""
    if t != t:
        return t
    if t > 40.0 or t < -40.0:  # phi(t) < 2**-1074
        return 0.0
    p, pe = _two_product(t, t)
    pe += 2.0 * t * tl
    E, El = _wexp2(-0.5 * p, 0.5 * pe)
    r, re = _two_product(E, 0.3989422804014327)
    return r + (re + E * -2.49232720227773e-17 + El * 0.3989422804014327)


def _logsumexp_gap4(a0, a1, a2, a3):
    """logsumexp(a) - sum_i a_i softmax(a)_i, the entropy of softmax(a): with M = max a,
    e_i = exp(a_i - M) and s = sum e_i (>= 1), log s + sum_i e_i (M - a_i)/s, every term >= 0
    (no cancellation); log s = log(c) + log1p(r/c) with c the count of maxima and r the sum of
    the other terms (Goodfellow et al. 2016, 4.1).  An infinite maximum: log of their count."""
    if a0 != a0 or a1 != a1 or a2 != a2 or a3 != a3:
        return math.nan
    m = max(max(a0, a1), max(a2, a3))
    if m == -math.inf:
        return math.nan
    if m == math.inf:
        c = (a0 == m) + (a1 == m) + (a2 == m) + (a3 == m)
        return math.log(c)
    count = 0.0
    rest = 0.0
    weighted = 0.0
    for a in (a0, a1, a2, a3):
        if a == m:
            count += 1.0
        else:
            e = math.exp(a - m)
            rest += e
            weighted += e * (m - a)
    return math.log(count) + math.log1p(rest / count) + weighted / (count + rest)


def _hypot_gap_times(c, m, w):
    """c (1 - w/hypot(m, w)): for w > 0 (m/h)(m (c/(h + w))), so that a factor c ~ w ~ 1e300
    meets the gap m^2/(h (h + w)) ~ 1e-600 before it underflows (SMU-1's alpha derivative
    (x/2) hypot_gap(mu, x (1 - alpha))); else c (1 + |w|/h)."""
    h = math.hypot(m, w)
    if w > 0.0:
        return (m / h) * (m * (c / (h + w)))
    return c * (1.0 - w / h)


def _hypot_gap(m, w):
    """1 - w/hypot(m, w) in [0, 2] (the cosine gap of SMU-1's alpha derivative): for w > 0
    it is m^2/(h (h + w)), formed as (m/h)(m/(h + w)) (no cancellation, no m^2 overflow);
    else 1 + |w|/h (two positive terms)."""
    h = math.hypot(m, w)
    if w > 0.0:
        return (m / h) * (m / (h + w))
    return 1.0 - w / h


def _loglse_exp_gap(u, v):
    """F - u dF/du - v dF/dv for F = _loglse_exp(u, v) = log(log(e^(e^u) + e^(e^v))): with
    a = max > 0, b = min, d = b - a, r = e^-a log1p(exp(e^b - e^a)) (F = a + log1p(r)) and
    s = sigmoid(e^b - e^a), it is log1p(r) + (a r + s (a - b e^d))/(1 + r), every term >= 0
    (b e^d <= a); e^b - e^a = -exp(a + log(-expm1(d))) as in _loglse_exp_tail.  For a <= 0
    (outside max_pair_double_exp's domain) the difference as written."""
    if u != u or v != v:
        return u + v
    a = max(u, v)
    b = min(u, v)
    if a <= 0.0:
        return _loglse_exp(u, v) - u * _dloglse_exp(u, v) - v * _dloglse_exp(v, u)
    if a == math.inf:
        return 0.0 if b < a else math.nan
    d = b - a
    if d == 0.0:
        t = 0.6931471805599453
        s = 0.5
    else:
        g = a + math.log(-math.expm1(d))  # log(e^a - e^b)
        if g > 7.0:  # exp(-e^7) < 2**-1580
            t = 0.0
            s = 0.0
        else:
            big = math.exp(g)
            t = math.log1p(math.exp(-big))
            s = 1.0 / (1.0 + math.exp(big))
    r = math.exp(-a) * t
    return math.log1p(r) + (a * r + s * (a - b * math.exp(d))) / (1.0 + r)


def _logsumexp_gap2(a0, a1):
    """logsumexp_gap(a0, a1) = softplus_gap(a0 - a1), the difference taken exactly."""
    return _softplus_gap_sum(a0, -a1)
