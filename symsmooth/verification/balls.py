"""Certified references: SymPy expressions evaluated in ball arithmetic (Arb, via python-flint).

A ball ``[m +/- r]`` contains the exact value; Arb propagates rigorous bounds through every
operation.  :func:`compile_ball` walks a SymPy tree *once* into nested closures (a dispatch
table from SymPy classes to Arb functions -- no ``lambdify``, no ``eval``), and
:func:`certified` evaluates such a closure at increasing precision until the ball decides the
double rounding: its relative radius is below ``2**-CERTIFY_BITS`` (then the ulp error of a
float64/float32 result against the midpoint is exact to ``2**-(CERTIFY_BITS - 53)`` ulp), or the
ball lies wholly beyond ``2**+-OUT_OF_RANGE`` (outside every format).  A ball that contains 0
for a nonzero value, a comparison the ball cannot decide (``Piecewise``, ``Max``, ``sign``) or
a NaN ball (``log`` of a ball reaching below 0) means *more precision*; after
:data:`PREC_CAP` bits the point is :data:`UNCERTIFIED` (skipped and counted, never trusted).

This replaces agreement of two precisions, which a complete cancellation fools: the naive
``log(1 + exp(-708.42))`` is 0 at 50, 100 and 200 digits, while the ball at 128 bits is
``[+/- 5.9e-39]`` (contains 0: not certified) and at 1024 bits gives ``2.17e-308``.

Exact identities, not stabilizations, keep the tails affordable: ``log(1 + t)`` is evaluated
as ``log1p(t)`` and ``1 +- erf(z)`` as ``erfc(-+z)`` (a ``1 + erf(-33)`` cancels 1570 bits).

References
----------
F. Johansson, "Arb: efficient arbitrary-precision midpoint-radius interval arithmetic",
IEEE Trans. Computers 66(8), 2017.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> f = compile_ball(sp.log(1 + sp.exp(x)), (x,))
>>> r = certified(f, [-708.42])
>>> print(mpmath.nstr(r, 12))
2.17321718241e-308
>>> certified(compile_ball(sp.log(x), (x,)), [-1.0]) is NOT_REAL
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flint
import mpmath
import sympy as sp
from flint import arb
from mpmath.libmp import from_man_exp
from sympy.codegen.cfunctions import expm1, log1p

from symsmooth.functions import PRIMITIVES, StablePrimitive, naive
from symsmooth.verification.cache import NOT_REAL, Marker
from symsmooth.verification.reference import ReferenceRangeError

CERTIFY_BITS = 64
"""Relative radius below ``2**-64``: the ulp error of a float64 is known to ``2**-11`` ulp
against the midpoint, of a float32 to ``2**-40`` ulp."""
PREC_START, PREC_CAP = 128, 1 << 14
"""Working precision (bits) of the first try, and the last one before giving up."""
OUT_OF_RANGE = 1100
"""Binary exponent beyond which a value lies outside every format (float64: ``2**-1074`` to
``2**1024``): a ball wholly beyond it decides every ulp error, whatever its radius."""
EXP_ARG_LIMIT = 1 << 20
"""``exp`` of a ball beyond ``2**(2**20)`` in magnitude is refused (its exponent alone would
need a million bits): :class:`ReferenceRangeError`, the point is skipped and counted."""


_EXP_LIMIT = arb(2) ** EXP_ARG_LIMIT


class UncertifiedError(ArithmeticError):
    """A ball could not decide a comparison (or the result) at this precision."""


class _Uncertified(Marker):
    """The marker of a point no precision up to :data:`PREC_CAP` certified."""

    label = "UNCERTIFIED"


UNCERTIFIED = _Uncertified()


class _NotRealError(ArithmeticError):
    """``log`` or ``sqrt`` of a ball wholly below 0."""


def _sign_of(a: arb) -> int:
    """-1, 0 or 1, or :class:`UncertifiedError` when the ball straddles 0."""
    if a.is_zero():
        return 0
    if a > 0:
        return 1
    if a < 0:
        return -1
    raise UncertifiedError("the sign of a ball containing 0")


def _log(a: arb) -> arb:
    if a.is_zero():
        return arb.neg_inf()
    if a < 0:
        raise _NotRealError("log of a negative number")
    return a.log()


def _sqrt(a: arb) -> arb:
    if a < 0:
        raise _NotRealError("sqrt of a negative number")
    return a.sqrt()


def _exp(a: arb) -> arb:
    if a.is_finite() and a.mid().abs_upper() > _EXP_LIMIT:
        raise ReferenceRangeError(
            "exp of a number beyond 2**(2**20): beyond the kernel references' range "
            "(symsmooth.verification.balls.EXP_ARG_LIMIT, like exact.EXP_MAG_LIMIT)"
        )
    if a == arb.neg_inf():
        return arb(0)
    return a.exp()


def _heaviside(a: arb, h0: arb | None = None) -> arb:
    s = _sign_of(a)
    return arb(1) if s > 0 else arb(0) if s < 0 else (arb("0.5") if h0 is None else h0)


def _pick(better: Callable[[int], bool]) -> Callable[..., arb]:
    def choose(*values: arb) -> arb:
        best = values[0]
        for v in values[1:]:
            if better(_sign_of(v - best)) if v.is_finite() and best.is_finite() else v > best:
                best = v
        return best

    return choose


def _expm1(a: arb) -> arb:
    return a.expm1() if abs(a) < 1 else _exp(a) - 1  # _exp guards the huge arguments


def _log1p(a: arb) -> arb:
    return a.log1p() if abs(a) < arb(1) / 2 else _log(1 + a)  # _log refuses a negative


UNARY: dict[type, Callable[[arb], arb]] = {
    sp.exp: _exp,
    sp.log: _log,
    expm1: _expm1,
    log1p: _log1p,
    sp.erf: arb.erf,
    sp.erfc: arb.erfc,
    sp.tanh: arb.tanh,
    sp.cosh: arb.cosh,
    sp.sinh: arb.sinh,
    sp.atan: arb.atan,
    sp.Abs: abs,
    sp.sign: lambda a: arb(_sign_of(a)),
}
"""SymPy function class -> Arb function of one ball (extend it for a new elementary function;
a stable primitive needs nothing here: its naive rewrite is walked)."""
NARY: dict[type, Callable[..., arb]] = {
    sp.Max: _pick(lambda s: s > 0),
    sp.Min: _pick(lambda s: s < 0),
    sp.Heaviside: _heaviside,
}
RELATIONS: dict[type, Callable[[int], bool]] = {
    sp.StrictLessThan: lambda s: s < 0,
    sp.LessThan: lambda s: s <= 0,
    sp.StrictGreaterThan: lambda s: s > 0,
    sp.GreaterThan: lambda s: s >= 0,
    sp.Equality: lambda s: s == 0,
    sp.Unequality: lambda s: s != 0,
}
"""Relation class -> test on the sign of ``lhs - rhs`` (decided by the ball, else more bits)."""

Ball = Callable[[Sequence[arb]], arb]


def _constant(node: sp.Expr) -> Ball:
    if node.is_Integer:
        value = int(node)
        return lambda v: arb(value)
    if node.is_Rational or node.is_Float:  # a Float is exactly its binary rational
        q = sp.Rational(node)
        p, r = int(q.p), int(q.q)
        return lambda v: arb(flint.fmpq(p, r))
    if node is sp.pi:
        return lambda v: arb.pi()
    if node is sp.E:
        return lambda v: arb.const_e()
    if node in (sp.oo, -sp.oo):
        inf = arb.pos_inf if node is sp.oo else arb.neg_inf
        return lambda v: inf()
    raise TypeError(f"no ball value for the constant {node}")


def _add(node: sp.Add, args: dict) -> Ball:
    """A sum, with ``c + c erf(z) -> c erfc(-z)`` and ``c - c erf(z) -> c erfc(z)`` merged
    (exact identities: the cancellation of ``1 + erf(-33)`` never happens)."""
    terms, rest = list(node.args), []
    constants = [t for t in terms if t.is_Number and t != 0]
    for term in [t for t in terms if _erf_part(t) is not None]:
        coeff, z = _erf_part(term)
        match = [c for c in constants if c in (coeff, -coeff)]
        if match:
            c = match[0]
            terms.remove(c)
            terms.remove(term)
            constants.remove(c)
            inner, scale = _walk(-z if c == coeff else z, args), _constant(c)
            rest.append(lambda v, inner=inner, scale=scale: scale(v) * inner(v).erfc())
    parts = [_walk(t, args) for t in terms] + rest

    def total(v):
        out = parts[0](v)
        for p in parts[1:]:
            out = out + p(v)
        return out

    return total


def _erf_part(term: sp.Expr):
    """``(a, z)`` for a term ``a erf(z)`` with a number ``a``, else None."""
    coeff, rest = term.as_coeff_Mul()
    if isinstance(rest, sp.erf):
        return coeff, rest.args[0]
    return None


def _mul(node: sp.Mul, args: dict) -> Ball:
    parts = [_walk(t, args) for t in node.args]

    def product(v):
        out = parts[0](v)
        for p in parts[1:]:
            out = out * p(v)
        return out

    return product


def _pow(node: sp.Pow, args: dict) -> Ball:
    base, expo = _walk(node.base, args), node.exp
    if expo.is_Integer:
        n = int(expo)
        return lambda v: base(v) ** n
    if expo == sp.Rational(1, 2):
        return lambda v: _sqrt(base(v))
    power = _walk(expo, args)

    def general(v):
        b, p = base(v), power(v)
        if p.is_exact() and p.is_integer():  # x**(2*k + 1) at an integer k: an integer power
            return b ** int(p.unique_fmpz())
        if b < 0:
            raise _NotRealError("a negative number to a non-integer power")
        return _exp(p * _log(b))

    return general


def _log_node(node: sp.log, args: dict) -> Ball:
    """``log(1 + t)`` as ``log1p(t)`` (exact identity; no cancellation of ``1 + t``)."""
    inner = node.args[0]
    if inner.is_Add and sp.Integer(1) in inner.args:
        t = _walk(
            sp.Add(*[a for a in inner.args if a != 1])
            if len(inner.args) > 2
            else [a for a in inner.args if a != 1][0],
            args,
        )

        def log1p(v):
            s = t(v)
            if s.is_zero():
                return arb(0)
            if s < -1:
                raise _NotRealError("log of a negative number")
            return s.log1p() if s > -1 else _log(1 + s)

        return log1p
    value = _walk(inner, args)
    return lambda v: _log(value(v))


def _piecewise(node: sp.Piecewise, args: dict) -> Ball:
    branches = [(_walk(e, args), _condition(c, args)) for e, c in node.args]

    def choose(v):
        for expr, cond in branches:
            if cond(v):
                return expr(v)
        return arb.nan()

    return choose


def _condition(cond, args: dict) -> Callable[[Sequence[arb]], bool]:
    if cond is sp.true:
        return lambda v: True
    if cond is sp.false:
        return lambda v: False
    if isinstance(cond, (sp.And, sp.Or)):
        parts = [_condition(c, args) for c in cond.args]
        joined = all if isinstance(cond, sp.And) else any
        return lambda v: joined(p(v) for p in parts)
    if isinstance(cond, sp.Not):
        inner = _condition(cond.args[0], args)
        return lambda v: not inner(v)
    test = RELATIONS.get(type(cond))
    if test is None:
        raise TypeError(f"no ball test for the condition {cond}")
    lhs, rhs = _walk(cond.lhs, args), _walk(cond.rhs, args)
    return lambda v: test(_sign_of(lhs(v) - rhs(v)))


def _walk(node: sp.Expr, args: dict) -> Ball:
    """The closure computing ``node``'s ball from the argument balls (``args``: node -> index)."""
    if node in args:
        j = args[node]
        return lambda v: v[j]
    if isinstance(node, StablePrimitive):
        return _walk(naive(node), args)
    if node.is_Number or node.is_NumberSymbol or node in (sp.oo, -sp.oo):
        return _constant(node)
    if isinstance(node, sp.log):
        return _log_node(node, args)
    handler = _NODES.get(type(node))
    if handler is not None:
        return handler(node, args)
    unary = UNARY.get(type(node))
    if unary is not None:
        inner = _walk(node.args[0], args)
        return lambda v: unary(inner(v))
    nary = NARY.get(type(node))
    if nary is not None:
        parts = [_walk(a, args) for a in node.args]
        return lambda v: nary(*[p(v) for p in parts])
    raise TypeError(
        f"no ball arithmetic for {type(node).__name__} (in {node}): add it to UNARY or NARY in "
        "symsmooth/verification/balls.py"
    )


_NODES = {sp.Add: _add, sp.Mul: _mul, sp.Pow: _pow, sp.Piecewise: _piecewise}


def compile_ball(expr: sp.Expr, args: Sequence) -> Ball:
    """A closure ``balls -> ball`` of ``expr`` in the arguments ``args`` (symbols or Indexed).

    Raises
    ------
    TypeError
        naming the first node the dispatch tables do not cover.
    ValueError
        naming a free symbol that is not in ``args`` (nothing is printed or executed).
    """
    expr = sp.sympify(expr, strict=True)
    table = {a: j for j, a in enumerate(args)}
    free = {s for s in expr.free_symbols if not isinstance(s, sp.Idx)} - set(table)
    free -= {s for a in args for s in getattr(a, "free_symbols", ())}
    if free:
        name = sorted(map(str, free))[0]
        raise ValueError(f"cannot evaluate a symbol named {name!r}: it is not an argument")
    return _walk(expr, table)


def covers_primitives() -> dict:
    """Name -> None for each registered primitive whose naive form the walker evaluates,
    or the error text (the test suite checks that every one is covered)."""
    out = {}
    for name, cls in PRIMITIVES.items():
        count = max(cls.nargs) if isinstance(cls.nargs, sp.FiniteSet) else 2
        symbols = sp.symbols(f"a0:{count}", real=True)
        try:
            compile_ball(cls(*symbols), symbols)
            out[name] = None
        except TypeError as exc:
            out[name] = str(exc)
    return out


def to_mpf(ball: arb) -> mpmath.mpf:
    """The ball's midpoint as an exact mpmath number (infinities kept)."""
    mid = ball.mid()
    if not mid.is_finite():
        return mpmath.inf if mid > 0 else mpmath.ninf if mid < 0 else mpmath.nan
    man, exp = mid.man_exp()
    return mpmath.mp.make_mpf(from_man_exp(int(man), int(exp)))  # exact: no rounding to 53 bits


_LOW = arb(2) ** -OUT_OF_RANGE
_HIGH = arb(2) ** OUT_OF_RANGE


def decides(ball: arb) -> bool:
    """The ball fixes every ulp error: exact, relatively narrow, or wholly beyond the formats."""
    if ball.is_nan():
        return False
    if ball.is_exact():
        return True
    if not ball.is_finite():
        return False
    if ball.abs_upper() < _LOW:
        return True
    if ball.contains(0):
        return False
    return ball.rel_accuracy_bits() >= CERTIFY_BITS or ball.abs_lower() > _HIGH


def ball_of(value) -> arb:
    """The exact ball of a double (``arb(-inf)`` would be ``[+/- inf]``: infinities by name)."""
    v = float(value)
    if v == float("inf"):
        return arb.pos_inf()
    if v == float("-inf"):
        return arb.neg_inf()
    return arb(v)


def certified(fn: Ball, values: Sequence, start: int = PREC_START, cap: int = PREC_CAP):
    """``fn`` at the doubles ``values``: an mpf whose ball :func:`decides` the rounding,
    :data:`NOT_REAL` (``log``/``sqrt`` of a negative number), ``mpmath.nan`` when the ball is
    NaN at every precision up to ``cap`` (0/0, inf - inf: undefined), or :data:`UNCERTIFIED`
    when no precision up to ``cap`` bits decides."""
    prec, saved, always_nan = start, flint.ctx.prec, True
    try:
        while True:
            flint.ctx.prec = prec
            try:
                ball = fn([ball_of(v) for v in values])
                if decides(ball):
                    return to_mpf(ball)
                always_nan = always_nan and ball.is_nan()
            except UncertifiedError:
                always_nan = False
            except _NotRealError:
                return NOT_REAL
            except ZeroDivisionError:
                return mpmath.nan
            if prec >= cap:
                return mpmath.nan if always_nan else UNCERTIFIED
            prec *= 2
    finally:
        flint.ctx.prec = saved
