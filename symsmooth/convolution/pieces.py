"""Decomposition of a non-smooth target into polynomial pieces (and staircases).

A target built from ``Max, Min, Abs, sign, Heaviside, Piecewise`` (and ``clip``, which the
parser writes as ``Min(Max(x, lo), hi)``) is a :class:`PiecewisePolynomial`: breakpoints
``c_1 < ... < c_J`` and one polynomial per interval.  ``floor``, ``ceiling``, ``frac`` and
``round`` of an affine argument, added to such a target, become :class:`Staircase` terms
(countably many jumps), which the convolution engine sums as a series.

The conversion is a small algebra of piecewise polynomials (sum, product, sign pattern),
dispatched on the SymPy node type; breakpoints may be symbolic when their order follows from
the symbols' assumptions, otherwise a :class:`~symsmooth.errors.ConvolutionError` says what to
change.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> d = decompose(sp.Min(sp.Max(x, -1), 1), x)
>>> d.pieces.breaks, d.pieces.pieces
((-1, 1), (-1, x, 1))
>>> decompose(x - sp.floor(x), x).staircases
(Staircase(coef=-1, scale=1, shift=0),)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce, singledispatch

import sympy as sp

from symsmooth.errors import ConvolutionError

SUPPORTED = "Max, Min, Abs, sign, Heaviside, Piecewise, clip, floor, ceiling, frac, round"


@dataclass(frozen=True)
class PiecewisePolynomial:
    """``pieces[j]`` (a polynomial in ``var``) on ``[breaks[j-1], breaks[j])``."""

    var: sp.Symbol
    breaks: tuple
    pieces: tuple

    def intervals(self):
        """``(lo, hi, poly)`` triples, with ``-oo`` and ``oo`` at the ends."""
        edges = (sp.S.NegativeInfinity, *self.breaks, sp.S.Infinity)
        return [(edges[j], edges[j + 1], p) for j, p in enumerate(self.pieces)]

    def degree(self) -> int:
        return max(sp.Poly(p, self.var).degree() for p in self.pieces)

    def as_expr(self) -> sp.Expr:
        """The target again, as a SymPy ``Piecewise``."""
        pairs = [(p, self.var < c) for p, c in zip(self.pieces, self.breaks, strict=False)]
        return sp.Piecewise(*pairs, (self.pieces[-1], True))


@dataclass(frozen=True)
class Staircase:
    """``coef * floor(scale * x + shift)`` with ``scale > 0``."""

    coef: sp.Expr
    scale: sp.Expr
    shift: sp.Expr


@dataclass(frozen=True)
class Decomposition:
    """``target = pieces + sum(staircases)`` almost everywhere."""

    pieces: PiecewisePolynomial
    staircases: tuple = ()


def decompose(expr: sp.Expr, var: sp.Symbol) -> Decomposition:
    """Split ``expr`` (in ``var``) into a piecewise polynomial plus staircase terms.

    Raises
    ------
    ConvolutionError
        When a part is not piecewise polynomial or an order/sign cannot be decided.
    """
    smooth, stairs = sp.S.Zero, []
    for term in sp.Add.make_args(sp.expand(expr, deep=False, mul=True, multinomial=False)):
        found = _staircase(term, var)
        if found is None:
            smooth += term
        else:
            extra, stair = found
            smooth += extra
            stairs.append(stair)
    return Decomposition(to_pieces(smooth, var), tuple(stairs))


def to_pieces(expr: sp.Expr, var: sp.Symbol) -> PiecewisePolynomial:
    """``expr`` as a :class:`PiecewisePolynomial` in ``var``."""
    return _merge_equal(_convert(expr, var))


# --- ordering and signs ------------------------------------------------------------------------


def decide(relation) -> bool:
    """Truth value of a relation between symbolic constants, or ConvolutionError."""
    value = relation if isinstance(relation, bool) else sp.simplify(relation)
    if value in (True, sp.true):
        return True
    if value in (False, sp.false):
        return False
    raise ConvolutionError(
        f"cannot decide whether {relation} holds: give the parameters numeric values or "
        "declare them positive (sympy.Symbol('a', positive=True)), or write the target as an "
        "explicit Piecewise in the order you intend"
    )


def _sign(value: sp.Expr) -> int:
    value = sp.expand(value)
    if value.is_zero:
        return 0
    if value.is_positive:
        return 1
    if value.is_negative:
        return -1
    raise ConvolutionError(
        f"cannot decide the sign of {value}: give the parameters numeric values or declare "
        "their signs (e.g. positive=True), or write the target as an explicit Piecewise"
    )


def _merge_breaks(a: tuple, b: tuple) -> tuple:
    out = list(a)
    for c in b:
        pos = 0
        while pos < len(out):
            if sp.expand(out[pos] - c) == 0:
                break
            if decide(c < out[pos]):
                out.insert(pos, c)
                break
            pos += 1
        else:
            out.append(c)
    return tuple(out)


def _refine(pp: PiecewisePolynomial, breaks: tuple) -> tuple:
    """Pieces of ``pp`` on the finer partition ``breaks`` (which contains ``pp.breaks``)."""
    pieces, j = [], 0
    for k in range(len(breaks) + 1):
        if k > 0 and j < len(pp.breaks) and sp.expand(breaks[k - 1] - pp.breaks[j]) == 0:
            j += 1
        pieces.append(pp.pieces[j])
    return tuple(pieces)


def _combine(op, *pps: PiecewisePolynomial) -> PiecewisePolynomial:
    breaks = reduce(_merge_breaks, (p.breaks for p in pps), ())
    refined = [_refine(p, breaks) for p in pps]
    pieces = tuple(sp.expand(op(*vals)) for vals in zip(*refined, strict=True))
    return PiecewisePolynomial(pps[0].var, breaks, pieces)


def _merge_equal(pp: PiecewisePolynomial) -> PiecewisePolynomial:
    breaks, pieces = [], [pp.pieces[0]]
    for c, p in zip(pp.breaks, pp.pieces[1:], strict=True):
        if sp.expand(p - pieces[-1]) == 0:
            continue
        breaks.append(c)
        pieces.append(p)
    return PiecewisePolynomial(pp.var, tuple(breaks), tuple(pieces))


def _probe(lo, hi):
    if lo == sp.S.NegativeInfinity and hi == sp.S.Infinity:
        return sp.S.Zero
    if lo == sp.S.NegativeInfinity:
        return hi - 1
    if hi == sp.S.Infinity:
        return lo + 1
    return (lo + hi) / 2


def _roots_inside(poly: sp.Expr, var, lo, hi) -> list:
    p = sp.Poly(poly, var)
    if p.degree() <= 0:
        return []
    if p.degree() == 1:
        roots = [-p.nth(0) / p.nth(1)]
    elif p.free_symbols - {var}:
        raise ConvolutionError(
            f"cannot locate the sign changes of {poly} (degree {p.degree()} with symbolic "
            "coefficients); give the coefficients numeric values"
        )
    else:
        roots = sorted(set(sp.real_roots(p)), key=lambda r: float(r))
    return [r for r in roots if decide(lo < r) and decide(r < hi)]


def sign_pattern(pp: PiecewisePolynomial) -> PiecewisePolynomial:
    """``sign(pp)`` as a piecewise constant."""
    breaks, signs = [], []
    for lo, hi, poly in pp.intervals():
        cuts = _roots_inside(poly, pp.var, lo, hi)
        edges = [lo, *cuts, hi]
        for k in range(len(edges) - 1):
            if k > 0 or lo != sp.S.NegativeInfinity:
                breaks.append(edges[k])
            signs.append(sp.Integer(_sign(poly.subs(pp.var, _probe(edges[k], edges[k + 1])))))
    return _merge_equal(PiecewisePolynomial(pp.var, tuple(breaks), tuple(signs)))


# --- conversion, dispatched on the node type ---------------------------------------------------


def _const(value, var) -> PiecewisePolynomial:
    return PiecewisePolynomial(var, (), (sp.sympify(value),))


def _convert(expr, var) -> PiecewisePolynomial:
    if var not in expr.free_symbols:
        return _const(expr, var)
    return _node(expr, var)


@singledispatch
def _node(expr, var) -> PiecewisePolynomial:
    if isinstance(expr, sp.Function):
        rewritten = expr.rewrite(sp.Piecewise)
        if rewritten != expr:
            return _convert(rewritten, var)
    raise ConvolutionError(
        f"cannot convolve {expr}: the engine handles piecewise-polynomial targets ({SUPPORTED}) "
        "of the convolution variable; rewrite the target with those"
    )


@_node.register
def _(expr: sp.Symbol, var):
    return PiecewisePolynomial(var, (), (expr,))


@_node.register
def _(expr: sp.Add, var):
    return _combine(lambda *v: sp.Add(*v), *(_convert(a, var) for a in expr.args))


@_node.register
def _(expr: sp.Mul, var):
    return _combine(lambda *v: sp.Mul(*v), *(_convert(a, var) for a in expr.args))


@_node.register
def _(expr: sp.Pow, var):
    base, exponent = expr.args
    if not (exponent.is_Integer and exponent >= 0):
        raise ConvolutionError(
            f"cannot convolve {expr}: only non-negative integer powers of piecewise polynomials "
            "are supported"
        )
    return _combine(lambda v: v**exponent, _convert(base, var))


def _step(arg, var, values) -> PiecewisePolynomial:
    """Map the sign pattern of ``arg`` through ``values = {-1: ., 0: ., 1: .}``."""
    signs = sign_pattern(_convert(arg, var))
    return _merge_equal(
        PiecewisePolynomial(var, signs.breaks, tuple(values[int(s)] for s in signs.pieces))
    )


@_node.register
def _(expr: sp.sign, var):
    return _step(expr.args[0], var, {-1: sp.S.NegativeOne, 0: sp.S.Zero, 1: sp.S.One})


@_node.register
def _(expr: sp.Heaviside, var):
    at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
    return _step(expr.args[0], var, {-1: sp.S.Zero, 0: at_zero, 1: sp.S.One})


@_node.register
def _(expr: sp.Abs, var):
    inner = _convert(expr.args[0], var)
    return _combine(lambda v, s: v * s, inner, sign_pattern(inner))


def _extremum(expr, var, pick):
    def pair(p, q):
        s = sign_pattern(_combine(lambda a, b: a - b, p, q))
        return _combine(lambda a, b, sg: a if pick(sg) else b, p, q, s)

    return reduce(pair, (_convert(a, var) for a in expr.args))


@_node.register
def _(expr: sp.Max, var):
    return _extremum(expr, var, lambda s: s >= 0)


@_node.register
def _(expr: sp.Min, var):
    return _extremum(expr, var, lambda s: s <= 0)


@_node.register
def _(expr: sp.Piecewise, var):
    total, rest = _const(0, var), _const(1, var)
    for value, cond in expr.args:
        ind = _indicator(cond, var)
        weight = _combine(lambda r, i: r * i, rest, ind)
        total = _combine(lambda t_, w, v: t_ + w * v, total, weight, _convert(value, var))
        rest = _combine(lambda r, i: r * (1 - i), rest, ind)
    return total


def _indicator(cond, var) -> PiecewisePolynomial:
    """0/1 piecewise constant of a condition on ``var`` (boundaries do not matter)."""
    if cond in (True, sp.true):
        return _const(1, var)
    if cond in (False, sp.false):
        return _const(0, var)
    if isinstance(cond, sp.And):
        return _combine(lambda *v: sp.Mul(*v), *(_indicator(c, var) for c in cond.args))
    if isinstance(cond, sp.Or):
        parts = [_indicator(c, var) for c in cond.args]
        return _combine(lambda *v: 1 - sp.Mul(*[1 - w for w in v]), *parts)
    if isinstance(cond, sp.Not):
        return _combine(lambda v: 1 - v, _indicator(cond.args[0], var))
    if isinstance(cond, (sp.Eq, sp.Ne)):
        return _const(0 if isinstance(cond, sp.Eq) else 1, var)
    if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
        return _step(cond.lhs - cond.rhs, var, {-1: 0, 0: 0, 1: 1})
    if isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
        return _step(cond.rhs - cond.lhs, var, {-1: 0, 0: 0, 1: 1})
    raise ConvolutionError(f"cannot read the condition {cond}; use <, <=, >, >=, &, |, ~")


# --- staircases (countably many jumps) ---------------------------------------------------------

_STAIRS = {
    "floor": lambda arg: (sp.S.Zero, arg),
    "ceiling": lambda arg: (sp.S.One, arg),  # ceil(z) = floor(z) + 1 almost everywhere
    "round": lambda arg: (sp.S.Zero, arg + sp.S.Half),
}


def _staircase(term: sp.Expr, var):
    """``(extra, Staircase)`` when ``term = extra + coef*floor(...)``, else ``None``."""
    coef, rest = term.as_independent(var, as_Add=False)
    name = type(rest).__name__.lower()
    if name == "frac":  # frac(z) = z - floor(z)
        arg = rest.args[0]
        extra, stair = _staircase(-coef * sp.floor(arg), var)
        return coef * arg + extra, stair
    if name not in _STAIRS:
        if any(type(f).__name__.lower() in (*_STAIRS, "frac") for f in term.atoms(sp.Function)):
            raise ConvolutionError(
                f"cannot convolve {term}: floor/ceiling/frac/round must appear as constant "
                "multiples of one affine argument, added to the rest of the target"
            )
        return None
    offset, arg = _STAIRS[name](rest.args[0])
    poly = sp.Poly(sp.expand(arg), var) if arg.is_polynomial(var) else None
    if poly is None or poly.degree() != 1:
        raise ConvolutionError(f"cannot convolve {term}: the argument of {name} must be affine")
    scale, shift = poly.nth(1), poly.nth(0)
    if _sign(scale) < 0:  # floor(-z) = -floor(z) - 1 almost everywhere
        return coef * (offset - 1), Staircase(-coef, -scale, -shift)
    return coef * offset, Staircase(coef, scale, shift)
