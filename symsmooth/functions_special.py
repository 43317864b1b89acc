r"""Special stable primitives: ``logcosh``, ``hypot`` and ``relu_gauss``.

They extend :mod:`symsmooth.functions` (same base class: naive rewrite, adaptive mpmath
``evalf``, NumPy/mpmath ``lambdify`` hooks) for three forms whose textbook evaluation fails in
float64 and which no combination of ``math`` functions repairs without a regime split:

* ``logcosh(z) = log(cosh z)``: ``cosh`` overflows for ``|z| > 710`` and rounds to 1 for
  ``|z| < 1.5e-8`` (result 0 instead of ``z^2/2``).  Evaluated as ``log1p(2 sinh(|z|/2)^2)``
  for ``|z| <= 1`` (``cosh z - 1 = 2 sinh^2(z/2)`` has no cancellation) and as
  ``|z| - log 2 + log1p(exp(-2|z|))`` above (no overflow; the log 2 subtraction is done in two
  parts so it is exact to ~1e-32).  ``d/dz = tanh z``.
* ``hypot(a, b) = sqrt(a^2 + b^2)`` without the overflow of the squares (C99 ``hypot``,
  ``math.hypot``).  ``d/da = a / hypot(a, b)``.
* ``relu_gauss(t) = t Phi(t) + phi(t)`` (the expected positive part ``E[(t + Z)+]``,
  ReLU smoothed by a Gaussian divided by its width).  For ``t < 0`` the two terms cancel
  (the result is ``phi(t)/t^2 (1 - 3/t^2 + ...)``, a factor ``t^2`` below them).  Written
  ``phi(t) g(a)`` with ``a = -t`` and ``g(a) = 1 - a R(a)``, ``R`` the Mills ratio
  ``Q(a)/phi(a)``: for ``a > 1.5`` from the Laplace continued fraction
  ``R(a) = 1/(a + 1/(a + 2/(a + 3/(a + ...))))`` in the form ``g = K/(a + K)``,
  ``K = 1/(a + 2/(a + 3/(a + ...)))`` (all terms positive: no cancellation); for
  ``0 <= a <= 1.5`` from a degree-22 polynomial fit of ``1/g`` (Chebyshev nodes, mpmath at 60
  digits) whose two leading steps are done in double-double.  ``d/dt = Phi(t)``.

The scalar implementations ``_logcosh`` and ``_relu_gauss`` use ``math.*`` only; their source
is what :mod:`symsmooth.codegen.helpers` emits into generated modules (so the same text
compiles under ``@njit`` and ``@cuda.jit``), and the NumPy hooks vectorize them.

References
----------
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 26.2.2 (phi),
26.2.29 (Phi), 26.2.14 (Laplace continued fraction of the Mills ratio); 4.5.24 (cosh - 1).
W. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969).
ISO C99 7.12.7.3 (hypot).  M. Maechler, "Accurately computing log(1 - exp(-|a|))" (2012) for
the ``log1p(exp(-2|z|))`` tail.

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> sp.diff(logcosh(z), z), sp.diff(relu_gauss(z), z)
(tanh(z), Phi(z))
>>> logcosh(z).rewrite("naive")
log(cosh(z))
>>> _logcosh(1e-10), _logcosh(1000.0)
(5.0000000000000005e-21, 999.3068528194401)
>>> print(f"{_relu_gauss(-30.0):.15e}")
1.631956734091401e-199
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions import Phi, StablePrimitive, _one_arg, phi

# --- scalar implementations (math.* only; emitted verbatim into generated modules) -----------


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


# --- mpmath (current working precision) and NumPy ----------------------------------------------


def mp_logcosh(z) -> mpmath.mpf:
    """``log(cosh z)`` in mpmath without cancellation at small ``z`` or overflow."""
    a = abs(mpmath.mpf(z))
    if a <= 1:
        return mpmath.log1p(2 * mpmath.sinh(a / 2) ** 2)
    return a - mpmath.log(2) + mpmath.log1p(mpmath.exp(-2 * a))


def mp_hypot(a, b) -> mpmath.mpf:
    """``sqrt(a^2 + b^2)`` in mpmath."""
    return mpmath.hypot(mpmath.mpf(a), mpmath.mpf(b))


def mp_relu_gauss(t) -> mpmath.mpf:
    """``t Phi(t) + phi(t)`` in mpmath, with guard digits for the cancellation at ``t < 0``."""
    t = mpmath.mpf(t)
    extra = int(2 * mpmath.log(1 + t * t, 2)) + 10 if t < 0 else 10
    with mpmath.extraprec(extra):
        value = t * mpmath.ncdf(t) + mpmath.npdf(t)
    return +value


def mp_dsigmoid(z) -> mpmath.mpf:
    """``sigmoid(z) sigmoid(-z) = e/(1 + e)^2``, ``e = exp(-|z|)``, in mpmath."""
    e = mpmath.exp(-abs(mpmath.mpf(z)))
    return e / (1 + e) ** 2


def mp_sinh_ratio(c, x, y) -> mpmath.mpf:
    """``sinh(c x)/(cosh(c x) + cosh(c y))`` in mpmath (unbounded exponent range)."""
    a, b = mpmath.mpf(c) * mpmath.mpf(x), mpmath.mpf(c) * mpmath.mpf(y)
    return mpmath.sinh(a) / (mpmath.cosh(a) + mpmath.cosh(b))


def np_sinh_ratio(c, x, y):
    """NumPy ``sinh(c x)/(cosh(c x) + cosh(c y))`` divided by ``exp(max(c|x|, c|y|))/2``."""
    a, b = np.abs(c * x), np.abs(c * y)
    m = np.maximum(a, b)
    num = -np.expm1(-2 * a) * np.exp(a - m) * np.sign(x)
    return (num / (1 + np.exp(-2 * m) + np.exp(-np.abs(a - b)) + np.exp(-a - b)))[()]


def mp_dswish(z) -> mpmath.mpf:
    """``sigmoid(z) + z dsigmoid(z)`` in mpmath (guard digits for the root at z = -1.278)."""
    with mpmath.extraprec(64):
        z = mpmath.mpf(z)
        value = mpmath.mpf(1) / (1 + mpmath.exp(-z)) + z * mp_dsigmoid(z)
    return +value


@functools.cache
def _dswish_scalar():
    """The generated helper ``_dswish`` (symsmooth.codegen.helpers: double-double ``1 + z + e``
    near the root ``z = -1.2785``), executed from its emitted text and vectorized."""
    from symsmooth.codegen.helpers import resolve

    namespace = {"math": math}
    for h in resolve(["dswish"]):
        exec(h.source, namespace)
    return np.vectorize(namespace["_dswish"], otypes=[np.float64])


def np_dswish(z):
    """NumPy ``sigmoid(z) + z dsigmoid(z)``: the helper ``_dswish`` vectorized (a float64
    formula of rounded terms cancels near the root ``z = -1.2785``)."""
    return _dswish_scalar()(z)[()]


def mp_derf(a, b) -> mpmath.mpf:
    """``erf'(a b) = 2/sqrt(pi) exp(-(a b)^2)`` in mpmath (the product exact at working
    precision)."""
    u = mpmath.mpf(a) * mpmath.mpf(b)
    return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(u**2))


def np_derf(a, b):
    """NumPy ``2/sqrt(pi) exp(-(a b)^2)``: the helper ``_derf`` vectorized (a rounded
    ``(a b)^2`` costs ``(a b)^2`` relative ulps through ``exp``)."""
    return _helper_ufunc("derf")(a, b)[()]


def mp_dgelu(t) -> mpmath.mpf:
    """``Phi(t) + t phi(t)`` in mpmath (guard digits for the root at ``t = -0.7518``)."""
    with mpmath.extraprec(64):
        t = mpmath.mpf(t)
        value = mpmath.ncdf(t) + t * mpmath.npdf(t)
    return +value


@functools.cache
def _helper_ufunc(name: str):
    """The generated helper ``_name`` executed from its emitted text and vectorized."""
    from symsmooth.codegen.helpers import resolve

    namespace = {"math": math}
    for h in resolve([name]):
        exec(h.source, namespace)
    return np.vectorize(namespace[f"_{name}"], otypes=[np.float64])


def np_dgelu(t):
    """NumPy ``Phi(t) + t phi(t)``: the helper ``_dgelu`` vectorized (the float64 sum of the
    two rounded terms cancels near ``t = -0.7518``)."""
    return _helper_ufunc("dgelu")(t)[()]


def mp_lin_hypot(x, m, a) -> mpmath.mpf:
    """``(1 + a) x + hypot(m, (1 - a) x)`` in mpmath (guard digits for the root)."""
    with mpmath.extraprec(64):
        x, m, a = mpmath.mpf(x), mpmath.mpf(m), mpmath.mpf(a)
        value = (1 + a) * x + mpmath.hypot(m, (1 - a) * x)
    return +value


def np_lin_hypot(x, m, a):
    """NumPy ``(1 + a) x + hypot(m, (1 - a) x)``: the helper ``_lin_hypot`` vectorized (the
    plain sum cancels near ``x = -m/(2 sqrt a)``)."""
    return _helper_ufunc("lin_hypot")(x, m, a)[()]


def np_dsigmoid(z):
    """NumPy ``sigmoid(z) sigmoid(-z)`` as ``e/(1 + e)^2``, ``e = exp(-|z|)`` (no overflow)."""
    e = np.exp(-np.abs(z))
    return (e / (1 + e) ** 2)[()]


_np_logcosh = np.vectorize(_logcosh, otypes=[np.float64])
_np_relu_gauss = np.vectorize(_relu_gauss, otypes=[np.float64])


def np_logcosh(z):
    """NumPy ``log(cosh z)`` (the scalar kernel vectorized)."""
    return _np_logcosh(z)[()]


def np_hypot(a, b):
    """NumPy ``hypot``."""
    return np.hypot(a, b)[()]


def np_relu_gauss(t):
    """NumPy ``t Phi(t) + phi(t)`` (the scalar kernel vectorized)."""
    return _np_relu_gauss(t)[()]


NUMPY_SPECIAL = {
    "logcosh": np_logcosh,
    "hypot": np_hypot,
    "relu_gauss": np_relu_gauss,
    "dsigmoid": np_dsigmoid,
    "sinh_ratio": np_sinh_ratio,
    "dswish": np_dswish,
    "derf": np_derf,
    "dgelu": np_dgelu,
    "lin_hypot": np_lin_hypot,
}
MPMATH_SPECIAL = {
    "logcosh": mp_logcosh,
    "hypot": mp_hypot,
    "relu_gauss": mp_relu_gauss,
    "dsigmoid": mp_dsigmoid,
    "sinh_ratio": mp_sinh_ratio,
    "dswish": mp_dswish,
    "derf": mp_derf,
    "dgelu": mp_dgelu,
    "lin_hypot": mp_lin_hypot,
}


# --- SymPy classes -------------------------------------------------------------------------------


class SpecialPrimitive(StablePrimitive):
    """A :class:`StablePrimitive` whose implementations live in this module."""

    def _value(self, wp: int):
        from symsmooth.functions import _mp

        with mpmath.workprec(wp):
            values = [_mp(a, wp) for a in self.args]
            if any(v is None for v in values):
                return None
            return mpmath.mpf(MPMATH_SPECIAL[type(self).__name__](*values))

    def _call(self, printer, impl) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        return f"{printer._module_format(f'symsmooth.functions_special.{impl.__name__}')}({args})"

    def _numpycode(self, printer) -> str:
        return self._call(printer, NUMPY_SPECIAL[type(self).__name__])

    _scipycode = _numpycode

    def _mpmathcode(self, printer) -> str:
        return self._call(printer, MPMATH_SPECIAL[type(self).__name__])


class logcosh(SpecialPrimitive):
    """``logcosh(z) = log(cosh z)``, even, ``d/dz = tanh z``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(logcosh(sp.Rational(1, 10**20)), 15)
    5.00000000000000e-41
    >>> logcosh(-sp.Symbol("x"))
    logcosh(x)
    """

    nargs = 1
    latex_name = r"\log\cosh"

    def fdiff(self, argindex=1):
        return sp.tanh(_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        if z.could_extract_minus_sign():
            return cls(-z)
        return {sp.S.Zero: sp.S.Zero, sp.oo: sp.oo, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return sp.log(sp.cosh(z))

    def _eval_is_nonnegative(self):
        return self.args[0].is_real or None


class hypot(SpecialPrimitive):
    """``hypot(a, b) = sqrt(a^2 + b^2)`` without overflow (prints as ``math.hypot``).

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", real=True)
    >>> sp.diff(hypot(a, b), a)
    a/hypot(a, b)
    >>> sp.N(hypot(3, 4))
    5.00000000000000
    """

    nargs = 2

    @classmethod
    def eval(cls, a, b):
        ordered = tuple(sorted((a, b), key=sp.default_sort_key))
        return cls(*ordered) if ordered != (a, b) else None

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise ArgumentIndexError(self, argindex)
        return self.args[argindex - 1] / self

    def _naive(self, a, b):
        return sp.sqrt(a**2 + b**2)

    def _eval_is_nonnegative(self):
        return all(a.is_real for a in self.args) or None


class relu_gauss(SpecialPrimitive):
    """``relu_gauss(t) = t Phi(t) + phi(t)``; ``s relu_gauss(x/s)`` is ReLU * N(0, s^2).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(relu_gauss(-10), 15)
    7.47456025458933e-25
    >>> relu_gauss(0)
    sqrt(2)/(2*sqrt(pi))
    """

    nargs = 1

    def fdiff(self, argindex=1):
        return Phi(_one_arg(self, argindex))

    @classmethod
    def eval(cls, t):
        special = {sp.S.Zero: 1 / sp.sqrt(2 * sp.pi), sp.oo: sp.oo, -sp.oo: sp.S.Zero}
        return {**special, sp.nan: sp.nan}.get(t)

    def _naive(self, t):
        return t * (1 + sp.erf(t / sp.sqrt(2))) / 2 + sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi)

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class dsigmoid(SpecialPrimitive):
    """``dsigmoid(z) = sigmoid(z) sigmoid(-z) = sigmoid'(z)``, even; one rounding in float64
    (helper ``_dsigmoid``) where the product of two sigmoids rounds three times.
    ``d/dz = -tanh(z/2) dsigmoid(z)`` (``1 - 2 sigmoid(z) = -tanh(z/2)``, no cancellation).

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> dsigmoid(-z), dsigmoid(0)
    (dsigmoid(z), 1/4)
    >>> sp.N(dsigmoid(800), 15)
    3.66787458417769e-348
    """

    nargs = 1

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return -sp.tanh(z / 2) * dsigmoid(z)

    @classmethod
    def eval(cls, z):
        if z.could_extract_minus_sign():
            return cls(-z)
        special = {sp.S.Zero: sp.Rational(1, 4), sp.oo: sp.S.Zero, -sp.oo: sp.S.Zero}
        return {**special, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return sp.exp(-z) / (1 + sp.exp(-z)) ** 2

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class dswish(SpecialPrimitive):
    """``dswish(z) = sigmoid(z) + z dsigmoid(z) = d/dz z sigmoid(z)`` (the swish gradient);
    one rounding in float64 (helper ``_dswish``) where the sum of the two rounded terms cancels
    near the root ``z = -1.2785`` (3 ulp measured).
    ``d/dz = dsigmoid(z) (2 - z tanh(z/2))`` (``sigmoid'' = -tanh(z/2) sigmoid'``).

    Examples
    --------
    >>> import sympy as sp
    >>> dswish(0), dswish(sp.oo), dswish(-sp.oo)
    (1/2, 1, 0)
    >>> sp.N(dswish(1), 15)
    0.927670511871487
    """

    nargs = 1

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return dsigmoid(z) * (2 - z * sp.tanh(z / 2))

    @classmethod
    def eval(cls, z):
        special = {sp.S.Zero: sp.S.Half, sp.oo: sp.S.One, -sp.oo: sp.S.Zero}
        return {**special, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return 1 / (1 + sp.exp(-z)) + z * sp.exp(-z) / (1 + sp.exp(-z)) ** 2


class derf(SpecialPrimitive):
    """``derf(a, b) = erf'(a b) = 2/sqrt(pi) exp(-(a b)^2)``, the gradient of ``erf(a b)`` per
    unit of ``a b``; symmetric in ``a, b`` and even in each.  The helper ``_derf`` forms
    ``a b`` and its square exactly (TwoProduct): ``exp`` multiplies the relative rounding of
    ``(a b)^2`` by ``(a b)^2`` (88 ulp measured at ``a b ~ 20`` in soft_sign_erf).

    Examples
    --------
    >>> import sympy as sp
    >>> k, x = sp.symbols("k x", real=True)
    >>> derf(x, k), derf(k, -x), derf(0, x)
    (derf(k, x), derf(k, x), 2/sqrt(pi))
    >>> sp.diff(derf(k, x), x)
    -2*k**2*x*derf(k, x)
    >>> sp.N(derf(4, 5), 15)
    2.16103747438680e-174
    """

    nargs = 2

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise ArgumentIndexError(self, argindex)
        a, b = self.args if argindex == 1 else self.args[::-1]
        return -2 * a * b**2 * self

    @classmethod
    def eval(cls, a, b):
        if a.is_zero or b.is_zero:
            return 2 / sp.sqrt(sp.pi)
        args = [-t if t.could_extract_minus_sign() else t for t in (a, b)]
        ordered = sorted(args, key=sp.default_sort_key)
        return cls(*ordered) if tuple(ordered) != (a, b) else None

    def _naive(self, a, b):
        return 2 * sp.exp(-(a**2) * b**2) / sp.sqrt(sp.pi)

    def _eval_is_positive(self):
        return all(t.is_real for t in self.args) or None


class dgelu(SpecialPrimitive):
    """``dgelu(t) = Phi(t) + t phi(t) = d/dt t Phi(t)`` (the GELU gradient); one rounding in
    float64 (helper ``_dgelu``) where the sum of the two rounded terms cancels near the root
    ``t = -0.7518`` (13.6 ulp measured in gelu).  ``d/dt = phi(t) (2 - t^2)``.

    Examples
    --------
    >>> import sympy as sp
    >>> t = sp.Symbol("t", real=True)
    >>> dgelu(0), dgelu(sp.oo), dgelu(-sp.oo), sp.diff(dgelu(t), t)
    (1/2, 1, 0, (2 - t**2)*phi(t))
    >>> sp.N(dgelu(-3), 15)
    -0.0119456472041839
    """

    nargs = 1

    def fdiff(self, argindex=1):
        t = _one_arg(self, argindex)
        return phi(t) * (2 - t**2)

    @classmethod
    def eval(cls, t):
        special = {sp.S.Zero: sp.S.Half, sp.oo: sp.S.One, -sp.oo: sp.S.Zero}
        return {**special, sp.nan: sp.nan}.get(t)

    def _naive(self, t):
        return (1 + sp.erf(t / sp.sqrt(2))) / 2 + t * sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi)


class lin_hypot(SpecialPrimitive):
    """``lin_hypot(x, m, a) = (1 + a) x + hypot(m, (1 - a) x)`` (twice SMU-1).  The helper
    ``_lin_hypot`` uses ``(m^2 - 4 a x^2)/(hypot - (1 + a) x)`` where ``(1 + a) x < 0``: the
    plain sum cancels near the root ``x = -m/(2 sqrt a)`` (11 ulp measured in smu1).

    Examples
    --------
    >>> import sympy as sp
    >>> x, m, a = sp.symbols("x m a", real=True)
    >>> sp.diff(lin_hypot(x, m, a), x)
    a + x*(1 - a)**2/sqrt(m**2 + x**2*(1 - a)**2) + 1
    >>> sp.N(lin_hypot(-1, 1, sp.Rational(1, 4)), 15)
    0
    """

    nargs = 3

    def fdiff(self, argindex=1):
        if argindex not in (1, 2, 3):
            raise ArgumentIndexError(self, argindex)
        return sp.diff(self._naive(*self.args), self.args[argindex - 1])

    def _naive(self, x, m, a):
        return (1 + a) * x + sp.sqrt(m**2 + ((1 - a) * x) ** 2)


class sinh_ratio(SpecialPrimitive):
    """``sinh_ratio(c, x, y) = sinh(c x)/(cosh(c x) + cosh(c y))``: the gradient of the pair
    logsumexp ``log(2 cosh(c x) + 2 cosh(c y))/c`` in ``x``.  Helper ``_sinh_ratio``: divided
    by ``exp(max(c|x|, c|y|))/2`` (no overflow), ``c x`` and ``c (|x| - |y|)`` in
    double-double (the rounding of a product ``c x ~ 700`` costs ~700 ulp in ``exp``), the
    four positive denominator terms summed with their low parts, one division.

    Examples
    --------
    >>> import sympy as sp
    >>> c, x, y = sp.symbols("c x y", real=True)
    >>> sinh_ratio(c, -x, y), sinh_ratio(c, x, -y), sinh_ratio(c, 0, y)
    (-sinh_ratio(c, x, y), sinh_ratio(c, x, y), 0)
    >>> sp.N(sinh_ratio(2, 400, 401), 15)
    0.119202922022118
    """

    nargs = 3

    def fdiff(self, argindex=1):
        if argindex not in (1, 2, 3):
            raise ArgumentIndexError(self, argindex)
        return sp.diff(self._naive(*self.args), self.args[argindex - 1])

    @classmethod
    def eval(cls, c, x, y):
        if x.is_zero:
            return sp.S.Zero
        if x.could_extract_minus_sign():
            return -cls(c, -x, y)
        if y.could_extract_minus_sign():
            return cls(c, x, -y)
        return None

    def _naive(self, c, x, y):
        u, v = c * x, c * y
        return (sp.exp(u) - sp.exp(-u)) / (sp.exp(u) + sp.exp(-u) + sp.exp(v) + sp.exp(-v))


SPECIAL_PRIMITIVES = {
    cls.__name__: cls
    for cls in (logcosh, hypot, relu_gauss, dsigmoid, sinh_ratio, dswish, derf, dgelu, lin_hypot)
}
"""Name -> class (the printer maps ``logcosh``/``relu_gauss`` to helpers, ``hypot`` to
``math.hypot``)."""
