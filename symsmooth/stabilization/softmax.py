"""Rule set ``softmax``: ratios of exponential sums, sigmoid recognition, exp products.

=================== ================================ =========================================
rule                naive                            stable
=================== ================================ =========================================
sigmoid             (1 + exp(u))^-m                  sigmoid(-u)^m
softmax_indexed     1/Sum(exp(u_i), (i, 1, n))       exp(-LogSumExpOver(u_i, (i, 1, n)))
exp_sum_reciprocal  (sum_i exp(u_i))^p, p < 0        exp(p M) (sum_i exp(u_i - M))^p,
                                                     M = Max(u_i); one Sum: exp(p LSE_over)
exp_product         exp(a) exp(b)                    exp(a + b)
exp_into_sum        exp(c) (t_1 exp(u_1) + ...)      t_1 exp(u_1 + c) + ...
exp_times_sigmoid   exp(a) sigmoid(-a), exp(a) s(b)  sigmoid(a), exp(a + log_sigmoid(b))
=================== ================================ =========================================

Together they turn ``exp(a)/(exp(a) + exp(b))`` into the max-shifted softmax
``exp(a - M)/(exp(a - M) + exp(b - M))`` (every exponential <= 1, the largest exactly 1, so no
overflow, no 0/0, and no rounding of a logsumexp in the exponent: at ``a = b = 1000`` it gives
exactly 0.5, where ``exp(a - logsumexp(a, b))`` is off by ~500 ulp), ``exp(z)/(1 + exp(z))``
into ``sigmoid(z)``, and the logistic kernel ``t exp(tu)/(1 + exp(tu))^2`` into
``t sigmoid(tu) sigmoid(-tu)``.  Over a symbolic range, ``exp(x_j)/Sum(exp(x_i))`` becomes
``exp(x_j - LogSumExpOver(x_i))`` (the reduction kernels shift by the running maximum).

References
----------
P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and softmax
functions", IMA J. Numer. Anal. 41 (2021) 2311-2330 (shifted softmax, Alg. 3.2 and 4.1).
LogExpFunctions.jl ``logistic`` (exp(z)/(1 + exp(z)) = 1/(1 + exp(-z))).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> a, b = sp.symbols("a b", real=True)
>>> stabilize(sp.exp(a) / (sp.exp(a) + sp.exp(b)), "softmax").expr
exp(a - Max(a, b))/(exp(a - Max(a, b)) + exp(b - Max(a, b)))
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import log_sigmoid, sigmoid
from symsmooth.stabilization.matchers import exp_sum_exponents, is_max_shifted, max_shifted
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "elementary"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

z, a, b, t, u = sp.symbols("z a b t u", real=True)
x = sp.IndexedBase("x", real=True)
i, j = sp.symbols("i j", integer=True)
n = sp.Symbol("n", integer=True, positive=True)

BHH = (
    'P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and '
    'softmax functions", IMA J. Numer. Anal. 41 (2021), Alg. 4.1 (shifted softmax)'
)
LOGISTIC = "1/(1 + exp(-z)) = exp(z)/(1 + exp(z)) = sigmoid(z); LogExpFunctions.jl logistic"


def _match_sigmoid(node: sp.Pow) -> dict | None:
    """``(1 + exp(u))^p`` with ``p`` a negative integer."""
    base, p = node.args
    if not (p.is_Integer and p < 0):
        return None
    exponents = exp_sum_exponents(base)
    if exponents is None or len(exponents) != 2 or 0 not in exponents:
        return None
    return {"u": exponents[1] if exponents[0] == 0 else exponents[0], "m": -p}


def _match_reciprocal(node: sp.Pow) -> dict | None:
    base, p = node.args
    if p.is_negative is not True:
        return None
    exponents = exp_sum_exponents(base)
    if exponents is None or is_max_shifted(exponents):
        return None
    return {"exponents": exponents, "p": p}


def _match_reciprocal_indexed(node: sp.Pow) -> dict | None:
    """Like ``exp_sum_reciprocal``, but only when a ``Sum`` is among the terms."""
    if not any(isinstance(t, sp.Sum) for t in sp.Add.make_args(node.args[0])):
        return None
    return _match_reciprocal(node)


def _build_reciprocal(exponents: tuple, p: sp.Expr) -> sp.Expr:
    m, shifted = max_shifted(exponents)
    return sp.exp(p * m) * sp.Add(*[sp.exp(v) for v in shifted]) ** p


def _exp_factors(node: sp.Mul) -> tuple[list, list]:
    factors = sp.Mul.make_args(node)
    return [f for f in factors if isinstance(f, sp.exp)], [
        f for f in factors if not isinstance(f, sp.exp)
    ]


def _match_exp_product(node: sp.Mul) -> dict | None:
    exps, others = _exp_factors(node)
    if len(exps) < 2:
        return None
    return {"exponent": sp.Add(*[e.args[0] for e in exps]), "others": others}


def _match_exp_into_sum(node: sp.Mul) -> dict | None:
    """``exp(c) * (sum of terms that each hold an exp)``."""
    exps, others = _exp_factors(node)
    if len(exps) != 1:
        return None
    for k, f in enumerate(others):
        if isinstance(f, sp.Add) and all(
            any(isinstance(g, sp.exp) for g in sp.Mul.make_args(term)) for term in f.args
        ):
            return {"c": exps[0].args[0], "add": f, "others": others[:k] + others[k + 1 :]}
    return None


def _build_exp_into_sum(c: sp.Expr, add: sp.Add, others: list) -> sp.Expr:
    terms = []
    for term in add.args:
        exps, rest = _exp_factors(term)
        terms.append(sp.Mul(*rest) * sp.exp(c + sp.Add(*[e.args[0] for e in exps])))
    return sp.Mul(*others) * sp.Add(*terms)


def _match_exp_times_sigmoid(node: sp.Mul) -> dict | None:
    """``exp(a) * sigmoid(b)**m`` (``m`` a positive integer)."""
    exps, others = _exp_factors(node)
    if len(exps) != 1:
        return None
    for k, f in enumerate(others):
        base, m = f.as_base_exp()
        if isinstance(base, sigmoid) and m.is_Integer and m > 0:
            rest = others[:k] + others[k + 1 :]
            return {"a": exps[0].args[0], "b": base.args[0], "m": m, "others": rest}
    return None


def _build_exp_times_sigmoid(a: sp.Expr, b: sp.Expr, m: sp.Integer, others: list) -> sp.Expr:
    """``exp(-b) sigmoid(b) = sigmoid(-b)``; otherwise ``exp(a + m log_sigmoid(b))``."""
    if sp.expand(a + b) == 0:
        return sp.Mul(*others) * sigmoid(a) * sigmoid(b) ** (m - 1)
    return sp.Mul(*others) * sp.exp(a + m * log_sigmoid(b))


SIGMOID = Rule(
    name="sigmoid",
    phase=PHASE,
    head=sp.Pow,
    match=_match_sigmoid,
    build=lambda u, m: sigmoid(-u) ** m,
    citation=LOGISTIC,
    description="1/(1 + exp(-z)) -> sigmoid(z); (1 + exp(u))^-m -> sigmoid(-u)^m",
    naive=1 / (1 + sp.exp(-z)),
    hard_inputs=({z: -720.0},),
    failure="exp(-z) overflows for z < -709.78: 0 instead of the subnormal exp(z)",
)

EXP_SUM_RECIPROCAL = Rule(
    name="exp_sum_reciprocal",
    phase=PHASE,
    # (1 + exp(u))^-m is a sigmoid power; a Sum term is softmax_indexed
    after=("sigmoid", "softmax_indexed"),
    head=sp.Pow,
    match=_match_reciprocal,
    build=_build_reciprocal,
    citation=BHH,
    description="(sum exp(u_i))^p, p < 0 -> exp(p M) (sum exp(u_i - M))^p, M = Max(u_i)",
    naive=sp.exp(a) / (sp.exp(a) + sp.exp(b)),
    hard_inputs=({a: 1000.0, b: 1000.0}, {a: -1000.0, b: -1001.0}),
    failure="inf/inf or 0/0 = nan once every exp overflows or underflows",
)

SOFTMAX_INDEXED = Rule(
    name="softmax_indexed",
    phase=PHASE,
    # 1/(1 + Sum(exp)) is sigmoid(-LogSumExpOver)
    after=("sigmoid",),
    head=sp.Pow,
    match=_match_reciprocal_indexed,
    build=_build_reciprocal,
    citation=BHH,
    description="exp(x_j)/Sum(exp(x_i), (i, 1, n)) -> exp(x_j - LogSumExpOver(x_i, (i, 1, n)))",
    naive=sp.exp(x[j]) / sp.Sum(sp.exp(x[i]), (i, 1, n)),
    hard_inputs=(
        {x: (1000.0, 999.0, 0.0), n: 3, j: 1},
        {x: (-1000.0, -1001.0, -1002.0), n: 3, j: 2},
    ),
    failure="inf/inf or 0/0 = nan once every exp overflows or underflows",
)

EXP_PRODUCT = Rule(
    name="exp_product",
    phase=PHASE,
    head=sp.Mul,
    match=_match_exp_product,
    build=lambda exponent, others: sp.Mul(*others) * sp.exp(exponent),
    citation="exp(a) exp(b) = exp(a + b) (no inf * 0)",
    description="exp(a) exp(b) -> exp(a + b)",
    naive=sp.exp(a) * sp.exp(-b),
    hard_inputs=({a: 800.0, b: 800.5},),
    failure="exp(a) = inf, exp(-b) = 0: inf * 0 = nan",
)

EXP_INTO_SUM = Rule(
    name="exp_into_sum",
    phase=PHASE,
    head=sp.Mul,
    match=_match_exp_into_sum,
    build=_build_exp_into_sum,
    citation=BHH + " (ratios of sums with a common shift)",
    description="exp(c) (t_1 exp(u_1) + ...) -> t_1 exp(u_1 + c) + ...",
    naive=(a * sp.exp(a) + b * sp.exp(b)) / (sp.exp(a) + sp.exp(b)),
    hard_inputs=({a: 800.0, b: 799.0}, {a: -800.0, b: -801.0}),
    failure="inf/inf or 0/0 = nan (Boltzmann operator sum x e^x / sum e^x)",
)

EXP_TIMES_SIGMOID = Rule(
    name="exp_times_sigmoid",
    phase=PHASE,
    # exp(c) (sum of exps) sigmoid(b): the exp goes into the sum first
    after=("exp_into_sum",),
    head=sp.Mul,
    match=_match_exp_times_sigmoid,
    build=_build_exp_times_sigmoid,
    citation=LOGISTIC,
    description=(
        "exp(a) sigmoid(-a) -> sigmoid(a); exp(a) sigmoid(b)^m -> exp(a + m log_sigmoid(b))"
    ),
    naive=sp.exp(z) / (1 + sp.exp(z)),
    hard_inputs=({z: 800.0},),
    failure="inf/inf = nan for z > 709.78",
)

LOGISTIC_KERNEL = t * sp.exp(t * u) / (1 + sp.exp(t * u)) ** 2
"""Article 3 (eq:s): the logistic approximate identity; stabilizes to t sigmoid(tu) sigmoid(-tu)."""

RULES = register_rules(
    (SIGMOID, EXP_SUM_RECIPROCAL, SOFTMAX_INDEXED, EXP_PRODUCT, EXP_INTO_SUM, EXP_TIMES_SIGMOID)
)

SOFTMAX = register_rule_set(
    "softmax",
    RULES,
    "ratios of exponential sums (max-shifted softmax), sigmoid recognition, exp products",
)
