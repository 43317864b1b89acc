"""Records shared by every stage (frozen dataclasses).

They live below the stages so that ``convolve``, ``derive``, ``codegen`` and
``verify`` can all consume them without importing one another.  :class:`Smoothing` is a
construction; :class:`Iteration` is the algorithm of an algorithmic construction (a
fixed-count iteration of a row map), carried as data on its record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from symsmooth.identifiers import name_problem

Point = Mapping[Any, Any]
"""One sample: maps each Symbol to a number, each IndexedBase to a sequence of numbers,
the size symbol ``n`` (if any) to an int, and the sharpness ``param`` to a positive number."""

SHIFTS = ("min", "max", "none")
"""Pre-shifts of an iteration's input row: ``y = x - min(x)``, ``y = x - max(x)`` or ``y = x``."""


def _default_vector(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(name, real=True)


def _default_integer(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, positive=True)


@dataclass(frozen=True)
class Iteration:
    r"""A fixed-count iteration of a row map: the algorithm of an algorithmic construction.

    With ``x`` the record's input row: ``y = x - shift(x)``; ``p = init``; repeat ``count``
    times ``p_j <- step`` for every ``j`` (all entries from the same old ``p``).  The result is
    ``p``.  ``step`` is one row map, an expression in the vectors ``data`` (``y``) and
    ``state`` (``p``) whose free subscript ``subscript`` (``j``) is the output entry, with
    sums ``Sum(..., (index, 1, size))`` over the row; its other free symbols are the record's
    ``param`` and ``fixed`` symbols.  The code generator turns one step into a reduction
    kernel and runs it ``count`` times (:mod:`symsmooth.codegen.iteration`).

    Attributes
    ----------
    step : sympy.Expr
        The new ``p_j`` in terms of ``data[...]``, ``state[...]``, ``subscript``, ``index``,
        ``size`` and the record's parameters.
    data, state : sympy.IndexedBase
        The shifted input ``y`` and the state ``p`` (default: real ``y`` and ``p``).
    subscript, index, size : sympy.Symbol
        The row-map subscript ``j``, the summation index ``i`` and the row length ``n``
        (default: positive integers ``j``, ``i``, ``n``, those of :mod:`symsmooth.symbols`).
    init : sympy.Expr
        The state's initial value: a finite real number (``0`` by default).
    shift : {"min", "max", "none"}
        How ``y`` is formed from ``x`` (see :data:`SHIFTS`).
    count : str
        Name of the iteration-count argument of the generated functions (``"top"``).
    count_default : int
        Its default value, ``>= 0``.

    Raises
    ------
    TypeError, ValueError
        On construction, naming the field that is wrong and what it should be.

    Examples
    --------
    The recursive soft-k-max step ``p_j + softmax(k (1 - p) y)_j``:

    >>> import sympy as sp
    >>> y, p = sp.IndexedBase("y", real=True), sp.IndexedBase("p", real=True)
    >>> i, j, n = sp.symbols("i j n", integer=True, positive=True)
    >>> k = sp.Symbol("k", positive=True)
    >>> w = lambda m: sp.exp(k * (1 - p[m]) * y[m])
    >>> it = Iteration(p[j] + w(j) / sp.Sum(w(i), (i, 1, n)), shift="min", count_default=2)
    >>> it.shift, it.init, it.count, it.count_default
    ('min', 0, 'top', 2)
    >>> Iteration(p[j] / 2, shift="middle")
    Traceback (most recent call last):
    ...
    ValueError: Iteration shift 'middle': use one of 'min', 'max', 'none'
    >>> Iteration(p[j] / 2, count_default=-1)
    Traceback (most recent call last):
    ...
    ValueError: Iteration count_default must be an int >= 0, got -1
    """

    step: sp.Expr
    data: sp.IndexedBase = field(default_factory=lambda: _default_vector("y"))
    state: sp.IndexedBase = field(default_factory=lambda: _default_vector("p"))
    subscript: sp.Symbol = field(default_factory=lambda: _default_integer("j"))
    index: sp.Symbol = field(default_factory=lambda: _default_integer("i"))
    size: sp.Symbol = field(default_factory=lambda: _default_integer("n"))
    init: sp.Expr = sp.S.Zero
    shift: Literal["min", "max", "none"] = "none"
    count: str = "top"
    count_default: int = 1

    def __post_init__(self):
        if not isinstance(self.step, sp.Expr):
            raise TypeError(
                f"Iteration step must be a SymPy expression, got {type(self.step).__name__}"
            )
        for name in ("data", "state"):
            if not isinstance(getattr(self, name), sp.IndexedBase):
                raise TypeError(f"Iteration {name} must be a sympy.IndexedBase")
        for name in ("subscript", "index", "size"):
            if not isinstance(getattr(self, name), sp.Symbol):
                raise TypeError(f"Iteration {name} must be a sympy.Symbol")
        if self.data.label == self.state.label:
            raise ValueError("Iteration data and state must be two different vectors")
        if len({self.subscript, self.index, self.size}) != 3:
            raise ValueError("Iteration subscript, index and size must be three different symbols")
        self._check_step()
        object.__setattr__(self, "init", self._number(self.init))
        if not (isinstance(self.shift, str) and self.shift in SHIFTS):
            raise ValueError(
                f"Iteration shift {str(self.shift)[:30]!r}: use one of "
                + ", ".join(repr(s) for s in SHIFTS)
            )
        problem = name_problem(self.count, "iteration count")
        if problem is not None:
            raise ValueError(f"Iteration count: {problem}")
        if type(self.count_default) is not int or self.count_default < 0:
            raise ValueError(
                f"Iteration count_default must be an int >= 0, got {str(self.count_default)[:30]}"
            )

    def _check_step(self) -> None:
        bases = {b.base for b in self.step.atoms(sp.Indexed)}
        foreign = sorted(str(b) for b in bases - {self.data, self.state})
        if foreign:
            raise ValueError(
                f"Iteration step reads vector(s) {', '.join(foreign)}; a step reads only the "
                f"data vector {self.data} and the state {self.state} (same names and "
                "assumptions; the input row enters as the shifted data vector)"
            )
        if self.subscript not in self.step.free_symbols:
            raise ValueError(
                f"Iteration step has no free subscript {self.subscript}: it must give entry "
                f"{self.state}[{self.subscript}] of the new state (a row map)"
            )
        if self.index in self.step.free_symbols:
            raise ValueError(
                f"Iteration step uses the summation index {self.index} outside a "
                f"Sum(..., ({self.index}, 1, {self.size}))"
            )

    @staticmethod
    def _number(value) -> sp.Expr:
        try:
            number = sp.sympify(value, strict=True)
        except sp.SympifyError:
            number = None
        if not (isinstance(number, sp.Expr) and number.is_number and number.is_extended_real):
            raise ValueError(f"Iteration init must be a real number, got {str(value)[:30]!r}")
        if not number.is_finite:
            raise ValueError(f"Iteration init must be finite, got {number}")
        return number


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
    iteration : Iteration or None
        The algorithm of an algorithmic entry (``expr`` is then its closed form for one size,
        or any expression for the header hash); kernels are generated from it.  ``None``: a
        closed-form construction.
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
    iteration: Iteration | None = None

    def __post_init__(self):
        if self.iteration is not None and not isinstance(self.iteration, Iteration):
            raise TypeError(
                f"Smoothing iteration must be a symsmooth.records.Iteration or None, got "
                f"{type(self.iteration).__name__}"
            )

    @property
    def fixed_values(self) -> dict:
        """``fixed`` as a dict ``{Symbol: value}``."""
        return dict(self.fixed)

    def error(self) -> sp.Expr:
        """The signed error ``expr - target``."""
        return self.expr - self.target
