r"""Regime-split thresholds of the stable primitives, derived per floating-point format.

``THRESHOLDS[dtype][name]`` is a :class:`Threshold`: a value, the side on which its statement
holds (``z > value`` or ``z < value``), the statement, its derivation and a reference.  The
code generator reads these to print branchy evaluations (see
:mod:`~symsmooth.stabilization.regimes`) and cites ``derivation`` in a comment next to each
constant.

Notation: ``p`` is the precision in bits (53 for float64, 24 for float32), so a number ``v`` in
the binade ``[2^e, 2^(e+1))`` has ``ulp(v) = 2^(e+1-p)`` and ``ulp(v)/2 >= v 2^-(p+1)``.  A branch
formula ``g`` may replace ``f`` when ``|f - g| < ulp(f)/2`` for every ``z`` beyond the threshold:
the branch is then as accurate as the correctly rounded ``f`` up to the rounding of ``g`` itself.
Each derived value is a *sufficient* bound, so it lies on the safe side of the exact boundary
(the tests find the exact boundary with mpmath and check the side and the gap).

References
----------
IEEE Std 754-2019, sec. 3.3 (binary64: p = 53, emin = -1022; binary32: p = 24, emin = -126).
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette, 2012, sec. 2-3.
LogExpFunctions.jl ``log1pexp`` and ``logistic`` (the same regime splits for float64).

Examples
--------
>>> round(threshold("softplus_linear", "float64"), 4)
33.2711
>>> round(threshold("softplus_linear", "float32"), 4)
14.5561
>>> THRESHOLDS["float64"]["log1mexp_split"].value == -LN2
True
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from symsmooth.errors import StabilizeError

LN2 = math.log(2.0)

IEEE = "IEEE 754-2019 sec. 3.3"
MAECHLER = 'M. Maechler, "Accurately Computing log(1 - exp(-|a|))" (2012)'
LEF = "LogExpFunctions.jl log1pexp / logistic"


@dataclass(frozen=True)
class Format:
    """A binary format: precision ``p`` (bits), largest finite, smallest subnormal."""

    name: str
    p: int
    max: float
    tiny: float  # smallest positive subnormal, 2^(emin + 1 - p)


FORMATS: dict[str, Format] = {
    "float64": Format("float64", 53, 1.7976931348623157e308, 2.0**-1074),
    "float32": Format("float32", 24, 3.4028234663852886e38, 2.0**-149),
}


@dataclass(frozen=True)
class Threshold:
    """One regime boundary.

    Attributes
    ----------
    name, dtype : str
    value : float
    side : {"above", "below"}
        ``statement`` holds for every ``z > value`` ("above") or every ``z < value`` ("below").
    statement : str
        What holds beyond the threshold (the branch it licenses).
    derivation : str
        Why, in one or two lines (the code generator prints it as a comment).
    reference : str
    """

    name: str
    dtype: str
    value: float
    side: Literal["above", "below"]
    statement: str
    derivation: str
    reference: str


def _binade_root(q: int, k: int) -> float:
    """Smallest ``z > 0`` with ``exp(-k z) <= 2^(e - q)`` where ``2^e <= z < 2^(e+1)``."""
    for e in range(-4, 12):
        z = (q - e) * LN2 / k
        if 2.0**e <= z < 2.0 ** (e + 1):
            return z
    raise StabilizeError(
        f"no binade root for q={q}, k={k}; check the format table"
    )  # pragma: no cover


def _exp_overflow(f: Format) -> tuple:
    return (
        math.log(f.max),
        "above",
        "exp(z) overflows to inf",
        f"exp(z) > max = {f.max!r} iff z > log(max)",
        IEEE,
    )


def _exp_underflow(f: Format) -> tuple:
    return (
        math.nextafter(math.log(f.tiny) - LN2, -math.inf),  # rounded down: every z < value
        "below",
        "exp(z) underflows to 0",
        f"exp(z) rounds to 0 iff exp(z) <= tiny/2 = 2^{round(math.log2(f.tiny)) - 1}",
        IEEE,
    )


def _softplus_linear(f: Format) -> tuple:
    return (
        _binade_root(f.p, 1),
        "above",
        "softplus(z) = z + log1p(exp(-z)) rounds to z",
        f"log1p(e^-z) < e^-z < ulp(z)/2 = 2^(e-{f.p}) for z in [2^e, 2^(e+1)): "
        f"z > ({f.p} - e) ln 2, solved in the binade of the root",
        LEF + "; " + IEEE,
    )


def _softplus_plus_exp(f: Format) -> tuple:
    return (
        _binade_root(f.p - 1, 2),
        "above",
        "softplus(z) = z + exp(-z) to within ulp/2",
        f"|log1p(u) - u| < u^2/2 with u = e^-z; u^2/2 < ulp(z)/2 = 2^(e-{f.p}): "
        f"z > ({f.p} - 1 - e) ln 2 / 2 in the binade of the root",
        LEF + "; " + IEEE,
    )


def _softplus_exp(f: Format) -> tuple:
    return (
        -f.p * LN2,
        "below",
        "softplus(z) = log1p(exp(z)) = exp(z) to within ulp/2",
        f"|log1p(u) - u| < u^2/2 with u = e^z and ulp(v)/2 >= v 2^-{f.p + 1}: u < 2^-{f.p}, "
        f"z < -{f.p} ln 2",
        LEF + "; " + IEEE,
    )


def _sigmoid_one(f: Format) -> tuple:
    return (
        (f.p + 1) * LN2,
        "above",
        "sigmoid(z) rounds to 1",
        f"1 - sigmoid(z) = sigmoid(-z) < e^-z < 2^-{f.p + 1} = ulp(1^-)/2: z > {f.p + 1} ln 2",
        LEF + "; " + IEEE,
    )


def _sigmoid_exp(f: Format) -> tuple:
    return (
        -(f.p + 1) * LN2,
        "below",
        "sigmoid(z) = exp(z)/(1 + exp(z)) = exp(z) to within ulp/2",
        f"|sigmoid(z) - u| = u^2/(1+u) < u^2, u = e^z; u^2 < u 2^-{f.p + 1} <= ulp/2: "
        f"z < -{f.p + 1} ln 2",
        LEF + "; " + IEEE,
    )


def _negated(source: Callable[[Format], tuple], statement: str) -> Callable[[Format], tuple]:
    """log_sigmoid(z) = -softplus(-z): the same boundaries, mirrored."""

    def derive(f: Format) -> tuple:
        value, side, _, why, ref = source(f)
        mirrored = "below" if side == "above" else "above"
        return -value, mirrored, statement, "log_sigmoid(z) = -softplus(-z); " + why, ref

    return derive


def _log1mexp_split(f: Format) -> tuple:
    return (
        -LN2,
        "above",
        "log1mexp(z) = log(-expm1(z)) above, log1p(-exp(z)) below",
        "for z > -ln 2, 1 - e^z < 1/2 and expm1 keeps it; for z < -ln 2, e^z < 1/2 and log1p "
        "keeps log(1 - e^z); both relative errors stay O(eps) (Maechler 2012, eq. 7)",
        MAECHLER,
    )


def _log1mexp_exp(f: Format) -> tuple:
    value, _, _, why, ref = _softplus_exp(f)
    return value, "below", "log1mexp(z) = log1p(-exp(z)) = -exp(z) to within ulp/2", why, ref


# Roots of erfc(z) = 2^-(p+1) and erfc(z) = tiny/2, found with mpmath.findroot at 40 digits
# (the tests recompute them); rounded in the safe direction in the last digit.
_ERF_ROOTS = {"float64": (5.921588, 27.226018), "float32": (3.919206, 10.054195)}


def _erf_one(f: Format) -> tuple:
    return (
        _ERF_ROOTS[f.name][0],
        "above",
        "erf(z) rounds to 1, so 1 - erf(z) and 1 + erf(-z) are 0 (use erfc)",
        f"erfc(z) < 2^-{f.p + 1} = ulp(1^-)/2; root of erfc(z) = 2^-{f.p + 1}",
        "Abramowitz & Stegun 7.1.2; " + IEEE,
    )


def _erfc_underflow(f: Format) -> tuple:
    return (
        _ERF_ROOTS[f.name][1],
        "above",
        "erfc(z) underflows to 0",
        "erfc(z) <= tiny/2; root of erfc(z) = tiny/2",
        "Abramowitz & Stegun 7.1.2; " + IEEE,
    )


DERIVATIONS: dict[str, Callable[[Format], tuple]] = {
    "exp_overflow": _exp_overflow,
    "exp_underflow": _exp_underflow,
    "softplus_linear": _softplus_linear,
    "softplus_plus_exp": _softplus_plus_exp,
    "softplus_exp": _softplus_exp,
    "sigmoid_one": _sigmoid_one,
    "sigmoid_exp": _sigmoid_exp,
    "log_sigmoid_linear": _negated(_softplus_linear, "log_sigmoid(z) rounds to z"),
    "log_sigmoid_minus_exp": _negated(
        _softplus_plus_exp, "log_sigmoid(z) = z - exp(z) to within ulp/2"
    ),
    "log_sigmoid_exp": _negated(_softplus_exp, "log_sigmoid(z) = -exp(-z) to within ulp/2"),
    "log1mexp_split": _log1mexp_split,
    "log1mexp_exp": _log1mexp_exp,
    "erf_one": _erf_one,
    "erfc_underflow": _erfc_underflow,
}
"""Threshold name -> derivation (format -> value, side, statement, derivation, reference)."""

THRESHOLDS: dict[str, dict[str, Threshold]] = {
    dtype: {name: Threshold(name, dtype, *derive(fmt)) for name, derive in DERIVATIONS.items()}
    for dtype, fmt in FORMATS.items()
}
"""dtype -> name -> :class:`Threshold`."""


def threshold(name: str, dtype: str = "float64") -> float:
    """The value of threshold ``name`` for ``dtype`` ("float64" or "float32").

    Examples
    --------
    >>> threshold("exp_underflow", "float32")
    -103.9720770839918
    """
    table = THRESHOLDS.get(str(dtype))
    if table is None:
        raise StabilizeError(f"no thresholds for dtype {dtype!r}; use one of {sorted(THRESHOLDS)}")
    try:
        return table[name].value
    except KeyError:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise StabilizeError(
            f"unknown threshold {name!r}.{hint} Known: {', '.join(sorted(table))}"
        ) from None
