"""Seeded random short formulas from the parser's grammar, for the fuzz tests.

Each formula is text for :func:`symsmooth.text.formula.parse`, built from atoms (the variable ``x``,
a second symbol ``y``, small and huge constants, ``pi``, ``E``, ``exp(<big>)``), unary
functions (``Abs, sign, Heaviside, erf, erfc, exp, relu, floor, sigmoid, phi``), binary
operators and powers (up to ``**500``), ``Max``/``Min``/``clip`` and ``Piecewise``.

Examples
--------
>>> import random
>>> formula(random.Random(0)) == formula(random.Random(0))
True
"""

from __future__ import annotations

import random

KERNELS = (
    "gaussian",
    "logistic",
    "cauchy",
    "laplace",
    "uniform",
    "triangular",
    "epanechnikov",
    "student_t2",
)
_CONSTANTS = tuple(
    "0 1 2 -1 3 1/2 0.5 pi E 10**6 1e10 1e300 -1e10 exp(10000) exp(700) exp(9999) 10**50 "
    "2**1000 1e-300 sqrt(2)".split()
)
_UNARY = ("Abs", "sign", "Heaviside", "erf", "erfc", "exp", "relu", "floor", "sigmoid", "phi")
_POWERS = ("2", "3", "10", "50", "500", "0.5", "-1", "1/2")


def _atom(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return "x"
    if roll < 0.55:
        return "y"
    return rng.choice(_CONSTANTS)


def _expr(rng: random.Random, depth: int) -> str:
    if depth <= 0 or rng.random() < 0.25:
        return _atom(rng)
    a = _expr(rng, depth - 1)
    kind = rng.randrange(9)
    if kind == 0:
        return f"{rng.choice(_UNARY)}({a})"
    if kind == 1:
        return f"({a}) {rng.choice('+-*/')} ({_expr(rng, depth - 1)})"
    if kind == 2:
        return f"({a})**{rng.choice(_POWERS)}"
    if kind in (3, 4):
        args = ", ".join([a] + [_expr(rng, depth - 1) for _ in range(rng.randint(1, 3))])
        return f"{rng.choice(('Max', 'Min'))}({args})"
    if kind == 5:
        return f"clip({a}, {_atom(rng)}, {_atom(rng)})"
    if kind == 6:
        n = rng.choice((1, 2, 3, 45))
        cuts = sorted(rng.sample(range(-60, 60), n))
        pairs = ", ".join(f"({_expr(rng, 0)}, x < {c})" for c in cuts)
        return f"Piecewise({pairs}, ({a}, True))"
    if kind == 7:
        return f"-({a})"
    return f"Max({a}, 0)"


def formula(rng: random.Random, depth: int = 3) -> str:
    """One random formula (text), mostly mentioning ``x``."""
    return _expr(rng, depth)


def cases(seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` pairs ``(formula, kernel)`` from ``seed``."""
    rng = random.Random(seed)
    return [(formula(rng), rng.choice(KERNELS)) for _ in range(count)]
