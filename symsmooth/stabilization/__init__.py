"""Stabilization stage: exact rewrite rules (as data) that make expressions float-safe.

``stabilize(expr, rules="default") -> Stabilized`` applies a named rule set bottom-up to a
fixed point.  Rule sets: ``exp_log``, ``erf_tails``, ``softmax``, ``special``, ``scaling``,
``accuracy``, ``default`` (every registered rule).  Every rule declares a named phase
(:data:`~symsmooth.stabilization.phases.PHASES`); at a node the engine tries the phases in that
order, so a rule set is ordered by phases, never by list position.  Branchy
evaluations of the stable primitives, with float64/float32 thresholds, are in
:mod:`symsmooth.stabilization.thresholds` and :mod:`symsmooth.stabilization.regimes`.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> z = sp.Symbol("z", real=True)
>>> stabilize(sp.log(1 + sp.exp(z))).expr
softplus(z)
"""

from __future__ import annotations

from symsmooth.stabilization.engine import Stabilized, stabilize
from symsmooth.stabilization.phases import PHASES
from symsmooth.stabilization.rules import (
    Rule,
    RuleSet,
    register_rules,
    rule,
    rule_names,
    rule_set,
    rule_set_names,
    unregister_rules,
)

__all__ = [
    "PHASES",
    "Rule",
    "RuleSet",
    "Stabilized",
    "register_rules",
    "rule",
    "rule_names",
    "rule_set",
    "rule_set_names",
    "stabilize",
    "unregister_rules",
]
