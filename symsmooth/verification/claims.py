"""Check a catalog record's claims with mpmath: limit, error bound, attainment, domain.

* :func:`check_limit`: ``expr -> target`` as ``param -> limit``.  Symbolically with
  ``sympy.limit`` at a few exact points where SymPy manages within a time budget, and always
  numerically along a parameter sequence (``k = 10 .. 1e6``) at valid points of moderate
  scale: the error must shrink by 100x and end below ``1e-3 * max(1, |target|)``.
* :func:`check_bound`: ``|expr - target| <= bound`` at >= 200 valid points (ties,
  breakpoints, 1e-300 and 1e300 magnitudes, ``1e4/k``-scale inputs, several ``k``), and
  ``|expr - target| == bound`` at every ``record.attained`` point (to 1e-30 relative, or
  approached when the record's domain/description says "attained in the limit").
* :func:`check_domain`: evaluates along the sequence at points outside ``record.valid``
  and reports how the limit differs from the target there.

Values come from :func:`symsmooth.verification.reference.evaluate` (the exact expression with
mpmath, 40-60 digits plus one digit per decade of input magnitude, so 1e300 inputs still
resolve errors near 1).  Points whose value is beyond mpmath's range
(:class:`~symsmooth.verification.reference.ReferenceRangeError`) are skipped and counted.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.records import Smoothing
>>> x = sp.Symbol("x", real=True); k = sp.Symbol("k", positive=True)
>>> r = Smoothing("softplus_demo", sp.Max(x, 0), sp.log(1 + sp.exp(k * x)) / k, (x,), k,
...               sp.oo, sp.log(2) / k, "demo", attained=({x: 0},))
>>> check_bound(r, count=50).ok, check_limit(r).ok
(True, True)
>>> import dataclasses
>>> check_bound(dataclasses.replace(r, bound=sp.log(2) / (2 * k)), count=50).ok
False
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from symsmooth.budget import can_time, deadline
from symsmooth.errors import BudgetError
from symsmooth.records import Smoothing
from symsmooth.verification.reference import ReferenceRangeError, evaluate
from symsmooth.verification.samples import (
    _direction,
    _labels,
    _moderate,
    _valid,
    _with_param,
    sample_points,
)

SEQUENCE = {"oo": (10, 100, 1e3, 1e4, 1e6), "0": (0.1, 1e-2, 1e-3, 1e-4, 1e-6)}
"""Parameter sequences of the numeric limit check (sharpness -> oo, width -> 0)."""
INTEGER_SEQUENCE = (10, 100, 1000, 10**4, 10**5)
NICE = (sp.Rational(3, 2), -1, 0, sp.Rational(1, 3), sp.Rational(-5, 2), 2)
"""Exact values for the symbolic limit (a tie and the breakpoint 0 come first in pairs)."""


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of one claim check.

    ``worst`` is the largest final error (limit), the largest ``|error| / bound`` (bound) or
    the smallest ``|limit - target|`` (domain); ``data`` holds per-point details.
    """

    name: str
    claim: str
    ok: bool
    method: str
    detail: str
    worst: float | None = None
    checked: int = 0
    seconds: float = 0.0
    data: tuple = ()

    def __bool__(self) -> bool:
        return self.ok


# --- evaluation --------------------------------------------------------------------------


def _integers(point: Mapping) -> tuple:
    pairs = [(s, int(v)) for s, v in point.items() if isinstance(s, sp.Symbol) and s.is_integer]
    return tuple(sorted(pairs, key=lambda pair: pair[0].name))


_MAX, _MIN = sp.Function("Max"), sp.Function("Min")
"""Unevaluated stand-ins: ``sp.Max`` of many ``x[i]`` spends ~0.1 s per construction
comparing its arguments; these print (and so lambdify to mpmath) under the same names."""


def _expand_extremum(node: sp.Basic) -> sp.Basic:
    terms = node._terms()
    if terms is None:
        return node
    return (_MAX if type(node).__name__ == "MaxOver" else _MIN)(*[t.doit() for t in terms])


@lru_cache(maxsize=4096)
def _light(expr: sp.Expr, integers: tuple) -> sp.Expr:
    """``expr`` with the integers substituted and ``Max``/``Min``/``MaxOver``/``MinOver``
    replaced by the unevaluated stand-ins."""
    light = expr.replace(
        lambda e: isinstance(e, (sp.Max, sp.Min)),
        lambda e: (_MAX if isinstance(e, sp.Max) else _MIN)(*e.args),
    )
    sized = light.xreplace(dict(integers)) if integers else light  # subs: slow on big trees
    return sized.replace(lambda e: type(e).__name__ in ("MaxOver", "MinOver"), _expand_extremum)


def value(expr: sp.Expr, point: Mapping, dps: int = 50) -> mpmath.mpf:
    """``expr`` at ``point`` by :func:`~symsmooth.verification.reference.evaluate` (same semantics),
    with n-ary ``MaxOver``/``MinOver`` expanded without SymPy's argument comparisons."""
    return evaluate(_light(sp.sympify(expr), _integers(point)), point, dps=dps)


def _magnitude(point: Mapping) -> int:
    """Extra digits so that errors near 1 stay resolved when inputs are as large as 1e300."""
    largest = 1.0
    for key, val in point.items():
        for v in val if isinstance(key, sp.IndexedBase) else [val]:
            largest = max(largest, abs(float(v)))
    return min(int(math.log10(largest)) + 1, 700)


def _error(record: Smoothing, point: Mapping, dps: int) -> tuple:
    """``(|expr - target|, target)`` at ``point``, with extra digits for huge inputs."""
    digits = dps + _magnitude(point)
    target = value(record.target, point, digits)
    surrogate = value(record.expr, point, digits)
    with mpmath.workdps(digits):
        return abs(surrogate - target), target


# --- sample points -----------------------------------------------------------------------


# --- limit -------------------------------------------------------------------------------


def _exact(value) -> sp.Expr:
    return sp.Rational(str(value)) if isinstance(value, float) else sp.sympify(value)


def _nice_points(record: Smoothing, count: int) -> list[dict]:
    names = list(record.variables)
    rows = [tuple(NICE[(m + 3 * v) % len(NICE)] for v in range(len(names))) for m in range(6)]
    if len(names) > 1:
        rows.insert(0, tuple([sp.Rational(1, 3)] * len(names)))  # a tie
    fixed = {s: _exact(v) for s, v in record.fixed}
    points = [{**fixed, **dict(zip(names, row, strict=True)), record.param: 1} for row in rows]
    return [p for p in points if _valid(record, p)][:count]


def _symbolic_limit(record: Smoothing, point: dict, budget: float) -> bool | None:
    """True/False if SymPy decides ``lim expr == target`` at ``point``; None if it cannot."""
    subs = {s: v for s, v in point.items() if s != record.param}
    try:
        if not can_time():  # no alarm here: an undecided limit is checked numerically
            return None
        with deadline("claims", budget):
            found = sp.limit(record.expr.subs(subs), record.param, record.limit)
    except (BudgetError, ValueError, TypeError):  # out of time, or SymPy cannot decide
        return None
    if found.has(sp.Limit, sp.AccumBounds, sp.nan) or not found.is_number:
        return None
    gap = sp.N(found - record.target.subs(subs), 40)
    return bool(gap.is_number and abs(gap) < 1e-30)


def _exp_tower(expr: sp.Expr) -> bool:
    """``exp(... exp ...)``: Gruntz can spend minutes in one big-integer operation there,
    out of reach of the alarm, so such entries are checked numerically only."""
    return any(e.args[0].has(sp.exp) for e in expr.atoms(sp.exp))


def _symbolic_part(record: Smoothing, budget: float) -> tuple[bool | None, str]:
    scalar = all(isinstance(v, sp.Symbol) for v in record.variables) and not _labels(record)
    if not scalar or budget <= 0 or _exp_tower(record.expr):
        return None, "symbolic: not attempted"
    points = _nice_points(record, 2)
    outcomes = [_symbolic_limit(record, p, budget / max(len(points), 1)) for p in points]
    shown = ", ".join(
        f"{ {str(s): v for s, v in p.items() if s != record.param} }: {o}"
        for p, o in zip(points, outcomes, strict=True)
    )
    if any(o is False for o in outcomes):
        return False, f"symbolic limit differs from target at {shown}"
    if outcomes and all(o is True for o in outcomes):
        return True, f"sympy.limit == target at {shown}"
    return None, f"sympy.limit undecided ({shown})"


def _sequence(record: Smoothing) -> tuple:
    return INTEGER_SEQUENCE if record.param.is_integer else SEQUENCE[_direction(record)]


def limit_errors(record: Smoothing, point: Mapping, dps: int = 60) -> list:
    """``|expr - target|`` at ``point`` along the parameter sequence (param overridden)."""
    return [_error(record, {**point, record.param: pv}, dps)[0] for pv in _sequence(record)]


def check_limit(
    record: Smoothing,
    points: Sequence[Mapping] | None = None,
    count: int = 8,
    dps: int = 60,
    symbolic_budget: float = 2.0,
    seed: int = 1,
) -> ClaimResult:
    """Check ``expr -> target`` as ``param -> limit`` (see the module docstring)."""
    start = time.perf_counter()
    sym_ok, sym_detail = _symbolic_part(record, symbolic_budget)
    pool = points if points is not None else sample_points(record, 200, seed)
    chosen = [p for p in pool if _valid(record, p) and _moderate(record, p)][:count]
    worst, failures, skipped = 0.0, [], 0
    for point in chosen:
        try:
            errors = limit_errors(record, point, dps)
        except ReferenceRangeError:
            skipped += 1
            continue
        scale = max(1.0, abs(float(_error(record, {**point, record.param: 1}, 20)[1])))
        last, first = float(errors[-1]), float(errors[0])
        worst = max(worst, last / scale)
        if not (last <= 1e-3 * scale and (last <= 1e-2 * first or last <= 1e-12 * scale)):
            failures.append(f"{_show(point)}: errors {[mpmath.nstr(e, 3) for e in errors]}")
    ok = len(chosen) - skipped >= min(4, count) and not failures and sym_ok is not False
    detail = f"{sym_detail}; numeric at {len(chosen)} points along {_sequence(record)}: " + (
        "; ".join(failures) if failures else "error shrinks to <= 1e-3 * scale"
    )
    if skipped:
        detail += f" ({skipped} points skipped: values beyond mpmath's range)"
    if len(chosen) - skipped < min(4, count):
        detail += " (too few valid points of moderate scale: give the record samples)"
    return ClaimResult(
        record.name,
        "limit",
        ok,
        "symbolic" if sym_ok else "numeric",
        detail,
        worst,
        len(chosen),
        time.perf_counter() - start,
    )


def _show(point: Mapping) -> str:
    return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in point.items()) + "}"


def _short(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_short(e) for e in v) + "]"
    return f"{float(v):.4g}" if not isinstance(v, (int, np.integer)) else str(v)


# --- bound -------------------------------------------------------------------------------


def _in_the_limit(record: Smoothing) -> bool:
    return "attained in the limit" in f"{record.domain} {record.description}".lower()


def _attained(record: Smoothing, dps: int) -> tuple[list[str], float]:
    failures, closest = [], 1.0
    for point in record.attained:
        trials = [point] if record.param in point else [{**point, record.param: v} for v in (1, 10)]
        for trial in trials:
            trial = {**record.fixed_values, **trial}
            err = _error(record, trial, dps)[0]
            bound = value(record.bound, trial, dps)
            with mpmath.workdps(dps):
                gap = abs(err - bound)
                closest = min(closest, float(err / bound) if bound else 1.0)
                exact = gap <= mpmath.mpf(10) ** -30 * bound + mpmath.mpf(10) ** (8 - dps)
                near = _in_the_limit(record) and err >= bound * (1 - mpmath.mpf(10) ** -6)
            if not (exact or near):
                failures.append(
                    f"{_show(trial)}: |error| {mpmath.nstr(err, 8)} vs bound "
                    f"{mpmath.nstr(bound, 8)}"
                )
    return failures, closest


def check_bound(
    record: Smoothing,
    count: int = 200,
    dps: int = 40,
    seed: int = 0,
    points: Sequence[Mapping] | None = None,
) -> ClaimResult:
    """Check ``|expr - target| <= bound`` at ``count`` valid points and attainment."""
    start = time.perf_counter()
    if record.bound is None:
        return ClaimResult(
            record.name,
            "bound",
            True,
            "numeric",
            f"no bound claimed: {record.domain}",
            None,
            0,
            0.0,
        )
    pool = list(points) if points is not None else sample_points(record, count, seed)
    pool = [_with_param(record, p, m) for m, p in enumerate(pool)]
    pool += [
        _with_param(record, {**record.fixed_values, **p}, m) for m, p in enumerate(record.attained)
    ]
    worst, failures, skipped = 0.0, [], 0
    slack = mpmath.mpf(10) ** (8 - dps)
    for point in pool:
        try:
            err = _error(record, point, dps)[0]
            bound = value(record.bound, point, dps)
        except ReferenceRangeError:
            skipped += 1
            continue
        except (ArithmeticError, ValueError, TypeError) as exc:
            failures.append(f"{_show(point)}: cannot evaluate ({exc})")
            continue
        with mpmath.workdps(dps):
            worst = max(worst, float(err / bound)) if bound > 0 else worst
            holds = err <= bound * (1 + slack) + slack
        if not holds:
            failures.append(
                f"{_show(point)}: |error| {mpmath.nstr(err, 8)} > bound {mpmath.nstr(bound, 8)}"
            )
    missing, closest = _attained(record, 50)
    if not record.attained:
        missing = ["no attained point listed (say where the bound is attained)"]
    checked = len(pool) - skipped
    ok = not failures and not missing and checked >= min(count, 200)
    detail = f"{checked} points, max |error|/bound = {worst:.6g}; " + (
        "; ".join((failures + missing)[:5])
        if failures or missing
        else f"attained at {len(record.attained)} point(s)"
    )
    if skipped:
        detail += f"; {skipped} points skipped (values beyond mpmath's range)"
    return ClaimResult(
        record.name, "bound", ok, "numeric", detail, worst, checked, time.perf_counter() - start
    )


# --- domain ------------------------------------------------------------------------------


def check_domain(record: Smoothing, points: Sequence[Mapping], dps: int = 60) -> ClaimResult:
    """Show the limit failing outside ``record.valid``: ``ok`` when every point is invalid
    and the value at the end of the sequence differs from the target by > 1e-3.

    ``data`` holds ``(point, target, values along the sequence)`` per point.
    """
    start = time.perf_counter()
    data, problems, closest = [], [], math.inf
    for point in points:
        point = {**record.fixed_values, **point}
        values = [value(record.expr, {**point, record.param: pv}, dps) for pv in _sequence(record)]
        target = value(record.target, {**point, record.param: 1}, dps)
        data.append((point, target, tuple(values)))
        gap = float(abs(values[-1] - target))
        closest = min(closest, gap)
        if _valid(record, point) or gap <= 1e-3 * max(1.0, float(abs(target))):
            problems.append(
                f"{_show(point)} does not show a failure (limit ~ "
                f"{mpmath.nstr(values[-1], 8)}, target {mpmath.nstr(target, 8)})"
            )
    detail = "; ".join(problems) or "; ".join(
        f"{_show(p)}: target {mpmath.nstr(t, 6)}, limit ~ {mpmath.nstr(v[-1], 6)}"
        for p, t, v in data
    )
    return ClaimResult(
        record.name,
        "domain",
        bool(data) and not problems,
        "numeric",
        detail,
        closest,
        len(data),
        time.perf_counter() - start,
        tuple(data),
    )


def check_claims(record: Smoothing, count: int = 200) -> tuple[ClaimResult, ClaimResult]:
    """The limit and bound checks of ``record``."""
    return check_limit(record), check_bound(record, count)
