"""Rewrite rules as data: :class:`Rule`, :class:`RuleSet` and the rule registry.

A rule is a frozen record: the node type it looks at (``head``), a structural matcher that
returns the bindings (or ``None``), a builder that turns the bindings into the stable
replacement, a citation, a worked example (a naive expression and an input where the naive
form fails in float64), and its place in the engine's order: a named ``phase`` (one of
:data:`~symsmooth.stabilization.phases.PHASES`) and optionally ``after=`` (rules of the same
phase it must be tried after).  Rule modules register their rules with :func:`register_rules`
and name their family as a rule set with :func:`register_rule_set`.  Every rule set, including
``default`` (every registered rule), is ordered by phases, never by list or import order.

Examples
--------
>>> from symsmooth.stabilization.rules import rule, rule_set
>>> [r.name for r in rule_set("erf_tails").rules]
['one_minus_erf', 'one_plus_erf']
>>> rule("log1p").phase, rule("log1p").after
('elementary', ('log1mexp', 'logsumexp', 'softplus'))
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symsmooth.errors import StabilizeError
from symsmooth.stabilization.phases import PHASES, check_phase, ordered

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
    phase : str
        One of :data:`~symsmooth.stabilization.phases.PHASES`: the tier in which the engine
        tries this rule at a node (earlier phases win).
    after : tuple of str
        Names of rules of the same (or an earlier) phase that must be tried before this one
        at a node, because they match some of the same nodes and are more specific.
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
    phase: str = ""
    after: tuple[str, ...] = ()

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
    """A named tuple of rules in engine order (phases, then ``after``, then name).

    Attributes
    ----------
    name : str
        Registry key (``"exp_log"``, ``"erf_tails"``, ``"softmax"``, ``"default"``, ...).
    rules : tuple of Rule
        In the order of :func:`~symsmooth.stabilization.phases.ordered` (at one node, earlier
        rules win).
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


# Modules whose import registers rules and rule sets (their order does not matter).
RULE_MODULES = (
    "symsmooth.stabilization.exp_log",
    "symsmooth.stabilization.erf_tails",
    "symsmooth.stabilization.softmax",
    "symsmooth.stabilization.special",
    "symsmooth.stabilization.accuracy",
    "symsmooth.stabilization.scaling",
    "symsmooth.stabilization.double_exp",
)

DEFAULT = "default"
"""The rule set of every registered rule (built-in and user-registered)."""

_RULES: dict[str, Rule] = {}
_SETS: dict[str, tuple[frozenset[str] | None, str]] = {
    DEFAULT: (None, "every registered rule, in phase order: " + ", ".join(PHASES))
}
_ORDER: list[tuple[Rule, ...]] = []
_LOADED = False
_LOCK = threading.RLock()


def _check(r: Rule) -> None:
    if not isinstance(r, Rule):
        raise StabilizeError(f"register_rules takes Rule records, got {type(r).__name__}")
    check_phase(r.name, r.phase)
    if r.name in _RULES and _RULES[r.name] is not r:
        raise StabilizeError(f"rule {r.name!r} is registered twice; rename one of them")
    if r.name in r.after:
        raise StabilizeError(f"rule {r.name!r} lists itself in after=; drop it")


def register_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Register rules by name; returns them as a tuple.

    Fails loudly (:class:`StabilizeError`, with what to do) on an unknown phase, a duplicate
    name, or (once the built-in rules are loaded, so at once for a user's rule) an ``after=``
    constraint that cannot be met.

    Examples
    --------
    >>> import sympy as sp
    >>> from symsmooth.stabilization.rules import Rule, register_rules
    >>> z = sp.Symbol("z")
    >>> bad = Rule("r", sp.log, lambda n: None, lambda: z, "-", "-", sp.log(z), phase="fuse")
    >>> register_rules([bad])
    Traceback (most recent call last):
    ...
    symsmooth.errors.StabilizeError: rule 'r' declares unknown phase 'fuse'. Did you mean ...
    """
    rules = tuple(rules)
    with _LOCK:
        for r in rules:
            _check(r)
        if len({r.name for r in rules}) != len(rules):
            raise StabilizeError("register_rules got two rules with one name; rename one")
        added = [r for r in rules if r.name not in _RULES]
        _RULES.update((r.name, r) for r in added)
        _ORDER.clear()
        if _LOADED:
            try:
                _ordered()
            except StabilizeError:
                for r in added:
                    del _RULES[r.name]
                raise
    return rules


def unregister_rules(names: Iterable[str]) -> None:
    """Remove user-registered rules by name (unknown names raise :class:`StabilizeError`)."""
    names = tuple(names)
    with _LOCK:
        removed = {n: rule(n) for n in names}
        for n in names:
            del _RULES[n]
        _ORDER.clear()
        try:
            _ordered()
        except StabilizeError:
            _RULES.update(removed)
            _ORDER.clear()
            raise StabilizeError(
                f"other rules run after= one of {list(names)}; unregister them first"
            ) from None


def register_rule_set(name: str, rules: Iterable[Rule], description: str = "") -> str:
    """Register the rule set ``name``: a selection of rules, ordered by phase when looked up."""
    with _LOCK:
        if name in _SETS:
            raise StabilizeError(f"rule set {name!r} is registered twice; rename one of them")
        _SETS[name] = (frozenset(r.name for r in rules), description)
    return name


def _ordered() -> tuple[Rule, ...]:
    """Every registered rule in engine order (cached until the next registration)."""
    with _LOCK:
        if not _ORDER:
            _ORDER.append(ordered(_RULES.values()))
        return _ORDER[0]


def _load() -> None:
    global _LOADED
    with _LOCK:
        if not _LOADED:
            for module in RULE_MODULES:
                importlib.import_module(module)
            _LOADED = True
            _ordered()


def in_order(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """``rules`` (registered or not) in engine order; registered rules keep their global
    ``after=`` constraints, so a selection is ordered as in ``default``."""
    _load()
    rules = tuple(rules)
    if all(_RULES.get(r.name) is r for r in rules):
        chosen = {r.name for r in rules}
        return tuple(r for r in _ordered() if r.name in chosen)
    return ordered(rules)


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
        members, description = _SETS[name]
    except KeyError:
        raise _unknown("rule set", name, list(_SETS)) from None
    rules = _ordered() if members is None else tuple(r for r in _ordered() if r.name in members)
    return RuleSet(name, rules, description)


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
