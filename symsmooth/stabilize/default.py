"""Rule set ``default``: every rule, specific before general.

At one node the first matching rule wins, so ``log(1 + exp(z))`` becomes ``softplus`` (not
``log1p(exp(z))``) and ``1/(1 + exp(-z))`` becomes ``sigmoid`` (not a shifted reciprocal).

Examples
--------
>>> from symsmooth.stabilize.rules import rule_set
>>> [r.name for r in rule_set("default").rules][:3]
['log1mexp', 'softplus', 'logsumexp_indexed']
"""

from __future__ import annotations

from symsmooth.stabilize import erf_tails, exp_log, softmax, special
from symsmooth.stabilize.rules import register_rule_set

DEFAULT = register_rule_set(
    "default",
    exp_log.EXP_LOG.rules
    + softmax.SOFTMAX.rules
    + erf_tails.ERF_TAILS.rules
    + special.SPECIAL.rules,
    "all rules: exp_log, then softmax, then erf_tails, then special",
)
