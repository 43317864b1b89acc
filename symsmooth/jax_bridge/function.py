"""``symsmooth.jax.function``: a generated module's kernel as a differentiable JAX function.

The arguments are checked and cast here (once per call, at trace time under ``jit``), then
handed to the rule of the module's output kind (:mod:`symsmooth.jax_bridge.rules`).  A call
along another axis, with ``keepdims`` or a mask (``where=``) moves the inputs with
``jnp.moveaxis`` first (JAX differentiates the move) and hands the moved mask to the rule as
one more operand (:func:`_along`, :mod:`symsmooth.bridges.layout`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

from symsmooth.bridges.layout import Layout, Moves, plan, split_layout
from symsmooth.jax_bridge import rules
from symsmooth.jax_bridge.callbacks import compute_dtype, kernel_dtype
from symsmooth.jax_bridge.interface import Interface, interface


def _prepare_elementwise(face: Interface, args) -> list:
    """Every argument reshaped (no copy) to the output's rank, so that the ufunc's broadcasting
    of the size-1 axes ``vmap`` adds in front lines up (callbacks.VMAP_METHODS)."""
    try:
        rank = len(jnp.broadcast_shapes(*[a.shape for a in args]))
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(face.arguments, args, strict=True))
        raise ValueError(f"{face.name}: arguments ({shapes}) do not broadcast") from None
    return [jnp.reshape(a, (1,) * (rank - a.ndim) + a.shape) for a in args]


PREPARE = {
    "elementwise": _prepare_elementwise,
    "rows": rules.prepare_rows,
    "rowmap": rules.prepare_rows,
}
"""How the arguments of each output kind are shaped before the rule sees them."""

RULES = {"elementwise": rules.elementwise, "rows": rules.rows}
"""The rule of each output kind (row maps: ``rules.ROWMAP_RULES``, chosen by ``rowmap=``)."""


def _module(module_or_name, out) -> ModuleType:
    if isinstance(module_or_name, ModuleType):
        return module_or_name
    if isinstance(module_or_name, str):
        from symsmooth.pipeline import load

        return load(module_or_name, out)
    raise TypeError(
        "symsmooth.jax.function takes a generated module or a kernel name, "
        f"not {type(module_or_name).__name__}"
    )


def _arrays(face: Interface, args) -> tuple[list, object]:
    """The arguments as JAX arrays: labels integer, the rest cast to one kernel dtype; and the
    dtype of the result."""
    floats = [a for i, a in enumerate(args) if not face.is_label(i)]
    for name, a in zip(face.arguments, args, strict=True):
        if not hasattr(a, "dtype") and not isinstance(a, (int, float, list, tuple)):
            raise TypeError(f"{face.name}: {name} must be an array or a number, not {a!r}")
    dtype = compute_dtype(floats)
    compute = kernel_dtype(dtype)
    arrays = []
    for i, a in enumerate(args):
        if face.is_label(i):
            a = jnp.asarray(a)
            if not jnp.issubdtype(a.dtype, jnp.integer):
                raise TypeError(
                    f"{face.name}: {face.arguments[i]} is a class-index label: pass integers "
                    f"(e.g. jnp.int32), not dtype {a.dtype}"
                )
            arrays.append(a)
        else:
            arrays.append(jnp.asarray(a, dtype=compute))
    return arrays, dtype


def _check_labels(face: Interface, arrays) -> None:
    """The module's label check on concrete labels (an eager call): its ValueError then comes
    straight, not from inside a callback as a ``JaxRuntimeError`` (under ``jit`` the kernel
    still checks them and fails with the same message)."""
    count = len(face.inputs)
    labels = {i: a for i, a in enumerate(arrays) if face.is_label(i)}
    if face.check_labels is None or not labels:
        return
    if any(isinstance(a, jax.core.Tracer) for a in list(labels.values()) + arrays[:1]):
        return
    params = [labels.get(i) for i in range(count, len(arrays))]
    face.check_labels(params, arrays[0].shape[-1])


def _check_masked_labels(face: Interface, prepared, mask) -> None:
    """The module's check of the labels against a concrete mask (moved as the inputs): a label
    on a masked entry of a row that keeps others is a ValueError now, not from a callback."""
    count = len(face.inputs)
    if face.check_masked_labels is None or mask is None:
        return
    if any(isinstance(a, jax.core.Tracer) for a in [mask, *prepared[count:]]):
        return
    shape = prepared[0].shape  # the parameters may have added leading axes
    keep = np.broadcast_to(np.asarray(mask), shape).reshape(-1, shape[-1])
    per_row = [np.asarray(a, dtype=np.float64).reshape(-1) for a in prepared[count:]]
    face.check_masked_labels(keep, per_row)


def _along(face: Interface, arrays: list, layout: Layout) -> tuple[list, list, Moves]:
    """A call along ``layout.axis`` for the last-axis rule: the arguments with the inputs
    broadcast and the axis moved last; the mask, broadcast to the inputs and moved likewise,
    as a list of the operands to add (none without a mask); and the call's :class:`Moves`."""
    count = len(face.inputs)
    mask = None if layout.where is None else jnp.asarray(layout.where)
    checked = None if mask is None else (np.dtype(mask.dtype).name, tuple(mask.shape))
    named = [(n, tuple(a.shape)) for n, a in zip(face.inputs, arrays[:count], strict=True)]
    moves = plan(face.name, layout, named, checked)
    moved = [jnp.broadcast_to(a, moves.full) for a in arrays[:count]]
    if mask is not None:
        moved.append(jnp.broadcast_to(mask, moves.full))
    if not moves.last:
        moved = [jnp.moveaxis(a, moves.axis, -1) for a in moved]
    return moved[:count] + list(arrays[count:]), moved[count:], moves


def _back(result, moves: Moves, output: str):
    """The last-axis result in the call's layout: a per-row result with its kept axis for
    ``keepdims``, a row map's moved back."""
    if output == "rows":
        return jnp.expand_dims(result, moves.from_end) if moves.keepdims else result
    return result if moves.last else jnp.moveaxis(result, -1, moves.from_end)


def function(module_or_name, out="generated", *, fast: bool = False, rowmap: str = "vjp"):
    """See :func:`symsmooth.jax.function` (the documented entry point)."""
    face = interface(_module(module_or_name, out), fast=fast)
    if face.output == "rowmap":
        if rowmap not in rules.ROWMAP_RULES:
            raise ValueError(
                f"rowmap={rowmap!r}: choose one of {', '.join(map(repr, rules.ROWMAP_RULES))}"
            )
        build = rules.ROWMAP_RULES[rowmap]
    else:
        build = RULES[face.output]
    prepare = PREPARE[face.output]
    cores: dict[tuple, Callable] = {}

    def call(*args, **given):
        given, layout = split_layout(face.name, face.layout, given) if given else (given, None)
        keywords = face.check_keywords(given)
        if len(args) != len(face.arguments):
            raise TypeError(
                f"{face.name}() takes {len(face.arguments)} positional arguments "
                f"({', '.join(face.arguments)}), got {len(args)}"
            )
        arrays, dtype = _arrays(face, args)
        moves, mask = None, []
        if layout is not None:
            arrays, mask, moves = _along(face, arrays, layout)
        key = (tuple(sorted(keywords.items())), bool(mask))
        if key not in cores:
            cores[key] = build(face.with_mask() if mask else face, keywords)
        prepared = prepare(face, arrays)
        _check_labels(face, prepared)
        _check_masked_labels(face, prepared, mask[0] if mask else None)
        result = cores[key](*prepared, *mask)
        result = result if moves is None else _back(result, moves, face.output)
        return result if result.dtype == dtype else result.astype(dtype)

    call.__name__ = call.__qualname__ = face.name
    call.__doc__ = (
        f"{face.name}({', '.join(face.arguments)}) over JAX arrays: the generated kernel "
        f"{face.name} of {getattr(face.value, '__module__', '?')} through a host callback, "
        "differentiable (symsmooth.jax.function)."
    )
    call.interface = face
    return call
