"""Records shared by every stage (frozen dataclasses).

They live below the stages so that ``convolve``, ``derive``, ``codegen`` and
``verify`` can all consume them without importing one another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

Point = Mapping[Any, Any]
"""One sample: maps each Symbol to a number, each IndexedBase to a sequence of numbers,
the size symbol ``n`` (if any) to an int, and the sharpness ``param`` to a positive number."""


@dataclass(frozen=True)
class Smoothing:
    """A smooth surrogate ``expr`` of a non-smooth ``target``.

    Attributes
    ----------
    name : str
        Registry key, ``snake_case``.
    target : sympy.Expr
        The non-smooth function being approximated.
    expr : sympy.Expr
        The smooth surrogate, exact math (not yet stabilized).
    variables : tuple
        Inputs: ``Symbol`` for scalars, ``IndexedBase`` for vectors (n-ary entries).
    param : sympy.Symbol
        Sharpness (``k``, ``t``) or width (``sigma``, ``a``) symbol.
    limit : sympy.Expr
        ``sp.oo`` or ``sp.S.Zero``: the value of ``param`` where ``expr -> target``.
    bound : sympy.Expr or None
        Symbolic sup of ``|expr - target|`` over the valid domain, if known.
    source : str
        Citation (article and equation, or paper).
    domain : str
        Where ``expr -> target`` holds, and the known failures outside it.
    kind : {"elementwise", "reduction"}
        Reductions take vectors (``IndexedBase``) and sum over ``index`` from 1 to ``size``.
    size, index : sympy.Symbol or None
        The vector length ``n`` and the summation index of n-ary entries.
    fixed : tuple of (Symbol, value)
        Other parameters (leaky slope, SMU alpha, ...) and the values used in checks and plots.
    attained : tuple of Point
        Points where ``|expr - target| == bound`` (exactly, or in the limit the docs say).
    samples : callable or None
        ``samples(rng, count) -> list[Point]``: entry-specific sample points (labels, index
        sets, ties).  ``None`` uses the generic generator of :mod:`symsmooth.verification.claims`.
    valid : callable or None
        ``valid(point) -> bool``: the part of input space where limit and bound are claimed
        (e.g. eq (13) holds only for ``x, y >= 0``).  ``None`` means everywhere.
    method : str
        How the record was produced: ``"catalog"``, ``"convolution (partial moments)"``, ...
    description : str
        One-line human description.
    """

    name: str
    target: sp.Expr
    expr: sp.Expr
    variables: tuple
    param: sp.Symbol
    limit: sp.Expr
    bound: sp.Expr | None
    source: str
    domain: str = "all real inputs"
    kind: Literal["elementwise", "reduction"] = "elementwise"
    size: sp.Symbol | None = None
    index: sp.Symbol | None = None
    fixed: tuple = ()
    attained: tuple = ()
    samples: Callable[..., list] | None = field(default=None, compare=False, repr=False)
    valid: Callable[[Point], bool] | None = field(default=None, compare=False, repr=False)
    method: str = "catalog"
    description: str = ""

    @property
    def fixed_values(self) -> dict:
        """``fixed`` as a dict ``{Symbol: value}``."""
        return dict(self.fixed)

    def error(self) -> sp.Expr:
        """The signed error ``expr - target``."""
        return self.expr - self.target
