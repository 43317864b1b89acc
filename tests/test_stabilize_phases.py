"""The rule registry joins rules by named phases: invariants over every rule, and user rules.

Every rule declares a phase of :data:`~symsmooth.stabilization.phases.PHASES`; the engine tries
phases in that order at each node, and within a phase the rule names in order, except where a
rule declares ``after=``.  These tests check the whole registry (known phases, unique names,
constraints met, evidence present), that the order does not depend on list position, that a
rule wins on its own worked example against every other rule that matches it, and that a user's
rule runs in the phase it declares (and a bad declaration fails with an instruction).
"""

from __future__ import annotations

import random

import pytest
import sympy as sp
from sympy.codegen.cfunctions import log1p

from symsmooth.errors import StabilizeError
from symsmooth.functions import softplus
from symsmooth.stabilization import rule, rule_names, rule_set, rule_set_names, stabilize
from symsmooth.stabilization.phases import PHASES, ordered
from symsmooth.stabilization.rules import Rule, in_order, register_rules, unregister_rules

DEFAULT = rule_set("default").rules
POSITION = {r.name: k for k, r in enumerate(DEFAULT)}
z = sp.Symbol("z", real=True)


def test_every_rule_has_a_known_phase_and_a_unique_name():
    assert len(PHASES) == len(set(PHASES))
    assert sorted(r.name for r in DEFAULT) == rule_names()
    assert len({r.name for r in DEFAULT}) == len(DEFAULT)
    for r in DEFAULT:
        assert r.phase in PHASES, r.name
        assert rule(r.name) is r


def test_default_runs_phases_in_the_declared_order_and_meets_every_constraint():
    ranks = [PHASES.index(r.phase) for r in DEFAULT]
    assert ranks == sorted(ranks)
    for r in DEFAULT:
        for other in r.after:
            assert POSITION[other] < POSITION[r.name], (r.name, other)
            assert PHASES.index(rule(other).phase) <= PHASES.index(r.phase)
    for phase in PHASES:  # within a phase: names in order unless a constraint says otherwise
        names = [r.name for r in DEFAULT if r.phase == phase]
        for a, b in zip(names, names[1:], strict=False):
            assert a < b or a in _ancestors(rule(b)), (phase, a, b)


def _ancestors(r: Rule) -> set[str]:
    seen: set[str] = set()
    todo = list(r.after)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(rule(n).after)
    return seen


@pytest.mark.parametrize("r", DEFAULT, ids=lambda r: r.name)
def test_every_rule_carries_its_evidence(r):
    assert r.name.isidentifier() and r.name == r.name.lower()
    assert isinstance(r.head, type) and issubclass(r.head, sp.Basic)
    assert r.citation.strip() and r.description.strip() and r.failure.strip()
    assert isinstance(r.naive, sp.Expr) and r.hard_inputs
    assert all(isinstance(p, dict) and p for p in r.hard_inputs)


def test_order_does_not_depend_on_list_position():
    shuffled = list(DEFAULT)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert ordered(shuffled) == DEFAULT
        assert in_order(shuffled) == DEFAULT
    for name in rule_set_names():  # every named set is default restricted to its members
        members = {r.name for r in rule_set(name).rules}
        assert rule_set(name).rules == tuple(r for r in DEFAULT if r.name in members)


def test_a_rule_wins_on_its_own_worked_example():
    """Where two rules match a node of a rule's naive form, that rule is tried first."""
    for r in DEFAULT:
        for node in sp.preorder_traversal(r.naive):
            if r.apply(node) is None:
                continue
            for q in DEFAULT:
                if q is not r and q.head is r.head and q.apply(node) is not None:
                    assert POSITION[r.name] < POSITION[q.name], (r.name, q.name, node)


def _log1p_exp(name: str, phase: str, after: tuple[str, ...] = ()) -> Rule:
    """A user rule: ``log(1 + exp(u)) -> log1p(exp(u))`` (equal, so a valid rule)."""

    def match(node: sp.log) -> dict | None:
        terms = sp.Add.make_args(node.args[0])
        if len(terms) == 2 and sp.S.One in terms:
            (e,) = [t for t in terms if t != 1]
            return {"u": e.args[0]} if isinstance(e, sp.exp) else None
        return None

    return Rule(
        name=name,
        head=sp.log,
        match=match,
        build=lambda u: log1p(sp.exp(u)),
        citation="test rule",
        description="log(1 + exp(u)) -> log1p(exp(u))",
        naive=sp.log(1 + sp.exp(z)),
        hard_inputs=({z: -40.0},),
        failure="1 + exp(z) rounds to 1",
        phase=phase,
        after=after,
    )


@pytest.mark.parametrize(
    ("phase", "winner"), [("preempt", "user_log1p_exp"), ("fused", "softplus")]
)
def test_a_user_rule_runs_in_its_phase(phase, winner):
    mine = _log1p_exp("user_log1p_exp", phase)
    register_rules([mine])
    try:
        order = rule_set("default").rules
        k = order.index(mine)
        assert all(PHASES.index(r.phase) <= PHASES.index(phase) for r in order[:k])
        assert all(PHASES.index(r.phase) >= PHASES.index(phase) for r in order[k + 1 :])
        result = stabilize(sp.log(1 + sp.exp(z)))
        assert result.applied == (winner,)
        expected = log1p(sp.exp(z)) if winner == "user_log1p_exp" else softplus(z)
        assert result.expr == expected
    finally:
        unregister_rules(["user_log1p_exp"])
    assert "user_log1p_exp" not in rule_names()
    assert stabilize(sp.log(1 + sp.exp(z))).applied == ("softplus",)


def test_a_user_rule_in_a_phase_may_run_after_a_rule_of_that_phase():
    mine = _log1p_exp("user_after_softplus", "elementary", after=("softplus",))
    register_rules([mine])
    try:
        order = [r.name for r in rule_set("default").rules]
        assert order.index("softplus") < order.index("user_after_softplus")
        assert stabilize(sp.log(1 + sp.exp(z))).applied == ("softplus",)
    finally:
        unregister_rules(["user_after_softplus"])


@pytest.mark.parametrize(
    ("phase", "after", "message"),
    [
        ("fuse", (), r"unknown phase 'fuse'\. Did you mean 'fused'\?.*Pass phase= one of preempt"),
        ("", (), r"unknown phase ''.*Pass phase= one of"),
        ("elementary", ("no_such_rule",), r"after='no_such_rule'.*not registered"),
        ("preempt", ("softplus",), r"later phase 'elementary'; move one of them"),
    ],
)
def test_a_bad_declaration_fails_with_an_instruction(phase, after, message):
    before = rule_names()
    with pytest.raises(StabilizeError, match=message):
        register_rules([_log1p_exp("user_bad", phase, after)])
    assert rule_names() == before


def test_a_duplicate_name_and_a_cycle_fail():
    with pytest.raises(StabilizeError, match="'softplus' is registered twice; rename"):
        register_rules([_log1p_exp("softplus", "elementary")])
    a = _log1p_exp("user_cycle_a", "fused", after=("user_cycle_b",))
    b = _log1p_exp("user_cycle_b", "fused", after=("user_cycle_a",))
    before = rule_names()
    with pytest.raises(StabilizeError, match="form a cycle.*remove one constraint"):
        register_rules([a, b])
    assert rule_names() == before


def test_unregistering_a_rule_others_run_after_fails_and_keeps_both():
    first = _log1p_exp("user_first", "fused")
    second = _log1p_exp("user_second", "fused", after=("user_first",))
    register_rules([first, second])
    try:
        with pytest.raises(StabilizeError, match="unregister them first"):
            unregister_rules(["user_first"])
        assert rule("user_first") is first and rule("user_second") is second
    finally:
        unregister_rules(["user_second", "user_first"])
    assert not {"user_first", "user_second"} & set(rule_names())
