"""Elementwise kernels: a scalar core per function, ufuncs on the CPU, two CUDA kernels.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.codegen.emit import kernel_context
>>> from symsmooth.codegen.spec import make_spec
>>> from symsmooth.functions import softplus
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> ctx = kernel_context(spec, ELEMENTWISE)
>>> [c["name"] for c in ctx["cores"]], ctx["cores"][0]["lines"]
(['_core_sp1', '_core_sp1_grad_x', '_core_sp1_grad_k'], ['return _softplus(k*x)/k'])
>>> ELEMENTWISE.cuda_context(spec, ctx)["cuda_signatures"]["_cuda_sp1"][0]
'void(float32[::1], int64, float64, float32[::1], int64, float64, float64[::1], int64)'
"""

from __future__ import annotations

from symsmooth.codegen.emit import Return, statements
from symsmooth.codegen.kinds.base import Kind, kernel_pair, operand_sig
from symsmooth.codegen.printer import MathPrinter
from symsmooth.codegen.spec import KernelSpec


def cpu_context(spec: KernelSpec, printer: MathPrinter) -> dict:
    """The CPU variables of ``templates/elementwise.py.j2``: a scalar core per function
    (the value, one gradient per input and one per differentiable parameter), its ufuncs and
    their signatures (inputs float32 or float64, parameters float64 in both loops:
    docs/codegen.md "Parameters are float64").  ``grads`` are the input partials
    (``<name>_grad`` returns them), ``param_grads`` the parameter partials (CPU ufuncs)."""
    codes = spec.input_codes + spec.param_codes
    args = ", ".join(codes)
    cores = [{"name": f"_core_{spec.name}", "expr": spec.stable}]
    grads = []
    for v, code, g in zip(spec.input_names, spec.input_codes, spec.stable_gradients, strict=False):
        cores.append({"name": f"_core_{spec.name}_grad_{v}", "expr": g})
        grads.append(
            {"name": f"{spec.name}_grad_{v}", "input": v, "code": code, "core": cores[-1]["name"]}
        )
    param_grads = []
    for p, g in zip(spec.grad_param_names, spec.stable_param_gradients, strict=True):
        cores.append({"name": f"_core_{spec.name}_grad_{p}", "expr": g, "param": True})
        param_grads.append({"name": f"{spec.name}_grad_{p}", "param": p, "core": cores[-1]["name"]})
    for core in cores:
        stmts = statements([core.pop("expr")], ["_out"], "_c")
        core["statements"] = stmts[:-1] + [Return(stmts[-1].expr)]
    ufuncs = [{"name": spec.name, "core": cores[0]["name"], "doc": f"The kernel {spec.name}."}]
    ufuncs += [
        {"name": g["name"], "core": g["core"], "doc": f"The partial of {spec.name} in {v}."}
        for g, v in zip(grads + param_grads, spec.input_names + spec.grad_param_names, strict=True)
    ]
    # the parameters are float64 in every loop: a float32 loop that took them as float32 would
    # round a Python-float k (float32(0.9) = 0.9 (1 - 2.6e-8): softplus 25 ulp at x = -86.7),
    # while the _fast path and the CUDA kernels take them exactly (issue #12: exact inputs)
    params = ["float64"] * len(spec.param_codes)
    sig = lambda t: f"{t}({', '.join([t] * len(spec.input_codes) + params)})"  # noqa: E731
    return {
        "args": args,
        "cores": cores,
        "ufuncs": ufuncs,
        "grads": grads,
        "param_grads": param_grads,
        "grad_doc": (f"``{grads[0]['name']}``" if len(grads) == 1 else "a tuple of the partials"),
        "signatures": repr([sig("float32"), sig("float64")]).replace("'", '"'),
        "params_doc": (
            f"Parameters ({', '.join(spec.param_codes)}) are float64 in both loops: with float32 "
            "inputs\na Python-float parameter is used as it is, not rounded to float32."
            if spec.param_codes
            else ""
        ),
        "upcast": ", ".join(f"np.float64({a})" for a in codes),
    }


def cuda_context(spec: KernelSpec, ctx: dict) -> dict:
    """The ``cuda_*`` variables of ``templates/cuda_elementwise.py.j2``: the device
    functions (helpers and cores), the two kernels and their typed signatures."""
    name = spec.name
    operands = list(spec.input_codes) + list(spec.param_codes)
    value_kernel, grad_kernel = f"_cuda_{name}", f"_cuda_{name}_grad"

    def sig(dtype: str, outputs: int) -> str:
        args = [f"{dtype}[::1]"] * outputs + ["int64"]
        for op in operands:
            args += operand_sig(dtype if op in spec.input_codes else "float64")
        return f"void({', '.join(args)})"

    return {
        "cuda_operands": operands,
        **kernel_pair(
            value_kernel,
            grad_kernel,
            [h.function for h in ctx["helpers"]] + [c["name"] for c in ctx["cores"]],
            lambda dtype, grad: sig(dtype, len(spec.input_names) if grad else 1),
        ),
    }


ELEMENTWISE = Kind("elementwise", cpu_context, cuda_context, "elementwise.py.j2")
