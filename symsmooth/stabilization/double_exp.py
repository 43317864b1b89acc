"""Rule ``double_exp``: ``log(logsumexp(exp(a), exp(b))) -> loglse_exp(a, b)``.

The double-exponential smooth max (article 1, eq (14)) reaches the stabilizer as
``log(log(exp(exp(k x)) + exp(exp(k y))))/k``; the ``logsumexp`` rule makes the inner sum
``logsumexp(exp(k x), exp(k y))``, which still forms ``exp(k x)``: inf once ``k x > 709.78``
(value inf, gradient NaN) although the result, about ``max(x, y)``, is finite.
``loglse_exp`` (:mod:`symsmooth.functions.double_exp`) evaluates it in log space,
``m + log1p(e^-m log1p(exp(e^w - e^m)))`` (``m, w`` the larger and smaller of ``a, b``).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> x, y, k = sp.symbols("x y k", real=True)
>>> stabilize(sp.log(sp.log(sp.exp(sp.exp(k * x)) + sp.exp(sp.exp(k * y)))) / k).expr
loglse_exp(k*x, k*y)/k
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import logsumexp
from symsmooth.functions.double_exp import loglse_exp
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

u = sp.Symbol("u", real=True)
v = sp.Symbol("v", real=True)


def _match_double_exp(node: sp.log) -> dict | None:
    arg = node.args[0]
    if not (isinstance(arg, logsumexp) and len(arg.args) == 2):
        return None
    if not all(isinstance(a, sp.exp) for a in arg.args):
        return None
    return {"a": arg.args[0].args[0], "b": arg.args[1].args[0]}


DOUBLE_EXP = Rule(
    name="double_exp",
    phase="fused",
    head=sp.log,
    match=_match_double_exp,
    build=lambda a, b: loglse_exp(a, b),
    citation="log(e^A + e^B) = M + log1p(e^(m - M)), A = e^u: log of it = u + "
    "log1p(e^-u log1p(exp(e^v - e^u))) for u >= v (Su 2015, https://kexue.fm/archives/3290, "
    "eq (14); Maechler 2012 for log1p(exp))",
    description="log(logsumexp(exp(a), exp(b))) -> loglse_exp(a, b) (log space: no exp(a) "
    "overflow for a > 709.78)",
    naive=sp.log(sp.log(sp.exp(sp.exp(u)) + sp.exp(sp.exp(v)))),
    hard_inputs=({u: 800.0, v: 700.0}, {u: 710.0, v: 710.0}),
    failure="exp(u) overflows for u > 709.78: log(log(inf)) = inf instead of about u",
)

RULES = register_rules((DOUBLE_EXP,))

DOUBLE_EXP_SET = register_rule_set(
    "double_exp", RULES, "log(logsumexp(exp(a), exp(b))) in log space (loglse_exp)"
)
