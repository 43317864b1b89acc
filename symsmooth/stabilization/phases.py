"""Named phases: the one order in which the engine tries rules at a node.

A phase is a priority tier.  The engine makes one bottom-up pass to a fixed point; at each node
it tries the rules registered for the node's type phase by phase, in the order of
:data:`PHASES`, and the first rule that fires wins.  Within a phase the order is the rule
names, sorted, except where a rule declares ``after=("other_rule", ...)``: it is then tried
after those rules (a topological order, ties broken by name).  Neither import order nor the
position of a rule in a list changes the order.

Why this order (each phase wins over every later one at the same node):

``preempt``
    Rules whose match reads structure that a rule of a later phase would factor away:
    ``sinh_ratio`` needs ``exp(u - L) - exp(-u - L)`` with the common ``L`` intact, which
    ``exp_difference`` (phase ``compound``) would otherwise factor around the rounded ``L``.
``elementary``
    Recognize the elementary stable primitives: ``log1mexp``, ``softplus``, ``logsumexp``,
    ``log1p``, ``expm1``, ``sigmoid``, the max-shifted softmax, ``erfc``/``Phi``.  Each removes
    an overflow or a cancellation in one node; the larger patterns of later phases are built
    from their outputs (``Phi`` for ``relu_gauss``, ``logsumexp`` for ``softmax_pair`` and
    ``lse_square``, ``sigmoid`` for the fused sigmoid forms).
``compound``
    Compound primitives over those pieces: ``logcosh``, ``hypot``, ``relu_gauss``, the
    ``tanh`` complement, the softmax pair and the general exponential difference.
``scaling``
    Scaled forms whose intermediate powers overflow or underflow (``recip1p_sq``,
    ``odd_root_sum``, ``lse_square``).
``fused``
    Fused forms that only save roundings where nothing overflows or cancels (``dsigmoid``,
    ``tanh(u/2)``, ``dswish``, ``derf``, ``dgelu``, ``lin_hypot``): last, so a rule that removes
    an overflow or a cancellation always gets the node first (``exp(a) sigmoid(-a)`` becomes
    ``sigmoid(a)`` before ``sigmoid_product`` could fuse ``sigmoid(a) sigmoid(-a)``).

Examples
--------
>>> PHASES
('preempt', 'elementary', 'compound', 'scaling', 'fused')
>>> from types import SimpleNamespace as R
>>> rules = [R(name="b", phase="fused", after=()), R(name="c", phase="elementary", after=()),
...          R(name="a", phase="elementary", after=("c",))]
>>> [r.name for r in ordered(rules)]
['c', 'a', 'b']
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Protocol

from symsmooth.errors import StabilizeError

PHASES: tuple[str, ...] = ("preempt", "elementary", "compound", "scaling", "fused")
"""Every phase, in the order the engine tries them at a node (see the module docstring)."""


class Phased(Protocol):
    """What ordering reads from a rule: its name, its phase and the rules it runs after."""

    name: str
    phase: str
    after: tuple[str, ...]


def check_phase(name: str, phase: str) -> None:
    """Raise :class:`StabilizeError` with an instruction unless ``phase`` is in :data:`PHASES`.

    Examples
    --------
    >>> check_phase("softplus", "elementary")
    >>> check_phase("r", "fuse")
    Traceback (most recent call last):
    ...
    symsmooth.errors.StabilizeError: rule 'r' declares unknown phase 'fuse'. Did you mean ...
    """
    if phase in PHASES:
        return
    close = difflib.get_close_matches(phase, PHASES, n=2, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise StabilizeError(
        f"rule {name!r} declares unknown phase {phase!r}.{hint} Pass phase= one of "
        f"{', '.join(PHASES)} (symsmooth.stabilization.phases.PHASES; the module docstring "
        "says what each phase is for), or add a phase there with the reason for its place."
    )


def ordered(rules: Iterable[Phased]) -> tuple[Phased, ...]:
    """``rules`` in engine order: by phase, then by ``after`` constraints, then by name.

    Constraints that name a rule of an earlier phase are satisfied by the phase order; a rule
    of a later phase, an unknown rule or a cycle raises :class:`StabilizeError`.
    """
    rules = tuple(rules)
    by_name = {r.name: r for r in rules}
    rank = {p: k for k, p in enumerate(PHASES)}
    for r in rules:
        check_phase(r.name, r.phase)
        for other in r.after:
            if other not in by_name:
                raise StabilizeError(
                    f"rule {r.name!r} runs after={other!r}, which is not registered; "
                    "register that rule too, or drop it from after="
                )
            if rank[by_name[other].phase] > rank[r.phase]:
                raise StabilizeError(
                    f"rule {r.name!r} (phase {r.phase!r}) runs after={other!r}, which is in the "
                    f"later phase {by_name[other].phase!r}; move one of them so the constraint "
                    "points to the same or an earlier phase"
                )
    result: list[Phased] = []
    for phase in PHASES:
        pending = {r.name: r for r in rules if r.phase == phase}
        while pending:
            ready = sorted(n for n, r in pending.items() if not set(r.after) & set(pending))
            if not ready:
                raise StabilizeError(
                    f"the after= constraints of phase {phase!r} form a cycle among "
                    f"{sorted(pending)}; remove one constraint"
                )
            result.append(pending.pop(ready[0]))
    return tuple(result)
