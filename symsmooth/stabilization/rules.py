"""Rewrite rules as data: :class:`Rule`, :class:`RuleSet` and the rule-set registry.

A rule is a frozen record: the node type it looks at (``head``), a structural matcher that
returns the bindings (or ``None``), a builder that turns the bindings into the stable
replacement, a citation, and a worked example (a naive expression and an input where the
naive form fails in float64).  Rule modules (``exp_log``, ``erf_tails``, ``softmax``)
register their rules with :func:`register_rules`; named rule sets are registered with
:func:`register_rule_set` and looked up with :func:`rule_set`.

Examples
--------
>>> from symsmooth.stabilization.rules import rule_set
>>> [r.name for r in rule_set("erf_tails").rules]
['one_plus_erf', 'one_minus_erf']
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symsmooth.errors import StabilizeError

Bindings = Mapping[str, Any]


@dataclass(frozen=True)
class Rule:
    """One exact rewrite ``naive -> stable``.

    Attributes
    ----------
    name : str
        Registry key, ``snake_case``; recorded in :class:`Stabilized.applied`.
    head : type
        The SymPy node type the matcher inspects (``sp.log``, ``sp.Add``, ``sp.Mul``, ...);
        the engine dispatches on it.
    match : callable
        ``match(node) -> Bindings | None``.
    build : callable
        ``build(**bindings) -> sympy.Expr``, the stable replacement (mathematically equal).
    citation : str
        Where the identity and its numerical motivation come from.
    description : str
        ``naive -> stable`` in words.
    naive : sympy.Expr
        A worked example of the naive form this rule rewrites.
    hard_inputs : tuple of Mapping
        Points (``Symbol -> float``) where ``naive`` fails in float64.
    failure : str
        What goes wrong there (overflow, cancellation, underflow, ...).
    """

    name: str
    head: type
    match: Callable[[sp.Basic], Bindings | None]
    build: Callable[..., sp.Expr]
    citation: str
    description: str
    naive: sp.Expr
    hard_inputs: tuple[Mapping[sp.Symbol, float], ...] = ()
    failure: str = ""

    def apply(self, node: sp.Basic) -> sp.Expr | None:
        """The stable replacement of ``node``, or ``None`` when the rule does not match.

        Examples
        --------
        >>> import sympy as sp
        >>> from symsmooth.stabilization.rules import rule
        >>> z = sp.Symbol("z", real=True)
        >>> rule("softplus").apply(sp.log(1 + sp.exp(z)))
        softplus(z)
        >>> rule("softplus").apply(sp.log(z)) is None
        True
        """
        if not isinstance(node, self.head):
            return None
        bindings = self.match(node)
        if bindings is None:
            return None
        result = self.build(**bindings)
        return None if result == node else result


@dataclass(frozen=True)
class RuleSet:
    """A named, ordered tuple of rules (at one node, earlier rules win).

    Attributes
    ----------
    name : str
        Registry key (``"exp_log"``, ``"erf_tails"``, ``"softmax"``, ``"default"``).
    rules : tuple of Rule
    description : str
    """

    name: str
    rules: tuple[Rule, ...]
    description: str = ""

    def by_head(self) -> dict[type, tuple[Rule, ...]]:
        """Rules grouped by the node type they inspect, order kept (the engine's dispatch)."""
        table: dict[type, list[Rule]] = {}
        for r in self.rules:
            table.setdefault(r.head, []).append(r)
        return {head: tuple(rules) for head, rules in table.items()}


# Modules whose import registers rules and rule sets.
RULE_MODULES = (
    "symsmooth.stabilization.exp_log",
    "symsmooth.stabilization.erf_tails",
    "symsmooth.stabilization.softmax",
    "symsmooth.stabilization.special",
    "symsmooth.stabilization.accuracy",
    "symsmooth.stabilization.scaling",
    "symsmooth.stabilization.default",
)

_RULES: dict[str, Rule] = {}
_SETS: dict[str, RuleSet] = {}
_LOADED = False


def register_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Register rules by name (a duplicate name is an error); returns them as a tuple."""
    rules = tuple(rules)
    for r in rules:
        if r.name in _RULES and _RULES[r.name] is not r:
            raise StabilizeError(f"rule {r.name!r} is registered twice; rename one of them")
        _RULES[r.name] = r
    return rules


def register_rule_set(name: str, rules: Iterable[Rule], description: str = "") -> RuleSet:
    """Register (and return) the rule set ``name``."""
    if name in _SETS:
        raise StabilizeError(f"rule set {name!r} is registered twice; rename one of them")
    _SETS[name] = RuleSet(name, tuple(rules), description)
    return _SETS[name]


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in RULE_MODULES:
            importlib.import_module(module)


def _unknown(kind: str, name: str, pool: list[str]) -> StabilizeError:
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return StabilizeError(
        f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(pool))}. "
        f"Pass one of these names (or RuleSet/Rule objects) to stabilize()."
    )


def rule_set(name: str) -> RuleSet:
    """The registered rule set ``name``; unknown names raise :class:`StabilizeError`."""
    _load()
    try:
        return _SETS[name]
    except KeyError:
        raise _unknown("rule set", name, list(_SETS)) from None


def rule(name: str) -> Rule:
    """The registered rule ``name``; unknown names raise :class:`StabilizeError`."""
    _load()
    try:
        return _RULES[name]
    except KeyError:
        raise _unknown("rule", name, list(_RULES)) from None


def rule_set_names() -> list[str]:
    """Every registered rule-set name, sorted."""
    _load()
    return sorted(_SETS)


def rule_names() -> list[str]:
    """Every registered rule name, sorted."""
    _load()
    return sorted(_RULES)
