"""Double-double scalar helpers: results rounded once (``math.*`` only, no fma).

An error-free product (Dekker's split, so the same text compiles under ``@njit`` and
``@cuda.jit(device=True)``), ``exp(h - m)`` with its rounding error (``_wexp2``), and the
helpers built on them that round only once: the sigmoid family (``_sigmoid2``, ``_sigmoid``,
``_dsigmoid``, ``_dswish``), ``_derf``, the normal CDF and density (``_Phi``, ``_phi``), the GELU
gradient ``_dgelu``, ``_lin_hypot``, the ratio ``sinh(cx)/(cosh cx + cosh cy)`` and the pair
logsumexp.  The rules of :mod:`symsmooth.runtime.scalar` hold here (their source is copied into
generated modules); accuracy is measured against mpmath in
``tests/test_accuracy_elementwise.py``.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision",
Numer. Math. 18 (1971) 224-242 (TwoProduct via splitting; Fast2Sum).
J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed., Birkhauser 2018, ch. 4
and 14 (error-free transformations, double-double arithmetic).
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 26.2.29 (Phi),
26.2.14 (the Mills ratio).

Examples
--------
>>> _two_product(1.0 + 2.0**-30, 1.0 - 2.0**-30)
(1.0, -8.673617379884035e-19)
>>> hi, lo = _wexp2(0.0, -1.0)
>>> hi == math.exp(1.0), abs(lo) < 2.0**-52 * hi
(True, True)
>>> _sigmoid(0.0), _dsigmoid(0.0), _Phi(0.0)
(0.5, 0.25, 0.5)
"""

from __future__ import annotations

import math


def _two_product(a, b):
    """(p, e) with p = fl(a*b) and p + e == a*b exactly (Dekker 1971, splitting by 2**27 + 1;
    valid while |a|, |b| < 2**996, far beyond where the callers' results underflow)."""
    p = a * b
    t = 134217729.0 * a
    ahi = t - (t - a)
    alo = a - ahi
    t = 134217729.0 * b
    bhi = t - (t - b)
    blo = b - bhi
    e = ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo
    return p, e


def _two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e == a + b exactly, for any order of magnitude of a
    and b (Knuth's TwoSum, TAOCP vol. 2, 4.2.2 Theorem B; Muller et al. 2018, Alg. 4.4): the
    compensated sums of every reduction kernel add each term with it."""
    s = a + b
    bp = s - a
    e = (a - (s - bp)) + (b - bp)
    return s, e


def _sum_err(a, b):
    """The rounding error of fl(a + b): a + b - fl(a + b) exactly (TwoSum), 0 where it is not
    finite (an infinite term: the rounded sum is used as it is).  A compensated row sum adds it
    to its compensation, so a weight t + p keeps the p that fl(t + p) drops."""
    e = _two_sum(a, b)[1]
    return e if e - e == 0.0 else 0.0


def _product_err(a, b):
    """The rounding error of fl(a*b): a*b - fl(a*b) exactly (TwoProduct), 0 where it is not
    finite (an overflowed split)."""
    e = _two_product(a, b)[1]
    return e if e - e == 0.0 else 0.0


def _wexp2(h, m):
    """(E, e): exp(h - m) = E + e to ~2**-66 relative (E within 1 ulp), for the pivoted
    gradients (symsmooth.codegen.pivot), whose cancelling sums need the weights' rounding.
    h - m = d + dl exactly (TwoSum); d = k ln2/4 + r with ln2/4 = L1 + L2 (L1: 32 bits, so
    k L1 and d - k L1 are exact, Cody-Waite); exp(r) = 1 + r + r^2/2 + r^3 q(r), |r| <= 0.087,
    with 1 + r and r^2 exact (Fast2Sum, TwoProduct) and the Taylor tail q to r^12/12!; then
    times 2^(j/4) (double-double constants) and 2^(k >> 2).  Edge cases as _wexp."""
    d = h - m
    if d == d:
        if d < -746.0:
            return 0.0, 0.0
        bp = d - h
        dl = (h - (d - bp)) + (-m - bp)
        if d > 709.0:
            return math.exp(d) * (1.0 + dl), 0.0
        kf = math.floor(d * 5.7707801635558535 + 0.5)
        r = d - kf * 0.17328679509228095
        x = -kf * 4.770537323176469e-11
        rh = r + x
        bp = rh - r
        rl = ((r - (rh - bp)) + (x - bp)) + dl
        q, qe = _two_product(rh, rh)
        tail = 2.08767569878681e-09
        tail = tail * rh + 2.505210838544172e-08
        tail = tail * rh + 2.755731922398589e-07
        tail = tail * rh + 2.7557319223985893e-06
        tail = tail * rh + 2.48015873015873e-05
        tail = tail * rh + 0.0001984126984126984
        tail = tail * rh + 0.001388888888888889
        tail = tail * rh + 0.008333333333333333
        tail = tail * rh + 0.041666666666666664
        tail = tail * rh + 0.16666666666666666
        a = 1.0 + rh
        al = (1.0 - a) + rh
        y = 0.5 * q
        b = a + y
        bp = b - a
        al += (a - (b - bp)) + (y - bp)
        t3 = q * rh * tail
        al += 0.5 * qe + t3 + rl * (b + t3)  # rl exp(rh): rl is up to 2**-44 (dl)
        hi = b + al
        lo = al - (hi - b)
        k = int(kf)
        j = k & 3
        ch, cl = 1.0, 0.0
        if j == 1:
            ch, cl = 1.189207115002721, 3.982015231465646e-17
        elif j == 2:
            ch, cl = 1.4142135623730951, -9.667293313452913e-17
        elif j == 3:
            ch, cl = 1.681792830507429, 8.199010020581497e-17
        p, pe = _two_product(hi, ch)
        pe += hi * cl + lo * ch
        hi = p + pe
        lo = pe - (hi - p)
        n = k >> 2
        return math.ldexp(hi, n), math.ldexp(lo, n)
    if h == m:
        return (0.0 if h < 0.0 else 1.0), 0.0
    return d, 0.0


def _dexp2c(c, cl, u, v):
    """(E, e): exp((c + cl) (u - v)) = E + e to ~2**-66 relative (E within 1 ulp), for the
    parameter gradients of a reduction (symsmooth.codegen.paramgrad); c + cl is a coefficient
    as a double-double (1/(2 sigma^2): its rounding would err by |exponent| eps).  u - v =
    d + dl exactly (TwoSum) and c d = p + pl exactly (TwoProduct), so the exponent
    p + (pl + c dl + cl d) is (c + cl)(u - v) to ~2**-104 relative, where fl(c u) - fl(c v)
    errs by |c u| eps (a weight exp(k (x - m)) at k = 3, x ~ 1000: 3000 ulp).  A product
    outside exp's range (or inf, NaN) is taken as fl(c d): the weight is 0, inf or NaN there
    anyway (_wexp2's edge cases)."""
    d = u - v
    p = c * d
    if not (abs(p) < 800.0 and abs(d) < 1e290 and abs(c) < 1e290):
        return _wexp2(p, 0.0)
    bp = d - u
    dl = (u - (d - bp)) + (-v - bp)
    p, pl = _two_product(c, d)
    return _wexp2(p, -(pl + c * dl + cl * d))


def _dexp2(c, u, v):
    """(E, e): exp(c (u - v)) = E + e for an exact double c (_dexp2c with cl = 0)."""
    return _dexp2c(c, 0.0, u, v)


def _dexp(c, u, v):
    """exp(c (u - v)) within 1 ulp: the high part of _dexp2."""
    return _dexp2(c, u, v)[0]


def _dd_add(ah, al, bh, bl):
    """(ah + al) + (bh + bl) as a double-double (hi, lo): TwoSum of the high parts, the low
    parts added to its error, renormalized (Fast2Sum); ~2**-104 relative to the larger term."""
    s, e = _two_sum(ah, bh)
    e += al + bl
    h = s + e
    return h, e - (h - s)


def _dd_div(ah, al, bh, bl):
    """(ah + al) / (bh + bl) as a double-double (hi, lo): q = ah/bh, the remainder
    (a - q b) in double-double (TwoProduct), a second quotient; ~2**-100 relative."""
    q = ah / bh
    p, e = _two_product(q, bh)
    r = ((ah - p) - e + al) - q * bl
    q2 = r / bh
    h = q + q2
    return h, q2 - (h - q)


def _dd_mul(ah, al, bh, bl):
    """(ah + al) (bh + bl) as a double-double (hi, lo): TwoProduct of the high parts and the
    cross terms (al bl dropped), renormalized (Fast2Sum); ~2**-104 relative."""
    p, e = _two_product(ah, bh)
    e += ah * bl + al * bh
    h = p + e
    return h, e - (h - p)


def _sigmoid2(p, q):
    """sigmoid(p + q) within 0.5 ulp + 2**-60 relative.  z + zl == p + q exactly (Knuth
    TwoSum; otherwise the rounding of z costs |z| eps relative error in the tail, ~350 ulp at
    z = -700); e + el = exp(-|z + zl|) with its rounding error (_wexp2 takes the difference
    exactly); 1 + e + el = s + err (TwoSum); the division remainder num - q s is exact
    (TwoProduct, Sterbenz), so only the last addition rounds."""
    z = p + q
    if z != z:
        return z
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    if zl != zl:  # an infinite operand
        zl = 0.0
    pos = z >= 0.0
    e, el = _wexp2(-abs(z), zl if pos else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    if pos:
        num, num_lo = 1.0, 0.0
    else:
        num, num_lo = e, el
    q = num / s
    p, pe = _two_product(q, s)
    return q + ((((num - p) - pe) + num_lo) - q * err) / s


def _sigmoid(z):
    """1 / (1 + exp(-z)) within 0.5 ulp + 2**-60 relative (_sigmoid2 with an exact sum)."""
    return _sigmoid2(z, 0.0)


def _dsigmoid(z):
    """sigmoid(z) sigmoid(-z) = e / (1 + e)^2, e = exp(-|z|), within 0.5 ulp + 2**-60 relative:
    _dsigmoid2 with an exact argument.  A product of two rounded sigmoids rounds three times
    (up to 1.8 ulp)."""
    return _dsigmoid2(z, 0.0)


def _dsigmoid2(z, zl):
    """dsigmoid(z + zl) (zl the low part of a double-double argument, |zl| <= ulp(z)/2) within
    0.5 ulp + 2**-60 relative: one division of double-double operands (e + el = exp(-|z + zl|)
    from _wexp2, which takes -|z| - (+-zl) exactly; (1 + e + el)^2 = S + Sl with 1 + e exact by
    TwoSum and its square by TwoProduct), remainder formed exactly."""
    if z != z:
        return z
    e, el = _wexp2(-abs(z), zl if z >= 0.0 else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    S, Se = _two_product(s, s)
    Sl = Se + 2.0 * s * err
    q = e / S
    p, pe = _two_product(q, S)
    return q + ((((e - p) - pe) + el) - q * Sl) / S


def _silu(z):
    """z sigmoid(z) within 0.5 ulp + 2**-60 relative: _silu_scaled with the scale 1."""
    return _silu_scaled(z, 0.0, z)


def _silu_scaled(z, zl, b):
    """b sigmoid(z + zl) (the swish x sigmoid(k x) with b = x, z + zl = k x exactly) rounded
    once.  Below z = -700 sigmoid(z) = e^z to 2**-1000 relative, but e^z is near or below
    the normal range (a subnormal sigmoid times b lost up to 321 ulp at x = -743.5): e^z is
    formed as 2**-64 exp(z + 64 ln 2), with z + C1 exact (C1 = 64 ln 2 to 32 fraction bits,
    |z + C1| >= 512 and z's ulp is 2**-43) and C2 = 64 ln 2 - C1 added to the low part, so the
    double-double e + el is normal; b (e + el) by TwoProduct, then scaled by 2**-64 (the
    only rounding into the subnormals).  Elsewhere the sigmoid as a double-double (the
    quotient and its exact remainder, as _sigmoid2) times b by TwoProduct."""
    if z != z or b != b:
        return z + b
    if b == 0.0:
        return 0.0 * z
    if z < -700.0:
        e, el = _wexp2(z + 44.36141955573112, -(zl + 1.0538207733054133e-10))
        r, re = _two_product(b, e)
        return math.ldexp(r + (re + b * el), -64)
    w = z + zl
    bp = w - z
    wl = (z - (w - bp)) + (zl - bp)
    if wl != wl:
        wl = 0.0
    pos = w >= 0.0
    e, el = _wexp2(-abs(w), wl if pos else -wl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    num, num_lo = (1.0, 0.0) if pos else (e, el)
    q = num / s
    p, pe = _two_product(q, s)
    ql = ((((num - p) - pe) + num_lo) - q * err) / s
    r, re = _two_product(b, q)
    if re - re != 0.0:  # b q overflowed or the split did: the rounded product
        return b * (q + ql)
    return r + (re + b * ql)


def _dswish(z):
    """d/dz z sigmoid(z) = sigmoid(z) + z dsigmoid(z) within ~0.5 ulp: _dswish2 with an exact
    argument."""
    return _dswish2(z, 0.0)


def _dswish2(z, zl):
    """d/dz z sigmoid(z) = sigmoid(z) + z dsigmoid(z) within ~0.5 ulp (e = exp(-|z|)):
    (1 + e + z e)/(1 + e)^2 for z >= 0 (positive terms); e (1 + z + e)/(1 + e)^2 for z < 0,
    where 1 + z + e cancels at the root z = -1.2785 (1 + z exact by TwoSum, e + el from _wexp2,
    so the numerator keeps ~2**-68 absolute).  Numerator and (1 + e + el)^2 in double-double,
    one division with the remainder formed exactly (TwoProduct).  The sum of the two rounded
    terms cancels there (3 ulp measured)."""
    if z != z:
        return z
    if z > 746.0:  # e < 2**-1076: the result rounds to 1
        return 1.0
    if z < -800.0:  # |z| e^z < 2**-1075: rounds to 0
        return -0.0
    e, el = _wexp2(-abs(z), zl if z >= 0.0 else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el  # s + err == 1 + e + el
    if z >= 0.0:
        p, pl = _two_product(z, e)
        pl += z * el + zl * e
        n = s + p
        bp = n - s
        nl = ((s - (n - bp)) + (p - bp)) + err + pl
    else:
        w = 1.0 + z
        bp = w - z
        wl = ((z - (w - bp)) + (1.0 - bp)) + zl  # w + wl == 1 + z + zl
        u = w + e
        bp = u - w
        ul = ((w - (u - bp)) + (e - bp)) + wl + el
        v = u + ul  # renormalize: u + ul may have cancelled
        vl = ul - (v - u)
        n, pe = _two_product(e, v)
        nl = pe + e * vl + el * v
    S, Se = _two_product(s, s)
    Sl = Se + 2.0 * s * err
    q = n / S
    p, pe = _two_product(q, S)
    return q + ((((n - p) - pe) + nl) - q * Sl) / S


def _derf(a, b):
    """erf'(a b) = 2/sqrt(pi) exp(-(a b)^2) within ~0.5 ulp: a b = p + pl exactly (TwoProduct,
    so a rounded a b ~ 20 costs no 2 (ab)^2 eps ~ 800 ulp through exp), (p + pl)^2 = s + sl to
    2**-104 relative (TwoProduct; 2 p pl), exp(-s - sl) with its low part (_wexp2 takes the
    difference exactly) and the constant 2/sqrt(pi) in double-double: one final rounding."""
    p, pl = _two_product(a, b)
    if p != p:
        return p
    if p > 27.5 or p < -27.5:  # exp(-756) < 2**-1075: rounds to 0 (also |a b| = inf)
        return 0.0
    if pl != pl:  # Dekker's split overflowed (|a| or |b| > 2**996): the product is exact
        pl = 0.0
    s, sl = _two_product(p, p)
    sl += 2.0 * p * pl
    e, el = _wexp2(-s, sl)
    q, qe = _two_product(e, 1.1283791670955126)
    return q + (qe + e * 1.533545961316588e-17 + el * 1.1283791670955126)


def _Phi(z):
    """Standard normal CDF erfc(-z/sqrt 2)/2 (Abramowitz-Stegun 26.2.29): _Phi2 with an exact
    argument."""
    return _Phi2(z, 0.0)


def _Phi2(z, zl):
    """Phi(z + zl), zl the low part of a double-double argument (|zl| <= ulp(z)/2).  The product
    u = -(z + zl)/sqrt(2) is formed as u + du (Dekker; zl and the low part of 1/sqrt 2 join du)
    and du is fed back through erfc'(u) = -2/sqrt(pi) exp(-u^2); otherwise the rounding costs
    ~z^2/2 ulps in the lower tail."""
    if z != z:
        return z
    if z > 40.0 or z < -40.0:  # erfc(-z/sqrt 2)/2 is 1 or below 2**-1074 (|z| > 38.5)
        return 1.0 if z > 0.0 else 0.0
    u, du = _two_product(-z, 0.7071067811865476)
    du += -z * -4.833646656726457e-17 - zl * 0.7071067811865476  # 1/sqrt(2) - 0.70710678...
    return 0.5 * (math.erfc(u) - du * 1.1283791670955126 * math.exp(-u * u))


def _phi(z):
    """Standard normal density exp(-z^2/2)/sqrt(2 pi) with z^2 formed exactly (Dekker):
    exp(-(p + e)/2) = exp(-p/2)(1 - e/2), otherwise the rounding of z^2 costs ~z^2/2 ulps."""
    if z > 40.0 or z < -40.0:  # exp(-z^2/2) < 2**-1074 (|z| > 38.6)
        return 0.0 if z == z else z
    p, e = _two_product(z, z)
    return math.exp(-0.5 * p) * (1.0 - 0.5 * e) * 0.3989422804014327


def _dgelu(t):
    """Phi(t) + t phi(t) (the GELU gradient) within ~1 ulp.  t >= 0: both terms positive.
    -1.5 <= t < 0: the terms cancel at the root t0 = -0.75179; Taylor series about t0 (mpmath,
    60 digits, degree 30, truncation < 2**-62 for |t - t0| <= 0.76) as d (c1 + d (c2 + d H(d))),
    d = t - t0 and the two leading steps in double-double.  t < -1.5 (a = -t): Laplace's
    continued fraction of the Mills ratio (A&S 26.2.14), r = 2/(a + 3/(a + ...)), gives
    -phi(a) (a^3 + r (a^2 - 1))/(1 + a^2 + a r): positive terms only, phi in double-double
    (_wexp2 of -a^2/2 formed exactly), one final division.  The plain sum cancels: 380 ulp
    measured near t0, ~3 ulp for t < -1.5."""
    if t != t:
        return t
    if t >= 0.0:
        return 1.0 if t > 40.0 else _Phi(t) + t * _phi(t)  # 1 - Q(t) + t phi(t) rounds to 1
    if t >= -1.5:
        dh = t - -0.7517915246935645
        bp = dh - t
        dl = ((t - (dh - bp)) + (0.7517915246935645 - bp)) - 1.4956759177009883e-17
        h = -4.0514385281601486e-17
        for coef in (
            -1.3507094681149317e-16,
            1.0789662518230159e-15,
            4.578167824271334e-15,
            -2.5871508475507507e-14,
            -1.3820118240601056e-13,
            5.482292964742324e-13,
            3.725967039270119e-12,
            -9.950340824808053e-12,
            -8.950037692726255e-11,
            1.4506418938779426e-10,
            1.90319840501314e-09,
            -1.396942086426202e-09,
            -3.5459866461783865e-08,
            -1.6044265494246427e-09,
            5.702764979242107e-07,
            4.3284506257392273e-07,
            -7.74846130700372e-06,
            -1.121438018842664e-05,
            8.615947861116571e-05,
            0.00018633974623233514,
            -0.0007448268386746817,
            -0.002239538068073497,
            0.004539228379125415,
            0.019421679838189067,
            -0.014771522148244337,
            -0.1140082332972217,
            -0.018199676398671087,
        ):
            h = h * dh + coef
        y = dh * h  # c2 + d H = u + ul
        u = 0.388284982990552 + y
        bp = u - y
        ul = ((y - (u - bp)) + (0.388284982990552 - bp)) + 2.3344842362524718e-17 + dl * h
        m, me = _two_product(dh, u)  # c1 + d (u + ul) = g + gl
        me += dh * ul + dl * u
        g = 0.4314939923140469 + m
        bp = g - m
        gl = ((m - (g - bp)) + (0.4314939923140469 - bp)) + 2.7308688141129613e-17 + me
        p, pe = _two_product(dh, g)
        return p + (pe + dh * gl + dl * g)
    a = -t
    if a > 40.0:  # a phi(a) < 2**-1075: rounds to -0
        return -0.0
    k = int(500.0 / (a * a)) + 10  # 2**-56 for a >= 1.5 (as _relu_gauss)
    r = 0.0
    while k > 1:
        r = k / (a + r)
        k -= 1
    p, pe = _two_product(a, a)
    w = p - 1.0  # a^2 - 1 = w + wl (Fast2Sum, p > 1)
    wl = ((p - w) - 1.0) + pe
    n, ne = _two_product(a, p)  # a^3 + r (a^2 - 1) = n + nl
    ne += a * pe
    rw, rwe = _two_product(r, w)
    s = n + rw
    nl = ((n - s) + rw) + ne + rwe + r * wl
    ar, are = _two_product(a, r)  # 1 + a^2 + a r = D + Dl
    D = p + ar
    bp = D - p
    Dl = ((p - (D - bp)) + (ar - bp)) + pe + are
    v = D + 1.0
    Dl += (D - v) + 1.0
    E, El = _wexp2(-0.5 * p, 0.5 * pe)  # exp(-a^2/2), then / sqrt(2 pi)
    c, ce = _two_product(E, 0.3989422804014327)
    ce += El * 0.3989422804014327 - E * 2.49232720227773e-17
    M, Me = _two_product(c, s)  # phi (a^3 + r (a^2 - 1)) = M + Ml
    Ml = Me + c * nl + ce * s
    q = M / v
    qp, qe = _two_product(q, v)
    return -(q + ((((M - qp) - qe) + Ml) - q * Dl) / v)


def _lin_hypot(x, m, a):
    """(1 + a) x + hypot(m, (1 - a) x) (SMU-1 times 2).  For (1 + a) x < 0 the two terms cancel
    near the root x = -m/(2 sqrt a); there it is (m^2 - 4 a x^2)/(hypot - (1 + a) x) with the
    numerator in double-double (TwoProduct; its terms come from the exact inputs, so the
    difference of squares keeps 2**-104 relative of its terms) and the positive denominator
    with (1 + a) x in double-double: one division.  The plain sum cost 11 ulp."""
    s = 1.0 + a
    bp = s - a
    sl = (a - (s - bp)) + (1.0 - bp)  # s + sl == 1 + a
    h = math.hypot(m, (1.0 - a) * x)
    # a = 0 (ReLU-like SMU-1) takes the cancellation-free form too (m^2/(hypot - x)); only a
    # tiny nonzero a, whose 4 a x^2 would lose its TwoProduct error below the subnormals, not
    odd = abs(a) > 1e150 or (abs(a) < 1e-280 and a != 0.0)
    odd = odd or abs(x) == math.inf or abs(m) == math.inf
    if odd or not x * s < 0.0:  # no cancellation (a far from 1 in scale, infinities), NaN
        return x * s + h
    sc = 1.0  # keep the squares in range: scale x and m by 2**-600 or 2**600 (exact)
    if abs(x) > 1e150 or abs(m) > 1e150:
        sc = 4.149515568880993e180
    elif abs(x) < 1e-140 and abs(m) < 1e-140:
        sc = 2.409919865102884e-181
    if sc != 1.0:
        x = x / sc
        m = m / sc
        h = math.hypot(m, (1.0 - a) * x)
    p, pl = _two_product(x, s)
    pl += x * sl
    M, Ml = _two_product(m, m)
    X, Xl = _two_product(x, x)
    A, Al = _two_product(4.0 * a, X)
    Al += 4.0 * a * Xl
    n = M - A
    bp = n - M
    nl = ((M - (n - bp)) + (-A - bp)) + (Ml - Al)
    d = h - p  # both terms positive
    bp = d - h
    dl = ((h - (d - bp)) + (-p - bp)) - pl
    q = n / d
    qp, qe = _two_product(q, d)
    return (q + ((((n - qp) - qe) + nl) - q * dl) / d) * sc


def _sinh_ratio(c, x, y):
    """sinh(c x)/(cosh(c x) + cosh(c y)) (c > 0) within ~1 ulp: numerator and denominator
    divided by exp(m)/2, m = max(a, b), a = c|x|, b = c|y| (no overflow).  a, a + b and
    d = a - b = c(|x| - |y|) in double-double (TwoSum, TwoProduct: a rounded c x ~ 700 costs
    ~700 ulp through exp); the exps with their low parts (_wexp2); numerator
    (1 - exp(-2a)) exp(min(d, 0)), denominator 1 + exp(-2m) + exp(-|d|) + exp(-a - b) summed
    in double-double; one division with the remainder formed exactly."""
    if x != x or y != y or c != c:
        return x + y + c
    ax = abs(x)
    ay = abs(y)
    if ax == math.inf:
        return math.nan if ay == math.inf else math.copysign(1.0, x)
    if ay == math.inf:
        return 0.0 * x
    t = ax - ay
    bp = t - ax
    tl = (ax - (t - bp)) + (-ay - bp)  # t + tl == |x| - |y|
    big = ax > 1e290 or c > 1e290
    if big:
        d, dl, a, al, s, sl = c * t, 0.0, c * ax, 0.0, c * (ax + ay), 0.0
    else:
        d, dl = _two_product(c, t)
        dl += c * tl
        a, al = _two_product(c, ax)
        u = ax + ay
        bp = u - ax
        ul = (ax - (u - bp)) + (ay - bp)
        s, sl = _two_product(c, u)
        sl += c * ul
    if d > 0.0:  # m = a: exp(-2m) = exp(-2a)
        m, ml = a, al
    else:  # m = b = a - d
        m = a - d
        bp = m - a
        ml = ((a - (m - bp)) + (-d - bp)) + (al - dl)
    e2, e2l = _wexp2(-2.0 * a, 2.0 * al)  # exp(-2a)
    if a > 1e-3:  # 1 - exp(-2a): e2l is within 2**-66 e2, < 2**-56 n
        n = 1.0 - e2
        nl = ((1.0 - n) - e2) - e2l
    else:  # t - t^2/2 (1 - t/3 + t^2/12 - ...), t = 2a + 2al; truncation < 2**-66
        t = 2.0 * a
        n = t
        nl = -0.5 * t * t * (1.0 - t / 3.0 * (1.0 - 0.25 * t * (1.0 - t / 5.0 * (1.0 - t / 6.0))))
        nl += 2.0 * al * (1.0 - t)
    ed, edl = _wexp2(-abs(d), dl if d > 0.0 else -dl)  # exp(-|d|)
    if d <= 0.0:  # times exp(d) = exp(-|d|)
        p, pe = _two_product(n, ed)
        nl = pe + n * edl + nl * ed
        n = p
    em, eml = _wexp2(-2.0 * m, 2.0 * ml)
    es, esl = _wexp2(-s, sl)
    den = 1.0 + ed  # Fast2Sum each: the partial sum >= 1 >= the term
    dnl = ((1.0 - den) + ed) + edl + eml + esl
    v = den + em
    dnl += (den - v) + em
    den = v + es
    dnl += (v - den) + es
    q = n / den
    p, pe = _two_product(q, den)
    r = q + ((((n - p) - pe) + nl) - q * dnl) / den
    return math.copysign(r, x)


def _log1p2(e, el):
    """log1p(e + el) = t + tl for 0 <= e <= 1 (e + el a double-double, |el| <= ulp(e)), to
    2**-66 relative: for e < 2**-6 the series x - x^2 (1/2 - x/3 + ...) to x^13 (truncation
    < 2**-72 x); else libm t = log1p(e) and one Newton step tl = (1 + x - exp(t))/exp(t)
    (exp(t) = E + El from _wexp2, 1 + e exact by Fast2Sum, s - E exact by Sterbenz; the Newton
    error (tl)^2/2 < 2**-104)."""
    if e < 0.015625:  # Taylor series, x <= 2**-6
        p = 0.07692307692307693
        p = 0.08333333333333333 - e * p
        p = 0.09090909090909091 - e * p
        p = 0.1 - e * p
        p = 0.1111111111111111 - e * p
        p = 0.125 - e * p
        p = 0.14285714285714285 - e * p
        p = 0.16666666666666666 - e * p
        p = 0.2 - e * p
        p = 0.25 - e * p
        p = 0.3333333333333333 - e * p
        p = 0.5 - e * p
        t = e
        tl = el - e * e * p
    else:  # log1p(e) >= 0.0155: the absolute 2**-66 error of exp(t) is 2**-60 relative
        t = math.log1p(e)
        E, El = _wexp2(t, 0.0)
        s = 1.0 + e
        tl = ((s - E) + ((((1.0 - s) + e) + el) - El)) / E
    return t, tl


def _logsumexp2(a0, a1):
    """log(exp(a0) + exp(a1)) = m + log1p(x), m = max, x = exp(min - m), within 0.5 ulp +
    2**-59 relative (plus ~2**-69 absolute where m < 0 cancels log1p: exp(a0) + exp(a1) near
    1, a result near 0; the old form lost 2**-53 there).  x = e + el with the
    difference taken exactly (_wexp2); log1p(x) = t + tl: for e < 2**-6 the series
    x - x^2 (1/2 - x/3 + ...) to x^13 (truncation < 2**-72 x); else libm t = log1p(e) and
    one Newton step tl = (1 + x - exp(t))/exp(t) (exp(t) = E + El from _wexp2, 1 + e exact by
    Fast2Sum, s - E exact by Sterbenz; the Newton error (tl)^2/2 < 2**-104); m + t + tl
    rounded once (TwoSum).  Rounding exp, log1p and the final sum separately costs 1.8 ulp."""
    if a0 != a0 or a1 != a1:
        return math.nan
    m = max(a0, a1)
    if m == math.inf or m == -math.inf:
        return m
    e, el = _wexp2(min(a0, a1), m)
    t, tl = _log1p2(e, el)
    s = m + t
    bp = s - m
    return s + (((m - (s - bp)) + (t - bp)) + tl)
