"""The ``Derivation`` record: ordered, individually checked steps and the final result.

A derivation is built with :class:`Builder` (which checks every step as it is added and
raises :class:`~symsmooth.errors.DerivationError` on a failing one unless told to record it)
and frozen into a :class:`Derivation`, which renders as Markdown (LaTeX in ``$$...$$``) or as
plain text.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> b = Builder("square", "Derivative of a square")
>>> _ = b.step("Differentiate.", sp.Derivative(x**2, x), 2 * x, "power rule")
>>> d = b.build(update=2 * x)
>>> d.steps[0].check.method, d.steps[0].check.passed
('symbolic', True)
>>> print(d.to_text().splitlines()[0])
Derivative of a square (square)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import sympy as sp

from symsmooth.derive.checks import Check, CheckContext, check_relation
from symsmooth.errors import DerivationError

RELATION_CLASSES = {"=": sp.Eq, "<=": sp.Le, "<": sp.Lt, ">=": sp.Ge, ">": sp.Gt}
TEXT_SYMBOL = {sp.Eq: "=", sp.Le: "<=", sp.Lt: "<", sp.Ge: ">=", sp.Gt: ">"}


@dataclass(frozen=True)
class Step:
    """One step: what is claimed, the claim as a SymPy relation, why, and its check."""

    statement: str
    equation: sp.Basic
    justification: str
    check: Check

    @property
    def lhs(self) -> sp.Basic:
        return self.equation.lhs

    @property
    def rhs(self) -> sp.Basic:
        return self.equation.rhs

    def _check_text(self, exact: bool = True) -> str:
        """``exact=False`` rounds the difference to a bound, so rendered docs are portable."""
        c = self.check
        verdict = "passed" if c.passed else "FAILED"
        if c.method == "symbolic":
            return f"check: symbolic, {verdict} ({c.detail})"
        diff = f"{c.max_abs_diff:.3g}"
        if not exact:
            diff = "below 1e-25" if c.max_abs_diff < 1e-25 else f"about {c.max_abs_diff:.0e}"
        return f"check: numeric, {verdict}, max abs difference {diff} ({c.detail})"


@dataclass(frozen=True)
class Derivation:
    """A derived update or identity with every step and its check.

    Attributes
    ----------
    name : str
        Identifier (``snake_case``).
    title : str
    steps : tuple of Step
    update : sympy object
        The final result (an update rule ``Eq(x_next, ...)``, a gradient, ...).
    outputs : tuple of (str, sympy object)
        Named results in order (``{"gradient": ..., "hessian": ...}`` as pairs).
    source : str
        Citation.
    notes : tuple of str
        Warnings and remarks (e.g. the Newton step when ``f'' < 0``).
    """

    name: str
    title: str
    steps: tuple[Step, ...]
    update: sp.Basic
    outputs: tuple = ()
    source: str = ""
    notes: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> sp.Basic:
        for name, value in self.outputs:
            if name == key:
                return value
        raise KeyError(f"{self.name} has no output {key!r}; outputs: {self.output_names}")

    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.outputs]

    @property
    def checked(self) -> bool:
        """True when every step passed its check."""
        return all(s.check.passed for s in self.steps)

    def to_text(self) -> str:
        """Plain-text rendering (SymPy ``str`` forms)."""
        lines = [f"{self.title} ({self.name})"]
        if self.source:
            lines.append(f"source: {self.source}")
        for k, s in enumerate(self.steps, 1):
            rel = TEXT_SYMBOL.get(type(s.equation), "=")
            lines += [
                "",
                f"{k}. {s.statement}",
                f"   {sp.sstr(s.lhs)}",
                f"     {rel} {sp.sstr(s.rhs)}",
                f"   because: {s.justification}",
                f"   {s._check_text()}",
            ]
        lines += ["", f"result: {sp.sstr(self.update)}"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def to_markdown(self, level: int = 2) -> str:
        """Markdown with display LaTeX (``$$ ... $$``) for every step."""
        h = "#" * level
        out = [f"{h} {self.title}", ""]
        if self.source:
            out += [f"*Source:* {self.source}", ""]
        for k, s in enumerate(self.steps, 1):
            out += [
                f"**Step {k}.** {s.statement}",
                "",
                f"$$ {sp.latex(s.equation)} $$",
                "",
                f"*Why:* {s.justification}  ",
                f"*Check:* {s._check_text(exact=False)[len('check: ') :]}",
                "",
            ]
        out += ["**Result.**", "", f"$$ {_latex(self.update)} $$", ""]
        for n in self.notes:
            out += [f"> **Note.** {n}", ""]
        return "\n".join(out)


def _latex(obj) -> str:
    if isinstance(obj, (tuple, list)):
        return r",\quad ".join(sp.latex(o) for o in obj)
    return sp.latex(obj)


@dataclass
class Builder:
    """Mutable helper that checks steps one by one and freezes them into a Derivation.

    Parameters
    ----------
    name, title, source : str
    context : CheckContext, optional
        Where the numeric checks draw their points.
    record_failures : bool
        If False (default) a failing step raises ``DerivationError``.
    """

    name: str
    title: str
    source: str = ""
    context: CheckContext = field(default_factory=CheckContext)
    record_failures: bool = False
    steps: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def step(
        self,
        statement: str,
        lhs,
        rhs,
        justification: str,
        relation: str = "=",
        context: CheckContext | Mapping | None = None,
    ) -> sp.Basic:
        """Add and check ``lhs relation rhs``; returns ``rhs`` so derivations can chain.

        ``context`` overrides this builder's check context for one step (a mapping updates
        its fields).
        """
        ctx = self.context
        if isinstance(context, CheckContext):
            ctx = context
        elif context:
            ctx = replace(ctx, **context)
        equation = RELATION_CLASSES[relation](lhs, rhs, evaluate=False)
        check = check_relation(equation, ctx)
        if not check.passed and not self.record_failures:
            raise DerivationError(
                f"step {len(self.steps) + 1} of derivation {self.name!r} does not check "
                f"({check.method}, max abs difference {check.max_abs_diff:.3g}): {statement} "
                f"[{sp.sstr(lhs)} {relation} {sp.sstr(rhs)}]. Fix the expression, or pass "
                "record_failures=True to keep the failing step in the record for inspection."
            )
        self.steps.append(Step(statement, equation, justification, check))
        return rhs

    def note(self, text: str) -> None:
        self.notes.append(text)

    def build(self, update, outputs: Mapping | None = None) -> Derivation:
        pairs = tuple((outputs or {}).items())
        return Derivation(
            self.name, self.title, tuple(self.steps), update, pairs, self.source, tuple(self.notes)
        )
