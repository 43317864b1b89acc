"""The differentiation rule of each output kind: how the bridge turns a module's value and
derivative kernels into a JAX function that ``jit``, ``vmap``, ``grad`` and ``jvp`` accept.

``elementwise`` and ``rows`` are ``jax.custom_jvp`` functions whose tangent is linear in the
tangents, with coefficients from the derivative kernels (computed on the primal values only):
forward mode uses it directly, reverse mode is JAX's transposition of it
(:doc:`jax.custom_jvp <jax:notebooks/Custom_derivative_rules_for_Python_code>`).

* elementwise: ``dy = sum_a f_a(x, p) * da`` over the arguments ``a`` that move;
* rows (one value per row): ``dy = sum_v sum_j G_v[..., j] dv[..., j] + sum_p P_p dp`` with
  ``G_v`` the per-row gradient, ``P_p`` the per-row derivative in a parameter.

``rowmap`` kernels (softmax-like maps of a row onto a row) come with a vector-Jacobian
product only, and ``J t`` does not follow from ``J^T c`` unless ``J`` is symmetric.  Two rules:

* ``"vjp"`` (default): ``jax.custom_vjp`` with the module's VJP -- ``grad``, ``vjp`` and
  ``jacrev`` at the cost of one kernel call; forward mode (``jvp``, ``jacfwd``) is refused by
  JAX ("can't apply forward-mode autodiff (jvp) to a custom_vjp function").
* ``"jacobian"``: ``jax.custom_jvp`` over the exact per-row Jacobian, assembled from ``n``
  VJPs with the unit cotangents (one batched kernel call, ``n`` times the work and ``n**2``
  values per row): every mode, for short rows.

Arguments arrive cast to a kernel dtype; labels (class indices) are integer arrays whose
tangents JAX keeps as symbolic zeros.  Tangents that are symbolic zeros
(``symbolic_zeros=True``) need no derivative kernel, so a parameter held constant needs no
``param_grads`` entry.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from symsmooth.jax_bridge.callbacks import host_call
from symsmooth.jax_bridge.interface import Interface


def _moving(face: Interface, tangents) -> list[int]:
    """The positions whose tangent is not a symbolic zero (labels never move)."""
    return [
        i
        for i, t in enumerate(tangents)
        if not isinstance(t, SymbolicZero) and not face.is_label(i)
    ]


def _total(terms, shape, dtype):
    """The sum of ``terms`` (zeros of ``shape`` when there is none)."""
    return sum(terms[1:], terms[0]) if terms else jnp.zeros(shape, dtype)


def elementwise(face: Interface, keywords: dict) -> Callable:
    """The ``custom_jvp`` function of an elementwise kernel (a ufunc of every argument)."""

    def shape_of(args):
        return jnp.broadcast_shapes(*[a.shape for a in args])

    @jax.custom_jvp
    def core(*args):
        call = host_call(face.value, [(shape_of(args), args[0].dtype)], "elementwise", face.name)
        return call(*args)[0]

    def rule(primals, tangents):
        shape, dtype = shape_of(primals), primals[0].dtype
        moving = _moving(face, tangents)
        functions = [face.value] + [face.derivative(i) for i in moving]
        call = host_call(functions, [(shape, dtype)] * len(functions), "elementwise", face.name)
        y, *parts = call(*primals)
        dy = _total([p * tangents[i] for p, i in zip(parts, moving, strict=True)], shape, dtype)
        return y, dy

    core.defjvp(rule, symbolic_zeros=True)
    return core


def _row_shapes(face: Interface, args):
    """The shape of the inputs (rows + the reduced axis) and of the rows, by broadcasting."""
    count = len(face.inputs)
    try:
        shape = jnp.broadcast_shapes(*[a.shape for a in args[:count]])
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in args[:count])
        raise ValueError(f"{face.name}: inputs of shapes {shapes} do not broadcast") from None
    if not shape:
        raise ValueError(f"{face.name}: inputs must have at least one axis (the reduced one)")
    try:
        rows = jnp.broadcast_shapes(shape[:-1], *[a.shape for a in args[count:]])
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(face.params, args[count:], strict=True))
        raise ValueError(
            f"{face.name}: parameters ({shapes}) are one value per row: they must broadcast "
            f"against the rows' shape {shape[:-1]} (the inputs' shape {shape} without the "
            "reduced last axis)"
        ) from None
    return rows + shape[-1:], rows


def prepare_rows(face: Interface, args) -> list:
    """Inputs broadcast to the full shape, parameters and labels to the rows' shape (JAX
    differentiates the broadcasting: a scalar temperature gets the sum over the rows)."""
    shape, rows = _row_shapes(face, args)
    count = len(face.inputs)
    return [jnp.broadcast_to(a, shape if i < count else rows) for i, a in enumerate(args)]


def rows(face: Interface, keywords: dict) -> Callable:
    """The ``custom_jvp`` function of a reduction with one value per row."""
    count = len(face.inputs)

    @jax.custom_jvp
    def core(*args):
        shape, dtype = args[0].shape, args[0].dtype
        return host_call(face.value, [(shape[:-1], dtype)], "rows", face.name)(*args)[0]

    def rule(primals, tangents):
        shape, dtype = primals[0].shape, primals[0].dtype
        moving = _moving(face, tangents)
        inputs = [i for i in moving if i < count]
        params = [i for i in moving if i >= count]
        functions = [face.value] + ([face.grad] if inputs else [])
        functions += [face.derivative(i) for i in params]
        results = [(shape[:-1], dtype)] + [(shape, dtype)] * (count if inputs else 0)
        results += [(shape[:-1], dtype)] * len(params)
        y, *parts = host_call(functions, results, "rows", face.name)(*primals)
        grads, per_row = (parts[:count], parts[count:]) if inputs else ([], parts)
        terms = [jnp.sum(grads[i] * tangents[i], axis=-1) for i in inputs]
        terms += [p * tangents[i] for p, i in zip(per_row, params, strict=True)]
        return y, _total(terms, shape[:-1], dtype)

    core.defjvp(rule, symbolic_zeros=True)
    return core


def _vjps(face: Interface, keywords: dict, positions) -> list[Callable]:
    """Host functions of (*args, cotangent): every input's VJP (one call), then the VJP of
    each parameter in ``positions`` (one value per row)."""
    count = len(face.inputs)

    def inputs(*arrays):
        got = face.grad(*arrays[:-1], cotangent=arrays[-1], **keywords)
        return got if isinstance(got, tuple) else (got,)

    def param(fn):
        return lambda *arrays: fn(*arrays[:-1], cotangent=arrays[-1], **keywords)

    return [inputs] + [param(face.derivative(i)) for i in positions if i >= count]


def _rowmap_value(face: Interface, keywords: dict) -> Callable:
    """The row map's value as a JAX function of the prepared arguments."""

    def value(*args):
        results = [(args[0].shape, args[0].dtype)]
        call = host_call(lambda *a: face.value(*a, **keywords), results, "rowmap", face.name)
        return call(*args)[0]

    return value


def rowmap_vjp(face: Interface, keywords: dict) -> Callable:
    """The ``custom_vjp`` function of a row map (reverse mode only; module docstring)."""
    count = len(face.inputs)
    core = jax.custom_vjp(_rowmap_value(face, keywords))

    def forward(*primals):
        values = tuple(p.value for p in primals)
        moving = [i for i, p in enumerate(primals) if p.perturbed and not face.is_label(i)]
        for i in moving:
            face.derivative(i)  # a clear error now, not in the backward pass
        # the moving positions travel in the residuals' structure (None or ()), not as data
        flags = tuple(() if i in moving else None for i in range(len(values)))
        return core(*values), (values, flags)

    def backward(residuals, cotangent):
        values, flags = residuals
        if isinstance(cotangent, SymbolicZero):
            return (None,) * len(values)
        params = [i for i in range(count, len(values)) if flags[i] is not None]
        shape, dtype = values[0].shape, values[0].dtype
        results = [(shape, dtype)] * count + [(shape[:-1], dtype)] * len(params)
        functions = _vjps(face, keywords, params)
        parts = host_call(functions, results, "rowmap", face.name)(*values, cotangent)
        out = [part if flags[i] is not None else None for i, part in enumerate(parts[:count])]
        out += [None] * (len(values) - count)
        for i, part in zip(params, parts[count:], strict=True):
            out[i] = part
        return tuple(out)

    core.defvjp(forward, backward, symbolic_zeros=True)
    return core


def _jacobians(vjp: Callable, rows_axis: int) -> Callable:
    """A host function of the arguments: ``vjp`` with the ``n`` unit cotangents in one batched
    call, each result's unit axis moved to ``rows_axis`` (-2 for an input's ``J[..., i, j] =
    dy_i/dx_j``, -1 for a parameter's ``dy_i/dp``)."""

    def run(*arrays):
        n = arrays[0].shape[-1]
        rows = arrays[0].shape[:-1]
        tiled = [np.broadcast_to(a, (n,) + a.shape) for a in arrays]
        unit = np.eye(n).reshape((n,) + (1,) * len(rows) + (n,))
        got = vjp(*tiled, np.broadcast_to(unit, (n,) + rows + (n,)))
        got = got if isinstance(got, tuple) else (got,)
        return tuple(np.moveaxis(g, 0, rows_axis) for g in got)

    return run


def rowmap_jacobian(face: Interface, keywords: dict) -> Callable:
    """The ``custom_jvp`` function of a row map over its exact Jacobian (module docstring)."""
    count = len(face.inputs)
    value = jax.custom_jvp(_rowmap_value(face, keywords))

    def rule(primals, tangents):
        shape, dtype = primals[0].shape, primals[0].dtype
        n = shape[-1]
        moving = _moving(face, tangents)
        inputs = [i for i in moving if i < count]
        params = [i for i in moving if i >= count]
        vjps = _vjps(face, keywords, params)
        functions = [lambda *a: face.value(*a, **keywords)]
        functions += [_jacobians(vjps[0], -2)] if inputs else []
        functions += [_jacobians(fn, -1) for fn in vjps[1:]]
        results = [(shape, dtype)] + [(shape + (n,), dtype)] * (count if inputs else 0)
        results += [(shape, dtype)] * len(params)
        y, *parts = host_call(functions, results, "rowmap", face.name)(*primals)
        jacobians, columns = (parts[:count], parts[count:]) if inputs else ([], parts)
        terms = [jnp.einsum("...ij,...j->...i", jacobians[i], tangents[i]) for i in inputs]
        terms += [c * tangents[i][..., None] for c, i in zip(columns, params, strict=True)]
        return y, _total(terms, shape, dtype)

    value.defjvp(rule, symbolic_zeros=True)
    return value


ROWMAP_RULES = {"vjp": rowmap_vjp, "jacobian": rowmap_jacobian}
"""The rules of a row map, by the ``rowmap=`` option of :func:`symsmooth.jax.function`."""
