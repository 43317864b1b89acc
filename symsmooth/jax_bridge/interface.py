"""A generated module's kernels as the JAX bridge calls them, read from its ``__symsmooth__``.

The record (:mod:`symsmooth.codegen.api`, docs/codegen.md "The interface record") names the
functions; :class:`Interface` holds the functions themselves, so the rules of
:mod:`symsmooth.jax_bridge.rules` never look a name up.  This module needs NumPy only (no JAX).

Examples
--------
>>> import symsmooth as ss
>>> face = interface(ss.load("softplus"))
>>> face.output, face.arguments, face.grads[0].__name__
('elementwise', ('x', 'k'), 'softplus_grad_x_ufunc')
>>> face.is_label(1), face.param_grad("k") is None or callable(face.param_grad("k"))
(False, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

OUTPUTS = ("elementwise", "rows", "rowmap")
"""The output shape kinds of the record (``output``) the bridge wraps."""


@dataclass(frozen=True)
class Interface:
    """The callables of one generated module, in call order.

    ``grads[i]`` is the derivative in ``inputs[i]`` (elementwise: the partial; ``rows``: the
    per-row gradient shaped like the input; ``rowmap``: a VJP taking ``cotangent=``); ``grad``
    gives all inputs' at once; ``param_grads`` maps a parameter to its derivative (same
    conventions: elementwise partial, per-row derivative, or VJP) where the module has one.
    ``check_labels(params, length)`` is the module's own label check (a ValueError naming
    the label; ``symsmooth/runtime/cpu_host.py``), for the bridge to run on concrete labels
    before any callback; ``check_masked_labels(keep, per_row)`` likewise for a label on a
    masked entry.  ``layout``: the record's layout keywords and their defaults (``axis``,
    ``keepdims``, ``where``; :mod:`symsmooth.bridges.layout`; a masked call's functions take
    the mask as a last operand: :meth:`with_mask`)."""

    name: str
    output: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    labels: tuple[str, ...]
    keywords: dict = field(hash=False)
    value: Callable = field(hash=False)
    grads: tuple[Callable, ...] = field(hash=False)
    grad: Callable = field(hash=False)
    param_grads: dict = field(hash=False)
    check_labels: Callable | None = field(default=None, hash=False)
    check_masked_labels: Callable | None = field(default=None, hash=False)
    layout: dict = field(default_factory=dict, hash=False)

    @property
    def arguments(self) -> tuple[str, ...]:
        """Every positional argument: the inputs, then the parameters."""
        return self.inputs + self.params

    def is_label(self, position: int) -> bool:
        """Whether argument ``position`` is a class-index label (integer, never
        differentiated); the mask operand past the arguments counts as one."""
        return position >= len(self.arguments) or self.arguments[position] in self.labels

    def with_mask(self) -> Interface:
        """This interface with every function taking the mask as one more, last operand,
        passed to the kernel as ``where=`` (the rules treat it as a label: no tangent)."""

        def masked(fn: Callable) -> Callable:
            def call(*arrays, **keywords):
                return fn(*arrays[:-1], where=arrays[-1], **keywords)

            call.__name__ = getattr(fn, "__name__", "kernel")
            return call

        return dataclasses.replace(
            self,
            value=masked(self.value),
            grads=tuple(masked(g) for g in self.grads),
            grad=masked(self.grad),
            param_grads={p: masked(g) for p, g in self.param_grads.items()},
        )

    def param_grad(self, param: str) -> Callable | None:
        """The derivative of the kernel in ``param``, or None when the module has none."""
        return self.param_grads.get(param)

    def derivative(self, position: int) -> Callable:
        """The derivative in argument ``position``; a clear error where the module lacks it."""
        if position < len(self.inputs):
            return self.grads[position]
        param = self.arguments[position]
        if self.is_label(position):
            raise TypeError(f"{self.name}: {param} is a class-index label: it has no derivative")
        found = self.param_grad(param)
        if found is None:
            raise NotImplementedError(
                f"symsmooth.jax: {self.name} is differentiated in its parameter {param!r}, but "
                f"the generated module has no derivative in {param!r} (its __symsmooth__ lists "
                f"no param_grads[{param!r}]); regenerate it with a symsmooth that emits "
                f"parameter gradients, or hold {param} constant (a Python float, or "
                f"jax.lax.stop_gradient({param}))"
            )
        return found

    def check_keywords(self, given: dict) -> dict:
        """The record's keywords with ``given`` applied: each a Python integer (static)."""
        unknown = sorted(set(given) - set(self.keywords))
        if unknown:
            allowed = ", ".join([*self.keywords, *self.layout]) or "none"
            raise TypeError(
                f"{self.name}() got unexpected keyword arguments {unknown} (allowed: {allowed})"
            )
        merged = {**self.keywords, **given}
        for key, value in merged.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(
                    f"{self.name}: {key} must be a Python int (it fixes the kernel's loop "
                    f"count; under jax.jit mark it static), got {type(value).__name__}"
                )
            if value < 0:
                raise ValueError(f"{self.name}: {key} must be >= 0, got {value}")
        return merged


def _record(module: ModuleType) -> dict:
    record = getattr(module, "__symsmooth__", None)
    if not isinstance(record, dict):
        raise TypeError(
            f"{getattr(module, '__name__', module)!r} is not a module generated by symsmooth "
            "with an interface record (no __symsmooth__); regenerate it with `symsmooth gen`"
        )
    if record.get("output") not in OUTPUTS:
        raise ValueError(
            f"{record.get('name')}: output kind {record.get('output')!r} is not one the JAX "
            f"bridge wraps ({', '.join(OUTPUTS)})"
        )
    return record


def interface(module: ModuleType, fast: bool = False) -> Interface:
    """The :class:`Interface` of a generated ``module``: its ``_fast`` loops when ``fast``,
    else its libm ufuncs (``record["ufuncs"]``; the public names dispatch to the loops).

    The ``_fast`` loops exist for elementwise kernels (multithreaded SIMD, within 1 ulp of the
    ufuncs); for the other kinds ``fast`` changes nothing."""
    record = _record(module)
    twins = record.get("fast", {}) if fast else record.get("ufuncs", {})

    def look_up(name: str) -> Callable:
        return getattr(module, twins.get(name, name))

    inputs = tuple(record["inputs"])
    labelled = bool(record.get("labels"))
    return Interface(
        name=record["name"],
        output=record["output"],
        inputs=inputs,
        params=tuple(record["params"]),
        labels=tuple(record.get("labels", ())),
        keywords=dict(record.get("keywords", {})),
        value=look_up(record["name"]),
        grads=tuple(look_up(record["grads"][v]) for v in inputs),
        grad=look_up(record["grad"]),
        param_grads={p: look_up(f) for p, f in record.get("param_grads", {}).items()},
        check_labels=getattr(module, "_check_labels", None) if labelled else None,
        check_masked_labels=getattr(module, "_check_masked_labels", None) if labelled else None,
        layout=dict(record.get("layout", {})),
    )
