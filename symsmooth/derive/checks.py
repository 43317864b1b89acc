"""Checking one derivation step: a symbolic identity, else numbers at random points.

A step is a SymPy relation ``lhs REL rhs`` (``Eq``, ``Le``, ``Lt``, ``Ge``, ``Gt``).  An equation
is first tried symbolically (``sp.simplify(lhs - rhs) == 0`` on the textbook exp/log form, for
small expressions without sums); otherwise, and for every inequality, both sides are evaluated
with mpmath at ``dps`` digits at random points: size symbols get small concrete integers (so
``Sum`` and ``MaxOver`` expand), free integer indices get a value in range, every ``Indexed``
element and every other symbol a random real (positive where the symbol says so).
A left side ``Limit(f, p, p0)`` is checked by evaluating ``f`` ever closer to ``p0``.

References
----------
F. Johansson et al., mpmath (arbitrary-precision floating point), https://mpmath.org.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> check_relation(sp.Eq(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)).method
'symbolic'
>>> c = check_relation(sp.Le(sp.log(1 + sp.exp(x)), sp.Max(x, 0) + sp.log(2)))
>>> (c.method, c.passed)
('numeric', True)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import mpmath
import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits

from symsmooth.budget import deadline
from symsmooth.errors import BudgetError
from symsmooth.functions import naive

SYMBOLIC_OPS_LIMIT = 120
"""Expressions with more operations than this skip ``simplify`` (it can take minutes)."""
SIMPLIFY_SECONDS = 5.0
"""Time given to the symbolic check of one step (inside its stage's deadline); past it the step
is checked numerically instead (bounded work: a slow ``simplify`` never fails a derivation)."""

RELATIONS = {sp.Eq: "eq", sp.Le: "le", sp.Lt: "lt", sp.Ge: "ge", sp.Gt: "gt"}


@dataclass(frozen=True)
class Check:
    """How a step was checked and what came out.

    Attributes
    ----------
    method : {"symbolic", "numeric"}
    passed : bool
    max_abs_diff : float
        ``max |lhs - rhs|`` over the points for an equation; the largest violation
        ``max(lhs - rhs, 0)`` (for ``<=``) for an inequality; 0.0 when proved symbolically.
    points : int
        Number of random points evaluated (0 for a symbolic proof).
    detail : str
        Human-readable summary.
    """

    method: str
    passed: bool
    max_abs_diff: float
    points: int = 0
    detail: str = ""


@dataclass(frozen=True)
class CheckContext:
    """Where random points are drawn from.

    Attributes
    ----------
    sizes : tuple of int
        Concrete values tried for every size symbol (upper limit of a sum), cycled over points.
    domains : mapping
        ``Symbol`` or ``IndexedBase`` -> ``(lo, hi)`` interval overriding the default
        (``(0.1, 2.5)`` for positive symbols, ``(-2, 2)`` otherwise).
    fixed : mapping
        ``Symbol`` -> value substituted before anything else (e.g. a size tied to data).
    points : int
        Random points per numeric check.
    dps : int
        mpmath decimal digits.
    seed : int
    rtol : float
        Relative tolerance of a numeric equality.
    """

    sizes: tuple[int, ...] = (2, 3, 4)
    domains: Mapping = field(default_factory=dict)
    fixed: Mapping = field(default_factory=dict)
    points: int = 6
    dps: int = 30
    seed: int = 20240501
    rtol: float = 1e-20


class _Sampler:
    """Random values for one point, drawn lazily and shared by both sides of a relation."""

    def __init__(self, ctx: CheckContext, rng: random.Random, size: int):
        self.ctx, self.rng, self.size = ctx, rng, size
        self.values: dict = {}

    def interval(self, key, positive: bool) -> tuple[float, float]:
        if key in self.ctx.domains:
            return self.ctx.domains[key]
        return (0.1, 2.5) if positive else (-2.0, 2.0)

    def real(self, key, positive: bool) -> sp.Float:
        if key not in self.values:
            lo, hi = self.interval(key, positive)
            self.values[key] = sp.Float(self.rng.uniform(lo, hi), self.ctx.dps)
        return self.values[key]

    def integer(self, key, lo: int, hi: int) -> sp.Integer:
        if key not in self.values:
            self.values[key] = sp.Integer(self.rng.randint(lo, hi))
        return self.values[key]


def _size_symbols(expr: sp.Basic) -> set:
    """Free symbols that occur in the limits of a Sum/MaxOver/... (the vector lengths)."""
    found = set()
    for node in expr.atoms(ExprWithLimits):
        for limit in node.limits:
            for bound in limit[1:]:
                found |= bound.free_symbols
    return found


def _index_symbols(expr: sp.Basic) -> set:
    """Free integer symbols used as indices (of ``Indexed`` or ``KroneckerDelta``)."""
    found = set()
    for node in expr.atoms(sp.Indexed):
        for idx in node.indices:
            found |= idx.free_symbols
    for node in expr.atoms(sp.KroneckerDelta):
        found |= node.free_symbols
    return {s for s in found if s.is_integer} & expr.free_symbols


def _concrete(expr: sp.Basic, sampler: _Sampler, sizes: set, indices: set) -> sp.Basic:
    """``expr`` with sizes and indices substituted and sums expanded."""
    ctx = sampler.ctx
    subs = dict(ctx.fixed)
    for s in sorted(sizes - set(subs), key=str):
        subs[s] = sp.Integer(sampler.size)
    for s in sorted(indices - set(subs), key=str):
        subs[s] = sampler.integer(s, 1, sampler.size)
    return expand_sums(expr.subs(subs, simultaneous=True)).doit()  # subs keeps bound indices


def _explicit(s: sp.Sum) -> sp.Expr:
    body = s.function
    for i, lo, hi in s.limits:
        if not (lo.is_Integer and hi.is_Integer):
            return s
        body = sp.Add(*[body.xreplace({i: sp.Integer(k)}) for k in range(int(lo), int(hi) + 1)])
    return body


def expand_sums(expr: sp.Basic) -> sp.Basic:
    """Every ``Sum`` with integer limits written out as an ``Add`` (much faster than ``doit``).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.IndexedBase("x"); i = sp.Symbol("i", integer=True)
    >>> expand_sums(sp.Sum(x[i] ** 2, (i, 1, 3)))
    x[1]**2 + x[2]**2 + x[3]**2
    """
    return expr.replace(lambda e: isinstance(e, sp.Sum), _explicit)


def _numeric(expr: sp.Basic, sampler: _Sampler) -> sp.Basic:
    """Replace every ``Indexed`` and remaining symbol by a random real."""
    subs = {}
    for node in sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key):
        base = node.base
        positive = bool(base.label.is_positive)
        key = (base, node.indices)
        lo_hi = sampler.interval(base, positive)
        if key not in sampler.values:
            sampler.values[key] = sp.Float(sampler.rng.uniform(*lo_hi), sampler.ctx.dps)
        subs[node] = sampler.values[key]
    expr = expr.xreplace(subs)
    for s in sorted(expr.free_symbols, key=str):
        subs[s] = sampler.real(s, bool(s.is_positive))
    return expr.xreplace(subs)


def evaluate(expr: sp.Basic, sampler: _Sampler, sizes: set, indices: set) -> mpmath.mpf:
    """One side of a relation at the sampler's point, as an mpmath real."""
    value = _numeric(_concrete(expr, sampler, sizes, indices), sampler)
    value = sp.N(value, sampler.ctx.dps)
    if value.has(sp.nan, sp.zoo) or not value.is_number:
        raise ValueError(f"could not evaluate to a number: {value}")
    re, im = value.as_real_imag()
    if abs(im) > 1e-20 * (1 + abs(re)):
        raise ValueError(f"complex value {value}")
    return mpmath.mpf(sp.Float(re, sampler.ctx.dps)._to_mpmath(sampler.ctx.dps * 4))


def _symbolic_zero(diff: sp.Expr) -> bool:
    if diff.atoms(ExprWithLimits, sp.Limit) or sp.count_ops(diff) > SYMBOLIC_OPS_LIMIT:
        return False
    try:
        with deadline("simplify", SIMPLIFY_SECONDS):
            return sp.simplify(naive(diff.doit())) == 0
    except (TypeError, ValueError, BudgetError):  # slow or failed: the numeric check decides
        return False


def _limit_sides(lhs, rhs, ctx: CheckContext):
    """For ``Limit(f, p, p0) = rhs``: the sides to evaluate at ever closer values of ``p``."""
    f, p, p0 = lhs.args[0], lhs.args[1], lhs.args[2]
    approach = [sp.Integer(10) ** k for k in (2, 3, 4)]
    if p0 != sp.oo:
        approach = [p0 + sp.Integer(1) / a for a in approach]
    return [(f.xreplace({p: a}), rhs) for a in approach]


def check_relation(relation: sp.Basic, ctx: CheckContext | None = None) -> Check:
    """Check ``relation`` (``Eq``/``Le``/``Lt``/``Ge``/``Gt``) symbolically or numerically.

    Parameters
    ----------
    relation : sympy relational
    ctx : CheckContext, optional

    Returns
    -------
    Check
    """
    ctx = ctx or CheckContext()
    kind = RELATIONS.get(type(relation))
    if kind is None:
        raise TypeError(f"a step must be Eq/Le/Lt/Ge/Gt, got {type(relation).__name__}")
    lhs, rhs = relation.lhs, relation.rhs
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        return _matrix_check(sp.Matrix(lhs), sp.Matrix(rhs), type(relation), ctx)
    if kind in ("ge", "gt"):
        lhs, rhs, kind = rhs, lhs, {"ge": "le", "gt": "lt"}[kind]
    if kind == "eq" and not isinstance(lhs, sp.Limit) and _symbolic_zero(lhs - rhs):
        return Check("symbolic", True, 0.0, 0, "sympy.simplify(lhs - rhs) == 0")
    return _numeric_check(lhs, rhs, kind, ctx)


def _matrix_check(lhs: sp.Matrix, rhs: sp.Matrix, relation, ctx: CheckContext) -> Check:
    """Entrywise check of a matrix relation; the aggregate is symbolic only if every entry is."""
    if lhs.shape != rhs.shape:
        return Check("symbolic", False, float("inf"), 0, f"shapes {lhs.shape} != {rhs.shape}")
    checks = [
        check_relation(relation(a, b, evaluate=False), ctx) for a, b in zip(lhs, rhs, strict=False)
    ]
    method = "symbolic" if all(c.method == "symbolic" for c in checks) else "numeric"
    return Check(
        method,
        all(c.passed for c in checks),
        max(c.max_abs_diff for c in checks),
        max(c.points for c in checks),
        f"entrywise over {len(checks)} entries",
    )


def _numeric_check(lhs, rhs, kind: str, ctx: CheckContext) -> Check:
    is_limit = isinstance(lhs, sp.Limit)
    both = sp.Tuple(lhs, rhs)
    sizes, indices = _size_symbols(both), _index_symbols(both)
    rng = random.Random(ctx.seed)
    worst, passed, limit_errors = mpmath.mpf(0), True, []
    with mpmath.workdps(ctx.dps):
        for k in range(ctx.points):
            sampler = _Sampler(ctx, rng, ctx.sizes[k % len(ctx.sizes)])
            pairs = _limit_sides(lhs, rhs, ctx) if is_limit else [(lhs, rhs)]
            try:
                diffs = [
                    evaluate(a, sampler, sizes, indices) - evaluate(b, sampler, sizes, indices)
                    for a, b in pairs
                ]
            except (ValueError, TypeError) as exc:
                return Check("numeric", False, float("inf"), k, f"evaluation failed: {exc}")
            scale = 1 + abs(
                evaluate(rhs if not is_limit else pairs[-1][1], sampler, sizes, indices)
            )
            if is_limit:
                err = abs(diffs[-1])
                limit_errors.append(err)
                passed &= err <= 1e-6 * scale and abs(diffs[-1]) <= abs(diffs[0]) + 1e-25
            elif kind == "eq":
                err = abs(diffs[0])
                passed &= err <= ctx.rtol * scale
            else:
                err = max(diffs[0], 0)
                tol = ctx.rtol * scale
                passed &= diffs[0] <= tol if kind == "le" else diffs[0] < tol
            worst = max(worst, err)
    what = "limit approached" if is_limit else {"eq": "equal", "le": "<=", "lt": "<"}[kind]
    detail = (
        f"{what} at {ctx.points} random points ({ctx.dps} digits, sizes {sorted(set(ctx.sizes))})"
    )
    return Check("numeric", bool(passed), float(worst), ctx.points, detail)
