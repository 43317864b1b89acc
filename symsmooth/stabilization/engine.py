"""The stabilization stage: apply a rule set bottom-up to a fixed point.

Each pass rewrites the children of a node first, then tries the rules registered for the
node's type (dispatch by ``type(node)`` through :meth:`RuleSet.by_head`), phase by phase in the
order of :data:`~symsmooth.stabilization.phases.PHASES`, until none fires.
Passes repeat until the expression stops changing.  Every rule is an exact identity, so the
output equals the input as a mathematical function; the record keeps both.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> x, y = sp.symbols("x y", real=True)
>>> k = sp.Symbol("k", positive=True)
>>> s = stabilize(sp.log(sp.exp(k * x) + sp.exp(k * y)) / k)
>>> s.expr
logsumexp(k*x, k*y)/k
>>> s.applied
('logsumexp',)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

from symsmooth.errors import StabilizeError
from symsmooth.magnitudes import guarded
from symsmooth.stabilization.exact_args import exact_arguments as _exact_arguments
from symsmooth.stabilization.exact_args import plain_arguments
from symsmooth.stabilization.rules import Rule, RuleSet, in_order, rule, rule_set

MAX_PASSES = 25
"""Whole-tree passes before giving up (a rule set that cycles is a bug in the rules)."""

MAX_REWRITES_PER_NODE = 50


@dataclass(frozen=True)
class Stabilized:
    """Result of :func:`stabilize`.

    Attributes
    ----------
    input : sympy.Expr
        The expression as given (never modified).
    expr : sympy.Expr
        The stable form, mathematically equal to ``input``.
    applied : tuple of str
        Names of the rules that fired, in order (a rule may appear several times).
    rule_set : str
        Name of the rule set used.
    """

    input: sp.Expr
    expr: sp.Expr
    applied: tuple[str, ...]
    rule_set: str

    @property
    def changed(self) -> bool:
        """Whether any rule fired."""
        return bool(self.applied)


def _resolve(rules: str | RuleSet | Iterable[Rule | str]) -> RuleSet:
    if isinstance(rules, RuleSet):
        return rules
    if isinstance(rules, str):
        return rule_set(rules)
    chosen = tuple(rule(r) if isinstance(r, str) else r for r in rules)
    if not all(isinstance(r, Rule) for r in chosen):
        raise StabilizeError(
            "rules must be a rule-set name, a RuleSet, or an iterable of Rule objects or rule "
            "names; see symsmooth.stabilization.rule_set_names() and rule_names()"
        )
    return RuleSet("+".join(r.name for r in chosen), in_order(chosen), "ad hoc (phase order)")


class _Rewriter:
    """One bottom-up pass with per-node fixed point; records rule names in order."""

    def __init__(self, table: dict[type, tuple[Rule, ...]]):
        self.table = table
        self.applied: list[str] = []

    def rules_for(self, node: sp.Basic) -> tuple[Rule, ...]:
        return self.table.get(type(node), ())

    def node(self, node: sp.Basic) -> sp.Basic:
        for _ in range(MAX_REWRITES_PER_NODE):
            for r in self.rules_for(node):
                new = r.apply(node)
                if new is not None:
                    self.applied.append(r.name)
                    node = new
                    break
            else:
                return node
        raise StabilizeError(
            f"rules keep rewriting {node} (last: {self.applied[-3:]}); the rule set cycles: "
            "change a rule's phase or after= (symsmooth.stabilization.phases) or report the "
            "expression"
        )

    def tree(self, expr: sp.Basic) -> sp.Basic:
        if expr.is_Atom or not expr.args:
            return expr
        args = tuple(self.tree(a) for a in expr.args)
        if args != expr.args:
            expr = expr.func(*args)
        return self.node(expr)


@guarded("stabilize")
def stabilize(
    expr: sp.Expr,
    rules: str | RuleSet | Iterable[Rule | str] = "default",
    *,
    exact_arguments: bool = False,
) -> Stabilized:
    """Rewrite ``expr`` into a numerically stable, mathematically equal form.

    Parameters
    ----------
    expr : sympy.Expr
        Any expression (catalog surrogate, convolution result, derivative, user input).
    rules : str, RuleSet or iterable of Rule/str
        A registered rule-set name (``"default"``, ``"exp_log"``, ``"erf_tails"``,
        ``"softmax"``, ...), a :class:`RuleSet` (its order as given), or a selection of rules
        or rule names (tried in phase order, :mod:`symsmooth.stabilization.phases`, whatever
        their order in the selection).
    exact_arguments : bool
        Also run the exact-arguments stage (:mod:`symsmooth.stabilization.exact_args`) after
        the fixed point: ``softplus(k x)`` -> ``softplus_xp(k, x)``, evaluated for the exact
        product (the code generator's stabilizer does).  Exact-argument forms in ``expr`` are
        first put back to their base functions either way, so the rules see them.

    Returns
    -------
    Stabilized
        Input, output and the names of the rules applied, in order.

    Raises
    ------
    StabilizeError
        Unknown rule or rule-set name, or a rule set that does not reach a fixed point.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> stabilize(1 - sp.erf(x)).expr
    erfc(x)
    >>> stabilize(sp.log(1 / (1 + sp.exp(-x)))).applied
    ('sigmoid', 'log_sigmoid')
    """
    chosen = _resolve(rules)
    if not isinstance(expr, sp.Basic):
        expr = sp.sympify(expr, strict=True)
    rewriter = _Rewriter(chosen.by_head())
    current = plain_arguments(expr)
    for _ in range(MAX_PASSES):
        new = rewriter.tree(current)
        if new == current:
            staged = ()
            if exact_arguments:
                current, staged = _exact_arguments(current)
            return Stabilized(expr, current, (*rewriter.applied, *staged), chosen.name)
        current = new
    raise StabilizeError(
        f"stabilize did not reach a fixed point in {MAX_PASSES} passes with rule set "
        f"{chosen.name!r} (rules applied: {rewriter.applied[-6:]}); report the expression"
    )
