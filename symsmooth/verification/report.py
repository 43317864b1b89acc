"""Accuracy reports of generated kernels: max and median ulp per function, dtype and regime.

Targets (issue 5): float64 <= 1 ulp for the exp/log family (softplus, sigmoid, log-sigmoid,
logsumexp of explicit arguments), <= 2 ulp for erf-based kernels and other elementwise
kernels, <= 4 ulp for reductions (rows up to 10^5); float32 <= 1 ulp everywhere.

Examples
--------
A row is ok only when its target holds *and* it compared every point it was asked to
(``count + skipped == requested``, ``skipped`` counting the points whose exact value mpmath
cannot hold) and at least one: a run that compared nothing never reports ok.

>>> row = ReportRow("f", "value", "float64", "moderate", 10, 0.6, 0.2, 1.0)
>>> row.ok
True
>>> Report("f", "elementwise", (row,)).summary()
'f: value <= 0.60 ulp (float64), 0.00 ulp (float32); 10/10 points compared; ok'
>>> short = ReportRow("f", "value", "float64", "tiny", 0, 0.0, 0.0, 1.0, requested=48)
>>> short.ok, Report("f", "elementwise", (row, short)).summary()[-68:]
(False, '10/58 points compared; 1 row(s) compared fewer points than requested')
>>> Report("f", "elementwise", ()).ok
False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

EXP_LOG_FAMILY = {
    "softplus",
    "sigmoid",
    "log_sigmoid",
    "logsumexp",
    "log1mexp",
    "exp",
    "log",
    "log1p",
    "expm1",
}


@dataclass(frozen=True)
class ReportRow:
    """One line: ``function`` (``value`` or ``grad_<input>``) at one dtype and regime.

    ``count`` points were compared out of ``requested`` (default: ``count``); ``skipped`` of
    the others had no exact value mpmath can hold (said in ``regime``)."""

    function: str
    part: str
    dtype: str
    regime: str
    count: int
    max_ulp: float
    median_ulp: float
    target: float
    requested: int | None = None
    skipped: int = 0
    param: str = ""
    worst: str = ""

    def miss_line(self) -> str:
        """``name: part dtype [params] regime: max ulp > target at worst input``."""
        where = f" [{self.param}]" if self.param else ""
        got = (
            f"{self.max_ulp:.3g} ulp > {self.target:g}"
            if not self.max_ulp <= self.target
            else (f"{self.count}/{self.requested} points compared")
        )
        at = f" at {self.worst}" if self.worst else ""
        return f"{self.function}: {self.part} {self.dtype}{where} {self.regime}: {got}{at}"

    @property
    def complete(self) -> bool:
        """At least one point compared, and every requested point compared or skipped."""
        wanted = self.count if self.requested is None else self.requested
        return self.count > 0 and self.count + self.skipped == wanted

    @property
    def ok(self) -> bool:
        return bool(self.max_ulp <= self.target) and self.complete


@dataclass(frozen=True)
class Report:
    """Every :class:`ReportRow` of one kernel; ``ok`` when every target holds."""

    name: str
    kind: str
    rows: tuple

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def compared(self) -> int:
        """Points compared over every row."""
        return sum(r.count for r in self.rows)

    @property
    def requested(self) -> int:
        """Points requested over every row."""
        return sum(r.count if r.requested is None else r.requested for r in self.rows)

    def incomplete(self) -> tuple:
        """The rows that compared fewer points than requested (or none)."""
        return tuple(r for r in self.rows if not r.complete)

    def failures(self) -> tuple:
        """The rows whose target is not met."""
        return tuple(r for r in self.rows if not r.ok)

    def worst(self, part: str | None = None, dtype: str | None = None) -> float:
        """Largest max-ulp over the rows matching ``part`` and ``dtype``."""
        values = [
            r.max_ulp
            for r in self.rows
            if (part is None or r.part == part) and (dtype is None or r.dtype == dtype)
        ]
        return max(values, default=0.0)

    def summary(self) -> str:
        """One line: worst value errors, points compared of those requested, the status."""
        if self.ok:
            status = "ok"
        elif not self.rows:
            status = "nothing compared"
        else:
            missed = sum(1 for r in self.rows if not r.max_ulp <= r.target)
            short = len(self.incomplete())
            status = ", ".join(
                text
                for count, text in (
                    (missed, f"{missed} target(s) missed"),
                    (short, f"{short} row(s) compared fewer points than requested"),
                )
                if count
            )
        return (
            f"{self.name}: value <= {self.worst('value', 'float64'):.2f} ulp (float64), "
            f"{self.worst('value', 'float32'):.2f} ulp (float32); "
            f"{self.compared}/{self.requested} points compared; {status}"
        )


def target(expr: sp.Expr, kind: str, dtype) -> float:
    """The ulp target of a kernel whose stable form is ``expr``.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> target(sp.erf(x), "elementwise", np.float64), target(sp.exp(x), "elementwise", "float64")
    (2.0, 1.0)
    """
    if np.dtype(dtype) == np.float32:
        return 1.0
    if kind == "reduction":
        return 4.0
    names = {type(f).__name__ for f in expr.atoms(sp.Function)}
    if expr.has(sp.erf, sp.erfc) or names - EXP_LOG_FAMILY:
        return 2.0
    return 1.0


def summarize(errors: np.ndarray) -> tuple[float, float]:
    """``(max, median)`` of finite-or-infinite ulp errors (NaN never occurs here)."""
    errors = np.asarray(errors, dtype=np.float64).ravel()
    if errors.size == 0:
        return 0.0, 0.0
    return float(np.max(errors)), float(np.median(errors))
