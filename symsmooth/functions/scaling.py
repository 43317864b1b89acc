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

The scalar implementations are runtime functions (:mod:`symsmooth.runtime.scaling`, ``math.*``
and ``_two_product`` only): the code generator copies their source into generated modules,
where it compiles under ``@njit`` and ``@cuda.jit``, and the NumPy hooks here vectorize them.

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

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import StablePrimitive
from symsmooth.runtime.scaling import (
    _odd_root_sum,
    _odd_root_sum_grad,
    _recip1p_sq,
    _recip1p_sq_x,
)

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


_np_recip1p_sq = np.vectorize(_recip1p_sq, otypes=[np.float64])
_np_odd_root_sum = np.vectorize(_odd_root_sum, otypes=[np.float64])
_np_odd_root_sum_grad = np.vectorize(_odd_root_sum_grad, otypes=[np.float64])


def np_recip1p_sq(a, b):
    """NumPy ``1/(1 + (a b)^2)`` (the helper vectorized)."""
    return _np_recip1p_sq(a, b)[()]


def np_odd_root_sum(x, y, n):
    """NumPy odd-power root of ``x^n + y^n`` (the helper vectorized)."""
    return _np_odd_root_sum(x, y, n)[()]


def np_odd_root_sum_grad(x, y, n):
    """NumPy ``(x/f)^(n-1)`` (the helper vectorized)."""
    return _np_odd_root_sum_grad(x, y, n)[()]


# --- SymPy classes -----------------------------------------------------------------------------


class ScalingPrimitive(StablePrimitive):
    """A :class:`~symsmooth.functions.base.StablePrimitive` differentiated through its
    naive form (the derivative of a scaled form is the derivative of the formula)."""

    _abstract = True

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

    runtime_helper = "recip1p_sq"
    numpy_impl = np_recip1p_sq
    mpmath_impl = mp_recip1p_sq
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

    runtime_helper = "odd_root_sum"
    numpy_impl = np_odd_root_sum
    mpmath_impl = mp_odd_root_sum
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

    runtime_helper = "odd_root_sum_grad"
    numpy_impl = np_odd_root_sum_grad
    mpmath_impl = mp_odd_root_sum_grad
    nargs = 3

    def fdiff(self, argindex=1):
        return self._naive_diff(argindex)

    def _naive(self, x, y, n):
        s = x**n + y**n
        return (x / (sp.Abs(s) ** (1 / n) * sp.sign(s))) ** (n - 1)


class recip1p_sq_x(StablePrimitive):
    """``recip1p_sq_x(a, b) = b/(1 + (a b)^2)``: ``b recip1p_sq(a, b)`` without the square's
    overflow (``1/(a (a b))`` once ``|a b| > 2**500``).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(recip1p_sq_x(1, 10**300), 5)
    1.0000e-300
    """

    runtime_helper = "recip1p_sq_x"
    numpy_impl = np.vectorize(_recip1p_sq_x, otypes=[np.float64])
    mpmath_impl = staticmethod(lambda a, b: mpmath.mpf(b) / (1 + (mpmath.mpf(a) * b) ** 2))
    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return sp.diff(b * recip1p_sq(a, b), self.args[argindex - 1])

    def _naive(self, a, b):
        return b / (1 + a**2 * b**2)


def fuse_scaled(expr: sp.Expr) -> sp.Expr:
    """Every product ``b recip1p_sq(a, b)`` (``b`` one of its arguments) as ``recip1p_sq_x(a,
    b)``: the parameter partial of soft_sign_arctan, ``2 x recip1p_sq(k, x)/pi``, is 0 once
    ``(k x)^2`` overflows although ``2/(pi k^2 x)`` is a normal double.

    >>> k, x = sp.symbols("k x", real=True)
    >>> fuse_scaled(2 * x * recip1p_sq(k, x) / sp.pi)
    2*recip1p_sq_x(k, x)/pi
    """

    def fuse(node):
        if not isinstance(node, sp.Mul):
            return node
        factors = list(node.args)
        for f in factors:
            if isinstance(f, recip1p_sq):
                for a, b in (f.args, f.args[::-1]):
                    if b in factors:
                        factors.remove(f)
                        factors.remove(b)
                        return sp.Mul(recip1p_sq_x(a, b), *factors)
        return node

    return expr.replace(lambda n: isinstance(n, sp.Mul), fuse)
