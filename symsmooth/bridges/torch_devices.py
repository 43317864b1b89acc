"""Where the PyTorch bridge's kernels run: one executor per device type (:data:`EXECUTORS`).

An executor is made per call of a :class:`symsmooth.torch.KernelFunction`, with the call's
keywords and shapes (:class:`symsmooth.bridges.calls.Shapes`), and gives the value, the input
gradients and the parameter gradients as tensors.  CPU tensors reach the CPU kernels as NumPy
views; CUDA tensors reach the module's ``<function>_cuda`` launchers in place.
"""

from __future__ import annotations

import contextlib
import math

import numba
import numpy as np
import torch

from symsmooth.bridges.calls import function_of

GRAIN_SIZE = 32768
"""Calls on fewer elements run the kernels on one Numba thread: waking a thread pool costs
more than it saves there (torch's own grain size for intra-op parallelism, at::GRAIN_SIZE)."""


class Executor:
    """Where one call runs: the kernels of ``fn`` for tensors on ``device``, with the call's
    keywords and shapes.  Subclasses give ``_args`` (kernel operands), ``_run`` (call a
    kernel function) and ``_tensor`` (a result as a tensor)."""

    def __init__(self, fn, device: torch.device, keywords: dict, shapes):
        self.fn, self.api, self.device = fn, fn.interface, device
        self.keywords, self.shapes = keywords, shapes

    def _keywords(self, cotangent) -> dict:
        """The call's keywords, and the cotangent for a row map's VJP."""
        if not self.api.output.vjp:
            return self.keywords
        return {**self.keywords, "cotangent": self._cotangent(cotangent)}

    def value(self, values: tuple) -> torch.Tensor:
        return self._tensor(self._run(self.api.name, self._args(values), self.keywords))

    def input_grads(self, values: tuple, names: list[str], cotangent) -> dict:
        """The kernels' derivatives (a row map: VJPs) of the ``names`` inputs."""
        result = self._run(self.api.grad, self._args(values), self._keywords(cotangent))
        parts = self.api.split_grad(result)
        return {v: self._tensor(parts[v]) for v in names}

    def param_grad(self, param: str, values: tuple, cotangent) -> torch.Tensor:
        name = self.api.param_grads[param]
        return self._tensor(self._run(name, self._args(values), self._keywords(cotangent)))


class CpuExecutor(Executor):
    """CPU tensors: NumPy views in (no copy), the CPU kernels, tensors over the results out."""

    @staticmethod
    def mask_of(where, moves, device) -> np.ndarray:
        """The (checked) mask broadcast to the inputs' shape, moved as the inputs and made
        C-contiguous once, as the kernels read it (``where=``; a tensor's host copy or view)."""
        if isinstance(where, torch.Tensor):
            where = where.detach().cpu().numpy()
        moved = np.broadcast_to(where, moves.full)
        return np.ascontiguousarray(moved if moves.last else np.moveaxis(moved, moves.axis, -1))

    def _run(self, name: str, args: list, keywords: dict):
        twin = (self.api.fast if self.fn.fast else self.api.ufuncs).get(name)
        fn = function_of(self.fn.module, twin or name, self.api.name)
        if math.prod(self.shapes.full) >= GRAIN_SIZE:
            return fn(*args, **keywords)
        threads = numba.get_num_threads()  # small: one thread, as torch does below its grain
        numba.set_num_threads(1)
        try:
            return fn(*args, **keywords)
        finally:
            numba.set_num_threads(threads)

    def _args(self, values: tuple) -> list:
        return [v.detach().numpy() if isinstance(v, torch.Tensor) else v for v in values]

    def _cotangent(self, cotangent):
        return cotangent.detach().numpy()

    @staticmethod
    def _tensor(result) -> torch.Tensor:
        array = np.asarray(result)
        if not array.flags.writeable:  # a 0-d view of a NumPy scalar
            array = array.copy()
        return torch.from_numpy(array)

    def input_grads(self, values: tuple, names: list[str], cotangent) -> dict:
        if self.api.kind != "elementwise":
            return super().input_grads(values, names, cotangent)
        args = self._args(values)  # one ufunc per input: only the needed ones run
        return {v: self._tensor(self._run(self.api.grads[v], args, {})) for v in names}


class CudaExecutor(Executor):
    """CUDA tensors: the module's ``<function>_cuda`` launchers read them (and a mask) in
    place and return new CUDA tensors; each launch is ordered after torch's current stream (and
    the current stream after it) without a host sync.  Operands are made C-contiguous and
    broadcast on the device first where the launchers need it (they broadcast from size 1
    only)."""

    def __init__(self, fn, device: torch.device, keywords: dict, shapes):
        super().__init__(fn, device, keywords, shapes)
        if "cuda" not in self.api.targets:
            raise ValueError(
                f"{self.api.name}: the module was generated without the cuda target; "
                "regenerate it with `symsmooth gen --target all`, or move the tensors to the CPU"
            )

    @staticmethod
    def mask_of(where, moves, device) -> torch.Tensor:
        """The mask as a C-contiguous boolean tensor on ``device``, broadcast to the inputs'
        shape and moved as the inputs (the launchers read it in place)."""
        mask = torch.as_tensor(where, device=device).broadcast_to(moves.full)
        return (mask if moves.last else mask.movedim(moves.axis, -1)).contiguous()

    def _run(self, name: str, args: list, keywords: dict):
        fn = getattr(self.fn.module, f"{name}_cuda", None)
        if fn is None:
            raise ValueError(
                f"{self.api.name}: the module has no CUDA launcher {name}_cuda; move the "
                "tensors to the CPU for this call, or regenerate the module with the cuda target"
            )
        with on_current_stream(self.device):
            return fn(*args, **keywords)

    def _args(self, values: tuple) -> list:
        args = []
        for position, v in enumerate(values):
            role = self.api.role(position)
            if not isinstance(v, torch.Tensor):
                args.append(v)
                continue
            if role == "label" and v.device.type == "cpu":
                args.append(v.numpy())  # checked and copied by the launcher
                continue
            if role == "label":
                v = v.to(torch.float64)  # the launchers read per-row parameters as float64
            if role == "input":
                shape = self.shapes.full
            else:
                shape = tuple(v.shape) if v.numel() == 1 else self.shapes.params
            args.append(v.detach().expand(shape).contiguous())
        return args

    def _cotangent(self, cotangent):
        return cotangent.expand(self.shapes.full).contiguous()

    def param_grad(self, param: str, values: tuple, cotangent) -> torch.Tensor:
        """A parameter's derivative: its launcher, or, where the module has none (parameter
        derivatives have CPU kernels only so far), the CPU kernel on host copies (one copy
        each way and a sync), the result back on the device."""
        if hasattr(self.fn.module, f"{self.api.param_grads[param]}_cuda"):
            return super().param_grad(param, values, cotangent)
        keywords = dict(self.keywords)
        if isinstance(keywords.get("where"), torch.Tensor):
            keywords["where"] = keywords["where"].cpu().numpy()
        host = CpuExecutor(self.fn, torch.device("cpu"), keywords, self.shapes)
        values = tuple(v.cpu() if isinstance(v, torch.Tensor) else v for v in values)
        return host.param_grad(param, values, cotangent.cpu()).to(self.device)

    def _tensor(self, result) -> torch.Tensor:
        return torch.as_tensor(result, device=self.device)


@contextlib.contextmanager
def on_current_stream(device: torch.device):
    """Run Numba's launches (on the default stream of ``device``'s primary context) in order
    with torch's current stream: the default stream waits for the current one, and the current
    one for the default stream afterwards (events, no host sync).  Nothing to do when torch
    runs on the default stream."""
    from numba import cuda

    current = torch.cuda.current_stream(device)
    default = torch.cuda.default_stream(device)
    with cuda.gpus[device.index if device.index is not None else 0]:
        if current == default:
            yield
            return
        default.wait_stream(current)
        try:
            yield
        finally:
            current.wait_stream(default)


EXECUTORS: dict[str, type] = {"cpu": CpuExecutor, "cuda": CudaExecutor}
"""Where the kernels run, by the tensors' device type."""
