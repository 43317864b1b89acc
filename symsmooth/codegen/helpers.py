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
    """1 / (1 + exp(-z)) within 0.5 ulp + 2**-60 relative (_sigmoid2 with an exact sum)."""
    return _sigmoid2(z, 0.0)
'''

_DSIGMOID = '''\
def _dsigmoid(z):
    """sigmoid(z) sigmoid(-z) = e / (1 + e)^2, e = exp(-|z|), within 0.5 ulp + 2**-60 relative:
    one division of double-double operands (e + el from _wexp2; (1 + e + el)^2 = S + Sl with
    1 + e exact by TwoSum and its square by TwoProduct), remainder formed exactly.  A product of
    two rounded sigmoids rounds three times (up to 1.8 ulp)."""
    if z != z:
        return z
    e, el = _wexp2(-abs(z), 0.0)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    S, Se = _two_product(s, s)
    Sl = Se + 2.0 * s * err
    q = e / S
    p, pe = _two_product(q, S)
    return q + ((((e - p) - pe) + el) - q * Sl) / S
'''

_SIGMOID2 = '''\
def _sigmoid2(p, q):
    """sigmoid(p + q) within 0.5 ulp + 2**-60 relative.  z + zl == p + q exactly (Knuth
    TwoSum; otherwise the rounding of z costs |z| eps relative error in the tail, ~350 ulp at
    z = -700); e + el = exp(-|z + zl|) with its rounding error (_wexp2 takes the difference
    exactly); 1 + e + el = s + err (TwoSum); the division remainder num - q s is exact
    (TwoProduct, Sterbenz), so only the last addition rounds."""
    z = p + q
    if z != z:
        return z
    bp = z - p
    zl = (p - (z - bp)) + (q - bp)
    if zl != zl:  # an infinite operand
        zl = 0.0
    pos = z >= 0.0
    e, el = _wexp2(-abs(z), zl if pos else -zl)
    s = 1.0 + e
    err = ((1.0 - s) + e) + el
    if pos:
        num, num_lo = 1.0, 0.0
    else:
        num, num_lo = e, el
    q = num / s
    p, pe = _two_product(q, s)
    return q + ((((num - p) - pe) + num_lo) - q * err) / s
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

_TWO_PRODUCT = '''\
def _two_product(a, b):
    """(p, e) with p = fl(a*b) and p + e == a*b exactly (Dekker 1971, splitting by 2**27 + 1;
    valid while |a|, |b| < 2**996, far beyond where the callers' results underflow)."""
    p = a * b
    t = 134217729.0 * a
    ahi = t - (t - a)
    alo = a - ahi
    t = 134217729.0 * b
    bhi = t - (t - b)
    blo = b - bhi
    e = ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo
    return p, e
'''

_WEXP2 = '''\
def _wexp2(h, m):
    """(E, e): exp(h - m) = E + e to ~2**-66 relative (E within 1 ulp), for the pivoted
    gradients (symsmooth.codegen.pivot), whose cancelling sums need the weights' rounding.
    h - m = d + dl exactly (TwoSum); d = k ln2/4 + r with ln2/4 = L1 + L2 (L1: 32 bits, so
    k L1 and d - k L1 are exact, Cody-Waite); exp(r) = 1 + r + r^2/2 + r^3 q(r), |r| <= 0.087,
    with 1 + r and r^2 exact (Fast2Sum, TwoProduct) and the Taylor tail q to r^12/12!; then
    times 2^(j/4) (double-double constants) and 2^(k >> 2).  Edge cases as _wexp."""
    d = h - m
    if d == d:
        if d < -746.0:
            return 0.0, 0.0
        bp = d - h
        dl = (h - (d - bp)) + (-m - bp)
        if d > 709.0:
            return math.exp(d) * (1.0 + dl), 0.0
        kf = math.floor(d * 5.7707801635558535 + 0.5)
        r = d - kf * 0.17328679509228095
        x = -kf * 4.770537323176469e-11
        rh = r + x
        bp = rh - r
        rl = ((r - (rh - bp)) + (x - bp)) + dl
        q, qe = _two_product(rh, rh)
        tail = 2.08767569878681e-09
        tail = tail * rh + 2.505210838544172e-08
        tail = tail * rh + 2.755731922398589e-07
        tail = tail * rh + 2.7557319223985893e-06
        tail = tail * rh + 2.48015873015873e-05
        tail = tail * rh + 0.0001984126984126984
        tail = tail * rh + 0.001388888888888889
        tail = tail * rh + 0.008333333333333333
        tail = tail * rh + 0.041666666666666664
        tail = tail * rh + 0.16666666666666666
        a = 1.0 + rh
        al = (1.0 - a) + rh
        y = 0.5 * q
        b = a + y
        bp = b - a
        al += (a - (b - bp)) + (y - bp)
        t3 = q * rh * tail
        al += 0.5 * qe + t3 + rl * (b + t3)  # rl exp(rh): rl is up to 2**-44 (dl)
        hi = b + al
        lo = al - (hi - b)
        k = int(kf)
        j = k & 3
        ch, cl = 1.0, 0.0
        if j == 1:
            ch, cl = 1.189207115002721, 3.982015231465646e-17
        elif j == 2:
            ch, cl = 1.4142135623730951, -9.667293313452913e-17
        elif j == 3:
            ch, cl = 1.681792830507429, 8.199010020581497e-17
        p, pe = _two_product(hi, ch)
        pe += hi * cl + lo * ch
        hi = p + pe
        lo = pe - (hi - p)
        n = k >> 2
        return math.ldexp(hi, n), math.ldexp(lo, n)
    if h == m:
        return (0.0 if h < 0.0 else 1.0), 0.0
    return d, 0.0
'''

_SINH_RATIO = """\
def _sinh_ratio(c, x, y):
    \"""sinh(c x)/(cosh(c x) + cosh(c y)) (c > 0) within ~1 ulp: numerator and denominator
    divided by exp(m)/2, m = max(a, b), a = c|x|, b = c|y| (no overflow).  a, a + b and
    d = a - b = c(|x| - |y|) in double-double (TwoSum, TwoProduct: a rounded c x ~ 700 costs
    ~700 ulp through exp); the exps with their low parts (_wexp2); numerator
    (1 - exp(-2a)) exp(min(d, 0)), denominator 1 + exp(-2m) + exp(-|d|) + exp(-a - b) summed
    in double-double; one division with the remainder formed exactly.\"""
    if x != x or y != y or c != c:
        return x + y + c
    ax = abs(x)
    ay = abs(y)
    if ax == math.inf:
        return math.nan if ay == math.inf else math.copysign(1.0, x)
    if ay == math.inf:
        return 0.0 * x
    t = ax - ay
    bp = t - ax
    tl = (ax - (t - bp)) + (-ay - bp)  # t + tl == |x| - |y|
    big = ax > 1e290 or c > 1e290
    if big:
        d, dl, a, al, s, sl = c * t, 0.0, c * ax, 0.0, c * (ax + ay), 0.0
    else:
        d, dl = _two_product(c, t)
        dl += c * tl
        a, al = _two_product(c, ax)
        u = ax + ay
        bp = u - ax
        ul = (ax - (u - bp)) + (ay - bp)
        s, sl = _two_product(c, u)
        sl += c * ul
    if d > 0.0:  # m = a: exp(-2m) = exp(-2a)
        m, ml = a, al
    else:  # m = b = a - d
        m = a - d
        bp = m - a
        ml = ((a - (m - bp)) + (-d - bp)) + (al - dl)
    e2, e2l = _wexp2(-2.0 * a, 2.0 * al)  # exp(-2a)
    if a > 1e-3:  # 1 - exp(-2a): e2l is within 2**-66 e2, < 2**-56 n
        n = 1.0 - e2
        nl = ((1.0 - n) - e2) - e2l
    else:  # t - t^2/2 (1 - t/3 + t^2/12 - ...), t = 2a + 2al; truncation < 2**-66
        t = 2.0 * a
        n = t
        nl = -0.5 * t * t * (1.0 - t / 3.0 * (1.0 - 0.25 * t * (1.0 - t / 5.0 * (1.0 - t / 6.0))))
        nl += 2.0 * al * (1.0 - t)
    ed, edl = _wexp2(-abs(d), dl if d > 0.0 else -dl)  # exp(-|d|)
    if d <= 0.0:  # times exp(d) = exp(-|d|)
        p, pe = _two_product(n, ed)
        nl = pe + n * edl + nl * ed
        n = p
    em, eml = _wexp2(-2.0 * m, 2.0 * ml)
    es, esl = _wexp2(-s, sl)
    den = 1.0 + ed  # Fast2Sum each: the partial sum >= 1 >= the term
    dnl = ((1.0 - den) + ed) + edl + eml + esl
    v = den + em
    dnl += (den - v) + em
    den = v + es
    dnl += (v - den) + es
    q = n / den
    p, pe = _two_product(q, den)
    r = q + ((((n - p) - pe) + nl) - q * dnl) / den
    return math.copysign(r, x)
"""

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
    "dsigmoid": Helper("dsigmoid", _DSIGMOID, ("wexp2", "two_product")),
    "sigmoid2": Helper("sigmoid2", _SIGMOID2, ("wexp2", "two_product")),
    "log_sigmoid": Helper("log_sigmoid", _LOG_SIGMOID, ("softplus",)),
    "log1mexp": Helper("log1mexp", _LOG1MEXP),
    "wexp": Helper("wexp", _WEXP),
    "fin": Helper("fin", _FIN),
    "two_product": Helper("two_product", _TWO_PRODUCT),
    "wexp2": Helper("wexp2", _WEXP2, ("two_product",)),
    "Phi": Helper("Phi", _PHI_CDF, ("two_product",)),
    "phi": Helper("phi", _PHI_PDF, ("two_product",)),
    "sinh_ratio": Helper("sinh_ratio", _SINH_RATIO, ("wexp2", "two_product")),
    # symsmooth.functions_special: log(cosh z) and t Phi(t) + phi(t), few-ulp regime splits
    "logcosh": Helper("logcosh", _special_source("logcosh")),
    "relu_gauss": Helper("relu_gauss", _special_source("relu_gauss")),
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
