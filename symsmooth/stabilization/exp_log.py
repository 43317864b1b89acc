"""Rule set ``exp_log``: logarithms of sums of exponentials, ``log1p``, ``expm1``, sigmoid tails.

==================  ==============================  ==========================================
rule                naive                           stable
==================  ==============================  ==========================================
log1mexp            log(1 - exp(z)), log(-expm1 z)  log1mexp(z)
softplus            log(1 + exp(z))                 softplus(z)
logsumexp           log(sum c_i exp(u_i)) (+ Sum)   logsumexp(u_i + log c_i), LogSumExpOver
log_sigmoid         log(sigmoid(z))                 log_sigmoid(z)
log1p               log(1 + u)                      log1p(u)
expm1               k exp(z) - k                    k expm1(z)
one_minus_sigmoid   k - k sigmoid(z)                k sigmoid(-z)
==================  ==============================  ==========================================

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette, 2012 (log1mexp, log1pexp).
P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and softmax
functions", IMA J. Numer. Anal. 41 (2021) 2311-2330.
D. Goldberg, "What every computer scientist should know about floating-point arithmetic",
ACM Comput. Surv. 23 (1991), Theorem 4 (log1p); ISO C99 7.12.6 (expm1, log1p).
LogExpFunctions.jl (logistic, log1pexp, log1mexp, logsumexp).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> z = sp.Symbol("z", real=True)
>>> stabilize(sp.log(1 - sp.exp(z)), "exp_log").expr
log1mexp(z)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from symsmooth.functions import log1mexp, log_sigmoid, logsumexp, sigmoid, softplus
from symsmooth.stabilization.matchers import complement_pair, exp_sum_exponents
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "elementary"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

z, a, b, c = sp.symbols("z a b c", real=True)
x = sp.IndexedBase("x", real=True)
i = sp.Symbol("i", integer=True)
n = sp.Symbol("n", integer=True, positive=True)

MAECHLER = 'M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette (2012)'
BHH = (
    'P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and '
    'softmax functions", IMA J. Numer. Anal. 41 (2021)'
)
GOLDBERG = (
    'D. Goldberg, "What every computer scientist should know about floating-point '
    'arithmetic", ACM Comput. Surv. 23 (1991), Thm 4; ISO C99 7.12.6.3/7.12.6.9'
)


def _match_log1mexp(node: sp.log) -> dict | None:
    """``log(k - k exp(z))`` or ``log(-k expm1(z))`` with ``k > 0``."""
    arg = node.args[0]
    pair = complement_pair(arg, sp.exp, signs=(-1,))
    if pair is not None and pair["rest"] == 0 and (-pair["k"]).is_positive:
        return {"z": pair["z"], "scale": -pair["k"]}
    split = [f for f in sp.Mul.make_args(arg) if isinstance(f, expm1)]
    if len(split) == 1:
        scale = -arg / split[0]
        if scale.is_positive:
            return {"z": split[0].args[0], "scale": scale}
    return None


def _match_softplus(node: sp.log) -> dict | None:
    """``log(1 + exp(u))``: two exponential terms, one of them ``exp(0)``."""
    exponents = exp_sum_exponents(node.args[0])
    if exponents is None or len(exponents) != 2 or 0 not in exponents:
        return None
    return {"u": exponents[1] if exponents[0] == 0 else exponents[0]}


def _match_logsumexp(node: sp.log) -> dict | None:
    exponents = exp_sum_exponents(node.args[0])
    return None if exponents is None else {"exponents": exponents}


def _match_logsumexp_indexed(node: sp.log) -> dict | None:
    """Like ``logsumexp``, but only when a ``Sum`` of exponentials is among the terms."""
    if not any(isinstance(t, sp.Sum) for t in sp.Add.make_args(node.args[0])):
        return None
    return _match_logsumexp(node)


def _match_log_sigmoid(node: sp.log) -> dict | None:
    arg = node.args[0]
    return {"z": arg.args[0]} if isinstance(arg, sigmoid) else None


def _match_log1p(node: sp.log) -> dict | None:
    terms = sp.Add.make_args(node.args[0])
    if len(terms) < 2 or sp.S.One not in terms:
        return None
    return {"u": node.args[0] - 1}


def _match_complement(func: type):
    def match(node: sp.Add) -> dict | None:
        return complement_pair(node, func, signs=(-1,))

    return match


LOG1MEXP = Rule(
    name="log1mexp",
    phase=PHASE,
    head=sp.log,
    match=_match_log1mexp,
    build=lambda z, scale: sp.log(scale) + log1mexp(z),
    citation=MAECHLER,
    description="log(1 - exp(z)) -> log1mexp(z) (also log(-expm1(z)))",
    naive=sp.log(1 - sp.exp(z)),
    hard_inputs=({z: -1e-20}, {z: -40.0}),
    failure="1 - exp(z) rounds to 0 (z -> 0-: -inf) or to 1 (z < -37: 0 instead of -exp(z))",
)

SOFTPLUS = Rule(
    name="softplus",
    phase=PHASE,
    head=sp.log,
    match=_match_softplus,
    build=lambda u: softplus(u),
    citation=MAECHLER + "; LogExpFunctions.jl log1pexp",
    description="log(1 + exp(u)) -> softplus(u)",
    naive=sp.log(1 + sp.exp(z)),
    hard_inputs=({z: 800.0}, {z: -40.0}),
    failure="exp overflows for z > 709.78 (inf); 1 + exp(z) rounds to 1 for z < -36.7 (0)",
)

LOGSUMEXP = Rule(
    name="logsumexp",
    phase=PHASE,
    # log(1 + exp(u)) is softplus; a Sum term is logsumexp_indexed
    after=("logsumexp_indexed", "softplus"),
    head=sp.log,
    match=_match_logsumexp,
    build=lambda exponents: logsumexp(*exponents),
    citation=BHH,
    description="log(sum_i c_i exp(u_i)) -> logsumexp(u_i + log c_i)",
    naive=sp.log(sp.exp(a) + sp.exp(b) + sp.exp(c)),
    hard_inputs=({a: 800.0, b: 799.0, c: 0.0}, {a: -800.0, b: -801.0, c: -802.0}),
    failure="every exp overflows (inf) or underflows (log 0 = -inf)",
)

LOGSUMEXP_INDEXED = Rule(
    name="logsumexp_indexed",
    phase=PHASE,
    # log(1 + Sum(exp)) is softplus(LogSumExpOver)
    after=("softplus",),
    head=sp.log,
    match=_match_logsumexp_indexed,
    build=lambda exponents: logsumexp(*exponents),
    citation=BHH,
    description="log(Sum(exp(u_i), (i, 1, n))) -> LogSumExpOver(u_i, (i, 1, n))",
    naive=sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n))),
    hard_inputs=({x: (800.0, 799.0, 0.0), n: 3}, {x: (-800.0, -801.0, -802.0), n: 3}),
    failure="every exp overflows (inf) or underflows (log 0 = -inf)",
)

LOG_SIGMOID = Rule(
    name="log_sigmoid",
    phase=PHASE,
    head=sp.log,
    match=_match_log_sigmoid,
    build=lambda z: log_sigmoid(z),
    citation="log sigmoid(z) = -softplus(-z); " + MAECHLER,
    description="log(sigmoid(z)) -> log_sigmoid(z)",
    naive=sp.log(sigmoid(z)),
    hard_inputs=({z: -800.0}, {z: 40.0}),
    failure="sigmoid underflows to 0 for z < -745 (-inf), rounds to 1 for z > 37 (0)",
)

LOG1P = Rule(
    name="log1p",
    phase=PHASE,
    # log(1 -+ exp(z)) and log(1 + sum exp) have a closer primitive
    after=("log1mexp", "logsumexp", "softplus"),
    head=sp.log,
    match=_match_log1p,
    build=lambda u: log1p(u),
    citation=GOLDBERG,
    description="log(1 + u) -> log1p(u)",
    naive=sp.log(1 + z),
    hard_inputs=({z: 1e-20},),
    failure="1 + u rounds to 1 for |u| < 1.1e-16 (0 instead of u)",
)

EXPM1 = Rule(
    name="expm1",
    phase=PHASE,
    head=sp.Add,
    match=_match_complement(sp.exp),
    build=lambda k, z, s, rest: k * expm1(z) + rest,
    citation=GOLDBERG,
    description="k exp(z) - k -> k expm1(z)",
    naive=sp.exp(z) - 1,
    hard_inputs=({z: 1e-20}, {z: -3e-10}),
    failure="exp(z) - 1 cancels for |z| << 1 (0 for |z| < 1.1e-16, ~1e6 ulp at 3e-10)",
)

ONE_MINUS_SIGMOID = Rule(
    name="one_minus_sigmoid",
    phase=PHASE,
    head=sp.Add,
    match=_match_complement(sigmoid),
    build=lambda k, z, s, rest: -k * sigmoid(-z) + rest,
    citation="1 - sigmoid(z) = sigmoid(-z); LogExpFunctions.jl logistic",
    description="k - k sigmoid(z) -> k sigmoid(-z)",
    naive=1 - sigmoid(z),
    hard_inputs=({z: 40.0},),
    failure="sigmoid(z) rounds to 1 for z > 37.4 (0 instead of exp(-z))",
)

RULES = register_rules(
    (LOG1MEXP, SOFTPLUS, LOGSUMEXP, LOGSUMEXP_INDEXED, LOG_SIGMOID, LOG1P, EXPM1, ONE_MINUS_SIGMOID)
)

EXP_LOG = register_rule_set(
    "exp_log",
    RULES,
    "logs of sums of exponentials, log1p/expm1, sigmoid complements",
)
