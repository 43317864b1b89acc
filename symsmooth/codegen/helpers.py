"""Stable scalar helpers emitted into generated modules (``math.*`` only).

Each stable primitive of :mod:`symsmooth.functions` prints as a call to a small scalar
function (``_softplus(z)``, ``_logsumexp2(a, b)``, ...).  The generated module carries the
source of every helper it uses, so it imports with only NumPy and Numba installed, and the same
text compiles under ``@njit`` and ``@cuda.jit(device=True)``.

All helpers compute in float64: float32 kernels up-cast their inputs, so only float64 regime
thresholds are needed (a float32 result is the float64 result rounded once, which keeps it within
1 ulp of float32).  Each threshold carries a comment citing where it comes from.

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package", 2012
(log1pexp thresholds -37, 18, 33.3; log1mexp switch at -log 2).

Examples
--------
>>> h = HELPERS["softplus"]
>>> h.function
'_softplus'
>>> "math.log1p" in h.source
True
>>> [x.function for x in resolve(["log_sigmoid"])]
['_softplus', '_log_sigmoid']
"""

from __future__ import annotations

from dataclasses import dataclass

from symsmooth.codegen import helpers_dd as dd
from symsmooth.errors import CodegenError


@dataclass(frozen=True)
class Helper:
    """One emitted scalar function: its name, Python source and the helpers it calls."""

    name: str
    source: str
    requires: tuple[str, ...] = ()

    @property
    def function(self) -> str:
        return f"_{self.name}"


_SOFTPLUS = '''\
def _softplus(z):
    """log(1 + exp(z)) without overflow (Maechler 2012, eq. (10))."""
    # float64 thresholds from Maechler 2012, sec. 3 ("log1pexp"):
    # z <= -37: log1p(exp(z)) == exp(z) to double precision (exp(z) < 2**-53 relative term);
    # z > 33.3: z + exp(-z) == z in double precision.
    if z <= -37.0:
        return math.exp(z)
    if z <= 18.0:
        return math.log1p(math.exp(z))
    if z <= 33.3:
        return z + math.exp(-z)
    return z
'''

_SIGMOID = '''\
def _sigmoid(z):
    """1 / (1 + exp(-z)) within 0.5 ulp + 2**-60 relative (_sigmoid2 with an exact sum)."""
    return _sigmoid2(z, 0.0)
'''


_LOG_SIGMOID = '''\
def _log_sigmoid(z):
    """log(sigmoid(z)) = -softplus(-z)."""
    return -_softplus(-z)
'''

_LOG1MEXP = '''\
def _log1mexp(z):
    """log(1 - exp(z)) for z <= 0 (Maechler 2012, eq. (7))."""
    # switch at -log(2) = -0.6931471805599453 (Maechler 2012, sec. 2): below it exp(z) <= 1/2 and
    # log1p(-exp(z)) is accurate; above it expm1 keeps the digits of 1 - exp(z).
    if z > -0.6931471805599453:
        return math.log(-math.expm1(z))
    return math.log1p(-math.exp(z))
'''

_WEXP = '''\
def _wexp(h, m):
    """exp(h - m), with the difference taken exactly (TwoSum: exp(d + lo) = exp(d)(1 + lo)), so
    the weight is within ~0.5 ulp even when |h - m| is large.  Edge semantics of every reduction:
    exp(-inf - -inf) = 0 (an entry at -inf has no weight), exp(inf - inf) = 1 (+inf entries
    share the mass), NaN stays NaN."""
    d = h - m
    if d == d:
        if d < -746.0:  # exp(d) < 2**-1075 rounds to 0 (log(2**-1074) = -744.44); also -inf
            return 0.0
        bp = d - h
        lo = (h - (d - bp)) + (-m - bp)
        return math.exp(d) * (1.0 + lo)
    if h == m:
        return 0.0 if h < 0.0 else 1.0
    return d
'''


_FIN = '''\
def _fin(s, c):
    """The compensated sum s + c; when an infinite term made the compensation NaN, s."""
    if c - c == 0.0:
        return s + c
    return s
'''


_PHI_CDF = '''\
def _Phi(z):
    """Standard normal CDF erfc(-z/sqrt 2)/2 (Abramowitz-Stegun 26.2.29).  The product
    u = -z/sqrt(2) is formed exactly as u + du (Dekker) and the rounding is fed back through
    erfc'(u) = -2/sqrt(pi) exp(-u^2); otherwise it costs ~z^2/2 ulps in the lower tail."""
    if z != z:
        return z
    if z > 40.0 or z < -40.0:  # erfc(-z/sqrt 2)/2 is 1 or below 2**-1074 (|z| > 38.5)
        return 1.0 if z > 0.0 else 0.0
    u, du = _two_product(-z, 0.7071067811865476)
    du += -z * -4.833646656726457e-17  # 1/sqrt(2) - 0.7071067811865476
    return 0.5 * (math.erfc(u) - du * 1.1283791670955126 * math.exp(-u * u))
'''

_PHI_PDF = '''\
def _phi(z):
    """Standard normal density exp(-z^2/2)/sqrt(2 pi) with z^2 formed exactly (Dekker):
    exp(-(p + e)/2) = exp(-p/2)(1 - e/2), otherwise the rounding of z^2 costs ~z^2/2 ulps."""
    if z > 40.0 or z < -40.0:  # exp(-z^2/2) < 2**-1074 (|z| > 38.6)
        return 0.0 if z == z else z
    p, e = _two_product(z, z)
    return math.exp(-0.5 * p) * (1.0 - 0.5 * e) * 0.3989422804014327
'''


def _logsumexp_source(arity: int) -> str:
    args = [f"a{j}" for j in range(arity)]
    sig = ", ".join(args)
    lines = [
        f"def _logsumexp{arity}({sig}):",
        f'    """log(exp(a0) + ... + exp(a{arity - 1})) shifted by the largest argument."""',
        f"    m = max({sig})" if arity > 1 else "    m = a0",
        "    if m != m or m == math.inf or m == -math.inf:",
        "        return m",
        "    s = " + " + ".join(f"math.exp({a} - m)" for a in args),
        "    return m + math.log(s)",
    ]
    # NaN: Python's max() is order dependent with NaN, so check every argument.
    lines.insert(3, "    if " + " or ".join(f"{a} != {a}" for a in args) + ":")
    lines.insert(4, "        return math.nan")
    return "\n".join(lines) + "\n"


def _special_source(name: str) -> str:
    """Source of a scalar implementation in :mod:`symsmooth.functions_special` (math-only)."""
    import inspect

    from symsmooth import functions_special

    return inspect.getsource(getattr(functions_special, f"_{name}"))


HELPERS: dict[str, Helper] = {
    "softplus": Helper("softplus", _SOFTPLUS),
    "sigmoid": Helper("sigmoid", _SIGMOID, ("sigmoid2",)),
    "dsigmoid": Helper("dsigmoid", dd.DSIGMOID, ("wexp2", "two_product")),
    "sigmoid2": Helper("sigmoid2", dd.SIGMOID2, ("wexp2", "two_product")),
    "dswish": Helper("dswish", dd.DSWISH, ("wexp2", "two_product")),
    "derf": Helper("derf", dd.DERF, ("wexp2", "two_product")),
    "lin_hypot": Helper("lin_hypot", dd.LIN_HYPOT, ("two_product",)),
    "dgelu": Helper("dgelu", dd.DGELU, ("wexp2", "two_product", "Phi", "phi")),
    "log_sigmoid": Helper("log_sigmoid", _LOG_SIGMOID, ("softplus",)),
    "log1mexp": Helper("log1mexp", _LOG1MEXP),
    "wexp": Helper("wexp", _WEXP),
    "fin": Helper("fin", _FIN),
    "two_product": Helper("two_product", dd.TWO_PRODUCT),
    "wexp2": Helper("wexp2", dd.WEXP2, ("two_product",)),
    "Phi": Helper("Phi", _PHI_CDF, ("two_product",)),
    "phi": Helper("phi", _PHI_PDF, ("two_product",)),
    "sinh_ratio": Helper("sinh_ratio", dd.SINH_RATIO, ("wexp2", "two_product")),
    "logsumexp2": Helper("logsumexp2", dd.LOGSUMEXP2, ("wexp2",)),  # the pair, within 0.5 ulp
    # symsmooth.functions_special: log(cosh z) and t Phi(t) + phi(t), few-ulp regime splits
    "logcosh": Helper("logcosh", _special_source("logcosh")),
    "relu_gauss": Helper("relu_gauss", _special_source("relu_gauss")),
}
"""Name -> helper.  To support a new primitive: add its source here and map its SymPy class in
:data:`symsmooth.codegen.printer.FUNCTION_HELPERS`."""

# symsmooth.functions_scaling: 1/(1 + (a b)^2) and odd-power roots, scaled (no overflow)
from symsmooth.codegen.helpers_scaling import SCALING_SOURCES  # noqa: E402

HELPERS.update({n: Helper(n, src, req) for n, (src, req) in SCALING_SOURCES.items()})


def helper(name: str) -> Helper:
    """The helper called ``name``; ``logsumexpN`` is built for any arity ``N``."""
    if name in HELPERS:
        return HELPERS[name]
    if name.startswith("logsumexp") and name[len("logsumexp") :].isdigit():
        arity = int(name[len("logsumexp") :])
        return Helper(name, _logsumexp_source(arity))
    try:
        return HELPERS[name]
    except KeyError:
        raise CodegenError(
            f"no scalar helper named {name!r}; known: {', '.join(sorted(HELPERS))} and "
            "logsumexpN. Add its source to symsmooth/codegen/helpers.py"
        ) from None


def resolve(names) -> list[Helper]:
    """Helpers ``names`` plus everything they call, dependencies first, otherwise sorted."""
    ordered: list[Helper] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        h = helper(name)
        for dep in h.requires:
            visit(dep)
        ordered.append(h)

    for name in sorted(set(names)):
        visit(name)
    return ordered
