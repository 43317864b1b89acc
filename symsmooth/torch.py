"""PyTorch bridge: any generated module as a differentiable function of torch tensors.

``symsmooth.torch.function(module_or_name)`` wraps the verified Numba kernels of a generated
module (a catalog kernel or your own derivation: a name for ``ss.load(name, out)``, or the
module) in a ``torch.autograd.Function``.  It reads the module's ``__symsmooth__`` record
(:mod:`symsmooth.bridges.calls`), so it needs no symbolic engine and works for every kind:

* elementwise kernels broadcast as the ufunc does; reductions give one value per row of the
  last axis (``"rows"``) or a row map (``"rowmap"``, e.g. softmax);
* CPU tensors reach the kernels through NumPy without a copy (``tensor.detach().numpy()``);
  CUDA tensors go to the module's ``<name>_cuda`` launchers, which read them in place
  (``__cuda_array_interface__``), ordered after torch's current stream;
* gradients for every input and every parameter tensor that requires grad (a learnable
  temperature), summed back to each operand's shape; ``ctx.needs_input_grad`` skips the
  kernels no one needs.  Parameter derivatives come from the record's ``param_grads``;
* ``axis=``, ``keepdims=`` and ``where=`` (a boolean mask) where the module's record lists
  them (its ``layout``): the axis moved last with ``movedim`` (torch differentiates the move),
  the mask passed to every kernel of the call; CPU tensors only for a mask
  (:mod:`symsmooth.bridges.layout`, docs/torch.md "Any axis, keepdims, masks");
* double backward raises a clear error (the kernels give first derivatives only).

Examples
--------
>>> import torch, symsmooth.torch as sst
>>> softplus = sst.function("softplus")          # generated/softplus.py
>>> x = torch.tensor([-30.0, 0.0, 800.0], dtype=torch.float64, requires_grad=True)
>>> y = softplus(x, 1.0)
>>> y
tensor([9.3576e-14, 6.9315e-01, 8.0000e+02], dtype=torch.float64, grad_fn=<_KernelOpBackward>)
>>> y.sum().backward(); x.grad
tensor([9.3576e-14, 5.0000e-01, 1.0000e+00], dtype=torch.float64)
"""

from __future__ import annotations

from numbers import Integral, Real
from types import ModuleType

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - the torch extra is not installed
    raise ImportError(
        "symsmooth.torch needs PyTorch: pip install 'symsmooth[torch]' (torch==2.13.0)"
    ) from exc

from symsmooth.bridges.calls import Interface, dtype_problem, module_of
from symsmooth.bridges.calls import sum_axes as _sum_axes
from symsmooth.bridges.layout import Layout, Moves, plan, split_layout
from symsmooth.bridges.torch_devices import EXECUTORS

__all__ = ["KernelFunction", "function"]


def function(module_or_name: str | ModuleType, out="generated", *, fast: bool = True):
    """A differentiable PyTorch function over the kernels of a generated module.

    Parameters
    ----------
    module_or_name : str or module
        A kernel name (loaded with ``ss.load(name, out)``) or a generated module (anything
        with a ``__symsmooth__`` record: a catalog kernel or a user's own derivation).
    out : str or path
        The folder of generated modules, for a name.
    fast : bool
        Elementwise kernels: use the multithreaded SIMD ``_fast`` loops (within 1 ulp of the
        ufuncs; the record's ``fast``); ``False``: the libm ufuncs (the record's ``ufuncs``).
        Reductions have one kernel.

    Returns
    -------
    KernelFunction
        Called like the module's kernel: inputs (tensors), then parameters (numbers or
        tensors; labels: integer tensors, arrays or ints), then the record's keywords and
        its layout keywords (reductions ``axis=``, ``keepdims=``, ``where=``; iterations
        ``axis=``).
    """
    return KernelFunction(module_of(module_or_name, out), fast=fast)


def _dtype_of(t: torch.Tensor) -> tuple[str, str]:
    """(dtype name, NumPy kind character) of a tensor."""
    name = str(t.dtype).removeprefix("torch.")
    if t.is_complex():
        return name, "c"
    if t.is_floating_point():
        return name, "f"
    return name, "b" if t.dtype == torch.bool else ("u" if name.startswith("uint") else "i")


class KernelFunction:
    """The kernels of one generated module as a differentiable function of tensors (made by
    :func:`function`).  ``interface`` is the module's checked ``__symsmooth__`` record."""

    def __init__(self, module: ModuleType, fast: bool = True):
        self.module = module
        self.interface = Interface.from_record(module.__symsmooth__)
        self.fast = fast
        self.__name__ = self.interface.name
        self.__signature__ = self.interface.signature
        self.__doc__ = getattr(getattr(module, self.interface.name, None), "__doc__", None)

    def __repr__(self) -> str:
        return f"<symsmooth.torch function {self.__name__}{self.__signature__}>"

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        values, keywords = self.interface.bind(args, kwargs)
        keywords, layout = split_layout(self.__name__, self.interface.layout, keywords)
        device = self._check(values)
        if device.type not in EXECUTORS:
            raise ValueError(
                f"{self.__name__}: tensors on {device.type} are not supported "
                f"(supported: {', '.join(EXECUTORS)})"
            )
        if layout is not None:
            return self._along(values, keywords, layout, device)
        n = len(self.interface.inputs)
        shapes = self.interface.shapes(
            [tuple(v.shape) for v in values[:n]], [tuple(np.shape(v)) for v in values[n:]]
        )
        executor = EXECUTORS[device.type](self, device, keywords, shapes)
        return _KernelOp.apply(executor, *values)

    def _along(self, values: tuple, keywords: dict, layout: Layout, device) -> torch.Tensor:
        """The call along ``layout.axis`` (:mod:`symsmooth.bridges.layout`): the inputs
        broadcast and the axis moved last (views torch differentiates), the last-axis call on
        them with the mask as ``where=``, the result given its kept axis or moved back."""
        api, n = self.interface, len(self.interface.inputs)
        where = layout.where
        if where is not None and not isinstance(where, torch.Tensor):
            where = np.asarray(where)
        mask = None if where is None else (_dtype_of_mask(where), tuple(where.shape))
        named = [(a, tuple(v.shape)) for a, v in zip(api.inputs, values[:n], strict=True)]
        moves = plan(api.name, layout, named, mask)
        inputs = torch.broadcast_tensors(*values[:n]) if n > 1 else values[:n]
        if not moves.last:
            inputs = [v.movedim(moves.axis, -1) for v in inputs]
        runs = EXECUTORS[device.type]
        if where is not None:
            keywords = {**keywords, "where": runs.mask_of(where, moves, device)}
        values = (*inputs, *values[n:])
        shapes = api.shapes([moves.moved] * n, [tuple(np.shape(v)) for v in values[n:]])
        executor = runs(self, device, keywords, shapes)
        return _back(_KernelOp.apply(executor, *values), moves, api.output.drops_row)

    def _check(self, values: tuple) -> torch.device:
        """The device of the call's tensors; a clear error for a bad argument."""
        api, name = self.interface, self.__name__
        devices = set()
        for position, value in enumerate(values):
            arg, role = api.arguments[position], api.role(position)
            if isinstance(value, torch.Tensor):
                problem = dtype_problem(name, arg, role, *_dtype_of(value))
                if problem:
                    raise TypeError(problem)
                anywhere = role == "label" or (role == "param" and value.dim() == 0)
                if value.device.type != "cpu" or not anywhere:
                    devices.add(value.device)  # CPU labels and 0-d parameters go anywhere
                if role == "param" and value.requires_grad and torch.is_grad_enabled():
                    if arg not in api.param_grads:
                        raise ValueError(
                            f"{name}: parameter {arg} requires grad, but the module has no "
                            f"derivative in {arg} (no param_grads[{arg!r}] in its "
                            f"__symsmooth__): regenerate it, or pass {arg}.detach()"
                        )
            elif role == "input":
                raise TypeError(
                    f"{name}: input {arg} must be a torch tensor, not {type(value).__name__} "
                    f"(e.g. torch.as_tensor({arg}, dtype=torch.float64))"
                )
            elif role == "label":
                _check_label(name, arg, value)
            elif isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(
                    f"{name}: parameter {arg} must be a real number or a float tensor, "
                    f"not {type(value).__name__}"
                )
        if len(devices) > 1:
            raise ValueError(f"{name}: tensors on several devices: {sorted(map(str, devices))}")
        return devices.pop()

    def gradients(self, executor, values: tuple, cotangent, needed: list) -> dict:
        """``{argument: gradient}`` for the ``needed`` arguments, each shaped like its operand:
        the kernel's derivative times the cotangent (or the kernel's VJP), summed over the
        axes the operand was broadcast along."""
        api = self.interface
        inputs = [a for a in needed if a in api.inputs]
        raw = executor.input_grads(values, inputs, cotangent) if inputs else {}
        for a in needed:
            if a not in api.inputs:
                raw[a] = executor.param_grad(a, values, cotangent)
        grads = {}
        for a, g in raw.items():
            if not api.output.vjp:  # g is the kernel's fresh result: scaled in place
                per_element = api.output.drops_row and a in api.inputs
                g = _times(g, cotangent.unsqueeze(-1) if per_element else cotangent)
            operand = values[api.arguments.index(a)]
            shape = tuple(operand.shape)
            axes = _sum_axes(tuple(g.shape), shape)
            g = g.sum(dim=axes, keepdim=True) if axes else g
            grads[a] = g.reshape(shape).to(operand.device, operand.dtype)
        return grads


def _dtype_of_mask(where) -> str:
    """The dtype name of a mask (a tensor's or an array's)."""
    if isinstance(where, torch.Tensor):
        return str(where.dtype).removeprefix("torch.")
    return where.dtype.name


def _back(out: torch.Tensor, moves: Moves, drops_row: bool) -> torch.Tensor:
    """The last-axis result of the moved inputs in the call's layout: a per-row result with
    its kept axis for ``keepdims``, a row map's moved back."""
    if drops_row:
        return out.unsqueeze(moves.from_end) if moves.keepdims else out
    return out if moves.last else out.movedim(-1, moves.from_end)


def _times(g: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
    """``g * cotangent``, in place where ``g`` has the product's shape and dtype; a cotangent
    that is one number (``loss.sum()``, ``loss.mean()``: an expanded scalar) on the CPU
    multiplies as a scalar, and not at all when it is 1 (on a GPU, reading it would sync)."""
    scalar = cotangent.device.type == "cpu" and cotangent.numel()
    if scalar and all(s == 0 for s in cotangent.stride()):
        scale = cotangent.reshape(-1)[0].item()
        return g if scale == 1 else g.mul_(scale)
    if torch.broadcast_shapes(g.shape, cotangent.shape) == g.shape and g.dtype.is_floating_point:
        if torch.promote_types(g.dtype, cotangent.dtype) == g.dtype:
            return g.mul_(cotangent)
    return g * cotangent


def _check_label(name: str, arg: str, value) -> None:
    """Labels (class indices) are ints, integer arrays or integer tensors."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return
    if isinstance(value, np.ndarray):
        problem = dtype_problem(name, arg, "label", value.dtype.name, value.dtype.kind)
        if problem:
            raise TypeError(problem)
        return
    raise TypeError(
        f"{name}: label {arg} must be an int or an integer tensor, not {type(value).__name__}"
    )


class _KernelOp(torch.autograd.Function):
    """The autograd node of every bridged kernel; its first argument is the call's
    :class:`~symsmooth.bridges.torch_devices.Executor` (no tensor), the others the kernel's
    arguments."""

    @staticmethod
    def forward(ctx, executor, *values):
        # the classic form (ctx in forward): apply costs ~30 us less than with setup_context
        ctx.executor = executor
        ctx.is_tensor = [isinstance(v, torch.Tensor) for v in values]
        ctx.others = [None if t else v for v, t in zip(values, ctx.is_tensor, strict=True)]
        ctx.save_for_backward(*[v for v in values if isinstance(v, torch.Tensor)])
        return executor.value(values)

    @staticmethod
    def backward(ctx, cotangent):
        saved = iter(ctx.saved_tensors)
        values = tuple(
            next(saved) if t else v for t, v in zip(ctx.is_tensor, ctx.others, strict=True)
        )
        fn = ctx.executor.fn
        arguments = fn.interface.arguments
        needed = [a for a, n in zip(arguments, ctx.needs_input_grad[1:], strict=True) if n]
        with torch.no_grad():
            grads = fn.gradients(ctx.executor, values, cotangent, needed) if needed else {}
        if torch.is_grad_enabled():  # create_graph=True: a gradient of these gradients fails
            anchors = [v for v in (cotangent, *values) if isinstance(v, torch.Tensor)]
            anchors = [v for v in anchors if v.requires_grad]
            grads = {a: _FirstOrderOnly.apply(fn.__name__, g, *anchors) for a, g in grads.items()}
        return (None, *(grads.get(a) for a in arguments))


class _FirstOrderOnly(torch.autograd.Function):
    """The identity on a gradient, whose own backward raises: what ``backward`` returns under
    ``create_graph=True``, so that a second derivative (a gradient penalty, a Hessian-vector
    product) fails with a clear error instead of treating the gradient as a constant.  The
    ``anchors`` (the tensors the gradient depends on) make it part of the graph."""

    @staticmethod
    def forward(ctx, name: str, grad: torch.Tensor, *anchors):
        ctx.name = name
        return grad.clone()

    @staticmethod
    def backward(ctx, *cotangents):
        raise RuntimeError(
            f"symsmooth.torch {ctx.name}: double backward (a derivative of a gradient) is not "
            "supported: the generated kernels give first derivatives only"
        )
