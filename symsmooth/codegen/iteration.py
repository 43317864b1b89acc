"""Fixed-count iterations of a row map: ``p <- step(y, p)`` repeated ``count`` times.

Some catalog constructions are algorithms rather than closed forms.  The recursive soft-k-max
[A2, item 6] is ``y = x - min(x)``; ``p = 0``; repeat ``top`` times
``p_j <- p_j + exp(k (1 - p_j) y_j) / sum_i exp(k (1 - p_i) y_i)``.  Its catalog record's
``expr`` is the recursion unrolled for ``n = 5``, which is not in the sum-of-exponentials
normal form (explicit entries, ``Min``).  One *step*, however, is: a row map over two vectors
(the shifted input ``y`` and the state ``p``) with exponent ``h = k (1 - p_i) y_i``.  The
algorithm is data on the record (:class:`~symsmooth.records.Iteration`, ``record.iteration``:
the step, the pre-shift, the state's initial value and the count argument), and one generic
:func:`iteration_spec` turns it into an :class:`IterationSpec`: the step as an ordinary
reduction :class:`~symsmooth.codegen.spec.KernelSpec` (stable pieces, online max shift,
compensated sums and the row-map VJP with a cotangent all come from
:mod:`symsmooth.codegen.reduction`) plus that layout.

The generated module (``templates/iteration.py.j2``) runs the steps per row; the gradient is a
forward pass that stores every state and a backward pass through the steps with the step's
VJP in ``y`` and ``p``, then through the pre-shift (``y = x - x_m``, ``m`` the first argmin):
``dL/dx = g_y - (sum g_y) e_m``.

Examples
--------
>>> from symsmooth import catalog
>>> spec = iteration_spec(catalog.get("soft_k_max"))
>>> spec.kind, spec.input_names, spec.param_names, spec.count, spec.count_default
('iteration', ('x',), ('k',), 'top', 2)
>>> spec.step.plan.groups
(-k*p_e*y_e + k*y_e,)
>>> spec.step.pieces.exponents  # factored: no cancellation of k y - k p y at p ~ 1
(k*y_e*(1 - p_e),)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.codegen.spec import KernelSpec, Stabilizer, make_spec, source_hash
from symsmooth.errors import CodegenError
from symsmooth.records import SHIFTS as SHIFT_NAMES
from symsmooth.records import Iteration, Smoothing

SHIFTS = {"min": "<", "max": ">", "none": None}
"""Pre-shifts of the input row: ``y = x - x_m`` with ``m`` the first index whose entry beats
every other one under the comparison (``"min"``: ``<``), or no shift (``"none"``)."""
assert tuple(SHIFTS) == SHIFT_NAMES  # one list of shifts: the record's


@dataclass(frozen=True)
class IterationSpec:
    """A fixed-count iteration of a row map (see the module docstring).

    Attributes
    ----------
    name : str
        Module and function name.
    input : IndexedBase
        The user-facing row input ``x``.
    params : tuple of Symbol
        Scalar parameters (the step's), after the input in every signature.
    step : KernelSpec
        The step ``(y, state) -> new state``: a row-map reduction over two vectors.
    shift : str
        A key of :data:`SHIFTS`: how ``y`` is formed from ``x``.
    init : sympy.Expr
        The state's initial value (a number).
    count : str
        Name of the iteration-count argument.
    count_default : int
        Its default value.
    expr : sympy.Expr
        The construction's exact expression (the catalog record's; for the header hash and
        cross-checks).
    construction, command : str
        Header lines.
    """

    name: str
    input: sp.IndexedBase
    params: tuple
    step: KernelSpec
    shift: str
    init: sp.Expr
    count: str
    count_default: int
    expr: sp.Expr
    construction: str = ""
    command: str = ""
    kind: str = "iteration"

    def __post_init__(self):
        if self.shift not in SHIFTS:
            raise CodegenError(f"{self.name}: shift {self.shift!r}; known: {sorted(SHIFTS)}")
        if len(self.step.inputs) != 2 or not self.step.plan or not self.step.plan.rowmap:
            raise CodegenError(
                f"{self.name}: the step must be a row map over (input, state); build it with "
                "make_spec(..., kind='reduction') from an expression with a free subscript j"
            )
        if not (isinstance(self.count_default, int) and self.count_default >= 0):
            raise CodegenError(f"{self.name}: count_default must be an int >= 0")

    @property
    def inputs(self) -> tuple:
        return (self.input,)

    @property
    def input_names(self) -> tuple[str, ...]:
        return (str(self.input.label),)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.params)

    @property
    def grad_param_names(self) -> tuple[str, ...]:
        """The user's names of the differentiable parameters (the step's)."""
        return self.step.grad_param_names

    @property
    def public_param_names(self) -> tuple[str, ...]:
        """The parameters with a derivative ``<name>_grad_<p>``: the step's (each step's VJP in
        ``p``, summed over the steps)."""
        return self.step.public_param_names

    @property
    def applied(self) -> tuple[str, ...]:
        return self.step.applied

    @property
    def source_hash(self) -> str:
        return source_hash(sp.Tuple(self.expr, self.step.expr))


def _input(record: Smoothing) -> sp.IndexedBase:
    if len(record.variables) != 1 or not isinstance(record.variables[0], sp.IndexedBase):
        raise CodegenError(
            f"{record.name}: an iteration runs over one input row; give the record exactly one "
            "variable, an IndexedBase (e.g. variables=(IndexedBase('x', real=True),))"
        )
    return record.variables[0]


def _params(record: Smoothing, it: Iteration) -> tuple:
    """``record.param`` then the ``fixed`` symbols in name order, those the step uses."""
    structural = {it.subscript, it.index, it.size, it.data.label, it.state.label}
    params = [record.param] + sorted((s for s, _ in record.fixed), key=str)
    used = {s for s in it.step.free_symbols if isinstance(s, sp.Symbol)} - structural
    params = [s for s in dict.fromkeys(params) if s in used]
    unknown = sorted(str(s) for s in used - set(params))
    if unknown:
        raise CodegenError(
            f"{record.name}: the iteration step uses {', '.join(unknown)}, which is neither the "
            f"record's param ({record.param}) nor one of its fixed symbols; add it to fixed "
            "or write it as a number"
        )
    return tuple(params)


def _construction(record: Smoothing, x: sp.IndexedBase, params: tuple) -> str:
    it = record.iteration
    y, p, xs = it.data.label, it.state.label, x.label
    args = ", ".join([str(xs), *(str(s) for s in params), it.count])
    shifted = f"{xs}" if it.shift == "none" else f"{xs} - {it.shift}({xs})"
    source = f" ({record.source})" if record.source else ""
    return (
        f"{record.name}({args}) = {p} after {it.count} steps of {p} <- {sp.sstr(it.step)}, "
        f"{y} = {shifted}, {p} = {sp.sstr(it.init)}{source}"
    )


def iteration_spec(record: Smoothing, stabilizer: Stabilizer | None = None) -> IterationSpec:
    """The :class:`IterationSpec` of a record that carries an
    :class:`~symsmooth.records.Iteration` (``record.iteration``).

    Parameters are ``record.param`` followed by the ``fixed`` symbols in name order, those the
    step uses; the step is generated as the reduction ``<name>_step`` over ``(data, state)``.

    Raises
    ------
    CodegenError
        For a record without an iteration, with more than one input, or whose step uses
        symbols it does not declare.
    """
    it = getattr(record, "iteration", None)
    if not isinstance(it, Iteration):
        raise CodegenError(
            f"{getattr(record, 'name', record)!r} has no iteration to generate; give the "
            "Smoothing an iteration=symsmooth.records.Iteration(step, ...) (the row map, "
            "pre-shift, initial state and count), or generate its closed form with "
            "pipeline.kernel_spec"
        )
    x = _input(record)
    params = _params(record, it)
    taken = {str(x.label), *(str(s) for s in params)}
    if it.count in taken:
        raise CodegenError(
            f"{record.name}: the count argument {it.count!r} is also an input or parameter "
            "name; pick another count name (Iteration(count=...))"
        )
    step = make_spec(
        f"{record.name}_step",
        it.step,
        (it.data, it.state),
        params,
        kind="reduction",
        index=it.index,
        size=it.size,
        stabilizer=stabilizer,
    )
    return IterationSpec(
        name=record.name,
        input=x,
        params=params,
        step=step,
        shift=it.shift,
        init=it.init,
        count=it.count,
        count_default=it.count_default,
        expr=record.expr,
        construction=_construction(record, x, params),
        command=f"symsmooth gen {record.name}",
    )
