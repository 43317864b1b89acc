r"""Scalar helpers of the scaled primitives (:mod:`symsmooth.functions.scaling`).

``1/(1 + (a b)^2)`` and the odd-power root ``sign(s) |s|^(1/n)``, ``s = x^n + y^n``, scaled so
that no intermediate power overflows or underflows (the scaling of C99 ``hypot``), with the
products in double-double (``_two_product``, ``_dd_mul``, ``_dd_ipow``).  The rules of
:mod:`symsmooth.runtime.scalar` hold here (``math.*`` and other runtime helpers only; their
source is copied into generated modules).

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
Math. 18 (1971) (TwoProduct, Fast2Sum).  D. E. Knuth, TAOCP vol. 2, 4.2.2 (TwoSum).
N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed. (2002), sec. 27.8
(scaling to avoid overflow, as in hypot).

Examples
--------
>>> _recip1p_sq(1.0, 1e160)
1e-320
>>> _odd_root_sum(1e300, 2e300, 3.0)
2.0800838230519042e+300
"""

from __future__ import annotations

import math

from symsmooth.runtime.double_double import _two_product


def _recip1p_sq(a, b):
    """1/(1 + (a b)^2) within ~0.5 ulp for all a, b (no overflow of the square)."""
    a = abs(a)
    b = abs(b)
    if a < b:
        a, b = b, a
    if not a * b <= 4.149515568880993e180:  # 2**600: 1/(a b)^2 < 2**-1200 rounds to 0; nan
        return 0.0 if a * b == a * b else a * b
    if a > 8.452712498170644e270:  # 2**900 (then b < 2**-300): move 2**600 from a to b, exact
        a = a * 2.409919865102884e-181
        b = b * 4.149515568880993e180
    u, du = _two_product(a, b)  # a b = u + du exactly (a, b < 2**996)
    scale = 1.0
    if u > 2.9073548971824276e135:  # 2**450: 1 + u^2 = u^2 to 2**-900 (and d, q stay inside
        # the Dekker split range below); scale u by 2**-600
        u = u * 2.409919865102884e-181
        du = du * 2.409919865102884e-181
        scale = 2.409919865102884e-181
    p, e = _two_product(u, u)
    e += 2.0 * u * du
    if scale == 1.0:  # d + d_err = 1 + p + e (Fast2Sum of the larger first)
        d = 1.0 + p
        d_err = (((1.0 - d) + p) if p <= 1.0 else ((p - d) + 1.0)) + e
    else:
        d = p
        d_err = e
    q = 1.0 / d
    h, lo = _two_product(d, q)  # one Newton step: q (1 + (1 - d q) - d_err q)
    q = q + q * (((1.0 - h) - lo) - d_err * q)
    return q * scale * scale


def _scaled_ratio(v, m):
    """(t, dt) with t + dt = v/m to ~2**-106 (exact division remainder, Dekker); |v| <= m."""
    if m > 1.0463951242053392e298:  # 2**990: the Dekker split of m would overflow; scale exactly
        v = v * 2.409919865102884e-181
        m = m * 2.409919865102884e-181
    elif m < 1.1830521861667747e-271:  # 2**-900: keep t*m's rounding error representable
        v = v * 4.149515568880993e180
        m = m * 4.149515568880993e180
    t = v / m
    p, e = _two_product(t, m)
    return t, ((v - p) - e) / m


def _dd_mul(ah, al, bh, bl):
    """(ah + al)(bh + bl) as a double-double (Dekker 1971, mul2)."""
    p, e = _two_product(ah, bh)
    e += ah * bl + al * bh
    s = p + e
    return s, e - (s - p)


def _dd_ipow(t, dt, n):
    """(t + dt)^n as a double-double, n a positive integer, |t| <= 1 (binary powering)."""
    rh = 1.0
    rl = 0.0
    bh = t
    bl = dt
    k = int(n)
    while k > 0:
        if k % 2 == 1:
            rh, rl = _dd_mul(rh, rl, bh, bl)
        k = k // 2
        if k > 0:
            bh, bl = _dd_mul(bh, bl, bh, bl)
    return rh, rl


def _odd_root_parts(x, y, n):
    """(m, rh, rl, sg, sa, se, tx, dtx): sign(s) |s|^(1/n) = sg m (rh + rl), s = x^n + y^n =
    sg m^n (sa + se), m = max(|x|, |y|), tx + dtx = x/m.  The powers are double-double (so
    x ~ -y keeps its digits) and the root rh + rl is one Newton step from pow, with r^n formed
    in double-double (quadratic convergence: ~2**-100 relative)."""
    m = max(abs(x), abs(y))
    tx, dtx = _scaled_ratio(x, m)
    ty, dty = _scaled_ratio(y, m)
    px, ex = _dd_ipow(tx, dtx, n)
    py, ey = _dd_ipow(ty, dty, n)
    s = px + py  # TwoSum
    bp = s - px
    s_err = ((px - (s - bp)) + (py - bp)) + (ex + ey)
    sg = 1.0
    if s < 0.0 or (s == 0.0 and s_err < 0.0):
        sg = -1.0
    sa = sg * s
    se = sg * s_err
    if sa == 0.0:
        return m, 0.0, 0.0, sg, 0.0, 0.0, tx, dtx
    # start from sa + se, not sa: at x ~ -y the low part se is a visible fraction of sa
    # (3.7 vs -3.7000000000000006: 8%), which one Newton step from pow(sa) left at 0.6%
    r = math.pow(sa + se, 1.0 / n)
    rn, rne = _dd_ipow(r, 0.0, n)
    dr = r * (((sa - rn) - rne) + se) / (n * rn)  # Newton step on r^n = sa + se
    rh = r + dr
    return m, rh, dr - (rh - r), sg, sa, se, tx, dtx


def _odd_power(n):
    """Whether n is an odd positive integer: the real odd root of x^n + y^n is defined for every
    real x, y only then (a non-integer power of a negative number is not real), so the odd-power
    helpers return NaN otherwise (max_pair_odd_power's domain: k a nonnegative integer)."""
    return n >= 1.0 and n == math.floor(n) and n % 2.0 == 1.0 and n < 9007199254740992.0


def _odd_root_sum(x, y, n):
    """sign(x^n + y^n) |x^n + y^n|^(1/n), n odd, scaled by max(|x|, |y|): no overflow.
    NaN unless n is an odd positive integer (``_odd_power``)."""
    if not _odd_power(n):
        return math.nan
    m = max(abs(x), abs(y))
    if m == 0.0 or m != m or m == math.inf:
        return x + y  # 0, nan, or the infinite argument (nan for inf - inf)
    m, rh, rl, sg, sa, se, tx, dtx = _odd_root_parts(x, y, n)
    scale = 1.0
    if m > 1e290:  # the Dekker split of m would overflow: scale by 2**-600 (exact)
        m = m * 2.409919865102884e-181
        scale = 4.149515568880993e180
    elif m < 1e-289:  # the product's rounding error would underflow: scale by 2**600 (exact)
        m = m * 4.149515568880993e180
        scale = 2.409919865102884e-181
    p, e = _two_product(m, rh)  # m (rh + rl) = p + e + m rl, rounded once
    return sg * ((p + (e + m * rl)) * scale)


def _odd_root_sum_grad(x, y, n):
    """d/dx of _odd_root_sum = (x/f)^(n-1) = (x/m)^(n-1) r / |s'| (n - 1 even), the product
    and quotient in double-double.  NaN unless n is an odd positive integer."""
    if not _odd_power(n):
        return math.nan
    m = max(abs(x), abs(y))
    if m == 0.0 or m != m or m == math.inf:
        return math.nan
    m, rh, rl, sg, sa, se, tx, dtx = _odd_root_parts(x, y, n)
    if sa == 0.0:
        return math.inf
    gh, gl = _dd_ipow(tx, dtx, n - 1.0)
    nh, nl = _dd_mul(gh, gl, rh, rl)
    # the quotient by sa + se, not sa: at x ~ -y, se is a visible fraction of sa and the
    # first-order correction from nh / sa left (se/sa)^2 (0.66% at k = 0, x = -3.7(1 + eps))
    d = sa + se
    q = nh / d
    if not q < 1e290:  # past the Dekker split range (inf included): the rounded quotient
        return q
    h, lo = _two_product(q, sa)  # q + (nh + nl - q (sa + se)) / (sa + se)
    return q + ((((nh - h) - lo) + nl) - q * se) / d


def _recip1p_sq_x(a, b):
    """b/(1 + (a b)^2) without the square's overflow: for |a b| > 2**500 it is 1/(a (a b)) to
    2**-1000 relative (three roundings, ~1.5 ulp), where b * _recip1p_sq(a, b) is 0 once
    (a b)^2 passes 2**1200 (soft_sign_arctan's d/dk at |k x| > 4e180); else that product."""
    p = a * b
    if p != p:
        return p
    if abs(p) > 3.273390607896142e150:  # 2**500
        return 1.0 / (a * p)
    return b * _recip1p_sq(a, b)
