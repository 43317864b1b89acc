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
    """1 / (1 + exp(-z)); never forms exp of a large positive number."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
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
    """exp(h - m) with the edge semantics of every reduction: exp(-inf - -inf) = 0 (an input at
    -inf carries no weight), exp(inf - inf) = 1 (the +inf entries share the mass), NaN stays NaN."""
    d = h - m
    if d == d:
        return math.exp(d)
    if h == m:
        return 0.0 if h < 0.0 else 1.0
    return d
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


HELPERS: dict[str, Helper] = {
    "softplus": Helper("softplus", _SOFTPLUS),
    "sigmoid": Helper("sigmoid", _SIGMOID),
    "log_sigmoid": Helper("log_sigmoid", _LOG_SIGMOID, ("softplus",)),
    "log1mexp": Helper("log1mexp", _LOG1MEXP),
    "wexp": Helper("wexp", _WEXP),
}
"""Name -> helper.  To support a new primitive: add its source here and map its SymPy class in
:data:`symsmooth.codegen.printer.FUNCTION_HELPERS`."""


def helper(name: str) -> Helper:
    """The helper called ``name``; ``logsumexpN`` is built for any arity ``N``."""
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
