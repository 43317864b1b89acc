"""Stabilization that searches: candidate rewrites measured per region, regimes inferred.

The rule sets (:mod:`symsmooth.stabilization.rules`) recognise the catalog's shapes; a user's
derivation often hides them (``clip(x, 0, 1)`` convolved with the Gaussian is
``relu_gauss(x) - relu_gauss(x - 1)`` only after ``erf = 2 Phi - 1`` and collecting).  Like
Herbie (Panchekha et al., PLDI 2015), :func:`search` generates candidates, *measures* them and
keeps each only where it is better:

1. **Candidates**: every subset of the reflectable nodes (:mod:`.complements`) reflected,
   distributed so polynomial parts cancel exactly, collected over the function atoms and
   stabilized again by the rules (so a ``relu_gauss`` hidden by the derivation is
   recognised); repeated ``depth`` times from the best candidates.
2. **Measure**: ``measure(candidates, points)`` (injected by the pipeline: float64 evaluation
   against certified references) gives each candidate's error in bits,
   ``log2(1 + ulp)``, at the sample points.
3. **Regimes** (Herbie's regime inference): over each split expression (an input, or the
   argument of a reflected function such as ``t x``), dynamic programming chooses the
   segmentation of the sorted sample points and one candidate per segment minimising the
   total error plus :data:`SPLIT_PENALTY` bits per split; each threshold is then refined by
   bisection between the two sample points it separates.

The result is exact (every candidate equals the input) and says where each threshold came
from.  What the search cannot improve stays as the rules left it, and the verifier reports it.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> x = sp.Symbol("x", real=True)
>>> pool = candidates(softplus(x) - softplus(x - 1), lambda e: e)
>>> 1 + softplus(-x) - softplus(1 - x) in pool
True
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symsmooth.budget import deadline, remaining
from symsmooth.errors import BudgetError
from symsmooth.stabilization.complements import REFLECTIONS, distribute, occurrences, reflected

MAX_NODES = 6
"""Reflectable nodes tried per expression (2^6 - 1 = 63 subsets); more are left as they are."""

BEAM = 3
"""Candidates expanded at each further depth (the best by total error)."""

SPLIT_PENALTY = 4.0
"""Bits of total error a split must save to be made (Herbie's regime inference penalises
each branch the same way, so noise of a fraction of an ulp never creates one)."""

MAX_SEGMENTS = 4
"""Regimes per expression at most."""

BISECTIONS = 24
"""Bisection steps per threshold (from the two separating sample points)."""

TRIGGER_BITS = float(np.log2(1 + 4))
"""The search replaces the rules' form only where that misses by more than 4 ulp somewhere
(the loosest per-family target: reductions' 4 ulp) -- a form that meets its target is kept
as the rules made it, so measuring noise never rewrites a good kernel."""

MAX_SPLITS = 8
"""Split expressions tried at most (inputs first)."""

SEARCH_SECONDS = 5.0
"""Time for generating candidates (SymPy work); measuring what was found comes after."""

Measure = Callable[[Sequence[sp.Expr], dict], np.ndarray]
"""``(exprs, points) -> (len(exprs), n_points)`` errors in bits; ``points``: symbol -> array."""


@dataclass(frozen=True)
class Searched:
    """Result of :func:`search`.

    Attributes
    ----------
    expr : sympy.Expr
        The chosen form (a ``Piecewise`` over regimes, or one candidate).
    notes : tuple of str
        What was chosen and where each threshold came from.
    before, after : float
        Total error in bits over the sample points of the input and of the result.
    """

    expr: sp.Expr
    notes: tuple[str, ...]
    before: float
    after: float


def _collect(expr: sp.Expr) -> sp.Expr:
    atoms = sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
    return sp.collect(expr, atoms, func=sp.factor) if atoms else expr


def candidates(expr: sp.Expr, stabilize: Callable[[sp.Expr], sp.Expr]) -> list[sp.Expr]:
    """The reflected, collected, re-stabilized forms of ``expr`` (no duplicates, without
    ``expr`` itself unless a reflection gives it back)."""
    return [form for form, _ in _candidates(expr, stabilize)]


def _candidates(expr, stabilize, until: float = math.inf) -> list[tuple[sp.Expr, str]]:
    nodes = occurrences(expr)[:MAX_NODES]
    out: list[tuple[sp.Expr, str]] = []
    for size in range(1, len(nodes) + 1):
        for subset in itertools.combinations(nodes, size):
            left = until - time.monotonic()
            if left <= 0:
                return out
            try:
                with deadline("search", left if math.isfinite(left) else None):
                    form = stabilize(_collect(reflected(expr, subset)))
            except BudgetError:  # out of time on this candidate: keep what was found
                return out
            if all(form != seen for seen, _ in out):
                out.append((form, "reflect " + ", ".join(map(str, subset))))
    return out


def _segments(err: np.ndarray) -> list[tuple[int, int, int]]:
    """Optimal ``(start, stop, candidate)`` segments of the points (columns, already sorted),
    at most :data:`MAX_SEGMENTS`, each split costing :data:`SPLIT_PENALTY`."""
    n_c, n = err.shape
    prefix = np.concatenate([np.zeros((n_c, 1)), np.cumsum(err, axis=1)], axis=1)
    # best[s][i]: least cost of points [0, i) in s segments; choice holds (j, c)
    best = np.full((MAX_SEGMENTS + 1, n + 1), np.inf)
    best[0][0] = 0.0
    choice = {}
    for s in range(1, MAX_SEGMENTS + 1):
        for i in range(1, n + 1):
            j = np.arange(i)
            cost = prefix[:, i][:, None] - prefix[:, j]  # (candidate, start)
            total = best[s - 1][j][None, :] + cost
            c, at = np.unravel_index(np.argmin(total), total.shape)
            best[s][i] = total[c, at] + (SPLIT_PENALTY if s > 1 else 0.0)
            choice[s, i] = (int(at), int(c))
    s = int(np.argmin(best[:, n]))
    out, i = [], n
    while s > 0:
        j, c = choice[s, i]
        out.append((j, i, c))
        i, s = j, s - 1
    return out[::-1]


def _threshold(left: sp.Expr, right: sp.Expr, points, measure):
    """A point between ``lo`` and ``hi`` where ``right`` stops being worse than ``left``,
    by bisection along the segment between the two sample points (all symbols moved)."""
    a, b = 0.0, 1.0
    start = {s: np.asarray(v[0], dtype=np.float64) for s, v in points["lo"].items()}
    stop = {s: np.asarray(v[0], dtype=np.float64) for s, v in points["hi"].items()}
    for _ in range(BISECTIONS):
        m = (a + b) / 2
        here = {s: np.array([start[s] + m * (stop[s] - start[s])]) for s in start}
        e = measure([left, right], here)[:, 0]
        a, b = (m, b) if e[0] <= e[1] else (a, m)
    at = {s: start[s] + b * (stop[s] - start[s]) for s in start}
    return at


def _split_value(split: sp.Expr, symbols, points) -> np.ndarray:
    from symsmooth.stabilization.float_eval import evaluate

    return evaluate(split, symbols, [points[s] for s in symbols])


def split_expressions(forms: Sequence[sp.Expr], inputs: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """The inputs and the arguments of the reflectable functions that contain an input."""
    out = list(inputs)
    for form in forms:
        for node in occurrences(form):
            arg = node.args[0]
            if arg.free_symbols & set(inputs) and arg not in out:
                out.append(arg)
    return out[:MAX_SPLITS]


def search(
    forms: Sequence[sp.Expr],
    inputs: Sequence[sp.Symbol],
    points: dict,
    measure: Measure,
    stabilize: Callable[[sp.Expr], sp.Expr],
    depth: int = 2,
    seconds: float = SEARCH_SECONDS,
) -> Searched:
    """The most accurate piecewise combination of candidate forms (module docstring).

    ``forms`` are equal expressions to start from; the first (the rules' stable form) is the
    reference point of the comparison and what is kept when nothing measures better.
    ``points`` (symbol -> 1-D array, every free symbol) are the sample points; ``measure``
    gives errors in bits; ``stabilize`` re-applies the rules to a candidate.  Candidates are
    generated for at most ``seconds`` (then the search goes on with what it has)."""
    forms = list(dict.fromkeys([*forms, *(distribute(f) for f in forms[1:])]))
    if not any(type(n) in REFLECTIONS for f in forms for n in sp.preorder_traversal(f)):
        return Searched(forms[0], (), np.nan, np.nan)
    # at most ``seconds``, and at most half of what the enclosing stage has left (the rest
    # is for measuring and for the stages after this one)
    until = time.monotonic() + min(seconds, remaining() / 2)
    symbols = sorted(points, key=str)
    pool = [(f, "the rules' form" if i == 0 else "the exact form") for i, f in enumerate(forms)]
    # the exact forms are expanded (the rules' form is measured, not expanded: its rewrites
    # hide the structure the reflections need, and re-stabilizing it is the slow part)
    frontier = pool[1:] or pool
    for _ in range(depth):
        fresh = []
        for member, how in frontier:
            for form, step in _candidates(member, stabilize, until):
                if all(form != seen for seen, _ in pool + fresh):
                    fresh.append((form, step if how.startswith("the ") else f"{how}; {step}"))
        if not fresh:
            break
        pool += fresh
        totals = measure([f for f, _ in pool], points).sum(axis=1)
        ops = np.array([sp.count_ops(f) for f, _ in pool])
        frontier = [pool[i] for i in np.lexsort((ops, totals))[:BEAM]]
    exprs = [f for f, _ in pool]
    err = measure(exprs, points)
    before = float(err[0].sum())
    if err[0].max() <= TRIGGER_BITS:  # the rules' form meets the target everywhere sampled
        return Searched(forms[0], (), before, before)
    best = int(np.argmin(err.sum(axis=1)))
    chosen = (None, [(0, err.shape[1], best)], float(err[best].sum()))
    for split in split_expressions(exprs, inputs):
        values = _split_value(split, symbols, points)
        order = np.argsort(values, kind="stable")
        segs = _segments(err[:, order])
        cost = sum(err[c, order[a:b]].sum() for a, b, c in segs)
        cost += SPLIT_PENALTY * (len(segs) - 1)
        if cost < chosen[2] - 1e-9:
            chosen = ((split, values, order), segs, cost)
    split_info, segs, cost = chosen
    summary = f"measured {before:.0f} -> {cost:.0f} bits over {err.shape[1]} samples"
    if split_info is None or len(segs) == 1:
        c = segs[0][2]
        if c == 0:
            return Searched(forms[0], (), before, before)
        return Searched(exprs[c], (f"search: {pool[c][1]} ({summary})",), before, cost)
    split, values, order = split_info
    branches, notes = [], []
    for (_, b, c), (_, _, c_next) in zip(segs, segs[1:], strict=False):
        lo, hi = order[b - 1], order[b]
        ends = {
            "lo": {s: points[s][[lo]] for s in symbols},
            "hi": {s: points[s][[hi]] for s in symbols},
        }
        at = _threshold(exprs[c], exprs[c_next], ends, measure)
        edge = float(_split_value(split, symbols, {s: np.atleast_1d(at[s]) for s in symbols})[0])
        branches.append((exprs[c], sp.StrictLessThan(split, sp.Float(edge, 17))))
        notes.append(
            f"search: {pool[c][1]} where {split} < {edge!r} (bisection between the samples "
            f"{float(values[lo])!r} and {float(values[hi])!r})"
        )
    c = segs[-1][2]
    branches.append((exprs[c], sp.true))
    notes.append(f"search: {pool[c][1]} above ({summary})")
    return Searched(sp.Piecewise(*branches), tuple(notes), before, cost)
