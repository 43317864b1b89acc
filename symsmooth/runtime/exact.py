"""Helpers for exact arguments: a primitive of ``a*b`` or ``a/b`` for exact doubles ``a``, ``b``.

A kernel input ``x`` and a parameter ``k`` are exact doubles, but ``fl(k*x)`` is not: its
relative rounding ``eps/2`` becomes an error of ``|k x| eps/2`` in ``exp(k x)`` (up to 350 ulp at
``k x ~ -700``) and of ``(k x)^2 eps`` in ``erfc``.  Each helper here forms the argument as a
double-double ``hi + lo`` (Dekker's TwoProduct for ``a*b``; for ``a/b`` the quotient ``hi``
and ``lo = (a - hi*b)/b`` with ``hi*b`` exact by TwoProduct) and hands the low part to a
helper that uses it: ``_sigmoid2``, ``_dsigmoid2``, ``_dswish2``, ``_Phi2`` take it into their
own double-double evaluation, ``_softplus_parts`` into ``log1p(exp(.))`` (``_wexp2``,
``_log1p2``); ``erf``, ``tanh``, ``relu_gauss`` and ``dgelu`` add the first-order term
``lo f'(hi)``
(``|lo| <= ulp(hi)/2``, so the second-order term is below ``2**-100`` relative).  Where the
split would overflow (``|a|`` or ``|b|`` above ``2**996``) or the result is not finite, the low
part is 0 (the rounded argument, as before).

The rules of :mod:`symsmooth.runtime.scalar` hold here (``math.*`` and runtime helpers only;
the source is copied into generated modules).  Accuracy against ball arithmetic (python-flint)
is measured in ``tests/test_exact_arguments.py``.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision",
Numer. Math. 18 (1971) 224-242 (TwoProduct by splitting).
T. Ogita, S. M. Rump, S. Oishi, "Accurate sum and dot product", SIAM J. Sci. Comput. 26 (2005)
1955-1988 (error-free transformations TwoSum, TwoProduct).
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 7.1.19 (erf'),
26.2 (Phi).

Examples
--------
>>> _two_quotient(1.0, 3.0)
(0.3333333333333333, 1.850371707708594e-17)
>>> _sigmoid_xp(3.0, -36.9) == _sigmoid2(*_two_product(3.0, -36.9))
True
>>> _softplus_xp(1.0, 0.0) == math.log(2.0)
True
"""

from __future__ import annotations

import math

from symsmooth.runtime.double_double import (
    _dgelu,
    _dsigmoid,
    _dsigmoid2,
    _dswish2,
    _log1p2,
    _Phi,
    _Phi2,
    _sigmoid2,
    _silu_scaled,
    _two_product,
    _wexp2,
)
from symsmooth.runtime.gaps import (
    _logcosh_gap2,
    _logcosh_gap_parts,
    _phi2,
    _softplus_gap2,
    _softplus_gap_parts,
)
from symsmooth.runtime.scalar import _relu_gauss


def _two_quotient(a, b):
    """(q, r): q = fl(a/b) and a/b = q + r to ~2**-106 relative: a - q b is exact
    (TwoProduct; the remainder of a rounded quotient is representable), r = (a - q b)/b.  r is
    0 where q is not finite, is 0 or the split overflows."""
    q = a / b
    p, pe = _two_product(q, b)
    r = ((a - p) - pe) / b
    return q, (r if r - r == 0.0 else 0.0)


def _lo(e):
    """The low part of an error-free transformation, 0 where it is not finite (an overflowed
    split or an infinite product: the rounded value is then used as it is)."""
    return e if e - e == 0.0 else 0.0


def _softplus_parts(z, zl):
    """(t, tl): log(1 + exp(z + zl)) = t + tl to ~2**-60 relative (z + zl a double-double,
    |zl| <= ulp(z)/2).  z > 18: t = z (exact), tl = exp(-z) + zl (exp(-z) < 2**-25 z, so its
    rounding and the dropped e^2/2 stay below 2**-70 t).  Else e + el = exp(z + zl) with its
    low part (_wexp2 takes the sum exactly) and log1p(e + el) in double-double (_log1p2; for
    z < -37 log1p(e) = e to 2**-53 e^2).  Maechler (2012) regimes; libm log1p(exp(z)) rounds
    twice (~1 ulp)."""
    if z != z or z == math.inf:
        return z, 0.0
    if z > 18.0:
        return z, math.exp(-z) + zl
    e, el = _wexp2(z, -zl)
    if z < -37.0:
        return e, el
    return _log1p2(e, el)


def _softplus2(z, zl):
    """log(1 + exp(z + zl)): _softplus_parts added (one rounding)."""
    t, tl = _softplus_parts(z, zl)
    return t + tl


def _softplus_xd(a, b):
    """softplus(a b)/a (the smooth ReLU f(k x)/k) for the exact product: t + tl from
    _softplus_parts, divided by a with the remainder t - q a formed exactly (TwoProduct), so the
    division rounds once.  Where t < 2**-969 (q a might be inexact near the subnormals) the
    sum is divided as it is."""
    p, pl = _two_product(a, b)
    t, tl = _softplus_parts(p, _lo(pl))
    q = t / a
    if q - q != 0.0 or abs(t) < 2.0041683600089728e-292:  # inf, NaN, tiny: no remainder
        return (t + tl) / a
    r, re = _two_product(q, a)
    if re - re != 0.0:  # the split overflowed (|q| or |a| > 2**996): the rounded quotient
        return q
    return q + (((t - r) - re) + tl) / a


def _logsumexp_xd2(a, b, c):
    """logsumexp(a b, a c)/a (the smooth max of a pair, log(e^(k x) + e^(k y))/k) for the exact
    products: m + ml, n + nl the larger and the smaller (TwoProduct); their difference
    d + dl = (n - m) + (nl - ml) in double-double (TwoSum), e + el = exp(d + dl) (_wexp2 takes
    the pair exactly), t + tl = log1p(e + el) (_log1p2), m + t + ml + tl as a double-double
    (TwoSum), divided by a with the remainder formed exactly (as _softplus_xd).  Rounding
    k x and k y and the final division separately costs 1.5 ulp (5.1 at k = 0.37)."""
    p, pl = _two_product(a, b)
    q, ql = _two_product(a, c)
    if p != p or q != q:
        return math.nan
    m, ml, n, nl = (p, _lo(pl), q, _lo(ql)) if p >= q else (q, _lo(ql), p, _lo(pl))
    if m == math.inf or m == -math.inf:
        return m / a
    t, tl = 0.0, 0.0
    if n > -math.inf:  # else the smaller term is absent: log1p(0) = 0
        d = n - m
        bp = d - n
        dl = ((n - (d - bp)) + (-m - bp)) + (nl - ml)
        e, el = _wexp2(d, -dl)
        t, tl = _log1p2(e, el)
    r = m + t
    bp = r - m
    rl = ((m - (r - bp)) + (t - bp)) + (ml + tl)
    quo = r / a
    if quo - quo != 0.0 or abs(r) < 2.0041683600089728e-292:  # inf, NaN, tiny: no remainder
        return (r + rl) / a
    u, ue = _two_product(quo, a)
    if ue - ue != 0.0:
        return quo
    return quo + (((r - u) - ue) + rl) / a


def _softplus_xp(a, b):
    """softplus(a b) for the exact product (TwoProduct)."""
    p, pl = _two_product(a, b)
    return _softplus2(p, _lo(pl))


def _log_sigmoid_xp(a, b):
    """log(sigmoid(a b)) = -softplus(-a b) for the exact product."""
    p, pl = _two_product(a, b)
    return -_softplus2(-p, -_lo(pl))


def _silu_xd(a, b):
    """silu(a b)/a = b sigmoid(a b) (the swish x sigmoid(k x)) for the exact product: the
    low part reaches _silu_scaled, which rounds once (x * sigmoid(k x) rounded twice costs
    1.5 ulp, and 321 ulp on subnormal results)."""
    p, pl = _two_product(a, b)
    return _silu_scaled(p, _lo(pl), b)


def _silu_xp(a, b):
    """silu(a b) = a b sigmoid(a b) for the exact product (the scale is the rounded product;
    its half ulp is the rounding of a product, not amplified)."""
    p, pl = _two_product(a, b)
    return _silu_scaled(p, _lo(pl), p)


def _sigmoid_xp(a, b):
    """sigmoid(a b) for the exact product (_sigmoid2 takes the low part)."""
    p, pl = _two_product(a, b)
    return _sigmoid2(p, _lo(pl))


def _sigmoid_pp(a, b, c, d):
    """sigmoid(a b + c d) for the exact products and their exact sum (the pair logsumexp's
    gradient sigmoid(k x - k y)): p + pl = a b, q + ql = c d (TwoProduct), z + zl = p + q
    (TwoSum), and _sigmoid2 takes z and zl + pl + ql.  Rounding k x and k y separately costs
    |k x| eps absolute in the argument: 3.3e3 ulp at (x, y, k) = (-711.78, -743.13, 10)."""
    p, pl = _two_product(a, b)
    q, ql = _two_product(c, d)
    z = p + q
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    if zl != zl:  # an infinite operand: the rounded sum is the value
        zl = 0.0
    return _sigmoid2(z, zl + _lo(pl) + _lo(ql))


def _dsigmoid_xp(a, b):
    """sigmoid(a b) sigmoid(-a b) for the exact product."""
    p, pl = _two_product(a, b)
    return _dsigmoid2(p, _lo(pl))


def _dswish_xp(a, b):
    """The swish gradient sigmoid(u) + u dsigmoid(u) at u = a b, the exact product."""
    p, pl = _two_product(a, b)
    return _dswish2(p, _lo(pl))


def _tanh_xp(a, b):
    """tanh(a b) for the exact product: tanh(p) + pl (1 - tanh(p)^2), 1 - tanh^2 written
    4 dsigmoid(2p) (no cancellation for large p)."""
    p, pl = _two_product(a, b)
    return math.tanh(p) + _lo(pl) * 4.0 * _dsigmoid(2.0 * p)


def _erf2(z, zl):
    """erf(z + zl) = erf(z) + zl 2/sqrt(pi) exp(-z^2) (A&S 7.1.19), |zl| <= ulp(z)/2."""
    if zl == 0.0 or z > 27.0 or z < -27.0:  # erf(z) rounds to +-1 (|z| > 5.9), exp underflows
        return math.erf(z)
    return math.erf(z) + zl * 1.1283791670955126 * math.exp(-z * z)


def _erf_xp(a, b):
    """erf(a b) for the exact product."""
    p, pl = _two_product(a, b)
    return _erf2(p, _lo(pl))


def _Phi_xq(a, b):
    """Phi(a/b) for the exact quotient (_Phi2 takes the low part)."""
    q, ql = _two_quotient(a, b)
    return _Phi2(q, ql)


def _Phi_xp(a, b):
    """Phi(a b) for the exact product."""
    p, pl = _two_product(a, b)
    return _Phi2(p, _lo(pl))


def _relu_gauss2(t, tl):
    """relu_gauss(t + tl) = t Phi(t) + phi(t) + tl Phi(t) (relu_gauss' = Phi), |tl| <=
    ulp(t)/2: the first-order term is below 2**-53 of the result (relu_gauss > t Phi(t))."""
    if tl == 0.0:
        return _relu_gauss(t)
    return _relu_gauss(t) + tl * _Phi(t)


def _relu_gauss_xq(a, b):
    """relu_gauss(a/b) for the exact quotient."""
    q, ql = _two_quotient(a, b)
    return _relu_gauss2(q, ql)


def _dgelu2(t, tl):
    """dgelu(t + tl) = dgelu(t) + tl phi(t) (2 - t^2) (dgelu' = phi (2 - t^2))."""
    if tl == 0.0 or t > 40.0 or t < -40.0:  # phi(t) < 2**-1074
        return _dgelu(t)
    return _dgelu(t) + tl * (2.0 - t * t) * math.exp(-0.5 * t * t) * 0.3989422804014327


def _dgelu_xq(a, b):
    """dgelu(a/b) for the exact quotient."""
    q, ql = _two_quotient(a, b)
    return _dgelu2(q, ql)


def _div_sq(t, tl, a):
    """(t + tl)/a^2 rounded about once: a^2 = s + se (TwoProduct), q = t/s and the remainder
    t - q s formed exactly (TwoProduct), so q + ((t - q s) + tl - q se)/s has ~2**-100 relative
    error before its rounding.  Where t < 2**-969, a^2 is not a normal double or q is not
    finite, the sum is divided as it is."""
    s, se = _two_product(a, a)
    q = t / s
    if q - q != 0.0 or se - se != 0.0 or abs(t) < 2.0041683600089728e-292 or s < 2.2e-308:
        return (t + tl) / a / a
    p, pe = _two_product(q, s)
    if pe - pe != 0.0:  # the split overflowed: the rounded quotient
        return q
    return q + ((((t - p) - pe) + tl) - q * se) / s


def _softplus_gap_xp(a, b):
    """softplus_gap(a b) (the binary entropy of sigmoid(a b)) for the exact product."""
    p, pl = _two_product(a, b)
    return _softplus_gap2(p, _lo(pl))


def _softplus_gap_xsq(a, b):
    """softplus_gap(a b)/a^2 (softplus(k x)/k differentiated in k, negated) for the exact
    product, the division by a^2 rounding with the rest (_div_sq)."""
    p, pl = _two_product(a, b)
    t, tl = _softplus_gap_parts(p, _lo(pl))
    return _div_sq(t, tl, a)


def _logcosh_gap_xp(a, b):
    """logcosh_gap(a b) = logcosh(a b) - a b tanh(a b) for the exact product."""
    p, pl = _two_product(a, b)
    return _logcosh_gap2(p, _lo(pl))


def _logcosh_gap_xsq(a, b):
    """logcosh_gap(a b)/a^2 for the exact product (_div_sq)."""
    p, pl = _two_product(a, b)
    t, tl = _logcosh_gap_parts(p, _lo(pl))
    return _div_sq(t, tl, a)


def _phi_xq(a, b):
    """phi(a/b) for the exact quotient (_phi2 takes the low part)."""
    q, ql = _two_quotient(a, b)
    return _phi2(q, ql)


def _softplus_gap_dot(a, b, c, d):
    """softplus_gap(a b + c d) with the sum of the exact products as a double-double
    (TwoProduct twice, TwoSum, the low parts added and renormalized by Fast2Sum): the gap of
    max_pair_logsumexp at k x - k y, where fl(k x) - fl(k y) costs |k x| eps absolute."""
    p, pl = _two_product(a, b)
    q, ql = _two_product(c, d)
    s = p + q
    if s != s or s - s != 0.0:  # NaN or infinite: the gap of the rounded sum
        return _softplus_gap2(s, 0.0)
    bp = s - p
    se = ((p - (s - bp)) + (q - bp)) + (_lo(pl) + _lo(ql))
    z = s + se
    return _softplus_gap2(z, se - (z - s))


def _logsumexp_gap_xp4(a0, b0, a1, b1, a2, b2, a3, b3):
    """The entropy of softmax(a_i b_i) (logsumexp_gap of four exact products): each product
    as p_i + l_i (TwoProduct), the distances d_i = max - (p_i + l_i) >= 0 as double-doubles
    (TwoSum), e_i = exp(-d_i) (_wexp2 takes the pair exactly), and log c + log1p(r/c) +
    sum e_i d_i/(c + r) (c the count of maxima, r the sum of the other e_i): every term >= 0."""
    p0, l0 = _two_product(a0, b0)
    p1, l1 = _two_product(a1, b1)
    p2, l2 = _two_product(a2, b2)
    p3, l3 = _two_product(a3, b3)
    ps = (p0, p1, p2, p3)
    ls = (_lo(l0), _lo(l1), _lo(l2), _lo(l3))
    for p in ps:
        if p != p:
            return math.nan
    m, ml = ps[0], ls[0]
    for i in range(1, 4):
        if ps[i] > m or (ps[i] == m and ls[i] > ml):
            m, ml = ps[i], ls[i]
    if m == math.inf:
        return math.log((p0 == m) + (p1 == m) + (p2 == m) + (p3 == m))
    if m == -math.inf:
        return math.nan
    count = 0.0
    rest = 0.0
    weighted = 0.0
    for i in range(4):
        h = m - ps[i]
        bp = h - m
        he = ((m - (h - bp)) + (-ps[i] - bp)) + (ml - ls[i])
        if h == 0.0 and he == 0.0:
            count += 1.0
            continue
        e, el = _wexp2(-h, he)
        rest += e
        if h > 700.0:  # e is near or below 2**-1022: h e from exp(-h/2)^2, scaled by 2**600
            E, El = _wexp2(-0.5 * h, 0.5 * he)
            S = E * 4.149515568880993e180  # exact
            P = S * h
            weighted += math.ldexp(P * E + (2.0 * P * El + S * he * E), -600)
        else:
            weighted += e * h + (el * h + e * he)
    return math.log(count) + math.log1p(rest / count) + weighted / (count + rest)
