"""The double-exponential log-sum-exp ``log(log(e^(e^u) + e^(e^v)))`` as one primitive.

``max_pair_double_exp`` (article 1, eq (14)) is ``loglse_exp(k x, k y)/k``.  Written with
``logsumexp(exp(u), exp(v))`` it overflows once ``max(u, v) > 709.78`` (``exp(u) = inf``) although
the result, about ``max(u, v)``, is finite; the helpers ``_loglse_exp`` and ``_dloglse_exp``
(:mod:`symsmooth.runtime.scalar`) take it in log space,
``m + log1p(e^-m log1p(exp(e^v - e^u)))`` with ``e^v - e^u = -exp(m + log(-expm1(v - u)))``.
The rule ``double_exp`` (:mod:`symsmooth.stabilization.double_exp`) introduces it.

Examples
--------
>>> import sympy as sp
>>> u, v = sp.symbols("u v", real=True)
>>> sp.diff(loglse_exp(u, v), v)
dloglse_exp(v, u)
>>> sp.N(loglse_exp(1000, 0), 20)
1000.0000000000000000
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import StablePrimitive
from symsmooth.runtime.scalar import _dloglse_exp, _loglse_exp

_np_loglse_exp = np.vectorize(_loglse_exp, otypes=[np.float64])
_np_dloglse_exp = np.vectorize(_dloglse_exp, otypes=[np.float64])


def np_loglse_exp(u, v):
    """NumPy ``loglse_exp``: the runtime helper, vectorized."""
    return _np_loglse_exp(u, v)


def np_dloglse_exp(u, v):
    """NumPy ``dloglse_exp``: the runtime helper, vectorized."""
    return _np_dloglse_exp(u, v)


def mp_loglse_exp(u, v) -> mpmath.mpf:
    """``log(log(exp(exp(u)) + exp(exp(v))))`` in mpmath (its exponent range is unbounded)."""
    u, v = mpmath.mpf(u), mpmath.mpf(v)
    return mpmath.log(mpmath.log(mpmath.exp(mpmath.exp(u)) + mpmath.exp(mpmath.exp(v))))


def mp_dloglse_exp(u, v) -> mpmath.mpf:
    """``exp(u) exp(exp(u)) / ((exp(exp(u)) + exp(exp(v))) log(...))`` in mpmath."""
    u, v = mpmath.mpf(u), mpmath.mpf(v)
    a, b = mpmath.exp(mpmath.exp(u)), mpmath.exp(mpmath.exp(v))
    return mpmath.exp(u) * a / ((a + b) * mpmath.log(a + b))


class loglse_exp(StablePrimitive):
    """``loglse_exp(u, v) = log(log(exp(exp(u)) + exp(exp(v))))``, helper ``_loglse_exp``.

    Examples
    --------
    >>> import sympy as sp
    >>> u = sp.Symbol("u", real=True)
    >>> loglse_exp(u, u).rewrite("naive")
    log(log(2*exp(exp(u))))
    """

    runtime_helper = "loglse_exp"
    numpy_impl = np_loglse_exp
    mpmath_impl = mp_loglse_exp
    nargs = 2

    def fdiff(self, argindex=1):
        u, v = self.args
        if argindex == 1:
            return dloglse_exp(u, v)
        if argindex == 2:
            return dloglse_exp(v, u)
        raise ArgumentIndexError(self, argindex)

    def _naive(self, u, v):
        return sp.log(sp.log(sp.exp(sp.exp(u)) + sp.exp(sp.exp(v))))


class dloglse_exp(StablePrimitive):
    """``d/du loglse_exp(u, v) = exp(u - loglse_exp(u, v)) sigmoid(e^u - e^v)``, helper
    ``_dloglse_exp`` (``e^u - e^v`` formed without ``inf - inf``).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(dloglse_exp(800, 800), 15)
    0.500000000000000
    """

    runtime_helper = "dloglse_exp"
    numpy_impl = np_dloglse_exp
    mpmath_impl = mp_dloglse_exp
    nargs = 2

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise ArgumentIndexError(self, argindex)
        return sp.diff(self._naive(*self.args), self.args[argindex - 1])

    def _naive(self, u, v):
        a, b = sp.exp(sp.exp(u)), sp.exp(sp.exp(v))
        return sp.exp(u) * a / ((a + b) * sp.log(a + b))
