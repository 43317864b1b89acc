"""Rule set ``default``: every rule, specific before general.

At one node the first matching rule wins, so ``log(1 + exp(z))`` becomes ``softplus`` (not
``log1p(exp(z))``) and ``1/(1 + exp(-z))`` becomes ``sigmoid`` (not a shifted reciprocal).

Examples
--------
>>> from symsmooth.stabilization.rules import rule_set
>>> [r.name for r in rule_set("default").rules][:3]
['sinh_ratio', 'log1mexp', 'softplus']
"""

from __future__ import annotations

from symsmooth.stabilization import accuracy, erf_tails, exp_log, scaling, softmax, special
from symsmooth.stabilization.rules import register_rule_set

DEFAULT = register_rule_set(
    "default",
    accuracy.FIRST
    + exp_log.EXP_LOG.rules
    + softmax.SOFTMAX.rules
    + erf_tails.ERF_TAILS.rules
    + special.SPECIAL.rules
    + scaling.SCALING.rules
    + tuple(r for r in accuracy.ACCURACY.rules if r not in accuracy.FIRST),
    "all rules: accuracy.FIRST (sinh_ratio), exp_log, softmax, erf_tails, special, scaling, "
    "accuracy",
)
