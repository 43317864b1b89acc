"""How to call a generated module's kernels, read from its ``__symsmooth__`` record, for any
framework: the signature, the output's shape rules, which function gives which derivative,
and the axes a broadcast gradient is summed over.  Plain Python (no NumPy, no framework), so a
PyTorch, JAX or Dask bridge shares it.

The record is described in :mod:`symsmooth.codegen.api` (docs/codegen.md, "The interface
record").  A bridge binds a call with :meth:`Interface.bind`, checks dtypes with
:func:`dtype_problem`, gets the shapes with :meth:`Interface.shapes`, calls the kernels and
sums each gradient back with :func:`sum_axes`.

Examples
--------
>>> record = {"name": "f", "kind": "reduction", "inputs": ("x",), "params": ("k",),
...           "output": "rows", "grads": {"x": "f_grad"}, "grad": "f_grad"}
>>> api = Interface.from_record(record)
>>> api.bind((1.0,), {"k": 2.0})
((1.0, 2.0), {})
>>> api.shapes([(4, 3)], [(4,)])
Shapes(full=(4, 3), out=(4,), params=(4,))
>>> sum_axes((4, 3), (3,)), sum_axes((4, 3), (4, 1)), sum_axes((4,), ())
((0,), (1,), (0,))
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Output:
    """The shape rules of one output kind of the record (``output``).

    ``drops_row``: the result has one value per row (the inputs' shape without the last
    axis).  ``per_row``: parameters take one value per row (they broadcast to the rows' shape,
    not to the full shape).  ``vjp``: the gradient functions take the cotangent
    (``cotangent=``) and return a vector-Jacobian product instead of a derivative."""

    name: str
    drops_row: bool
    per_row: bool
    vjp: bool


OUTPUTS: dict[str, Output] = {
    "elementwise": Output("elementwise", drops_row=False, per_row=False, vjp=False),
    "rows": Output("rows", drops_row=True, per_row=True, vjp=False),
    "rowmap": Output("rowmap", drops_row=False, per_row=True, vjp=True),
}
"""Every ``output`` value of a record and its rules."""


@dataclass(frozen=True)
class Shapes:
    """``full``: the broadcast shape of the inputs (and, elementwise, of the parameters);
    ``out``: the result's shape; ``params``: the shape every parameter broadcasts to."""

    full: Shape
    out: Shape
    params: Shape


_REQUIRED = ("name", "kind", "inputs", "params", "output", "grads", "grad")


@dataclass(frozen=True)
class Interface:
    """A generated module's call interface (its ``__symsmooth__`` record, checked).

    ``layout``: the keyword-only layout arguments (``axis``, ``keepdims``, ``where``) the
    module's record lists, with their defaults (:mod:`symsmooth.bridges.layout`); none for an
    older record."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    output: Output
    grads: Mapping[str, str]
    grad: str
    labels: tuple[str, ...] = ()
    keywords: Mapping[str, Any] = field(default_factory=dict)
    fast: Mapping[str, str] = field(default_factory=dict)
    ufuncs: Mapping[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ("cpu",)
    param_grads: Mapping[str, str] = field(default_factory=dict)
    layout: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Interface:
        """The interface of a ``__symsmooth__`` record; a ``ValueError`` naming what is
        missing or unknown (a record of an older symsmooth: regenerate the module)."""
        missing = [key for key in _REQUIRED if key not in record]
        name = record.get("name", "?")
        if missing:
            raise ValueError(f"{name}: the __symsmooth__ record lacks {missing}: regenerate it")
        if record["output"] not in OUTPUTS:
            raise ValueError(
                f"{name}: unknown output kind {record['output']!r} (known: {sorted(OUTPUTS)})"
            )
        return cls(
            name=record["name"],
            kind=record["kind"],
            inputs=tuple(record["inputs"]),
            params=tuple(record["params"]),
            output=OUTPUTS[record["output"]],
            grads=dict(record["grads"]),
            grad=record["grad"],
            labels=tuple(record.get("labels", ())),
            keywords=dict(record.get("keywords", {})),
            fast=dict(record.get("fast", {})),
            ufuncs=dict(record.get("ufuncs", {})),
            targets=tuple(record.get("targets", ("cpu",))),
            param_grads=dict(record.get("param_grads", {})),
            layout=dict(record.get("layout", {})),
        )

    @cached_property
    def arguments(self) -> tuple[str, ...]:
        """Inputs then parameters: the positional order of every kernel function."""
        return self.inputs + self.params

    @cached_property
    def signature(self) -> inspect.Signature:
        """``(inputs..., params..., *, keywords=defaults, layout=defaults)``."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        named = [inspect.Parameter(a, kind) for a in self.arguments]
        named += [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=d)
            for k, d in {**self.keywords, **self.layout}.items()
        ]
        return inspect.Signature(named)

    def bind(self, args: Sequence, kwargs: Mapping) -> tuple[tuple, dict]:
        """(the arguments in call order, the keywords with their defaults: the record's
        ``keywords``, and its ``layout`` ones too when the call passes keywords); a
        ``TypeError`` naming the kernel and its signature for a wrong arity or an unknown
        keyword."""
        if not kwargs and len(args) == len(self.arguments):  # the common call, bound as is
            return tuple(args), dict(self.keywords)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}{self.signature}: {exc}") from None
        bound.apply_defaults()
        values = tuple(bound.arguments[a] for a in self.arguments)
        return values, {k: bound.arguments[k] for k in {**self.keywords, **self.layout}}

    def role(self, position: int) -> str:
        """``"input"``, ``"param"`` or ``"label"``: what the argument at ``position`` is."""
        if position < len(self.inputs):
            return "input"
        return "label" if self.arguments[position] in self.labels else "param"

    def shapes(self, input_shapes: Sequence[Shape], param_shapes: Sequence[Shape]) -> Shapes:
        """The shapes of a call (``param_shapes``: one per parameter, labels included, ``()``
        for a number); a ``ValueError`` naming the operand that does not fit."""
        named = list(zip(self.inputs, input_shapes, strict=True))
        if not self.output.per_row:
            named += list(zip(self.params, param_shapes, strict=True))
            full = broadcast_shapes(self.name, named)
            return Shapes(full, full, full)
        full = broadcast_shapes(self.name, named)
        if not full:
            raise ValueError(f"{self.name}: inputs need at least one axis (the reduced one)")
        rows = full[:-1]
        for p, s in zip(self.params, param_shapes, strict=True):
            lead = len(rows) - len(s)
            if lead < 0 or any(d not in (1, r) for d, r in zip(s, rows[lead:], strict=True)):
                raise ValueError(
                    f"{self.name}: parameter {p} of shape {s} does not broadcast to the rows "
                    f"{rows} (one value per row of the inputs {full})"
                )
        return Shapes(full, rows if self.output.drops_row else full, rows)

    def grad_function(self, argument: str) -> str | None:
        """The function giving the derivative in ``argument`` (an input or a parameter), or
        None when the module has none."""
        return self.grads.get(argument) or self.param_grads.get(argument)

    def split_grad(self, result) -> dict[str, Any]:
        """``{input: array}`` from the result of the all-inputs gradient ``grad`` (an array
        for one input, a tuple in input order for several)."""
        parts = (result,) if len(self.inputs) == 1 else tuple(result)
        return dict(zip(self.inputs, parts, strict=True))


def broadcast_shapes(kernel: str, named: Sequence[tuple[str, Shape]]) -> Shape:
    """The broadcast shape of ``(name, shape)`` pairs (NumPy's rule); a ``ValueError`` naming
    the two operands that do not broadcast.

    >>> broadcast_shapes("f", [("x", (2, 1)), ("y", (3,)), ("k", ())])
    (2, 3)
    """
    result: list[int] = []
    owner: list[str] = []
    for name, shape in named:
        shape = tuple(int(d) for d in shape)
        pad = len(shape) - len(result)
        if pad > 0:
            result = [1] * pad + result
            owner = [name] * pad + owner
        for i, d in enumerate(shape, start=len(result) - len(shape)):
            if d == result[i] or d == 1:
                continue
            if result[i] != 1:
                raise ValueError(
                    f"{kernel}: {name} of shape {shape} does not broadcast with {owner[i]} "
                    f"(axis {i - len(result)}: {d} vs {result[i]})"
                )
            result[i], owner[i] = d, name
    return tuple(result)


def sum_axes(shape: Shape, target: Shape) -> tuple[int, ...]:
    """The axes of an array of ``shape`` to sum (keeping dimensions) so that it reshapes to
    ``target``, an operand's shape that broadcast to ``shape``: the leading axes ``target``
    lacks and those where it has extent 1.  A gradient of a broadcast operand is the sum of
    the gradients of its copies."""
    lead = len(shape) - len(target)
    if lead < 0 or any(t not in (1, s) for t, s in zip(target, shape[lead:], strict=True)):
        raise ValueError(f"shape {target} does not broadcast to {shape}")
    ones = [lead + i for i, (t, s) in enumerate(zip(target, shape[lead:], strict=True)) if t < s]
    return tuple(range(lead)) + tuple(ones)


DTYPES = {"input": ("float32", "float64"), "param": ("float32", "float64")}
"""The dtypes each role accepts (the kernels are compiled for float32 and float64)."""


def dtype_problem(kernel: str, name: str, role: str, dtype: str, kind: str) -> str | None:
    """Why an array of ``dtype`` (its name; ``kind``: NumPy's kind character, ``f`` float,
    ``c`` complex, ``i``/``u`` integer, ``b`` bool) cannot be argument ``name`` of ``role``,
    or None when it can.

    >>> dtype_problem("f", "x", "input", "int64", "i")
    'f: x has dtype int64; pass float32 or float64 (e.g. x.double())'
    >>> dtype_problem("f", "t", "label", "int64", "i") is None
    True
    """
    if role == "label":
        if kind in "iu":
            return None
        return f"{kernel}: label {name} has dtype {dtype}; class indices are integers"
    if dtype in DTYPES[role]:
        return None
    what = "complex numbers are not supported" if kind == "c" else "pass float32 or float64"
    return f"{kernel}: {name} has dtype {dtype}; {what} (e.g. {name}.double())"


def module_of(module_or_name, out="generated") -> ModuleType:
    """A generated module: ``module_or_name`` itself when it carries ``__symsmooth__``, else
    ``ss.load(module_or_name, out)`` for a name; a ``TypeError`` for anything else."""
    if isinstance(module_or_name, str):
        from symsmooth.pipeline import load

        return load(module_or_name, out)
    if hasattr(module_or_name, "__symsmooth__"):
        return module_or_name
    raise TypeError(
        f"expected a generated module or a kernel name, got {type(module_or_name).__name__} "
        "(a module without a __symsmooth__ record: regenerate it with `symsmooth gen`)"
    )


def function_of(module: ModuleType, name: str, kernel: str):
    """``module.<name>``; a clear error when the module lacks it."""
    fn = getattr(module, name, None)
    if fn is None:
        raise AttributeError(f"{kernel}: the module has no function {name}: regenerate it")
    return fn
