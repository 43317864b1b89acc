"""CUDA kernels from the same :class:`~symsmooth.codegen.spec.KernelSpec` as the CPU kernels.

The CPU context of :func:`symsmooth.codegen.emit.context` already holds every formula as
printed ``math.*`` text; this module adds what the ``@cuda.jit`` templates need on top of it
(keys prefixed ``cuda_``): the device functions to recompile, the kernel names, per-element
loads that up-cast to float64, the size of the shared-memory state of a row reduction, and the
typed signatures used by the PTX check (:mod:`symsmooth.codegen.cuda_check`).

The generated CUDA code compiles lazily: importing a generated module never imports
``numba.cuda``.  The scalar helpers and cores are the very functions of the CPU kernel,
recompiled by ``cuda.jit(device=True)`` from their Python code (``py_func``), so the CPU and
GPU paths cannot drift apart.

Row reductions follow the online normalizer of Milakov and Gimelshein (arXiv:1805.02867): each
thread keeps ``(M_g, s_k, c_k)`` (running maximum, scaled sum, TwoSum compensation) over a
strided part of the row; states are merged with ``s = s_a exp(M_a - M) + s_b exp(M_b - M)``
first across a warp (``cuda.shfl_down_sync``), then across warps through shared memory.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> text = render_cuda(spec)
>>> "def sp1_cuda(x, k):" in text and "def _cuda_sp1(" in text
True
>>> cuda_context(spec)["cuda_signatures"]["_cuda_sp1"][0]
'void(float32[::1], int64, float64, float32[::1], int64, float64, float64[::1], int64)'
"""

from __future__ import annotations

from symsmooth.codegen.spec import KernelSpec
from symsmooth.errors import CodegenError

TARGETS = ("cpu", "cuda")
"""Code generation targets; DESIGN.md: ``ss.generate(..., targets=("cpu", "cuda"))``."""

DTYPES = ("float32", "float64")


def check_targets(targets) -> tuple[str, ...]:
    """``targets`` as a tuple, or a :class:`CodegenError` naming the known ones.

    >>> check_targets(["cuda", "cpu"])
    ('cpu', 'cuda')
    """
    chosen = tuple(t for t in TARGETS if t in set(targets))
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or "cpu" not in chosen:
        raise CodegenError(
            f"targets {sorted(set(targets))}: known targets are {', '.join(TARGETS)}, and "
            "'cpu' is always included (the CUDA kernels reuse the CPU module's scalar code); "
            "use --target cpu|cuda|all"
        )
    return chosen


def _operand_sig(dtype: str) -> list[str]:
    """(value, array, mode): a scalar, an array read at each element (mode 1) or at 0 (mode 2)."""
    return ["float64", f"{dtype}[::1]", "int64"]


def _elementwise(spec: KernelSpec, ctx: dict) -> dict:
    name = spec.name
    operands = list(spec.input_codes) + list(spec.param_codes)
    value_kernel, grad_kernel = f"_cuda_{name}", f"_cuda_{name}_grad"

    def sig(dtype: str, outputs: int) -> str:
        args = [f"{dtype}[::1]"] * outputs + ["int64"]
        for op in operands:
            args += _operand_sig(dtype if op in spec.input_codes else "float64")
        return f"void({', '.join(args)})"

    return {
        "cuda_operands": operands,
        "cuda_value_kernel": value_kernel,
        "cuda_grad_kernel": grad_kernel,
        "cuda_device": [h.function for h in ctx["helpers"]] + [c["name"] for c in ctx["cores"]],
        "cuda_kernels": [value_kernel, grad_kernel],
        "cuda_signatures": {
            value_kernel: [sig(t, 1) for t in DTYPES],
            grad_kernel: [sig(t, len(spec.input_names)) for t in DTYPES],
        },
    }


def _reduction(spec: KernelSpec, ctx: dict) -> dict:
    name = spec.name
    plan = spec.plan
    vectors = ctx["vectors"]
    loads = [f"{el} = float64({v}_row[idx])" for v, el in zip(vectors, plan.elements, strict=True)]
    loads.append("pos_ = float64(idx) + 1.0")
    n_loads = len(ctx["load"])
    if ctx["prologue"][:n_loads] != ctx["load"]:  # pragma: no cover - emit.py layout changed
        raise CodegenError(
            f"{name}: the CPU prologue no longer starts with the element loads; update "
            "symsmooth/codegen/cuda.py to the layout of symsmooth/codegen/emit.py"
        )
    groups, sums = ctx["groups"], ctx["sums"]
    adjoints = ctx.get("adjoints", [])
    value_kernel, grad_kernel = f"_cuda_rows_{name}", f"_cuda_grad_rows_{name}"
    params = list(spec.param_codes)

    def sig(dtype: str, grad: bool) -> str:
        rows = f"{dtype}[:, ::1]"
        if grad:
            outs = [rows] * len(vectors)
        else:
            outs = [rows if plan.rowmap else f"{dtype}[::1]"]
        args = outs + [rows] * len(vectors)
        for _ in params:
            args += _operand_sig("float64")
        if grad and plan.rowmap:
            args += ["float64", "float64[:, ::1]", "int64"]
        return f"void({', '.join(args)})"

    pivot = ctx.get("pivot")
    small = [sym for sym, _ in pivot["small"]] if pivot else []
    shifted = {k for g in groups for k in g["sums"]}
    state = [f"M{g['index']}" for g in groups]
    for s in sums:
        state += [f"s{s['index']}", f"c{s['index']}"]
    return {
        "cuda_loads": loads,
        "cuda_state": state,
        "cuda_plain_sums": [s["index"] for s in sums if s["index"] not in shifted],
        "cuda_adjoint_state": [v for k in adjoints for v in (f"R{k}", f"cR{k}")],
        "cuda_prologue": loads + ctx["prologue"][n_loads:],
        "cuda_width": max(len(groups) + 2 * len(sums), 2 * len(adjoints), 2 * len(small), 1),
        "cuda_pivot_state": [v for sym in small for v in (sym, f"c{sym}")],
        "cuda_pivot_load": _pivot_load(pivot["load"], vectors) if pivot else [],
        "cuda_starts": {g["index"]: g["start"] for g in groups},
        "cuda_value_kernel": value_kernel,
        "cuda_grad_kernel": grad_kernel,
        "cuda_device": [h.function for h in ctx["helpers"]],
        "cuda_kernels": [value_kernel, grad_kernel],
        "cuda_signatures": {
            value_kernel: [sig(t, False) for t in DTYPES],
            grad_kernel: [sig(t, True) for t in DTYPES],
        },
    }


def _iteration(spec, ctx: dict) -> dict:
    """Fixed-count iterations of a row map (:mod:`symsmooth.codegen.iteration`)."""
    from symsmooth.codegen.iteration import iteration_cuda_context

    return iteration_cuda_context(spec, ctx)


def _pivot_load(lines: list[str], vectors) -> list[str]:
    """The CPU pivot loads (``x_p = x_row[piv]``, ``G_p = G_row[piv]``) for the CUDA kernel:
    up-cast to float64, the cotangent read by its mode (a scalar or a row of ``G_rows``)."""
    out = []
    for line in lines:
        target, _, source = line.partition(" = ")
        if source == "G_row[piv]":
            source = "G_val if G_mode == 0 else float64(G_rows[r_, piv])"
        elif any(source == f"{v}_row[piv]" for v in vectors):
            source = f"float64({source})"
        out.append(f"{target} = {source}")
    return out


_KINDS = {"elementwise": _elementwise, "reduction": _reduction, "iteration": _iteration}


def cuda_context(spec: KernelSpec, ctx: dict | None = None) -> dict:
    """The ``cuda_*`` template variables of ``spec`` (``ctx``: its CPU context, if computed)."""
    from symsmooth.codegen.emit import context

    ctx = context(spec) if ctx is None else ctx
    try:
        build = _KINDS[spec.kind]
    except KeyError:
        raise CodegenError(
            f"no CUDA emitter for kind {spec.kind!r}; known: {sorted(_KINDS)}"
        ) from None
    return build(spec, ctx)


def template_name(kind: str) -> str:
    """The CUDA template included by the CPU template of ``kind``."""
    return f"cuda_{kind}.py.j2"


def render_cuda(spec: KernelSpec) -> str:
    """The CUDA section alone (CPU context plus ``cuda_*`` keys), for inspection and tests."""
    from symsmooth.codegen.emit import context
    from symsmooth.codegen.render import environment, render_template

    ctx = context(spec)
    ctx.pop("template")
    ctx.update(
        cuda_context(spec, ctx),
        kind=spec.kind,
        inputs=spec.input_names,
        targets=TARGETS,
    )
    return render_template(environment().get_template(template_name(spec.kind)), ctx)
