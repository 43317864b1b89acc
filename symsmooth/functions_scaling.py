r"""Scaled stable primitives: ``recip1p_sq``, ``odd_root_sum`` and ``odd_root_sum_grad``.

Forms whose textbook evaluation overflows or underflows in an intermediate power although the
result is an ordinary float64:

* ``recip1p_sq(a, b) = 1/(1 + (a b)^2)`` (the derivative of ``atan(a b)``, Cauchy kernel):
  ``(a b)^2`` overflows for ``|a b| > 1.3e154`` (result 0 instead of ``1/(a b)^2``).  The product
  ``u = a b`` and ``u^2`` are formed exactly (Dekker TwoProduct), ``1 + u^2`` with its rounding
  error (Fast2Sum) and the reciprocal with one Newton correction (within ~0.5 ulp).  Above
  ``u = 2^450`` the ``1`` is below 2^-900 of ``u^2``: ``u`` is scaled by 2^-600 (exact), and the
  result by 2^-1200 in two exact-then-rounded steps (a subnormal result is rounded once).
* ``odd_root_sum(x, y, n) = sign(s) |s|^(1/n)``, ``s = x^n + y^n``, ``n`` odd (the odd-power
  smooth max): ``x^n`` overflows for ``|x| > 1.8e308^(1/n)`` and underflows for small ``|x|``.
  With ``m = max(|x|, |y|)`` it is ``m sign(s') |s'|^(1/n)``, ``s' = (x/m)^n + (y/m)^n`` in
  ``[-2, 2]`` (the scaling of C99 ``hypot``, Higham 2002 sec. 27.8).  The quotients ``x/m`` are
  kept with their exact remainders, ``s'`` with its rounding error (TwoSum) and the root is
  refined by one Newton step.
* ``odd_root_sum_grad(x, y, n) = (x/f)^(n-1)`` with ``f = odd_root_sum(x, y, n)``, i.e.
  ``d f/dx``, evaluated as ``(x/m)^(n-1) r/|s'|`` (``r = |s'|^(1/n)``) from the same parts, so
  the rounding of ``f`` is not raised to the power ``n - 1``.

The scalar implementations use ``math.*`` only (plus ``_two_product`` of
:mod:`symsmooth.codegen.helpers_dd`); :mod:`symsmooth.codegen.helpers_scaling` emits their
source into generated modules, where it compiles under ``@njit`` and ``@cuda.jit``.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
Math. 18 (1971) (TwoProduct, Fast2Sum).  D. E. Knuth, TAOCP vol. 2, 4.2.2 (TwoSum).
N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed. (2002), sec. 27.8
(scaling to avoid overflow, as in hypot).  ISO C99 7.12.7.3 (hypot).

Examples
--------
>>> import sympy as sp
>>> a, b, x, y = sp.symbols("a b x y", real=True)
>>> recip1p_sq(a, b).rewrite("naive")
1/(a**2*b**2 + 1)
>>> sp.diff(odd_root_sum(x, y, 3), x)
odd_root_sum_grad(x, y, 3)
>>> float(np_recip1p_sq(1.0, 1e160))
1e-320
>>> float(np_odd_root_sum(1e300, 2e300, 3.0))
2.0800838230519042e+300
"""

from __future__ import annotations

import math

import mpmath
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions_special import (
    MPMATH_SPECIAL,
    NUMPY_SPECIAL,
    SPECIAL_PRIMITIVES,
    SpecialPrimitive,
    helper_ufunc,
)


def _two_product(a, b):
    """(p, e), p + e == a*b exactly (Dekker 1971): the Python twin of the emitted helper
    ``symsmooth.codegen.helpers_dd.TWO_PRODUCT`` (generated modules carry that text)."""
    p = a * b
    t = 134217729.0 * a
    ahi = t - (t - a)
    alo = a - ahi
    t = 134217729.0 * b
    bhi = t - (t - b)
    blo = b - bhi
    return p, ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo


# --- scalar implementations (math.* only; emitted verbatim into generated modules) -----------


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
    r = math.pow(sa, 1.0 / n)
    rn, rne = _dd_ipow(r, 0.0, n)
    dr = r * (((sa - rn) - rne) + se) / (n * rn)  # Newton step on r^n = sa + se
    rh = r + dr
    return m, rh, dr - (rh - r), sg, sa, se, tx, dtx


def _odd_root_sum(x, y, n):
    """sign(x^n + y^n) |x^n + y^n|^(1/n), n odd, scaled by max(|x|, |y|): no overflow."""
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
    and quotient in double-double."""
    m = max(abs(x), abs(y))
    if m == 0.0 or m != m or m == math.inf:
        return math.nan
    m, rh, rl, sg, sa, se, tx, dtx = _odd_root_parts(x, y, n)
    if sa == 0.0:
        return math.inf
    gh, gl = _dd_ipow(tx, dtx, n - 1.0)
    nh, nl = _dd_mul(gh, gl, rh, rl)
    q = nh / sa
    if not q < 1e290:  # past the Dekker split range (inf included): the rounded quotient
        return q
    h, lo = _two_product(q, sa)  # q + (nh + nl - q (sa + se)) / sa
    return q + ((((nh - h) - lo) + nl) - q * se) / sa


# --- mpmath and NumPy -------------------------------------------------------------------------


def mp_recip1p_sq(a, b) -> mpmath.mpf:
    """``1/(1 + (a b)^2)`` in mpmath (unbounded exponent range)."""
    u = mpmath.mpf(a) * mpmath.mpf(b)
    return 1 / (1 + u * u)


def _mp_odd_root(s, n):
    n = int(n)
    return mpmath.sign(s) * abs(s) ** (mpmath.mpf(1) / n) if s else mpmath.mpf(0)


def mp_odd_root_sum(x, y, n) -> mpmath.mpf:
    """``sign(s) |s|^(1/n)``, ``s = x^n + y^n``, in mpmath (``n`` an odd integer)."""
    k = int(n)
    return _mp_odd_root(mpmath.mpf(x) ** k + mpmath.mpf(y) ** k, k)


def mp_odd_root_sum_grad(x, y, n) -> mpmath.mpf:
    """``(x/f)^(n-1)`` with ``f = odd_root_sum(x, y, n)`` in mpmath."""
    k = int(n)
    f = mp_odd_root_sum(x, y, n)
    return (mpmath.mpf(x) / f) ** (k - 1)


def np_recip1p_sq(a, b):
    """NumPy ``1/(1 + (a b)^2)`` (the helper vectorized)."""
    return helper_ufunc("recip1p_sq")(a, b)[()]


def np_odd_root_sum(x, y, n):
    """NumPy odd-power root of ``x^n + y^n`` (the helper vectorized)."""
    return helper_ufunc("odd_root_sum")(x, y, n)[()]


def np_odd_root_sum_grad(x, y, n):
    """NumPy ``(x/f)^(n-1)`` (the helper vectorized)."""
    return helper_ufunc("odd_root_sum_grad")(x, y, n)[()]


NUMPY_SCALING = {
    "recip1p_sq": np_recip1p_sq,
    "odd_root_sum": np_odd_root_sum,
    "odd_root_sum_grad": np_odd_root_sum_grad,
}
MPMATH_SCALING = {
    "recip1p_sq": mp_recip1p_sq,
    "odd_root_sum": mp_odd_root_sum,
    "odd_root_sum_grad": mp_odd_root_sum_grad,
}


# --- SymPy classes -----------------------------------------------------------------------------


class ScalingPrimitive(SpecialPrimitive):
    """A :class:`~symsmooth.functions_special.SpecialPrimitive` differentiated through its
    naive form (the derivative of a scaled form is the derivative of the formula)."""

    def _naive_diff(self, argindex: int) -> sp.Expr:
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        d = sp.Dummy(real=True)
        args = list(self.args)
        args[argindex - 1] = d
        return sp.diff(self._naive(*args), d).subs(d, self.args[argindex - 1])


class recip1p_sq(ScalingPrimitive):
    """``recip1p_sq(a, b) = 1/(1 + (a b)^2)`` without overflow of the square.

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", real=True)
    >>> sp.diff(recip1p_sq(a, b), a)
    -2*a*b**2*recip1p_sq(a, b)**2
    >>> sp.N(recip1p_sq(2, 10**200), 5)
    2.5000e-401
    """

    nargs = 2

    @classmethod
    def eval(cls, a, b):
        ordered = tuple(sorted((a, b), key=sp.default_sort_key))
        return cls(*ordered) if ordered != (a, b) else None

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise ArgumentIndexError(self, argindex)
        a, b = self.args
        other = b if argindex == 1 else a
        return -2 * self.args[argindex - 1] * other**2 * self**2

    def _naive(self, a, b):
        return 1 / (1 + a**2 * b**2)

    def _eval_is_positive(self):
        return all(a.is_real for a in self.args) or None


class odd_root_sum(ScalingPrimitive):
    """``odd_root_sum(x, y, n) = sign(x^n + y^n) |x^n + y^n|^(1/n)``, ``n`` an odd integer.

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> odd_root_sum(x, y, 3).rewrite("naive")
    Abs(x**3 + y**3)**(1/3)*sign(x**3 + y**3)
    >>> sp.N(odd_root_sum(10**300, -2 * 10**300, 3), 8)
    -1.9129312e+300
    """

    nargs = 3

    def fdiff(self, argindex=1):
        x, y, n = self.args
        if argindex == 1:
            return odd_root_sum_grad(x, y, n)
        if argindex == 2:
            return odd_root_sum_grad(y, x, n)
        return self._naive_diff(argindex)

    def _naive(self, x, y, n):
        s = x**n + y**n
        return sp.Abs(s) ** (1 / n) * sp.sign(s)


class odd_root_sum_grad(ScalingPrimitive):
    """``odd_root_sum_grad(x, y, n) = (x / odd_root_sum(x, y, n))^(n - 1)`` (``d/dx``).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(odd_root_sum_grad(1, 1, 3), 10)
    0.6299605249
    """

    nargs = 3

    def fdiff(self, argindex=1):
        return self._naive_diff(argindex)

    def _naive(self, x, y, n):
        s = x**n + y**n
        return (x / (sp.Abs(s) ** (1 / n) * sp.sign(s))) ** (n - 1)


SCALING_PRIMITIVES = {cls.__name__: cls for cls in (recip1p_sq, odd_root_sum, odd_root_sum_grad)}
"""Name -> class (the printer maps each to the helper of the same name)."""
SPECIAL_PRIMITIVES.update(SCALING_PRIMITIVES)
NUMPY_SPECIAL.update(NUMPY_SCALING)
MPMATH_SPECIAL.update(MPMATH_SCALING)
