"""Fixed-count iterations of a row map (:mod:`symsmooth.codegen.iteration`): the step's own
reduction context and the layout of the iteration around it.

Examples
--------
>>> from symsmooth import catalog
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.iteration import iteration_spec
>>> spec = iteration_spec(catalog.get("soft_k_max"))
>>> ctx = kernel_context(spec, ITERATION)
>>> ctx["data"], ctx["state"], ctx["shift"], ctx["step"]["name"]
('y', 'p', '<', 'soft_k_max_step')
>>> sorted(ITERATION.cuda_context(spec, ctx)["cuda_signatures"])
['_cuda_iter_grad_soft_k_max', '_cuda_iter_soft_k_max']
"""

from __future__ import annotations

import sympy as sp

from symsmooth.codegen.emit import kernel_context
from symsmooth.codegen.iteration import SHIFTS, IterationSpec
from symsmooth.codegen.kinds.base import Kind, kernel_pair
from symsmooth.codegen.kinds.reduction import REDUCTION
from symsmooth.codegen.names import KEEP, derived_var
from symsmooth.codegen.printer import MathPrinter


def cpu_context(spec: IterationSpec, printer: MathPrinter) -> dict:
    """Template variables of ``templates/iteration.py.j2``: the step's own reduction context
    (:func:`symsmooth.codegen.emit.kernel_context`) under ``step``, and the layout of the
    iteration around it.  The step's helpers are registered with ``printer``."""
    full = kernel_context(spec.step, REDUCTION)
    # the step runs on whole rows, unmasked: its row functions take no mask row (the
    # reduction's last row argument, names.KEEP)
    mask = ", " + derived_var("row", KEEP)
    step = {**full, **{k: full[k].removesuffix(mask) for k in ("row_args", "row_call")}}
    # a row in several chunks (dask): the step's chunk kernels, whose mask skips the -inf
    # entries of y (templates/_chunked_reduction.py.j2); plain gradients, as the row's step
    chunk = {**full, "pivot": None, "row_lines": full.get("row_lines", [])}
    printer.helpers.update(h.function.lstrip("_") for h in step["helpers"])
    vectors = step["vectors"]
    return {
        "step": step,
        "step_chunk": chunk,
        "input": spec.input_names[0],
        "params": spec.param_names,
        "args": ", ".join(spec.input_names + spec.param_names),
        "count": spec.count,
        "count_default": spec.count_default,
        "shift": SHIFTS[spec.shift],
        "shift_name": spec.shift,
        "init": printer.doprint(sp.Float(spec.init)),
        "data": vectors[0],
        "state": vectors[1],
        "summary": spec.construction.replace('"', "'").replace("\\", "/"),
    }


def cuda_context(spec: IterationSpec, ctx: dict) -> dict:
    """The ``cuda_*`` variables of ``templates/cuda_iteration.py.j2``: the step's CUDA context
    (state of the block merge, float64 loads) under ``cuda_step``, kernel names and the typed
    signatures of the two kernels (value and VJP) for the PTX check."""
    step = REDUCTION.cuda_context(spec.step, ctx["step"])
    name = spec.name
    value_kernel, grad_kernel = f"_cuda_iter_{name}", f"_cuda_iter_grad_{name}"
    operands = ["float64", "float64[::1]", "int64"] * len(spec.params)

    def sig(dtype: str, grad: bool) -> str:
        rows = f"{dtype}[:, ::1]"
        args = [rows, rows] + operands + ["int64"]
        if grad:
            args += ["float64", "float64[:, ::1]", "int64"]
        args += ["float64[:, ::1]", "float64[:, :, ::1]"]
        if grad:
            args += ["float64[:, ::1]", "float64[:, :, ::1]"]
        return f"void({', '.join(args)})"

    return {
        "cuda_step": step,
        **kernel_pair(value_kernel, grad_kernel, [h.function for h in ctx["helpers"]], sig),
    }


ITERATION = Kind("iteration", cpu_context, cuda_context, "iteration.py.j2")
