r"""The vectorizable ``exp``, ``log`` and ``log1p`` (branch-free, no libm calls), as real functions.

Numba lowers ``math.exp`` to a call of the C library's scalar ``exp``; a loop containing such a
call cannot be SIMD-vectorized by LLVM (there is no vector math library here), and it runs
element by element.  The functions below compute the same values from ``+ - * /``, integer
shifts and two bit casts only, with every case split written as a select, so LLVM vectorizes a
loop that calls them (AVX2/AVX-512 on x86).  Each is a ``@njit`` function, callable from
Python and from other jitted code; :mod:`symsmooth.codegen.helpers` copies their source (with
the private imports and the intrinsics) into the CPU section of the generated modules (after the
``math.*`` helpers, which stay as they are for the CUDA target): the modules still import with
only NumPy and Numba installed (the bit casts are Numba intrinsics:
``numba.core.extending.intrinsic`` emitting an LLVM ``bitcast``).  ``_fast_softplus``,
``_fast_sigmoid`` and ``_fast_dsigmoid`` are the hand-written branch-free twins of the scalar
helpers of the same name (:func:`symsmooth.codegen.fastmath.twins`).

Accuracy (float64, measured by ``tests/test_fastmath.py`` against mpmath at 50 digits over the
whole range, subnormals, overflow/underflow edges, +-inf and NaN): at most 1 ulp.  On 4M random
points per range (80-bit long double reference): exp max 0.61 ulp (0.76 for subnormal results:
one rounding of an already rounded value), log max 0.90 ulp and log1p max 0.96 ulp near
``u = 1.28`` (FDLIBM's own bound is "< 1 ulp"); median errors ~0.25 ulp.  Polynomials use
``llvm.fma`` (one instruction on CPUs with FMA; a libm call, still exact, elsewhere).

Beyond the three functions: ``_fexp2`` returns ``exp`` as ``hi + lo`` (the rounding of ``hi``
kept), which ``_fast_softplus`` and ``_fast_sigmoid`` feed into ``_flog1p2`` and an exact
division correction, so the composites stay within 1 ulp; ``_fwexp`` is the branch-free
``_wexp`` of the reductions; ``_okey``/``_ofrom`` map float64 to order-preserving int64 (a
vectorizable max); ``_fsexp`` is the lean ``exp(h - m)`` (``h <= m``, no edge cases, within 1
ulp) of the reductions' fast sum pass and ``_lanes_total`` adds up its compensated lane sums.

* ``_fexp`` (``_fexp2``): Cody-Waite reduction ``x = k ln 2 + r`` with ``ln 2 = ln2_hi + ln2_lo``
  (``ln2_hi`` has 32 significant bits, so ``k ln2_hi`` and ``x - k ln2_hi`` are exact), the
  rounding error of ``r`` kept exactly (TwoSum), ``exp(r) = (1 + r) + r^2 q(r)`` with the
  rounding of ``1 + r`` kept exactly (Fast2Sum) and ``q`` a degree-10 Chebyshev fit of
  ``(exp(r) - 1 - r)/r^2`` on ``|r| <= 0.347`` (fit error 0.003 ulp); the scale ``2^k`` is two
  exact factors ``2^(k>>1) 2^(k - k>>1)``, so results in the subnormal range are rounded once
  and ``exp(709.78)`` does not overflow early.
* ``_flog``: the algorithm and coefficients of FDLIBM ``e_log.c`` (Sun Microsystems, 1993),
  ``log(x) = k ln 2 + log(1 + f)`` with ``s = f/(2 + f)`` and a degree-14 even polynomial;
  both of its branches are computed and selected.
* ``_flog1p``: ``u = fl(1 + x)`` with the rounding error ``c`` kept exactly (TwoSum), then
  ``log(u) + c/u`` with ``c/u`` fed into the low-order part of the same log kernel (the
  correction FDLIBM ``s_log1p.c`` uses).

References
----------
W. J. Cody, W. Waite, *Software Manual for the Elementary Functions*, Prentice-Hall 1980, ch. 6.
P. T. P. Tang, "Table-driven implementation of the exponential function in IEEE floating-point
arithmetic", ACM TOMS 15(2), 1989: reduction with ``ln2_hi + ln2_lo``.
FDLIBM 5.3, ``e_log.c`` and ``s_log1p.c`` (Sun Microsystems, 1993), https://www.netlib.org/fdlibm/.
D. E. Knuth, *TAOCP* vol. 2, 4.2.2 (TwoSum); T. J. Dekker, "A floating-point technique for
extending the available precision", Numer. Math. 18, 1971 (Fast2Sum).
J.-M. Muller et al., *Handbook of Floating-Point Arithmetic*, 2nd ed., 2018, ch. 4 and 10.

Examples
--------
>>> _fexp(0.0), _flog(1.0), _flog1p(0.0), _flog(0.0)
(1.0, 0.0, 0.0, -inf)
>>> _fexp(1.0) == math.exp(1.0)
True
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import types as _types
from numba.core.extending import intrinsic as _intrinsic


@_intrinsic
def _i64_as_f64(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (an LLVM bitcast)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(signature.return_type))

    return _types.float64(_types.int64), codegen


@_intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one instruction on CPUs with FMA, vectorizable)."""

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return _types.float64(_types.float64, _types.float64, _types.float64), codegen


@_intrinsic
def _f64_as_i64(typingctx, value):
    """The IEEE-754 bits of the float64 ``value`` as an int64 (an LLVM bitcast)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(signature.return_type))

    return _types.int64(_types.float64), codegen


@njit(cache=True, error_model="numpy", inline="always")
def _fexp2(x):
    """(hi, lo): exp(x) = hi + lo to ~2**-100 relative (hi within 1 ulp), branch-free
    (symsmooth.codegen.fastmath: Cody-Waite reduction + Chebyshev polynomial)."""
    xc = x if x > -746.0 else -746.0  # exp(-746) < 2**-1075 rounds to 0; NaN is fixed below
    xc = xc if xc < 710.0 else 710.0  # exp(710) > DBL_MAX overflows to inf below
    kf = (xc * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0  # round(x/ln 2)
    hi = xc - kf * 0.6931471803691238  # ln2_hi (32 bits): exact
    lo = kf * 1.9082149292705877e-10  # ln2_lo = ln 2 - ln2_hi
    r = hi - lo
    bp = r - hi
    err = (hi - (r - bp)) + (-lo - bp)  # r + err == hi - lo exactly (TwoSum)
    q = 2.091477283224809e-09
    q = _fma(r, q, 2.510533724466521e-08)
    q = _fma(r, q, 2.755727343657049e-07)
    q = _fma(r, q, 2.755725511097889e-06)
    q = _fma(r, q, 2.480158732571076e-05)
    q = _fma(r, q, 0.00019841269875048905)
    q = _fma(r, q, 0.0013888888888883703)
    q = _fma(r, q, 0.00833333333332607)
    q = _fma(r, q, 0.04166666666666667)
    q = _fma(r, q, 0.1666666666666667)
    q = _fma(r, q, 0.5)  # q(r) = (exp(r) - 1 - r) / r**2, |r| <= 0.347
    s = 1.0 + r
    se = (1.0 - s) + r  # 1 + r == s + se exactly (Fast2Sum)
    t = se + (r * r * q + err * s)
    p = s + t
    p_lo = t - (p - s)  # p + p_lo == s + t exactly (Fast2Sum, |s| >= |t|)
    k = np.int64(kf)
    k1 = k >> 1
    a = _i64_as_f64((k1 + 1023) << 52)
    b = _i64_as_f64((k - k1 + 1023) << 52)
    res = p * a * b
    return (res, p_lo * a * b) if x == x else (x, 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _fexp(x):
    """exp(x) within 1 ulp, branch-free (the high part of _fexp2)."""
    return _fexp2(x)[0]


@njit(cache=True, error_model="numpy", inline="always")
def _flog_core(x, c):
    """log(x) + c for finite x > 0 and |c| <= ulp(x)/x (FDLIBM e_log.c, branch-free)."""
    sub = x < 2.2250738585072014e-308  # subnormal: scale by 2**54 first
    xs = x * 18014398509481984.0 if sub else x
    bits = _f64_as_i64(xs)
    hx = bits >> 32
    k = (hx >> 20) - (1077 if sub else 1023)
    hx = hx & 0xFFFFF
    i = (hx + 0x95F64) & 0x100000  # m = x / 2**k in [sqrt(2)/2, sqrt(2))
    k = k + (i >> 20)
    f = _i64_as_f64(((hx | (i ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF)) - 1.0
    s = f / (2.0 + f)
    dk = np.float64(k)
    z = s * s
    w = z * z
    t1 = _fma(w, _fma(w, 1.531383769920937332e-01, 2.222219843214978396e-01), 0.3999999999940942)
    t1 = w * t1
    t2 = _fma(w, _fma(w, 1.479819860511658591e-01, 1.818357216161805012e-01), 0.2857142874366239)
    t2 = z * _fma(w, t2, 6.666666666666735130e-01)
    R = t2 + t1
    hfsq = 0.5 * f * f
    low = dk * 1.90821492927058770002e-10 + c  # k ln2_lo + c
    big = dk * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + low)) - f)
    small = dk * 6.93147180369123816490e-01 - ((s * (f - R) - low) - f)
    return big if ((hx - 0x6147A) | (0x6B851 - hx)) > 0 else small


@njit(cache=True, error_model="numpy", inline="always")
def _flog(x):
    """log(x) within 1 ulp, branch-free (symsmooth.codegen.fastmath: FDLIBM e_log.c)."""
    res = _flog_core(x, 0.0)
    res = res if x < math.inf else x  # +inf -> inf, NaN -> NaN
    res = res if x >= 0.0 else math.nan
    return res if x != 0.0 else -math.inf


@njit(cache=True, error_model="numpy", inline="always")
def _flog1p2(x, xlo):
    """log(1 + x + xlo) for |xlo| <= ulp(x), branch-free: log(u) + c/u with
    u + c == 1 + x + xlo (TwoSum)."""
    u = 1.0 + x
    bp = u - x
    c = (((x - (u - bp)) + (1.0 - bp)) + xlo) / u
    res = _flog_core(u, c)
    res = res if x < math.inf else x  # +inf -> inf, NaN -> NaN
    res = res if x >= -1.0 else math.nan
    res = res if x != -1.0 else -math.inf
    return res if x != 0.0 else x  # keeps -0.0


@njit(cache=True, error_model="numpy", inline="always")
def _flog1p(x):
    """log(1 + x) within 1 ulp, branch-free (_flog1p2 with no low part)."""
    return _flog1p2(x, 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _fwexp(h, m):
    """_wexp(h, m) (exp(h - m) with h - m taken exactly, same edge cases), branch-free."""
    d = h - m
    bp = d - h
    lo = (h - (d - bp)) + (-m - bp)
    lo = lo if lo - lo == 0.0 else 0.0  # an infinite h or m: no correction
    e = _fexp(d) * (1.0 + lo)
    if_nan = d if h != m else (0.0 if h < 0.0 else 1.0)  # -inf - -inf: 0; inf - inf: 1
    return e if d == d else if_nan


@njit(cache=True, error_model="numpy", inline="always")
def _okey(x):
    """An int64 key ordered like the float64 x (-inf < ... < -0.0 < 0.0 < ... < inf < NaN):
    a max over keys vectorizes where a float max (NaN-aware select) does not."""
    b = _f64_as_i64(x)
    return b ^ ((b >> 63) & 0x7FFFFFFFFFFFFFFF)


@njit(cache=True, error_model="numpy", inline="always")
def _ofrom(key):
    """The float64 of an _okey key."""
    return _i64_as_f64(key ^ ((key >> 63) & 0x7FFFFFFFFFFFFFFF))


@njit(cache=True, error_model="numpy", inline="always")
def _fsexp(h, m):
    """exp(h - m) for the fast pass of a row sum: m finite, h <= m or -inf, never NaN (the
    caller checks).  h - m is taken exactly (TwoSum: exp(d + lo)); lean and branch-free:
    Cody-Waite reduction with the full-precision ln 2 (fma), exp(r) = 1 + r + r**2 q(r),
    the scale 2**k as two exact factors (subnormal results rounded once); within 1 ulp."""
    d = h - m
    bp = d - h
    lo = (h - (d - bp)) + (-m - bp)  # d + lo == h - m exactly
    live = d > -745.5  # exp(-745.5) < 2**-1075 rounds to 0; also h == -inf
    d = d if live else 0.0
    lo = lo if live else 0.0
    kf = (d * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0  # round(d/ln 2)
    r = _fma(kf, -0.6931471805599453, d) + _fma(kf, -2.3190468138462996e-17, lo)
    r2 = r * r
    r4 = r2 * r2
    a0 = _fma(r, 0.16666666666666671, 0.5)  # q(r) = (exp(r) - 1 - r)/r**2 by Estrin's
    a1 = _fma(r, 0.0083333333333261409, 0.04166666666666667)  # scheme: a shorter chain
    a2 = _fma(r, 0.00019841269874800492, 0.0013888888888883752)  # than Horner's, so more
    a3 = _fma(r, 2.7557255425746434e-06, 2.4801587325533364e-05)  # vectors are in flight
    a4 = _fma(r, 2.5105206373957011e-08, 2.7557273661348636e-07)
    b0 = _fma(r2, a1, a0)
    b1 = _fma(r2, a3, a2)
    b2 = _fma(r2, 2.0914679376583935e-09, a4)
    q = _fma(r4 * r4, b2, _fma(r4, b1, b0))  # degree 10, Chebyshev fit on |r| <= 0.347
    p = 1.0 + _fma(r2, q, r)  # exp(r), fit error 2**-62
    k = np.int64(kf)
    k1 = k >> 1
    e = p * _i64_as_f64((k1 + 1023) << 52) * _i64_as_f64((k - k1 + 1023) << 52)
    return e if live else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _lanes_total(acc, err, start):
    """(sum, error) of start + acc[:] + err[:]: the lane sums of a compensated row sum added
    one by one with TwoSum (exact errors, collected with the lanes' own errors)."""
    s = start
    c = 0.0
    for j in range(acc.shape[0]):
        v = acc[j]
        t = s + v
        bp = t - s
        c += ((s - (t - bp)) + (v - bp)) + err[j]
        s = t
    return s, c


@njit(cache=True, error_model="numpy", inline="always")
def _fast_softplus(z):
    """_softplus (same regimes, Maechler 2012), branch-free: log1p(exp(z)) for z <= 18, else
    z + exp(-z); one fast exp and one fast log1p."""
    small = z <= 18.0
    e, e_lo = _fexp2(z if small else -z)
    a = _flog1p2(e, e_lo)  # the low part of exp keeps its rounding out of the log
    return a if small else z + e


@njit(cache=True, error_model="numpy", inline="always")
def _fast_sigmoid(z):
    """_sigmoid (1/(1 + exp(-|z|)) with the rounding of the sum fed back), branch-free."""
    e, e_lo = _fexp2(-abs(z))
    s = 1.0 + e
    err = ((1.0 - s) + e) + e_lo  # s + err == 1 + e + e_lo
    pos = z >= 0.0
    num = 1.0 if pos else e
    q = num / s
    rem = _fma(-q, s, num) + (0.0 if pos else e_lo)  # num + num_lo - q s, exactly up to e_lo
    res = q + (rem - q * err) / s
    return res if res == res else q  # +-inf: rem is NaN, q is the limit


@njit(cache=True, error_model="numpy", inline="always")
def _fast_dsigmoid(z):
    """_dsigmoid (e/(1 + e)^2, e = exp(-|z|), one division of double-double operands),
    branch-free: the square of 1 + e and the division remainder exact by fma."""
    e, e_lo = _fexp2(-abs(z))
    s = 1.0 + e
    err = ((1.0 - s) + e) + e_lo  # s + err == 1 + e + e_lo
    S = s * s
    S_lo = _fma(s, s, -S) + 2.0 * s * err  # S + S_lo == (1 + e + e_lo)^2 to ~2**-104
    q = e / S
    rem = _fma(-q, S, e) + e_lo  # e + e_lo - q S
    res = q + (rem - q * S_lo) / S
    return res if res == res else q  # NaN z: q is NaN too


@njit(cache=True, error_model="numpy", inline="always")
def _fast_softplus2(z, zl):
    """_softplus2 (softplus(z + zl), zl the low part of an exact argument), branch-free:
    _fast_softplus plus the first-order term zl sigmoid(z) (|zl| <= ulp(z)/2)."""
    small = z <= 18.0
    e, e_lo = _fexp2(z if small else -z)
    a = _flog1p2(e, e_lo)
    sig = (e if small else 1.0) / (1.0 + e)
    return a + zl * sig if small else z + (e + zl * sig)


@njit(cache=True, error_model="numpy", inline="always")
def _fast_sigmoid2(p, q):
    """_sigmoid2 (sigmoid(p + q), the sum taken exactly by TwoSum), branch-free: the low part
    zl of the sum enters exp(-|z + zl|) = e (1 -+ zl) through e_lo."""
    z = p + q
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    zl = zl if zl == zl else 0.0  # an infinite operand
    pos = z >= 0.0
    e, e_lo = _fexp2(-abs(z))
    e_lo = e_lo - e * (zl if pos else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + e_lo
    num = 1.0 if pos else e
    q = num / s
    rem = _fma(-q, s, num) + (0.0 if pos else e_lo)
    res = q + (rem - q * err) / s
    return res if res == res else q


@njit(cache=True, error_model="numpy", inline="always")
def _fast_dsigmoid2(z, zl):
    """_dsigmoid2 (dsigmoid(z + zl)), branch-free: as _fast_dsigmoid with exp(-|z + zl|) =
    e (1 -+ zl) through e_lo."""
    e, e_lo = _fexp2(-abs(z))
    e_lo = e_lo - e * (zl if z >= 0.0 else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + e_lo
    S = s * s
    S_lo = _fma(s, s, -S) + 2.0 * s * err
    q = e / S
    rem = _fma(-q, S, e) + e_lo
    res = q + (rem - q * S_lo) / S
    return res if res == res else q


@njit(cache=True, error_model="numpy", inline="always")
def _fast_softplus_xp(a, b):
    """_softplus_xp, branch-free: the product's low part by fma (exact), 0 where not finite."""
    p = a * b
    pl = _fma(a, b, -p)
    return _fast_softplus2(p, pl if pl - pl == 0.0 else 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _fast_silu_xd(a, b):
    """_silu_xd, branch-free: b times the exact-product sigmoid; below a b = -700 (where
    that sigmoid is near or below the normal range) b 2**-64 exp(a b + 64 ln 2) instead, as
    the helper (the sum exact, 64 ln 2's low part and the product's added to the exponent's
    low part), both computed and one selected so the loop vectorizes."""
    p = a * b
    pl = _fma(a, b, -p)
    pl = pl if pl - pl == 0.0 else 0.0
    e, el = _fexp2(p + 44.36141955573112)
    tail = (b * e + b * (el + e * (pl + 1.0538207733054133e-10))) * 5.421010862427522e-20
    body = b * _fast_sigmoid_xp(a, b)
    return tail if p < -700.0 else body


@njit(cache=True, error_model="numpy", inline="always")
def _fast_sigmoid_pp(a, b, c, d):
    """_sigmoid_pp, branch-free: the products exact by fma, their sum by TwoSum, the low
    parts added to the sum's (_fast_sigmoid2 takes the pair)."""
    p = a * b
    pl = _fma(a, b, -p)
    q = c * d
    ql = _fma(c, d, -q)
    z = p + q
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    low = (pl if pl - pl == 0.0 else 0.0) + (ql if ql - ql == 0.0 else 0.0)
    return _fast_sigmoid2(z, (zl if zl == zl else 0.0) + low)


@njit(cache=True, error_model="numpy", inline="always")
def _fast_sigmoid_xp(a, b):
    """_sigmoid_xp, branch-free: _fast_sigmoid2 of the exact product p + pl = a b (fma; the
    TwoSum there leaves the pair exact)."""
    p = a * b
    pl = _fma(a, b, -p)
    return _fast_sigmoid2(p, pl if pl - pl == 0.0 else 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _fast_dsigmoid_xp(a, b):
    """_dsigmoid_xp, branch-free (the product's low part by fma)."""
    p = a * b
    pl = _fma(a, b, -p)
    return _fast_dsigmoid2(p, pl if pl - pl == 0.0 else 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _fast_softplus_xd(a, b):
    """_softplus_xd (softplus(a b)/a), branch-free: _fast_softplus of the exact product (fma)
    with its first-order term, divided with the remainder by fma."""
    z = a * b
    zl = _fma(a, b, -z)
    zl = zl if zl - zl == 0.0 else 0.0
    small = z <= 18.0
    e, e_lo = _fexp2(z if small else -z)
    t = _flog1p2(e, e_lo) if small else z
    sig = (e if small else 1.0) / (1.0 + e)
    tl = zl * sig if small else e + zl * sig
    q = t / a
    res = q + (_fma(-q, a, t) + tl) / a
    return res if res - res == 0.0 else q
