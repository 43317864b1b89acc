r"""Fused stable primitives: forms that round once where their textbook sums round badly.

Each is produced by a rule of the rule set ``accuracy`` (:mod:`symsmooth.stabilization.accuracy`)
and printed as a call of a runtime function (:mod:`symsmooth.runtime.double_double`) that keeps
the cancelling part in double-double and rounds once:

* ``dsigmoid(z) = sigmoid(z) sigmoid(-z)`` (``e/(1 + e)^2``, ``e = exp(-|z|)``);
* ``dswish(z) = sigmoid(z) + z dsigmoid(z)`` (root at ``z = -1.2785``);
* ``derf(a, b) = 2/sqrt(pi) exp(-(a b)^2)`` (``(a b)^2`` formed exactly);
* ``dgelu(t) = Phi(t) + t phi(t)`` (root at ``t = -0.7518``);
* ``lin_hypot(x, m, a) = (1 + a) x + hypot(m, (1 - a) x)`` (root at ``x = -m/(2 sqrt a)``);
* ``sinh_ratio(c, x, y) = sinh(c x)/(cosh(c x) + cosh(c y))`` (no overflow, no rounded LSE).

They share :class:`~symsmooth.functions.base.StablePrimitive` (naive rewrite, adaptive
mpmath ``evalf``, NumPy/mpmath ``lambdify`` hooks) and name their runtime helper and their
NumPy and mpmath implementations in their class bodies; the NumPy implementations of
``dswish``, ``derf``, ``dgelu`` and ``lin_hypot`` vectorize the runtime functions themselves.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer. Math.
18 (1971) (TwoProduct, Fast2Sum).  M. Abramowitz, I. A. Stegun, *Handbook of Mathematical
Functions* (1964), 26.2 (Phi, phi).

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> dsigmoid(z).rewrite("naive")
exp(-z)/(1 + exp(-z))**2
>>> sp.diff(dsigmoid(z), z)
-tanh(z/2)*dsigmoid(z)
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import StablePrimitive, _one_arg
from symsmooth.functions.elementary import phi
from symsmooth.runtime.double_double import _derf, _dgelu, _dswish, _lin_hypot, _silu

# --- mpmath (current working precision) and NumPy ----------------------------------------------

_np_dswish = np.vectorize(_dswish, otypes=[np.float64])
_np_silu = np.vectorize(_silu, otypes=[np.float64])
_np_derf = np.vectorize(_derf, otypes=[np.float64])
_np_dgelu = np.vectorize(_dgelu, otypes=[np.float64])
_np_lin_hypot = np.vectorize(_lin_hypot, otypes=[np.float64])


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


def np_dswish(z):
    """NumPy ``sigmoid(z) + z dsigmoid(z)``: the helper ``_dswish`` vectorized (a float64
    formula of rounded terms cancels near the root ``z = -1.2785``)."""
    return _np_dswish(z)[()]


def mp_silu(z) -> mpmath.mpf:
    """``z sigmoid(z)`` in mpmath."""
    z = mpmath.mpf(z)
    return z / (1 + mpmath.exp(-z))


def np_silu(z):
    """NumPy ``z sigmoid(z)``: the helper ``_silu`` vectorized (one rounding; subnormal results
    from the exponential form)."""
    return _np_silu(z)[()]


def mp_derf(a, b) -> mpmath.mpf:
    """``erf'(a b) = 2/sqrt(pi) exp(-(a b)^2)`` in mpmath (the product exact at working
    precision)."""
    u = mpmath.mpf(a) * mpmath.mpf(b)
    return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(u**2))


def np_derf(a, b):
    """NumPy ``2/sqrt(pi) exp(-(a b)^2)``: the helper ``_derf`` vectorized (a rounded
    ``(a b)^2`` costs ``(a b)^2`` relative ulps through ``exp``)."""
    return _np_derf(a, b)[()]


def mp_dgelu(t) -> mpmath.mpf:
    """``Phi(t) + t phi(t)`` in mpmath (guard digits for the root at ``t = -0.7518``)."""
    with mpmath.extraprec(64):
        t = mpmath.mpf(t)
        value = mpmath.ncdf(t) + t * mpmath.npdf(t)
    return +value


def np_dgelu(t):
    """NumPy ``Phi(t) + t phi(t)``: the helper ``_dgelu`` vectorized (the float64 sum of the
    two rounded terms cancels near ``t = -0.7518``)."""
    return _np_dgelu(t)[()]


def mp_lin_hypot(x, m, a) -> mpmath.mpf:
    """``(1 + a) x + hypot(m, (1 - a) x)`` in mpmath (guard digits for the root)."""
    with mpmath.extraprec(64):
        x, m, a = mpmath.mpf(x), mpmath.mpf(m), mpmath.mpf(a)
        value = (1 + a) * x + mpmath.hypot(m, (1 - a) * x)
    return +value


def np_lin_hypot(x, m, a):
    """NumPy ``(1 + a) x + hypot(m, (1 - a) x)``: the helper ``_lin_hypot`` vectorized (the
    plain sum cancels near ``x = -m/(2 sqrt a)``)."""
    return _np_lin_hypot(x, m, a)[()]


def np_dsigmoid(z):
    """NumPy ``sigmoid(z) sigmoid(-z)`` as ``e/(1 + e)^2``, ``e = exp(-|z|)`` (no overflow)."""
    e = np.exp(-np.abs(z))
    return (e / (1 + e) ** 2)[()]


# --- SymPy classes ---------------------------------------------------------------------------


class dsigmoid(StablePrimitive):
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

    runtime_helper = "dsigmoid"
    numpy_impl = np_dsigmoid
    mpmath_impl = mp_dsigmoid
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


class silu(StablePrimitive):
    """``silu(z) = z sigmoid(z)``: the swish ``x sigmoid(k x) = silu(k x)/k`` (Elfwing et al.
    2018; Ramachandran et al. 2017), rounded once (helper ``_silu``; ``x * sigmoid(k x)``
    rounds twice, 1.5 ulp, and loses 321 ulp on subnormal results).  ``d/dz = dswish(z)``.

    Examples
    --------
    >>> import sympy as sp
    >>> silu(0), silu(sp.oo), silu(-sp.oo)
    (0, oo, 0)
    >>> sp.N(silu(1), 15)
    0.731058578630005
    """

    runtime_helper = "silu"
    numpy_impl = np_silu
    mpmath_impl = mp_silu
    nargs = 1

    def fdiff(self, argindex=1):
        return dswish(_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        special = {sp.S.Zero: sp.S.Zero, sp.oo: sp.oo, -sp.oo: sp.S.Zero}
        return {**special, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return z / (1 + sp.exp(-z))


class dswish(StablePrimitive):
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

    runtime_helper = "dswish"
    numpy_impl = np_dswish
    mpmath_impl = mp_dswish
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


class derf(StablePrimitive):
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

    runtime_helper = "derf"
    numpy_impl = np_derf
    mpmath_impl = mp_derf
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


class dgelu(StablePrimitive):
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

    runtime_helper = "dgelu"
    numpy_impl = np_dgelu
    mpmath_impl = mp_dgelu
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


class lin_hypot(StablePrimitive):
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

    runtime_helper = "lin_hypot"
    numpy_impl = np_lin_hypot
    mpmath_impl = mp_lin_hypot
    nargs = 3

    def fdiff(self, argindex=1):
        if argindex not in (1, 2, 3):
            raise ArgumentIndexError(self, argindex)
        return sp.diff(self._naive(*self.args), self.args[argindex - 1])

    def _naive(self, x, m, a):
        return (1 + a) * x + sp.sqrt(m**2 + ((1 - a) * x) ** 2)


class sinh_ratio(StablePrimitive):
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

    runtime_helper = "sinh_ratio"
    numpy_impl = np_sinh_ratio
    mpmath_impl = mp_sinh_ratio
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
