r"""Rule set ``scaling``: forms whose intermediate powers overflow, underflow or round badly.

* ``recip1p_sq``: ``1/(1 + a^2 b^2) -> recip1p_sq(a, b)``.  ``(a b)^2`` overflows for
  ``|a b| > 1.3e154`` although the result ``1/(a b)^2`` is representable up to
  ``|a b| ~ 6e161``; the primitive (:mod:`symsmooth.functions.scaling`) forms the square
  exactly and scales it by ``2^-600`` above ``2^450``.  The derivative of ``atan(k x)`` (the
  ``soft_sign_arctan`` gradient) is the motivating case.
* ``odd_root_sum``: ``sign(s) |s|^(1/n)`` with ``s = x^n + y^n``, ``n`` odd ->
  ``odd_root_sum(x, y, n)``, evaluated as ``m sign(s') |s'|^(1/n)``, ``m = max(|x|, |y|)``,
  ``s' = (x/m)^n + (y/m)^n`` (the odd-power smooth max): ``x^n`` overflows for
  ``|x| > 5.6e102`` at ``n = 3`` and underflows for ``|x| < 1e-103``.
* ``lse_square``: ``logsumexp(w, -w, log 2) -> 2 logsumexp(w/2, -w/2)``
  (``e^w + 2 + e^-w = (e^(w/2) + e^(-w/2))^2``): the pair helper ``_logsumexp2`` rounds once,
  the three-term one rounds ``exp``, ``log`` and ``log 2`` separately (smooth_abs_logistic value
  1.15 ulp), and the gradient of the new form reaches ``tanh(w/2)`` through ``softmax_pair`` and
  ``sigmoid_difference`` instead of ``exp(max(.) - L) expm1(.)`` with a rounded ``L`` (7.58 ulp).

References
----------
N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed. (2002), sec. 27.8
(scaling to avoid overflow); ISO C99 7.12.7.3 (hypot, the same scaling for ``n = 2``).
T. J. Dekker, Numer. Math. 18 (1971) (exact products).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> x, y = sp.symbols("x y", real=True); k = sp.Symbol("k", positive=True)
>>> stabilize(2 * k / (sp.pi * (k**2 * x**2 + 1))).expr
2*k*recip1p_sq(k, x)/pi
>>> s = x**5 + y**5
>>> stabilize(sp.Abs(s) ** sp.Rational(1, 5) * sp.sign(s)).expr
odd_root_sum(x, y, 5)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import logsumexp
from symsmooth.functions.scaling import odd_root_sum, recip1p_sq
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "scaling"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

x, y, a, b = sp.symbols("x y a b", real=True)
k = sp.Symbol("k", integer=True, positive=True)

HIGHAM = "Higham, Accuracy and Stability of Numerical Algorithms (2002), sec. 27.8"


def _square_root(term: sp.Expr) -> sp.Expr | None:
    """``g`` with ``g**2 == term`` when every factor is an even power or a positive number."""
    roots = []
    for f in sp.Mul.make_args(term):
        base, e = f.as_base_exp()
        if f.is_number and f.is_positive:
            roots.append(sp.sqrt(f))
        elif e.is_Integer and e % 2 == 0:
            roots.append(base ** (e / 2))
        else:
            return None
    return sp.Mul(*roots)


def _match_recip1p_sq(node: sp.Pow) -> dict | None:
    """``(1 + g^2)^-1`` with ``g`` a product of real factors: ``{"a": first, "b": rest}``."""
    base, e = node.args
    if e != -1 or not isinstance(base, sp.Add) or len(base.args) != 2 or sp.S.One not in base.args:
        return None
    (term,) = [t for t in base.args if t != 1]
    g = _square_root(term)
    if g is None or g.is_number or not g.is_real:
        return None
    factors = sp.Mul.make_args(g)
    return {"a": factors[0], "b": sp.Mul(*factors[1:])}


def _match_odd_root_sum(node: sp.Mul) -> dict | None:
    """``Abs(s)**(1/n) * sign(s) * rest`` with ``s = x**n + y**n``, ``n`` odd."""
    signs = [f for f in node.args if isinstance(f, sp.sign)]
    for sg in signs:
        s = sg.args[0]
        if not isinstance(s, sp.Add) or len(s.args) != 2:
            continue
        powers = [t.as_base_exp() for t in s.args]
        n = powers[0][1]
        if powers[1][1] != n or not (n.is_odd and n.is_positive) or n == 1:
            continue
        root = sp.Abs(s) ** (1 / n)
        if root not in node.args or not all(p[0].is_real for p in powers):
            continue
        rest = [f for f in node.args if f is not sg and f != root]
        return {"x": powers[0][0], "y": powers[1][0], "n": n, "rest": sp.Mul(*rest)}
    return None


def _match_lse_square(node: sp.Function) -> dict | None:
    """``logsumexp(w, -w, log 2)`` (any order): ``{"w": w}``."""
    if len(node.args) != 3 or sp.log(2) not in node.args:
        return None
    a, b = [v for v in node.args if v != sp.log(2)]
    return {"w": a} if sp.expand(a + b) == 0 and a.is_real else None


RECIP1P_SQ = Rule(
    name="recip1p_sq",
    phase=PHASE,
    head=sp.Pow,
    match=_match_recip1p_sq,
    build=lambda a, b: recip1p_sq(a, b),
    citation=HIGHAM + "; Dekker 1971 (exact a b and (a b)^2)",
    description="1/(1 + a^2 b^2) -> recip1p_sq(a, b) (square exact, scaled past 2^450)",
    naive=1 / (1 + x**2),
    hard_inputs=({x: 1e160}, {x: -3e155}),
    failure="x^2 overflows for |x| > 1.3e154: 0 instead of 1/x^2 (down to 1/x^2 = 4.9e-324)",
)

ODD_ROOT_SUM = Rule(
    name="odd_root_sum",
    phase=PHASE,
    head=sp.Mul,
    match=_match_odd_root_sum,
    build=lambda x, y, n, rest: rest * odd_root_sum(x, y, n),
    citation=HIGHAM + "; ISO C99 7.12.7.3 (hypot scaling)",
    description="sign(s)|s|^(1/n), s = x^n + y^n (n odd) -> odd_root_sum(x, y, n), scaled by "
    "max(|x|, |y|)",
    naive=sp.Abs(x**3 + y**3) ** sp.Rational(1, 3) * sp.sign(x**3 + y**3),
    hard_inputs=({x: 1e200, y: 3e199}, {x: 3e-120, y: -2e-120}, {x: 2e-300, y: 1e-300}),
    failure="x^n overflows for |x| > 1.8e308^(1/n) (inf) and underflows below ~1e-308^(1/n) "
    "(0 or subnormal digits)",
)

LSE_SQUARE = Rule(
    name="lse_square",
    phase=PHASE,
    head=logsumexp,
    match=_match_lse_square,
    build=lambda w: 2 * logsumexp(w / 2, -w / 2),
    citation="e^w + 2 + e^-w = (e^(w/2) + e^(-w/2))^2; the pair helper _logsumexp2 rounds once "
    "(docs/codegen.md, pair logsumexp value)",
    description="logsumexp(w, -w, log 2) -> 2 logsumexp(w/2, -w/2) (one rounding, no log 2)",
    naive=logsumexp(2 * x, -2 * x, sp.log(2)),
    hard_inputs=({x: 400.0}, {x: -500.0}),
    failure="exp(w) overflows for |w| > 709.8 (inf); the three-term helper rounds exp, log and "
    "log 2 separately (1.15 ulp in smooth_abs_logistic)",
)

SCALING_RULES = register_rules([RECIP1P_SQ, ODD_ROOT_SUM, LSE_SQUARE])
SCALING = register_rule_set(
    "scaling",
    SCALING_RULES,
    "scaled forms: 1/(1 + (a b)^2) and odd-power roots of x^n + y^n (no overflow of powers)",
)
