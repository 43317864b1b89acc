"""Rule set ``special``: log-cosh, hypot, Gaussian-smoothed ReLU, tanh and softmax-pair forms.

==================  ====================================  =====================================
rule                naive                                 stable
==================  ====================================  =====================================
log_cosh            log(cosh z)                           logcosh(z)
hypot               (a^2 + b^2)^(m/2), m odd              hypot(a, b)^m
relu_gauss          s u Phi(u) + s exp(-u^2/2)/sqrt(2pi)  s relu_gauss(u)
tanh_complement     k - k tanh(z)^2                       4 k sigmoid(2z) sigmoid(-2z)
softmax_pair        exp(a - logsumexp(a, b))              sigmoid(a - b)
exp_difference      c exp(a) - c exp(b)                   c sign(a-b) exp(Max(a,b)) (-expm1(-|a-b|))
==================  ====================================  =====================================

Why each is needed in float64 (the ``hard_inputs`` of each rule, tested in
``tests/test_stabilize_extra.py``):

* ``log(cosh z)``: ``cosh`` overflows past ``|z| = 710.5`` and rounds to 1 below
  ``|z| = 1.5e-8``.  ``logcosh`` (:mod:`symsmooth.functions.special`) splits regimes: the
  rewrite ``|z| + log1p(exp(-2|z|)) - log 2`` for ``|z| > 1`` (it cancels for small ``|z|``),
  ``z^2/2 + z^4 P(z^2)`` below.
* ``sqrt(a^2 + b^2)``: the squares overflow for ``|a| > 1.3e154`` and underflow below
  ``1.5e-154``; ``math.hypot`` scales (C99 7.12.7.3).
* ``x Phi(x/s) + s phi(x/s)`` (ReLU convolved with N(0, s^2)): for ``t = x/s << 0`` the two terms
  are ``t^2`` times the result and cancel (relative error ``~t^4 eps``).
* ``1 - tanh^2``: ``tanh`` rounds to 1 for ``z > 19.1``; ``4 sigmoid(2z) sigmoid(-2z)`` (=
  ``1/cosh^2 z``) has no cancellation and, unlike ``cosh(z)**2``, no overflow.
* ``exp(a - logsumexp(a, b))``: the logsumexp (~|a|) is rounded before the subtraction
  (relative error ``~|a| eps``); ``sigmoid(a - b)`` forms only the difference.
* ``c exp(a) - c exp(b)`` with ``a - b`` symbolically small (``exp(2kx - L) - exp(-2kx - L)``):
  ``a - b`` is taken symbolically (``4kx``), so nothing cancels numerically.

References
----------
ISO C99 7.12.7.3 (hypot); M. Abramowitz, I. A. Stegun (1964), 4.5.24, 26.2.14;
M. Maechler, "Accurately computing log(1 - exp(-|a|))" (2012); LogExpFunctions.jl
(``logcosh``, ``logistic``); P. Blanchard, D. J. Higham, N. J. Higham, IMA J. Numer. Anal. 41
(2021) (softmax of a pair as a logistic function).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> x, y = sp.symbols("x y", real=True); k = sp.Symbol("k", positive=True)
>>> stabilize(sp.log(sp.cosh(k * x)) / k).expr
logcosh(k*x)/k
>>> stabilize(sp.sqrt(x**2 + 4)).expr
hypot(2, x)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1

from symsmooth.functions import Phi, logsumexp, phi, sigmoid
from symsmooth.functions.special import hypot, logcosh, relu_gauss
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "compound"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

z, a, b, x = sp.symbols("z a b x", real=True)
s = sp.Symbol("s", positive=True)

LEF = "LogExpFunctions.jl (logcosh, logistic)"


def _match_log_cosh(node: sp.log) -> dict | None:
    arg = node.args[0]
    return {"z": arg.args[0]} if isinstance(arg, sp.cosh) else None


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


def _match_hypot(node: sp.Pow) -> dict | None:
    base, p = node.args
    if not (isinstance(base, sp.Add) and len(base.args) == 2 and p.is_Rational and p.q == 2):
        return None
    roots = [_square_root(t) for t in base.args]
    if any(r is None for r in roots) or all(r.is_number for r in roots):
        return None
    return {"a": roots[0], "b": roots[1], "m": p * 2}


def _gauss_scale(term: sp.Expr, u: sp.Expr) -> sp.Expr | None:
    """``s`` with ``term == s phi(u)`` (``phi`` written as ``exp(-u^2/2)/sqrt(2 pi)`` or not)."""
    density = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    for form in (phi(u), density):
        ratio = sp.simplify(sp.powsimp(term / form, force=True))
        if not ratio.has(sp.exp, phi):
            return ratio
    return None


def _match_relu_gauss(node: sp.Add) -> dict | None:
    terms = list(node.args)
    for i, t in enumerate(terms):
        cdf = [f for f in sp.Mul.make_args(t) if isinstance(f, Phi)]
        if len(cdf) != 1:
            continue
        u = cdf[0].args[0]
        scale = sp.simplify(t / (cdf[0] * u))
        if scale.has(Phi) or scale.is_zero:
            continue
        for j, other in enumerate(terms):
            if j != i and (other.has(sp.exp) or other.has(phi)):
                if (
                    _gauss_scale(other, u) is not None
                    and sp.simplify(_gauss_scale(other, u) - scale) == 0
                ):
                    rest = [r for m, r in enumerate(terms) if m not in (i, j)]
                    return {"scale": scale, "u": u, "rest": sp.Add(*rest)}
    return None


def _match_tanh_complement(node: sp.Add) -> dict | None:
    for t in node.args:
        factors = sp.Mul.make_args(t)
        squares = [f for f in factors if f.is_Pow and isinstance(f.base, sp.tanh) and f.exp == 2]
        if len(squares) != 1:
            continue
        k = -t / squares[0]
        if k in node.args or (k.is_Add and all(a in node.args for a in k.args)):
            rest = sp.expand(node - (k - k * squares[0].base ** 2))
            return {"k": k, "z": squares[0].base.args[0], "rest": rest}
    return None


def _match_softmax_pair(node: sp.exp) -> dict | None:
    arg = node.args[0]
    lse = [-t for t in sp.Add.make_args(arg) if isinstance(-t, logsumexp)]
    if len(lse) != 1 or len(lse[0].args) != 2:
        return None
    first = sp.expand(arg + lse[0])
    p, q = lse[0].args
    if sp.expand(first - p) == 0:
        return {"d": sp.expand(p - q)}
    if sp.expand(first - q) == 0:
        return {"d": sp.expand(q - p)}
    return None


def _exp_part(term: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    exps = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.exp)]
    if len(exps) != 1:
        return None
    return term / exps[0], exps[0].args[0]


def _match_exp_difference(node: sp.Add) -> dict | None:
    parts = [_exp_part(t) for t in node.args]
    for i, pi in enumerate(parts):
        for j, pj in enumerate(parts):
            if i == j or pi is None or pj is None or sp.expand(pi[0] + pj[0]) != 0:
                continue
            if pi[0].could_extract_minus_sign():
                continue
            d = sp.expand(pi[1] - pj[1])
            if d.is_number or d.has(logsumexp) or len(sp.Add.make_args(d)) > 2:
                continue
            rest = sp.Add(*[t for m, t in enumerate(node.args) if m not in (i, j)])
            return {"c": pi[0], "a": pi[1], "b": pj[1], "d": d, "rest": rest}
    return None


def _build_exp_difference(c, a, b, d, rest):
    return c * sp.sign(d) * sp.exp(sp.Max(a, b)) * (-expm1(-sp.Abs(d))) + rest


LOG_COSH = Rule(
    name="log_cosh",
    phase=PHASE,
    head=sp.log,
    match=_match_log_cosh,
    build=lambda z: logcosh(z),
    citation=LEF + "; Abramowitz & Stegun 4.5.24 (cosh z - 1 = 2 sinh^2(z/2))",
    description="log(cosh z) -> logcosh(z) (= |z| + log1p(exp(-2|z|)) - log 2)",
    naive=sp.log(sp.cosh(z)),
    hard_inputs=({z: 800.0}, {z: 1e-9}, {z: -3e-6}),
    failure="cosh overflows for |z| > 710.5 (inf); rounds to 1 for |z| < 1.5e-8 (0)",
)

HYPOT = Rule(
    name="hypot",
    phase=PHASE,
    head=sp.Pow,
    match=_match_hypot,
    build=lambda a, b, m: hypot(a, b) ** m,
    citation="ISO C99 7.12.7.3 hypot (scaled, no overflow or underflow of the squares)",
    description="sqrt(a^2 + b^2) -> hypot(a, b); (a^2 + b^2)^(m/2) -> hypot(a, b)^m",
    naive=sp.sqrt(a**2 + b**2),
    hard_inputs=({a: 1e200, b: 3e199}, {a: 3e-170, b: 4e-170}),
    failure="a^2 overflows for |a| > 1.3e154 (inf); underflows below 1.5e-154 (0 or subnormal)",
)

RELU_GAUSS = Rule(
    name="relu_gauss",
    phase=PHASE,
    head=sp.Add,
    match=_match_relu_gauss,
    build=lambda scale, u, rest: scale * relu_gauss(u) + rest,
    citation="Abramowitz & Stegun 26.2.14 (Mills ratio continued fraction)",
    description="s u Phi(u) + s phi(u) -> s relu_gauss(u) (no cancellation for u << 0)",
    naive=x * Phi(x / s) + s * sp.exp(-(x**2) / (2 * s**2)) / sp.sqrt(2 * sp.pi),
    hard_inputs=({x: -12.0, s: 1.0}, {x: -30.0, s: 1.5}),
    failure="x Phi(x/s) and s phi(x/s) are t^2 times the result: relative error ~t^4 eps",
)

TANH_COMPLEMENT = Rule(
    name="tanh_complement",
    phase=PHASE,
    head=sp.Add,
    match=_match_tanh_complement,
    build=lambda k, z, rest: 4 * k * sigmoid(2 * z) * sigmoid(-2 * z) + rest,
    citation="1 - tanh^2 z = 1/cosh^2 z = 4 sigmoid(2z) sigmoid(-2z); LogExpFunctions.jl",
    description="k - k tanh(z)^2 -> 4 k sigmoid(2z) sigmoid(-2z) (no cancellation, no overflow)",
    naive=1 - sp.tanh(z) ** 2,
    hard_inputs=({z: 25.0}, {z: 12.0}),
    failure="tanh rounds to 1 for z > 19.1 (0 instead of 4 exp(-2z)); cancels for z > 1",
)

SOFTMAX_PAIR = Rule(
    name="softmax_pair",
    phase=PHASE,
    head=sp.exp,
    match=_match_softmax_pair,
    build=lambda d: sigmoid(d),
    citation="exp(a - log(e^a + e^b)) = 1/(1 + e^(b - a)); " + LEF,
    description="exp(a - logsumexp(a, b)) -> sigmoid(a - b)",
    naive=sp.exp(a - logsumexp(a, b)),
    hard_inputs=({a: 1000.0, b: 1000.5}, {a: -1000.0, b: -1001.5}),
    failure="exp overflows or underflows in log(e^a + e^b) (nan); rounded logsumexp: ~|b| eps",
)

EXP_DIFFERENCE = Rule(
    name="exp_difference",
    phase=PHASE,
    # the general pair of exps comes last among the Add rules
    after=("relu_gauss", "tanh_complement"),
    head=sp.Add,
    match=_match_exp_difference,
    build=_build_exp_difference,
    citation="exp(a) - exp(b) = exp(a) (-expm1(b - a)); Goldberg 1991 (expm1)",
    description="c exp(a) - c exp(b) -> c sign(a - b) exp(Max(a, b)) (-expm1(-|a - b|))",
    naive=sp.exp(x - a) - sp.exp(-x - a),
    hard_inputs=({x: 1e-20, a: 1.5}, {x: 3e-10, a: -2.0}),
    failure="exp(x - a) - exp(-x - a) cancels for |x| << 1 (0 for |x| < 1e-16)",
)

RULES = register_rules((LOG_COSH, HYPOT, RELU_GAUSS, TANH_COMPLEMENT, SOFTMAX_PAIR, EXP_DIFFERENCE))

SPECIAL = register_rule_set(
    "special",
    RULES,
    "log-cosh, hypot, Gaussian-smoothed ReLU, 1 - tanh^2, softmax pairs, exp differences",
)
