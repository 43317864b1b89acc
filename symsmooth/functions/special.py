r"""Special stable primitives: ``logcosh``, ``hypot`` and ``relu_gauss``.

They extend :mod:`symsmooth.functions.elementary` (same base class: naive rewrite, adaptive
mpmath ``evalf``, NumPy/mpmath ``lambdify`` hooks, registration) for three forms whose
textbook evaluation fails in float64 and which no combination of ``math`` functions repairs
without a regime split:

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

The scalar implementations ``_logcosh`` and ``_relu_gauss`` are runtime functions
(:mod:`symsmooth.runtime.scalar`, ``math.*`` only): the code generator copies their source into
generated modules (so the same text compiles under ``@njit`` and ``@cuda.jit``), and the NumPy
hooks here vectorize the very same functions.

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

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import StablePrimitive, _one_arg
from symsmooth.functions.elementary import Phi
from symsmooth.runtime.scalar import _logcosh, _relu_gauss

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


# --- SymPy classes -------------------------------------------------------------------------------


class logcosh(StablePrimitive):
    """``logcosh(z) = log(cosh z)``, even, ``d/dz = tanh z``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(logcosh(sp.Rational(1, 10**20)), 15)
    5.00000000000000e-41
    >>> logcosh(-sp.Symbol("x"))
    logcosh(x)
    """

    runtime_helper = "logcosh"
    numpy_impl = np_logcosh
    mpmath_impl = mp_logcosh
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


class hypot(StablePrimitive):
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

    runtime_helper = None  # printed as math.hypot
    numpy_impl = np_hypot
    mpmath_impl = mp_hypot
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


class relu_gauss(StablePrimitive):
    """``relu_gauss(t) = t Phi(t) + phi(t)``; ``s relu_gauss(x/s)`` is ReLU * N(0, s^2).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(relu_gauss(-10), 15)
    7.47456025458933e-25
    >>> relu_gauss(0)
    sqrt(2)/(2*sqrt(pi))
    """

    runtime_helper = "relu_gauss"
    numpy_impl = np_relu_gauss
    mpmath_impl = mp_relu_gauss
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
