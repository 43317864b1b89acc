"""Stable numeric implementations of the primitives, for NumPy, ``math`` and mpmath.

One implementation per backend and primitive, all through formulas that neither overflow nor
lose the small tail:

* ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``; ``log_sigmoid(z) = -softplus(-z)``;
* ``sigmoid(z) = 1/(1 + e)`` for ``z >= 0`` and ``e/(1 + e)`` otherwise, ``e = exp(-|z|)``;
* ``log1mexp(z) = log(-expm1(z))`` for ``z > -log 2``, else ``log1p(-exp(z))`` (Maechler 2012);
* ``logsumexp(x1..xn) = m + log1p(sum_{i != i*} exp(xi - m))`` with ``m = x_{i*} = max xi``
  (the maximal term is left out of the sum so that a tiny remainder is not rounded away);
* ``Phi(z) = erfc(-z/sqrt 2)/2`` (no cancellation in the lower tail), ``phi`` the density.

The SymPy classes of :mod:`symsmooth.functions.elementary` name these as their
``numpy_impl``/``mpmath_impl`` and print calls to these (``_numpycode``,
``_scipycode`` and ``_mpmathcode`` printer hooks), so ``sp.lambdify(args, expr, "numpy")`` and
``sp.lambdify(args, expr, "mpmath")`` just work. For ``modules="math"`` pass
``modules=[MATH_MODULE, "math"]``.  The NumPy functions keep float32 as float32, broadcast,
and return ``inf``/``-inf``/``nan`` at the limits without raising warnings.

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette, 2012.
N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002 (sec. 1.14).
LogExpFunctions.jl: ``log1pexp``, ``logistic``, ``log1mexp``, ``logsumexp`` (one-pass, max kept
out of the sum).

Examples
--------
>>> import numpy as np
>>> np_softplus(np.array([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.6931471805599453, 1000.0]
>>> float(np_logsumexp(0.0, -40.0))  # log1p keeps the 4.2e-18
4.248354255291589e-18
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any

import mpmath
import numpy as np

LN2 = math.log(2.0)
"""Switch point of :func:`log1mexp` between its two formulas (Maechler 2012, eq. 7)."""

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --- NumPy -----------------------------------------------------------------------------------


def _float(z: Any) -> np.ndarray:
    """``z`` as a floating array (integers become float64, float32 stays float32)."""
    a = np.asarray(z)
    return a if np.issubdtype(a.dtype, np.inexact) else a.astype(np.float64)


def np_softplus(z: Any) -> Any:
    """Stable ``log(1 + exp(z))`` (NumPy's ``logaddexp(0, z)``)."""
    return np.logaddexp(0, _float(z))[()]


def np_log_sigmoid(z: Any) -> Any:
    """Stable ``log(1 / (1 + exp(-z)))`` = ``-softplus(-z)``."""
    return -np.logaddexp(0, -_float(z))[()]


def np_sigmoid(z: Any) -> Any:
    """Stable logistic function: ``exp`` only ever sees ``-|z|``."""
    z = _float(z)
    e = np.exp(-np.abs(z))
    return (np.where(z >= 0, 1, e) / (1 + e))[()]


def np_log1mexp(z: Any) -> Any:
    """Stable ``log(1 - exp(z))`` for ``z <= 0`` (``nan`` for ``z > 0``)."""
    z = _float(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(z > -LN2, np.log(-np.expm1(z)), np.log1p(-np.exp(z)))[()]


def np_logsumexp(*xs: Any) -> Any:
    """Elementwise ``log(sum_i exp(xs[i]))`` over broadcast arguments, max-shifted."""
    if not xs:
        return -np.inf
    arrays = np.broadcast_arrays(*[_float(x) for x in xs])
    m = reduce(np.maximum, arrays)
    finite = np.isfinite(m)
    shift = np.where(finite, m, 0)
    rest = np.zeros_like(shift)
    taken = np.zeros(shift.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for a in arrays:
            is_max = (a == m) & ~taken
            taken |= is_max
            rest += np.where(is_max, 0, np.exp(a - shift))
        return np.where(finite, shift + np.log1p(rest), m)[()]


def np_Phi(z: Any) -> Any:
    """Standard normal CDF via ``erfc`` (SciPy's ``ndtr`` when SciPy is installed)."""
    z = _float(z)
    try:
        from scipy.special import ndtr
    except ImportError:  # pragma: no cover - SciPy is a test dependency
        return np.vectorize(py_Phi, otypes=[z.dtype])(z)[()]
    return ndtr(z)[()]


def np_phi(z: Any) -> Any:
    """Standard normal density ``exp(-z^2/2)/sqrt(2 pi)``."""
    z = _float(z)
    return (np.exp(-0.5 * z * z) * z.dtype.type(_INV_SQRT_2PI))[()]


# --- math (Python floats) ----------------------------------------------------------------------


def py_softplus(z: float) -> float:
    """Stable ``log(1 + exp(z))`` for a Python float."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def py_log_sigmoid(z: float) -> float:
    """Stable ``log(sigmoid(z))`` for a Python float."""
    return -py_softplus(-z)


def py_sigmoid(z: float) -> float:
    """Stable logistic function for a Python float."""
    e = math.exp(-abs(z))
    return (1.0 if z >= 0 else e) / (1.0 + e)


def py_log1mexp(z: float) -> float:
    """Stable ``log(1 - exp(z))`` for a Python float (``-inf`` at 0, ``nan`` above)."""
    if z > 0 or math.isnan(z):
        return math.nan
    if z == 0:
        return -math.inf
    return math.log(-math.expm1(z)) if z > -LN2 else math.log1p(-math.exp(z))


def py_logsumexp(*xs: float) -> float:
    """Stable ``log(sum exp(xs))`` for Python floats."""
    return _shifted_logsumexp(xs, math.exp, math.log1p, math.isfinite, -math.inf)


def py_Phi(z: float) -> float:
    """Standard normal CDF for a Python float, ``erfc(-z/sqrt 2)/2``."""
    return 0.5 * math.erfc(-z / _SQRT2)


def py_phi(z: float) -> float:
    """Standard normal density for a Python float."""
    return math.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _shifted_logsumexp(xs, exp, log1p, isfinite, neg_inf):
    """``m + log1p(sum of exp(x - m) over all terms but one maximal one)``."""
    if not xs:
        return neg_inf
    if any(x != x for x in xs):
        return xs[[x != x for x in xs].index(True)]
    m = max(xs)
    if not isfinite(m):
        return m
    i_max = list(xs).index(m)
    return m + log1p(sum(exp(x - m) for i, x in enumerate(xs) if i != i_max))


# --- mpmath (current working precision) --------------------------------------------------------


def mp_softplus(z: Any) -> mpmath.mpf:
    """``log(1 + exp(z))`` in mpmath, no overflow, full relative precision."""
    z = mpmath.mpf(z)
    return max(z, 0) + mpmath.log1p(mpmath.exp(-abs(z)))


def mp_log_sigmoid(z: Any) -> mpmath.mpf:
    """``log(sigmoid(z)) = -softplus(-z)`` in mpmath."""
    return -mp_softplus(-mpmath.mpf(z))


def mp_sigmoid(z: Any) -> mpmath.mpf:
    """Logistic function in mpmath (``exp`` only of ``-|z|``)."""
    z = mpmath.mpf(z)
    e = mpmath.exp(-abs(z))
    return (1 if z >= 0 else e) / (1 + e)


def mp_log1mexp(z: Any) -> mpmath.mpf:
    """``log(1 - exp(z))`` in mpmath (``-inf`` at 0, ``nan`` for ``z > 0``)."""
    z = mpmath.mpf(z)
    if z > 0 or mpmath.isnan(z):
        return mpmath.nan
    if z > -LN2:
        return mpmath.log(-mpmath.expm1(z))
    return mpmath.log1p(-mpmath.exp(z))


def mp_logsumexp(*xs: Any) -> mpmath.mpf:
    """``log(sum exp(xs))`` in mpmath, max-shifted with ``log1p``."""
    xs = tuple(mpmath.mpf(x) for x in xs)
    return _shifted_logsumexp(xs, mpmath.exp, mpmath.log1p, mpmath.isfinite, mpmath.mpf("-inf"))


def mp_Phi(z: Any) -> mpmath.mpf:
    """Standard normal CDF in mpmath (``mpmath.ncdf`` uses ``erfc`` in the lower tail)."""
    return mpmath.ncdf(mpmath.mpf(z))


def mp_phi(z: Any) -> mpmath.mpf:
    """Standard normal density in mpmath."""
    return mpmath.npdf(mpmath.mpf(z))
