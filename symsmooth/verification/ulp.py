"""Distance in units in the last place (ulps) between computed floats and exact references.

``ulp(r)`` is the spacing of the binary format at the exact value ``r``:
``2**(max(floor(log2|r|), emin) - p + 1)`` (p = 53, emin = -1022 for float64; p = 24,
emin = -126 for float32), so subnormal results are measured in the smallest subnormal.
A correctly rounded result is within 0.5 ulp.

Special values: a NaN reference (the exact function is undefined there, e.g. 0/0 or inf - inf)
counts 0 whatever the kernel returns (the kernels document their semantics there); equal
infinities count 0; an infinity (or NaN) that the
reference does not have counts ``inf``; a finite reference beyond the largest finite number
counts 0 when the computed value is the matching infinity (it overflows correctly).

References
----------
J.-M. Muller, "On the definition of ulp(x)", INRIA RR-5504 (2005): the "Goldberg" ulp used here.

Examples
--------
>>> import mpmath, numpy as np
>>> ulp_errors(np.array([1.0, np.nextafter(1.0, 2.0)]), [mpmath.mpf(1), mpmath.mpf(1)])
array([0., 1.])
>>> float(ulp(mpmath.mpf(1), np.float32))
1.1920928955078125e-07
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mpmath
import numpy as np

FORMATS = {np.dtype(np.float64): (53, -1022), np.dtype(np.float32): (24, -126)}


def ulp(reference, dtype=np.float64) -> mpmath.mpf:
    """The ulp of ``dtype`` at the exact value ``reference``."""
    precision, emin = FORMATS[np.dtype(dtype)]
    r = reference if isinstance(reference, mpmath.mpf) else mpmath.mpf(reference)
    if r == 0:
        exponent = emin
    else:
        _, man, exp, bits = r._mpf_  # |r| = man * 2**exp exactly, man has `bits` bits
        exponent = max(int(exp) + int(bits) - 1, emin)  # floor(log2 |r|), no re-rounding
    return mpmath.ldexp(mpmath.mpf(1), exponent - precision + 1)


def ulp_error(computed: float, reference, dtype=np.float64) -> float:
    """``|computed - reference| / ulp(reference)`` with the special-value rules above."""
    c = float(computed)
    r = mpmath.mpf(reference) if not isinstance(reference, mpmath.mpf) else reference
    if mpmath.isnan(r):
        return 0.0
    if np.isnan(c):
        return float("inf")
    if mpmath.isinf(r):
        return 0.0 if (np.isinf(c) and (c > 0) == (r > 0)) else float("inf")
    biggest = float(np.finfo(dtype).max)
    if np.isinf(c):
        overflows = abs(r) >= mpmath.mpf(biggest) + ulp(biggest, dtype) / 2
        return 0.0 if overflows and (c > 0) == (r > 0) else float("inf")
    with mpmath.workprec(max(mpmath.mp.prec, 128)):
        return float(abs(mpmath.mpf(c) - r) / ulp(r, dtype))


def _finite_error(c: float, r: mpmath.mpf, precision: int, emin: int) -> float:
    """:func:`ulp_error` of a finite ``c`` at a finite ``r``: ``|c - r|`` scaled by the power of
    two ``1 / ulp(r)`` (exact), at the working precision of the caller."""
    _, man, exp, bits = r._mpf_
    exponent = max(int(exp) + int(bits) - 1, emin) if man else emin
    return float(mpmath.ldexp(abs(mpmath.mpf(c) - r), precision - 1 - exponent))


def ulp_errors(computed: np.ndarray, references: Sequence, dtype=None) -> np.ndarray:
    """Element-wise :func:`ulp_error` (``dtype`` defaults to ``computed.dtype``).

    Finite pairs take a short path with the same arithmetic (one subtraction at >= 128 bits,
    an exact power-of-two scaling): a row map's long row has 10^5 of them."""
    computed = np.asarray(computed)
    dtype = np.dtype(dtype or computed.dtype)
    precision, emin = FORMATS[dtype]
    out = []
    with mpmath.workprec(max(mpmath.mp.prec, 128)):
        # strict: a reference list shorter than the computed values is an error, never a
        # silently shorter comparison
        for c, r in zip(computed.ravel().tolist(), references, strict=True):
            if type(r) is mpmath.mpf and math.isfinite(c) and mpmath.isfinite(r):
                out.append(_finite_error(c, r, precision, emin))
            else:
                out.append(ulp_error(c, r, dtype))
    return np.array(out, dtype=np.float64).reshape(computed.shape)
